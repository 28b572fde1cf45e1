// The model checker: strategies, exhaustive search and its reductions,
// sharding, shrinking, memory safety, goals and the determinism check.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "model/atomic.h"
#include "model/bug.h"
#include "model/clock.h"
#include "model/page_alloc.h"
#include "sync/llist.h"
#include "model/sim/check.h"
#include "model/sim/shrink.h"

using namespace kmodel;

namespace {

// CPU 0 must run `depth_window` steps in a row around its read-modify-write
// for CPU 1 to slip in: a lost update that needs one well-placed preemption.
void lost_update(Scenario& s) {
  auto counter = std::make_shared<Atomic<int>>(0);
  auto noise = std::make_shared<Atomic<int>>(0);
  s.on_cpu(0, [counter, noise] {
    for (int i = 0; i < 6; ++i) WRITE_ONCE(*noise, i);
    int v = READ_ONCE(*counter);
    WRITE_ONCE(*counter, v + 1);
    for (int i = 0; i < 6; ++i) WRITE_ONCE(*noise, i);
  });
  s.on_cpu(1, [counter] { atomic_inc(counter.get()); });
  s.at_end([counter] { MODEL_ASSERT(READ_ONCE(*counter) == 2, "lost update"); });
}

// Independent CPUs: each writes only its own variable.
void independent_writers(Scenario& s) {
  auto a = std::make_shared<Atomic<int>>(0);
  auto b = std::make_shared<Atomic<int>>(0);
  s.on_cpu(0, [a] {
    for (int i = 0; i < 3; ++i) WRITE_ONCE(*a, i);
  });
  s.on_cpu(1, [b] {
    for (int i = 0; i < 3; ++i) WRITE_ONCE(*b, i);
  });
}

std::set<std::string> schedules_of(Config config, const ScenarioFn& fn) {
  std::set<std::string> out;
  check(config, fn, [&](std::uint64_t, const RunResult& r) { out.insert(r.schedule()); });
  return out;
}

}  // namespace

TEST_CASE("every strategy finds the lost update, and its failure replays") {
  for (StrategyKind k : {StrategyKind::kRandom, StrategyKind::kPct, StrategyKind::kExhaustive}) {
    Config config{.cpus = 2, .seed = 3, .iterations = 5000, .strategy = k};
    CheckResult r = check(config, lost_update);
    INFO(strategy_name(k) << ": " << r.report());
    REQUIRE_FALSE(r.ok());
    CHECK(r.failure->outcome == RunResult::Outcome::kFailed);
    auto again = replay(config, lost_update, r.failure->schedule());
    REQUIRE(again.ok());
    CHECK(again->message == r.failure->message);
    CHECK(again->trace == r.failure->trace);
  }
}

TEST_CASE("shrinking keeps the failure and removes needless switches") {
  Config config{.cpus = 2, .seed = 11, .iterations = 5000, .shrink = false};
  CheckResult raw = check(config, lost_update);
  REQUIRE_FALSE(raw.ok());
  RunResult shrunk = shrink_failure(config, lost_update, *raw.failure);
  INFO(raw.report() << "\nshrunk: " << shrunk.report());
  CHECK(shrunk.outcome == raw.failure->outcome);
  CHECK(shrunk.message == raw.failure->message);
  CHECK(schedule_complexity(shrunk) <= schedule_complexity(*raw.failure));
  // One preemption of CPU 0 between its read and its write, and one switch
  // back, is all this bug needs.
  CHECK(schedule_complexity(shrunk).first <= 2);
  auto again = replay(config, lost_update, shrunk.schedule());
  REQUIRE(again.ok());
  CHECK(again->message == shrunk.message);
}

