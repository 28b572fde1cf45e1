#include "cli/report_json.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/json.h"

namespace streamcheck {

const char* expect_name(const kmodel::Expectation& expect) {
  return expect.violation ? "violation" : "pass";
}

kmodel::Expectation expectation_of(const ScenarioReport& e) {
  if (e.expect != "violation") return kmodel::expect_pass();
  absl::StatusOr<kmodel::FailureKind> kind = kmodel::parse_failure_kind(e.expect_kind);
  kmodel::Expectation x = kmodel::expect_violation(
      kind.ok() ? *kind : kmodel::FailureKind::kBadInput, e.expect_pattern);
  x.regex = e.expect_regex;
  return x;
}

bool judge_entry(const ScenarioReport& e, bool whole) {
  const kmodel::Expectation x = expectation_of(e);
  if (e.failure) {
    absl::StatusOr<kmodel::FailureKind> kind = kmodel::parse_failure_kind(e.failure->kind);
    return kind.ok() && x.matches(*kind, e.failure->message);
  }
  if (e.runs == 0 && whole) return false;
  return !x.violation;
}

Summary Report::summary() const {
  Summary s;
  for (const ScenarioReport& e : scenarios) {
    ++s.checks;
    (e.met ? s.met : s.unmet)++;
    s.runs += e.runs;
    s.steps += e.steps;
    s.seconds += e.seconds;
  }
  return s;
}

ScenarioReport scenario_report(const kmodel::ScenarioVerdict& verdict,
                               const kmodel::Config& config) {
  const kmodel::CheckResult& r = verdict.result;
  ScenarioReport e{.name = verdict.entry->name,
                   .profile = kmodel::profile_name(verdict.profile),
                   .strategy = kmodel::strategy_name(r.strategy),
                   .expect = expect_name(verdict.expect),
                   .expect_kind = kmodel::failure_kind_name(verdict.expect.kind),
                   .expect_pattern = verdict.expect.pattern,
                   .expect_regex = verdict.expect.regex,
                   .met = verdict.met(),
                   .cpus = config.cpus,
                   .seed = config.seed,
                   .runs = r.runs,
                   .steps = r.total_steps,
                   .pruned = r.pruned,
                   .exhausted = r.exhausted,
                   .out_of_time = r.out_of_time,
                   .seconds = r.seconds};
  for (const kmodel::GoalCount& g : r.goals) e.goals.push_back({g.name, g.runs_reached});
  if (r.failure) {
    const kmodel::RunResult& f = *r.failure;
    e.failure = FailureReport{.outcome = kmodel::outcome_name(f.outcome),
                              .kind = kmodel::failure_kind_name(f.kind),
                              .message = f.message,
                              .schedule = f.schedule(),
                              .run = r.failing_run,
                              .steps = f.steps,
                              .sim_time_ns = f.sim_time_ns,
                              .original_length = r.original_length,
                              .shrunk_length = f.decisions.size()};
  }
  return e;
}

// ---- Writing -------------------------------------------------------------

namespace {

const char* json_bool(bool b) { return b ? "true" : "false"; }

// Round-trips exactly enough for a report (microseconds).
std::string json_seconds(double s) { return absl::StrFormat("%.6f", s); }

std::string failure_json(const std::optional<FailureReport>& f) {
  if (!f) return "null";
  return absl::StrCat("{\"outcome\": ", json_quote(f->outcome), ", \"kind\": ", json_quote(f->kind),
                      ", \"message\": ", json_quote(f->message),
                      ", \"schedule\": ", json_quote(f->schedule), ", \"run\": ", f->run,
                      ", \"steps\": ", f->steps, ", \"sim_time_ns\": ", f->sim_time_ns,
                      ", \"original_length\": ", f->original_length,
                      ", \"shrunk_length\": ", f->shrunk_length, "}");
}

std::string goals_json(const std::vector<GoalReport>& goals) {
  std::vector<std::string> parts;
  for (const GoalReport& g : goals)
    parts.push_back(absl::StrCat("{\"name\": ", json_quote(g.name),
                                 ", \"runs_reached\": ", g.runs_reached, "}"));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

std::string scenario_json(const ScenarioReport& e) {
  return absl::StrCat(
      "    {\"name\": ", json_quote(e.name), ", \"profile\": ", json_quote(e.profile),
      ", \"strategy\": ", json_quote(e.strategy), ", \"expect\": ", json_quote(e.expect),
      ", \"expect_kind\": ", json_quote(e.expect_kind),
      ", \"expect_pattern\": ", json_quote(e.expect_pattern),
      ", \"expect_regex\": ", json_bool(e.expect_regex),
      ", \"verdict\": ", e.met ? "\"met\"" : "\"unmet\"", ",\n     \"cpus\": ", e.cpus,
      ", \"seed\": ", e.seed, ", \"runs\": ", e.runs, ", \"steps\": ", e.steps,
      ", \"pruned\": ", e.pruned, ", \"exhausted\": ", json_bool(e.exhausted),
      ", \"out_of_time\": ", json_bool(e.out_of_time), ", \"seconds\": ", json_seconds(e.seconds),
      ",\n     \"goals\": ", goals_json(e.goals), ",\n     \"failure\": ", failure_json(e.failure),
      "}");
}

std::string shards_text(const std::vector<Shard>& shards) {
  return absl::StrJoin(shards, ",", [](std::string* out, const Shard& s) { *out += s.str(); });
}

}  // namespace

std::string report_to_json(const Report& report) {
  const Summary s = report.summary();
  std::vector<std::string> entries;
  for (const ScenarioReport& e : report.scenarios) entries.push_back(scenario_json(e));
  return absl::StrCat(
      "{\"format\": \"streamcheck-report\", \"version\": 2, \"shard\": ",
      json_quote(shards_text(report.shards)), ",\n \"summary\": {\"checks\": ", s.checks,
      ", \"met\": ", s.met, ", \"unmet\": ", s.unmet, ", \"runs\": ", s.runs,
      ", \"steps\": ", s.steps, ", \"seconds\": ", json_seconds(s.seconds),
      "},\n \"scenarios\": [\n", absl::StrJoin(entries, ",\n"), "\n ]}\n");
}

// ---- Reading -------------------------------------------------------------

namespace {

// Assigns `*out` from a StatusOr or returns its error from the caller.
#define REPORT_ASSIGN(out, expr)            \
  do {                                      \
    auto value_ = (expr);                   \
    if (!value_.ok()) return value_.status(); \
    out = *std::move(value_);               \
  } while (0)

absl::StatusOr<FailureReport> failure_from(const JsonValue& v) {
  FailureReport f;
  REPORT_ASSIGN(f.outcome, get_string(v, "outcome"));
  REPORT_ASSIGN(f.kind, get_string(v, "kind"));
  REPORT_ASSIGN(f.message, get_string(v, "message"));
  REPORT_ASSIGN(f.schedule, get_string(v, "schedule"));
  REPORT_ASSIGN(f.run, get_u64(v, "run"));
  REPORT_ASSIGN(f.steps, get_u64(v, "steps"));
  REPORT_ASSIGN(f.sim_time_ns, get_u64(v, "sim_time_ns"));
  REPORT_ASSIGN(f.original_length, get_u64(v, "original_length"));
  REPORT_ASSIGN(f.shrunk_length, get_u64(v, "shrunk_length"));
  return f;
}

absl::StatusOr<std::vector<GoalReport>> goals_from(const JsonValue& entry) {
  const JsonValue* list = nullptr;
  REPORT_ASSIGN(list, get_member(entry, "goals", JsonValue::Type::kArray));
  std::vector<GoalReport> goals;
  for (const JsonValue& g : list->array()) {
    GoalReport goal;
    REPORT_ASSIGN(goal.name, get_string(g, "name"));
    REPORT_ASSIGN(goal.runs_reached, get_u64(g, "runs_reached"));
    goals.push_back(std::move(goal));
  }
  return goals;
}

absl::Status check_one_of(const std::string& key, const std::string& value, const char* a,
                          const char* b) {
  if (value == a || value == b) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("key \"", key, "\": \"", value, "\" is neither \"", a, "\" nor \"", b, "\""));
}

absl::StatusOr<ScenarioReport> scenario_from(const JsonValue& v) {
  ScenarioReport e;
  std::string verdict;
  std::uint64_t cpus = 0;
  REPORT_ASSIGN(e.name, get_string(v, "name"));
  REPORT_ASSIGN(e.profile, get_string(v, "profile"));
  REPORT_ASSIGN(e.strategy, get_string(v, "strategy"));
  REPORT_ASSIGN(e.expect, get_string(v, "expect"));
  REPORT_ASSIGN(e.expect_kind, get_string(v, "expect_kind"));
  REPORT_ASSIGN(e.expect_pattern, get_string(v, "expect_pattern"));
  REPORT_ASSIGN(e.expect_regex, get_bool(v, "expect_regex"));
  REPORT_ASSIGN(verdict, get_string(v, "verdict"));
  if (absl::Status st = check_one_of("expect", e.expect, "pass", "violation"); !st.ok()) return st;
  if (absl::Status st = check_one_of("verdict", verdict, "met", "unmet"); !st.ok()) return st;
  if (e.expect == "violation")
    if (absl::StatusOr<kmodel::FailureKind> k = kmodel::parse_failure_kind(e.expect_kind); !k.ok())
      return absl::InvalidArgumentError(absl::StrCat("key \"expect_kind\": ", k.status().message()));
  e.met = verdict == "met";
  REPORT_ASSIGN(cpus, get_u64(v, "cpus"));
  e.cpus = static_cast<int>(cpus);
  REPORT_ASSIGN(e.seed, get_u64(v, "seed"));
  REPORT_ASSIGN(e.runs, get_u64(v, "runs"));
  REPORT_ASSIGN(e.steps, get_u64(v, "steps"));
  REPORT_ASSIGN(e.pruned, get_u64(v, "pruned"));
  REPORT_ASSIGN(e.exhausted, get_bool(v, "exhausted"));
  REPORT_ASSIGN(e.out_of_time, get_bool(v, "out_of_time"));
  REPORT_ASSIGN(e.seconds, get_double(v, "seconds"));
  REPORT_ASSIGN(e.goals, goals_from(v));
  const JsonValue* failure = v.find("failure");
  if (failure == nullptr) return absl::InvalidArgumentError("missing key \"failure\"");
  if (!failure->is(JsonValue::Type::kNull)) REPORT_ASSIGN(e.failure, failure_from(*failure));
  return e;
}

absl::StatusOr<std::vector<Shard>> shards_from(const std::string& text) {
  std::vector<Shard> shards;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    absl::StatusOr<Shard> s = parse_shard(std::string_view(part.data(), part.size()), "shard");
    if (!s.ok()) return s.status();
    shards.push_back(*s);
  }
  return shards;
}

}  // namespace

