// tests/soak/stream_soak_main.cc: the soak as one command (stream_soak.h).
//
//   bazel run -c opt //tests/soak:stream_soak -- --seconds=60
//       [--profile=seed|linux-6.18|mainline|all] [--cpus=N] [--faults=P] [--seed=S]
//
// Prints the totals; exits 1 when a check failed, 2 for a bad flag.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "model/cpu.h"
#include "tests/soak/stream_soak.h"

using namespace kmodel;

namespace {

bool flag(const char* arg, const char* name, std::string* value) {
  const std::size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *value = arg + n + 1;
  return true;
}

bool parse_number(const std::string& s, double* out) {
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return !s.empty() && *end == '\0' && *out >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  soak::SoakOptions opt;
  opt.seconds = 60;
  std::vector<Profile> profiles = {Profile::kLinux618};
  for (int i = 1; i < argc; i++) {
    std::string v;
    double d = 0;
    if (flag(argv[i], "--seconds", &v) && parse_number(v, &d) && d > 0) {
      opt.seconds = d;
    } else if (flag(argv[i], "--cpus", &v) && parse_number(v, &d) && d >= 2) {
      opt.cpus = static_cast<int>(d);
    } else if (flag(argv[i], "--faults", &v) && parse_number(v, &d) && d <= 1) {
      opt.fault_probability = d;
    } else if (flag(argv[i], "--seed", &v) && parse_number(v, &d)) {
      opt.seed = static_cast<std::uint64_t>(d);
    } else if (flag(argv[i], "--profile", &v) &&
               (v == "all" || v == "seed" || v == "linux-6.18" || v == "mainline")) {
      if (v == "all") profiles = {Profile::kSeed, Profile::kLinux618, Profile::kMainline};
      else if (v == "seed") profiles = {Profile::kSeed};
      else if (v == "mainline") profiles = {Profile::kMainline};
      else profiles = {Profile::kLinux618};
    } else {
      std::fprintf(stderr,
                   "stream_soak: bad argument \"%s\" (expected --seconds=S>0, --cpus=N>=2, "
                   "--faults=P in [0,1], --seed=N, --profile=seed|linux-6.18|mainline|all)\n",
                   argv[i]);
      return 2;
    }
  }
  bool ok = true;
  for (Profile p : profiles) {
    std::printf("stream_soak: profile %s, %.0f s, cpus %d, page faults p=%g, seed %llu\n",
                profile_name(p), opt.seconds, opt.cpus ? opt.cpus : num_possible_cpus(),
                opt.fault_probability,
                static_cast<unsigned long long>(opt.seed));
    std::fflush(stdout);
    opt.profile = p;
    const soak::SoakResult r = soak::run_stream_soak(opt);
    std::printf("%s", r.summary().c_str());
    ok = ok && r.ok;
  }
  return ok ? 0 : 1;
}
