// model/sim/check.h: the entry points for checking a scenario.
//
//   check(config, scenario)   runs config.iterations seeded random runs and
//                             stops at the first failure;
//   replay(config, scenario, schedule)
//                             re-runs one schedule string exactly.
//
// Run i of a check uses the strategy seed splitmix64(config.seed + i), so a
// check is reproducible from its seed, and any single run from its schedule.
#ifndef KMODEL_MODEL_SIM_CHECK_H_
#define KMODEL_MODEL_SIM_CHECK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "model/sim/machine.h"

KMODEL_NAMESPACE_BEGIN

struct GoalCount {
  std::string name;
  std::uint64_t runs_reached = 0;
};

struct CheckResult {
  StrategyKind strategy = StrategyKind::kRandom;
  std::uint64_t runs = 0;            // runs executed (including a failing one)
  std::uint64_t total_steps = 0;
  std::uint64_t pruned = 0;          // exhaustive: runs cut short (sleep sets, shards)
  bool exhausted = false;            // exhaustive: the bounded tree is done
  bool out_of_time = false;          // stopped by time_budget_s
  double seconds = 0;                // wall time
  std::vector<GoalCount> goals;      // per scenario goal, runs that reached it
  std::optional<RunResult> failure;  // the first failing run (shrunk)
  std::uint64_t failing_run = 0;     // its index, when failure is set
  std::size_t original_length = 0;   // decisions of the failing run before shrinking

  bool ok() const { return !failure.has_value(); }
  // For a failure: the run's report plus how to reproduce it.
  std::string report() const;
};

// Called after every completed run (for progress lines, reports, tests).
using RunObserver = std::function<void(std::uint64_t run_index, const RunResult&)>;

CheckResult check(const Config& config, const ScenarioFn& scenario,
                  const RunObserver& observer = {});

const char* strategy_name(StrategyKind kind);  // "random", "pct", "exhaustive"
absl::StatusOr<StrategyKind> parse_strategy(std::string_view name);

// A malformed schedule string is an InvalidArgument error; a schedule that
// does not fit the scenario gives a RunResult with outcome kDivergence.
absl::StatusOr<RunResult> replay(const Config& config, const ScenarioFn& scenario,
                                 std::string_view schedule);

// One run under any strategy.
RunResult run_once(const Config& config, const ScenarioFn& scenario, Strategy& strategy);

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_SIM_CHECK_H_
