#include "model/sim/schedule.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

KMODEL_NAMESPACE_BEGIN

namespace {

constexpr char kPrefix[] = "v1:";
constexpr std::size_t kPrefixLen = sizeof(kPrefix) - 1;
constexpr std::size_t kMaxDecisions = std::size_t{1} << 24;

std::string item_text(const Decision& d) {
  switch (d.kind) {
    case Decision::Kind::kCpu: return absl::StrCat(d.value);
    case Decision::Kind::kInterrupt: return absl::StrCat("!", d.value);
    case Decision::Kind::kChoice: return absl::StrCat("?", d.value);
  }
  return "";
}

bool is_default(const Decision& d) {
  return d.kind != Decision::Kind::kCpu && d.value == 0;
}

bool parse_number(std::string_view s, long max, long* out) {
  if (s.empty()) return false;
  long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0 || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

std::string encode_schedule(const std::vector<Decision>& decisions) {
  std::string out(kPrefix);
  std::string prev;
  long run = 0;
  auto flush = [&] {
    if (run == 0) return;
    if (out.size() > kPrefixLen) out += '.';
    out += prev;
    if (run > 1) absl::StrAppend(&out, "*", run);
  };
  for (const Decision& d : decisions) {
    if (is_default(d)) continue;
    std::string item = item_text(d);
    if (item == prev) {
      ++run;
      continue;
    }
    flush();
    prev = std::move(item);
    run = 1;
  }
  flush();
  return out;
}

absl::StatusOr<std::vector<Decision>> parse_schedule(std::string_view text) {
  if (text.substr(0, kPrefixLen) != kPrefix) {
    return absl::InvalidArgumentError(absl::StrCat(
        "schedule \"", std::string(text), "\": must start with \"", kPrefix, "\""));
  }
  std::vector<Decision> out;
  std::string_view body = text.substr(kPrefixLen);
  if (body.empty()) return out;
  int index = 0;
  for (absl::string_view piece : absl::StrSplit(absl::string_view(body.data(), body.size()), '.')) {
    const std::string_view token(piece.data(), piece.size());
    ++index;
    auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("schedule token ", index, " \"",
                                                     std::string(token), "\": ", std::string(why)));
    };
    std::string_view item = token;
    long count = 1;
    if (auto star = token.find('*'); star != std::string_view::npos) {
      item = token.substr(0, star);
      if (!parse_number(token.substr(star + 1), 1 << 30, &count) || count < 1)
        return bad("repeat count must be a number >= 1");
    }
    Decision d{Decision::Kind::kCpu, 0};
    if (!item.empty() && item[0] == '!') {
      d.kind = Decision::Kind::kInterrupt;
      item.remove_prefix(1);
    } else if (!item.empty() && item[0] == '?') {
      d.kind = Decision::Kind::kChoice;
      item.remove_prefix(1);
    }
    long value = 0;
    if (!parse_number(item, 1 << 20, &value))
      return bad("expected <cpu>, !<interrupt> or ?<choice> with a number");
    if (d.kind == Decision::Kind::kInterrupt && value == 0)
      return bad("interrupt numbers start at 1");
    d.value = static_cast<int>(value);
    if (out.size() + static_cast<std::size_t>(count) > kMaxDecisions)
      return bad(absl::StrCat("schedule longer than ", kMaxDecisions, " decisions"));
    out.insert(out.end(), static_cast<std::size_t>(count), d);
  }
  return out;
}

KMODEL_NAMESPACE_END
