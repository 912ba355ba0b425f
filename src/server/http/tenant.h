// Tenant resolution shared by every tenant-aware endpoint (push, query, tail...).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/http/request.h"

namespace norn::http {

// `X-Scope-OrgID` when auth is enabled (401 "no org id" when missing, 400 for an ID Loki would
// refuse), "fake" otherwise. Multi-tenant reads (`a|b`) are not accepted here.
absl::StatusOr<std::string> TenantFromRequest(const HttpRequest& req, bool auth_enabled);

// Read endpoints: the tenants of `X-Scope-OrgID`, which may name several as `a|b` when
// `multi_tenant` (querier.multi_tenant_queries_enabled) is on; sorted and unique. Several
// tenants without it: 400 "multiple org IDs present".
absl::StatusOr<std::vector<std::string>> TenantsFromRequest(const HttpRequest& req,
                                                            bool auth_enabled, bool multi_tenant);

}  // namespace norn::http
