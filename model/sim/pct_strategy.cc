#include "model/sim/pct_strategy.h"

#include <algorithm>

KMODEL_NAMESPACE_BEGIN

PctStrategy::PctStrategy(std::uint64_t seed, int cpus, int depth,
                         std::uint64_t expected_steps, double interrupt_probability)
    : random_(seed, interrupt_probability),
      priority_(static_cast<std::size_t>(cpus)),
      in_spin_loop_(static_cast<std::size_t>(cpus), 0) {
  // Initial priorities: a random permutation of depth .. depth+cpus-1, so the
  // d-1 change points (priorities 1..d-1) fall below all of them.
  for (int i = 0; i < cpus; ++i) priority_[static_cast<std::size_t>(i)] = depth + i;
  for (std::size_t i = priority_.size(); i > 1; --i)
    std::swap(priority_[i - 1], priority_[random_.below(i)]);
  const std::uint64_t k = std::max<std::uint64_t>(expected_steps, 1);
  for (int i = 1; i < depth; ++i) change_points_.push_back(1 + random_.below(k));
  std::sort(change_points_.begin(), change_points_.end());
}

std::size_t PctStrategy::pick_cpu(const std::vector<CpuChoice>& runnable, int) {
  ++step_;
  auto highest = [&] {
    std::size_t best = 0;
    for (std::size_t i = 1; i < runnable.size(); ++i)
      if (priority_[runnable[i].cpu] > priority_[runnable[best].cpu]) best = i;
    return best;
  };
  std::size_t pick = highest();
  // Change points: the CPU about to run drops to priority 1, 2, ... d-1.
  for (std::size_t i = 0; i < change_points_.size(); ++i) {
    if (change_points_[i] != step_) continue;
    priority_[runnable[pick].cpu] = static_cast<long>(i) + 1;
    pick = highest();
  }
  // A spinner yields to any CPU that can make progress. When all spin, the
  // one about to relax yields its priority anyway, so the spinners take
  // turns and each re-checks its condition: otherwise the highest would
  // loop forever while the one it waits for never runs (a hang that no fair
  // machine has).
  auto spinning = [&](const CpuChoice& c) {
    return is_spinning(c) || in_spin_loop_[static_cast<std::size_t>(c.cpu)];
  };
  const bool others_progress = std::any_of(runnable.begin(), runnable.end(),
                                           [&](const CpuChoice& c) { return !spinning(c); });
  while (spinning(runnable[pick]) && others_progress) {
    priority_[runnable[pick].cpu] = --lowest_;
    pick = highest();
  }
  if (!others_progress && is_spinning(runnable[pick])) priority_[runnable[pick].cpu] = --lowest_;
  note_step(runnable[pick]);
  return pick;
}

// A spin loop is relax plus the loads and clock reads that re-check the
// condition; any other operation (a write, a fence, an irq flag) ends it.
void PctStrategy::note_step(const CpuChoice& c) {
  char& in_loop = in_spin_loop_[static_cast<std::size_t>(c.cpu)];
  if (c.op == internal::Op::kRelax) in_loop = true;
  else if (c.op != internal::Op::kLoad && c.op != internal::Op::kClock) in_loop = false;
}

std::size_t PctStrategy::pick_interrupt(int cpu, const std::vector<int>& candidates) {
  return random_.pick_interrupt(cpu, candidates);
}

int PctStrategy::pick_choice(int n, const char* label) { return random_.pick_choice(n, label); }

KMODEL_NAMESPACE_END
