// bug_hunt: how many schedules each strategy needs to find each bug of the
// catalogue (every entry that expects a violation), median over 20 seeds.
//
//   bazel run -c opt //bench:bug_hunt [-- GLOB]
//
// Prints a Markdown table (docs/checker.md keeps the latest). Exhaustive
// search is deterministic: one search, its run count to the first failure.
// A strategy that does not find the bug within the budget (4x the
// catalogue's iterations) shows "not found".
#include <fnmatch.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "scenarios/catalogue.h"

namespace {

using namespace kmodel;

constexpr int kSeeds = 20;

std::string runs_to_failure(const ScenarioEntry& e, Profile profile, const Expectation& expect,
                            StrategyKind kind) {
  ScopedProfile scoped(profile);
  std::vector<std::uint64_t> found;
  int wrong = 0;
  const int seeds = kind == StrategyKind::kExhaustive ? 1 : kSeeds;
  for (int seed = 1; seed <= seeds; ++seed) {
    Config c = e.config;
    c.strategy = kind;
    c.seed = static_cast<std::uint64_t>(seed) * 7919;
    c.iterations = kind == StrategyKind::kExhaustive ? 0 : 4 * e.config.iterations;
    c.time_budget_s = 20;
    c.shrink = false;
    c.determinism_every = 0;
    CheckResult r = check(c, e.scenario);
    if (r.ok()) continue;
    // Only the failure the catalogue names counts as finding the bug.
    if (judge(expect, r).met) found.push_back(r.runs);
    else ++wrong;
  }
  if (found.empty()) return wrong ? absl::StrCat("not found (", wrong, " other failures)") : "not found";
  std::sort(found.begin(), found.end());
  std::string out = absl::StrCat(found[found.size() / 2]);
  if (static_cast<int>(found.size()) < seeds) absl::StrAppend(&out, " (", found.size(), "/", seeds, " seeds)");
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const char* glob = argc > 1 ? argv[1] : "*";
  std::printf("| bug | profile | random | PCT (d=3) | exhaustive (bound 2) |\n");
  std::printf("| --- | --- | --- | --- | --- |\n");
  for (const ScenarioEntry* e : all_scenarios()) {
    if (fnmatch(glob, e->name.c_str(), 0) != 0) continue;
    for (auto [profile, expect] : e->expect) {
      if (!expect.violation) continue;
      std::printf("| %s | %s | %s | %s | %s |\n", e->name.c_str(), profile_name(profile),
                  runs_to_failure(*e, profile, expect, StrategyKind::kRandom).c_str(),
                  runs_to_failure(*e, profile, expect, StrategyKind::kPct).c_str(),
                  runs_to_failure(*e, profile, expect, StrategyKind::kExhaustive).c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
