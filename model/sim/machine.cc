#include "model/sim/machine.h"

#include <algorithm>
#include <exception>
#include <iterator>
#include <stdexcept>
#include <utility>

#include "absl/strings/str_cat.h"
#include "model/bug.h"
#include "model/clock.h"
#include "model/machine_state.h"
#include "model/page_alloc.h"

KMODEL_NAMESPACE_BEGIN

namespace {

// Thrown into a CPU's fiber to unwind it when the run ends early.
struct Unwind {};

// A broken invariant: carries the report up to the CPU's fiber entry (or to
// run() when it happens in setup or at_end).
struct InvariantFailure : std::logic_error {
  InvariantFailure(FailureKind k, std::string message)
      : std::logic_error(std::move(message)), kind(k) {}
  FailureKind kind;
};

// model/bug.h's macros all end in invariant_failed(); the text tells them
// apart ("WARN_ON(...)"; MODEL_ASSERT, BUG_ON and model invariants are
// assertions).
FailureKind classify_invariant(std::string_view what) {
  if (what.substr(0, 8) == "WARN_ON(") return FailureKind::kWarn;
  return FailureKind::kAssertion;
}

thread_local Machine* tls_machine = nullptr;

// The operations race detection accounts as marked accesses.
constexpr bool races_accounted(internal::Op op) {
  return op == internal::Op::kLoad || op == internal::Op::kStore || op == internal::Op::kRmw;
}

// Cpu::pending_interrupt's value for the CPU's irq_work self-interrupt
// (model/cpu.h: arch_irq_work_raise); traces show it as interrupt 0.
constexpr int kIrqWorkInterrupt = -1;

}  // namespace

[[noreturn]] static void throw_invariant(FailureKind kind, std::string message) {
  throw InvariantFailure(kind, std::move(message));
}

struct Machine::Cpu {
  int id = 0;
  CpuContext ctx;
  std::optional<Fiber> fiber;
  internal::Op pending_op = internal::Op::kStart;
  const void* pending_addr = nullptr;
  internal::SrcLoc pending_at;  // the caller of the pending operation, if known
  // pending_addr's trace object number, once the step loop first asked for
  // it (numbering stays in the order the loop meets objects, as before this
  // was cached); kUnnumbered until then.
  std::uint32_t pending_object = 0;
  static constexpr std::uint32_t kUnnumbered = ~std::uint32_t{0};
  // pending_addr's race-detection shadow slot, found with its number when
  // the operation is one race detection accounts (0: none).
  std::uint32_t pending_slot = 0;
  // The trace event of the step running now, until its memory operation
  // reports what it did (note_access); kNoEvent otherwise.
  std::size_t op_event = kNoEvent;
  static constexpr std::size_t kNoEvent = ~std::size_t{0};
  int pending_interrupt = 0;  // 1-based; 0 none; kIrqWorkInterrupt
  bool relaxed = false;       // cpu_relax() since the last write anyone made
  bool read_clock = false;    // read the clock since the last clock jump
  // Waiting for time (model/clock.h): the deadlines declared since the last
  // cpu_relax() and the ones its last cpu_relax() waits for (0: none);
  // whether a clock jump reached them (told once to the CPU); the write
  // generation when it was last woken for its check (which saw that memory).
  std::uint64_t declared_ns = 0, declared_check_ns = 0;
  bool declared_wait = false;
  std::uint64_t deadline_ns = 0, check_ns = 0;
  bool waiting = false;  // its last cpu_relax() declared a wait (not a bounded spin)
  bool deadline_reached = false;
  bool awake = false;  // woken by a jump, not yet spinning again
  std::uint64_t woken_at_writes = ~std::uint64_t{0};
  // The deadline that matters now: its check only if memory changed since
  // it last looked.
  std::uint64_t next_deadline(std::uint64_t writes) const {
    if (check_ns != 0 && check_ns < deadline_ns && writes != woken_at_writes) return check_ns;
    return deadline_ns;
  }
  std::uint64_t waits_for = 0;  // fairness: CPUs that step before this spinner again
};

// Storage one run uses and the next run on the same thread reuses (a check
// makes thousands of runs of a few dozen steps: allocating these per run,
// and the candidate list per step, was an eighth of the simulator's time).
struct Machine::Scratch {
  std::uint32_t vclock[NR_CPUS][NR_CPUS];  // row c: CPU c's vector clock
  std::vector<Shadow> shadow;  // slot s at shadow[s - 1] (Machine::shadow_slot)
  // The shadow slots of recently accessed addresses, direct-mapped, valid
  // for the run numbered `run`: a plain access (no step, so no trace lookup
  // to share) mostly repeats one of a few addresses, and this is cheaper
  // than the object table's hash lookup.
  struct CachedSlot {
    const void* addr = nullptr;
    std::uint32_t slot = 0;
    std::uint32_t run = 0;
  };
  static constexpr std::size_t kSlotCache = 64;
  CachedSlot slot_cache[kSlotCache];
  std::uint32_t run = 1;  // entries of other runs are stale
  std::vector<int> runnable;
  std::vector<CpuChoice> choices;
  std::vector<int> candidates;  // deliverable interrupts of the stepping CPU
  std::size_t decisions_hint = 0;  // a run's decisions seen so far, to reserve
  Scenario scenario{0};  // emptied (reset) between runs

