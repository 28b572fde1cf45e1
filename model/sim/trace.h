// model/sim/trace.h: what each CPU did, step by step.
//
// A trace lists, for every scheduling step, which CPU ran, in which context
// (task/softirq/hardirq/NMI level), which operation it performed and on
// which object. Objects are numbered in the order a run first touches them,
// so traces of the same schedule compare equal across runs even though heap
// addresses differ: replaying a schedule must reproduce its trace exactly.
#ifndef KMODEL_MODEL_SIM_TRACE_H_
#define KMODEL_MODEL_SIM_TRACE_H_

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/internal/hooks.h"

KMODEL_NAMESPACE_BEGIN

struct TraceEvent {
  enum class Kind : std::uint8_t { kOp, kInterrupt, kInterruptEnd, kClockJump };
  Kind kind = Kind::kOp;
  std::uint8_t cpu = 0;
  std::uint8_t level = 0;  // interrupt_context_level() when it ran
  internal::Op op = internal::Op::kStart;
  std::uint32_t object = 0;  // 0: none; else first-touch number
  std::uint64_t arg = 0;     // kInterrupt(End): interrupt number (0: irq_work); kClockJump: ns
  bool operator==(const TraceEvent&) const = default;
};

class Trace {
 public:
  void add_op(int cpu, unsigned level, internal::Op op, const void* addr);
  void add_interrupt(int cpu, unsigned level, int interrupt);
  void add_interrupt_end(int cpu, unsigned level, int interrupt);
  void add_clock_jump(std::uint64_t ns);

  const std::vector<TraceEvent>& events() const { return events_; }
  bool operator==(const Trace& other) const { return events_ == other.events_; }

  // A per-CPU timeline: one row per step, one column per CPU. At most
  // `max_rows` rows (the last ones) are shown.
  std::string timeline(int cpus, std::size_t max_rows = 200) const;

  // The run-stable number of an object (assigned on first use; 0 for null).
  std::uint32_t object_id(const void* addr);

 private:
  std::vector<TraceEvent> events_;
  std::unordered_map<const void*, std::uint32_t> objects_;
};

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_SIM_TRACE_H_
