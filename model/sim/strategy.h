// model/sim/strategy.h: who decides what happens next.
//
// The machine asks its Strategy every question whose answer is not
// determined by the scenario (see schedule.h). A strategy sees the question
// and the alternatives, never the scenario's state, so any strategy can
// drive any scenario, and the machine records the answers for replay.
#ifndef KMODEL_MODEL_SIM_STRATEGY_H_
#define KMODEL_MODEL_SIM_STRATEGY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/sim/schedule.h"

KMODEL_NAMESPACE_BEGIN

class Strategy {
 public:
  virtual ~Strategy() = default;

  // Which CPU runs its next step: an index into `runnable` (CPU numbers in
  // ascending order, never empty).
  virtual std::size_t pick_cpu(const std::vector<int>& runnable) = 0;

  // Whether to inject an interrupt into `cpu` before its next operation:
  // 0 for none, or 1 + an index into `candidates` (interrupt numbers, 1-based,
  // that may be delivered there now; never empty).
  virtual std::size_t pick_interrupt(int cpu, const std::vector<int>& candidates) = 0;

  // A data choice among n >= 2 alternatives; `label` names it in reports.
  virtual int pick_choice(int n, const char* label) = 0;
};

// Uniform random walk: a seeded xoshiro-style generator; interrupts are
// injected with a fixed probability per step.
class RandomStrategy final : public Strategy {
 public:
  RandomStrategy(std::uint64_t seed, double interrupt_probability);
  std::size_t pick_cpu(const std::vector<int>& runnable) override;
  std::size_t pick_interrupt(int cpu, const std::vector<int>& candidates) override;
  int pick_choice(int n, const char* label) override;

 private:
  std::uint64_t next();
  std::uint64_t below(std::uint64_t n);
  std::uint64_t state_[4];
  std::uint64_t interrupt_threshold_;  // next() < threshold: inject
};

// A replay that did not match the run (a decision impossible at that point,
// or the decisions ran out): the scenario is nondeterministic or the
// schedule belongs to another scenario/configuration.
class ScheduleDivergence : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Replays recorded decisions; throws ScheduleDivergence on a mismatch.
class ReplayStrategy final : public Strategy {
 public:
  explicit ReplayStrategy(std::vector<Decision> decisions);
  std::size_t pick_cpu(const std::vector<int>& runnable) override;
  std::size_t pick_interrupt(int cpu, const std::vector<int>& candidates) override;
  int pick_choice(int n, const char* label) override;
  bool exhausted() const { return next_ == decisions_.size(); }

 private:
  const Decision* peek(Decision::Kind kind) const;
  std::vector<Decision> decisions_;
  std::size_t next_ = 0;
};

std::uint64_t splitmix64(std::uint64_t x);

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_SIM_STRATEGY_H_
