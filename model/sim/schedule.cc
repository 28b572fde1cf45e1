#include "model/sim/schedule.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "absl/status/status.h"

KMODEL_NAMESPACE_BEGIN

namespace {

constexpr std::size_t kPrefixLen = 3;  // "v1:", "v2:"

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

namespace {

// Equal runs of `p` tokens from a and b.
bool same_tokens(const std::vector<std::string>& t, std::size_t a, std::size_t b, std::size_t p) {
  for (std::size_t k = 0; k < p; ++k)
    if (t[a + k] != t[b + k]) return false;
  return true;
}

constexpr std::size_t kMaxPeriod = 64;

// Joins tokens with '.', writing a stretch that repeats a group of tokens at
// least three times as "(group)*times": a spin loop, or the cycle of a hang,
// becomes a few characters instead of thousands.
std::string join_with_groups(const std::vector<std::string>& t) {
  std::string out;
  for (std::size_t i = 0; i < t.size();) {
    std::size_t best_p = 0, best_r = 1;
    for (std::size_t p = 2; p <= kMaxPeriod && i + 3 * p <= t.size(); ++p) {
      std::size_t r = 1;
      while (i + (r + 1) * p <= t.size() && same_tokens(t, i, i + r * p, p)) ++r;
      if (r >= 3 && r * p > best_r * best_p) {
        best_p = p;
        best_r = r;
      }
    }
    if (!out.empty()) out += '.';
    if (best_p == 0) {
      out += t[i++];
      continue;
    }
    out += '(';
    for (std::size_t k = 0; k < best_p; ++k) absl::StrAppend(&out, k ? "." : "", t[i + k]);
    absl::StrAppend(&out, ")*", best_r);
    i += best_p * best_r;
  }
  return out;
}

}  // namespace

std::string encode_schedule(const std::vector<Decision>& decisions, int version) {
  std::vector<std::string> tokens;
  std::string prev;
  long run = 0;
  auto flush = [&] {
    if (run == 0) return;
    tokens.push_back(run > 1 ? absl::StrCat(prev, "*", run) : prev);
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
  return absl::StrCat("v", version, ":", join_with_groups(tokens));
}

namespace {

// Recursive descent over the body: sequence := element ("." element)*;
// element := token | "(" sequence ")*" count.
class ScheduleParser {
 public:
  explicit ScheduleParser(std::string_view body) : body_(body) {}

  absl::Status parse(std::vector<Decision>& out) {
    if (absl::Status st = sequence(out, /*depth=*/0); !st.ok()) return st;
    if (pos_ != body_.size())
      return absl::InvalidArgumentError(absl::StrCat(
          "schedule: unexpected \"", std::string(body_.substr(pos_, 1)), "\" at character ",
          pos_ + kPrefixLen + 1));
    return absl::OkStatus();
  }

 private:
  absl::Status sequence(std::vector<Decision>& out, int depth) {
    for (;;) {
      if (pos_ < body_.size() && body_[pos_] == '(') {
        if (depth >= 4) return error("groups nest too deeply");
        ++pos_;
        std::vector<Decision> group;
        if (absl::Status st = sequence(group, depth + 1); !st.ok()) return st;
        if (body_.substr(pos_, 2) != ")*") return error("a group must end with \")*<count>\"");
        pos_ += 2;
        long count = 0;
        if (!parse_number(take_number(), 1 << 30, &count) || count < 1)
          return error("group repeat count must be a number >= 1");
        if (out.size() + group.size() * static_cast<std::size_t>(count) > kMaxDecisions)
          return error(absl::StrCat("schedule longer than ", kMaxDecisions, " decisions"));
        for (long k = 0; k < count; ++k) out.insert(out.end(), group.begin(), group.end());
        ++index_;
      } else if (absl::Status st = token(out); !st.ok()) {
        return st;
      }
      if (pos_ >= body_.size() || body_[pos_] != '.') return absl::OkStatus();
      ++pos_;
    }
  }

  absl::Status token(std::vector<Decision>& out) {
    const std::size_t start = pos_;
    while (pos_ < body_.size() && body_[pos_] != '.' && body_[pos_] != ')' && body_[pos_] != '(')
      ++pos_;
    const std::string_view token = body_.substr(start, pos_ - start);
    ++index_;
    auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("schedule token ", index_, " \"",
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
    return absl::OkStatus();
  }

  std::string_view take_number() {
    const std::size_t start = pos_;
    while (pos_ < body_.size() && body_[pos_] >= '0' && body_[pos_] <= '9') ++pos_;
    return body_.substr(start, pos_ - start);
  }

  absl::Status error(std::string_view why) const {
    return absl::InvalidArgumentError(absl::StrCat("schedule, at character ",
                                                   pos_ + kPrefixLen + 1, ": ", std::string(why)));
  }

  std::string_view body_;
  std::size_t pos_ = 0;
  int index_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<Decision>> parse_schedule(std::string_view text, int* version) {
  const std::string_view prefix = text.substr(0, kPrefixLen);
  int v = 0;
  if (prefix == "v1:") v = 1;
  else if (prefix == "v2:") v = 2;
  if (v == 0) {
    const std::size_t colon = text.find(':');
    if (!text.empty() && text[0] == 'v' && colon != std::string_view::npos && colon < 12) {
      return absl::InvalidArgumentError(absl::StrCat(
          "schedule version \"", std::string(text.substr(0, colon)),
          "\" is not known: this build reads v1 (recorded before 2026-12-01) and v2"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "schedule \"", std::string(text), "\": must start with \"v2:\" (or \"v1:\")"));
  }
  if (version != nullptr) *version = v;
  std::vector<Decision> out;
  std::string_view body = text.substr(kPrefixLen);
  if (body.empty()) return out;
  if (absl::Status st = ScheduleParser(body).parse(out); !st.ok()) return st;
  return out;
}

KMODEL_NAMESPACE_END
