// The metadata APIs Grafana Logs Drilldown reads, answered from the tenant's ingester and store
// data with Loki's parameters, defaults, grouping rules and JSON:
//   /loki/api/v1/index/volume, /loki/api/v1/index/volume_range   bytes per stream group
//   /loki/api/v1/detected_labels                                  stream labels worth a filter
//   /loki/api/v1/detected_fields                                  fields found in recent lines
//   /loki/api/v1/detected_field/{name}/values                     values of one such field
// Volumes count the uncompressed bytes of every chunk (flushed or in memory, each once) that
// overlaps a bucket, whole, as Loki does. Detected fields scan the newest `line_limit` lines
// the log query selects (structured metadata, the query's own parsers, then json or logfmt).
//
// Handlers are stateless; `querier` must outlive the router. Thread-safe.
#pragma once

#include <string>

#include "querier/query_api.h"
#include "server/http/router.h"

namespace norn::querier {

class Querier;

void RegisterDrilldownRoutes(http::Router& router, const std::string& prefix, Querier* q,
                             bool auth_enabled, LimitsProvider limits);

}  // namespace norn::querier
