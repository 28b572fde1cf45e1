#include "model/sim/check.h"

#include "absl/strings/str_cat.h"

KMODEL_NAMESPACE_BEGIN

RunResult run_once(const Config& config, const ScenarioFn& scenario, Strategy& strategy) {
  Machine machine(config, strategy);
  return machine.run(scenario);
}

CheckResult check(const Config& config, const ScenarioFn& scenario) {
  CheckResult out;
  for (std::uint64_t i = 0; i < config.iterations; ++i) {
    RandomStrategy strategy(splitmix64(config.seed + i), config.interrupt_probability);
    RunResult r = run_once(config, scenario, strategy);
    ++out.runs;
    out.total_steps += r.steps;
    if (!r.ok()) {
      out.failure = std::move(r);
      out.failing_run = i;
      break;
    }
  }
  return out;
}

std::string CheckResult::report() const {
  if (ok()) return absl::StrCat("pass: ", runs, " runs, ", total_steps, " steps");
  return absl::StrCat("run ", failing_run, " of ", runs, " (seed for this check: see config.seed) ",
                      failure->report(),
                      "  replay: kmodel::sim::replay(config, scenario, \"",
                      failure->schedule, "\")\n");
}

absl::StatusOr<RunResult> replay(const Config& config, const ScenarioFn& scenario,
                                 std::string_view schedule) {
  absl::StatusOr<std::vector<Decision>> decisions = parse_schedule(schedule);
  if (!decisions.ok()) return decisions.status();
  ReplayStrategy strategy(*std::move(decisions));
  RunResult r = run_once(config, scenario, strategy);
  if (r.ok() && !strategy.exhausted()) {
    r.outcome = RunResult::Outcome::kDivergence;
    r.message = "replay diverged: the run ended before the schedule did";
  }
  return r;
}

KMODEL_NAMESPACE_END
