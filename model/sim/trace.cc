#include "model/sim/trace.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

KMODEL_NAMESPACE_BEGIN

namespace internal {
const char* op_name(Op op) {
  switch (op) {
    case Op::kStart: return "start";
    case Op::kLoad: return "load";
    case Op::kStore: return "store";
    case Op::kRmw: return "rmw";
    case Op::kFence: return "fence";
    case Op::kRelax: return "relax";
    case Op::kClock: return "clock";
    case Op::kPageAlloc: return "page";
    case Op::kChoice: return "choice";
    case Op::kIrq: return "irqflag";
    case Op::kUser: return "point";
  }
  return "?";
}
}  // namespace internal

std::uint32_t Trace::object_id(const void* addr) {
  if (addr == nullptr) return 0;
  auto [it, inserted] =
      objects_.emplace(addr, static_cast<std::uint32_t>(objects_.size() + 1));
  return it->second;
}

namespace {
TraceEvent make_event(TraceEvent::Kind kind, int cpu, unsigned level, std::uint64_t arg) {
  TraceEvent e;
  e.kind = kind;
  e.cpu = static_cast<std::uint8_t>(cpu);
  e.level = static_cast<std::uint8_t>(level);
  e.arg = arg;
  return e;
}
}  // namespace

void Trace::add_op(int cpu, unsigned level, internal::Op op, const void* addr) {
  TraceEvent e = make_event(TraceEvent::Kind::kOp, cpu, level, 0);
  e.op = op;
  e.object = object_id(addr);
  events_.push_back(e);
}

void Trace::add_interrupt(int cpu, unsigned level, int interrupt) {
  events_.push_back(make_event(TraceEvent::Kind::kInterrupt, cpu, level,
                               static_cast<std::uint64_t>(interrupt)));
}

void Trace::add_interrupt_end(int cpu, unsigned level, int interrupt) {
  events_.push_back(make_event(TraceEvent::Kind::kInterruptEnd, cpu, level,
                               static_cast<std::uint64_t>(interrupt)));
}

void Trace::add_clock_jump(std::uint64_t ns) {
  events_.push_back(make_event(TraceEvent::Kind::kClockJump, 0, 0, ns));
}

std::string Trace::timeline(int cpus, std::size_t max_rows) const {
  static constexpr const char* kLevel[] = {"", "softirq:", "hardirq:", "nmi:"};
  constexpr int kWidth = 22;
  std::string out = absl::StrFormat("%6s", "step");
  for (int c = 0; c < cpus; ++c) out += absl::StrFormat("  %-*s", kWidth, absl::StrCat("CPU", c));
  out += '\n';
  const std::size_t first = events_.size() > max_rows ? events_.size() - max_rows : 0;
  if (first > 0) absl::StrAppend(&out, "   ... ", first, " earlier steps\n");
  for (std::size_t i = first; i < events_.size(); ++i) {
    const TraceEvent& e = events_[i];
    std::string cell;
    switch (e.kind) {
      case TraceEvent::Kind::kOp:
        cell = absl::StrCat(kLevel[e.level & 3], internal::op_name(e.op));
        if (e.object != 0) absl::StrAppend(&cell, " #", e.object);
        break;
      case TraceEvent::Kind::kInterrupt:
        cell = e.arg == 0 ? std::string(">> irq_work") : absl::StrCat(">> interrupt ", e.arg);
        break;
      case TraceEvent::Kind::kInterruptEnd:
        cell = e.arg == 0 ? std::string("<< irq_work") : absl::StrCat("<< interrupt ", e.arg);
        break;
      case TraceEvent::Kind::kClockJump:
        absl::StrAppend(&out, absl::StrFormat("%6d", i), "  -- clock +", e.arg, " ns --\n");
        continue;
    }
    out += absl::StrFormat("%6d", i);
    for (int c = 0; c < cpus; ++c)
      out += absl::StrFormat("  %-*s", kWidth, c == e.cpu ? cell : std::string());
    out += '\n';
  }
  return out;
}

KMODEL_NAMESPACE_END