TEST_CASE("exhaustive search terminates and counts distinct schedules") {
  Config config{.cpus = 2, .iterations = 0, .strategy = StrategyKind::kExhaustive,
                .preemption_bound = 10, .sleep_sets = false};
  CheckResult full = check(config, independent_writers);
  INFO(full.report());
  REQUIRE(full.ok());
  CHECK(full.exhausted);
  // 2 CPUs with 4 steps each (start + 3 writes): C(8,4) = 70 interleavings.
  CHECK(full.runs == 70);
  CHECK(schedules_of(config, independent_writers).size() == 70);

  config.sleep_sets = true;
  CheckResult reduced = check(config, independent_writers);
  INFO(reduced.report());
  REQUIRE(reduced.ok());
  CHECK(reduced.exhausted);
  // All steps commute: one representative run suffices.
  CHECK(reduced.runs == 1);
}

TEST_CASE("a preemption bound of 0 explores only non-preemptive schedules") {
  Config config{.cpus = 2, .iterations = 0, .strategy = StrategyKind::kExhaustive,
                .preemption_bound = 0, .sleep_sets = false};
  CheckResult r = check(config, independent_writers);
  REQUIRE(r.ok());
  CHECK(r.exhausted);
  CHECK(r.runs == 2);  // CPU 0 first, or CPU 1 first
  CHECK(check(config, lost_update).ok());  // the bug needs a preemption
  config.preemption_bound = 1;
  CHECK_FALSE(check(config, lost_update).ok());
}

TEST_CASE("the union of n shards explores exactly the unsharded schedules") {
  for (StrategyKind k : {StrategyKind::kRandom, StrategyKind::kExhaustive}) {
    Config config{.cpus = 2, .seed = 5, .iterations = k == StrategyKind::kRandom ? 300u : 0u,
                  .strategy = k, .preemption_bound = 3, .sleep_sets = false,
                  .determinism_every = 0};
    std::multiset<std::string> whole, parts;
    check(config, independent_writers,
          [&](std::uint64_t, const RunResult& r) { whole.insert(r.schedule()); });
    for (std::uint64_t i = 0; i < 3; ++i) {
      Config shard = config;
      shard.shard_index = i;
      shard.shard_count = 3;
      check(shard, independent_writers,
            [&](std::uint64_t, const RunResult& r) { parts.insert(r.schedule()); });
    }
    INFO(strategy_name(k));
    CHECK(parts == whole);
    CHECK(whole.size() > 10);
  }
}

TEST_CASE("a bad shard is refused with a clear message") {
  Config config{.shard_index = 3, .shard_count = 3};
  CheckResult r = check(config, independent_writers);
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure->outcome == RunResult::Outcome::kBadInput);
  CHECK_THAT(r.failure->message, Catch::Contains("shard 3/3"));
}

TEST_CASE("use after free, double free and leaks of model pages are reported") {
  auto use_after_free = [](Scenario& s) {
    s.on_cpu(0, [] {
      page* p = alloc_pages_nolock(0, NUMA_NO_NODE, 0);
      auto* word = static_cast<Atomic<int>*>(page_address(p));
      WRITE_ONCE(*word, 1);
      free_pages_nolock(p, 0);
      WRITE_ONCE(*word, 2);  // stale
    });
  };
  CheckResult r = check(Config{.cpus = 1, .iterations = 1}, use_after_free);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.failure->message, Catch::Contains("use after free: store at offset 0 of freed page"));
  CHECK(r.failure->kind == FailureKind::kUseAfterFree);

  auto double_free = [](Scenario& s) {
    s.on_cpu(0, [] {
      page* p = alloc_pages_nolock(0, NUMA_NO_NODE, 0);
      free_pages_nolock(p, 0);
      free_pages_nolock(p, 0);
    });
  };
  r = check(Config{.cpus = 1, .iterations = 1}, double_free);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.failure->message, Catch::Contains("double free of page"));
  CHECK(r.failure->kind == FailureKind::kUseAfterFree);

  // The leaked pages are remembered outside the machine and freed by the
  // test afterwards, so LeakSanitizer sees no leak of the test itself.
  auto leaked = std::make_shared<std::vector<page*>>();
  auto leak = [leaked](Scenario& s) {
    s.on_cpu(0, [leaked] { leaked->push_back(alloc_pages_nolock(0, NUMA_NO_NODE, 0)); });
  };
  r = check(Config{.cpus = 1, .iterations = 1}, leak);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.failure->message, Catch::Contains("leak: 1 block(s), 4096 bytes"));
  CHECK(r.failure->kind == FailureKind::kLeak);
  CHECK(check(Config{.cpus = 1, .iterations = 1, .check_leaks = false}, leak).ok());
  for (page* p : *leaked) free_pages_nolock(p, 0);
}