  // Empties everything for the next run, keeping the storage.
  void recycle() {
    shadow.clear();
    if (++run == 0) {  // wrapped: entries of run 1 onwards would look valid
      std::fill(std::begin(slot_cache), std::end(slot_cache), CachedSlot{});
      run = 1;
    }
    runnable.clear();
    choices.clear();
    candidates.clear();
  }
};

std::unique_ptr<Machine::Scratch>& Machine::spare_scratch() {
  static thread_local std::unique_ptr<Scratch> spare;
  return spare;
}

const char* outcome_name(RunResult::Outcome outcome) {
  switch (outcome) {
    case RunResult::Outcome::kPass: return "pass";
    case RunResult::Outcome::kFailed: return "failed";
    case RunResult::Outcome::kHang: return "hang";
    case RunResult::Outcome::kDivergence: return "divergence";
    case RunResult::Outcome::kNondeterminism: return "nondeterminism";
    case RunResult::Outcome::kVacuous: return "vacuous";
    case RunResult::Outcome::kBadInput: return "bad input";
    case RunResult::Outcome::kPruned: return "pruned";
  }
  return "?";
}

const char* failure_kind_name(FailureKind kind) {
  switch (kind) {
    case FailureKind::kNone: return "";
    case FailureKind::kAssertion: return "assertion";
    case FailureKind::kWarn: return "warn";
    case FailureKind::kHang: return "hang";
    case FailureKind::kUseAfterFree: return "use-after-free";
    case FailureKind::kLeak: return "leak";
    case FailureKind::kRace: return "race";
    case FailureKind::kException: return "exception";
    case FailureKind::kDivergence: return "divergence";
    case FailureKind::kNondeterminism: return "nondeterminism";
    case FailureKind::kVacuous: return "vacuous";
    case FailureKind::kBadInput: return "bad-input";
  }
  return "?";
}

absl::StatusOr<FailureKind> parse_failure_kind(std::string_view name) {
  for (int k = static_cast<int>(FailureKind::kAssertion);
       k <= static_cast<int>(FailureKind::kBadInput); ++k)
    if (name == failure_kind_name(static_cast<FailureKind>(k))) return static_cast<FailureKind>(k);
  return absl::InvalidArgumentError(absl::StrCat(
      "failure kind \"", std::string(name),
      "\": unknown; expected assertion, warn, hang, use-after-free, leak, exception, "
      "race, divergence, nondeterminism, vacuous or bad-input"));
}

const std::string& RunResult::schedule() const {
  if (!schedule_known_) {
    schedule_ = encode_schedule(decisions, schedule_version);
    schedule_known_ = true;
  }
  return schedule_;
}

void RunResult::set_schedule(std::string text) {
  schedule_ = std::move(text);
  schedule_known_ = true;
}

std::string RunResult::summary() const {
  // A schedule of thousands of characters is noise in a report: its head
  // and its length (the caller has the whole string, e.g. in a file).
  constexpr std::size_t kShown = 200;
  const std::string& schedule = this->schedule();
  const std::string shown =
      schedule.size() <= kShown
          ? schedule
          : absl::StrCat(schedule.substr(0, kShown), "... (", schedule.size(), " characters)");
  std::string out = absl::StrCat(kind == FailureKind::kNone ? outcome_name(outcome)
                                                             : failure_kind_name(kind),
                                 ": ", message, "\n",
                                 "  steps: ", steps, ", simulated time: ", sim_time_ns,
                                 " ns\n  schedule: ", shown, "\n");
  return out;
}

std::string RunResult::report(bool details) const {
  std::string out = summary();
  if (!trace.events().empty()) absl::StrAppend(&out, trace.timeline(cpus, 60, details));
  return out;
}

Machine::Machine(const Config& config, Strategy& strategy)
    : config_(config), strategy_(strategy), scratch_(std::move(spare_scratch())) {
  if (!scratch_) scratch_ = std::make_unique<Scratch>();
}

Machine::~Machine() {
  scratch_->recycle();
  spare_scratch() = std::move(scratch_);
}

bool Machine::on_cpu() const { return running_ != nullptr; }

