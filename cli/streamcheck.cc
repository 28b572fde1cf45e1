// streamcheck: runs the model-check scenario catalogue.
//
//   streamcheck list
//   streamcheck run [GLOB ...] [flags]
//   streamcheck replay SCENARIO SCHEDULE|@FILE|- [--profile=P] [--cpus=N] [--trace-out=FILE]
//   streamcheck merge IN.json ... [--out=OUT.json]
//
// `run` checks every scenario whose name matches a glob (default: all) under
// each profile the catalogue lists for it, and compares the outcome with the
// catalogue's expectation. Exit code: 0 all expectations met, 1 a violation
// (an expectation not met), 2 usage error. See kUsage below and
// docs/streamcheck.md.
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/json.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "cli/report_json.h"
#include "cli/trace_json.h"
#include "scenarios/catalogue.h"

// Every flag is a string, validated by us: a bad value is then a usage
// error with exit code 2 and a message naming the flag (Abseil's own
// parsing would exit with 1, which means "violation" here).
ABSL_FLAG(std::string, iterations, "",
          "runs per scenario and profile (default: the catalogue's own budget)");
ABSL_FLAG(std::string, seed, "", "seed of every check (default: the catalogue's own)");
ABSL_FLAG(std::string, profile, "",
          "only this profile (seed, linux-6.18, mainline); default: every profile "
          "the catalogue lists for a scenario");
ABSL_FLAG(std::string, strategy, "",
          "random, pct or exhaustive (default: the catalogue's own, usually random)");
ABSL_FLAG(std::string, time_budget, "",
          "stop each check (scenario x profile) after this many wall-clock seconds "
          "(default: the catalogue's own; 0: none)");
ABSL_FLAG(std::string, cpus, "", "override the catalogue's CPU count (1..NR_CPUS)");
ABSL_FLAG(std::string, shard, "0/1",
          "run only shard i of n of every check (runs with index % n == i), e.g. 2/8");
ABSL_FLAG(std::string, json, "", "write the machine-readable report of `run` to this file");
ABSL_FLAG(std::string, failures_dir, "streamcheck-failures",
          "run: write every failing schedule to a file in this directory (created if "
          "missing; relative to where streamcheck was started); empty: none");
ABSL_FLAG(std::string, out, "", "merge: write the merged report to this file (never an input)");
ABSL_FLAG(bool, verbose, false,
          "run: also print, for each expected violation found, its failure and replay "
          "command, and each step's values and caller in failures' timelines");
ABSL_FLAG(bool, quiet, false, "run: print only unmet expectations and the summary");
ABSL_FLAG(std::string, trace_out, "",
          "write a Chrome trace-event JSON (Perfetto, chrome://tracing) of one run: for "
          "`run` the first failing run (else the last run), for `replay` the replayed run");

