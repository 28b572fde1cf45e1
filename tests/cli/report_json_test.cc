// The JSON report of streamcheck (cli/report_json.h): it reads back exactly
// what was written, shard reports merge into sums with the verdict judged
// on the union, and malformed or conflicting inputs are refused.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "cli/report_json.h"
#include "model/profile.h"
#include "scenarios/catalogue.h"

using streamcheck::FailureReport;
using streamcheck::Report;
using streamcheck::ScenarioReport;
using streamcheck::Shard;

namespace {

ScenarioReport entry(std::string name, std::string expect, std::uint64_t runs,
                     std::optional<FailureReport> failure) {
  ScenarioReport e{.name = std::move(name),
                   .profile = "mainline",
                   .strategy = "random",
                   .expect = expect,
                   .expect_kind = expect == "violation" ? "assertion" : "",
                   .expect_pattern = expect == "violation" ? "\"x\" failed" : "",
                   .cpus = 3,
                   .seed = 18446744073709551615ull,
                   .runs = runs,
                   .steps = runs * 10,
                   .pruned = 1,
                   .exhausted = false,
                   .out_of_time = true,
                   .seconds = 0.25,
                   .goals = {{"overlap", runs / 2}, {"nmi \"inside\"", 1}},
                   .failure = failure};
  e.met = (expect == "pass") == !failure.has_value();
  return e;
}

FailureReport a_failure() {
  return {.outcome = "failed",
          .kind = "assertion",
          .message = "assert \"x\" failed\n\tat \\ here \x01 caf\xc3\xa9",
          .schedule = "v1:0*3.!1.1.?1",
          .run = 17,
          .steps = 42,
          .sim_time_ns = 1000000420,
          .original_length = 90,
          .shrunk_length = 12};
}

Report shard_report(std::uint64_t index, std::vector<ScenarioReport> entries) {
  Report r;
  r.shards = {Shard{index, 2}};
  r.scenarios = std::move(entries);
  return r;
}

Report round_trip(const Report& r) {
  absl::StatusOr<Report> back = streamcheck::report_from_json(streamcheck::report_to_json(r));
  INFO(streamcheck::report_to_json(r));
  REQUIRE(back.ok());
  return *back;
}

}  // namespace

TEST_CASE("report: what is written reads back equal") {
  const Report r = shard_report(1, {entry("a/one", "pass", 7, std::nullopt),
                                    entry("a/two", "violation", 9, a_failure())});
  const Report back = round_trip(r);
  CHECK(back.shards == r.shards);
  CHECK(back.scenarios == r.scenarios);
  CHECK(back.summary().checks == 2);
  CHECK(back.summary().met == 2);
  CHECK(back.summary().runs == 16);
}

TEST_CASE("report: shard reports merge into sums, the verdict judged on the union") {
  // Shard 0 found the expected violation of a/two, shard 1 did not: merged,
  // the expectation is met. a/one passed on both.
  const Report s0 = round_trip(shard_report(
      0, {entry("a/one", "pass", 5, std::nullopt), entry("a/two", "violation", 3, a_failure())}));
  const Report s1 = round_trip(shard_report(
      1, {entry("a/one", "pass", 4, std::nullopt), entry("a/two", "violation", 6, std::nullopt)}));
  CHECK(s1.summary().unmet == 1);
  absl::StatusOr<Report> merged = streamcheck::merge_reports({s0, s1});
  REQUIRE(merged.ok());
  const Report m = round_trip(*merged);
  CHECK(m.shards == std::vector<Shard>{{0, 2}, {1, 2}});
  REQUIRE(m.scenarios.size() == 2);
  CHECK(m.summary().runs == s0.summary().runs + s1.summary().runs);
  CHECK(m.summary().steps == s0.summary().steps + s1.summary().steps);
  CHECK(m.summary().unmet == 0);
  const ScenarioReport& two = m.scenarios[1];
  CHECK(two.runs == 9);
  CHECK(two.pruned == 2);
  CHECK(two.seconds == Approx(0.5));
  CHECK(two.met);
  REQUIRE(two.failure.has_value());
  CHECK(*two.failure == a_failure());
  CHECK(two.goals[0].runs_reached == 1 + 3);
}

TEST_CASE("report: disjoint scenario sets concatenate; a failing pass check stays unmet") {
  Report a, b;
  a.shards = b.shards = {Shard{0, 1}};
  a.scenarios = {entry("x/a", "pass", 2, std::nullopt)};
  b.scenarios = {entry("x/b", "pass", 3, a_failure())};
  absl::StatusOr<Report> m = streamcheck::merge_reports({a, b});
  REQUIRE(m.ok());
  CHECK(m->scenarios.size() == 2);
  CHECK(m->summary().unmet == 1);
  CHECK_FALSE(m->all_met());
}

