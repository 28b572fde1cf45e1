// Command-line value parsing (cli/options.h): --shard, --cpus and friends
// accept what the docs promise and reject the rest with a message naming
// the flag and the value.
#include <catch2/catch.hpp>

#include <string>

#include "cli/options.h"
#include "model/types.h"

using streamcheck::Shard;

namespace {

std::string error_of(std::string_view shard) {
  absl::StatusOr<Shard> s = streamcheck::parse_shard(shard);
  REQUIRE_FALSE(s.ok());
  return std::string(s.status().message());
}

}  // namespace

TEST_CASE("--shard accepts i/n with 0 <= i < n") {
  CHECK(*streamcheck::parse_shard("0/1") == Shard{0, 1});
  CHECK(*streamcheck::parse_shard("3/4") == Shard{3, 4});
  CHECK(*streamcheck::parse_shard("12/100") == Shard{12, 100});
  CHECK(Shard{2, 8}.str() == "2/8");
}

TEST_CASE("--shard rejects malformed and out-of-range values, naming flag and value") {
  for (const char* bad : {"", "1", "a/b", "1/", "/4", "-1/4", "1/-4", "+1/4", " 1/4", "1/4/5",
                          "1.0/4", "0/0", "4/4", "5/4", "99999999999999999999999/2"}) {
    INFO(bad);
    const std::string message = error_of(bad);
    CHECK_THAT(message, Catch::StartsWith(std::string("--shard=") + bad + ":"));
  }
  CHECK_THAT(error_of("4/4"), Catch::Contains("below n"));
  CHECK_THAT(error_of("0/0"), Catch::Contains("at least 1"));
}

TEST_CASE("--cpus accepts 1..NR_CPUS") {
  CHECK(*streamcheck::parse_cpus("1") == 1);
  CHECK(*streamcheck::parse_cpus(std::to_string(kmodel::NR_CPUS)) == kmodel::NR_CPUS);
  for (const std::string& bad : {std::string("0"), std::to_string(kmodel::NR_CPUS + 1),
                                std::string("-2"), std::string("two"), std::string("")}) {
    INFO(bad);
    absl::StatusOr<int> n = streamcheck::parse_cpus(bad);
    REQUIRE_FALSE(n.ok());
    CHECK_THAT(std::string(n.status().message()), Catch::StartsWith("--cpus=" + bad + ":"));
  }
}

TEST_CASE("counts and seconds") {
  CHECK(*streamcheck::parse_count("0", "--seed") == 0);
  CHECK(*streamcheck::parse_count("18446744073709551615", "--seed") == UINT64_MAX);
  CHECK_FALSE(streamcheck::parse_count("18446744073709551616", "--seed").ok());
  CHECK_FALSE(streamcheck::parse_count("1e3", "--iterations").ok());
  CHECK(*streamcheck::parse_seconds("2.5", "--time_budget") == 2.5);
  CHECK_FALSE(streamcheck::parse_seconds("-1", "--time_budget").ok());
  CHECK_FALSE(streamcheck::parse_seconds("soon", "--time_budget").ok());
  CHECK_FALSE(streamcheck::parse_seconds("inf", "--time_budget").ok());
}

TEST_CASE("shard_runs counts the runs i < iterations with i % n == index") {
  for (std::uint64_t iterations : {0, 1, 5, 10, 11}) {
    for (std::uint64_t n : {1, 3, 4}) {
      std::uint64_t total = 0;
      for (std::uint64_t i = 0; i < n; ++i) {
        std::uint64_t expected = 0;
        for (std::uint64_t run = 0; run < iterations; ++run) expected += run % n == i;
        CHECK(streamcheck::shard_runs(iterations, Shard{i, n}) == expected);
        total += streamcheck::shard_runs(iterations, Shard{i, n});
      }
      CHECK(total == iterations);
    }
  }
}
