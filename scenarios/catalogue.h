// scenarios/catalogue.h: the registry of model-check scenarios.
//
// Each scenario of the catalogue is a ScenarioFn (model/sim/scenario.h) plus
// what the catalogue promises about it, per profile: either the checker
// finds no violation within the budget, or it must find one (a scenario that
// exists to show a known bug of that version, or a seeded bug). Both are
// checked by the same runner (tests and the streamcheck CLI), so a scenario
// that stops finding its bug fails just like one that starts failing.
//
// Register from a .cc file of a scenarios library built with
// alwayslink = True:
//
//   static const kmodel::ScenarioRegistrar kAaNmi({
//       .name = "rqspinlock/aa_nmi",
//       .description = "an NMI takes the lock its CPU holds",
//       .config = {.cpus = 2, .iterations = 2000},
//       .scenario = aa_nmi_scenario,
//       .expect = {{kmodel::Profile::kLinux618, kmodel::Expect::kViolation},
//                  {kmodel::Profile::kMainline, kmodel::Expect::kPass}},
//   });
//
// The scenario reads current_profile(); the runner sets it.
#ifndef KMODEL_SCENARIOS_CATALOGUE_H_
#define KMODEL_SCENARIOS_CATALOGUE_H_

#include <string>
#include <utility>
#include <vector>

#include "model/profile.h"
#include "model/sim/check.h"

KMODEL_NAMESPACE_BEGIN

enum class Expect {
  kPass,       // no violation within the budget
  kViolation,  // the checker must find a violation within the budget
};

struct ScenarioEntry {
  std::string name;         // "<area>/<what>", unique
  std::string description;  // one line
  Config config;            // CPUs, budget, seed
  ScenarioFn scenario;
  // The profiles the scenario runs under, each with its expectation.
  std::vector<std::pair<Profile, Expect>> expect;
};

class ScenarioRegistrar {
 public:
  explicit ScenarioRegistrar(ScenarioEntry entry);
};

// Every registered scenario, sorted by name.
std::vector<const ScenarioEntry*> all_scenarios();

// The outcome of checking one scenario under one profile.
struct ScenarioVerdict {
  const ScenarioEntry* entry;
  Profile profile;
  Expect expect;
  CheckResult result;
  bool met() const {
    return (expect == Expect::kPass) == result.ok();
  }
};

// Checks `entry` under `profile` with its own config (iterations may be
// overridden by a non-zero `iterations`).
ScenarioVerdict run_scenario(const ScenarioEntry& entry, Profile profile, Expect expect,
                             std::uint64_t iterations = 0);

KMODEL_NAMESPACE_END

#endif  // KMODEL_SCENARIOS_CATALOGUE_H_
