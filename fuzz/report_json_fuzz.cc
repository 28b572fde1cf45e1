// fuzz/report_json_fuzz.cc: arbitrary text through the JSON parser and the
// report reader and merger of `streamcheck merge` (cli/json.h,
// cli/report_json.h).
//
// The input is split at NUL bytes into up to four documents. Properties:
// never a crash (nesting is bounded, so no stack overflow either); errors
// are InvalidArgument with a message; a report that reads back writes a
// JSON text that reads back to the same report (written identically, equal
// but for seconds, which are written to the microsecond); a
// merge of reports that read back is an error or a report that again
// writes and reads back, with as many shards as its inputs.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "cli/json.h"
#include "cli/report_json.h"
#include "fuzz/fuzz_util.h"

using namespace streamcheck;

namespace {

template <typename T>
void check_error(const absl::StatusOr<T>& r) {
  FUZZ_CHECK(r.status().code() == absl::StatusCode::kInvalidArgument, "status %s",
             r.status().ToString().c_str());
  FUZZ_CHECK(!r.status().message().empty(), "error without a message");
}

// The entries without their timings: the writer keeps seconds to the
// microsecond (json_seconds), by design.
std::vector<ScenarioReport> untimed(std::vector<ScenarioReport> v) {
  for (ScenarioReport& e : v) e.seconds = 0;
  return v;
}

// Writes `r`, reads it back, and checks the round trip; returns the text.
std::string round_trip(const Report& r) {
  const std::string text = report_to_json(r);
  auto back = report_from_json(text);
  FUZZ_CHECK(back.ok(), "a written report does not read back: %s\n%s",
             back.status().ToString().c_str(), text.c_str());
  FUZZ_CHECK(report_to_json(*back) == text, "round trip changed the report:\n%s", text.c_str());
  FUZZ_CHECK(untimed(back->scenarios) == untimed(r.scenarios), "round trip changed the entries");
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<Report> reports;
  int docs = 0;
  for (absl::string_view piece : absl::StrSplit(absl::string_view(input.data(), input.size()), '\0')) {
    if (++docs > 4) break;
    const std::string_view doc(piece.data(), piece.size());
    auto json = parse_json(doc);
    if (!json.ok()) check_error(json);
    auto report = report_from_json(doc);
    if (!report.ok()) {
      check_error(report);
      continue;
    }
    round_trip(*report);
    reports.push_back(*std::move(report));
  }
  if (reports.empty()) return 0;
  auto merged = merge_reports(reports);
  if (!merged.ok()) {
    check_error(merged);
    return 0;
  }
  std::size_t shards = 0;
  for (const Report& r : reports) shards += r.shards.size();
  FUZZ_CHECK(merged->shards.size() == shards, "merge has %zu shards, inputs %zu",
             merged->shards.size(), shards);
  round_trip(*merged);
  return 0;
}
