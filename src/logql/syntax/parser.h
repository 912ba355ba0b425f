// LogQL parser: query text -> AST (ast.h). Accepts the language of Loki 3.x (log queries, every
// pipeline stage, range and vector aggregations, binary operators with vector matching,
// label_replace, vector(), literals) except the experimental `variants(...) of (...)`, plus
// `| distinct` from Loki 2.9.
//
// Errors are absl::InvalidArgumentError (HTTP 400) whose message is Loki's text, e.g.
//   parse error at line 1, col 17: syntax error: unexpected $end, expecting } or ,
//   parse error : queries require at least one regexp or equality matcher that does not have an
//   empty-compatible value. For instance, app=~".*" does not meet this requirement, but
//   app=~".+" will
// Everything Loki rejects while parsing or while building the pipeline (bad regexes, ip()
// patterns, pattern expressions, duplicate label_format targets, unwrap without a range
// aggregation, sum_over_time without unwrap, grouping where not allowed, ...) is rejected here.
// Templates of line_format/label_format are not checked (that is logql/template's job).
//
// Stateless free functions; thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "logql/syntax/ast.h"

namespace norn::logql::syntax {

// Loki refuses longer query strings ("input size too long (N > 5120)").
inline constexpr size_t kMaxQueryLength = 5120;

// Parses any LogQL query (log or metric) and validates that every stream selector has at least
// one matcher that does not match the empty string.
absl::StatusOr<std::unique_ptr<Expr>> ParseExpr(std::string_view query);

// Parses a log query (`{...} | ...`); a metric query is an error ("only log selector is
// supported"). `validate` applies the selector check of ParseExpr.
absl::StatusOr<LogSelectorExpr> ParseLogSelector(std::string_view query, bool validate = true);

// Parses a metric query; a log query is an error ("only sample expression supported").
absl::StatusOr<std::unique_ptr<Expr>> ParseSampleExpr(std::string_view query);

// Parses a bare stream selector such as the `match[]` of /loki/api/v1/series (`{a="b"}`); a
// pipeline or anything else is an error ("only label matchers is supported").
absl::StatusOr<std::vector<Matcher>> ParseMatchers(std::string_view selector, bool validate = true);

}  // namespace norn::logql::syntax
