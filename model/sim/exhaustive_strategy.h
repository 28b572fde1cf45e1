// model/sim/exhaustive_strategy.h: bounded exhaustive search.
//
// A stateless depth-first search over the decision tree (Godefroid's
// VeriSoft; CHESS's iterative context bounding): each run replays the
// current path's decisions, takes the first untried alternative at the
// deepest node that has one, and continues with first alternatives below.
// One ExhaustiveStrategy object lives across the runs of a search:
// begin_run() before each, end_run() after, done() when the tree is spent.
//
// Bounds and reductions, so that it terminates on small scenarios:
//   * preemption bound: switching away from a CPU that could have continued
//     (it has not finished and is not spinning) is a preemption; paths with
//     more than `preemption_bound` are not explored;
//   * fairness to spinners: a CPU spinning in cpu_relax() is not chosen while
//     another CPU can progress (a spin step changes nothing anyone can see);
//   * sleep sets (partial-order reduction): after the subtree of "CPU a
//     steps" is explored at a node, a sibling subtree need not explore "a
//     steps" again until a step dependent on a's has happened; two steps are
//     independent when they touch different objects, or both only read;
//     anything else (clock, pages, interrupts, choices) counts as dependent.
//     A run whose every alternative is asleep is abandoned (PruneRun).
//   * sharding: the first branching nodes' choices, read as a mixed-radix
//     number, decide the shard a subtree belongs to; other shards' subtrees
//     are abandoned as soon as that number is known.
#ifndef KMODEL_MODEL_SIM_EXHAUSTIVE_STRATEGY_H_
#define KMODEL_MODEL_SIM_EXHAUSTIVE_STRATEGY_H_

#include <cstdint>
#include <vector>

#include "model/sim/strategy.h"

KMODEL_NAMESPACE_BEGIN

struct ExhaustiveOptions {
  int preemption_bound = 2;
  bool sleep_sets = true;
  std::uint64_t shard_index = 0;
  std::uint64_t shard_count = 1;
};

class ExhaustiveStrategy final : public Strategy {
 public:
  explicit ExhaustiveStrategy(ExhaustiveOptions options);

  void begin_run();
  // Moves to the next path; returns false when the whole tree is explored.
  bool end_run();
  bool done() const { return done_; }
  // Whether the last run belongs to this shard (a run that ended before its
  // shard was known is owned by the shard its partial key names).
  bool owns_last_run() const;

  std::size_t pick_cpu(const std::vector<CpuChoice>& runnable, int last_cpu) override;
  std::size_t pick_interrupt(int cpu, const std::vector<int>& candidates) override;
  int pick_choice(int n, const char* label) override;

 private:
  struct Node {
    Decision::Kind kind;
    std::vector<int> options;          // CPU numbers / interrupt numbers / values
    std::vector<CpuChoice> steps;      // kCpu: what each runnable CPU would do
    std::vector<bool> allowed;         // within bounds and awake
    std::size_t chosen = 0;            // index into options
    std::vector<CpuChoice> sleep;      // kCpu: asleep on entry
    int preemptions_before = 0;
    int last_cpu = -1;
  };

  std::size_t decide(Node fresh);
  std::vector<CpuChoice> sleep_set_for_new_node() const;
  void account(const Node& node);

  // The shard key of the current run: mixed-radix digits of the first
  // branching nodes' choices, until the radix reaches kShardRadix * count.
  std::uint64_t shard_key_ = 0;
  std::uint64_t shard_radix_ = 1;
  bool shard_known_ = false;

  ExhaustiveOptions options_;
  std::vector<Node> path_;
  std::size_t depth_ = 0;  // position on the path in the current run
  int preemptions_ = 0;    // on the current run so far
  bool done_ = false;
};

// Whether two steps commute (see above).
bool independent(const CpuChoice& a, const CpuChoice& b);

KMODEL_NAMESPACE_END

#endif  // KMODEL_MODEL_SIM_EXHAUSTIVE_STRATEGY_H_
