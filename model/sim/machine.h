// model/sim/machine.h: a deterministic machine of simulated CPUs.
//
// One Machine executes one run of a scenario. Each CPU's body runs on its own
// Fiber; every platform operation (model/internal/hooks.h) stops the CPU at a
// scheduling point and hands control back to the scheduler loop, which asks
// the Strategy which CPU takes the next step and whether an interrupt is
// delivered first. An interrupt runs nested on the interrupted CPU's stack,
// to completion, before the interrupted operation happens; other CPUs keep
// running meanwhile, exactly as on hardware.
//
// A CPU's raised irq_work interrupt (model/cpu.h) is not a decision: it is
// taken at the CPU's first step where a hardirq can be delivered, and when
// its body returns. A CPU whose task sleeps (TaskAsleep) is idle: when no CPU
// can progress, it takes its first deliverable interrupt (also not a
// decision: the state determines it, so schedules replay).
//
// Simulated time advances `step_ns` per step and `relax_ns` more per
// cpu_relax(). When every runnable CPU has called cpu_relax() since the last
// write anyone made, nobody can make progress without time passing: the
// clock jumps to the earliest deadline a spinner declared
// (spin_wait_deadline), waking that spinner; with no deadline declared, a
// jump of 1 us, doubling up to max_stall_jump_ns, once every spinner has
// read the clock. So timeouts are reached in few steps. A run that takes more
// than max_steps is a hang; so is, at once, a state in which every CPU waits
// for a write no CPU can make (no deadline, no interrupt left).
//
// Failures (MODEL_ASSERT/WARN_ON, an exception escaping a body, a hang, a
// replay divergence) end the run: the other CPUs are unwound, and the result
// carries the message, the schedule string that replays it and the trace.
#ifndef KMODEL_MODEL_SIM_MACHINE_H_
#define KMODEL_MODEL_SIM_MACHINE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

#include "model/sim/fiber.h"
#include "model/sim/scenario.h"
#include "model/sim/schedule.h"
#include "model/sim/strategy.h"
#include "model/sim/trace.h"

KMODEL_NAMESPACE_BEGIN

// What kind of failure ended a run: the precise classification that
// expectations (check.h: Expectation) name. kNone on a passing run.
enum class FailureKind {
  kNone,
  kAssertion,       // MODEL_ASSERT, BUG_ON, a model invariant (model/bug.h)
  kWarn,            // WARN_ON / WARN_ON_ONCE
  kHang,            // no completion within max_steps
  kUseAfterFree,    // an access to, or a second free of, freed tracked memory
  kLeak,            // tracked memory still live at the end of a passing run
  kRace,            // a plain access unordered with another CPU's access
  kException,       // a C++ exception escaped a body or an end check
  kDivergence,      // a replay did not fit the scenario
  kNondeterminism,  // the same schedule gave a different trace
  kVacuous,         // a goal was never reached in a whole check
  kBadInput,        // the configuration or the scenario's setup is wrong
};

// "assertion", "warn", "hang", "use-after-free", "leak", "race", "exception",
// "divergence", "nondeterminism", "vacuous", "bad-input" ("" for kNone).
const char* failure_kind_name(FailureKind kind);
absl::StatusOr<FailureKind> parse_failure_kind(std::string_view name);

struct RunResult {
  enum class Outcome {
    kPass,
    kFailed,          // an invariant broke (incl. use after free, double free, leak)
    kHang,            // no completion within max_steps
    kDivergence,      // replay did not fit the scenario
    kNondeterminism,  // the same schedule gave a different trace
    kVacuous,         // a goal was never reached in a whole check
    kBadInput,        // the configuration or the scenario's setup is wrong
    kPruned,          // abandoned by the strategy (not a result)
  };
  Outcome outcome = Outcome::kPass;
  FailureKind kind = FailureKind::kNone;  // what failed (kNone on kPass, kPruned)
  std::string message;   // empty on kPass
  std::vector<Decision> decisions;
  // The clock the decisions were recorded on (schedule.h: v1 or v2).
  int schedule_version = kScheduleVersion;
  Trace trace;
  int cpus = 0;
  std::uint64_t steps = 0;
  std::uint64_t sim_time_ns = 0;
  std::vector<int> interrupts_delivered;  // per interrupt number - 1
  std::vector<std::string> goal_names;    // the scenario's goals
  std::vector<bool> goals_reached;        // per goal

  bool ok() const { return outcome == Outcome::kPass; }
  // The string that replays this run. Encoded from `decisions` on first use
  // and kept (most runs of a check pass and are never asked: encoding every
  // one cost a seventh of the simulator's time), or the text set_schedule()
  // gave. Not thread-safe on first use: one result, one thread.
  const std::string& schedule() const;
  // Replaces the string (a handmade or parsed schedule, e.g. in reports).
  void set_schedule(std::string text);
  // Outcome, message, steps and schedule (no timeline).
  std::string summary() const;
  // summary() plus the tail of the per-CPU timeline (with `details`, each
  // step's values and caller: Trace::timeline).
  std::string report(bool details = false) const;

 private:
  mutable std::string schedule_;
  mutable bool schedule_known_ = false;
};

const char* outcome_name(RunResult::Outcome outcome);

