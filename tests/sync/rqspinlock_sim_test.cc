// rqspinlock under the simulator: every "rqspinlock/" catalogue entry meets
// the expectation it states per profile (seeded random schedules; a failure
// prints the run's report with the schedule that replays it), and the 6.18
// AA stall replays exactly from its schedule.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
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
  auto again = replay(e->config, e->scenario, r.failure->schedule());
  REQUIRE(again.ok());
  CHECK(again->message == r.failure->message);
  CHECK(again->trace == r.failure->trace);
}

namespace {
struct AaOut {
  int ret = 1;
  u64 waited = 0;
};

// A task takes a lock and takes it again: AA, at the kernel's cadence (65536
// spins per clock sample, the simulator's default).
ScenarioFn plain_aa(std::shared_ptr<AaOut> out) {
  return [out](Scenario& s) {
    auto lock = std::make_shared<rqspinlock_t>();
    s.on_cpu(0, [lock, out] {
      MODEL_ASSERT(raw_res_spin_lock(lock.get()) == 0, "first acquisition");
      const u64 t0 = ktime_get_mono_fast_ns();
      out->ret = raw_res_spin_lock(lock.get());
      out->waited = ktime_get_mono_fast_ns() - t0;
      raw_res_spin_unlock(lock.get());
    });
  };
}
}  // namespace

TEST_CASE("at the kernel's cadence a plain AA returns -EDEADLK at the 1 ms check, in a few steps") {
  // The waiter declares its next deadlock check (1 ms after its first clock
  // sample) and its timeout; alone and spinning, the clock jumps straight to
  // the check. It once took 65536 spins (2.3 ms, 131 000 steps), and before
  // that a clock leap per spin (-ETIMEDOUT after ~65 s).
  ScopedProfile profile(Profile::kLinux618);
  auto out = std::make_shared<AaOut>();
  const Config config{.cpus = 1, .iterations = 1, .max_steps = 2000000};
  CheckResult r = check(config, plain_aa(out));
  INFO(r.report() << "waited " << out->waited << " ns");
  REQUIRE(r.ok());
  CHECK(out->ret == -EDEADLK);
  CHECK(out->waited > NSEC_PER_MSEC);
  CHECK(out->waited < NSEC_PER_MSEC + 10 * NSEC_PER_USEC);
  CHECK(r.total_steps < 100);
  std::fprintf(stderr, "kernel-cadence AA (6.18): -EDEADLK after %llu ns, %llu steps\n",
               static_cast<unsigned long long>(out->waited),
               static_cast<unsigned long long>(r.total_steps));
}

TEST_CASE("at the kernel's cadence mainline reports the AA at once") {
  ScopedProfile profile(Profile::kMainline);
  auto out = std::make_shared<AaOut>();
  CheckResult r = check(Config{.cpus = 1, .iterations = 1}, plain_aa(out));
  INFO(r.report());
  REQUIRE(r.ok());
  CHECK(out->ret == -EDEADLK);
  CHECK(out->waited < 10 * NSEC_PER_USEC);
}

TEST_CASE("a v1 schedule replays on the v1 clock: the AA after 65536 spins, exactly as recorded") {
  ScopedProfile profile(Profile::kLinux618);
  auto out = std::make_shared<AaOut>();
  Config v1_clock{.cpus = 1, .iterations = 1, .max_steps = 2000000};
  v1_clock.jump_to_deadlines = false;
  RandomStrategy random(1, 0);
  const RunResult recorded = run_once(v1_clock, plain_aa(out), random);
  REQUIRE(recorded.ok());
  REQUIRE(recorded.schedule().rfind("v1:", 0) == 0);
  const u64 waited_v1 = out->waited;
  CHECK(out->ret == -EDEADLK);
  CHECK(waited_v1 > 2 * NSEC_PER_MSEC);  // 65536 spins of 35 ns
  CHECK(recorded.steps > 100000);
  // replay() under today's default configuration sees "v1:" and runs the
  // old clock: same steps, same trace, same wait.
  *out = AaOut{};
  auto again = replay(Config{.cpus = 1, .max_steps = 2000000}, plain_aa(out), recorded.schedule());
  REQUIRE(again.ok());
  INFO(again->summary());
  CHECK(again->ok());
  CHECK(again->steps == recorded.steps);
  CHECK(again->trace == recorded.trace);
  CHECK(again->schedule() == recorded.schedule());
  CHECK(out->waited == waited_v1);
  // The same decisions read as v2 no longer fit: the run ends early.
  std::string as_v2 = recorded.schedule();
  as_v2[1] = '2';
  auto misread = replay(Config{.cpus = 1, .max_steps = 2000000}, plain_aa(out), as_v2);
  REQUIRE(misread.ok());
  CHECK(misread->outcome == RunResult::Outcome::kDivergence);
}
