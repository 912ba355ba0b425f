// The `logfmt` parser stage, with the semantics of Loki's go-logfmt-derived decoder:
// `key=value`, `key="quoted \"value\""`, bare `key` (value ""), `key=` (value ""); keys are
// sanitised (SanitizeKey) and get `_extracted` when they clash with a stream label; duplicate
// keys: last wins; values holding invalid UTF-8 (or U+FFFD) become "". A syntax error sets
// __error__="LogfmtParserErr" and __error_details__ (e.g. `logfmt syntax error at pos 7 :
// unexpected '='`) and stops extraction there (Loki 2.x, and Loki 3's --strict); with
// `continue_on_error` (Loki 3 without --strict) the decoder skips the bad token and goes on.
// `drop_empty` reproduces Loki 3's default of dropping empty values (--keep-empty turns that
// off); Loki 2.7 keeps them, which is the default here.
//
// `logfmt a, b="c"` (LogfmtExpressionParser): only the named keys, each to its label.
//
// Not thread-safe (scratch buffers); see stage.h.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/strings.h"
#include "logql/log/labels_builder.h"
#include "logql/log/parser_key_cache.h"
#include "logql/log/stage.h"

namespace norn::logql_log {

struct LogfmtOptions {
  bool continue_on_error = false;
  bool drop_empty = false;
};

// One logfmt key/value decoder over a line (exposed for tests and reuse).
class LogfmtDecoder {
 public:
  void Reset(std::string_view line);
  bool EOL() const { return pos_ >= line_.size(); }
  // Advances to the next pair; false at the end or on a syntax error (see err()).
  bool ScanKeyval();
  std::string_view key() const { return key_; }
  // A view into the line, or (value_in_line() false: an unquoted escape) into the decoder's
  // buffer, valid until the next ScanKeyval.
  std::string_view value() const { return value_; }
  bool value_in_line() const { return value_.data() != unquoted_.data() || value_.empty(); }
  // False when the value is known to be ASCII (no rune checks needed).
  bool value_maybe_non_ascii() const { return value_non_ascii_; }
  const std::string& err() const { return err_; }

 private:
  friend class LogfmtParser;
  // ScanKeyval's body, inlined into LogfmtParser's loop over a line's pairs (the call and
  // return cost about a tenth of scanning a pair). `expected_key_eq` (may be empty) is a key
  // and its '=' the pair probably starts with, a key without any byte the key scan stops at:
  // when the line holds exactly those bytes there, the key is taken without scanning and
  // expected_hit_ is set.
  inline bool ScanKeyvalInline(std::string_view expected_key_eq);
  void SyntaxError(std::string_view msg);
  void UnexpectedByte(char c);
  bool SkipValue();
  // Index of the first byte at or after `i` that ends a key or an unquoted value ('=', '"',
  // <= ' ', >= 0x80), or the line's length.
  size_t NextStop(size_t i) const;

  std::string_view line_;
  size_t pos_ = 0;
  std::string_view key_;
  std::string_view value_;
  bool value_non_ascii_ = false;
  bool expected_hit_ = false;
  std::string unquoted_;
  std::string err_;
  // One bit per byte of the line: set where NextStop stops. Built once per line with SIMD
  // compares, so each token costs a word read and a count-trailing-zeros instead of a scan.
  std::vector<uint64_t> stop_bits_;
};

class LogfmtParser : public Stage {
 public:
  explicit LogfmtParser(LogfmtOptions opts = {}) : opts_(opts) {}
  bool Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) override;

 private:
  LogfmtOptions opts_;
  LogfmtDecoder dec_;
  std::string name_;
  ParserKeyCache key_cache_;
};

struct LogfmtExpression {
  std::string label;  // output label
  std::string key;    // logfmt key to read (same as label for the `logfmt a` shorthand)
};

class LogfmtExpressionParser : public Stage {
 public:
  static absl::StatusOr<std::unique_ptr<LogfmtExpressionParser>> Create(
      std::vector<LogfmtExpression> expressions, LogfmtOptions opts = {});
  bool Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) override;

 private:
  LogfmtExpressionParser() = default;
  std::vector<LogfmtExpression> exprs_;
  LogfmtOptions opts_;
  LogfmtDecoder dec_;
  std::string name_;
  std::string key_;
};

}  // namespace norn::logql_log
