#include "logql/engine/engine.h"

#include <chrono>

#include "absl/strings/str_format.h"
#include "common/status.h"
#include "logql/engine/eval_internal.h"
#include "logql/syntax/parser.h"

namespace norn::logql_engine {

std::string_view ResultTypeName(ResultType t) {
  switch (t) {
    case ResultType::kStreams:
      return "streams";
    case ResultType::kMatrix:
      return "matrix";
    case ResultType::kVector:
      return "vector";
    case ResultType::kScalar:
      return "scalar";
  }
  return "";
}

absl::StatusOr<QueryResult> Engine::Query(const LogQuery& q, EntrySource& source) const {
  ASSIGN_OR_RETURN(auto expr, logql::syntax::ParseExpr(q.query));
  return Evaluate(*expr, q, source);
}

absl::StatusOr<QueryResult> Engine::Evaluate(const logql::syntax::Expr& expr, const LogQuery& q,
                                             EntrySource& source) const {
  auto t0 = std::chrono::steady_clock::now();
  QueryStats stats;
  absl::StatusOr<QueryResult> r;
  if (const auto* sel = std::get_if<logql::syntax::LogSelectorExpr>(&expr.node)) {
    if (opts_.max_entries_limit_per_query > 0 && q.limit > opts_.max_entries_limit_per_query) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "max entries limit per query exceeded, limit > max_entries_limit (%d > %d)", q.limit,
          opts_.max_entries_limit_per_query));
    }
    r = internal::EvalLogQuery(*sel, q, source, &stats);
  } else {
    r = internal::EvalMetricQuery(expr, q, source, opts_, &stats);
  }
  if (!r.ok())
    return r;
  if (const SourceStats* read = source.stats(); read != nullptr) {
    stats.source = *read;
    // Lines the source dropped with SelectParams::line_filter were processed too: Loki's
    // summary counts every line the pipeline looked at.
    stats.total_lines_processed += read->filtered_lines;
    stats.total_bytes_processed += read->filtered_bytes;
  }
  stats.exec_time_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  r->stats = stats;
  return r;
}

}  // namespace norn::logql_engine
