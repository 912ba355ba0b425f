// Tenant resolution shared by every tenant-aware endpoint (push, query, tail...).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "server/http/request.h"

namespace norn::http {

// `X-Scope-OrgID` when auth is enabled (401 "no org id" when missing, 400 for an ID Loki would
// refuse), "fake" otherwise. Multi-tenant reads (`a|b`) are not accepted here.
absl::StatusOr<std::string> TenantFromRequest(const HttpRequest& req, bool auth_enabled);

}  // namespace norn::http
