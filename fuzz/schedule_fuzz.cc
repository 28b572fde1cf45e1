// fuzz/schedule_fuzz.cc: arbitrary text through parse_schedule()
// (model/sim/schedule.h), the parser of `streamcheck replay` and of every
// failing run's replay string.
//
// Properties: never a crash; an error is InvalidArgument with a message; a
// parsed schedule re-encodes to a string that parses back to the same
// decisions minus the defaults the encoding leaves out (no interrupt, data
// choice 0), and that encoding is a fixed point.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "model/sim/schedule.h"

using namespace kmodel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_schedule(text);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument, "status %s",
               parsed.status().ToString().c_str());
    FUZZ_CHECK(!parsed.status().message().empty(), "error without a message");
    return 0;
  }
  // Bound the work: a short string may repeat an item 2^31 times.
  if (parsed->size() > 100000) return 0;
  std::vector<Decision> kept;
  for (const Decision& d : *parsed) {
    FUZZ_CHECK(d.value >= 0, "negative value %d", d.value);
    const bool is_default = (d.kind == Decision::Kind::kInterrupt || d.kind == Decision::Kind::kChoice) &&
                            d.value == 0;
    if (!is_default) kept.push_back(d);
  }
  const std::string encoded = encode_schedule(*parsed);
  auto again = parse_schedule(encoded);
  FUZZ_CHECK(again.ok(), "re-encoded schedule does not parse: %s -> %s", encoded.c_str(),
             again.status().ToString().c_str());
  FUZZ_CHECK(*again == kept, "round trip changed the decisions: %s", encoded.c_str());
  FUZZ_CHECK(encode_schedule(*again) == encoded, "encoding is not a fixed point: %s",
             encoded.c_str());
  return 0;
}
