// cli/json.h: the little JSON that streamcheck writes and reads back.
//
// No JSON library is available offline (Debian 12 without
// nlohmann-json3-dev), and streamcheck only needs to write its own two
// formats (trace events, reports) and to read its own reports back for
// `merge`. So: a string quoter for writing, and a small strict parser
// (RFC 8259 grammar; numbers kept as their text so 64-bit counters survive
// exactly) for reading. Errors name the byte offset.
#ifndef KMODEL_CLI_JSON_H_
#define KMODEL_CLI_JSON_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace streamcheck {

// `text` as a JSON string literal, quotes included: ", \ and control
// characters escaped; other bytes (UTF-8) pass through.
std::string json_quote(std::string_view text);

class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type() const { return type_; }
  bool is(Type t) const { return type_ == t; }

  bool boolean() const { return bool_; }
  // kNumber: the literal as written; kString: the decoded string.
  const std::string& text() const { return text_; }
  const std::vector<JsonValue>& array() const { return array_; }
  const std::map<std::string, JsonValue>& object() const { return object_; }
  // The member `key` of an object, or null when absent.
  const JsonValue* find(const std::string& key) const;

 private:
  friend class JsonParser;
  Type type_ = Type::kNull;
  bool bool_ = false;
  std::string text_;
  std::vector<JsonValue> array_;
  std::map<std::string, JsonValue> object_;
};

// Parses one JSON document (surrounding whitespace allowed, nothing else).
// Duplicate object keys are an error: our writers never produce them.
absl::StatusOr<JsonValue> parse_json(std::string_view text);

// Typed member access for strict readers of our own formats; errors name
// the key and what was expected.
absl::StatusOr<std::string> get_string(const JsonValue& object, const std::string& key);
absl::StatusOr<std::uint64_t> get_u64(const JsonValue& object, const std::string& key);
absl::StatusOr<double> get_double(const JsonValue& object, const std::string& key);
absl::StatusOr<bool> get_bool(const JsonValue& object, const std::string& key);
absl::StatusOr<const JsonValue*> get_member(const JsonValue& object, const std::string& key,
                                            JsonValue::Type type);

}  // namespace streamcheck

#endif  // KMODEL_CLI_JSON_H_
