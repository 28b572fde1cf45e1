// tests/stream/stream_next_scenarios_test.cc: the catalogue's "stream_next/"
// scenarios under each profile they list; an expected violation must be the
// named failure (the `// expects:` comments in
// scenarios/stream_next_scenarios.cc), not any failure.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "model/profile.h"
#include "scenarios/catalogue.h"

using namespace kmodel;

namespace {
const std::map<std::string, std::string> kExpected = {
    {"stream_next/seeded_notify_before_publish", "no completion within"},
    {"stream_next/seeded_check_before_register", "no completion within"},
};
}  // namespace

TEST_CASE("stream_next scenarios meet their expectations for the right reason") {
  int checked = 0;
  for (const ScenarioEntry* e : all_scenarios()) {
    if (e->name.rfind("stream_next/", 0) != 0) continue;
    for (const auto& [profile, expect] : e->expect) {
      const ScenarioVerdict v = run_scenario(*e, profile, expect);
      INFO(e->name << " under " << profile_name(profile));
      INFO(v.result.report());
      CHECK(v.met());
      if (expect == Expect::kViolation) {
        auto it = kExpected.find(e->name);
        REQUIRE(it != kExpected.end());
        CHECK(v.result.report().find(it->second) != std::string::npos);
      }
      checked++;
    }
  }
  CHECK(checked == 8);
}
