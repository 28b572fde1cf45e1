// model/sim/scenario.h: what a simulated run consists of.
//
// A scenario is written as a function that fills a Scenario; the checker
// calls it afresh for every run, so state captured by the lambdas (usually a
// std::shared_ptr made inside the function) starts clean each time:
//
//   auto scenario = [](kmodel::sim::Scenario& s) {
//     auto st = std::make_shared<State>();          // setup, CPU 0 context
//     s.on_cpu(0, [st] { llist_add(&st->a, &st->head); });
//     s.on_cpu(1, [st] { st->got = llist_del_all(&st->head); });
//     s.nmi(1, [st] { llist_add(&st->b, &st->head); });
//     s.at_end([st] { MODEL_ASSERT(count(st) == 2, "a node was lost"); });
//   };
//   auto result = kmodel::sim::check(config, scenario);
//
// Bodies run on simulated CPUs (each on its own fiber) in task context.
// Interrupt handlers are delivered only at scheduling points of their CPU
// while that CPU is running its body, at most `max_count` times per run, when
// the context rules of model/cpu.h allow; whether and where is the strategy's
// decision. The setup code and at_end checks run outside the machine, as
// CPU 0 in task context, with no scheduling points.
#ifndef KMODEL_MODEL_SIM_SCENARIO_H_
#define KMODEL_MODEL_SIM_SCENARIO_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/cpu.h"

KMODEL_NAMESPACE_BEGIN

enum class StrategyKind {
  kRandom,      // seeded uniform random walk
  kPct,         // probabilistic concurrency testing (priorities, d-1 change points)
  kExhaustive,  // bounded depth-first search with sleep sets
};

struct Config {
  int cpus = 2;                        // 1 .. NR_CPUS
  std::uint64_t seed = 1;              // derives every run's strategy seed
  std::uint64_t iterations = 1000;     // runs per check()
  std::uint64_t max_steps = 100000;    // more steps than this in a run: a hang
  double interrupt_probability = 0.05; // random strategy: per eligible step
  std::uint64_t step_ns = 10;          // simulated time per step
  // What one cpu_relax() costs on top of its step: a PAUSE of a few dozen
  // cycles, so the kernel's 65536 spins per clock sample last ~1 ms.
  std::uint64_t relax_ns = 15;
  std::uint64_t max_stall_jump_ns = 1000000;  // cap of one clock jump (1 ms)
  // When every runnable CPU spins, jump the clock straight to the earliest
  // deadline a spinner declared (model/clock.h: spin_wait_deadline). False
  // is the clock of v1 schedules (replay() sets it for them): declarations
  // are ignored and a waiter spins through its sample interval step by step.
  bool jump_to_deadlines = true;

  StrategyKind strategy = StrategyKind::kRandom;
  int pct_depth = 3;         // PCT: bug depth d (d-1 priority change points)
  int preemption_bound = 2;  // exhaustive: preemptions per run
  bool sleep_sets = true;    // exhaustive: partial-order reduction

  // Deterministic, disjoint partition of the work: random and PCT runs i
  // with i % shard_count == shard_index; exhaustive search subtrees likewise.
  std::uint64_t shard_index = 0;
  std::uint64_t shard_count = 1;

  double time_budget_s = 0;              // stop after this much wall time (0: none)
  bool shrink = true;                    // minimise a failing schedule
  std::uint64_t determinism_every = 64;  // replay every k-th run and compare (0: off)
  bool check_leaks = true;               // tracked model memory freed by the end
  // Data races on plain accesses (plain_read/plain_write) against other
  // CPUs' accesses, by vector clocks (docs/checker.md, "Races"). On for the
  // whole catalogue under every strategy; data_race() reads are exempt.
  bool check_races = true;
  // Fair scheduling of spin loops (CHESS): after a CPU's cpu_relax(), every
  // CPU runnable at that moment steps before the spinner steps again. Off
  // only to show the unfair schedules it removes.
  bool fair = true;
};

struct InterruptSpec {
  IrqKind kind;
  int cpu;
  std::function<void()> handler;
  int max_count;
  std::string name;
};

class Scenario {
 public:
  explicit Scenario(int cpus) : bodies_(static_cast<std::size_t>(cpus)) {}

  // Empties the scenario (destroying its bodies, handlers and checks, and
  // the state they captured) for `cpus` CPUs, keeping its storage: the
  // machine fills one Scenario per thread for run after run.
  void reset(int cpus);

  // The task-context body of `cpu`. A CPU without a body stays idle.
  void on_cpu(int cpu, std::function<void()> body);

  // Interrupt handlers for `cpu`; each returns the interrupt's number
  // (1-based, as written in schedules).
  int nmi(int cpu, std::function<void()> handler, int max_count = 1,
          std::string name = "nmi");
  int hardirq(int cpu, std::function<void()> handler, int max_count = 1,
              std::string name = "hardirq");
  int softirq(int cpu, std::function<void()> handler, int max_count = 1,
              std::string name = "softirq");

  // A check run after every CPU has finished (only if the run did not
  // already fail).
  void at_end(std::function<void()> check);

  // Explains the model's state when a run fails (lock words, queues, tables):
  // called once, right after the failure and before the CPUs are unwound;
  // the text is appended to the failure message.
  void describe_state(std::function<std::string()> describe);

  // A reachability goal: an interleaving the scenario exists for. Code calls
  // reached(goal) when it observes it; a check in which a goal is never
  // reached fails as vacuous. Returns the goal's index.
  int goal(std::string name);
  const std::vector<std::string>& goals() const { return goals_; }

  int cpus() const { return static_cast<int>(bodies_.size()); }
  const std::vector<std::function<void()>>& bodies() const { return bodies_; }
  const std::vector<InterruptSpec>& interrupts() const { return interrupts_; }
  const std::vector<std::function<void()>>& end_checks() const { return end_checks_; }
  const std::vector<std::function<std::string()>>& state_describers() const {
    return state_describers_;
  }

 private:
  int add_interrupt(IrqKind kind, int cpu, std::function<void()> handler,
                    int max_count, std::string name);
  void check_cpu(int cpu, const char* what) const;

  std::vector<std::function<void()>> bodies_;
  std::vector<InterruptSpec> interrupts_;
  std::vector<std::function<void()>> end_checks_;
  std::vector<std::function<std::string()>> state_describers_;
  std::vector<std::string> goals_;
};

// Marks goal `goal` (an index from Scenario::goal) reached in the running
// simulated run; outside a run it does nothing.
void reached(int goal);

using ScenarioFn = std::function<void(Scenario&)>;

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_SIM_SCENARIO_H_
