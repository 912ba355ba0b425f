// Line filters: `|= "x"`, `!= "x"`, `|~ "re"`, `!~ "re"`, `|> "pattern"`, `!> "pattern"`,
// `|= ip("cidr")` / `!= ip(...)`, `or` chains (`|= "a" or "b"`), with Loki's semantics.
//
// Speed: literals use Substring (SIMD first/last byte probe + memcmp). Regexes are analysed for
// required literals (regex_literals.h): a regex that is just a literal (or an alternation of
// literals, optionally `(?i)`) runs as a substring search without RE2; otherwise a substring
// prefilter rejects lines that lack the literal before RE2 runs.
//
// Loki's edge cases kept: `|= ""` keeps every line, `!= ""` drops every line, `|~ ".*"` keeps
// every line, `|~ ".+"` keeps non-empty lines (Loki's simplification, even across newlines).
//
// A LineFilter is immutable after construction and Matches is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "logql/log/stage.h"
#include "logql/log/substring.h"

namespace norn::logql_log {

enum class LineMatchType {
  kContains,      // |=
  kNotContains,   // !=
  kRegex,         // |~
  kNotRegex,      // !~
  kPattern,       // |>
  kNotPattern,    // !>
};

class LineFilter {
 public:
  virtual ~LineFilter() = default;
  virtual bool Matches(std::string_view line) const = 0;
  // Appends needles (case-sensitive) that every matching line must contain.
  virtual void CollectRequired(std::vector<std::string>* /*out*/) const {}
  // Appends groups of needles such that every matching line contains at least one needle of
  // each group (a necessary condition, for scanning many lines at once; Matches decides).
  // Groups are never empty and hold no empty needle.
  virtual void CollectNeedleGroups(std::vector<std::vector<Substring>>* /*groups*/) const {}
};

// One filter. Errors (InvalidArgument) for invalid regexes or patterns.
absl::StatusOr<std::unique_ptr<LineFilter>> NewLineFilter(LineMatchType type,
                                                          std::string_view match);
// `op "a" or "b" or ...`: positive types match when any alternative matches; negative types
// (!=, !~, !>) match when none does (Loki: not(a or b)).
absl::StatusOr<std::unique_ptr<LineFilter>> NewLineFilterOr(
    LineMatchType type, const std::vector<std::string>& matches);
// `|= ip("...")` (negate=false) / `!= ip("...")`. Error text: `ip: invalid pattern: "..."`.
absl::StatusOr<std::unique_ptr<LineFilter>> NewIpLineFilter(bool negate,
                                                            std::string_view pattern);

// Combinators for the engine (e.g. mixed `or` chains).
std::unique_ptr<LineFilter> NewAndLineFilter(std::vector<std::unique_ptr<LineFilter>> filters);
std::unique_ptr<LineFilter> NewOrLineFilter(std::vector<std::unique_ptr<LineFilter>> filters);
std::unique_ptr<LineFilter> NewNotLineFilter(std::unique_ptr<LineFilter> filter);

// A chain of line filters as one pipeline stage (consecutive line filters are ANDed).
class LineFilterStage : public Stage {
 public:
  explicit LineFilterStage(std::vector<std::unique_ptr<LineFilter>> filters);
  explicit LineFilterStage(std::unique_ptr<LineFilter> filter);
  bool Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) override;
  bool IsLineFilter() const override { return true; }
  bool Matches(std::string_view line) const;
  // Needles every line passing this chain contains (for block skipping); empty if none.
  std::vector<std::string> RequiredSubstrings() const;

 private:
  std::vector<std::unique_ptr<LineFilter>> filters_;
};

// Needles every line passing all `filters` must contain (deduplicated); empty if none.
std::vector<std::string> RequiredSubstrings(
    const std::vector<std::unique_ptr<LineFilter>>& filters);

}  // namespace norn::logql_log
