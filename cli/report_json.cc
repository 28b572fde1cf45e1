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

const char* expect_name(kmodel::Expect expect) {
  return expect == kmodel::Expect::kPass ? "pass" : "violation";
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
                              .message = f.message,
                              .schedule = f.schedule,
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
  return absl::StrCat("{\"outcome\": ", json_quote(f->outcome),
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
      "{\"format\": \"streamcheck-report\", \"version\": 1, \"shard\": ",
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
  REPORT_ASSIGN(verdict, get_string(v, "verdict"));
  if (absl::Status st = check_one_of("expect", e.expect, "pass", "violation"); !st.ok()) return st;
  if (absl::Status st = check_one_of("verdict", verdict, "met", "unmet"); !st.ok()) return st;
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
  if (format != "streamcheck-report" || version != 1)
    return absl::InvalidArgumentError(
        absl::StrCat("not a streamcheck report of version 1 (format \"", format, "\", version ",
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
  if (into.expect != from.expect || into.strategy != from.strategy)
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
  into.met = (into.expect == "pass") == !into.failure.has_value();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Report> merge_reports(const std::vector<Report>& reports) {
  Report out;
  std::set<std::pair<std::uint64_t, std::uint64_t>> seen;
  std::map<std::pair<std::string, std::string>, std::size_t> index;  // (name, profile)
  for (const Report& r : reports) {
    for (const Shard& s : r.shards) {
      // Unsharded reports (0/1) of different scenario sets may be merged;
      // the same part of a partitioned check twice would double count.
      if (!seen.insert({s.index, s.count}).second && s.count > 1)
        return absl::InvalidArgumentError(absl::StrCat("shard ", s.str(), " appears twice"));
      out.shards.push_back(s);
    }
    for (const ScenarioReport& e : r.scenarios) {
      auto [it, fresh] = index.emplace(std::make_pair(e.name, e.profile), out.scenarios.size());
      if (fresh) {
        out.scenarios.push_back(e);
      } else if (absl::Status st = combine(out.scenarios[it->second], e); !st.ok()) {
        return st;
      }
    }
  }
  return out;
}

}  // namespace streamcheck