namespace {

using kmodel::Expectation;
using kmodel::ScenarioEntry;
using streamcheck::Report;
using streamcheck::ScenarioReport;
using streamcheck::Shard;

constexpr int kExitPass = 0;
constexpr int kExitViolation = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;  // 128 + SIGINT, as a shell reports it

// Ctrl-C during `run`: the check under way finishes, then the run stops
// with a partial summary and its --json report. A second Ctrl-C kills
// (SA_RESETHAND puts the default action back).
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_sigint(int) { g_interrupted = 1; }

void stop_on_sigint() {
  struct sigaction sa = {};
  sa.sa_handler = on_sigint;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
}

constexpr const char* kUsage = R"(model-checks the BPF streams scenario catalogue

commands:
  streamcheck list
      every scenario: name, CPUs, run budget, expectation per profile.
  streamcheck run [GLOB ...] [flags]
      checks every scenario whose name matches a shell glob (quote it:
      'llist/*'; default: all) under every profile the catalogue lists for
      it, and compares the outcome with the catalogue's expectation.
      flags: --strategy --iterations --time_budget --seed --cpus --profile
             --shard --json --trace-out --failures-dir --verbose --quiet
  streamcheck replay SCENARIO SCHEDULE|@FILE|- [--profile=P] [--cpus=N] [--trace-out=FILE]
      re-runs one schedule string ('v2:...'; 'v1:...' on the old clock)
      exactly, printing the per-CPU timeline with each step's values and
      caller ('= 1', 'cmpxchg 0 -> 1 ok', '@llist.h:80'); exit 0 if the run
      passes, 1 if it fails. @FILE reads the
      schedule from a file (a failure file of `run`, or a --json report:
      the failure of SCENARIO's entry, with its profile and CPU count);
      '-' reads it from stdin.
  streamcheck merge IN.json ... [--out=OUT.json]
      combines the --json reports of shards into one (same scenario and
      profile: counters and goal counts summed, verdict judged on the union
      of the runs, vacuity included); refuses a missing or repeated shard;
      writes the merged report only to --out, never over an input.

flags (--name=value; '-' and '_' are interchangeable in names):
  --strategy=random|pct|exhaustive   exploration strategy
  --iterations=N     runs per scenario and profile (catalogue's budget)
  --time_budget=S    wall-clock seconds per scenario and profile
  --seed=S           seed of every check (catalogue's seed)
  --cpus=N           CPU count override, 1..NR_CPUS
  --profile=P        only profile P: seed, linux-6.18 or mainline
  --shard=i/n        only shard i of n of every check (runs with index % n
                     == i); merge the shards' --json reports afterwards
  --json=FILE        machine-readable report (format: docs/streamcheck.md)
  --trace-out=FILE   Chrome trace-event JSON of one run, for
                     https://ui.perfetto.dev or chrome://tracing
  --failures-dir=D   where `run` writes each failing schedule, one file per
                     failure (default streamcheck-failures; '' for none)
  --out=FILE         merge: the merged report (never one of the inputs)
  --verbose          run: also each expected finding's failure and replay,
                     and values and callers in failures' timelines
  --quiet            run: only unmet expectations and the summary

On a terminal, `run` shows a progress line (schedules/s, elapsed, ETA);
off a terminal, a plain `progress:` line every 5 s of a long check.
A failure prints the shrunk schedule, the per-CPU timeline (its last 60
steps; --verbose adds each step's values and caller) and the replay command.
exit code: 0 expectations met, 1 violation or unmet expectation,
           2 usage error (bad command, flag value, schedule or file),
           130 interrupted by Ctrl-C (after a partial summary and --json))";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "streamcheck: %s\n(see streamcheck --help)\n", message.c_str());
  return kExitUsage;
}

// ---- Command line ------------------------------------------------------------

// Abseil handles these itself; they are not in its flag registry.
bool is_usage_flag(const std::string& name) {
  for (const char* u : {"help", "helpfull", "helpshort", "helppackage", "helpon", "helpmatch",
                        "version", "only_check_args"})
    if (name == u) return true;
  return false;
}

// The model's version: bumped with each landed session that changes what
// the catalogue checks (docs/streamcheck.md).
constexpr const char* kVersion = "0.3.0";

bool wants_version(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--") return false;
    if (a == "--version" || a == "-version") return true;
  }
  return false;
}

// What this binary was built as, from the compiler's own macros: Abseil's
// --version only looks at NDEBUG and calls every -O2 build without it "Debug".
std::string build_description() {
  std::string out;
#ifdef __OPTIMIZE__
  out += "optimized";
#else
  out += "not optimized";
#endif
#ifdef NDEBUG
  out += ", NDEBUG (bazel -c opt)";
#else
  out += ", asserts on (NDEBUG not defined: bazel fastbuild or dbg)";
#endif
#if defined(__SANITIZE_ADDRESS__)
  out += ", AddressSanitizer";
#endif
#if defined(__SANITIZE_THREAD__)
  out += ", ThreadSanitizer";
#endif
  out += absl::StrCat(", ", __VERSION__);
  return out;
}

bool wants_help(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--") return false;
    if (a == "--help" || a == "-help" || a == "-h") return true;
  }
  return false;
}

// Rewrites "--trace-out=x" as "--trace_out=x" (Abseil names are
// identifiers) and rejects unknown flags with exit code 2, before Abseil
// would reject them with exit code 1. Returns an error message or "".
// The flags given on the command line (underscored names), for the check
// that a command is not handed flags it would ignore.
std::set<std::string> g_given_flags;

// Rewrites dashed flag names to Abseil's and checks what Abseil would only
// reject with exit 1 (or accept silently): a flag without its value, an
// empty value, a flagfile that cannot be read. Returns the usage error.
std::string normalize_flags(std::vector<std::string>& args) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string& a = args[i];
    if (a == "--") break;
    if (a.size() < 2 || a[0] != '-') continue;
    const std::size_t dashes = a[1] == '-' ? 2 : 1;
    const std::size_t eq = a.find('=');
    std::string name = a.substr(dashes, eq == std::string::npos ? std::string::npos : eq - dashes);
    absl::StrReplaceAll({{"-", "_"}}, &name);
    if (is_usage_flag(name)) continue;
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    const bool negated_bool = flag == nullptr && name.rfind("no", 0) == 0 &&
                              absl::FindCommandLineFlag(name.substr(2)) != nullptr &&
                              absl::FindCommandLineFlag(name.substr(2))->IsOfType<bool>();
    if (flag == nullptr && !negated_bool) return absl::StrCat("unknown flag --", name);
    g_given_flags.insert(name);
    const bool takes_value = flag != nullptr && !flag->IsOfType<bool>();
    std::string value;
    if (takes_value && eq == std::string::npos) {
      // "--flag value": the value is the next argument, not a command word.
      if (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0)
        return absl::StrCat("--", name, " needs a value (--", name, "=VALUE)");
      value = args[i + 1];
    } else if (takes_value) {
      value = a.substr(eq + 1);
      // --failures-dir= is documented as "write no failure files".
      if (value.empty() && name != "failures_dir")
        return absl::StrCat("--", name, "= is empty: give a value or leave the flag out");
    }
    if (name == "flagfile" && !std::ifstream(value).good())
      return absl::StrCat("--flagfile=", value, ": cannot read the file");
    a = absl::StrCat("--", name, eq == std::string::npos ? "" : a.substr(eq));
    if (takes_value && eq == std::string::npos) ++i;
  }
  return "";
}

