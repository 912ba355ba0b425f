// Pattern: Loki's pattern expressions (`<ip> - <_> [<ts>] "<method> <path> <_>"`), used by the
// `pattern` parser and the `|>` / `!>` line filters.
//
// Syntax: `<name>` (name = [A-Za-z_][A-Za-z0-9_]*) captures, `<_>` skips, everything else is
// literal bytes. Matching (Loki's): a leading literal must be at offset 0; each capture runs to
// the first occurrence of the following literal; a missing literal ends matching with the
// capture taking the rest of the line.
//
// Immutable after Parse; Matches/Test are thread-safe (captures go to a caller buffer).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace norn::logql_log {

class Pattern {
 public:
  // `require_named_capture`: the parser form needs at least one named capture (Loki's
  // "at least one capture is required"); the line-filter form does not.
  static absl::StatusOr<Pattern> Parse(std::string_view text, bool require_named_capture);

  // Named captures, in order.
  const std::vector<std::string>& names() const { return names_; }
  // Literal parts (every line matched by Test contains all of them).
  std::vector<std::string> Literals() const;

  // Fills `out` with the values of the first out->size() named captures matched (possibly
  // fewer than names().size(); empty when an anchored literal does not match).
  void Matches(std::string_view line, std::vector<std::string_view>* out) const;
  // Loki 3's filter test: literals found in order, no empty captures, a trailing literal must
  // end the line and a trailing capture must be non-empty.
  bool Test(std::string_view line) const;

 private:
  struct Node {
    bool capture;
    bool named;        // capture other than <_>
    std::string text;  // literal bytes or capture name
  };
  std::vector<Node> nodes_;
  std::vector<std::string> names_;
};

}  // namespace norn::logql_log
