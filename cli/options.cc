#include "cli/options.h"

#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "model/types.h"

namespace streamcheck {
namespace {

absl::Status bad(std::string_view flag, std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(flag), "=", std::string(text), ": ", std::string(why)));
}

// absl::SimpleAtoi takes absl::string_view (not std::string_view here), and
// accepts a leading '+' and surrounding spaces; we want plain digits only.
bool plain_u64(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  for (const char c : text)
    if (c < '0' || c > '9') return false;
  return absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &out);
}

}  // namespace

std::string Shard::str() const { return absl::StrCat(index, "/", count); }

absl::StatusOr<Shard> parse_shard(std::string_view text, std::string_view flag) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos)
    return bad(flag, text, "expected i/n (shard i of n, 0 <= i < n), e.g. 0/4");
  Shard s;
  if (!plain_u64(text.substr(0, slash), s.index) || !plain_u64(text.substr(slash + 1), s.count))
    return bad(flag, text, "i and n must be non-negative integers, e.g. 0/4");
  if (s.count < 1) return bad(flag, text, "the shard count n must be at least 1");
  if (s.index >= s.count) return bad(flag, text, "the shard index i must be below n (0-based)");
  return s;
}

absl::StatusOr<int> parse_cpus(std::string_view text) {
  std::uint64_t n = 0;
  if (!plain_u64(text, n)) return bad("--cpus", text, "expected a number of CPUs");
  if (n < 1 || n > static_cast<std::uint64_t>(kmodel::NR_CPUS))
    return bad("--cpus", text, absl::StrCat("must be in 1..", kmodel::NR_CPUS, " (NR_CPUS)"));
  return static_cast<int>(n);
}

absl::StatusOr<std::uint64_t> parse_count(std::string_view text, std::string_view flag) {
  std::uint64_t n = 0;
  if (!plain_u64(text, n)) return bad(flag, text, "expected a non-negative integer");
  return n;
}

absl::StatusOr<double> parse_seconds(std::string_view text, std::string_view flag) {
  double s = 0;
  if (text.empty() || !absl::SimpleAtod(absl::string_view(text.data(), text.size()), &s) ||
      !std::isfinite(s) || s < 0)
    return bad(flag, text, "expected a number of seconds >= 0");
  return s;
}

std::uint64_t shard_runs(std::uint64_t iterations, const Shard& shard) {
  if (shard.index >= iterations) return 0;
  return (iterations - shard.index + shard.count - 1) / shard.count;
}

}  // namespace streamcheck