TEST_CASE("report: conflicting or malformed inputs are refused") {
  const Report s0 = shard_report(0, {entry("a/one", "pass", 5, std::nullopt)});
  CHECK_FALSE(streamcheck::merge_reports({s0, s0}).ok());  // the same shard twice
  CHECK_FALSE(streamcheck::merge_reports({s0}).ok());      // shard 1/2 missing
  Report other = shard_report(1, {entry("a/one", "violation", 5, std::nullopt)});
  CHECK_FALSE(streamcheck::merge_reports({s0, other}).ok());  // expectations differ

  const std::string good = streamcheck::report_to_json(s0);
  REQUIRE(streamcheck::report_from_json(good).ok());
  const std::vector<std::string> bad = {
      good.substr(0, good.size() / 2),
      absl::StrReplaceAll(good, {{"\"version\": 2", "\"version\": 1"}}),
      absl::StrReplaceAll(good, {{"\"expect_kind\": \"\"", "\"expect_kind\": 3"}}),
      absl::StrReplaceAll(good, {{"\"runs\": 5", "\"runs\": \"5\""}}),
      absl::StrReplaceAll(good, {{"\"runs\": 5", "\"runs\": -5"}}),
      absl::StrReplaceAll(good, {{"\"verdict\": \"met\"", "\"verdict\": \"ok\""}}),
      absl::StrReplaceAll(good, {{"\"shard\": \"0/2\"", "\"shard\": \"2/2\""}}),
      absl::StrReplaceAll(good, {{"\"failure\": null", "\"failures\": null"}}),
      absl::StrReplaceAll(good, {{"\"checks\": 1", "\"checks\": 2"}}),
      "[]",
  };
  for (const std::string& text : bad) {
    INFO(text);
    CHECK_FALSE(streamcheck::report_from_json(text).ok());
  }
}

TEST_CASE("report: real shard checks of the catalogue merge to the sum of their runs") {
  const std::vector<const kmodel::ScenarioEntry*> all = kmodel::all_scenarios();
  REQUIRE_FALSE(all.empty());
  std::vector<Report> shards;
  for (std::uint64_t i = 0; i < 2; ++i) {
    Report r;
    r.shards = {Shard{i, 2}};
    for (const kmodel::ScenarioEntry* e : all) {
      const auto [profile, expect] = e->expect.front();
      kmodel::ScopedProfile scoped(profile);
      kmodel::Config config = e->config;
      config.iterations = 21;
      config.shrink = false;  // merge arithmetic only: no need to minimise
      config.shard_index = i;
      config.shard_count = 2;
      const kmodel::ScenarioVerdict v{e, profile, expect, kmodel::check(config, e->scenario),
                                      /*whole_check=*/false};
      r.scenarios.push_back(streamcheck::scenario_report(v, config));
    }
    shards.push_back(round_trip(r));
  }
  absl::StatusOr<Report> merged = streamcheck::merge_reports(shards);
  REQUIRE(merged.ok());
  const Report m = round_trip(*merged);
  REQUIRE(m.scenarios.size() == all.size());
  CHECK(m.summary().runs == shards[0].summary().runs + shards[1].summary().runs);
  for (std::size_t k = 0; k < all.size(); ++k) {
    INFO(all[k]->name);
    CHECK(m.scenarios[k].runs == shards[0].scenarios[k].runs + shards[1].scenarios[k].runs);
    CHECK(m.scenarios[k].steps == shards[0].scenarios[k].steps + shards[1].scenarios[k].steps);
  }
}

TEST_CASE("report: merge judges vacuity on the union of the shards") {
  // Each shard alone may miss a goal (shards do not judge vacuity); the
  // union must reach it, or the merged entry is vacuous.
  ScenarioReport a0 = entry("a/one", "pass", 5, std::nullopt);
  ScenarioReport a1 = entry("a/one", "pass", 4, std::nullopt);
  a0.goals[1].runs_reached = 0;
  a1.goals[1].runs_reached = 0;
  a0.out_of_time = a1.out_of_time = false;  // a check cut short judges no vacuity
  absl::StatusOr<Report> m =
      streamcheck::merge_reports({shard_report(0, {a0}), shard_report(1, {a1})});
  REQUIRE(m.ok());
  REQUIRE(m->scenarios[0].failure.has_value());
  CHECK(m->scenarios[0].failure->kind == "vacuous");
  CHECK_FALSE(m->scenarios[0].met);
  // One shard reaching it is enough; the counts add up.
  a1.goals[1].runs_reached = 2;
  m = streamcheck::merge_reports({shard_report(0, {a0}), shard_report(1, {a1})});
  REQUIRE(m.ok());
  CHECK(m->scenarios[0].met);
  CHECK(m->scenarios[0].goals[1].runs_reached == 2);
}

TEST_CASE("report: merge refuses incomplete and overlapping sets") {
  const ScenarioReport e = entry("a/one", "pass", 5, std::nullopt);
  Report whole;
  whole.shards = {Shard{0, 1}};
  whole.scenarios = {e};
  // Two whole reports of the same check would double-count.
  absl::StatusOr<Report> m = streamcheck::merge_reports({whole, whole});
  REQUIRE_FALSE(m.ok());
  CHECK_THAT(std::string(m.status().message()), Catch::Contains("covered twice"));
  // A whole report and a shard of the same check overlap.
  CHECK_FALSE(streamcheck::merge_reports({whole, shard_report(0, {e})}).ok());
  // Shards of different counts do not make a whole.
  Report third;
  third.shards = {Shard{1, 3}};
  third.scenarios = {e};
  CHECK_FALSE(streamcheck::merge_reports({shard_report(0, {e}), third}).ok());
  m = streamcheck::merge_reports({shard_report(1, {e})});
  REQUIRE_FALSE(m.ok());
  CHECK_THAT(std::string(m.status().message()), Catch::Contains("missing 0/2"));
}

TEST_CASE("report: a wrong failure does not meet an expected violation when merged") {
  FailureReport other = a_failure();
  other.kind = "hang";
  const ScenarioReport e0 = entry("a/two", "violation", 3, other);
  const ScenarioReport e1 = entry("a/two", "violation", 3, std::nullopt);
  absl::StatusOr<Report> m =
      streamcheck::merge_reports({shard_report(0, {e0}), shard_report(1, {e1})});
  REQUIRE(m.ok());
  CHECK_FALSE(m->scenarios[0].met);
}
