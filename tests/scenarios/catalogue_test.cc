// The whole scenario catalogue, every scenario under every profile it lists,
// each compared with the catalogue's expectation (no violation, or the known
// or seeded violation found).
//
// Bazel test sharding (shard_count in BUILD.bazel, or --test_sharding_strategy
// on remote execution) splits the work: Bazel sets TEST_TOTAL_SHARDS and
// TEST_SHARD_INDEX, and this shard checks the (scenario, profile) pairs k
// with k % TEST_TOTAL_SHARDS == TEST_SHARD_INDEX, in catalogue order. Pairs,
// not runs, are partitioned: each pair is then judged whole, and the split
// is deterministic. Run alone (no variables) it checks everything.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "model/profile.h"
#include "scenarios/catalogue.h"

namespace {

struct TestShard {
  std::uint64_t index = 0;
  std::uint64_t total = 1;
};

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  std::uint64_t n = 0;
  if (v == nullptr || *v == '\0') return fallback;
  INFO(name << "=" << v);
  REQUIRE(absl::SimpleAtoi(v, &n));
  return n;
}

// Reads Bazel's sharding variables and tells Bazel this test shards (by
// touching TEST_SHARD_STATUS_FILE), so it does not run every shard in full.
TestShard this_shard() {
  TestShard s{env_number("TEST_SHARD_INDEX", 0), env_number("TEST_TOTAL_SHARDS", 1)};
  REQUIRE(s.total >= 1);
  REQUIRE(s.index < s.total);
  if (const char* status = std::getenv("TEST_SHARD_STATUS_FILE"); status && *status) {
    std::ofstream touch(status, std::ios::app);
    REQUIRE(touch.good());
  }
  return s;
}

struct Pair {
  const kmodel::ScenarioEntry* entry;
  kmodel::Profile profile;
  kmodel::Expectation expect;
};

std::vector<Pair> all_pairs() {
  std::vector<Pair> pairs;
  for (const kmodel::ScenarioEntry* e : kmodel::all_scenarios())
    for (const auto& [profile, expect] : e->expect) pairs.push_back({e, profile, expect});
  return pairs;
}

// Checks this shard's pairs under `strategy` with each entry's own budget
// (the catalogue's strategy is random). Expected violations that the
// catalogue marks not applicable to a strategy are skipped with its reason;
// expected passes must hold under every strategy (no false hang, no
// spurious failure).
void check_pairs(kmodel::StrategyKind strategy) {
  const TestShard shard = this_shard();
  const std::vector<Pair> pairs = all_pairs();
  REQUIRE_FALSE(pairs.empty());
  std::uint64_t mine = 0;
  for (std::size_t k = 0; k < pairs.size(); ++k) {
    if (k % shard.total != shard.index) continue;
    ++mine;
    const Pair& p = pairs[k];
    if (const std::string* why = p.entry->not_applicable(strategy, p.profile)) {
      WARN(p.entry->name << " under " << kmodel::strategy_name(strategy) << ": n/a: " << *why);
      continue;
    }
    kmodel::ScopedProfile scoped(p.profile);
    kmodel::Config config = p.entry->config;
    config.strategy = strategy;
    const kmodel::Verdict v = kmodel::check_expecting(config, p.entry->scenario, p.expect);
    INFO(p.entry->name << " under " << kmodel::profile_name(p.profile) << " ("
                       << kmodel::strategy_name(strategy) << "): expect " << v.expected
                       << ", got " << v.got);
    INFO(v.result.report());
    CHECK(v.met);  // CHECK, not REQUIRE: one shard reports all its unmet pairs
  }
  // Every pair belongs to exactly one shard.
  CHECK(mine == (pairs.size() + shard.total - 1 - shard.index) / shard.total);
}

}  // namespace

TEST_CASE("catalogue: every scenario meets its expectation under every profile (this shard)",
          "[random]") {
  check_pairs(kmodel::StrategyKind::kRandom);
}

TEST_CASE("catalogue under PCT: the same expectations hold", "[pct]") {
  check_pairs(kmodel::StrategyKind::kPct);
}

TEST_CASE("catalogue under bounded exhaustive search: the same expectations hold",
          "[exhaustive]") {
  check_pairs(kmodel::StrategyKind::kExhaustive);
}
