// Simulator speed: scheduling steps per second and schedules (runs) per
// second for each strategy, on the llist producers/NMIs/consumer scenario of
// the catalogue (3 CPUs, 2 NMIs, about 30 steps a run); and the time and
// schedule count to exhaust a 2-CPU + 1-NMI llist scenario.
#include <benchmark/benchmark.h>

#include <string>

#include <memory>

#include "model/sim/check.h"
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

}  // namespace

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
