#include "model/sim/check.h"

#include <algorithm>
#include <cctype>
#include <chrono>
// libstdc++'s <regex> trips GCC 12's -Wmaybe-uninitialized at -O1 (the ASan
// build) inside its own automaton code: a known false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>

#include "absl/strings/str_cat.h"
#include "model/sim/exhaustive_strategy.h"
#include "model/sim/pct_strategy.h"
#include "model/sim/shrink.h"

KMODEL_NAMESPACE_BEGIN

namespace {

using Clock = std::chrono::steady_clock;

// The loop shared by every strategy: count, observe, stop at the first
// failure or when the time budget is spent.
class CheckLoop {
 public:
  CheckLoop(const Config& config, const ScenarioFn& scenario, const RunObserver& observer)
      : config_(config), scenario_(scenario), observer_(observer), start_(Clock::now()) {
    out_.strategy = config.strategy;
  }

  bool out_of_time() {
    if (config_.time_budget_s <= 0) return false;
    const std::chrono::duration<double> elapsed = Clock::now() - start_;
    out_.out_of_time = elapsed.count() >= config_.time_budget_s;
    return out_.out_of_time;
  }

  // Returns false when the check must stop (a failure). `sample` numbers
  // the run among this shard's for the determinism sampling (default: its
  // index).
  bool record(std::uint64_t index, RunResult r) { return record(index, index, std::move(r)); }
  bool record(std::uint64_t index, std::uint64_t sample, RunResult r) {
    if (r.outcome == RunResult::Outcome::kPruned) {
      ++out_.pruned;
      return true;
    }
    ++out_.runs;
    out_.total_steps += r.steps;
    count_goals(r);
    if (r.ok() && wants_determinism_check(sample)) r = determinism_check(std::move(r));
    if (observer_) observer_(index, r);
    if (r.ok()) return true;
    out_.failing_run = index;
    out_.original_length = r.decisions.size();
    out_.failure = config_.shrink ? shrink_failure(config_, scenario_, std::move(r)) : std::move(r);
    return false;
  }

  CheckResult finish() {
    out_.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    // A goal never reached makes a green result vacuous. Shards see only part
    // of the work, so only a whole check can judge that.
    if (!out_.failure && !out_.out_of_time && config_.shard_count <= 1 && out_.runs > 0) {
      for (const GoalCount& g : out_.goals) {
        if (g.runs_reached != 0) continue;
        RunResult r;
        r.outcome = RunResult::Outcome::kVacuous;
        r.kind = FailureKind::kVacuous;
        r.message = absl::StrCat("goal \"", g.name, "\" was never reached in ", out_.runs,
                                 " runs: the check proves nothing about it");
        out_.failure = std::move(r);
        break;
      }
    }
    return std::move(out_);
  }

 private:
  void count_goals(const RunResult& r) {
    if (out_.goals.empty())
      for (const std::string& name : r.goal_names) out_.goals.push_back({name, 0});
    for (std::size_t i = 0; i < r.goals_reached.size() && i < out_.goals.size(); ++i)
      out_.goals[i].runs_reached += r.goals_reached[i];
  }

  bool wants_determinism_check(std::uint64_t index) const {
    return config_.determinism_every != 0 && index % config_.determinism_every == 0;
  }

  // Replays the run from its schedule: a different trace means the scenario
  // depends on something outside the simulator's control.
  RunResult determinism_check(RunResult r) {
    absl::StatusOr<RunResult> again = replay(config_, scenario_, r.schedule());
    if (again.ok() && again->outcome == r.outcome && again->trace == r.trace) return r;
    r.outcome = RunResult::Outcome::kNondeterminism;
    r.kind = FailureKind::kNondeterminism;
    r.message = absl::StrCat(
        "replaying this run's schedule gave a different ",
        again.ok() ? (again->outcome != r.outcome ? "outcome" : "trace") : "result",
        ": the scenario depends on state outside the simulator (globals not reset, "
        "addresses, time, threads)");
    return r;
  }

