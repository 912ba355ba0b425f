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
#include "logql/syntax/go_compat.h"
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

// The strictest of the tenants' values (0 or less meaning "no limit" where Loki reads it so).
template <class T, class Get>
T Strictest(const std::vector<std::shared_ptr<const config::TenantLimits>>& all, Get get) {
  T best{};
  bool have = false;
  for (const auto& l : all) {
    T v = get(*l);
    if (v <= T{}) continue;
    if (!have || v < best) best = v;
    have = true;
  }
  return best;
}

void Serve(HttpRequest& req, HttpResponse& resp, Querier* q, bool auth_enabled,
           const LimitsProvider& limits, bool instant) {
  auto tenants =
      http::TenantsFromRequest(req, auth_enabled, q->options().multi_tenant_queries_enabled);
  if (!tenants.ok()) return WriteError(tenants.status(), resp);
  auto get = [&req](std::string_view name) -> std::optional<std::string_view> {
    if (!req.HasParam(name)) return std::nullopt;
    return req.Param(name);
  };
  int64_t now = absl::GetCurrentTimeNanos();
  auto query = instant ? logql_engine::ParseInstantQueryParams(get, now)
                       : logql_engine::ParseRangeQueryParams(get, now);
  if (!query.ok()) return WriteError(query.status(), resp);
  std::vector<std::shared_ptr<const config::TenantLimits>> all;
  for (const auto& t : *tenants) all.push_back(limits(t));
  using L = config::TenantLimits;

  // max_query_length: Loki refuses a range longer than the limit.
  int64_t max_length = absl::ToInt64Nanoseconds(
      Strictest<absl::Duration>(all, [](const L& l) { return l.max_query_length; }));
  if (!instant && max_length > 0 && query->end_ns - query->start_ns > max_length) {
    return resp.Error(400, absl::StrCat("the query time range exceeds the limit (query length: ",
                                        logql::syntax::FormatGoDuration(query->end_ns -
                                                                        query->start_ns),
                                        ", limit: ", logql::syntax::FormatGoDuration(max_length),
                                        ")"));
  }
  // max_query_lookback: data older than now - lookback is not queried (Loki clamps the start).
  int64_t lookback = absl::ToInt64Nanoseconds(
      Strictest<absl::Duration>(all, [](const L& l) { return l.max_query_lookback; }));
  if (lookback > 0 && query->start_ns < now - lookback) {
    query->start_ns = std::min(now - lookback, query->end_ns);
  }
  int64_t timeout = absl::ToInt64Nanoseconds(
      Strictest<absl::Duration>(all, [](const L& l) { return l.query_timeout; }));
  if (timeout > 0) query->deadline_unix_ns = now + timeout;

  logql_engine::EngineOptions opts;
  opts.max_query_series = Strictest<int>(all, [](const L& l) { return l.max_query_series; });
  // The engine applies it to log queries only, as Loki does (a metric query's limit is unused).
  opts.max_entries_limit_per_query = static_cast<uint32_t>(
      Strictest<int>(all, [](const L& l) { return l.max_entries_limit_per_query; }));
  SourceLimits source_limits;
  source_limits.max_streams_matchers_per_query =
      Strictest<int>(all, [](const L& l) { return l.max_streams_matchers_per_query; });
  source_limits.max_chunks_per_query =
      Strictest<int>(all, [](const L& l) { return l.max_chunks_per_query; });
  logql_engine::Engine engine(opts);
  MultiTenantEntrySource source(q, *tenants, source_limits);
  auto result = engine.Query(*query, source);
  if (!result.ok()) {
    if (absl::IsDeadlineExceeded(result.status())) {
      return resp.Error(504,
                        "request timed out, decrease the duration of the request or add more "
                        "label matchers (prefer exact match over regex match) to reduce the "
                        "amount of data processed");
    }
    return WriteError(result.status(), resp);
  }
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
