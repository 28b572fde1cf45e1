#include "cli/json.h"

#include <cstdio>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace streamcheck {

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

const JsonValue* JsonValue::find(const std::string& key) const {
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &it->second;
}

// Recursive descent over the RFC 8259 grammar. Depth is bounded so that a
// hostile file cannot overflow the stack.
class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_(text) {}

  absl::StatusOr<JsonValue> document() {
    JsonValue v;
    if (absl::Status st = value(v, 0); !st.ok()) return st;
    skip_ws();
    if (pos_ != s_.size()) return error("trailing characters after the document");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;

  absl::Status error(std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("JSON: ", std::string(what), " at byte ", pos_));
  }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t'))
      ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  absl::Status value(JsonValue& v, int depth) {
    if (depth > kMaxDepth) return error("nesting too deep");
    skip_ws();
    if (pos_ >= s_.size()) return error("unexpected end of input");
    const char c = s_[pos_];
    if (c == '{') return object(v, depth);
    if (c == '[') return array(v, depth);
    if (c == '"') {
      v.type_ = JsonValue::Type::kString;
      return string(v.text_);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number(v);
    if (literal("true")) {
      v.type_ = JsonValue::Type::kBool;
      v.bool_ = true;
      return absl::OkStatus();
    }
    if (literal("false")) {
      v.type_ = JsonValue::Type::kBool;
      return absl::OkStatus();
    }
    if (literal("null")) return absl::OkStatus();
    return error("expected a value");
  }

  absl::Status object(JsonValue& v, int depth) {
    v.type_ = JsonValue::Type::kObject;
    ++pos_;  // '{'
    if (eat('}')) return absl::OkStatus();
    do {
      skip_ws();
      std::string key;
      if (pos_ >= s_.size() || s_[pos_] != '"') return error("expected a string key");
      if (absl::Status st = string(key); !st.ok()) return st;
      if (!eat(':')) return error("expected ':'");
      JsonValue member;
      if (absl::Status st = value(member, depth + 1); !st.ok()) return st;
      if (!v.object_.emplace(key, std::move(member)).second)
        return error(absl::StrCat("duplicate key \"", key, "\""));
    } while (eat(','));
    if (!eat('}')) return error("expected ',' or '}'");
    return absl::OkStatus();
  }

  absl::Status array(JsonValue& v, int depth) {
    v.type_ = JsonValue::Type::kArray;
    ++pos_;  // '['
    if (eat(']')) return absl::OkStatus();
    do {
      v.array_.emplace_back();
      if (absl::Status st = value(v.array_.back(), depth + 1); !st.ok()) return st;
    } while (eat(','));
    if (!eat(']')) return error("expected ',' or ']'");
    return absl::OkStatus();
  }

  absl::Status number(JsonValue& v) {
    const std::size_t start = pos_;
    auto digits = [&] {
      const std::size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ > from;
    };
    if (s_[pos_] == '-') ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '0') {
      ++pos_;  // no leading zeros
    } else if (!digits()) {
      return error("malformed number");
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (!digits()) return error("malformed number");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digits()) return error("malformed number");
    }
    v.type_ = JsonValue::Type::kNumber;
    v.text_ = std::string(s_.substr(start, pos_ - start));
    return absl::OkStatus();
  }

  absl::Status hex4(unsigned& out) {
    if (pos_ + 4 > s_.size()) return error("truncated \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      out <<= 4;
      if (h >= '0' && h <= '9') out |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') out |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') out |= static_cast<unsigned>(h - 'A' + 10);
      else return error("bad hex digit in \\u escape");
    }
    return absl::OkStatus();
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  absl::Status unicode_escape(std::string& out) {
    unsigned cp = 0;
    if (absl::Status st = hex4(cp); !st.ok()) return st;
    if (cp >= 0xd800 && cp < 0xdc00) {  // a surrogate pair
      unsigned low = 0;
      if (!literal("\\u")) return error("unpaired surrogate");
      if (absl::Status st = hex4(low); !st.ok()) return st;
      if (low < 0xdc00 || low >= 0xe000) return error("unpaired surrogate");
      cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
    } else if (cp >= 0xdc00 && cp < 0xe000) {
      return error("unpaired surrogate");
    }
    append_utf8(out, cp);
    return absl::OkStatus();
  }

  absl::Status string(std::string& out) {
    ++pos_;  // '"'
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return absl::OkStatus();
      if (static_cast<unsigned char>(c) < 0x20) return error("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) break;
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u':
          if (absl::Status st = unicode_escape(out); !st.ok()) return st;
          break;
        default: return error("bad escape in a string");
      }
    }
    return error("unterminated string");
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

absl::StatusOr<JsonValue> parse_json(std::string_view text) { return JsonParser(text).document(); }

absl::StatusOr<const JsonValue*> get_member(const JsonValue& object, const std::string& key,
                                            JsonValue::Type type) {
  static constexpr const char* kTypeName[] = {"null",   "a boolean", "a number",
                                              "a string", "an array", "an object"};
  if (!object.is(JsonValue::Type::kObject))
    return absl::InvalidArgumentError(absl::StrCat("expected an object around \"", key, "\""));
  const JsonValue* v = object.find(key);
  if (v == nullptr) return absl::InvalidArgumentError(absl::StrCat("missing key \"", key, "\""));
  if (!v->is(type))
    return absl::InvalidArgumentError(absl::StrCat("key \"", key, "\": expected ",
                                                   kTypeName[static_cast<int>(type)]));
  return v;
}

absl::StatusOr<std::string> get_string(const JsonValue& object, const std::string& key) {
  absl::StatusOr<const JsonValue*> v = get_member(object, key, JsonValue::Type::kString);
  if (!v.ok()) return v.status();
  return (*v)->text();
}

absl::StatusOr<std::uint64_t> get_u64(const JsonValue& object, const std::string& key) {
  absl::StatusOr<const JsonValue*> v = get_member(object, key, JsonValue::Type::kNumber);
  if (!v.ok()) return v.status();
  std::uint64_t out = 0;
  if (!absl::SimpleAtoi((*v)->text(), &out))
    return absl::InvalidArgumentError(
        absl::StrCat("key \"", key, "\": expected a non-negative integer"));
  return out;
}

absl::StatusOr<double> get_double(const JsonValue& object, const std::string& key) {
  absl::StatusOr<const JsonValue*> v = get_member(object, key, JsonValue::Type::kNumber);
  if (!v.ok()) return v.status();
  double out = 0;
  if (!absl::SimpleAtod((*v)->text(), &out))
    return absl::InvalidArgumentError(absl::StrCat("key \"", key, "\": bad number"));
  return out;
}

absl::StatusOr<bool> get_bool(const JsonValue& object, const std::string& key) {
  absl::StatusOr<const JsonValue*> v = get_member(object, key, JsonValue::Type::kBool);
  if (!v.ok()) return v.status();
  return (*v)->boolean();
}

}  // namespace streamcheck
