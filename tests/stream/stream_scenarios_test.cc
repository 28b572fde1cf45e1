// tests/stream/stream_scenarios_test.cc: the catalogue's "stream/" scenarios,
// each under each profile it lists. An expected violation is met only by the
// failure its entry names (kind and message pattern, scenarios/catalogue.h);
// any other failure, or none, is unmet.
#include <catch2/catch.hpp>

#include <string>

#include "model/profile.h"
#include "scenarios/catalogue.h"

using namespace kmodel;

TEST_CASE("stream scenarios meet their expectations for the right reason") {
  int checked = 0, violations = 0;
  for (const ScenarioEntry* e : all_scenarios()) {
    if (e->name.rfind("stream/", 0) != 0) continue;
    for (const auto& [profile, expect] : e->expect) {
      const ScenarioVerdict v = run_scenario(*e, profile, expect);
      INFO(e->name << " under " << profile_name(profile) << ": got " << v.got());
      INFO(v.result.report());
      CHECK(v.met());
      if (expect.violation) {
        violations++;
        CHECK_FALSE(expect.pattern.empty());  // names its failure
      }
      checked++;
    }
  }
  CHECK(checked == 39);
  CHECK(violations == 12);
}
