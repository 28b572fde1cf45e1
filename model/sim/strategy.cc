#include "model/sim/strategy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

KMODEL_NAMESPACE_BEGIN

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::size_t default_cpu(const std::vector<CpuChoice>& runnable, int last_cpu) {
  const std::size_t n = runnable.size();
  for (std::size_t i = 0; i < n; ++i)
    if (runnable[i].cpu == last_cpu && !is_spinning(runnable[i])) return i;
  // The last CPU finished or spins: the next CPU after it, cyclically,
  // preferring one that can progress.
  std::size_t start = 0;
  while (start < n && runnable[start].cpu <= last_cpu) ++start;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (start + k) % n;
    if (!is_spinning(runnable[i])) return i;
  }
  return start % n;
}

RandomStrategy::RandomStrategy(std::uint64_t seed, double interrupt_probability) {
  std::uint64_t s = seed;
  for (auto& word : state_) word = s = splitmix64(s);
  const double p = std::clamp(interrupt_probability, 0.0, 1.0);
  interrupt_threshold_ = p >= 1.0 ? ~0ull : static_cast<std::uint64_t>(p * 0x1.0p64);
}

// xoshiro256** (Blackman and Vigna).
std::uint64_t RandomStrategy::next() {
  auto rotl = [](std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const std::uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

std::uint64_t RandomStrategy::below(std::uint64_t n) {
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
}

bool RandomStrategy::chance(double p) {
  return static_cast<double>(next() >> 11) * 0x1.0p-53 < p;
}

std::size_t RandomStrategy::pick_cpu(const std::vector<CpuChoice>& runnable, int) {
  return below(runnable.size());
}

std::size_t RandomStrategy::pick_interrupt(int, const std::vector<int>& candidates) {
  if (next() >= interrupt_threshold_) return 0;
  return 1 + below(candidates.size());
}

int RandomStrategy::pick_choice(int n, const char*) {
  return static_cast<int>(below(static_cast<std::uint64_t>(n)));
}

ReplayStrategy::ReplayStrategy(std::vector<Decision> decisions, bool lenient)
    : decisions_(std::move(decisions)), lenient_(lenient) {}

const Decision* ReplayStrategy::peek(Decision::Kind kind) const {
  if (next_ < decisions_.size() && decisions_[next_].kind == kind) return &decisions_[next_];
  return nullptr;
}

void ReplayStrategy::diverge(const std::string& why) const {
  throw ScheduleDivergence(absl::StrCat("replay diverged at decision ", next_ + 1, ": ", why));
}

std::size_t ReplayStrategy::pick_cpu(const std::vector<CpuChoice>& runnable, int last_cpu) {
  // Lenient replay skips decisions of other kinds that no longer apply.
  while (lenient_ && next_ < decisions_.size() &&
         decisions_[next_].kind != Decision::Kind::kCpu)
    ++next_;
  const Decision* d = peek(Decision::Kind::kCpu);
  if (d == nullptr) {
    if (lenient_) return default_cpu(runnable, last_cpu);
    diverge(next_ < decisions_.size() ? "expected a CPU step" : "schedule ended early");
  }
  for (std::size_t i = 0; i < runnable.size(); ++i) {
    if (runnable[i].cpu == d->value) {
      ++next_;
      return i;
    }
  }
  if (lenient_) {
    ++next_;
    return default_cpu(runnable, last_cpu);
  }
  std::string list;
  for (const CpuChoice& c : runnable) absl::StrAppend(&list, list.empty() ? "" : ",", c.cpu);
  diverge(absl::StrCat("CPU ", d->value, " is not runnable (runnable: ", list, ")"));
}

std::size_t ReplayStrategy::pick_interrupt(int cpu, const std::vector<int>& candidates) {
  const Decision* d = peek(Decision::Kind::kInterrupt);
  if (d == nullptr) return 0;
  auto it = std::find(candidates.begin(), candidates.end(), d->value);
  if (it == candidates.end()) {
    if (lenient_) {
      ++next_;
      return 0;
    }
    diverge(absl::StrCat("interrupt ", d->value, " cannot be delivered to CPU ", cpu, " now"));
  }
  ++next_;
  return 1 + static_cast<std::size_t>(it - candidates.begin());
}

int ReplayStrategy::pick_choice(int n, const char* label) {
  const Decision* d = peek(Decision::Kind::kChoice);
  if (d == nullptr) return 0;
  if (d->value >= n) {
    if (lenient_) {
      ++next_;
      return 0;
    }
    diverge(absl::StrCat("choice \"", label, "\" has ", n, " alternatives, schedule says ",
                         d->value));
  }
  ++next_;
  return d->value;
}

KMODEL_NAMESPACE_END
