// model/sim/shrink.h: minimising a failing schedule.
//
// A failing run found by a random walk is long and full of irrelevant
// switches. shrink_failure() replays edited versions of its decisions with a
// lenient replay (an edit that no longer fits falls back to the default: keep
// running the same CPU) and keeps an edit when the run still fails the same
// way (same outcome, same message once numbers are ignored) and is simpler:
// fewer context switches and interrupts, then fewer steps. Edits tried, until
// none helps or the replay budget is spent:
//   * drop one interrupt delivery or reset one data choice;
//   * cut the schedule after a prefix (the default continuation finishes it);
//   * at a context switch, keep running the previous CPU instead.
// The result replays exactly (its schedule is what the final run recorded).
// A hang tries the shortest prefix first, and its report names the lasso
// (prefix and cycle) of the shrunk schedule. The state description a
// scenario appends to a message ("\n  state: ...") is not compared.
#ifndef KMODEL_MODEL_SIM_SHRINK_H_
#define KMODEL_MODEL_SIM_SHRINK_H_

#include "model/sim/machine.h"

KMODEL_NAMESPACE_BEGIN

RunResult shrink_failure(const Config& config, const ScenarioFn& scenario, RunResult failing,
                         int max_replays = 400);

// A hang's schedule, after shrinking, usually ends in a cycle: the default
// continuation runs the stuck CPUs round-robin. `prefix` decisions, then a
// cycle of `cycle` decisions repeated to the end (cycle 0: none found).
// Hang reports name it ("lasso: ...").
struct Lasso {
  std::size_t prefix = 0;
  std::size_t cycle = 0;
};
Lasso find_lasso(const std::vector<Decision>& decisions, std::size_t max_cycle = 512);

// The complexity shrinking reduces: (context switches + interrupts, steps).
std::pair<std::size_t, std::size_t> schedule_complexity(const RunResult& r);

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_SIM_SHRINK_H_
