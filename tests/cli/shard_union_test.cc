// Scale-out by sharding (Config::shard_index/shard_count, streamcheck
// --shard=i/n): the n shards of a check together explore exactly the
// schedules of the unsharded check, each exactly once.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "model/atomic.h"
#include "model/sim/check.h"

using namespace kmodel;

namespace {

// Small enough for the exhaustive search to finish, with enough
// nondeterminism (two CPUs, an NMI) for many distinct schedules.
void counters(Scenario& s) {
  auto a = std::make_shared<Atomic<int>>(0);
  auto b = std::make_shared<Atomic<int>>(0);
  s.on_cpu(0, [a, b] {
    atomic_inc(a.get());
    WRITE_ONCE(*b, 1);
  });
  s.on_cpu(1, [a, b] {
    (void)READ_ONCE(*b);
    atomic_inc(a.get());
  });
  s.nmi(0, [a] { atomic_inc(a.get()); });
}

std::vector<std::string> schedules(Config config) {
  std::vector<std::string> out;
  const CheckResult r = check(config, counters, [&out](std::uint64_t, const RunResult& run) {
    out.push_back(run.schedule());
  });
  INFO(r.report());
  CHECK(r.ok());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> union_of_shards(Config config, std::uint64_t n) {
  std::vector<std::string> all;
  config.shard_count = n;
  for (std::uint64_t i = 0; i < n; ++i) {
    config.shard_index = i;
    std::vector<std::string> part = schedules(config);
    INFO("shard " << i << "/" << n);
    CHECK_FALSE(part.empty());
    all.insert(all.end(), part.begin(), part.end());
  }
  std::sort(all.begin(), all.end());
  return all;
}

}  // namespace

TEST_CASE("sharding: random and PCT shards run exactly the unsharded runs (multiset)") {
  for (StrategyKind kind : {StrategyKind::kRandom, StrategyKind::kPct}) {
    Config config{.cpus = 2, .seed = 11, .iterations = 60, .interrupt_probability = 0.3};
    config.strategy = kind;
    const std::vector<std::string> whole = schedules(config);
    REQUIRE(whole.size() == 60);
    for (std::uint64_t n : {2, 3, 7}) {
      INFO(strategy_name(kind) << ", " << n << " shards");
      CHECK(union_of_shards(config, n) == whole);
    }
  }
}

TEST_CASE("sharding: exhaustive shards together explore the unsharded tree") {
  Config config{.cpus = 2, .seed = 1, .iterations = 100000};
  config.strategy = StrategyKind::kExhaustive;
  const std::vector<std::string> whole = schedules(config);
  REQUIRE(whole.size() > 1);
  const std::set<std::string> whole_set(whole.begin(), whole.end());
  for (std::uint64_t n : {2, 3}) {
    INFO(n << " shards");
    const std::vector<std::string> parts = union_of_shards(config, n);
    CHECK(std::set<std::string>(parts.begin(), parts.end()) == whole_set);
    CHECK(parts.size() == whole.size());  // no schedule explored twice
  }
}