absl::StatusOr<Report> report_from_json(std::string_view text) {
  JsonValue doc;
  REPORT_ASSIGN(doc, parse_json(text));
  std::string format, shard;
  std::uint64_t version = 0;
  REPORT_ASSIGN(format, get_string(doc, "format"));
  REPORT_ASSIGN(version, get_u64(doc, "version"));
  if (format != "streamcheck-report" || version != 2)
    return absl::InvalidArgumentError(
        absl::StrCat("not a streamcheck report of version 2 (format \"", format, "\", version ",
                     version, ")"));
  Report report;
  REPORT_ASSIGN(shard, get_string(doc, "shard"));
  REPORT_ASSIGN(report.shards, shards_from(shard));
  const JsonValue* list = nullptr;
  REPORT_ASSIGN(list, get_member(doc, "scenarios", JsonValue::Type::kArray));
  for (std::size_t i = 0; i < list->array().size(); ++i) {
    absl::StatusOr<ScenarioReport> e = scenario_from(list->array()[i]);
    if (!e.ok())
      return absl::InvalidArgumentError(
          absl::StrCat("scenarios[", i, "]: ", e.status().message()));
    report.scenarios.push_back(*std::move(e));
  }
  // The summary is derived data: a report whose summary disagrees with its
  // entries was edited or truncated, so it is refused.
  const JsonValue* summary = nullptr;
  REPORT_ASSIGN(summary, get_member(doc, "summary", JsonValue::Type::kObject));
  std::uint64_t checks = 0, runs = 0;
  REPORT_ASSIGN(checks, get_u64(*summary, "checks"));
  REPORT_ASSIGN(runs, get_u64(*summary, "runs"));
  if (checks != report.summary().checks || runs != report.summary().runs)
    return absl::InvalidArgumentError("the summary does not match the scenario entries");
  return report;
}

