// Loki's query-side HTTP API served by the querier: label names and values, series and index
// stats (and their legacy /api/prom forms), with Loki's parameters, defaults and JSON shapes.
#pragma once

#include <string>

#include "server/http/router.h"

namespace norn::querier {

class Querier;

void RegisterMetadataRoutes(http::Router& router, const std::string& prefix, Querier* querier,
                            bool auth_enabled);

}  // namespace norn::querier