  const Config& config_;
  const ScenarioFn& scenario_;
  const RunObserver& observer_;
  Clock::time_point start_;
  CheckResult out_;
};

bool in_shard(const Config& c, std::uint64_t i) {
  return c.shard_count <= 1 || i % c.shard_count == c.shard_index;
}

// Run i's number among its shard's runs. Determinism replays sample every
// k-th run of a shard, not every k-th run index: with k a multiple of the
// shard count, every replay would fall to shard 0 (which then ran 6% longer
// than shard 1 of 2: docs/checker.md, "Scale-out"). Unsharded, the same runs
// as ever.
std::uint64_t shard_local(const Config& c, std::uint64_t i) {
  return c.shard_count <= 1 ? i : i / c.shard_count;
}

std::uint64_t run_seed(const Config& c, std::uint64_t i) { return splitmix64(c.seed + i); }

CheckResult check_random(const Config& config, const ScenarioFn& scenario,
                         const RunObserver& observer) {
  CheckLoop loop(config, scenario, observer);
  for (std::uint64_t i = 0; i < config.iterations && !loop.out_of_time(); ++i) {
    if (!in_shard(config, i)) continue;
    RandomStrategy strategy(run_seed(config, i), config.interrupt_probability);
    if (!loop.record(i, shard_local(config, i), run_once(config, scenario, strategy))) break;
  }
  return loop.finish();
}

// PCT needs the run length k: estimated from one unrecorded random run.
CheckResult check_pct(const Config& config, const ScenarioFn& scenario,
                      const RunObserver& observer) {
  RandomStrategy probe(run_seed(config, ~0ull), config.interrupt_probability);
  const std::uint64_t k = std::max<std::uint64_t>(run_once(config, scenario, probe).steps, 1);
  CheckLoop loop(config, scenario, observer);
  for (std::uint64_t i = 0; i < config.iterations && !loop.out_of_time(); ++i) {
    if (!in_shard(config, i)) continue;
    PctStrategy strategy(run_seed(config, i), config.cpus, config.pct_depth, k,
                         config.interrupt_probability);
    if (!loop.record(i, shard_local(config, i), run_once(config, scenario, strategy))) break;
  }
  return loop.finish();
}

// Exhaustive: `iterations` caps the number of runs (0: no cap).
CheckResult check_exhaustive(const Config& config, const ScenarioFn& scenario,
                             const RunObserver& observer) {
  ExhaustiveStrategy search({config.preemption_bound, config.sleep_sets, config.shard_index,
                             config.shard_count});
  CheckLoop loop(config, scenario, observer);
  std::uint64_t index = 0;
  bool exhausted = false;
  while (!loop.out_of_time() && (config.iterations == 0 || index < config.iterations)) {
    search.begin_run();
    RunResult r = run_once(config, scenario, search);
    if (!search.owns_last_run()) r.outcome = RunResult::Outcome::kPruned;
    const bool keep_going = loop.record(index++, std::move(r));
    if (!search.end_run()) exhausted = true;
    if (!keep_going || exhausted) break;
  }
  CheckResult out = loop.finish();
  out.exhausted = exhausted;
  return out;
}

}  // namespace

const char* strategy_name(StrategyKind kind) {
  switch (kind) {
    case StrategyKind::kRandom: return "random";
    case StrategyKind::kPct: return "pct";
    case StrategyKind::kExhaustive: return "exhaustive";
  }
  return "?";
}

absl::StatusOr<StrategyKind> parse_strategy(std::string_view name) {
  for (StrategyKind k : {StrategyKind::kRandom, StrategyKind::kPct, StrategyKind::kExhaustive})
    if (name == strategy_name(k)) return k;
  return absl::InvalidArgumentError(absl::StrCat(
      "strategy \"", std::string(name), "\": unknown; expected random, pct or exhaustive"));
}

RunResult run_once(const Config& config, const ScenarioFn& scenario, Strategy& strategy) {
  Machine machine(config, strategy);
  return machine.run(scenario);
}

CheckResult check(const Config& config, const ScenarioFn& scenario, const RunObserver& observer) {
  if (config.shard_count == 0 || config.shard_index >= config.shard_count) {
    CheckResult out;
    RunResult r;
    r.outcome = RunResult::Outcome::kBadInput;
    r.kind = FailureKind::kBadInput;
    r.message = absl::StrCat("shard ", config.shard_index, "/", config.shard_count,
                             ": the index must be below the count");
    out.failure = std::move(r);
    return out;
  }
  switch (config.strategy) {
    case StrategyKind::kRandom: return check_random(config, scenario, observer);
    case StrategyKind::kPct: return check_pct(config, scenario, observer);
    case StrategyKind::kExhaustive: return check_exhaustive(config, scenario, observer);
  }
  return {};
}

