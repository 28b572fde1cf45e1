// streamcheck: runs the model-check scenario catalogue.
//
//   streamcheck list
//   streamcheck run [GLOB ...] [--iterations=N] [--seed=S] [--profile=P]
//   streamcheck replay SCENARIO SCHEDULE [--profile=P]
//
// `run` checks every scenario whose name matches a glob (default: all) under
// each profile the catalogue lists for it, and compares the outcome with the
// catalogue's expectation. Exit code: 0 all expectations met, 1 a violation
// (an expectation not met), 2 usage error.
#include <fnmatch.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "scenarios/catalogue.h"

ABSL_FLAG(uint64_t, iterations, 0,
          "runs per scenario and profile (0: the catalogue's own budget)");
ABSL_FLAG(uint64_t, seed, 0, "override every scenario's seed (0: the catalogue's own)");
ABSL_FLAG(std::string, profile, "",
          "only this profile (seed, linux-6.18, mainline); default: every profile "
          "the catalogue lists for a scenario");

namespace {

using kmodel::Expect;
using kmodel::ScenarioEntry;

constexpr int kExitPass = 0;
constexpr int kExitViolation = 1;
constexpr int kExitUsage = 2;

int usage_error(const std::string& message) {
  std::fprintf(stderr, "streamcheck: %s\n(see streamcheck --help)\n", message.c_str());
  return kExitUsage;
}

bool matches(const std::string& name, const std::vector<std::string>& globs) {
  if (globs.empty()) return true;
  for (const std::string& g : globs)
    if (fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

const char* expect_name(Expect e) { return e == Expect::kPass ? "pass" : "violation"; }

int cmd_list() {
  for (const ScenarioEntry* e : kmodel::all_scenarios()) {
    std::string profiles;
    for (auto [p, x] : e->expect)
      absl::StrAppend(&profiles, profiles.empty() ? "" : ", ", kmodel::profile_name(p), "=",
                      expect_name(x));
    std::printf("%-44s cpus=%d runs=%llu  [%s]\n    %s\n", e->name.c_str(), e->config.cpus,
                static_cast<unsigned long long>(e->config.iterations), profiles.c_str(),
                e->description.c_str());
  }
  return kExitPass;
}

int cmd_run(const std::vector<std::string>& globs) {
  const std::string only = absl::GetFlag(FLAGS_profile);
  if (!only.empty()) {
    auto p = kmodel::parse_profile(only);
    if (!p.ok()) return usage_error(std::string(p.status().message()));
  }
  int checked = 0, unmet = 0;
  const absl::Time start = absl::Now();
  for (const ScenarioEntry* e : kmodel::all_scenarios()) {
    if (!matches(e->name, globs)) continue;
    for (auto [profile, expect] : e->expect) {
      if (!only.empty() && only != kmodel::profile_name(profile)) continue;
      ScenarioEntry entry = *e;
      if (uint64_t seed = absl::GetFlag(FLAGS_seed)) entry.config.seed = seed;
      kmodel::ScenarioVerdict v =
          kmodel::run_scenario(entry, profile, expect, absl::GetFlag(FLAGS_iterations));
      ++checked;
      const bool met = v.met();
      unmet += !met;
      std::printf("%-4s %-44s %-10s expect %-9s got %-9s (%llu runs)\n", met ? "ok" : "FAIL",
                  e->name.c_str(), kmodel::profile_name(profile), expect_name(expect),
                  v.result.ok() ? "pass" : "violation",
                  static_cast<unsigned long long>(v.result.runs));
      if (!met || !v.result.ok()) {
        std::string report = v.result.report();
        if (!v.result.ok())
          absl::StrAppend(&report, "  replay: streamcheck replay ", e->name, " '",
                          v.result.failure->schedule, "' --profile=",
                          kmodel::profile_name(profile), "\n");
        if (!met) std::printf("%s\n", report.c_str());
      }
    }
  }
  if (checked == 0) return usage_error("no scenario matches the given names");
  std::printf("streamcheck: %d checks, %d expectations met, %d not met (%.1f s)\n", checked,
              checked - unmet, unmet, absl::ToDoubleSeconds(absl::Now() - start));
  return unmet == 0 ? kExitPass : kExitViolation;
}

int cmd_replay(const std::string& name, const std::string& schedule) {
  kmodel::Profile profile = kmodel::current_profile();
  if (const std::string p = absl::GetFlag(FLAGS_profile); !p.empty()) {
    auto parsed = kmodel::parse_profile(p);
    if (!parsed.ok()) return usage_error(std::string(parsed.status().message()));
    profile = *parsed;
  }
  for (const ScenarioEntry* e : kmodel::all_scenarios()) {
    if (e->name != name) continue;
    kmodel::ScopedProfile scoped(profile);
    auto r = kmodel::replay(e->config, e->scenario, schedule);
    if (!r.ok()) return usage_error(std::string(r.status().message()));
    std::printf("%s under %s: %s", name.c_str(), kmodel::profile_name(profile),
                r->report().c_str());
    if (r->trace.events().size() > 0) std::printf("%s", r->trace.timeline(r->cpus).c_str());
    return r->ok() ? kExitPass : kExitViolation;
  }
  return usage_error(absl::StrCat("scenario \"", name, "\": not in the catalogue (see list)"));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "model-checks the BPF streams scenario catalogue\n"
      "  streamcheck list\n"
      "  streamcheck run [GLOB ...] [--iterations=N] [--seed=S] [--profile=P]\n"
      "  streamcheck replay SCENARIO SCHEDULE [--profile=P]\n"
      "exit code: 0 expectations met, 1 violation, 2 usage error");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() < 2) return usage_error("missing command (list, run or replay)");
  const std::string cmd = rest[1];
  std::vector<std::string> args(rest.begin() + 2, rest.end());
  if (cmd == "list") {
    if (!args.empty()) return usage_error("list takes no arguments");
    return cmd_list();
  }
  if (cmd == "run") return cmd_run(args);
  if (cmd == "replay") {
    if (args.size() != 2) return usage_error("replay takes SCENARIO and SCHEDULE");
    return cmd_replay(args[0], args[1]);
  }
  return usage_error(absl::StrCat("unknown command \"", cmd, "\""));
}