RunResult Machine::run(const ScenarioFn& scenario_fn) {
  result_.cpus = config_.cpus;
  if (config_.cpus < 1 || config_.cpus > NR_CPUS) {
    fail(RunResult::Outcome::kBadInput, FailureKind::kBadInput,
         absl::StrCat("config.cpus = ", config_.cpus, ": must be in 1..", NR_CPUS));
    return std::move(result_);
  }
  if (tls_machine != nullptr) {
    fail(RunResult::Outcome::kBadInput, FailureKind::kBadInput, "a simulated machine cannot run inside another");
    return std::move(result_);
  }
  cpus_ = std::make_unique<Cpu[]>(static_cast<std::size_t>(config_.cpus));
  for (int i = 0; i < config_.cpus; ++i) {
    cpus_[i].id = i;
    cpus_[i].ctx.cpu = i;
  }
  result_.trace.reuse_buffer();
  constexpr std::size_t kMaxDecisionsHint = 4096;
  result_.decisions.reserve(std::min(scratch_->decisions_hint, kMaxDecisionsHint));
  for (int i = 0; i < config_.cpus; ++i) {
    std::fill_n(scratch_->vclock[i], config_.cpus, 0);
    scratch_->vclock[i][i] = 1;
  }
  tls_machine = this;
  internal::tls_current_cpu = &cpus_[0].ctx;
  // Every run starts from the same machine: no injected faults unless the
  // scenario's setup asks, kernel-global per-CPU state reset.
  set_page_fault_policy(PageFaultPolicy::never());
  reset_machine_state();
  try {
    scenario_ = &scratch_->scenario;
    scenario_->reset(config_.cpus);
    scenario_fn(*scenario_);
  } catch (const std::exception& e) {
    // Whatever breaks before the CPUs start is the scenario's or the
    // configuration's fault, never a finding of the check.
    fail(RunResult::Outcome::kBadInput, FailureKind::kBadInput,
         absl::StrCat("in setup: ", e.what()));
  }
  if (result_.ok()) {
    result_.interrupts_delivered.assign(scenario_->interrupts().size(), 0);
    result_.goal_names = scenario_->goals();
    result_.goals_reached.assign(scenario_->goals().size(), false);
    for (int i = 0; i < config_.cpus; ++i) {
      if (!scenario_->bodies()[static_cast<std::size_t>(i)]) continue;
      Cpu& cpu = cpus_[i];
      cpu.fiber.emplace([this, &cpu] { cpu_entry(cpu); });
    }
    step_loop();
    if (!result_.ok()) {
      describe_failure_state();
      unwind_all();
    } else {
      run_end_checks();
      if (result_.ok() && config_.check_leaks) check_leaks();
    }
  }
  release_quarantine();
  cpus_.reset();  // CPUs die before the scenario state they captured
  if (scenario_ != nullptr) scenario_->reset(0);
  scenario_ = nullptr;
  internal::tls_current_cpu = nullptr;
  tls_machine = nullptr;
  result_.sim_time_ns = now_ns_;
  result_.schedule_version = config_.jump_to_deadlines ? 2 : 1;  // encoded when asked
  scratch_->decisions_hint = std::max(scratch_->decisions_hint, result_.decisions.size());
  return std::move(result_);
}

void Machine::step_loop() {
  std::vector<int>& runnable = scratch_->runnable;
  std::vector<CpuChoice>& choices = scratch_->choices;
  std::vector<int>& candidates = scratch_->candidates;
  int last_cpu = -1;
  while (result_.ok()) {
    runnable.clear();
    choices.clear();
    std::uint64_t runnable_mask = 0;
    for (int i = 0; i < config_.cpus; ++i) {
      Cpu& c = cpus_[i];
      if (!c.fiber || c.fiber->finished()) continue;
      runnable_mask |= std::uint64_t{1} << i;
    }
    if (runnable_mask == 0) return;
    // Fairness (CHESS): a CPU that spun waits until every CPU that was
    // runnable then has stepped, so no strategy can starve a CPU behind a
    // spinner (a schedule no fair machine has, which would look like a hang).
    for (int pass = 0; pass < 2 && runnable.empty(); ++pass) {
      for (int i = 0; i < config_.cpus; ++i) {
        if (!(runnable_mask >> i & 1)) continue;
        if (pass == 0 && config_.fair && (cpus_[i].waits_for & runnable_mask) != 0) continue;
        Cpu& c = cpus_[i];
        if (c.pending_object == Cpu::kUnnumbered) {  // pending_addr is not null
          Trace::ObjectEntry& entry = result_.trace.numbered_object(c.pending_addr);
          c.pending_object = entry.number;
          c.pending_slot =
              config_.check_races && races_accounted(c.pending_op) ? shadow_slot(entry) : 0;
        }
        runnable.push_back(i);
        choices.push_back({i, c.pending_op, c.pending_object});
      }
    }
    if (result_.steps >= config_.max_steps) {
      fail(RunResult::Outcome::kHang, FailureKind::kHang,
           absl::StrCat("no completion within ", config_.max_steps,
                        " steps (livelock or deadlock)"));
      return;
    }
    // The clock jumps and the deadlock test all need every CPU that may step
    // to have spun since the last write: most steps skip them.
    if (std::all_of(runnable.begin(), runnable.end(), [this](int i) { return cpus_[i].relaxed; })) {
      maybe_jump_clock(runnable, runnable_mask);
      if (config_.jump_to_deadlines && certain_deadlock(runnable_mask)) return;
    }
    try {
      Cpu& cpu = cpus_[runnable[strategy_.pick_cpu(choices, last_cpu)]];
      last_cpu = cpu.id;
      result_.decisions.push_back({Decision::Kind::kCpu, cpu.id});
      deliverable_interrupts(cpu, candidates);
      // An idle CPU (its task asleep) while nobody else can progress takes
      // its first deliverable interrupt: determined by the state, so it is
      // not a decision of the schedule.
      const bool forced = !candidates.empty() && cpu.ctx.idle.load(std::memory_order_relaxed) &&
                          interrupt_context_level_of(cpu.ctx) == 0 && nobody_progresses();
      std::size_t pick = candidates.empty() ? 0
                         : forced            ? 1
                                             : strategy_.pick_interrupt(cpu.id, candidates);
      for (int i = 0; i < config_.cpus; ++i) cpus_[i].waits_for &= ~(std::uint64_t{1} << cpu.id);
      const bool irq_work = pick == 0 && irq_work_deliverable(cpu);
      if (pick == 0 && !irq_work && cpu.pending_op == internal::Op::kRelax)
        cpu.waits_for = runnable_mask & ~(std::uint64_t{1} << cpu.id);
      if (pick != 0) {
        const int irq = candidates[pick - 1];
        if (!forced) result_.decisions.push_back({Decision::Kind::kInterrupt, irq});
        result_.interrupts_delivered[static_cast<std::size_t>(irq - 1)]++;
        cpu.pending_interrupt = irq;
        result_.trace.add_interrupt(cpu.id, interrupt_context_level_of(cpu.ctx), irq);
      } else if (irq_work) {
        // The raised irq_work interrupt is taken at the CPU's first step
        // where a hardirq can be delivered, before its pending operation.
        cpu.pending_interrupt = kIrqWorkInterrupt;
      } else {
        cpu.op_event = result_.trace.events().size();
        result_.trace.add_numbered_op(cpu.id, interrupt_context_level_of(cpu.ctx),
                                      cpu.pending_op, cpu.pending_object, cpu.pending_at);
      }
      ++result_.steps;
      now_ns_ += config_.step_ns;
      running_ = &cpu;
      internal::tls_current_cpu = &cpu.ctx;
      cpu.fiber->resume();
      running_ = nullptr;
    } catch (const ScheduleDivergence& d) {
      fail(RunResult::Outcome::kDivergence, FailureKind::kDivergence, d.what());
    } catch (const PruneRun&) {
      fail(RunResult::Outcome::kPruned, FailureKind::kNone, "abandoned by the strategy");
    }
  }
}

