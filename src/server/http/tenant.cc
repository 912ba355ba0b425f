#include "server/http/tenant.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
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

}  // namespace norn::http
