// JSON parsers of the log pipeline, with Loki v2.7's semantics:
//
//  * JsonParser (`| json`): every scalar field becomes a label; nested objects flatten with '_'
//    (`{"a":{"b":1}}` -> a_b="1"); arrays and nulls are skipped; numbers keep their JSON text,
//    booleans become "true"/"false", strings are unescaped; keys are sanitised (SanitizeKey); a
//    key equal to a stream label gets `_extracted`; duplicate keys: the last one wins. A line
//    that is not a JSON object gets __error__="JSONParserErr" with
//    __error_details__="expecting json object(6), but it is not"; malformed JSON later in the
//    object keeps the labels read so far and sets the error with a jsoniter-style message.
//    With ParserHints, unwanted fields and objects are skipped without building labels.
//  * JsonExpressionParser (`| json a="x.y", b="z[0]", c="[\"k k\"]"`): only the given paths;
//    strings are returned as their raw JSON text (Loki 2.7 did not unescape), objects/arrays as
//    their JSON text, null as ""; a missing path yields "".
//  * UnpackParser (`| unpack`): top-level string fields become labels (keys as-is) and the
//    `_entry` field replaces the line; labels are only added when `_entry` is present.
//
// A single-pass hand-written tokenizer (no DOM, no padding needed, no allocation per entry).
// Stages are not thread-safe (scratch buffers); see stage.h.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "common/strings.h"
#include "logql/log/parser_key_cache.h"
#include "logql/log/stage.h"

namespace norn::logql_log {

class JsonParser : public Stage {
 public:
  JsonParser() = default;
  bool Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) override;

 private:
  friend struct JsonScanner;
  std::string prefix_;
  std::string name_;
  std::string key_buf_;
  std::string val_buf_;
  std::string err_;

 private:
  ParserKeyCache key_cache_;  // top-level keys
};

// One `json` parameter: label name and the path expression text.
struct JsonExpression {
  std::string label;
  std::string expression;
};

class JsonExpressionParser : public Stage {
 public:
  using PathElem = std::variant<std::string, int>;
  // Errors when an expression does not parse or a label name is invalid.
  static absl::StatusOr<std::unique_ptr<JsonExpressionParser>> Create(
      std::vector<JsonExpression> expressions);
  bool Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) override;

  // Parses `a.b[0]["c d"]` into elements (exposed for tests).
  static absl::StatusOr<std::vector<PathElem>> ParsePath(std::string_view expr);

 private:
  JsonExpressionParser() = default;
  std::vector<std::string> ids_;
  std::vector<std::vector<PathElem>> paths_;
  std::string name_;
  std::string key_buf_;
};

class UnpackParser : public Stage {
 public:
  UnpackParser() = default;
  bool Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) override;

 private:
  std::string entry_;
  std::vector<std::pair<std::string, std::string>> pending_;
  size_t num_pending_ = 0;
  std::string key_buf_;
  std::string err_;
};

// Appends the unescaped content of a JSON string body (without quotes). Returns false on an
// invalid escape. Lone surrogates become U+FFFD.
bool AppendJsonUnescaped(std::string_view body, std::string* out);

}  // namespace norn::logql_log