#undef REPORT_ASSIGN

// ---- Merging -------------------------------------------------------------

namespace {

void add_goals(std::vector<GoalReport>& into, const std::vector<GoalReport>& from) {
  for (const GoalReport& g : from) {
    auto it = std::find_if(into.begin(), into.end(),
                           [&](const GoalReport& x) { return x.name == g.name; });
    if (it == into.end()) into.push_back(g);
    else it->runs_reached += g.runs_reached;
  }
}

// `into` and `from` checked the same scenario under the same profile on
// different shards: together they checked the union of their runs.
absl::Status combine(ScenarioReport& into, const ScenarioReport& from) {
  if (into.expect != from.expect || into.expect_kind != from.expect_kind ||
      into.expect_pattern != from.expect_pattern || into.expect_regex != from.expect_regex ||
      into.strategy != from.strategy)
    return absl::InvalidArgumentError(
        absl::StrCat(from.name, " under ", from.profile,
                     ": the shards disagree on the expectation or the strategy"));
  into.runs += from.runs;
  into.steps += from.steps;
  into.pruned += from.pruned;
  into.exhausted = into.exhausted && from.exhausted;  // the tree is done when every part is
  into.out_of_time = into.out_of_time || from.out_of_time;
  into.seconds += from.seconds;
  add_goals(into.goals, from.goals);
  if (!into.failure) into.failure = from.failure;
  return absl::OkStatus();
}

// The shards that together produced an entry must be one whole check: a
// single 0/1, or every i/n of one n exactly once.
absl::Status check_coverage(const ScenarioReport& e, std::vector<Shard> shards) {
  const std::string what = absl::StrCat(e.name, " under ", e.profile);
  std::sort(shards.begin(), shards.end(), [](const Shard& a, const Shard& b) {
    return a.count != b.count ? a.count < b.count : a.index < b.index;
  });
  const std::uint64_t n = shards.front().count;
  for (std::size_t i = 0; i < shards.size(); ++i) {
    if (shards[i].count != n)
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": inputs split it into different shard counts (", shards.front().str(), ", ",
          shards[i].str(), ")"));
    if (i > 0 && shards[i].index == shards[i - 1].index)
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": covered twice (", shards[i].str(),
                       n == 1 ? " in two inputs): its runs would count twice" : " twice)"));
  }
  if (shards.size() != n) {
    std::vector<std::string> missing;
    for (std::uint64_t i = 0, k = 0; i < n; ++i) {
      if (k < shards.size() && shards[k].index == i) ++k;
      else missing.push_back(Shard{i, n}.str());
    }
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": incomplete set of shards, missing ", absl::StrJoin(missing, ", ")));
  }
  return absl::OkStatus();
}

