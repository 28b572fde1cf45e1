#include "model/sim/shrink.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"

KMODEL_NAMESPACE_BEGIN

namespace {

std::string without_digits(const std::string& s) {
  std::string out;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) out += c;
  return out;
}

// The message without the scenario's state description, which differs from
// run to run even when the failure is the same.
std::string failure_text(const std::string& message) {
  return without_digits(message.substr(0, message.find("\n  state: ")));
}

bool same_failure(const RunResult& a, const RunResult& b) {
  return a.outcome == b.outcome && a.kind == b.kind &&
         failure_text(a.message) == failure_text(b.message);
}

// A hang runs to max_steps whatever the schedule, and its fair round-robin
// continuation switches often: it is simpler when its schedule string is
// shorter (a cycle encodes as one group). Other failures: fewer switches and
// interrupts, then fewer steps.
bool simpler(const RunResult& candidate, const RunResult& best) {
  if (best.outcome == RunResult::Outcome::kHang)
    return encode_schedule(candidate.decisions).size() < encode_schedule(best.decisions).size();
  return schedule_complexity(candidate) < schedule_complexity(best);
}

class Shrinker {
 public:
  Shrinker(const Config& config, const ScenarioFn& scenario, RunResult failing, int budget)
      : config_(config), scenario_(scenario), best_(std::move(failing)), budget_(budget) {}

  RunResult run() {
    // A hang keeps failing after almost any prefix: the shortest prefix
    // (the default continuation then runs the CPUs round-robin) first.
    if (best_.outcome == RunResult::Outcome::kHang) truncate();
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
    if (!same_failure(r, best_) || !simpler(r, best_)) return false;
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
      if (try_candidate(std::move(c))) {
        // The new best starts with the same `mid` decisions (a hang's
        // continuation keeps its length: search on below mid regardless).
        any = true;
        hi = std::min(mid, best_.decisions.size());
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
  if (failing.outcome != RunResult::Outcome::kHang)
    return Shrinker(config, scenario, std::move(failing), max_replays).run();
  RunResult r = Shrinker(config, scenario, std::move(failing), std::min(max_replays, 30)).run();
  if (const Lasso l = find_lasso(r.decisions); l.cycle != 0)
    absl::StrAppend(&r.message, "\n  lasso: after a prefix of ", l.prefix,
                    " decisions the schedule repeats a cycle of ", l.cycle, " decisions (",
                    (r.decisions.size() - l.prefix) / l.cycle,
                    " times) without completing: the cycle is the livelock or deadlock");
  return r;
}

Lasso find_lasso(const std::vector<Decision>& d, std::size_t max_cycle) {
  const std::size_t n = d.size();
  Lasso best;
  std::size_t best_len = 0;
  for (std::size_t p = 1; p <= max_cycle && 3 * p <= n; ++p) {
    std::size_t len = p;  // the periodic suffix has period p
    while (len < n && d[n - 1 - len] == d[n - 1 - len + p]) ++len;
    if (len >= 3 * p && len > best_len + p) {  // prefer the shorter cycle on near ties
      best_len = len;
      best = {n - len, p};
    }
  }
  return best;
}

KMODEL_NAMESPACE_END
