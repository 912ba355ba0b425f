// Internal to logql/engine: the per-query evaluation state shared by log_eval.cc and
// metric_eval.cc. Not part of the library's API.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "common/labels.h"
#include "logql/engine/query.h"
#include "logql/engine/source.h"
#include "logql/syntax/ast.h"

namespace norn::logql_engine::internal {

// Interns label sets of one query: each distinct set gets a small id; references stay valid for
// the table's lifetime (deque storage).
class LabelsTable {
 public:
  uint32_t Intern(const Labels& l) { return Intern(Labels(l), l.Hash()); }
  uint32_t Intern(Labels&& l) {
    Fingerprint h = l.Hash();
    return Intern(std::move(l), h);
  }
  uint32_t Intern(Labels&& l, Fingerprint h);
  const Labels& Get(uint32_t id) const { return items_[id]; }
  size_t size() const { return items_.size(); }

 private:
  std::deque<Labels> items_;
  std::vector<int64_t> next_;  // collision chains
  absl::flat_hash_map<Fingerprint, uint32_t> by_hash_;
};

// Cancellation and deadline of one query, checked by the sinks once per batch.
class Interrupt {
 public:
  explicit Interrupt(const LogQuery& q) : cancelled_(q.cancelled), deadline_(q.deadline_unix_ns) {}
  // True when the query must stop.
  bool Check() {
    if (!status_.ok())
      return true;
    if (cancelled_ && cancelled_->load(std::memory_order_relaxed)) {
      status_ = absl::CancelledError("context canceled");
    } else if (deadline_ > 0 && absl::GetCurrentTimeNanos() > deadline_) {
      status_ = absl::DeadlineExceededError("context deadline exceeded");
    }
    return !status_.ok();
  }
  const absl::Status& status() const { return status_; }

 private:
  const std::atomic<bool>* cancelled_;
  int64_t deadline_;
  absl::Status status_;
};

struct StepSample {
  uint32_t series;
  double v;
};
using StepVec = std::vector<StepSample>;

// The value of a metric expression over all evaluation steps.
struct Value {
  bool scalar = false;
  double scalar_v = 0;         // when scalar (a literal: the same at every step)
  std::vector<StepVec> steps;  // one vector per evaluation time otherwise
};

struct EvalContext {
  const LogQuery* q;
  EntrySource* source;
  const EngineOptions* opts;
  QueryStats* stats;
  std::vector<int64_t> steps_ns;  // evaluation times
  LabelsTable table;
  int64_t samples = 0;  // kept in memory, for max_samples
  Interrupt* interrupt = nullptr;
};

absl::StatusOr<QueryResult> EvalLogQuery(const logql::syntax::LogSelectorExpr& e, const LogQuery& q,
                                         EntrySource& source, QueryStats* stats);

absl::StatusOr<QueryResult> EvalMetricQuery(const logql::syntax::Expr& e, const LogQuery& q,
                                            EntrySource& source, const EngineOptions& opts,
                                            QueryStats* stats);

}  // namespace norn::logql_engine::internal
