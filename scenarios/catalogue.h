// scenarios/catalogue.h: the registry of model-check scenarios.
//
// Each scenario of the catalogue is a ScenarioFn (model/sim/scenario.h) plus
// what the catalogue promises about it, per profile: either the checker
// finds no violation within the budget, or it must find one named violation
// (a scenario that exists to show a known bug of that version, or a seeded
// bug): its kind and a stable substring of its message. A different failure,
// or a scenario that cannot be set up (e.g. more CPUs than the machine
// has), does not meet it. Both are checked by the same runner (tests and the
// streamcheck CLI), so a scenario that stops finding its bug, or finds
// another one, fails just like one that starts failing.
//
// Spelling an expectation (model/sim/check.h):
//   {Profile::kMainline, expect_pass()}        // or Expect::kPass
//   {Profile::kLinux618, expect_violation(FailureKind::kAssertion, "capacity leaked")}
//   {Profile::kSeed, expect_violation(FailureKind::kHang, "no completion within")}
//   expect_violation_matching(kind, "node #[0-9]+ lost")   // an ECMAScript regex
// Kinds: kAssertion (MODEL_ASSERT, BUG_ON), kWarn (WARN_ON), kHang,
// kUseAfterFree (incl. double free), kLeak, kException, kDivergence,
// kNondeterminism, kVacuous. Pin the pattern to the scenario's own message
// (run the scenario and copy a stable part of it, without numbers that a
// schedule changes).
//
// Register from a .cc file of a scenarios library built with
// alwayslink = True:
//
//   static const kmodel::ScenarioRegistrar kAaNmi({
//       .name = "rqspinlock/aa_nmi",
//       .description = "an NMI takes the lock its CPU holds",
//       .config = {.cpus = 2, .iterations = 2000},
//       .scenario = aa_nmi_scenario,
//       .expect = {{kmodel::Profile::kLinux618,
//                   kmodel::expect_violation(kmodel::FailureKind::kAssertion,
//                                            "the AA on lock A went unseen")},
//                  {kmodel::Profile::kMainline, kmodel::expect_pass()}},
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

struct ScenarioEntry {
  std::string name;         // "<area>/<what>", unique
  std::string description;  // one line
  Config config;            // CPUs, budget, seed
  ScenarioFn scenario;
  // The profiles the scenario runs under, each with its expectation.
  std::vector<std::pair<Profile, Expectation>> expect;
  // Strategies under which a check of this entry says nothing within its
  // budget, each with the reason (printed as "n/a") and the profiles it
  // concerns (none listed: every profile): an expected violation the
  // strategy cannot be relied on to find, or an expected pass whose goals the
  // strategy does not reach (a bounded search that never reaches the
  // interleaving a scenario exists for proves nothing about it: vacuous).
  struct NotFor {
    StrategyKind strategy;
    std::string why;
    std::vector<Profile> profiles = {};
  };
  std::vector<NotFor> not_for = {};

  // The reason the check under `profile` is not made under `strategy`, or null.
  const std::string* not_applicable(StrategyKind strategy, Profile profile) const;
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
  Expectation expect;
  CheckResult result;
  bool whole_check = true;  // false for one shard of a check
  bool met() const { return judge(expect, result, whole_check).met; }
  // What happened, for reports: "pass (N runs)" or "<kind>: <message>".
  std::string got() const { return judge(expect, result, whole_check).got; }
};

// Checks `entry` under `profile` with its own config (iterations may be
// overridden by a non-zero `iterations`).
ScenarioVerdict run_scenario(const ScenarioEntry& entry, Profile profile,
                             const Expectation& expect, std::uint64_t iterations = 0);

KMODEL_NAMESPACE_END

#endif  // KMODEL_SCENARIOS_CATALOGUE_H_