TEST_CASE("goals: counted per run; a goal never reached makes the check fail") {
  auto scenario = [](bool reachable) {
    return [reachable](Scenario& s) {
      const int inside = s.goal("NMI inside the window");
      auto window = std::make_shared<Atomic<int>>(0);
      s.on_cpu(0, [window] {
        WRITE_ONCE(*window, 1);
        WRITE_ONCE(*window, 0);
      });
      s.nmi(0, [window, inside, reachable] {
        if (READ_ONCE(*window) == 1 && reachable) reached(inside);
      });
    };
  };
  Config config{.cpus = 1, .seed = 2, .iterations = 2000, .interrupt_probability = 0.3};
  CheckResult yes = check(config, scenario(true));
  INFO(yes.report());
  REQUIRE(yes.ok());
  REQUIRE(yes.goals.size() == 1);
  CHECK(yes.goals[0].runs_reached > 0);
  CHECK(yes.goals[0].runs_reached < yes.runs);

  CheckResult no = check(config, scenario(false));
  REQUIRE_FALSE(no.ok());
  CHECK(no.failure->outcome == RunResult::Outcome::kVacuous);
  CHECK_THAT(no.failure->message, Catch::Contains("NMI inside the window"));
}

TEST_CASE("a scenario that depends on state outside the simulator is caught") {
  static int calls = 0;  // survives across runs: nondeterministic input
  auto leaky = [](Scenario& s) {
    const int extra = calls++ % 2;
    auto x = std::make_shared<Atomic<int>>(0);
    s.on_cpu(0, [x, extra] {
      for (int i = 0; i <= extra; ++i) WRITE_ONCE(*x, i);
    });
  };
  CheckResult r = check(Config{.cpus = 1, .iterations = 10, .determinism_every = 1}, leaky);
  REQUIRE_FALSE(r.ok());
  CHECK(r.failure->outcome == RunResult::Outcome::kNondeterminism);
}

TEST_CASE("determinism replays are spread over the shards, not all in shard 0") {
  // Every run calls the scenario function once, and so does every replay.
  static int calls = 0;
  auto counted = [](Scenario& s) {
    ++calls;
    auto x = std::make_shared<Atomic<int>>(0);
    s.on_cpu(0, [x] { WRITE_ONCE(*x, 1); });
  };
  for (std::uint64_t shard = 0; shard < 2; ++shard) {
    calls = 0;
    CheckResult r = check(Config{.cpus = 1, .iterations = 20, .shard_index = shard,
                                 .shard_count = 2, .determinism_every = 2},
                          counted);
    REQUIRE(r.ok());
    CHECK(r.runs == 10);
    INFO("shard " << shard);
    CHECK(calls == 15);  // 10 runs, every second of them replayed
  }
}

TEST_CASE("a time budget stops a check early and says so") {
  Config config{.cpus = 2, .iterations = 100000000, .time_budget_s = 0.05};
  CheckResult r = check(config, independent_writers);
  CHECK(r.ok());
  CHECK(r.out_of_time);
  CHECK(r.runs < 100000000);
}

TEST_CASE("failures are classified by kind") {
  auto warn = [](Scenario& s) { s.on_cpu(0, [] { WARN_ON(1 + 1 == 2); }); };
  auto bug = [](Scenario& s) { s.on_cpu(0, [] { BUG_ON(1 + 1 == 2); }); };
  auto spin = [](Scenario& s) {
    auto flag = std::make_shared<Atomic<int>>(0);
    s.on_cpu(0, [flag] { while (!READ_ONCE(*flag)) cpu_relax(); });
  };
  auto bad_setup = [](Scenario& s) { s.on_cpu(1, [] {}); };
  const Config one{.cpus = 1, .iterations = 1, .max_steps = 500};
  CHECK(check(one, warn).failure->kind == FailureKind::kWarn);
  CHECK(check(one, bug).failure->kind == FailureKind::kAssertion);
  CHECK(check(one, spin).failure->kind == FailureKind::kHang);
  CheckResult r = check(one, bad_setup);
  CHECK(r.failure->kind == FailureKind::kBadInput);
  CHECK(r.failure->outcome == RunResult::Outcome::kBadInput);
  CHECK(check(Config{.cpus = 2, .iterations = 50}, lost_update).failure->kind ==
        FailureKind::kAssertion);
}