// Nobody can progress until time passes: every CPU spins (relaxed since the
// last write). If a spinner declared a deadline, the clock jumps straight to
// the earliest one and the CPUs whose deadline it reaches are told; a
// deadline already passed is told without a jump (a loop sampling the clock
// every 65536 spins samples now). Every live CPU counts, including spinners
// the fairness rule holds back this step. Otherwise (the v1 clock, and loops
// that declare nothing), once every CPU that may step has spun and looked
// at the clock since the last jump: a jump of 1 us, doubling up to
// max_stall_jump_ns.
void Machine::maybe_jump_clock(const std::vector<int>& runnable, std::uint64_t live_mask) {
  if (config_.jump_to_deadlines && jump_to_deadline(live_mask)) return;
  for (int i : runnable)
    if (!cpus_[i].relaxed || !cpus_[i].read_clock) return;
  for (int i : runnable) cpus_[i].read_clock = false;
  now_ns_ += stall_jump_ns_;
  result_.trace.add_clock_jump(stall_jump_ns_);
  stall_jump_ns_ = std::min(stall_jump_ns_ * 2, config_.max_stall_jump_ns);
  for (int i : runnable) cpus_[i].relaxed = false;
}

// True when some live CPU waits for a deadline (then the v1 jump does not
// apply), whether or not the clock could jump now.
bool Machine::jump_to_deadline(std::uint64_t live_mask) {
  std::uint64_t earliest = 0;
  bool all_wait = true;
  for (int i = 0; i < config_.cpus; ++i) {
    if (!(live_mask & (std::uint64_t{1} << i))) continue;
    const Cpu& c = cpus_[i];
    // A CPU a jump woke has not acted on it until it spins again.
    all_wait = all_wait && c.relaxed && c.waiting && !c.awake;
    const std::uint64_t d = c.next_deadline(writes_);
    if (d != 0 && (earliest == 0 || d < earliest)) earliest = d;
  }
  if (earliest == 0) return false;
  if (!all_wait) return true;
  if (earliest > now_ns_) {
    result_.trace.add_clock_jump(earliest - now_ns_);
    now_ns_ = earliest;
  }
  for (int i = 0; i < config_.cpus; ++i) {
    Cpu& c = cpus_[i];
    if (!(live_mask & (std::uint64_t{1} << i))) continue;
    const std::uint64_t d = c.next_deadline(writes_);
    if (d == 0 || d > now_ns_) continue;
    c.deadline_reached = c.awake = true;
    if (d == c.check_ns) c.woken_at_writes = writes_;  // woken to look at memory
  }
  return true;
}

