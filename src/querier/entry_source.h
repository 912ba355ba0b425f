// TenantEntrySource: the LogQL engine's EntrySource over one tenant's data: streams held by the
// in-process ingester and chunks in the store found through the index. For each matching
// stream it merges every chunk (memory and store) in the query direction, drops identical
// entries (a chunk can be both retained in memory and flushed, or replayed twice), skips blocks
// by time and by the per-block token filters when the query has line-filter needles, and
// pushes the entries to the engine's sink.
//
// One instance per query; SelectLogs may run concurrently on different instances.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "logql/engine/source.h"

namespace norn::querier {

class Querier;
namespace internal {
class EntryBatch;
}

// Per-query limits a source enforces with Loki's messages (0 = no limit).
struct SourceLimits {
  int max_streams_matchers_per_query = 0;
  int max_chunks_per_query = 0;
};

class TenantEntrySource : public logql_engine::EntrySource {
 public:
  TenantEntrySource(Querier* querier, std::string tenant, SourceLimits limits = {})
      : querier_(querier), tenant_(std::move(tenant)), limits_(limits) {}

  [[nodiscard]] absl::Status SelectLogs(const logql_engine::SelectParams& params,
                                        logql_engine::EntrySink& sink) override;
  // One reader per sink (each stream is read by one of them), pushing into it on its own
  // thread (the caller's thread is the first reader). With a single sink, the read runs on
  // another thread and the caller's thread runs the sink.
  [[nodiscard]] absl::Status SelectLogsParallel(
      const logql_engine::SelectParams& params,
      std::span<logql_engine::EntrySink* const> sinks) override;
  size_t Parallelism() const override { return kReaders; }
  // Every entry of ingester and store chunks goes through the filter (MergeAndPush).
  bool AppliesLineFilter() const override { return true; }
  // Readers of one SelectLogsParallel: the cores of the machine this was tuned on (more only
  // add threads that wait for each other).
  static constexpr size_t kReaders = 2;
  // What the SelectLogs calls so far read (for the response's stats).
  const logql_engine::SourceStats* stats() const override { return &stats_; }

  // `emit(labels, stream number, batch)` takes a batch's entries (leaving it empty) and
  // returns false when that stream is no longer wanted.
  using EmitBatch = std::function<bool(const Labels&, size_t, internal::EntryBatch&)>;

 private:
  Querier* querier_;
  std::string tenant_;
  SourceLimits limits_;
  logql_engine::SourceStats stats_;
};

// The label a multi-tenant read adds to every stream (Loki's name).
inline constexpr std::string_view kTenantLabel = "__tenant_id__";

// Several tenants read as one (`X-Scope-OrgID: a|b`): each selected stream gets the
// `__tenant_id__` label, and `__tenant_id__` matchers in the selector pick the tenants instead
// of matching stream labels. With one tenant it behaves exactly like TenantEntrySource.
class MultiTenantEntrySource : public logql_engine::EntrySource {
 public:
  MultiTenantEntrySource(Querier* querier, std::vector<std::string> tenants,
                         SourceLimits limits = {})
      : querier_(querier), tenants_(std::move(tenants)), limits_(limits) {}

  [[nodiscard]] absl::Status SelectLogs(const logql_engine::SelectParams& params,
                                        logql_engine::EntrySink& sink) override;
  [[nodiscard]] absl::Status SelectLogsParallel(
      const logql_engine::SelectParams& params,
      std::span<logql_engine::EntrySink* const> sinks) override;
  size_t Parallelism() const override { return TenantEntrySource::kReaders; }
  bool AppliesLineFilter() const override { return true; }  // reads through TenantEntrySource
  const logql_engine::SourceStats* stats() const override { return &stats_; }

 private:
  Querier* querier_;
  std::vector<std::string> tenants_;
  SourceLimits limits_;
  logql_engine::SourceStats stats_;
};

// sum += a.
void AddStats(const logql_engine::SourceStats& a, logql_engine::SourceStats& sum);

// Removes the `__tenant_id__` matchers from `matchers` and returns the tenants of `tenants`
// they accept.
std::vector<std::string> SelectTenants(const std::vector<std::string>& tenants,
                                       std::vector<logql::syntax::Matcher>& matchers);

}  // namespace norn::querier
