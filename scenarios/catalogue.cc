#include "scenarios/catalogue.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

KMODEL_NAMESPACE_BEGIN

namespace {
std::vector<ScenarioEntry>& registry() {
  static auto* entries = new std::vector<ScenarioEntry>();
  return *entries;
}
}  // namespace

ScenarioRegistrar::ScenarioRegistrar(ScenarioEntry entry) {
  for (const ScenarioEntry& e : registry()) {
    if (e.name == entry.name) {
      std::fprintf(stderr, "kmodel: scenario \"%s\" registered twice\n", e.name.c_str());
      std::abort();
    }
  }
  registry().push_back(std::move(entry));
}

const std::string* ScenarioEntry::not_applicable(StrategyKind strategy, Profile profile) const {
  for (const NotFor& n : not_for) {
    if (n.strategy != strategy) continue;
    if (n.profiles.empty() || std::find(n.profiles.begin(), n.profiles.end(), profile) != n.profiles.end())
      return &n.why;
  }
  return nullptr;
}

std::vector<const ScenarioEntry*> all_scenarios() {
  std::vector<const ScenarioEntry*> out;
  for (const ScenarioEntry& e : registry()) out.push_back(&e);
  std::sort(out.begin(), out.end(),
            [](const ScenarioEntry* a, const ScenarioEntry* b) { return a->name < b->name; });
  return out;
}

ScenarioVerdict run_scenario(const ScenarioEntry& entry, Profile profile,
                             const Expectation& expect, std::uint64_t iterations) {
  ScopedProfile scoped(profile);
  Config config = entry.config;
  if (iterations != 0) config.iterations = iterations;
  return {&entry, profile, expect, check(config, entry.scenario)};
}

KMODEL_NAMESPACE_END
