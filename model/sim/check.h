// model/sim/check.h: the entry points for checking a scenario.
//
//   check(config, scenario)   runs config.iterations seeded random runs and
//                             stops at the first failure;
//   check_expecting(config, scenario, expected)
//                             the same, judged against an Expectation:
//                             pass, or one named violation;
//   replay(config, scenario, schedule)
//                             re-runs one schedule string exactly.
//
// A design test that shows a bug names the failure it expects, so that a
// different failure (or a broken setup) can never make it green:
//
//   Verdict v = check_expecting(config, scenario,
//       expect_violation(FailureKind::kAssertion, "node #1 is both consumed"));
//   REQUIRE(v.met);   // else v.expected / v.got say what differed
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

// What a check must show. Default-constructed: no failure within the budget
// (a whole check that ran no run is never a pass). A violation names its
// kind and a stable piece of the failure message: a substring, or with
// expect_violation_matching() an ECMAScript regex searched in the message.
// A failure of another kind or message, and any kBadInput (a scenario that
// cannot be set up), leaves the expectation unmet.
enum class Expect { kPass };  // the catalogue's short spelling of expect_pass()

struct Expectation {
  bool violation = false;
  FailureKind kind = FailureKind::kNone;
  std::string pattern;
  bool regex = false;

  Expectation() = default;
  Expectation(Expect) {}  // NOLINT: Expect::kPass reads as a pass

  bool matches(FailureKind got_kind, std::string_view message) const;
  // "pass", or "violation assertion \"pattern\"" ("/regex/").
  std::string describe() const;
};

Expectation expect_pass();
Expectation expect_violation(FailureKind kind, std::string pattern);
Expectation expect_violation_matching(FailureKind kind, std::string regex);

struct Judgement {
  bool met = false;
  std::string expected;  // Expectation::describe()
  std::string got;       // "pass (N runs)", "<kind>: <message>", "nothing ran (0 runs)"
};

// Judges a result: the first failure must be the expected one; a pass needs
// at least one run when `whole_check` (not a shard of one).
Judgement judge(const Expectation& expected, const CheckResult& result, bool whole_check = true);

struct Verdict : Judgement {
  CheckResult result;
};

Verdict check_expecting(const Config& config, const ScenarioFn& scenario,
                        const Expectation& expected, const RunObserver& observer = {});

const char* strategy_name(StrategyKind kind);  // "random", "pct", "exhaustive"
absl::StatusOr<StrategyKind> parse_strategy(std::string_view name);

// A malformed schedule string is an InvalidArgument error; a schedule that
// does not fit the scenario gives a RunResult with outcome kDivergence. A v1
// schedule runs on the v1 clock (Config::jump_to_deadlines = false).
absl::StatusOr<RunResult> replay(const Config& config, const ScenarioFn& scenario,
                                 std::string_view schedule);

// One run under any strategy.
RunResult run_once(const Config& config, const ScenarioFn& scenario, Strategy& strategy);

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_SIM_CHECK_H_
