// tests/stream/stream_scenarios_test.cc: the catalogue's stream scenarios
// ("stream/": staging, reports, the reader; "stream_next/": the next
// profile's stream fds), each under each profile it lists. An expected
// violation is met only by the failure its entry names (kind and message
// pattern, scenarios/catalogue.h); any other failure, or none, is unmet.
#include <catch2/catch.hpp>

#include <string>

#include "model/profile.h"
#include "scenarios/catalogue.h"

using namespace kmodel;

namespace {

struct Counts {
  int checked = 0;
  int violations = 0;
};

// Checks every entry whose name starts with `area` under its own config.
Counts check_area(const std::string& area) {
  Counts n;
  for (const ScenarioEntry* e : all_scenarios()) {
    if (e->name.rfind(area, 0) != 0) continue;
    for (const auto& [profile, expect] : e->expect) {
      const ScenarioVerdict v = run_scenario(*e, profile, expect);
      INFO(e->name << " under " << profile_name(profile) << ": got " << v.got());
      INFO(v.result.report());
      CHECK(v.met());
      if (expect.violation) {
        n.violations++;
        CHECK_FALSE(expect.pattern.empty());  // names its failure
      }
      n.checked++;
    }
  }
  return n;
}

}  // namespace

TEST_CASE("stream scenarios meet their expectations for the right reason") {
  const Counts n = check_area("stream/");
  CHECK(n.checked == 52);
  CHECK(n.violations == 13);
}

TEST_CASE("stream_next scenarios meet their expectations for the right reason") {
  const Counts n = check_area("stream_next/");
  CHECK(n.checked == 16);
  CHECK(n.violations == 5);  // the seeded lost wake-ups and the ignored signal (hangs)
}
