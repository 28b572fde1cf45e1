// tests/stream/stream_scenarios_test.cc: the catalogue's "stream/" scenarios,
// each under each profile it lists; an expected violation must be the named
// failure (its message), not any failure.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "model/profile.h"
#include "scenarios/catalogue.h"

using namespace kmodel;

namespace {
// The failure each expected violation names (the `// expects:` comments in
// scenarios/stream_scenarios.cc and stream_read_scenarios.cc).
const std::map<std::string, std::string> kExpectedMessage = {
    {"stream/seed_one_element_commit",
     "seed stage commit: one-element report spliced with an uninitialised tail"},
    {"stream/stage_oversize_line_charge", "bytes charged for a staged line that was never queued"},
    {"stream/report_callback_stack_search", "stack search: the timer callback's report"},
    {"stream/read_fault_second_page", "bytes consumed by a faulting read never reached the reader"},
    {"stream/read_capacity_invariant_failures", "bytes queued and not fully read"},
    {"stream/seed_next_elem_concurrent", "freed when the lock failed"},
    {"stream/seed_next_elem_order", "popped out of order"},
};
}  // namespace

TEST_CASE("stream scenarios meet their expectations for the right reason") {
  int checked = 0;
  for (const ScenarioEntry* e : all_scenarios()) {
    if (e->name.rfind("stream/", 0) != 0) continue;
    for (const auto& [profile, expect] : e->expect) {
      const ScenarioVerdict v = run_scenario(*e, profile, expect);
      INFO(e->name << " under " << profile_name(profile));
      INFO(v.result.report());
      CHECK(v.met());
      if (expect == Expect::kViolation) {
        auto it = kExpectedMessage.find(e->name);
        REQUIRE(it != kExpectedMessage.end());
        CHECK(v.result.report().find(it->second) != std::string::npos);
      }
      checked++;
    }
  }
  CHECK(checked == 39);
}
