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

#include "absl/status/statusor.h"
#include "model/sim/machine.h"

KMODEL_NAMESPACE_BEGIN

struct CheckResult {
  std::uint64_t runs = 0;            // runs executed (including a failing one)
  std::uint64_t total_steps = 0;
  std::optional<RunResult> failure;  // the first failing run
  std::uint64_t failing_run = 0;     // its index, when failure is set

  bool ok() const { return !failure.has_value(); }
  // For a failure: the run's report plus how to reproduce it.
  std::string report() const;
};

CheckResult check(const Config& config, const ScenarioFn& scenario);

// A malformed schedule string is an InvalidArgument error; a schedule that
// does not fit the scenario gives a RunResult with outcome kDivergence.
absl::StatusOr<RunResult> replay(const Config& config, const ScenarioFn& scenario,
                                 std::string_view schedule);

// One run under any strategy.
RunResult run_once(const Config& config, const ScenarioFn& scenario, Strategy& strategy);

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_SIM_CHECK_H_
