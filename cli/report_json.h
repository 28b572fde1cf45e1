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

const char* expect_name(kmodel::Expect expect);  // "pass", "violation"

// The report entry of one checked scenario under one profile, with the
// config it actually ran with (after command-line overrides).
ScenarioReport scenario_report(const kmodel::ScenarioVerdict& verdict,
                               const kmodel::Config& config);

std::string report_to_json(const Report& report);

// Reads a report written by report_to_json(); anything else (a missing or
// mistyped key, another format or version) is an InvalidArgument error.
absl::StatusOr<Report> report_from_json(std::string_view text);

// Combines shard reports (see the top of this file). Two inputs claiming
// the same shard, or disagreeing on a scenario's expectation or strategy,
// are an error.
absl::StatusOr<Report> merge_reports(const std::vector<Report>& reports);

}  // namespace streamcheck

#endif  // KMODEL_CLI_REPORT_JSON_H_
