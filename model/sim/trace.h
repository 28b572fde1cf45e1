// model/sim/trace.h: what each CPU did, step by step.
//
// A trace lists, for every scheduling step, which CPU ran, in which context
// (task/softirq/hardirq/NMI level), which operation it performed and on
// which object. Objects are numbered in the order a run first touches them,
// so traces of the same schedule compare equal across runs even though heap
// addresses differ: replaying a schedule must reproduce its trace exactly.
//
// A memory operation of model/atomic.h also keeps what it read and wrote
// (internal::Access: the value of a load, the old and new value of an
// exchange, a cmpxchg's expected, found and proposed value and whether it
// wrote) and the file:line of its caller. These are details for a reader:
// equality compares them, except pointer values (heap addresses differ
// from run to run).
#ifndef KMODEL_MODEL_SIM_TRACE_H_
#define KMODEL_MODEL_SIM_TRACE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
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
  internal::SrcLoc at;       // kOp: the operation's caller, when known
  internal::Access access;   // kOp: what a memory operation did (what == null: none)
  bool operator==(const TraceEvent& other) const;
};

// The detail of a step, compact: "= 1" (a load), ":= 0x5618a2c0" (a store),
// "xchg 3 -> 4", "fetch_add 3 -> 4", "cmpxchg 0 -> 1 ok" or "cmpxchg 0 -> 1
// failed, saw 2"; empty when no values were recorded.
std::string access_text(const internal::Access& access);
// "@bpf_stream.cc:88" (file name and line), or with `full_path` the path as
// compiled, "stream/bpf_stream.cc:88"; empty when the caller is unknown.
std::string location_text(const internal::SrcLoc& at, bool full_path = false);
// One value of an access as text: decimal (signed as recorded), pointers in hex.
std::string access_value_text(const internal::Access& access, std::uint64_t bits);

class Trace {
 public:
  Trace() = default;
  Trace(const Trace&) = default;
  Trace(Trace&&) = default;
  Trace& operator=(const Trace&) = default;
  Trace& operator=(Trace&&) = default;
  ~Trace();

  void add_op(int cpu, unsigned level, internal::Op op, const void* addr,
              internal::SrcLoc at = {});
  // The same, for an object already numbered by object_id().
  void add_numbered_op(int cpu, unsigned level, internal::Op op, std::uint32_t object,
                       internal::SrcLoc at = {});
  // What the memory operation of event `index` (an op) read and wrote.
  void set_access(std::size_t index, const internal::Access& access);
  void add_interrupt(int cpu, unsigned level, int interrupt);
  void add_interrupt_end(int cpu, unsigned level, int interrupt);
  void add_clock_jump(std::uint64_t ns);

  const std::vector<TraceEvent>& events() const { return events_; }
  // Takes over the storage (events, object table) a trace of this thread
  // left when it died, if any: a check's runs reuse one buffer instead of
  // growing a new one each.
  void reuse_buffer();
  bool operator==(const Trace& other) const { return events_ == other.events_; }

  // A per-CPU timeline: one row per step, one column per CPU. At most
  // `max_rows` rows (the last ones) are shown. With `details`, a last
  // column shows each step's values and caller (access_text,
  // location_text).
  std::string timeline(int cpus, std::size_t max_rows = 200, bool details = false) const;

  // The run-stable number of an object (assigned on first use; 0 for null).
  std::uint32_t object_id(const void* addr);

  // An address's entry in the object table: its number (0 until object_id
  // or numbered_object first numbers it) and a slot its user keeps for the
  // address (the simulator's race-detection shadow: one hash lookup serves
  // both; 0 until the user sets it). Entries without a number do not change
  // the numbering. The reference is valid until the next call that adds an
  // address.
  struct ObjectEntry {
    std::uint32_t number = 0;
    std::uint32_t slot = 0;
  };
  // The entry of `addr` (not null), numbered.
  ObjectEntry& numbered_object(const void* addr);
  // The entry of `addr` (not null), numbered only if it was already.
  ObjectEntry& object_entry(const void* addr) { return objects_[addr]; }

 private:
  std::vector<TraceEvent> events_;
  absl::flat_hash_map<const void*, ObjectEntry> objects_;
  std::uint32_t numbered_ = 0;  // objects numbered so far
};

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_SIM_TRACE_H_