// A usage error when a flag was given that `command` does not use.
std::string check_flags_for(const std::string& command, std::initializer_list<const char*> used) {
  for (const std::string& name : g_given_flags) {
    if (name == "flagfile") continue;
    bool ok = false;
    for (const char* u : used) ok |= name == u;
    if (!ok) return absl::StrCat(command, " does not use --", name);
  }
  return "";
}

struct Options {
  std::uint64_t iterations = 0;  // 0: the catalogue's
  std::uint64_t seed = 0;        // 0: the catalogue's
  std::optional<kmodel::Profile> profile;
  std::optional<kmodel::StrategyKind> strategy;
  std::optional<double> time_budget_s;
  int cpus = 0;  // 0: the catalogue's
  Shard shard;
  std::string json_path;
  std::string trace_path;
  std::string out_path;
  std::string failures_dir;
  bool verbose = false;
  bool quiet = false;
};

// Returns the error for the first invalid flag value.
absl::Status parse_options(Options& o) {
  if (const std::string v = absl::GetFlag(FLAGS_iterations); !v.empty()) {
    absl::StatusOr<std::uint64_t> n = streamcheck::parse_count(v, "--iterations");
    if (!n.ok()) return n.status();
    if (*n == 0)
      return absl::InvalidArgumentError(
          "--iterations=0: a check of no runs proves nothing (leave the flag out for the "
          "catalogue's budget)");
    o.iterations = *n;
  }
  if (const std::string v = absl::GetFlag(FLAGS_seed); !v.empty()) {
    absl::StatusOr<std::uint64_t> n = streamcheck::parse_count(v, "--seed");
    if (!n.ok()) return n.status();
    o.seed = *n;
  }
  if (const std::string v = absl::GetFlag(FLAGS_profile); !v.empty()) {
    absl::StatusOr<kmodel::Profile> p = kmodel::parse_profile(v);
    if (!p.ok()) return absl::InvalidArgumentError(absl::StrCat("--profile=", v, ": ", p.status().message()));
    o.profile = *p;
  }
  if (const std::string v = absl::GetFlag(FLAGS_strategy); !v.empty()) {
    absl::StatusOr<kmodel::StrategyKind> s = kmodel::parse_strategy(v);
    if (!s.ok())
      return absl::InvalidArgumentError(absl::StrCat("--strategy=", v, ": ", s.status().message()));
    o.strategy = *s;
  }
  if (const std::string v = absl::GetFlag(FLAGS_time_budget); !v.empty()) {
    absl::StatusOr<double> s = streamcheck::parse_seconds(v, "--time_budget");
    if (!s.ok()) return s.status();
    o.time_budget_s = *s;
  }
  if (const std::string v = absl::GetFlag(FLAGS_cpus); !v.empty()) {
    absl::StatusOr<int> n = streamcheck::parse_cpus(v);
    if (!n.ok()) return n.status();
    o.cpus = *n;
  }
  absl::StatusOr<Shard> shard = streamcheck::parse_shard(absl::GetFlag(FLAGS_shard));
  if (!shard.ok()) return shard.status();
  o.shard = *shard;
  o.json_path = absl::GetFlag(FLAGS_json);
  o.trace_path = absl::GetFlag(FLAGS_trace_out);
  o.out_path = absl::GetFlag(FLAGS_out);
  o.failures_dir = absl::GetFlag(FLAGS_failures_dir);
  o.verbose = absl::GetFlag(FLAGS_verbose);
  o.quiet = absl::GetFlag(FLAGS_quiet);
  if (o.verbose && o.quiet) return absl::InvalidArgumentError("--verbose and --quiet together");
  // Under `bazel run` the process starts in the runfiles tree; a relative
  // directory means the user's.
  if (const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
      wd != nullptr && !o.failures_dir.empty() && o.failures_dir[0] != '/')
    o.failures_dir = absl::StrCat(wd, "/", o.failures_dir);
  return absl::OkStatus();
}

