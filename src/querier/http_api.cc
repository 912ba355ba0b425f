#include "querier/http_api.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "absl/time/clock.h"
#include "common/json.h"
#include "common/strings.h"
#include "logql/syntax/parser.h"
#include "querier/entry_source.h"
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

// `prefix`, the JSON array of `values`, then `suffix`, in one string sized up front (label
// values of 20,000 streams are half a megabyte).
std::string StringArray(std::string_view prefix, const std::vector<std::string>& values,
                        std::string_view suffix) {
  size_t size = prefix.size() + suffix.size() + 2;
  for (const std::string& v : values)
    size += v.size() + 3;
  std::string out;
  out.reserve(size + size / 8);  // room for a few escapes
  out.append(prefix);
  out.push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(&out, values[i]);
  }
  out.push_back(']');
  out.append(suffix);
  return out;
}

// Tenant, time range and (optional) `query` selector shared by the metadata endpoints.
struct Common {
  std::vector<std::string> tenants;  // several for multi-tenant reads (`a|b`)
  TimeRange range;
  Matchers matchers;
};

absl::StatusOr<Common> ParseCommon(const HttpRequest& req, bool auth_enabled, bool multi_tenant,
                                   std::string_view matcher_param) {
  Common c;
  auto tenants = http::TenantsFromRequest(req, auth_enabled, multi_tenant);
  if (!tenants.ok()) return tenants.status();
  c.tenants = *std::move(tenants);
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

// Multi-tenant reads answer as the union over the tenants, each stream carrying
// `__tenant_id__`, as Loki's multi-tenant querier does; one tenant answers plainly.
absl::StatusOr<std::vector<std::string>> MultiTenantLabelNames(
    Querier* q, const std::vector<std::string>& tenants, const TimeRange& r) {
  std::set<std::string> out;
  for (const auto& t : tenants) {
    ASSIGN_OR_RETURN(auto names, q->LabelNames(t, r.start_ns, r.end_ns));
    out.insert(names.begin(), names.end());
  }
  if (tenants.size() > 1) out.emplace(kTenantLabel);
  return std::vector<std::string>(out.begin(), out.end());
}

absl::StatusOr<std::vector<std::string>> MultiTenantLabelValues(
    Querier* q, const std::vector<std::string>& tenants, std::string_view name,
    Matchers matchers, const TimeRange& r) {
  if (tenants.size() == 1) {
    return q->LabelValues(tenants[0], name, matchers, r.start_ns, r.end_ns);
  }
  std::vector<std::string> selected = SelectTenants(tenants, matchers);
  std::set<std::string> out;
  for (const auto& t : selected) {
    if (name == kTenantLabel) {
      out.insert(t);
      continue;
    }
    ASSIGN_OR_RETURN(auto values, q->LabelValues(t, name, matchers, r.start_ns, r.end_ns));
    out.insert(values.begin(), values.end());
  }
  return std::vector<std::string>(out.begin(), out.end());
}

absl::StatusOr<std::vector<Labels>> MultiTenantSeries(Querier* q,
                                                      const std::vector<std::string>& tenants,
                                                      const std::vector<Matchers>& groups,
                                                      const TimeRange& r) {
  if (tenants.size() == 1) return q->Series(tenants[0], groups, r.start_ns, r.end_ns);
  std::set<Labels> out;
  for (const Matchers& group : groups) {
    Matchers rest = group;
    std::vector<std::string> selected = SelectTenants(tenants, rest);
    for (const auto& t : selected) {
      ASSIGN_OR_RETURN(auto series, q->Series(t, {rest}, r.start_ns, r.end_ns));
      for (const Labels& l : series) {
        std::vector<Label> pairs(l.begin(), l.end());
        pairs.push_back(Label{std::string(kTenantLabel), t});
        out.insert(Labels(std::move(pairs)));
      }
    }
  }
  return std::vector<Labels>(out.begin(), out.end());
}

absl::StatusOr<index::IndexStats> MultiTenantStats(Querier* q,
                                                   const std::vector<std::string>& tenants,
                                                   Matchers matchers, const TimeRange& r) {
  std::vector<std::string> selected =
      tenants.size() == 1 ? tenants : SelectTenants(tenants, matchers);
  index::IndexStats sum;
  for (const auto& t : selected) {
    ASSIGN_OR_RETURN(auto st, q->Stats(t, matchers, r.start_ns, r.end_ns));
    sum.streams += st.streams;
    sum.chunks += st.chunks;
    sum.entries += st.entries;
    sum.bytes += st.bytes;
  }
  return sum;
}

}  // namespace

void RegisterMetadataRoutes(http::Router& router, const std::string& prefix, Querier* q,
                            bool auth_enabled) {
  const bool multi = q->options().multi_tenant_queries_enabled;
  auto labels = [q, auth_enabled, multi](bool legacy) {
    return [q, auth_enabled, multi, legacy](HttpRequest& req, HttpResponse& resp) {
      auto c = ParseCommon(req, auth_enabled, multi, "");
      if (!c.ok()) return WriteError(c.status(), resp);
      auto names = MultiTenantLabelNames(q, c->tenants, c->range);
      if (!names.ok()) return WriteError(names.status(), resp);
      resp.Json(
          200,
          StringArray(legacy ? "{\"values\":" : "{\"status\":\"success\",\"data\":", *names, "}"));
    };
  };
  for (const char* p : {"/loki/api/v1/labels", "/loki/api/v1/label"}) {
    router.Handle({Method::kGet, Method::kPost}, absl::StrCat(prefix, p), labels(false));
  }
  router.Handle({Method::kGet, Method::kPost}, absl::StrCat(prefix, "/api/prom/label"),
                labels(true));

  auto values = [q, auth_enabled, multi](bool legacy) {
    return [q, auth_enabled, multi, legacy](HttpRequest& req, HttpResponse& resp) {
      auto c = ParseCommon(req, auth_enabled, multi, "query");
      if (!c.ok()) return WriteError(c.status(), resp);
      auto vals = MultiTenantLabelValues(q, c->tenants, req.PathParam("name"), c->matchers,
                                         c->range);
      if (!vals.ok()) return WriteError(vals.status(), resp);
      resp.Json(
          200,
          StringArray(legacy ? "{\"values\":" : "{\"status\":\"success\",\"data\":", *vals, "}"));
    };
  };
  router.Handle({Method::kGet, Method::kPost},
                absl::StrCat(prefix, "/loki/api/v1/label/{name}/values"), values(false));
  router.Handle({Method::kGet, Method::kPost}, absl::StrCat(prefix, "/api/prom/label/{name}/values"),
                values(true));

  auto series = [q, auth_enabled, multi](HttpRequest& req, HttpResponse& resp) {
    auto c = ParseCommon(req, auth_enabled, multi, "");
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
    auto result = MultiTenantSeries(q, c->tenants, groups, c->range);
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
                [q, auth_enabled, multi](HttpRequest& req, HttpResponse& resp) {
                  auto c = ParseCommon(req, auth_enabled, multi, "query");
                  if (!c.ok()) return WriteError(c.status(), resp);
                  auto st = MultiTenantStats(q, c->tenants, c->matchers, c->range);
                  if (!st.ok()) return WriteError(st.status(), resp);
                  resp.Json(200, absl::StrCat("{\"streams\":", st->streams, ",\"chunks\":",
                                              st->chunks, ",\"bytes\":", st->bytes,
                                              ",\"entries\":", st->entries, "}"));
                });
}

}  // namespace norn::querier