bool Machine::nobody_progresses() const {
  for (int i = 0; i < config_.cpus; ++i) {
    const Cpu& c = cpus_[i];
    if (!c.fiber || c.fiber->finished()) continue;
    if (!c.relaxed || c.pending_op != internal::Op::kRelax) return false;
  }
  return true;
}

// A hang seen in the state rather than after max_steps: every live CPU
// spins in a declared wait for a write (smp_cond_load_*), nobody wrote since,
// no deadline is declared and no interrupt can be delivered to any of them.
// Their predicates see the same memory forever, so no step can ever change
// anything: the run fails now, with the schedule up to this point.
bool Machine::certain_deadlock(std::uint64_t live_mask) {
  std::string who;
  for (int i = 0; i < config_.cpus; ++i) {
    if (!(live_mask & (std::uint64_t{1} << i))) continue;
    const Cpu& c = cpus_[i];
    if (!c.relaxed || !c.waiting || c.awake || c.deadline_ns != 0 || c.check_ns != 0) return false;
    deliverable_interrupts(c, scratch_->candidates);
    if (!scratch_->candidates.empty() || irq_work_deliverable(c)) return false;
    absl::StrAppend(&who, who.empty() ? "" : ", ", i);
  }
  fail(RunResult::Outcome::kHang, FailureKind::kHang,
       absl::StrCat("no completion: deadlock after ", result_.steps,
                    " steps - CPUs ", who, " each wait for a write that no CPU can make "
                    "(all spin in smp_cond_load_*, nothing written since, no deadline "
                    "declared, no interrupt left to deliver)"));
  return true;
}

bool Machine::irq_work_deliverable(const Cpu& cpu) const {
  const unsigned pc = cpu.ctx.preempt_count.load(std::memory_order_relaxed);
  return cpu.ctx.irq_work_raised.load(std::memory_order_relaxed) &&
         !cpu.ctx.irqs_disabled.load(std::memory_order_relaxed) &&
         !(pc & (HARDIRQ_MASK | NMI_MASK));
}

// The irq_work self-interrupt (model/cpu.h), as a hardirq on this CPU.
void Machine::run_irq_work(Cpu& cpu) {
  result_.trace.add_interrupt(cpu.id, interrupt_context_level_of(cpu.ctx), 0);
  take_irq_work_interrupt(&cpu.ctx);
  result_.trace.add_interrupt_end(cpu.id, interrupt_context_level_of(cpu.ctx), 0);
}

void Machine::deliverable_interrupts(const Cpu& cpu, std::vector<int>& out) const {
  out.clear();
  const unsigned pc = cpu.ctx.preempt_count.load(std::memory_order_relaxed);
  const bool irqs_off = cpu.ctx.irqs_disabled.load(std::memory_order_relaxed);
  const auto& specs = scenario_->interrupts();
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const InterruptSpec& s = specs[i];
    if (s.cpu != cpu.id || result_.interrupts_delivered[i] >= s.max_count) continue;
    bool ok = false;
    switch (s.kind) {
      case IrqKind::kNmi: ok = !(pc & NMI_MASK); break;
      case IrqKind::kHardirq: ok = !irqs_off && !(pc & (HARDIRQ_MASK | NMI_MASK)); break;
      case IrqKind::kSoftirq:
        ok = !irqs_off && !(pc & (SOFTIRQ_MASK | HARDIRQ_MASK | NMI_MASK));
        break;
    }
    if (ok) out.push_back(static_cast<int>(i + 1));
  }
}

void Machine::cpu_entry(Cpu& cpu) {
  try {
    wait_for_turn(cpu);  // the body's start was this step's operation
    scenario_->bodies()[static_cast<std::size_t>(cpu.id)]();
    // The CPU goes idle: a raised irq_work interrupt is taken now.
    while (irq_work_deliverable(cpu)) run_irq_work(cpu);
  } catch (const Unwind&) {
  } catch (const InvariantFailure& f) {
    fail(RunResult::Outcome::kFailed, f.kind, absl::StrCat("CPU ", cpu.id, ": ", f.what()));
  } catch (const ScheduleDivergence& d) {
    fail(RunResult::Outcome::kDivergence, FailureKind::kDivergence, d.what());
  } catch (const PruneRun&) {
    fail(RunResult::Outcome::kPruned, FailureKind::kNone, "abandoned by the strategy");
  } catch (const std::exception& e) {
    fail(RunResult::Outcome::kFailed, FailureKind::kException,
         absl::StrCat("CPU ", cpu.id, ": exception escaped: ", e.what()));
  } catch (...) {
    fail(RunResult::Outcome::kFailed, FailureKind::kException,
         absl::StrCat("CPU ", cpu.id, ": unknown exception"));
  }
}

