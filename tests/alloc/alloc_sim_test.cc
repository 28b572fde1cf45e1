// The stream element allocator under the simulator: the catalogue's "alloc/"
// entries meet their expectations under every listed profile; NMI re-entry
// really happens; each seeded bug is caught by the intended check and its
// schedule replays the failure.
#include <catch2/catch.hpp>

#include <string>

#include "alloc/kmalloc_nolock.h"
#include "model/sim/check.h"
#include "scenarios/alloc_scenarios.h"
#include "scenarios/catalogue.h"

using namespace kmodel;

namespace {

const ScenarioEntry* entry(const std::string& name) {
  for (const ScenarioEntry* e : all_scenarios())
    if (e->name == name) return e;
  FAIL("no scenario " << name);
  return nullptr;
}

}  // namespace

TEST_CASE("the alloc catalogue entries meet their stated expectations") {
  int checked = 0;
  for (const ScenarioEntry* e : all_scenarios()) {
    if (e->name.rfind("alloc/", 0) != 0) continue;
    for (auto [profile, expect] : e->expect) {
      ScenarioVerdict v = run_scenario(*e, profile, expect);
      INFO(e->name << " under " << profile_name(profile) << ": " << v.result.report());
      REQUIRE(v.met());
      ++checked;
    }
  }
  CHECK(checked >= 14);
}

TEST_CASE("6.18: an NMI that interrupts an allocation on its CPU gets -ENOMEM") {
  ScopedProfile profile(Profile::kLinux618);
  alloc_scenarios::reset_nmi_enomem_count();
  Config config{.cpus = 2, .seed = 5, .iterations = 3000, .interrupt_probability = 0.2};
  CheckResult r = check(config, alloc_scenarios::nmi_reentry);
  INFO(r.report());
  REQUIRE(r.ok());
  CHECK(alloc_scenarios::nmi_enomem_count() > 0);
}

TEST_CASE("mainline: an NMI that re-enters kmalloc_nolock() retries in the next bucket") {
  // SLUB's kmalloc_nolock() never fails an NMI for re-entry into a stream
  // element's cache: the next kmalloc bucket is free (mm/slub.c).
  ScopedProfile profile(Profile::kMainline);
  alloc_scenarios::reset_nmi_enomem_count();
  const u64 retries_before = kmalloc_nolock_stats().bucket_retries;
  const u64 failures_before = kmalloc_nolock_stats().reentry_failures;
  Config config{.cpus = 2, .seed = 5, .iterations = 3000, .interrupt_probability = 0.2};
  CheckResult r = check(config, alloc_scenarios::nmi_reentry);
  INFO(r.report());
  REQUIRE(r.ok());
  CHECK(alloc_scenarios::nmi_enomem_count() == 0);
  CHECK(kmalloc_nolock_stats().bucket_retries > retries_before);
  CHECK(kmalloc_nolock_stats().reentry_failures == failures_before);
}

TEST_CASE("seeded bugs are caught by the intended check, and replay") {
  struct Case {
    const char* name;
    const char* message;
  };
  const Case cases[] = {
      // Both missing references free a page still in use; which check sees
      // it first (an element still in it, or still a CPU's current page)
      // depends on the schedule.
      {"alloc/bug_missing_page_ref_on_reserve", "bpf_stream_page freed while"},
      {"alloc/bug_free_current_page", "bpf_stream_page freed while"},
      {"alloc/bug_no_trylock_in_nmi", ""},
  };
  for (const Case& c : cases) {
    const ScenarioEntry* e = entry(c.name);
    ScenarioVerdict v = run_scenario(*e, Profile::kLinux618,
                                     expect_violation(FailureKind::kAssertion, c.message));
    INFO(c.name << ": " << v.result.report());
    CHECK(v.met());
    REQUIRE_FALSE(v.result.ok());
    const RunResult& failure = *v.result.failure;
    CHECK(failure.outcome == RunResult::Outcome::kFailed);
    CHECK_THAT(failure.message, Catch::Contains(c.message));

    ScopedProfile profile(Profile::kLinux618);
    auto again = replay(e->config, e->scenario, failure.schedule());
    REQUIRE(again.ok());
    CHECK(again->outcome == failure.outcome);
    CHECK(again->message == failure.message);
  }
}

TEST_CASE("the zero-length overrun of 6.18 is reported before the write") {
  const ScenarioEntry* e = entry("alloc/kernel_bug_zero_len_overrun");
  ScenarioVerdict v = run_scenario(*e, Profile::kLinux618,
                                   expect_violation(FailureKind::kWarn, "consumed + size"));
  CHECK(v.met());
  REQUIRE_FALSE(v.result.ok());
  INFO(v.result.report());
  CHECK_THAT(v.result.failure->message, Catch::Contains("consumed + size"));
}
