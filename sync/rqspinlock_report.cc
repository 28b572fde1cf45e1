#include "sync/rqspinlock_report.h"

#include <algorithm>
#include <atomic>
#include <cstdio>

KMODEL_NAMESPACE_BEGIN

namespace {
// Read from any context (NMI included); written while no CPU runs.
std::atomic<RqspinlockReportSink*> g_sink{nullptr};
}  // namespace

RqspinlockReportSink* set_rqspinlock_report_sink(RqspinlockReportSink* sink) {
  return g_sink.exchange(sink, std::memory_order_acq_rel);
}

RqspinlockReportSink* rqspinlock_report_sink() { return g_sink.load(std::memory_order_acquire); }

const char* rqspinlock_violation_str(int ret) {
  return ret == -ETIMEDOUT ? "Timeout detected" : "AA or ABBA deadlock detected";
}

int rqspinlock_report_nr_lines(const RqspinlockViolation& v) {
  return 3 + std::clamp(v.held_cnt, 0, RES_NR_HELD);
}

// %px: the pointer in hex, zero-padded to the pointer's width.
int rqspinlock_report_format_line(const RqspinlockViolation& v, int line, char* buf,
                                  std::size_t size) {
  if (line < 0 || line >= rqspinlock_report_nr_lines(v)) return -EINVAL;
  switch (line) {
    case 0:
      return std::snprintf(buf, size, "ERROR: %s for bpf_res_spin_lock%s\n",
                           rqspinlock_violation_str(v.ret), v.irqsave ? "_irqsave" : "");
    case 1:
      return std::snprintf(buf, size, "Attempted lock   = 0x%016lx\n",
                           reinterpret_cast<unsigned long>(v.lock));
    case 2:
      return std::snprintf(buf, size, "Total held locks = %d\n", v.held_cnt);
    default:
      return std::snprintf(buf, size, "Held lock[%2d] = 0x%016lx\n", line - 3,
                           reinterpret_cast<unsigned long>(v.held[line - 3]));
  }
}

std::string rqspinlock_report_text(const RqspinlockViolation& v) {
  std::string out;
  char buf[128];
  for (int i = 0; i < rqspinlock_report_nr_lines(v); i++) {
    const int n = rqspinlock_report_format_line(v, i, buf, sizeof(buf));
    out.append(buf, static_cast<std::size_t>(std::min<int>(n, sizeof(buf) - 1)));
  }
  return out;
}

KMODEL_NAMESPACE_END
