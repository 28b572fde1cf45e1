// rqspinlock under the simulator: every "rqspinlock/" catalogue entry meets
// the expectation it states per profile (seeded random schedules; a failure
// prints the run's report with the schedule that replays it), and the 6.18
// AA stall replays exactly from its schedule.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "model/bug.h"
#include "model/clock.h"
#include "model/sim/check.h"
#include "scenarios/catalogue.h"
#include "scenarios/rqspinlock_scenarios.h"
#include "sync/rqspinlock.h"

using namespace kmodel;

namespace {
const ScenarioEntry* find_entry(const std::string& name) {
  for (const ScenarioEntry* e : all_scenarios())
    if (e->name == name) return e;
  return nullptr;
}

// Bazel sharding: this shard's share of the (entry, profile) checks.
struct Shard {
  std::uint64_t index = 0, count = 1;
  Shard() {
    const char* total = std::getenv("TEST_TOTAL_SHARDS");
    const char* idx = std::getenv("TEST_SHARD_INDEX");
    if (total && idx) {
      count = std::strtoull(total, nullptr, 10);
      index = std::strtoull(idx, nullptr, 10);
    }
    if (const char* status = std::getenv("TEST_SHARD_STATUS_FILE")) std::ofstream touch(status);
  }
};

void run_entries(const std::string& prefix) {
  const Shard shard;
  std::uint64_t n = 0;
  int checked = 0;
  for (const ScenarioEntry* e : all_scenarios()) {
    if (e->name.rfind(prefix, 0) != 0) continue;
    for (auto [profile, expect] : e->expect) {
      if (n++ % shard.count != shard.index) continue;
      ScenarioVerdict v = run_scenario(*e, profile, expect);
      std::fprintf(stderr, "%s under %s: %s, %llu runs, %llu steps, %.1f s\n",
                   e->name.c_str(), profile_name(profile),
                   v.met() ? "as expected" : "NOT as expected",
                   static_cast<unsigned long long>(v.result.runs),
                   static_cast<unsigned long long>(v.result.total_steps), v.result.seconds);
      INFO(e->name << " under " << profile_name(profile) << " expecting "
                   << expect.describe() << " got " << v.got() << " after "
                   << v.result.runs << " runs:\n"
                   << (v.result.ok() ? std::string("no violation found") : v.result.report()));
      REQUIRE(v.met());
      ++checked;
    }
  }
  CHECK((checked > 0 || shard.count > 1));
}
}  // namespace

TEST_CASE("rqspinlock scenarios meet their catalogue expectations") {
  run_entries("rqspinlock/");
}

TEST_CASE("the catalogue states both AA-in-NMI expectations") {
  const ScenarioEntry* e = find_entry("rqspinlock/aa_nmi");
  REQUIRE(e != nullptr);
  bool linux618_violation = false, mainline_pass = false;
  for (auto [p, x] : e->expect) {
    linux618_violation |= p == Profile::kLinux618 && x.violation &&
                          x.kind == FailureKind::kAssertion;
    mainline_pass |= p == Profile::kMainline && !x.violation;
  }
  CHECK(linux618_violation);
  CHECK(mainline_pass);
  int seeded = 0;
  for (const ScenarioEntry* s : all_scenarios())
    seeded += s->name.rfind("rqspinlock/seeded_bug/", 0) == 0;
  CHECK(seeded >= 3);
}

TEST_CASE("the 6.18 AA stall is an NMI timeout, and its schedule replays it exactly") {
  const ScenarioEntry* e = find_entry("rqspinlock/aa_nmi");
  REQUIRE(e != nullptr);
  ScopedProfile profile(Profile::kLinux618);
  CheckResult r = check(e->config, e->scenario);
  REQUIRE_FALSE(r.ok());
  INFO(r.report());
  CHECK(r.failure->outcome == RunResult::Outcome::kFailed);
  CHECK_THAT(r.failure->message, Catch::Contains("-ETIMEDOUT"));
  CHECK(r.failure->sim_time_ns > RES_DEF_TIMEOUT);
  auto again = replay(e->config, e->scenario, r.failure->schedule);
  REQUIRE(again.ok());
  CHECK(again->message == r.failure->message);
  CHECK(again->trace == r.failure->trace);
}

TEST_CASE("at the kernel's cadence a plain AA returns -EDEADLK after milliseconds, not a minute") {
  // 65536 spins per clock sample (the simulator's default cadence): each
  // spin costs relax_ns plus its steps, and the clock does not leap per spin
  // (it once did: -ETIMEDOUT after ~65 s of simulated time).
  ScopedProfile profile(Profile::kLinux618);
  struct Out {
    int ret = 1;
    u64 waited = 0;
  };
  auto out = std::make_shared<Out>();
  auto aa = [out](Scenario& s) {
    auto lock = std::make_shared<rqspinlock_t>();
    s.on_cpu(0, [lock, out] {
      MODEL_ASSERT(raw_res_spin_lock(lock.get()) == 0, "first acquisition");
      const u64 t0 = ktime_get_mono_fast_ns();
      out->ret = raw_res_spin_lock(lock.get());
      out->waited = ktime_get_mono_fast_ns() - t0;
      raw_res_spin_unlock(lock.get());
    });
  };
  const Config config{.cpus = 1, .iterations = 1, .max_steps = 2000000};
  CheckResult r = check(config, aa);
  INFO(r.report() << "waited " << out->waited << " ns");
  REQUIRE(r.ok());
  CHECK(out->ret == -EDEADLK);
  CHECK(out->waited >= NSEC_PER_MSEC);
  CHECK(out->waited <= 5 * NSEC_PER_MSEC);
  std::fprintf(stderr, "kernel-cadence AA: -EDEADLK after %llu ns, %llu steps\n",
               static_cast<unsigned long long>(out->waited),
               static_cast<unsigned long long>(r.total_steps));
}