// ---- Output files ----------------------------------------------------------

// A file named by a flag, opened before any work so that an unwritable path
// fails in a second, not after an hour of checking.
class OutputFile {
 public:
  OutputFile() = default;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile() {
    if (f_ != nullptr) std::fclose(f_);
  }

  // "" when the path is empty (not requested) or opened; else the error.
  std::string open(const std::string& path, const char* flag) {
    path_ = path;
    if (path.empty()) return "";
    f_ = std::fopen(path.c_str(), "w");
    if (f_ == nullptr)
      return absl::StrCat(flag, "=", path, ": cannot open \"", path, "\" for writing");
    return "";
  }
  bool requested() const { return f_ != nullptr; }

  // "" on success; else an error naming the path.
  std::string write(const std::string& content) {
    const bool ok = std::fwrite(content.data(), 1, content.size(), f_) == content.size() &&
                    std::fclose(f_) == 0;
    f_ = nullptr;
    return ok ? "" : absl::StrCat("cannot write \"", path_, "\"");
  }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

// ---- list ------------------------------------------------------------------

bool matches(const std::string& name, const std::vector<std::string>& globs) {
  if (globs.empty()) return true;
  for (const std::string& g : globs)
    if (fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

// A usage error naming the first glob that matches no scenario.
std::string check_globs(const std::vector<std::string>& globs) {
  for (const std::string& g : globs) {
    bool any = false;
    for (const ScenarioEntry* e : kmodel::all_scenarios()) any |= fnmatch(g.c_str(), e->name.c_str(), 0) == 0;
    if (!any) return absl::StrCat("'", g, "' matches no scenario (see list)");
  }
  return "";
}

// list [GLOB...] [--profile=P] [--json=FILE|-]: the scenarios, or their JSON.
int cmd_list(const std::vector<std::string>& globs, const Options& o) {
  if (std::string err = check_globs(globs); !err.empty()) return usage_error(err);
  std::string json = "[";
  for (const ScenarioEntry* e : kmodel::all_scenarios()) {
    if (!matches(e->name, globs)) continue;
    std::string profiles, expect_json;
    for (auto [p, x] : e->expect) {
      if (o.profile && *o.profile != p) continue;
      absl::StrAppend(&profiles, profiles.empty() ? "" : ", ", kmodel::profile_name(p), "=",
                      x.describe());
      absl::StrAppend(&expect_json, expect_json.empty() ? "" : ", ",
                      streamcheck::json_quote(kmodel::profile_name(p)), ": ",
                      streamcheck::json_quote(x.describe()));
    }
    if (profiles.empty()) continue;  // not checked under --profile
    if (!o.json_path.empty()) {
      absl::StrAppend(&json, json.size() > 1 ? ",\n " : "\n ", "{\"name\": ",
                      streamcheck::json_quote(e->name), ", \"description\": ",
                      streamcheck::json_quote(e->description), ", \"cpus\": ", e->config.cpus,
                      ", \"runs\": ", e->config.iterations, ", \"expect\": {", expect_json, "}}");
      continue;
    }
    std::printf("%-44s cpus=%d runs=%llu  [%s]\n    %s\n", e->name.c_str(), e->config.cpus,
                static_cast<unsigned long long>(e->config.iterations), profiles.c_str(),
                e->description.c_str());
  }
  if (o.json_path.empty()) return kExitPass;
  json += "\n]\n";
  if (o.json_path == "-") {
    std::fputs(json.c_str(), stdout);
    return kExitPass;
  }
  OutputFile out;
  if (std::string err = out.open(o.json_path, "--json"); !err.empty()) return usage_error(err);
  if (std::string err = out.write(json); !err.empty()) return usage_error(err);
  return kExitPass;
}

// ---- run -------------------------------------------------------------------

kmodel::Config config_for(const ScenarioEntry& e, const Options& o) {
  kmodel::Config c = e.config;
  if (o.iterations != 0) c.iterations = o.iterations;
  if (o.seed != 0) c.seed = o.seed;
  if (o.strategy) c.strategy = *o.strategy;
  if (o.time_budget_s) c.time_budget_s = *o.time_budget_s;
  if (o.cpus != 0) c.cpus = o.cpus;
  c.shard_index = o.shard.index;
  c.shard_count = o.shard.count;
  return c;
}

// Long schedules are replayed from their failure file: a command line of
// 100 K characters fails with "Argument list too long".
constexpr std::size_t kLongSchedule = 400;

std::string replay_command(const std::string& name, const std::string& schedule,
                           kmodel::Profile profile, const Options& o,
                           const std::string& file = "") {
  const std::string what = !file.empty() && schedule.size() > kLongSchedule
                               ? absl::StrCat("@", file)
                               : absl::StrCat("'", schedule, "'");
  std::string cmd = absl::StrCat("streamcheck replay ", name, " ", what, " --profile=",
                                 kmodel::profile_name(profile));
  if (o.cpus != 0) absl::StrAppend(&cmd, " --cpus=", o.cpus);
  return cmd;
}

// Writes a failing schedule to its own file in --failures-dir, named by the
// scenario, profile and a hash of the schedule (like libFuzzer's crash-*).
// Returns the path, or "" (no directory, or nothing to replay).
std::string write_failure_file(const kmodel::ScenarioVerdict& v, const Options& o) {
  const kmodel::RunResult& f = *v.result.failure;
  if (o.failures_dir.empty() || f.schedule().empty() || f.decisions.empty()) return "";
  ::mkdir(o.failures_dir.c_str(), 0777);  // an existing directory is fine
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : f.schedule()) h = (h ^ c) * 1099511628211ull;
  std::string name = v.entry->name;
  for (char& c : name)
    if (c == '/') c = '_';
  const std::string path =
      absl::StrCat(o.failures_dir, "/failure-", name, "-", kmodel::profile_name(v.profile), "-",
                   absl::Hex(h, absl::kZeroPad16), ".txt");
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) {
    std::fprintf(stderr, "streamcheck: cannot write the failure file \"%s\"\n", path.c_str());
    return "";
  }
  const bool ok = std::fprintf(out, "%s\n", f.schedule().c_str()) > 0;
  if (std::fclose(out) != 0 || !ok) return "";
  return path;
}

// What the run printed for one check beyond its one-line verdict.
void print_details(const kmodel::ScenarioVerdict& v, const Options& o) {
  const kmodel::CheckResult& r = v.result;
  const bool met = v.met();
  if (!met)
    std::printf("  expected: %s\n  got:      %s\n", v.expect.describe().c_str(), v.got().c_str());
  if (!r.failure) return;
  const kmodel::RunResult& f = *r.failure;
  const std::string file = write_failure_file(v, o);
  if (met && !o.verbose) return;  // an expected finding: its schedule is in the file
  if (!file.empty()) std::printf("  schedule file: %s\n", file.c_str());
  const std::string replay = replay_command(v.entry->name, f.schedule(), v.profile, o, file);
  if (met) {  // the expected violation, with --verbose: short
    std::printf("  found as expected: %s: %s\n  replay: %s\n", kmodel::failure_kind_name(f.kind),
                f.message.c_str(), replay.c_str());
    return;
  }
  if (f.outcome == kmodel::RunResult::Outcome::kBadInput) {
    std::printf("  the scenario could not be set up: this is not a finding\n\n");
    return;
  }
  std::printf("  run %llu; schedule shrunk from %zu to %zu decisions\n%s  replay: %s\n\n",
              static_cast<unsigned long long>(r.failing_run), r.original_length,
              f.decisions.size(), f.report(/*details=*/o.verbose).c_str(), replay.c_str());
}

// One line per check: verdict, scenario, profile, expectation, outcome,
// strategy, runs, seed and time (a person reads the catalogue on one screen).
void print_verdict_line(const kmodel::ScenarioVerdict& v, std::uint64_t seed) {
  const kmodel::CheckResult& r = v.result;
  std::string notes;
  if (r.exhausted) notes += ", exhausted";
  if (r.out_of_time) notes += ", out of time";
  std::printf("%-4s %-44s %-10s expect %-9s got %-14s (%s, %llu runs, seed %llu, %.2f s%s)\n",
              v.met() ? "ok" : "FAIL", v.entry->name.c_str(), kmodel::profile_name(v.profile),
              streamcheck::expect_name(v.expect),
              r.ok() ? "pass" : kmodel::failure_kind_name(r.failure->kind),
              kmodel::strategy_name(r.strategy), static_cast<unsigned long long>(r.runs),
              static_cast<unsigned long long>(seed), r.seconds, notes.c_str());
}

// State of a `run` across its checks.
struct RunState {
  const Options& options;
  streamcheck::Progress progress;
  Report report;
  std::optional<kmodel::RunResult> first_failure;
  std::optional<kmodel::RunResult> last_run;  // kept only for --trace-out
  bool keep_last_run = false;
};

kmodel::ScenarioVerdict check_one(const ScenarioEntry& e, kmodel::Profile profile,
                                  const Expectation& expect, RunState& st) {
  const kmodel::Config config = config_for(e, st.options);
  const bool exhaustive = config.strategy == kmodel::StrategyKind::kExhaustive;
  st.progress.begin(absl::StrCat(e.name, " ", kmodel::profile_name(profile)),
                    exhaustive ? 0 : streamcheck::shard_runs(config.iterations, st.options.shard),
                    config.time_budget_s);
  kmodel::ScopedProfile scoped(profile);
  kmodel::ScenarioVerdict v{&e, profile, expect,
                            kmodel::check(config, e.scenario,
                                          [&st](std::uint64_t, const kmodel::RunResult& r) {
                                            st.progress.on_run();
                                            if (st.keep_last_run) st.last_run = r;
                                          }),
                            config.shard_count <= 1};
  st.progress.end();
  st.report.scenarios.push_back(streamcheck::scenario_report(v, config));
  if (v.result.failure && !st.first_failure) st.first_failure = v.result.failure;
  return v;
}

int cmd_run(const std::vector<std::string>& globs, const Options& o) {
  OutputFile json, trace;
  if (std::string err = json.open(o.json_path, "--json"); !err.empty()) return usage_error(err);
  if (std::string err = trace.open(o.trace_path, "--trace-out"); !err.empty())
    return usage_error(err);
  using Mode = streamcheck::Progress::Mode;
  const Mode progress = o.quiet                           ? Mode::kOff
                        : isatty(STDERR_FILENO) != 0      ? Mode::kTerminal
                                                          : Mode::kLog;
  RunState st{o, streamcheck::Progress(progress, stderr), {}, {}, {}, false};
  st.report.shards = {o.shard};
  st.keep_last_run = trace.requested();
  const absl::Time start = absl::Now();
  std::uint64_t not_applicable = 0, expected_findings = 0;
  stop_on_sigint();
  for (const ScenarioEntry* e : kmodel::all_scenarios()) {
    if (g_interrupted) break;
    if (!matches(e->name, globs)) continue;
    for (auto [profile, expect] : e->expect) {
      if (g_interrupted) break;
      if (o.profile && *o.profile != profile) continue;
      if (const std::string* why = e->not_applicable(config_for(*e, o).strategy, profile)) {
        if (!o.quiet)
          std::printf("n/a  %-44s %-10s expect %-9s under %s: %s\n", e->name.c_str(),
                      kmodel::profile_name(profile), streamcheck::expect_name(expect),
                      kmodel::strategy_name(config_for(*e, o).strategy), why->c_str());
        ++not_applicable;
        continue;
      }
      const kmodel::ScenarioVerdict v = check_one(*e, profile, expect, st);
      if (!o.quiet || !v.met()) print_verdict_line(v, config_for(*e, o).seed);
      print_details(v, o);
      if (v.met() && v.result.failure) ++expected_findings;
      std::fflush(stdout);
    }
  }
  const streamcheck::Summary sum = st.report.summary();
  if (sum.checks == 0 && not_applicable == 0 && !g_interrupted)
    return usage_error("no scenario matches the given names and --profile");
  if (g_interrupted)
    std::printf("streamcheck: interrupted (Ctrl-C): the summary and --json cover the checks "
                "that completed\n");
  std::printf("streamcheck: %llu checks, %llu expectations met, %llu not met, %llu not applicable "
              "(shard %s, %.1f s)\n",
              static_cast<unsigned long long>(sum.checks),
              static_cast<unsigned long long>(sum.met),
              static_cast<unsigned long long>(sum.unmet),
              static_cast<unsigned long long>(not_applicable), o.shard.str().c_str(),
              absl::ToDoubleSeconds(absl::Now() - start));
  if (expected_findings != 0 && !o.verbose && !o.failures_dir.empty())
    std::printf("streamcheck: the schedules of the %llu expected findings are in %s "
                "(--verbose prints them with their replay commands)\n",
                static_cast<unsigned long long>(expected_findings), o.failures_dir.c_str());
  if (json.requested())
    if (std::string err = json.write(streamcheck::report_to_json(st.report)); !err.empty())
      return usage_error(err);
  if (trace.requested()) {
    const kmodel::RunResult& run = st.first_failure   ? *st.first_failure
                                   : st.last_run      ? *st.last_run
                                                      : kmodel::RunResult{};
    if (std::string err = trace.write(streamcheck::chrome_trace_json(run)); !err.empty())
      return usage_error(err);
  }
  if (g_interrupted) return kExitInterrupted;
  return sum.unmet == 0 ? kExitPass : kExitViolation;
}

// ---- replay ----------------------------------------------------------------

// "" on success; else an error naming the file.
std::string read_text(const std::string& path, std::string& out) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::StrCat("cannot read \"", path, "\"");
    text << in.rdbuf();
    if (in.bad()) return absl::StrCat("cannot read \"", path, "\"");
  }
  out = text.str();
  return "";
}

