// Replays every committed input of one fuzz target (FUZZ_TARGET, set by the
// BUILD file): fuzz/corpus/<target>/ and fuzz/regressions/<target>/. An
// input that crashes or violates a FUZZ_CHECK aborts the test; an input
// directory that is missing or empty fails it (a replay of nothing is not
// green).
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"

#define KMODEL_STR2(x) #x
#define KMODEL_STR(x) KMODEL_STR2(x)

namespace {

std::filesystem::path runfiles_dir(const std::string& rel) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  REQUIRE(srcdir != nullptr);
  return std::filesystem::path(srcdir) / (workspace ? workspace : "bpf_streams_model") / rel;
}

int replay_dir(const std::filesystem::path& dir) {
  int n = 0;
  if (!std::filesystem::is_directory(dir)) return 0;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO("input " << f.string());
    // Abort (crash or FUZZ_CHECK) names the input through stderr.
    std::fprintf(stderr, "replay %s\n", f.filename().c_str());
    CHECK(LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()) == 0);
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("fuzz target " KMODEL_STR(FUZZ_TARGET) ": every corpus and regression input passes") {
  const std::string target = KMODEL_STR(FUZZ_TARGET);
  const int corpus = replay_dir(runfiles_dir("fuzz/corpus/" + target));
  const int regressions = replay_dir(runfiles_dir("fuzz/regressions/" + target));
  INFO(corpus << " corpus inputs, " << regressions << " regressions");
  CHECK(corpus > 0);
}
