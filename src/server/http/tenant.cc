#include "server/http/tenant.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"

namespace norn::http {
namespace {

// Loki's tenant ID rules (pkg/tenant): 1-150 characters from a safe set, not "." or "..".
absl::Status ValidateTenantId(std::string_view id) {
  if (id.empty()) return absl::UnauthenticatedError("no org id");
  if (id.size() > 150) {
    return absl::InvalidArgumentError("tenant ID is too long: max 150 characters");
  }
  if (id == "." || id == "..") {
    return absl::InvalidArgumentError("tenant ID is '.' or '..'");
  }
  for (char c : id) {
    bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
              std::string_view("!-_.*'()").find(c) != std::string_view::npos;
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("tenant ID '", AV(id), "' contains unsupported character '",
                       std::string(1, c), "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> TenantFromRequest(const http::HttpRequest& req, bool auth_enabled) {
  if (!auth_enabled) return std::string("fake");
  std::string_view id = req.Header("x-scope-orgid");
  if (id.empty()) return absl::UnauthenticatedError("no org id");
  absl::Status st = ValidateTenantId(id);
  if (!st.ok()) return st;
  return std::string(id);
}

absl::StatusOr<std::vector<std::string>> TenantsFromRequest(const http::HttpRequest& req,
                                                            bool auth_enabled, bool multi_tenant) {
  if (!auth_enabled) return std::vector<std::string>{"fake"};
  std::string_view header = req.Header("x-scope-orgid");
  if (header.empty()) return absl::UnauthenticatedError("no org id");
  std::vector<std::string> ids;
  for (absl::string_view part : absl::StrSplit(AV(header), '|')) {
    std::string_view id = SV(part);
    absl::Status st = ValidateTenantId(id);
    if (!st.ok()) return st;
    ids.emplace_back(id);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.size() > 1 && !multi_tenant) {
    return absl::InvalidArgumentError(
        "multiple org IDs present (multi-tenant queries need "
        "querier.multi_tenant_queries_enabled: true)");
  }
  return ids;
}

}  // namespace norn::http