// Called on the CPU's fiber right after the scheduler resumed it: delivers
// the interrupt the strategy chose (if any), then lets the operation at the
// scheduling point happen. After an interrupt returns, the CPU stops at the
// same point again, so other CPUs may run between the handler and it.
void Machine::wait_for_turn(Cpu& cpu) {
  const internal::Op op = cpu.pending_op;
  const void* addr = cpu.pending_addr;
  const internal::SrcLoc at = cpu.pending_at;
  const std::uint32_t object = cpu.pending_object;
  const std::uint32_t slot = cpu.pending_slot;
  for (;;) {
    if (unwinding_) throw Unwind{};
    const int irq = std::exchange(cpu.pending_interrupt, 0);
    if (irq == 0) return;
    if (irq == kIrqWorkInterrupt) run_irq_work(cpu);
    else run_interrupt(cpu, irq);
    cpu.pending_op = op;
    cpu.pending_addr = addr;
    cpu.pending_at = at;
    cpu.pending_object = object;
    cpu.pending_slot = slot;
    cpu.op_event = Cpu::kNoEvent;
    cpu.fiber->suspend();
  }
}

void Machine::run_interrupt(Cpu& cpu, int interrupt) {
  const InterruptSpec& spec = scenario_->interrupts()[static_cast<std::size_t>(interrupt - 1)];
  {
    InterruptContext ctx(spec.kind);
    spec.handler();
  }
  result_.trace.add_interrupt_end(cpu.id, interrupt_context_level_of(cpu.ctx), interrupt);
}

void Machine::sched_point(internal::Op op, const void* addr, internal::SrcLoc at) {
  Cpu* cpu = running_;
  if (cpu == nullptr) return;  // setup, at_end: no scheduling
  if (unwinding_) {
    // Destructors running during the unwind must not stop again.
    if (std::uncaught_exceptions() > 0) return;
    throw Unwind{};
  }
  // (A page free is judged by track_free: a second free is a double free.)
  if (addr != nullptr && !freed_.empty() && op != internal::Op::kPageAlloc)
    check_not_freed(op, addr);
  if (op == internal::Op::kRelax) {
    cpu->relaxed = true;
    now_ns_ += config_.relax_ns;
    cpu->deadline_ns = std::exchange(cpu->declared_ns, 0);
    cpu->check_ns = std::exchange(cpu->declared_check_ns, 0);
    cpu->waiting = std::exchange(cpu->declared_wait, false) || cpu->deadline_ns != 0;
    cpu->deadline_reached = cpu->awake = false;
  }
  if (op == internal::Op::kClock) cpu->read_clock = true;
  cpu->pending_op = op;
  cpu->pending_addr = addr;
  cpu->pending_at = at;
  cpu->pending_object = addr == nullptr ? 0 : Cpu::kUnnumbered;
  cpu->pending_slot = 0;
  cpu->op_event = Cpu::kNoEvent;
  cpu->fiber->suspend();
  wait_for_turn(*cpu);
  // The operation happens now: account it in the happens-before relation.
  // The step loop found its shadow slot when it numbered the object.
  if (config_.check_races && addr != nullptr && races_accounted(op)) {
    MODEL_ASSERT(cpu->pending_slot != 0, "simulator: a marked access without a shadow slot");
    race_access(cpu->id, cpu->pending_slot, addr, op != internal::Op::kLoad, /*plain=*/false,
                op);
  }
}

void Machine::plain_access(const void* addr, bool write) {
  if (!config_.check_races || running_ == nullptr || unwinding_) return;  // setup, at_end
  // Not numbered here: a plain access is no step of the trace.
  Scratch::CachedSlot& cached =
      scratch_->slot_cache[(reinterpret_cast<std::uintptr_t>(addr) >> 3) % Scratch::kSlotCache];
  if (cached.addr != addr || cached.run != scratch_->run)
    cached = {addr, shadow_slot(result_.trace.object_entry(addr)), scratch_->run};
  const std::uint32_t slot = cached.slot;
  race_access(running_->id, slot, addr, write, /*plain=*/true,
              write ? internal::Op::kStore : internal::Op::kLoad);
}

std::uint32_t Machine::shadow_slot(Trace::ObjectEntry& entry) {
  if (entry.slot == 0) {
    Shadow& s = scratch_->shadow.emplace_back();
    std::fill_n(s.read_epoch, config_.cpus, 0);
    std::fill_n(s.sync, config_.cpus, 0);
    entry.slot = static_cast<std::uint32_t>(scratch_->shadow.size());
  }
  return entry.slot;
}

// The slow path of race_access, apart so the check stays short.
void Machine::report_race(const RaceSide& me, const RaceSide& other) {
  throw_invariant(
      FailureKind::kRace,
      absl::StrCat("data race on object #", result_.trace.object_id(me.addr), ": ",
                   me.plain ? "plain " : "marked ", me.write ? "write" : "read", " by CPU ",
                   me.cpu, " (", me.op == internal::Op::kRmw ? "rmw" : internal::op_name(me.op),
                   ", level ", static_cast<int>(interrupt_context_level_of(cpus_[me.cpu].ctx)),
                   ") unordered with a ", other.plain ? "plain " : "marked ",
                   other.write ? "write" : "read", " by CPU ", other.cpu));
}

