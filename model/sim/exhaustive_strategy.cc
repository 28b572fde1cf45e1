#include "model/sim/exhaustive_strategy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

KMODEL_NAMESPACE_BEGIN

namespace {

using internal::Op;

constexpr std::uint64_t kShardRadixPerShard = 4;

bool touches_shared_memory(Op op) { return op == Op::kLoad || op == Op::kStore || op == Op::kRmw; }

// Operations with no effect another CPU could observe.
bool cpu_local(Op op) { return op == Op::kStart || op == Op::kIrq || op == Op::kFence; }

bool same_step(const CpuChoice& a, const CpuChoice& b) {
  return a.cpu == b.cpu && a.op == b.op && a.object == b.object;
}

}  // namespace

bool independent(const CpuChoice& a, const CpuChoice& b) {
  if (a.cpu == b.cpu) return false;
  if (cpu_local(a.op) || cpu_local(b.op)) return true;
  if (touches_shared_memory(a.op) && touches_shared_memory(b.op))
    return a.object != b.object || (a.op == Op::kLoad && b.op == Op::kLoad);
  // cpu_relax only sets the spinner's own flag, which writes and clock
  // reads (through clock jumps) observe; it commutes with loads and relaxes.
  if (a.op == Op::kRelax || b.op == Op::kRelax) {
    const Op other = a.op == Op::kRelax ? b.op : a.op;
    return other == Op::kLoad || other == Op::kRelax;
  }
  return false;  // clock, pages, choices, user points: assume dependent
}

ExhaustiveStrategy::ExhaustiveStrategy(ExhaustiveOptions options) : options_(options) {}

void ExhaustiveStrategy::begin_run() {
  depth_ = 0;
  preemptions_ = 0;
  shard_key_ = 0;
  shard_radix_ = 1;
  shard_known_ = options_.shard_count <= 1;
}

bool ExhaustiveStrategy::owns_last_run() const {
  return options_.shard_count <= 1 || shard_key_ % options_.shard_count == options_.shard_index;
}

bool ExhaustiveStrategy::end_run() {
  path_.resize(std::min(path_.size(), depth_));
  while (!path_.empty()) {
    Node& node = path_.back();
    std::size_t next = node.chosen + 1;
    while (next < node.options.size() && !node.allowed[next]) ++next;
    if (next < node.options.size()) {
      node.chosen = next;
      return true;
    }
    path_.pop_back();
  }
  done_ = true;
  return false;
}

// The sleep set of a node about to be created: what slept at the previous
// CPU node plus the siblings explored before the chosen one, minus every
// step that does not commute with the step taken. An interrupt delivered
// since then wakes everything.
std::vector<CpuChoice> ExhaustiveStrategy::sleep_set_for_new_node() const {
  if (!options_.sleep_sets) return {};
  for (std::size_t i = depth_; i-- > 0;) {
    const Node& n = path_[i];
    if (n.kind == Decision::Kind::kInterrupt && n.chosen != 0) return {};
    if (n.kind != Decision::Kind::kCpu) continue;
    const CpuChoice& taken = n.steps[n.chosen];
    std::vector<CpuChoice> out;
    for (const CpuChoice& s : n.sleep)
      if (independent(s, taken)) out.push_back(s);
    for (std::size_t j = 0; j < n.chosen; ++j)
      if (n.allowed[j] && independent(n.steps[j], taken)) out.push_back(n.steps[j]);
    return out;
  }
  return {};
}

// Counts preemptions and the shard key for a node taken on this run.
void ExhaustiveStrategy::account(const Node& node) {
  if (node.kind == Decision::Kind::kCpu) {
    const CpuChoice& c = node.steps[node.chosen];
    const bool last_could_continue = std::any_of(
        node.steps.begin(), node.steps.end(),
        [&](const CpuChoice& s) { return s.cpu == node.last_cpu && !is_spinning(s); });
    if (last_could_continue && c.cpu != node.last_cpu) ++preemptions_;
  } else if (node.kind == Decision::Kind::kInterrupt && node.chosen != 0) {
    ++preemptions_;
  }
  if (shard_known_) return;
  const auto branches = static_cast<std::uint64_t>(
      std::count(node.allowed.begin(), node.allowed.end(), true));
  if (branches < 2) return;
  const auto rank = static_cast<std::uint64_t>(
      std::count(node.allowed.begin(), node.allowed.begin() + static_cast<long>(node.chosen), true));
  shard_key_ = shard_key_ * branches + rank;
  shard_radix_ *= branches;
  if (shard_radix_ < kShardRadixPerShard * options_.shard_count) return;
  shard_known_ = true;
  if (!owns_last_run()) throw PruneRun{};
}

std::size_t ExhaustiveStrategy::decide(Node fresh) {
  if (depth_ < path_.size()) {
    const Node& node = path_[depth_];
    if (node.kind != fresh.kind || node.options != fresh.options) {
      throw ScheduleDivergence(absl::StrCat(
          "exhaustive search: decision ", depth_ + 1,
          " differs from the previous run's (the scenario is nondeterministic)"));
    }
    ++depth_;
    account(node);
    return node.chosen;
  }
  auto first = std::find(fresh.allowed.begin(), fresh.allowed.end(), true);
  if (first == fresh.allowed.end()) throw PruneRun{};  // everything asleep
  fresh.chosen = static_cast<std::size_t>(first - fresh.allowed.begin());
  fresh.preemptions_before = preemptions_;
  path_.push_back(std::move(fresh));
  ++depth_;
  account(path_.back());
  return path_.back().chosen;
}

std::size_t ExhaustiveStrategy::pick_cpu(const std::vector<CpuChoice>& runnable, int last_cpu) {
  Node fresh{Decision::Kind::kCpu, {}, runnable, {}, 0, {}, preemptions_, last_cpu};
  const bool someone_progresses = std::any_of(
      runnable.begin(), runnable.end(), [](const CpuChoice& c) { return !is_spinning(c); });
  const bool last_could_continue = std::any_of(
      runnable.begin(), runnable.end(),
      [&](const CpuChoice& c) { return c.cpu == last_cpu && !is_spinning(c); });
  if (depth_ >= path_.size()) fresh.sleep = sleep_set_for_new_node();
  for (const CpuChoice& c : runnable) {
    fresh.options.push_back(c.cpu);
    const bool preempts = last_could_continue && c.cpu != last_cpu;
    const bool asleep = std::any_of(fresh.sleep.begin(), fresh.sleep.end(),
                                    [&](const CpuChoice& s) { return same_step(s, c); });
    fresh.allowed.push_back(!asleep && !(is_spinning(c) && someone_progresses) &&
                            preemptions_ + preempts <= options_.preemption_bound);
  }
  return decide(std::move(fresh));
}

std::size_t ExhaustiveStrategy::pick_interrupt(int, const std::vector<int>& candidates) {
  Node fresh{Decision::Kind::kInterrupt, {0}, {}, {true}, 0, {}, preemptions_, -1};
  const bool may_preempt = preemptions_ < options_.preemption_bound;
  for (int irq : candidates) {
    fresh.options.push_back(irq);
    fresh.allowed.push_back(may_preempt);
  }
  return decide(std::move(fresh));
}

int ExhaustiveStrategy::pick_choice(int n, const char*) {
  Node fresh{Decision::Kind::kChoice, {}, {}, {}, 0, {}, preemptions_, -1};
  for (int i = 0; i < n; ++i) {
    fresh.options.push_back(i);
    fresh.allowed.push_back(true);
  }
  return static_cast<int>(decide(std::move(fresh)));
}

KMODEL_NAMESPACE_END
