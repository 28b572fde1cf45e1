// sync/rqspinlock_report.h: how a failed bpf_res_spin_lock[_irqsave] is
// reported, and the exact text of the report.
//
// Mirrors: bpf_prog_report_rqspinlock_violation() in kernel/bpf/rqspinlock.c
// (Linux 6.17/6.18 and mainline; the text is the same in both).
//
// In the kernel, a failing bpf_res_spin_lock() stages these lines on the BPF
// program's stderr stream, followed by a stack dump:
//
//   ERROR: AA or ABBA deadlock detected for bpf_res_spin_lock[_irqsave]
//   ERROR: Timeout detected for bpf_res_spin_lock[_irqsave]
//   Attempted lock   = 0x<lock>
//   Total held locks = <cnt>
//   Held lock[<%2d>] = 0x<lock>            one per stored entry (<= 31)
//
// sync/ sits below stream/, so it cannot stage anything itself. It builds an
// RqspinlockViolation (a fixed-size snapshot of the CPU's held-locks table,
// taken right after the failed attempt released its own entry, exactly when
// the kernel reads it) and hands it to the installed RqspinlockReportSink.
// The stream library (stream/bpf_report.cc) implements the sink and installs
// it when it is linked: find the program on the CPU's stack, stage the lines
// that rqspinlock_report_format_line() produces, dump the stack, commit to
// the program's stderr. Without it (sync/'s own tests) reports are dropped
// unless a test installs its own sink.
//
// Addresses are printed as the kernel's %px does: "0x" and the pointer in
// lower-case hex zero-padded to 16 digits (2 * sizeof(void *)).
//
// Concurrency: report() runs on the CPU and in the context of the failed
// lock attempt, which may be an NMI (natively: a signal handler). A sink
// must therefore be NMI-safe: no locks the interrupted code may hold, no
// malloc. rqspinlock_report_format_line() is NMI-safe (snprintf into the
// caller's buffer with integer and string conversions only);
// rqspinlock_report_text() allocates and is for tests and tools.
#ifndef KMODEL_SYNC_RQSPINLOCK_REPORT_H_
#define KMODEL_SYNC_RQSPINLOCK_REPORT_H_

#include <cstddef>
#include <string>

#include "model/types.h"

KMODEL_NAMESPACE_BEGIN

// Entries of the per-CPU held-locks table (include/asm-generic/rqspinlock.h).
inline constexpr int RES_NR_HELD = 31;

struct RqspinlockViolation {
  int ret = 0;                        // -EDEADLK or -ETIMEDOUT
  bool irqsave = false;               // bpf_res_spin_lock_irqsave()
  const void* lock = nullptr;         // the attempted lock
  int held_cnt = 0;                   // the table's count; may exceed RES_NR_HELD
  const void* held[RES_NR_HELD] = {};  // the first min(held_cnt, RES_NR_HELD) are valid
};

class RqspinlockReportSink {
 public:
  virtual ~RqspinlockReportSink() = default;
  // Called once per failed bpf_res_spin_lock[_irqsave], in the failing
  // context (possibly NMI), before the wrapper restores irqs/preemption.
  virtual void report(const RqspinlockViolation& violation) = 0;
};

// Installs `sink` (nullptr: the default, which drops reports) and returns the
// previous one. Install before CPUs run; the sink must outlive its use.
RqspinlockReportSink* set_rqspinlock_report_sink(RqspinlockReportSink* sink);
RqspinlockReportSink* rqspinlock_report_sink();  // nullptr when none installed

// "AA or ABBA deadlock detected" or "Timeout detected" (the kernel's
// REPORT_STR(ret)).
const char* rqspinlock_violation_str(int ret);

// Number of report lines: 3 + min(held_cnt, RES_NR_HELD).
int rqspinlock_report_nr_lines(const RqspinlockViolation& v);

// Formats line `line` (0-based) including its trailing '\n' into buf, with
// snprintf's contract: returns the length the full line has (not counting
// the NUL), or -EINVAL for a line number out of range.
int rqspinlock_report_format_line(const RqspinlockViolation& v, int line, char* buf,
                                  std::size_t size);

// All lines concatenated (allocates: not for NMI context).
std::string rqspinlock_report_text(const RqspinlockViolation& v);

KMODEL_NAMESPACE_END

#endif  // KMODEL_SYNC_RQSPINLOCK_REPORT_H_
