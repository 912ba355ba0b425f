// TenantEntrySource: the LogQL engine's EntrySource over one tenant's data: streams held by the
// in-process ingester and chunks in the store found through the index. For each matching
// stream it merges every chunk (memory and store) in the query direction, drops identical
// entries (a chunk can be both retained in memory and flushed, or replayed twice), skips blocks
// by time and by the per-block token filters when the query has line-filter needles, and
// pushes the entries to the engine's sink.
//
// One instance per query; SelectLogs may run concurrently on different instances.
#pragma once

#include <string>

#include "logql/engine/source.h"

namespace norn::querier {

class Querier;

class TenantEntrySource : public logql_engine::EntrySource {
 public:
  TenantEntrySource(Querier* querier, std::string tenant)
      : querier_(querier), tenant_(std::move(tenant)) {}

  [[nodiscard]] absl::Status SelectLogs(const logql_engine::SelectParams& params,
                                        logql_engine::EntrySink& sink) override;

 private:
  Querier* querier_;
  std::string tenant_;
};

}  // namespace norn::querier
