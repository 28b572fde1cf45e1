// cli/report_json.h: the machine-readable report of a streamcheck run.
//
// One entry per (scenario, profile) checked, plus a summary and the shard
// the run covered. Shards of one check (`streamcheck run --shard=i/n`) each
// write a report; merge_reports() combines them: entries for the same
// scenario and profile are combined (counters summed, the first failure
// kept, the verdict re-judged on the union: a violation found by any shard
// counts), other entries are concatenated. Document: docs/streamcheck.md.
//
//   {"format": "streamcheck-report", "version": 1, "shard": "0/4",
//    "summary": {"checks": 2, "met": 2, "unmet": 0, "runs": 250, ...},
//    "scenarios": [{"name": "llist/...", "profile": "mainline", ...}]}
#ifndef KMODEL_CLI_REPORT_JSON_H_
#define KMODEL_CLI_REPORT_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/options.h"
#include "scenarios/catalogue.h"

namespace streamcheck {

struct FailureReport {
  std::string outcome;  // outcome_name(): "failed", "hang", ...
  std::string kind;     // failure_kind_name(): "assertion", "warn", "hang", ...
  std::string message;
  std::string schedule;  // replays the (shrunk) failing run
  std::uint64_t run = 0;  // index of the failing run in its check
  std::uint64_t steps = 0;
  std::uint64_t sim_time_ns = 0;
  std::uint64_t original_length = 0;  // decisions before shrinking
  std::uint64_t shrunk_length = 0;    // decisions after
  bool operator==(const FailureReport&) const = default;
};

struct GoalReport {
  std::string name;
  std::uint64_t runs_reached = 0;
  bool operator==(const GoalReport&) const = default;
};

struct ScenarioReport {
  std::string name;
  std::string profile;
  std::string strategy;
  std::string expect;  // "pass" or "violation"
  std::string expect_kind;     // a violation's failure_kind_name(), else ""
  std::string expect_pattern;  // a violation's message pattern, else ""
  bool expect_regex = false;   // the pattern is a regex
  bool met = false;
  int cpus = 0;
  std::uint64_t seed = 0;
  std::uint64_t runs = 0;
  std::uint64_t steps = 0;
  std::uint64_t pruned = 0;
  bool exhausted = false;
  bool out_of_time = false;
  double seconds = 0;
  std::vector<GoalReport> goals;
  std::optional<FailureReport> failure;
  bool operator==(const ScenarioReport&) const = default;
};

struct Summary {
  std::uint64_t checks = 0, met = 0, unmet = 0, runs = 0, steps = 0;
  double seconds = 0;
};

struct Report {
  std::vector<Shard> shards;  // one for a run; the inputs' for a merge
  std::vector<ScenarioReport> scenarios;
  Summary summary() const;  // computed from the entries
  bool all_met() const { return summary().unmet == 0; }
};

const char* expect_name(const kmodel::Expectation& expect);  // "pass", "violation"

// The expectation an entry states, and whether its result meets it
// (kmodel::judge() on the entry's fields). `whole` when the entry covers
// every run of its check (not one shard of it).
kmodel::Expectation expectation_of(const ScenarioReport& e);
bool judge_entry(const ScenarioReport& e, bool whole);

// The report entry of one checked scenario under one profile, with the
// config it actually ran with (after command-line overrides).
ScenarioReport scenario_report(const kmodel::ScenarioVerdict& verdict,
                               const kmodel::Config& config);

std::string report_to_json(const Report& report);

// Reads a report written by report_to_json(); anything else (a missing or
// mistyped key, another format or version) is an InvalidArgument error.
absl::StatusOr<Report> report_from_json(std::string_view text);

// Combines shard reports (see the top of this file). Every (scenario,
// profile) entry must be covered exactly once: by one unsharded report, or
// by shards 0/n .. n-1/n of one n, each once. A missing or repeated shard,
// the same entry in two unsharded reports, or inputs disagreeing on an
// entry's expectation or strategy are errors (naming the entry). The merged
// entry sums counters and goal counts, and is judged again on the union:
// a goal reached by no shard makes it vacuous.
absl::StatusOr<Report> merge_reports(const std::vector<Report>& reports);

}  // namespace streamcheck

#endif  // KMODEL_CLI_REPORT_JSON_H_
