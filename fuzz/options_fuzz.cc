// fuzz/options_fuzz.cc: arbitrary text through streamcheck's flag-value
// parsers (cli/options.h).
//
// Byte 0 picks the parser, the rest is the value. Properties: never a
// crash; an error is InvalidArgument whose message names the flag and
// quotes the value; an accepted value is in the documented range and
// prints back to a string that parses to the same value; shard_runs over
// all shards of a count adds up to the iterations.
#include <cmath>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/options.h"
#include "fuzz/fuzz_util.h"
#include "model/types.h"

using namespace streamcheck;

namespace {

template <typename T>
void check_error(const absl::StatusOr<T>& r, std::string_view flag, std::string_view text) {
  FUZZ_CHECK(r.status().code() == absl::StatusCode::kInvalidArgument, "status %s",
             r.status().ToString().c_str());
  const std::string want = absl::StrCat(std::string(flag), "=", std::string(text), ": ");
  FUZZ_CHECK(std::string(r.status().message()).substr(0, want.size()) == want,
             "message does not name the flag and value: %s",
             std::string(r.status().message()).c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto s = parse_shard(text, "--shard");
      if (!s.ok()) return check_error(s, "--shard", text), 0;
      FUZZ_CHECK(s->count >= 1 && s->index < s->count, "shard %s out of range", s->str().c_str());
      auto again = parse_shard(s->str(), "--shard");
      FUZZ_CHECK(again.ok() && *again == *s, "shard %s does not round-trip", s->str().c_str());
      if (s->count <= 64) {
        for (std::uint64_t iterations : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{97},
                                         s->index, s->count + 5}) {
          std::uint64_t total = 0;
          for (std::uint64_t i = 0; i < s->count; ++i) total += shard_runs(iterations, {i, s->count});
          FUZZ_CHECK(total == iterations, "shards of %s cover %llu of %llu runs",
                     s->str().c_str(), static_cast<unsigned long long>(total),
                     static_cast<unsigned long long>(iterations));
        }
      }
      break;
    }
    case 1: {
      auto n = parse_cpus(text);
      if (!n.ok()) return check_error(n, "--cpus", text), 0;
      FUZZ_CHECK(*n >= 1 && *n <= kmodel::NR_CPUS, "cpus %d out of range", *n);
      FUZZ_CHECK(*parse_cpus(absl::StrCat(*n)) == *n, "cpus do not round-trip");
      break;
    }
    case 2: {
      auto n = parse_count(text, "--iterations");
      if (!n.ok()) return check_error(n, "--iterations", text), 0;
      auto again = parse_count(absl::StrCat(*n), "--iterations");
      FUZZ_CHECK(again.ok() && *again == *n, "count does not round-trip");
      break;
    }
    case 3: {
      auto s = parse_seconds(text, "--time-budget");
      if (!s.ok()) return check_error(s, "--time-budget", text), 0;
      FUZZ_CHECK(std::isfinite(*s) && *s >= 0, "seconds %g out of range", *s);
      auto again = parse_seconds(absl::StrCat(*s), "--time-budget");
      FUZZ_CHECK(again.ok(), "seconds %g do not parse back", *s);
      break;
    }
  }
  return 0;
}
