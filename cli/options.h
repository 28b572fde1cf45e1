// cli/options.h: parsing of streamcheck's command-line values.
//
// Kept apart from main() so tests can check the error messages. Every error
// is an InvalidArgument status whose message names the flag and the value
// as given, e.g. `--shard=3/2: the index must be below the count`.
#ifndef KMODEL_CLI_OPTIONS_H_
#define KMODEL_CLI_OPTIONS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace streamcheck {

// One part of a partitioned check: runs i with i % count == index.
struct Shard {
  std::uint64_t index = 0;
  std::uint64_t count = 1;
  bool operator==(const Shard&) const = default;
  std::string str() const;  // "index/count"
};

// "i/n" with 0 <= i < n; `flag` names the flag in errors ("--shard").
absl::StatusOr<Shard> parse_shard(std::string_view text, std::string_view flag = "--shard");

// A CPU count override: 1 .. NR_CPUS.
absl::StatusOr<int> parse_cpus(std::string_view text);

// A non-negative integer (e.g. --iterations, --seed).
absl::StatusOr<std::uint64_t> parse_count(std::string_view text, std::string_view flag);

// Seconds >= 0 (0: no budget).
absl::StatusOr<double> parse_seconds(std::string_view text, std::string_view flag);

// How many of the runs 0 .. iterations-1 a shard owns.
std::uint64_t shard_runs(std::uint64_t iterations, const Shard& shard);

}  // namespace streamcheck

#endif  // KMODEL_CLI_OPTIONS_H_
