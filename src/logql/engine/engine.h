// The LogQL evaluation engine: parses a query, reads entries from an EntrySource and returns
// Loki's answer (streams for log queries; matrix, vector or scalar for metric queries) with the
// semantics of Loki v2.7.7 (the conformance reference).
//
//   Engine engine(EngineOptions{});
//   absl::StatusOr<QueryResult> r = engine.Query(query, source);
//   std::string body = RenderQueryResponse(*r);  // json_writer.h
//
// Log queries: each stream's pipeline runs over its entries in the query direction; output is
// grouped by the final label set and cut at `limit` (a bounded heap across streams; a stream
// stops being read once it cannot improve the answer).
// Metric queries: each range aggregation reads its selector once over [start - range - offset,
// end - offset], extracts samples per series (grouping at the source where Loki does: `sum by`
// over count/rate/bytes/sum_over_time) and slides its window over every step in one pass per
// series; vector aggregations, binary operators, label_replace and vector() then run per step
// with Prometheus semantics.
//
// Errors (absl::Status): InvalidArgument (HTTP 400) for parse errors, pipeline errors
// (`__error__` left in a metric query), limits (series); whatever the source returns otherwise.
//
// Thread-safety: an Engine is immutable and may serve many queries concurrently; each query's
// state lives in its own call.
#pragma once

#include "absl/status/statusor.h"
#include "logql/engine/query.h"
#include "logql/engine/source.h"
#include "logql/syntax/ast.h"

namespace norn::logql_engine {

class Engine {
 public:
  explicit Engine(EngineOptions opts = {}) : opts_(opts) {}

  // Parses `q.query` and evaluates it.
  absl::StatusOr<QueryResult> Query(const LogQuery& q, EntrySource& source) const;

  // Evaluates an already parsed expression (q.query is ignored).
  absl::StatusOr<QueryResult> Evaluate(const logql::syntax::Expr& expr, const LogQuery& q,
                                       EntrySource& source) const;

  const EngineOptions& options() const { return opts_; }

 private:
  EngineOptions opts_;
};

}  // namespace norn::logql_engine