void Machine::race_access(int cpu, std::uint32_t slot, const void* addr, bool write, bool plain,
                          internal::Op op) {
  const auto n = static_cast<std::size_t>(config_.cpus);
  std::uint32_t* me = scratch_->vclock[cpu];
  Shadow& s = scratch_->shadow[slot - 1];
  auto read_plain = [&s](std::size_t d) { return ((s.read_plain >> d) & 1u) != 0; };
  if (s.write_cpu >= 0 && s.write_cpu != cpu && (plain || s.write_plain) &&
      s.write_epoch > me[static_cast<std::size_t>(s.write_cpu)])
    report_race({cpu, addr, write, plain, op},
                {.cpu = s.write_cpu, .write = true, .plain = s.write_plain});
  if (write) {
    for (std::size_t d = 0; d < n; ++d)
      if (static_cast<int>(d) != cpu && s.read_epoch[d] != 0 && (plain || read_plain(d)) &&
          s.read_epoch[d] > me[d])
        report_race({cpu, addr, write, plain, op},
                    {.cpu = static_cast<int>(d), .write = false, .plain = read_plain(d)});
  }
  const auto bit = std::uint32_t{1} << cpu;
  if (write) {
    s.write_cpu = cpu;
    s.write_epoch = me[static_cast<std::size_t>(cpu)];
    s.write_plain = plain;
    std::fill(s.read_epoch, s.read_epoch + n, 0);
    s.read_plain = 0;
  } else {
    s.read_epoch[static_cast<std::size_t>(cpu)] = me[static_cast<std::size_t>(cpu)];
    s.read_plain = plain ? (s.read_plain | bit) : (s.read_plain & ~bit);
  }
  if (plain) return;
  // Marked accesses synchronise (all sequentially consistent here).
  if (op != internal::Op::kStore && s.has_sync)
    for (std::size_t d = 0; d < n; ++d) me[d] = std::max(me[d], s.sync[d]);
  if (op != internal::Op::kLoad) {
    s.has_sync = true;
    for (std::size_t d = 0; d < n; ++d) s.sync[d] = std::max(s.sync[d], me[d]);
    ++me[static_cast<std::size_t>(cpu)];
  }
}

void Machine::declare_deadline(std::uint64_t deadline_ns, std::uint64_t check_ns) {
  if (running_ == nullptr || !config_.jump_to_deadlines) return;
  running_->declared_ns = std::max(deadline_ns, now_ns_ + 1);
  running_->declared_check_ns = check_ns == 0 ? 0 : std::max(check_ns, now_ns_ + 1);
}

void Machine::declare_wait_for_write() {
  if (running_ != nullptr) running_->declared_wait = true;
}

bool Machine::deadline_reached() {
  return running_ != nullptr && std::exchange(running_->deadline_reached, false);
}

void Machine::note_write() {
  if (running_ == nullptr) return;
  ++writes_;
  for (int i = 0; i < config_.cpus; ++i) cpus_[i].relaxed = false;
  stall_jump_ns_ = 1000;
}

void Machine::note_access(const internal::Access& access) {
  Cpu* cpu = running_;
  if (cpu == nullptr || unwinding_ || cpu->op_event == Cpu::kNoEvent) return;
  result_.trace.set_access(std::exchange(cpu->op_event, Cpu::kNoEvent), access);
}

int Machine::choose(int n, const char* label) {
  if (running_ == nullptr || n < 2) return 0;
  const int value = strategy_.pick_choice(n, label);
  result_.decisions.push_back({Decision::Kind::kChoice, value});
  return value;
}

void Machine::reach(int goal) {
  if (goal >= 0 && static_cast<std::size_t>(goal) < result_.goals_reached.size())
    result_.goals_reached[static_cast<std::size_t>(goal)] = true;
}

namespace {
template <typename Map>
const typename Map::value_type* block_containing(const Map& blocks, std::uintptr_t a) {
  auto it = blocks.upper_bound(a);
  if (it == blocks.begin()) return nullptr;
  --it;
  return a < it->first + it->second.size ? &*it : nullptr;
}
}  // namespace

void Machine::track_alloc(void* p, std::size_t n, const char* what) {
  live_[reinterpret_cast<std::uintptr_t>(p)] = Block{n, what, next_serial_++};
}

bool Machine::track_free(void* p, std::size_t n, const char* what, void (*release)(void*)) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  auto it = live_.find(a);
  if (it == live_.end()) {
    if (const auto* dead = block_containing(freed_, a)) {
      throw_invariant(FailureKind::kUseAfterFree, absl::StrCat("double free of ", what, " #", dead->second.serial));
    }
    return false;  // not allocated in this run (e.g. before it): not ours
  }
  Block b = it->second;
  live_.erase(it);
  if (b.size != n) {
    throw_invariant(FailureKind::kAssertion, absl::StrCat("free of ", what, " #", b.serial, " with size ", n,
                                 ", allocated with ", b.size));
  }
  b.release = release;
  freed_[a] = b;
  return true;
}

void Machine::check_not_freed(internal::Op op, const void* addr) {
  const auto* dead = block_containing(freed_, reinterpret_cast<std::uintptr_t>(addr));
  if (dead == nullptr) return;
  throw_invariant(FailureKind::kUseAfterFree, absl::StrCat("use after free: ", internal::op_name(op), " at offset ",
                               reinterpret_cast<std::uintptr_t>(addr) - dead->first, " of freed ",
                               dead->second.what, " #", dead->second.serial));
}

