#include "model/sim/shrink.h"

#include <algorithm>
#include <cctype>

KMODEL_NAMESPACE_BEGIN

namespace {

std::string without_digits(const std::string& s) {
  std::string out;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) out += c;
  return out;
}

bool same_failure(const RunResult& a, const RunResult& b) {
  return a.outcome == b.outcome && without_digits(a.message) == without_digits(b.message);
}

class Shrinker {
 public:
  Shrinker(const Config& config, const ScenarioFn& scenario, RunResult failing, int budget)
      : config_(config), scenario_(scenario), best_(std::move(failing)), budget_(budget) {}

  RunResult run() {
    bool improved = true;
    while (improved && budget_ > 0) {
      improved = drop_interrupts_and_choices() | truncate() | merge_switches();
    }
    return std::move(best_);
  }

 private:
  // Replays `candidate` leniently; adopts it if it fails the same way and
  // is simpler. Returns whether it was adopted.
  bool try_candidate(std::vector<Decision> candidate) {
    if (budget_-- <= 0) return false;
    ReplayStrategy lenient(std::move(candidate), /*lenient=*/true);
    Machine machine(config_, lenient);
    RunResult r = machine.run(scenario_);
    if (!same_failure(r, best_) || schedule_complexity(r) >= schedule_complexity(best_))
      return false;
    best_ = std::move(r);
    return true;
  }

  bool drop_interrupts_and_choices() {
    bool any = false;
    for (std::size_t i = 0; i < best_.decisions.size(); ++i) {
      const Decision d = best_.decisions[i];
      if (d.kind == Decision::Kind::kCpu || d.value == 0) continue;
      std::vector<Decision> c = best_.decisions;
      c.erase(c.begin() + static_cast<long>(i));
      if (try_candidate(std::move(c))) {
        any = true;
        --i;
      }
    }
    return any;
  }

  // The shortest prefix (binary search) after which the default
  // continuation still fails.
  bool truncate() {
    std::size_t lo = 0, hi = best_.decisions.size();
    bool any = false;
    while (lo < hi && budget_ > 0) {
      const std::size_t mid = lo + (hi - lo) / 2;
      std::vector<Decision> c(best_.decisions.begin(), best_.decisions.begin() + static_cast<long>(mid));
      const std::size_t before = best_.decisions.size();
      if (try_candidate(std::move(c))) {
        any = true;
        hi = std::min(mid, best_.decisions.size());
        if (best_.decisions.size() >= before) break;
      } else {
        lo = mid + 1;
      }
    }
    return any;
  }

  bool merge_switches() {
    bool any = false;
    int prev_cpu = -1;
    for (std::size_t i = 0; i < best_.decisions.size(); ++i) {
      const Decision d = best_.decisions[i];
      if (d.kind != Decision::Kind::kCpu) continue;
      if (prev_cpu >= 0 && d.value != prev_cpu) {
        std::vector<Decision> c = best_.decisions;
        c[i].value = prev_cpu;
        if (try_candidate(std::move(c))) {
          any = true;
          continue;  // re-examine from the edited position's new neighbours
        }
      }
      prev_cpu = d.value;
    }
    return any;
  }

  const Config& config_;
  const ScenarioFn& scenario_;
  RunResult best_;
  int budget_;
};

}  // namespace

std::pair<std::size_t, std::size_t> schedule_complexity(const RunResult& r) {
  std::size_t switches = 0;
  int prev = -1;
  for (const Decision& d : r.decisions) {
    if (d.kind == Decision::Kind::kCpu) {
      if (prev >= 0 && d.value != prev) ++switches;
      prev = d.value;
    } else if (d.value != 0) {
      ++switches;
    }
  }
  return {switches, r.steps};
}

RunResult shrink_failure(const Config& config, const ScenarioFn& scenario, RunResult failing,
                         int max_replays) {
  if (failing.outcome == RunResult::Outcome::kBadInput ||
      failing.outcome == RunResult::Outcome::kNondeterminism ||
      failing.outcome == RunResult::Outcome::kVacuous)
    return failing;
  // A hang replays up to max_steps per attempt: shrink it on a small budget.
  if (failing.outcome == RunResult::Outcome::kHang) max_replays = std::min(max_replays, 30);
  return Shrinker(config, scenario, std::move(failing), max_replays).run();
}

KMODEL_NAMESPACE_END