// A whole check that never reached a goal proves nothing about it: the
// same rule as kmodel::check() applies to an unsharded check, judged here
// on the union of the shards.
void judge_vacuity(ScenarioReport& e) {
  if (e.failure || e.out_of_time || e.runs == 0) return;
  for (const GoalReport& g : e.goals) {
    if (g.runs_reached != 0) continue;
    e.failure = FailureReport{
        .outcome = kmodel::outcome_name(kmodel::RunResult::Outcome::kVacuous),
        .kind = kmodel::failure_kind_name(kmodel::FailureKind::kVacuous),
        .message = absl::StrCat("goal \"", g.name, "\" was never reached in ", e.runs,
                                " runs (the union of the shards): the check proves nothing "
                                "about it")};
    return;
  }
}

}  // namespace

absl::StatusOr<Report> merge_reports(const std::vector<Report>& reports) {
  Report out;
  std::map<std::pair<std::string, std::string>, std::size_t> index;  // (name, profile)
  std::vector<std::vector<Shard>> covered;                          // per merged entry
  for (const Report& r : reports) {
    if (r.shards.empty()) return absl::InvalidArgumentError("a report names no shard");
    out.shards.insert(out.shards.end(), r.shards.begin(), r.shards.end());
    for (const ScenarioReport& e : r.scenarios) {
      auto [it, fresh] = index.emplace(std::make_pair(e.name, e.profile), out.scenarios.size());
      if (fresh) {
        out.scenarios.push_back(e);
        covered.emplace_back();
      } else if (absl::Status st = combine(out.scenarios[it->second], e); !st.ok()) {
        return st;
      }
      std::vector<Shard>& c = covered[it->second];
      c.insert(c.end(), r.shards.begin(), r.shards.end());
    }
  }
  for (std::size_t i = 0; i < out.scenarios.size(); ++i) {
    ScenarioReport& e = out.scenarios[i];
    if (absl::Status st = check_coverage(e, covered[i]); !st.ok()) return st;
    judge_vacuity(e);
    e.met = judge_entry(e, /*whole=*/true);
  }
  return out;
}

}  // namespace streamcheck