void Machine::check_leaks() {
  if (live_.empty()) return;
  std::size_t bytes = 0;
  for (const auto& [addr, b] : live_) bytes += b.size;
  const Block& first = live_.begin()->second;
  fail(RunResult::Outcome::kFailed, FailureKind::kLeak,
       absl::StrCat("leak: ", live_.size(), " block(s), ", bytes, " bytes not freed at the end ",
                    "of the run (first: ", first.what, " #", first.serial, ")"));
}

void Machine::release_quarantine() {
  for (auto& [addr, b] : freed_)
    if (b.release != nullptr) b.release(reinterpret_cast<void*>(addr));
  freed_.clear();
  // Blocks a failed run leaked stay allocated, never reused (the model's
  // state may still point into them). They are kept reachable, so the test
  // process's LeakSanitizer does not report the model's leak as its own.
  static auto* leaked_by_failed_runs = new std::vector<void*>();
  for (const auto& [addr, b] : live_) leaked_by_failed_runs->push_back(reinterpret_cast<void*>(addr));
  live_.clear();
}

void Machine::fail(RunResult::Outcome outcome, FailureKind kind, std::string message) {
  if (!result_.ok()) return;  // the first failure is the one reported
  result_.outcome = outcome;
  result_.kind = kind;
  result_.message = std::move(message);
}

void Machine::unwind_all() {
  unwinding_ = true;
  for (int i = 0; i < config_.cpus; ++i) {
    Cpu& cpu = cpus_[i];
    if (!cpu.fiber || cpu.fiber->finished()) continue;
    running_ = &cpu;
    internal::tls_current_cpu = &cpu.ctx;
    cpu.fiber->resume();
    running_ = nullptr;
  }
  internal::tls_current_cpu = &cpus_[0].ctx;
}

void Machine::describe_failure_state() {
  internal::tls_current_cpu = &cpus_[0].ctx;
  for (const auto& describe : scenario_->state_describers())
    absl::StrAppend(&result_.message, "\n  state: ", describe());
}

void Machine::run_end_checks() {
  internal::tls_current_cpu = &cpus_[0].ctx;
  try {
    for (const auto& check : scenario_->end_checks()) check();
  } catch (const InvariantFailure& f) {
    fail(RunResult::Outcome::kFailed, f.kind, absl::StrCat("at end: ", f.what()));
  } catch (const std::exception& e) {
    fail(RunResult::Outcome::kFailed, FailureKind::kException,
         absl::StrCat("at end: exception: ", e.what()));
  }
}

// ---- The simulator's side of the platform interface -------------------------

namespace internal {

void sched_point(Op op, const void* addr, SrcLoc at) {
  if (Machine* m = tls_machine) m->sched_point(op, addr, at);
}

void note_access(const Access& access) {
  if (Machine* m = tls_machine) m->note_access(access);
}

void note_write(const void*) {
  if (Machine* m = tls_machine) m->note_write();
}

void track_alloc(void* p, std::size_t n, const char* what) {
  if (Machine* m = tls_machine) m->track_alloc(p, n, what);
}

bool track_free(void* p, std::size_t n, const char* what, void (*release)(void*)) {
  Machine* m = tls_machine;
  return m != nullptr && m->track_free(p, n, what, release);
}

void plain_access(const void* addr, bool write) {
  if (Machine* m = tls_machine) m->plain_access(addr, write);
}

void declare_deadline(std::uint64_t deadline_ns, std::uint64_t check_ns) {
  if (Machine* m = tls_machine) m->declare_deadline(deadline_ns, check_ns);
}

void declare_wait_for_write() {
  if (Machine* m = tls_machine) m->declare_wait_for_write();
}

bool deadline_reached() {
  Machine* m = tls_machine;
  return m != nullptr && m->deadline_reached();
}

int choose(int n, const char* label) {
  Machine* m = tls_machine;
  if (m == nullptr) return 0;
  m->sched_point(Op::kChoice, nullptr, {});
  return m->choose(n, label);
}

void run_pending_hardirq(CpuContext*) {}

void invariant_failed(const char* file, int line, const std::string& what) {
  throw InvariantFailure(classify_invariant(what), absl::StrCat(file, ":", line, ": ", what));
}

}  // namespace internal

void reached(int goal) {
  if (Machine* m = tls_machine) m->reach(goal);
}

void cpu_relax() { internal::sched_point(internal::Op::kRelax, nullptr); }

// One step of a sleeping task (its CPU idle: TaskAsleep, model/cpu.h).
void schedule() { cpu_relax(); }

int num_possible_cpus() {
  Machine* m = tls_machine;
  return m == nullptr ? NR_CPUS : m->cpus();
}

u64 ktime_get_mono_fast_ns() {
  internal::sched_point(internal::Op::kClock, nullptr);
  Machine* m = tls_machine;
  return m == nullptr ? 0 : m->now_ns();
}

KMODEL_NAMESPACE_END