// What `replay` runs: the schedule, and the profile and CPU count a report
// entry names (the flags still win).
struct ReplayInput {
  std::string schedule;
  std::optional<kmodel::Profile> profile;
  int cpus = 0;
};

// SCHEDULE is a schedule string, '-' (stdin) or @FILE: a schedule, or a
// --json report whose entry for `name` has a failure.
std::string resolve_schedule(const std::string& name, const std::string& arg, const Options& o,
                             ReplayInput& in) {
  if (arg != "-" && (arg.empty() || arg[0] != '@')) {
    in.schedule = arg;
    return "";
  }
  const std::string path = arg == "-" ? "-" : arg.substr(1);
  std::string text;
  if (std::string err = read_text(path, text); !err.empty()) return err;
  const absl::string_view stripped = absl::StripAsciiWhitespace(text);
  const std::string trimmed(stripped.data(), stripped.size());
  if (trimmed.empty() || trimmed[0] != '{') {
    in.schedule = trimmed;
    return "";
  }
  absl::StatusOr<Report> report = streamcheck::report_from_json(trimmed);
  if (!report.ok())
    return absl::StrCat(path, ": not a valid streamcheck report: ", report.status().message());
  for (const ScenarioReport& e : report->scenarios) {
    if (e.name != name || !e.failure) continue;
    if (o.profile && kmodel::profile_name(*o.profile) != e.profile) continue;
    absl::StatusOr<kmodel::Profile> p = kmodel::parse_profile(e.profile);
    if (!p.ok()) return absl::StrCat(path, ": ", p.status().message());
    in.schedule = e.failure->schedule;
    in.profile = *p;
    in.cpus = e.cpus;
    return "";
  }
  return absl::StrCat(path, ": the report has no failure of ", name,
                      o.profile ? absl::StrCat(" under ", kmodel::profile_name(*o.profile)) : "");
}

