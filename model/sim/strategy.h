// model/sim/strategy.h: who decides what happens next.
//
// The machine asks its Strategy every question whose answer is not
// determined by the scenario (see schedule.h): which runnable CPU steps next,
// whether an interrupt is delivered first, and each data choice. A strategy
// sees the alternatives and what each CPU is about to do (operation and
// object, for partial-order reduction), never the scenario's state, so any
// strategy drives any scenario; the machine records the answers for replay.
//
// Strategies here:
//   RandomStrategy      seeded uniform random walk
//   PctStrategy         probabilistic concurrency testing (pct_strategy.h)
//   ExhaustiveStrategy  bounded DFS with sleep sets (exhaustive_strategy.h)
//   ReplayStrategy      a recorded schedule, strictly or leniently
#ifndef KMODEL_MODEL_SIM_STRATEGY_H_
#define KMODEL_MODEL_SIM_STRATEGY_H_

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/internal/hooks.h"
#include "model/sim/schedule.h"

KMODEL_NAMESPACE_BEGIN

// A runnable CPU and the operation it performs when it next steps.
struct CpuChoice {
  int cpu;
  internal::Op op;
  std::uint32_t object;  // first-touch number of the object (0: none)
};

// True when a CPU is only spinning (cpu_relax), so switching away from it is
// not a preemption and running it while others could progress is pointless.
inline bool is_spinning(const CpuChoice& c) { return c.op == internal::Op::kRelax; }

class Strategy {
 public:
  virtual ~Strategy() = default;

  // Which CPU steps next: an index into `runnable` (ascending CPU numbers,
  // never empty). `last_cpu` stepped last (-1 at the start).
  virtual std::size_t pick_cpu(const std::vector<CpuChoice>& runnable, int last_cpu) = 0;

  // Whether to deliver an interrupt to `cpu` before its next operation:
  // 0 for none, or 1 + an index into `candidates` (interrupt numbers that may
  // be delivered there now; never empty).
  virtual std::size_t pick_interrupt(int cpu, const std::vector<int>& candidates) = 0;

  // A data choice among n >= 2 alternatives; `label` names it in reports.
  virtual int pick_choice(int n, const char* label) = 0;
};

// Thrown by a strategy to abandon the current run as redundant (a sleep set
// covers it, or it belongs to another shard). Not a failure.
struct PruneRun {};

class RandomStrategy final : public Strategy {
 public:
  RandomStrategy(std::uint64_t seed, double interrupt_probability);
  std::size_t pick_cpu(const std::vector<CpuChoice>& runnable, int last_cpu) override;
  std::size_t pick_interrupt(int cpu, const std::vector<int>& candidates) override;
  int pick_choice(int n, const char* label) override;

  std::uint64_t below(std::uint64_t n);  // uniform in [0, n)
  bool chance(double p);

 private:
  std::uint64_t next();
  std::uint64_t state_[4];
  std::uint64_t interrupt_threshold_;  // next() < threshold: deliver
};

// A replay that did not match the run (a decision impossible at that point,
// or the decisions ran out): the scenario is nondeterministic or the
// schedule belongs to another scenario or configuration.
class ScheduleDivergence : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Replays recorded decisions. Strict: a mismatch throws ScheduleDivergence.
// Lenient (for shrinking): an impossible or missing decision is replaced by
// the default one: keep running the last CPU if it can progress, else the
// lowest runnable CPU; no interrupt; choice 0.
class ReplayStrategy final : public Strategy {
 public:
  explicit ReplayStrategy(std::vector<Decision> decisions, bool lenient = false);
  std::size_t pick_cpu(const std::vector<CpuChoice>& runnable, int last_cpu) override;
  std::size_t pick_interrupt(int cpu, const std::vector<int>& candidates) override;
  int pick_choice(int n, const char* label) override;
  bool exhausted() const { return next_ == decisions_.size(); }

 private:
  const Decision* peek(Decision::Kind kind) const;
  [[noreturn]] void diverge(const std::string& why) const;
  std::vector<Decision> decisions_;
  std::size_t next_ = 0;
  bool lenient_;
};

// The default continuation used by lenient replay and shrinking.
std::size_t default_cpu(const std::vector<CpuChoice>& runnable, int last_cpu);

std::uint64_t splitmix64(std::uint64_t x);

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_SIM_STRATEGY_H_
