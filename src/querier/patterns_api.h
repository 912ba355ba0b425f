// Loki's /loki/api/v1/patterns: the log patterns (Drain clusters, src/pattern) of the streams a
// selector matches over [start, end), with per-step counts. Norn detects them at query time from
// the stored lines (ingester and store alike), so patterns exist for any range with data and
// need no pattern-ingester component; the cost is one scan of the selected streams.
#pragma once

#include <string>

#include "server/http/router.h"

namespace norn::querier {

class Querier;

void RegisterPatternRoutes(http::Router& router, const std::string& prefix, Querier* querier,
                           bool auth_enabled);

}  // namespace norn::querier
