// tests/stream/stream_next_scenarios_test.cc: the catalogue's "stream_next/"
// scenarios under each profile they list. An expected violation is met only
// by the failure its entry names (kind and pattern, scenarios/catalogue.h).
#include <catch2/catch.hpp>

#include <string>

#include "model/profile.h"
#include "scenarios/catalogue.h"

using namespace kmodel;

TEST_CASE("stream_next scenarios meet their expectations for the right reason") {
  int checked = 0, violations = 0;
  for (const ScenarioEntry* e : all_scenarios()) {
    if (e->name.rfind("stream_next/", 0) != 0) continue;
    for (const auto& [profile, expect] : e->expect) {
      const ScenarioVerdict v = run_scenario(*e, profile, expect);
      INFO(e->name << " under " << profile_name(profile) << ": got " << v.got());
      INFO(v.result.report());
      CHECK(v.met());
      if (expect.violation) {
        violations++;
        CHECK(expect.kind == FailureKind::kHang);  // both seeded bugs lose a wake-up
      }
      checked++;
    }
  }
  CHECK(checked == 8);
  CHECK(violations == 2);
}