TEST_CASE("check_expecting: only the named failure meets an expected violation") {
  const Config config{.cpus = 2, .iterations = 200};
  Verdict v = check_expecting(config, lost_update,
                              expect_violation(FailureKind::kAssertion, "lost update"));
  INFO(v.expected << " / " << v.got);
  CHECK(v.met);
  CHECK(v.expected == "violation assertion \"lost update\"");
  CHECK_THAT(v.got, Catch::StartsWith("assertion: at end:"));
  // Another message, another kind: unmet, and both sides are told.
  v = check_expecting(config, lost_update,
                      expect_violation(FailureKind::kAssertion, "node consumed twice"));
  CHECK_FALSE(v.met);
  v = check_expecting(config, lost_update, expect_violation(FailureKind::kWarn, "lost update"));
  CHECK_FALSE(v.met);
  // A regex pattern.
  CHECK(check_expecting(config, lost_update,
                        expect_violation_matching(FailureKind::kAssertion, "lost u[p]date$"))
            .met);
  // Expecting a pass.
  CHECK_FALSE(check_expecting(config, lost_update, expect_pass()).met);
  CHECK(check_expecting(config, independent_writers, Expect::kPass).met);
}

TEST_CASE("check_expecting: a setup error or an empty check is never green") {
  // The scenario needs 2 CPUs; with 1 its setup fails. Before, any failure
  // met an expected violation, so this was "found".
  auto needs_two = [](Scenario& s) {
    s.on_cpu(0, [] {});
    s.on_cpu(1, [] {});
  };
  const Config one{.cpus = 1, .iterations = 10};
  for (FailureKind k : {FailureKind::kAssertion, FailureKind::kBadInput}) {
    const Verdict v = check_expecting(one, needs_two, expect_violation(k, "CPUs 0..0"));
    INFO(v.got);
    CHECK_FALSE(v.met);
    CHECK_THAT(v.got, Catch::Contains("the machine has CPUs 0..0"));
  }
  CHECK_FALSE(check_expecting(one, needs_two, expect_pass()).met);
  // Zero runs prove nothing either way.
  const Verdict none = check_expecting(Config{.cpus = 2, .iterations = 0}, independent_writers,
                                       expect_pass());
  CHECK_FALSE(none.met);
  CHECK(none.got == "nothing ran (0 runs)");
}

TEST_CASE("fair scheduling: no strategy reports a hang where a spinner starves a runnable CPU") {
  // CPU 0 polls the clock and a flag that CPU 1 sets once 1 ms has passed
  // (as tas_timeout's owner does). A schedule that keeps running CPU 0 never
  // lets CPU 1 see the time pass: no fair machine has it, and exhaustive
  // search once reported it as a hang.
  auto waiter = [](Scenario& s) {
    auto flag = std::make_shared<Atomic<int>>(0);
    s.on_cpu(0, [flag] {
      while (READ_ONCE(*flag) == 0) {
        (void)ktime_get_mono_fast_ns();
        cpu_relax();
      }
    });
    s.on_cpu(1, [flag] {
      const u64 until = ktime_get_mono_fast_ns() + 1000000;
      while (ktime_get_mono_fast_ns() < until) cpu_relax();
      WRITE_ONCE(*flag, 1);
    });
  };
  for (StrategyKind k : {StrategyKind::kRandom, StrategyKind::kPct, StrategyKind::kExhaustive}) {
    const Config config{.cpus = 2, .iterations = k == StrategyKind::kExhaustive ? 0u : 300u,
                        .max_steps = 2000, .strategy = k};
    CheckResult r = check(config, waiter);
    INFO(strategy_name(k) << ": " << r.report());
    CHECK(r.ok());
    if (k == StrategyKind::kExhaustive) CHECK(r.exhausted);
  }
  // The unfair schedules exist: without fairness the search finds one.
  CheckResult unfair = check(Config{.cpus = 2, .iterations = 300, .max_steps = 2000,
                                    .strategy = StrategyKind::kExhaustive, .fair = false},
                             waiter);
  REQUIRE_FALSE(unfair.ok());
  CHECK(unfair.failure->kind == FailureKind::kHang);
}