int cmd_replay(const std::string& name, const std::string& arg, const Options& o) {
  OutputFile trace;
  if (std::string err = trace.open(o.trace_path, "--trace-out"); !err.empty())
    return usage_error(err);
  for (const ScenarioEntry* e : kmodel::all_scenarios()) {
    if (e->name != name) continue;
    ReplayInput in;
    if (std::string err = resolve_schedule(name, arg, o, in); !err.empty())
      return usage_error(err);
    const std::string& schedule = in.schedule;
    const kmodel::Profile profile =
        o.profile.value_or(in.profile.value_or(kmodel::current_profile()));
    std::string listed;
    bool checked_under = false;
    for (auto [p, x] : e->expect) {
      absl::StrAppend(&listed, listed.empty() ? "" : ", ", kmodel::profile_name(p));
      checked_under |= p == profile;
    }
    if (!checked_under)
      return usage_error(absl::StrCat(name, " is not checked under ", kmodel::profile_name(profile),
                                      ": give --profile= one of ", listed));
    kmodel::Config config = e->config;
    if (in.cpus != 0) config.cpus = in.cpus;
    if (o.cpus != 0) config.cpus = o.cpus;
    kmodel::ScopedProfile scoped(profile);
    absl::StatusOr<kmodel::RunResult> r = kmodel::replay(config, e->scenario, schedule);
    const std::string shown =
        schedule.size() > 80 ? absl::StrCat(schedule.substr(0, 80), "...") : schedule;
    if (!r.ok()) return usage_error(absl::StrCat("schedule '", shown, "': ", r.status().message()));
    // The whole timeline, once (report() would add its tail before it).
    std::printf("%s under %s: %s", name.c_str(), kmodel::profile_name(profile),
                r->summary().c_str());
    // With each step's values and caller: a replay is the close look.
    if (!r->trace.events().empty())
      std::printf("%s", r->trace.timeline(r->cpus, 200, /*details=*/true).c_str());
    if (trace.requested())
      if (std::string err = trace.write(streamcheck::chrome_trace_json(*r)); !err.empty())
        return usage_error(err);
    // A schedule that does not fit the scenario is the caller's mistake
    // (another scenario, profile or CPU count), not a finding.
    if (r->outcome == kmodel::RunResult::Outcome::kDivergence)
      return usage_error(absl::StrCat("schedule '", shown, "' does not fit ", name, " under ",
                                      kmodel::profile_name(profile), ": ", r->message));
    return r->ok() ? kExitPass : kExitViolation;
  }
  return usage_error(absl::StrCat("scenario \"", name, "\": not in the catalogue (see list)"));
}