std::string CheckResult::report() const {
  std::string goals_text;
  for (const GoalCount& g : goals)
    absl::StrAppend(&goals_text, "  goal \"", g.name, "\": reached in ", g.runs_reached, " of ",
                    runs, " runs\n");
  if (ok()) {
    return absl::StrCat("pass: ", strategy_name(strategy), ", ", runs, " runs, ", total_steps,
                        " steps", exhausted ? ", search exhausted" : "",
                        out_of_time ? ", time budget spent" : "", "\n", goals_text);
  }
  std::string out = absl::StrCat(strategy_name(strategy), " run ", failing_run, " (after ", runs,
                                 " runs): ", failure->report(), goals_text);
  if (!failure->schedule().empty()) {
    absl::StrAppend(&out, "  shrunk from ", original_length, " to ", failure->decisions.size(),
                    " decisions\n  replay: kmodel::sim::replay(config, scenario, \"",
                    failure->schedule(), "\")\n");
  }
  return out;
}

// ---- Expectations -------------------------------------------------------------

Expectation expect_pass() { return Expectation(); }

Expectation expect_violation(FailureKind kind, std::string pattern) {
  Expectation e;
  e.violation = true;
  e.kind = kind;
  e.pattern = std::move(pattern);
  return e;
}

Expectation expect_violation_matching(FailureKind kind, std::string regex) {
  Expectation e = expect_violation(kind, std::move(regex));
  e.regex = true;
  return e;
}

bool Expectation::matches(FailureKind got_kind, std::string_view message) const {
  if (!violation || got_kind != kind) return false;
  // Nothing the scenario did wrong can be the finding it exists for.
  if (kind == FailureKind::kNone || kind == FailureKind::kBadInput) return false;
  if (!regex) return message.find(pattern) != std::string_view::npos;
  try {
    return std::regex_search(message.begin(), message.end(), std::regex(pattern));
  } catch (const std::regex_error&) {
    return false;  // a malformed pattern matches nothing: the check is red
  }
}

std::string Expectation::describe() const {
  if (!violation) return "pass";
  return absl::StrCat("violation ", failure_kind_name(kind), regex ? " /" : " \"", pattern,
                      regex ? "/" : "\"");
}

Judgement judge(const Expectation& expected, const CheckResult& result, bool whole_check) {
  Judgement v;
  v.expected = expected.describe();
  if (const RunResult* f = result.failure ? &*result.failure : nullptr) {
    v.got = absl::StrCat(failure_kind_name(f->kind), ": ", f->message);
    v.met = expected.matches(f->kind, f->message);
  } else if (result.runs == 0 && whole_check) {
    // A check that ran nothing proves nothing, whatever it expected.
    v.got = "nothing ran (0 runs)";
  } else {
    v.got = absl::StrCat("pass (", result.runs, " runs)");
    v.met = !expected.violation;
  }
  return v;
}

Verdict check_expecting(const Config& config, const ScenarioFn& scenario,
                        const Expectation& expected, const RunObserver& observer) {
  Verdict v;
  v.result = check(config, scenario, observer);
  static_cast<Judgement&>(v) = judge(expected, v.result, config.shard_count <= 1);
  return v;
}

absl::StatusOr<RunResult> replay(const Config& config, const ScenarioFn& scenario,
                                 std::string_view schedule) {
  int version = kScheduleVersion;
  absl::StatusOr<std::vector<Decision>> decisions = parse_schedule(schedule, &version);
  if (!decisions.ok()) return decisions.status();
  ReplayStrategy strategy(*std::move(decisions));
  // A v1 schedule was recorded on the clock before declared deadlines.
  Config on_its_clock = config;
  if (version == 1) on_its_clock.jump_to_deadlines = false;
  RunResult r = run_once(on_its_clock, scenario, strategy);
  if (r.ok() && !strategy.exhausted()) {
    r.outcome = RunResult::Outcome::kDivergence;
    r.kind = FailureKind::kDivergence;
    r.message = "replay diverged: the run ended before the schedule did";
  }
  return r;
}

KMODEL_NAMESPACE_END

#pragma GCC diagnostic pop
