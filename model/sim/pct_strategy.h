// model/sim/pct_strategy.h: probabilistic concurrency testing.
//
// PCT (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010): give the
// CPUs random distinct priorities, always run the highest-priority runnable
// CPU, and at d-1 random steps lower the running CPU's priority below all
// others. A bug of depth d (d ordering constraints) is found by one run with
// probability at least 1/(n * k^(d-1)) for n CPUs and k steps, independent of
// how the rest of the run goes: far better than a random walk for bugs that
// need a long uninterrupted stretch of one CPU.
//
// Adaptations for kernel code: a CPU that spins in cpu_relax() while another
// can progress is demoted to the lowest priority (otherwise the highest
// priority spinner would starve the CPU it waits for) - "spins" meaning from
// its cpu_relax() through the loads that re-check the condition, until it
// writes; when all CPUs spin, each relax demotes the spinner that takes it,
// so they take turns and every waiter re-checks its condition. Interrupts are
// delivered with the random strategy's per-step probability.
#ifndef KMODEL_MODEL_SIM_PCT_STRATEGY_H_
#define KMODEL_MODEL_SIM_PCT_STRATEGY_H_

#include <cstdint>
#include <vector>

#include "model/sim/strategy.h"

KMODEL_NAMESPACE_BEGIN

class PctStrategy final : public Strategy {
 public:
  // `expected_steps` (k) spreads the change points over a run's length.
  PctStrategy(std::uint64_t seed, int cpus, int depth, std::uint64_t expected_steps,
              double interrupt_probability);
  std::size_t pick_cpu(const std::vector<CpuChoice>& runnable, int last_cpu) override;
  std::size_t pick_interrupt(int cpu, const std::vector<int>& candidates) override;
  int pick_choice(int n, const char* label) override;

 private:
  RandomStrategy random_;
  void note_step(const CpuChoice& picked);

  std::vector<long> priority_;              // per CPU; higher runs first
  std::vector<char> in_spin_loop_;          // per CPU: relaxed, no write since
  std::vector<std::uint64_t> change_points_;  // steps, ascending
  std::uint64_t step_ = 0;
  long lowest_ = 0;  // below every priority handed out so far
};

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_SIM_PCT_STRATEGY_H_
