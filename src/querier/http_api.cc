#include "querier/http_api.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/json.h"
#include "common/strings.h"
#include "logql/syntax/parser.h"
#include "querier/params.h"
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

std::string StringArray(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(&out, values[i]);
  }
  out.push_back(']');
  return out;
}

// Tenant, time range and (optional) `query` selector shared by the metadata endpoints.
struct Common {
  std::string tenant;
  TimeRange range;
  Matchers matchers;
};

absl::StatusOr<Common> ParseCommon(const HttpRequest& req, bool auth_enabled,
                                   std::string_view matcher_param) {
  Common c;
  auto tenant = http::TenantFromRequest(req, auth_enabled);
  if (!tenant.ok()) return tenant.status();
  c.tenant = *std::move(tenant);
  auto range = ParseRange(req, absl::GetCurrentTimeNanos());
  if (!range.ok()) return range.status();
  c.range = *range;
  if (!matcher_param.empty() && !req.Param(matcher_param).empty()) {
    auto m = logql::syntax::ParseMatchers(req.Param(matcher_param));
    if (!m.ok()) return m.status();
    c.matchers = *std::move(m);
  }
  return c;
}

}  // namespace

void RegisterMetadataRoutes(http::Router& router, const std::string& prefix, Querier* q,
                            bool auth_enabled) {
  auto labels = [q, auth_enabled](bool legacy) {
    return [q, auth_enabled, legacy](HttpRequest& req, HttpResponse& resp) {
      auto c = ParseCommon(req, auth_enabled, "");
      if (!c.ok()) return WriteError(c.status(), resp);
      auto names = q->LabelNames(c->tenant, c->range.start_ns, c->range.end_ns);
      if (!names.ok()) return WriteError(names.status(), resp);
      resp.Json(200, legacy ? absl::StrCat("{\"values\":", StringArray(*names), "}")
                            : absl::StrCat("{\"status\":\"success\",\"data\":",
                                           StringArray(*names), "}"));
    };
  };
  for (const char* p : {"/loki/api/v1/labels", "/loki/api/v1/label"}) {
    router.Handle({Method::kGet, Method::kPost}, absl::StrCat(prefix, p), labels(false));
  }
  router.Handle({Method::kGet, Method::kPost}, absl::StrCat(prefix, "/api/prom/label"),
                labels(true));

  auto values = [q, auth_enabled](bool legacy) {
    return [q, auth_enabled, legacy](HttpRequest& req, HttpResponse& resp) {
      auto c = ParseCommon(req, auth_enabled, "query");
      if (!c.ok()) return WriteError(c.status(), resp);
      auto vals = q->LabelValues(c->tenant, req.PathParam("name"), c->matchers,
                                 c->range.start_ns, c->range.end_ns);
      if (!vals.ok()) return WriteError(vals.status(), resp);
      resp.Json(200, legacy ? absl::StrCat("{\"values\":", StringArray(*vals), "}")
                            : absl::StrCat("{\"status\":\"success\",\"data\":",
                                           StringArray(*vals), "}"));
    };
  };
  router.Handle({Method::kGet, Method::kPost},
                absl::StrCat(prefix, "/loki/api/v1/label/{name}/values"), values(false));
  router.Handle({Method::kGet, Method::kPost}, absl::StrCat(prefix, "/api/prom/label/{name}/values"),
                values(true));

  auto series = [q, auth_enabled](HttpRequest& req, HttpResponse& resp) {
    auto c = ParseCommon(req, auth_enabled, "");
    if (!c.ok()) return WriteError(c.status(), resp);
    std::vector<Matchers> groups;
    for (std::string_view m : req.ParamValues("match[]")) {
      auto parsed = logql::syntax::ParseMatchers(m);
      if (!parsed.ok()) return WriteError(parsed.status(), resp);
      groups.push_back(*std::move(parsed));
    }
    for (std::string_view m : req.ParamValues("match")) {
      auto parsed = logql::syntax::ParseMatchers(m);
      if (!parsed.ok()) return WriteError(parsed.status(), resp);
      groups.push_back(*std::move(parsed));
    }
    if (groups.empty()) {
      return WriteError(absl::InvalidArgumentError("at least one match[] argument is required"),
                        resp);
    }
    auto result = q->Series(c->tenant, groups, c->range.start_ns, c->range.end_ns);
    if (!result.ok()) return WriteError(result.status(), resp);
    std::string out = "{\"status\":\"success\",\"data\":[";
    for (size_t i = 0; i < result->size(); ++i) {
      if (i > 0) out.push_back(',');
      out.push_back('{');
      bool first = true;
      for (const Label& l : (*result)[i]) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(&out, l.name);
        out.push_back(':');
        AppendJsonString(&out, l.value);
      }
      out.push_back('}');
    }
    out += "]}";
    resp.Json(200, std::move(out));
  };
  for (const char* p : {"/loki/api/v1/series", "/api/prom/series"}) {
    router.Handle({Method::kGet, Method::kPost}, absl::StrCat(prefix, p), series);
  }

  router.Handle({Method::kGet, Method::kPost}, absl::StrCat(prefix, "/loki/api/v1/index/stats"),
                [q, auth_enabled](HttpRequest& req, HttpResponse& resp) {
                  auto c = ParseCommon(req, auth_enabled, "query");
                  if (!c.ok()) return WriteError(c.status(), resp);
                  auto st = q->Stats(c->tenant, c->matchers, c->range.start_ns, c->range.end_ns);
                  if (!st.ok()) return WriteError(st.status(), resp);
                  resp.Json(200, absl::StrCat("{\"streams\":", st->streams, ",\"chunks\":",
                                              st->chunks, ",\"bytes\":", st->bytes,
                                              ",\"entries\":", st->entries, "}"));
                });
}

}  // namespace norn::querier
