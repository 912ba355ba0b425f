#include "querier/query_api.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/json.h"
#include "common/strings.h"
#include "logql/engine/engine.h"
#include "logql/engine/http_params.h"
#include "logql/engine/json_writer.h"
#include "logql/syntax/parser.h"
#include "querier/entry_source.h"
#include "querier/querier.h"
#include "server/http/tenant.h"

namespace norn::querier {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using http::Method;

void WriteError(const absl::Status& st, HttpResponse& resp) {
  resp.Error(http::HttpStatusFromStatus(st), SV(st.message()));
}

void Serve(HttpRequest& req, HttpResponse& resp, Querier* q, bool auth_enabled,
           const LimitsProvider& limits, bool instant) {
  auto tenant = http::TenantFromRequest(req, auth_enabled);
  if (!tenant.ok()) return WriteError(tenant.status(), resp);
  auto get = [&req](std::string_view name) -> std::optional<std::string_view> {
    if (!req.HasParam(name)) return std::nullopt;
    return req.Param(name);
  };
  int64_t now = absl::GetCurrentTimeNanos();
  auto query = instant ? logql_engine::ParseInstantQueryParams(get, now)
                       : logql_engine::ParseRangeQueryParams(get, now);
  if (!query.ok()) return WriteError(query.status(), resp);
  auto tenant_limits = limits(*tenant);
  logql_engine::EngineOptions opts;
  opts.max_query_series = tenant_limits->max_query_series;
  // The engine applies it to log queries only, as Loki does (a metric query's limit is unused).
  opts.max_entries_limit_per_query =
      static_cast<uint32_t>(std::max(0, tenant_limits->max_entries_limit_per_query));
  logql_engine::Engine engine(opts);
  TenantEntrySource source(q, *tenant);
  auto result = engine.Query(*query, source);
  if (!result.ok()) return WriteError(result.status(), resp);
  resp.Json(200, logql_engine::RenderQueryResponse(*result));
}

}  // namespace

void RegisterQueryRoutes(http::Router& router, const std::string& prefix, Querier* q,
                         bool auth_enabled, LimitsProvider limits) {
  for (const char* p : {"/loki/api/v1/query_range", "/api/prom/query"}) {
    router.Handle({Method::kGet, Method::kPost}, absl::StrCat(prefix, p),
                  [q, auth_enabled, limits](HttpRequest& req, HttpResponse& resp) {
                    Serve(req, resp, q, auth_enabled, limits, /*instant=*/false);
                  });
  }
  // Loki's format_query: the query parsed and printed back in canonical form.
  router.Handle({Method::kGet, Method::kPost}, absl::StrCat(prefix, "/loki/api/v1/format_query"),
                [](HttpRequest& req, HttpResponse& resp) {
                  auto expr = logql::syntax::ParseExpr(req.Param("query"));
                  if (!expr.ok()) return WriteError(expr.status(), resp);
                  std::string body = "{\"status\":\"success\",\"data\":";
                  AppendJsonString(&body, logql::syntax::Print(**expr));
                  body += "}";
                  resp.Json(200, std::move(body));
                });
  router.Handle({Method::kGet, Method::kPost}, absl::StrCat(prefix, "/loki/api/v1/query"),
                [q, auth_enabled, limits](HttpRequest& req, HttpResponse& resp) {
                  Serve(req, resp, q, auth_enabled, limits, /*instant=*/true);
                });
}

}  // namespace norn::querier
