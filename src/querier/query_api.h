// Loki's log and metric query endpoints, evaluated by the LogQL engine over the tenant's
// ingester and store data: /loki/api/v1/query_range, /loki/api/v1/query and the legacy
// /api/prom/query, with Loki's parameters, limits, status codes and JSON.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "server/http/router.h"

namespace norn::querier {

class Querier;

using LimitsProvider =
    std::function<std::shared_ptr<const config::TenantLimits>(std::string_view tenant)>;

void RegisterQueryRoutes(http::Router& router, const std::string& prefix, Querier* querier,
                         bool auth_enabled, LimitsProvider limits);

}  // namespace norn::querier
