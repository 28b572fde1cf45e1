// llist under the simulator: invariants over seeded random schedules of
// 2-3 CPUs plus NMIs; a broken use is caught and its schedule replays it.
#include <catch2/catch.hpp>

#include "model/sim/check.h"
#include "scenarios/catalogue.h"
#include "scenarios/llist_scenarios.h"

using namespace kmodel;

TEST_CASE("llist invariants hold over 10,000 seeded schedules with NMIs") {
  Config config{.cpus = 3, .seed = 2026, .iterations = 10000, .interrupt_probability = 0.1};
  CheckResult r = check(config, llist_scenarios::producers_and_nmis);
  INFO(r.report());
  REQUIRE(r.ok());
  CHECK(r.runs == 10000);
}

TEST_CASE("a single del_first consumer is safe against adders") {
  Config config{.cpus = 3, .seed = 77, .iterations = 10000};
  CheckResult r = check(config, llist_scenarios::del_first_single_consumer);
  INFO(r.report());
  REQUIRE(r.ok());
}

TEST_CASE("two concurrent del_first consumers are caught, and the schedule replays it") {
  // With race checking (the default) the misuse shows first as the data
  // race the ABA rides on; without it, as the ABA's doubled node.
  for (const bool races : {true, false}) {
    Config config{.cpus = 2, .seed = 1, .iterations = 20000, .check_races = races};
    CheckResult r = check(config, llist_scenarios::two_del_first_consumers);
    REQUIRE_FALSE(r.ok());
    INFO(r.report());
    CHECK(r.failure->outcome == RunResult::Outcome::kFailed);
    if (races) {
      CHECK(r.failure->kind == FailureKind::kRace);
      CHECK_THAT(r.failure->message, Catch::Contains("data race on object"));
    } else {
      CHECK(r.failure->kind == FailureKind::kAssertion);
      CHECK_THAT(r.failure->message, Catch::Contains("both consumed and on the list"));
    }
    auto again = replay(config, llist_scenarios::two_del_first_consumers, r.failure->schedule());
    REQUIRE(again.ok());
    CHECK(again->outcome == r.failure->outcome);
    CHECK(again->message == r.failure->message);
    CHECK(again->trace == r.failure->trace);
  }
}

TEST_CASE("an NMI's __llist_add_batch on a shared list is found only as a data race") {
  // Plain accesses are no scheduling points, so no interleaving loses a
  // node: without race checking the misuse passes every run.
  Config config{.cpus = 2, .seed = 1, .iterations = 2000, .interrupt_probability = 0.2};
  const Verdict v = check_expecting(config, llist_scenarios::bug_plain_add_in_nmi,
                                    expect_violation(FailureKind::kRace, "data race on object"));
  INFO(v.got << "\n" << v.result.report());
  CHECK(v.met);
  config.check_races = false;
  CheckResult quiet = check(config, llist_scenarios::bug_plain_add_in_nmi);
  INFO(quiet.report());
  CHECK(quiet.ok());
  CHECK(quiet.runs == 2000);
}

TEST_CASE("replaying a passing run's schedule reproduces its trace exactly") {
  Config config{.cpus = 3, .interrupt_probability = 0.2};
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    RandomStrategy strategy(seed, config.interrupt_probability);
    RunResult first = run_once(config, llist_scenarios::producers_and_nmis, strategy);
    REQUIRE(first.ok());
    auto again = replay(config, llist_scenarios::producers_and_nmis, first.schedule());
    REQUIRE(again.ok());
    INFO("seed " << seed << " schedule " << first.schedule());
    CHECK(again->ok());
    CHECK(again->trace == first.trace);
    CHECK(again->steps == first.steps);
  }
}

TEST_CASE("the llist catalogue entries meet their stated expectations") {
  int checked = 0;
  for (const ScenarioEntry* e : all_scenarios()) {
    if (e->name.rfind("llist/", 0) != 0) continue;
    for (auto [profile, expect] : e->expect) {
      ScenarioVerdict v = run_scenario(*e, profile, expect);
      INFO(e->name << " under " << profile_name(profile) << ": " << v.result.report());
      CHECK(v.met());
      ++checked;
    }
  }
  CHECK(checked >= 3);
}
