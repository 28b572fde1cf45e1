// Simulator speed: scheduling steps per second and schedules (runs) per
// second for each strategy, on the llist producers/NMIs/consumer scenario of
// the catalogue (3 CPUs, 2 NMIs, about 30 steps a run); the time and
// schedule count to exhaust a 2-CPU + 1-NMI llist scenario; and the floor
// under a step: one switch into a fiber and back (Boost.Context alone, and
// through the simulator's Fiber with its sanitizer hooks).
#include <benchmark/benchmark.h>

#include <string>
#include <utility>

#include <memory>

#include <boost/context/fiber.hpp>

#include "model/sim/check.h"
#include "model/sim/fiber.h"
#include "scenarios/llist_scenarios.h"
#include "sync/llist.h"

namespace {

using namespace kmodel;

void BM_sim_llist_producers(benchmark::State& state) {
  // range(1): data-race detection (Config::check_races, on by default; its
  // vector clocks are a per-step cost) on or off.
  Config config{.cpus = 3, .seed = 1, .iterations = 100, .interrupt_probability = 0.1,
                .strategy = static_cast<StrategyKind>(state.range(0)), .determinism_every = 0};
  config.check_races = state.range(1) != 0;
  std::uint64_t steps = 0, runs = 0;
  for (auto _ : state) {
    CheckResult r = check(config, llist_scenarios::producers_and_nmis);
    // A budget of 100 runs may leave a goal unreached (vacuous): that is a
    // coverage verdict, not a speed problem.
    if (!r.ok() && r.failure->outcome != RunResult::Outcome::kVacuous)
      state.SkipWithError(r.report().c_str());
    steps += r.total_steps;
    runs += r.runs;
    ++config.seed;
  }
  state.SetLabel(std::string(strategy_name(config.strategy)) +
                 (config.check_races ? "" : ", races off"));
  state.counters["steps/s"] = benchmark::Counter(static_cast<double>(steps),
                                                 benchmark::Counter::kIsRate);
  state.counters["schedules/s"] = benchmark::Counter(static_cast<double>(runs),
                                                     benchmark::Counter::kIsRate);
}

// Two adds on CPU 0, a del_all on CPU 1, one NMI on CPU 0 that adds.
void small_llist(Scenario& s) {
  struct State {
    llist_head head;
    llist_node a, b, n;
  };
  auto st = std::make_shared<State>();
  init_llist_head(&st->head);
  s.on_cpu(0, [st] {
    llist_add(&st->a, &st->head);
    llist_add(&st->b, &st->head);
  });
  s.on_cpu(1, [st] { llist_del_all(&st->head); });
  s.nmi(0, [st] { llist_add(&st->n, &st->head); });
}

void BM_sim_exhaust_llist_2cpu_1nmi(benchmark::State& state) {
  Config config{.cpus = 2, .iterations = 0, .strategy = StrategyKind::kExhaustive,
                .preemption_bound = static_cast<int>(state.range(0)),
                .sleep_sets = state.range(1) != 0, .determinism_every = 0};
  CheckResult last;
  for (auto _ : state) {
    last = check(config, small_llist);
    if (!last.ok() || !last.exhausted) state.SkipWithError("not exhausted");
  }
  state.SetLabel(config.sleep_sets ? "sleep sets" : "no reduction");
  state.counters["schedules"] = static_cast<double>(last.runs);
  state.counters["pruned"] = static_cast<double>(last.pruned);
}

// One resume into a fiber and its suspend back, with Boost.Context alone: the
// physical cost every simulated step pays at least once (a step resumes the
// chosen CPU's fiber, which runs to its next scheduling point and suspends).
void BM_fiber_switch_floor(benchmark::State& state) {
  namespace ctx = boost::context;
  bool stop = false;
  ctx::fiber f{[&stop](ctx::fiber&& back) {
    while (!stop) back = std::move(back).resume();
    return std::move(back);
  }};
  for (auto _ : state) f = std::move(f).resume();
  stop = true;
  f = std::move(f).resume();
  state.counters["pairs/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                 benchmark::Counter::kIsRate);
}

// Suspends `depth` out-of-line calls deep, as a CPU does from inside the
// model's code (an atomic operation calls the platform hook, which calls the
// machine, which suspends).
[[gnu::noinline]] void suspend_at_depth(Fiber& f, int depth) {
  if (depth > 0) {
    suspend_at_depth(f, depth - 1);
    benchmark::ClobberMemory();  // not a tail call
  } else {
    f.suspend();
  }
}

// The same pair through the simulator's Fiber (pooled stack; the sanitizer
// annotations compile to nothing in an optimised build without sanitizers),
// the fiber suspending range(0) calls deep: every return after a switch is
// mispredicted (the return-stack buffer holds the other stack's calls).
void BM_fiber_switch_sim_fiber(benchmark::State& state) {
  bool stop = false;
  Fiber* self = nullptr;
  const int depth = static_cast<int>(state.range(0));
  Fiber f([&] {
    while (!stop) suspend_at_depth(*self, depth);
  });
  self = &f;
  for (auto _ : state) f.resume();
  stop = true;
  f.resume();
  state.counters["pairs/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                 benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_fiber_switch_floor);
BENCHMARK(BM_fiber_switch_sim_fiber)->Arg(0)->Arg(1)->Arg(4);
BENCHMARK(BM_sim_llist_producers)
    ->Args({static_cast<int>(StrategyKind::kRandom), 1})
    ->Args({static_cast<int>(StrategyKind::kPct), 1})
    ->Args({static_cast<int>(StrategyKind::kExhaustive), 1})
    ->Args({static_cast<int>(StrategyKind::kRandom), 0})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_sim_exhaust_llist_2cpu_1nmi)
    ->Args({2, 0})
    ->Args({2, 1})
    ->Args({100, 0})
    ->Args({100, 1})
    ->Unit(benchmark::kMillisecond);
