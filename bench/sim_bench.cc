// Simulator speed: scheduling steps per second and schedules (runs) per
// second on a small scenario (the llist producers/NMIs/consumer scenario of
// the catalogue: 3 CPUs, 2 NMIs, about 30 steps a run).
#include <benchmark/benchmark.h>

#include "model/sim/check.h"
#include "scenarios/llist_scenarios.h"

namespace {

using namespace kmodel;

void BM_sim_llist_producers(benchmark::State& state) {
  Config config{.cpus = 3, .seed = 1, .iterations = 100, .interrupt_probability = 0.1};
  std::uint64_t steps = 0, runs = 0;
  for (auto _ : state) {
    CheckResult r = check(config, llist_scenarios::producers_and_nmis);
    if (!r.ok()) state.SkipWithError(r.report().c_str());
    steps += r.total_steps;
    runs += r.runs;
    ++config.seed;
  }
  state.counters["steps/s"] = benchmark::Counter(static_cast<double>(steps),
                                                 benchmark::Counter::kIsRate);
  state.counters["schedules/s"] = benchmark::Counter(static_cast<double>(runs),
                                                     benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_sim_llist_producers)->Unit(benchmark::kMillisecond);