// ---- merge -----------------------------------------------------------------

// "" on success; else an error naming the file.
std::string read_report(const std::string& path, Report& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::StrCat("cannot read \"", path, "\"");
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::StrCat("cannot read \"", path, "\"");
  absl::StatusOr<Report> r = streamcheck::report_from_json(text.str());
  if (!r.ok()) return absl::StrCat(path, ": not a valid streamcheck report: ", r.status().message());
  out = *std::move(r);
  return "";
}

// Whether two paths name the same existing file.
bool same_file(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

int cmd_merge(const std::vector<std::string>& args, const Options& o) {
  if (args.empty()) return usage_error("merge takes at least one IN.json (and --out=FILE)");
  for (const std::string& in : args)
    if (!o.out_path.empty() && (in == o.out_path || same_file(in, o.out_path)))
      return usage_error(absl::StrCat("merge --out=", o.out_path, ": is also an input; ",
                                      "merge never overwrites an input"));
  std::vector<Report> inputs(args.size());
  for (std::size_t i = 0; i < args.size(); ++i)
    if (std::string err = read_report(args[i], inputs[i]); !err.empty()) return usage_error(err);
  absl::StatusOr<Report> merged = streamcheck::merge_reports(inputs);
  if (!merged.ok()) return usage_error(absl::StrCat("merge: ", merged.status().message()));
  if (!o.out_path.empty()) {
    OutputFile out;
    if (std::string err = out.open(o.out_path, "--out"); !err.empty()) return usage_error(err);
    if (std::string err = out.write(streamcheck::report_to_json(*merged)); !err.empty())
      return usage_error(err);
  }
  const streamcheck::Summary s = merged->summary();
  std::printf("streamcheck merge: %zu reports, %llu checks, %llu met, %llu not met, %llu runs\n",
              inputs.size(), static_cast<unsigned long long>(s.checks),
              static_cast<unsigned long long>(s.met), static_cast<unsigned long long>(s.unmet),
              static_cast<unsigned long long>(s.runs));
  for (const ScenarioReport& e : merged->scenarios)
    if (!e.met)
      std::printf("FAIL %s %s\n  expected: %s\n  got:      %s\n", e.name.c_str(), e.profile.c_str(),
                  streamcheck::expectation_of(e).describe().c_str(),
                  e.failure ? absl::StrCat(e.failure->kind, ": ", e.failure->message).c_str()
                            : absl::StrCat("pass (", e.runs, " runs)").c_str());
  return s.unmet == 0 ? kExitPass : kExitViolation;
}

int dispatch(const std::string& cmd, const std::vector<std::string>& args, const Options& o) {
  if (cmd == "list") {
    if (std::string err = check_flags_for("list", {"profile", "json"}); !err.empty())
      return usage_error(err);
    return cmd_list(args, o);
  }
  if (cmd == "run") {
    if (std::string err = check_flags_for("run", {"iterations", "seed", "profile", "strategy",
                                                  "time_budget", "cpus", "shard", "json",
                                                  "failures_dir", "trace_out", "verbose",
                                                  "quiet"});
        !err.empty())
      return usage_error(err);
    if (std::string err = check_globs(args); !err.empty()) return usage_error(err);
    return cmd_run(args, o);
  }
  if (cmd == "replay") {
    if (std::string err = check_flags_for("replay", {"profile", "cpus", "trace_out"}); !err.empty())
      return usage_error(err);
    if (args.size() != 2) return usage_error("replay takes SCENARIO and SCHEDULE");
    return cmd_replay(args[0], args[1], o);
  }
  if (cmd == "merge") {
    if (std::string err = check_flags_for("merge", {"out"}); !err.empty()) return usage_error(err);
    return cmd_merge(args, o);
  }
  return usage_error(absl::StrCat("unknown command \"", cmd, "\""));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<std::string> args(argv, argv + argc);
  if (wants_help(args)) {
    // Abseil's --help exits with 1, which means "violation" here.
    std::printf("%s\n", kUsage);
    return kExitPass;
  }
  if (wants_version(args)) {
    std::printf("streamcheck %s (BPF streams reference model; profiles:", kVersion);
    for (kmodel::Profile p : kmodel::kAllProfiles) std::printf(" %s", kmodel::profile_name(p));
    std::printf(")\nbuild: %s\n", build_description().c_str());
    return kExitPass;
  }
  if (std::string err = normalize_flags(args); !err.empty()) return usage_error(err);
  std::vector<char*> argp;
  for (std::string& a : args) argp.push_back(a.data());
  std::vector<char*> rest = absl::ParseCommandLine(static_cast<int>(argp.size()), argp.data());
  Options options;
  if (absl::Status st = parse_options(options); !st.ok())
    return usage_error(std::string(st.message()));
  if (rest.size() < 2) return usage_error("missing command (list, run, replay or merge)");
  return dispatch(rest[1], std::vector<std::string>(rest.begin() + 2, rest.end()), options);
}