TEST_CASE("a hang is shrunk to a short prefix and a cycle (lasso), and replays") {
  // Two CPUs wait for each other's flag: a deadlock. The random walk's
  // schedule is thousands of decisions; shrunk, it is a prefix and the
  // round-robin cycle of the stuck CPUs.
  auto deadlock = [](Scenario& s) {
    auto a = std::make_shared<Atomic<int>>(0);
    auto b = std::make_shared<Atomic<int>>(0);
    s.on_cpu(0, [a, b] {
      while (READ_ONCE(*b) == 0) cpu_relax();
      WRITE_ONCE(*a, 1);
    });
    s.on_cpu(1, [a, b] {
      while (READ_ONCE(*a) == 0) cpu_relax();
      WRITE_ONCE(*b, 1);
    });
  };
  const Config config{.cpus = 2, .iterations = 1, .max_steps = 5000};
  CheckResult r = check(config, deadlock);
  REQUIRE_FALSE(r.ok());
  INFO(r.report());
  CHECK(r.failure->kind == FailureKind::kHang);
  CHECK_THAT(r.failure->message, Catch::Contains("lasso: after a prefix of"));
  CHECK(r.failure->schedule().size() < 40);
  const Lasso l = find_lasso(r.failure->decisions);
  CHECK(l.cycle > 0);
  CHECK(l.prefix < 10);
  auto again = replay(config, deadlock, r.failure->schedule());
  REQUIRE(again.ok());
  CHECK(again->kind == FailureKind::kHang);
  CHECK(again->decisions == r.failure->decisions);
}

TEST_CASE("races: data_race() is a read racy on purpose; plain_read of the same is a race") {
  // CPU 0 publishes with WRITE_ONCE; CPU 1 peeks at it without any order.
  auto peek = [](bool marked_racy) {
    return [marked_racy](Scenario& s) {
      auto x = std::make_shared<Atomic<int>>(0);
      s.on_cpu(0, [x] { WRITE_ONCE(*x, 1); });
      s.on_cpu(1, [x, marked_racy] {
        READ_ONCE(*x);  // a scheduling point before and after the peek
        const int v = marked_racy ? data_race(*x) : plain_read(*x);
        (void)v;
        READ_ONCE(*x);
      });
    };
  };
  Config config{.cpus = 2, .iterations = 200};
  REQUIRE(config.check_races);  // on by default
  CHECK(check_expecting(config, peek(true), expect_pass()).met);
  const Verdict v = check_expecting(config, peek(false),
                                    expect_violation(FailureKind::kRace, "plain read by CPU 1"));
  INFO(v.got);
  CHECK(v.met);
}