class Machine {
 public:
  Machine(const Config& config, Strategy& strategy);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Builds the scenario and runs it to completion or failure. Call once.
  RunResult run(const ScenarioFn& scenario);

  // ---- Entry points of the platform hooks (on the running machine) -------
  void sched_point(internal::Op op, const void* addr, internal::SrcLoc at);
  void note_write();
  void note_access(const internal::Access& access);
  int choose(int n, const char* label);
  void reach(int goal);
  void track_alloc(void* p, std::size_t n, const char* what);
  bool track_free(void* p, std::size_t n, const char* what, void (*release)(void*));
  void plain_access(const void* addr, bool write);
  void declare_deadline(std::uint64_t deadline_ns, std::uint64_t check_ns);
  bool deadline_reached();
  void declare_wait_for_write();
  std::uint64_t now_ns() const { return now_ns_; }
  int cpus() const { return config_.cpus; }
  // True while the caller runs on one of this machine's CPUs.
  bool on_cpu() const;

 private:
  struct Cpu;
  struct Scratch;

  void step_loop();
  void cpu_entry(Cpu& cpu);
  void wait_for_turn(Cpu& cpu);
  void run_interrupt(Cpu& cpu, int interrupt);
  void deliverable_interrupts(const Cpu& cpu, std::vector<int>& out) const;
  bool nobody_progresses() const;
  bool irq_work_deliverable(const Cpu& cpu) const;
  void run_irq_work(Cpu& cpu);
  void maybe_jump_clock(const std::vector<int>& runnable, std::uint64_t live_mask);
  bool jump_to_deadline(std::uint64_t live_mask);
  bool certain_deadlock(std::uint64_t live_mask);
  void fail(RunResult::Outcome outcome, FailureKind kind, std::string message);
  void unwind_all();
  void run_end_checks();
  void describe_failure_state();
  void check_leaks();
  void release_quarantine();
  void check_not_freed(internal::Op op, const void* addr);

  // Data races (as loom does for UnsafeCell): a vector clock per CPU; every
  // marked access is sequentially consistent, so a load acquires, a store
  // releases and a read-modify-write does both, through a clock per
  // location. A plain access racing with another CPU's access to the same
  // location (at least one a write, no happens-before between them) fails
  // the run. An interrupt handler runs in its CPU's program order.
  // Fixed-size per location (no allocation per location: the detector is
  // on for every run, and a heap node per location cost a third of the
  // simulator's speed).
  struct Shadow {
    Shadow() {}  // user-provided: value-initialisation does not zero the arrays
    int write_cpu = -1;
    std::uint32_t write_epoch = 0;
    bool write_plain = false;
    bool has_sync = false;                       // sync holds a released clock
    std::uint32_t read_plain = 0;                // bit per CPU
    // Per CPU; only the run's config.cpus first entries are used, and
    // zeroed (shadow_slot): zeroing all NR_CPUS cost more than the check.
    std::uint32_t read_epoch[NR_CPUS];           // per CPU, 0: none
    std::uint32_t sync[NR_CPUS];                 // released clock
  };
  static_assert(NR_CPUS <= 32, "Shadow::read_plain is a 32-bit mask");
  // Shadows live in a vector (Scratch::shadow); an address's slot (1-based
  // index) is kept in its trace object entry, so the look-up that numbers a
  // step's object also finds its shadow and a marked access needs none of
  // its own; a plain access (no step) finds it through a small cache
  // (Scratch::slot_cache) or else the table.
  std::uint32_t shadow_slot(Trace::ObjectEntry& entry);
  void race_access(int cpu, std::uint32_t slot, const void* addr, bool write, bool plain,
                   internal::Op op);
  // One side of a race: who accessed, how (the other side's addr and op
  // are unused).
  struct RaceSide {
    int cpu = 0;
    const void* addr = nullptr;
    bool write = false;
    bool plain = false;
    internal::Op op = internal::Op::kStart;
  };
  [[noreturn, gnu::cold, gnu::noinline]] void report_race(const RaceSide& me,
                                                         const RaceSide& other);
  static std::unique_ptr<Scratch>& spare_scratch();

  // Model memory the run allocated (live) and freed (kept, poisoned, until
  // the run ends, so a stale access is caught rather than reused).
  struct Block {
    std::size_t size;
    const char* what;
    std::uint32_t serial;
    void (*release)(void*) = nullptr;
  };
  std::map<std::uintptr_t, Block> live_;
  std::map<std::uintptr_t, Block> freed_;
  std::uint32_t next_serial_ = 1;

  Config config_;
  Strategy& strategy_;
  // The vector clocks, the shadow map and the step loop's buffers: taken
  // from the last Machine of this thread and handed on to the next, so the
  // runs of a check reuse storage instead of allocating it per run or step.
  std::unique_ptr<Scratch> scratch_;
  std::unique_ptr<Cpu[]> cpus_;
  Scenario* scenario_ = nullptr;  // the scratch's, while a run uses it
  Cpu* running_ = nullptr;  // the CPU whose fiber runs now, or null
  bool unwinding_ = false;
  std::uint64_t now_ns_ = 1000000000ull;
  std::uint64_t stall_jump_ns_ = 1000;
  std::uint64_t writes_ = 0;  // note_write() calls: a generation of memory
  RunResult result_;
};

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_SIM_MACHINE_H_