TEST_CASE("races: each location keeps its own history, also when addresses share a cache entry") {
  // The detector finds a plain access's shadow through a small direct-mapped
  // cache keyed by address bits (64 entries of 8 bytes): cells 512 bytes
  // apart share an entry. CPU 1's write to cells[kApart] follows CPU 0's
  // write to cells[0]: different locations, no race; its later write to
  // cells[0] is one.
  static_assert(512 % sizeof(Atomic<int>) == 0);
  constexpr std::size_t kApart = 512 / sizeof(Atomic<int>);
  auto writes = [](bool also_cell0) {
    return [also_cell0](Scenario& s) {
      auto cells = std::make_shared<std::vector<Atomic<int>>>(kApart + 1);
      auto flag = std::make_shared<Atomic<int>>(0);
      s.on_cpu(0, [cells, flag] {
        plain_write((*cells)[0], 1);
        WRITE_ONCE(*flag, 1);  // a scheduling point after the write
      });
      s.on_cpu(1, [cells, flag, also_cell0] {
        READ_ONCE(*flag);  // not an acquire of CPU 0's write unless it saw it
        plain_write((*cells)[kApart], 2);
        if (also_cell0) plain_write((*cells)[0], 2);
        READ_ONCE(*flag);
      });
    };
  };
  Config config{.cpus = 2, .iterations = 200};
  CHECK(check_expecting(config, writes(false), expect_pass()).met);
  const Verdict v = check_expecting(config, writes(true),
                                    expect_violation(FailureKind::kRace, "data race on object"));
  INFO(v.got);
  CHECK(v.met);
}

TEST_CASE("races: a plain access numbers no object in the trace") {
  // Object numbers count the objects the steps touch, in order; a plain
  // access is no step, so it leaves the numbers as they were without it.
  auto numbers = [](bool plain_first) {
    std::vector<std::uint32_t> out;
    Config config{.cpus = 1, .seed = 1, .iterations = 1};
    check(config,
          [plain_first](Scenario& s) {
            auto x = std::make_shared<Atomic<int>>(0);
            auto y = std::make_shared<Atomic<int>>(0);
            s.on_cpu(0, [x, y, plain_first] {
              if (plain_first) plain_write(*x, 1);
              WRITE_ONCE(*y, 1);
              WRITE_ONCE(*x, 2);
            });
          },
          [&out](std::uint64_t, const RunResult& r) {
            out.clear();
            for (const TraceEvent& e : r.trace.events())
              if (e.kind == TraceEvent::Kind::kOp && e.op == internal::Op::kStore)
                out.push_back(e.object);
          });
    return out;
  };
  const std::vector<std::uint32_t> without = numbers(false);
  REQUIRE(without.size() == 2);
  CHECK(without[0] != without[1]);
  CHECK(numbers(true) == without);
}

TEST_CASE("races: an NMI's __llist_add against another CPU's llist_add is a data race") {
  // __llist_add is for a list only its caller touches; here CPU 1 adds to
  // the same list with llist_add while an NMI on CPU 0 uses __llist_add.
  // Random runs rarely lose a node (the check below passes 2000 of them
  // without race checking), but the NMI's plain accesses are unordered with
  // CPU 1's cmpxchg whenever both touch the list.
  auto misuse = [](Scenario& s) {
    auto head = std::make_shared<llist_head>();
    auto nodes = std::make_shared<std::vector<llist_node>>(3);
    init_llist_head(head.get());
    s.on_cpu(0, [head, nodes] { llist_add(&(*nodes)[0], head.get()); });
    s.on_cpu(1, [head, nodes] { llist_add(&(*nodes)[1], head.get()); });
    s.nmi(0, [head, nodes] { __llist_add(&(*nodes)[2], head.get()); });
  };
  Config config{.cpus = 2, .iterations = 2000, .interrupt_probability = 0.3,
                .check_races = true};
  const Verdict v =
      check_expecting(config, misuse, expect_violation(FailureKind::kRace, "data race on object"));
  INFO(v.got << "\n" << v.result.report());
  CHECK(v.met);
  // The same scenario with the marked llist_add in the NMI has no race.
  auto correct = [](Scenario& s) {
    auto head = std::make_shared<llist_head>();
    auto nodes = std::make_shared<std::vector<llist_node>>(3);
    init_llist_head(head.get());
    s.on_cpu(0, [head, nodes] { llist_add(&(*nodes)[0], head.get()); });
    s.on_cpu(1, [head, nodes] { llist_add(&(*nodes)[1], head.get()); });
    s.nmi(0, [head, nodes] { llist_add(&(*nodes)[2], head.get()); });
  };
  CHECK(check_expecting(config, correct, expect_pass()).met);
  // Without race checking the misuse passes (as it did before).
  config.check_races = false;
  CHECK(check(config, misuse).ok());
}
