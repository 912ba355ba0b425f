#include "querier/params.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "logql/engine/http_params.h"
#include "logql/syntax/go_compat.h"

namespace norn::querier {

absl::StatusOr<int64_t> ParseTimestamp(std::string_view value) {
  if (value.empty()) return absl::InvalidArgumentError("cannot parse \"\" to a valid timestamp");
  return logql_engine::ParseLokiTimestamp(value, 0);
}

absl::StatusOr<TimeRange> ParseRange(const http::HttpRequest& req, int64_t now_ns) {
  TimeRange r;
  r.end_ns = now_ns;
  if (req.HasParam("end")) {
    auto end = ParseTimestamp(req.Param("end"));
    if (!end.ok()) return absl::InvalidArgumentError(absl::StrCat("invalid end parameter: ", end.status().message()));
    r.end_ns = *end;
  }
  int64_t since = int64_t{6} * 3600 * 1'000'000'000;
  if (req.HasParam("since")) {
    auto d = logql::syntax::ParsePromDuration(req.Param("since"));
    if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat("invalid since parameter: ", d.status().message()));
    since = *d;
  }
  r.start_ns = r.end_ns - since;
  if (req.HasParam("start")) {
    auto start = ParseTimestamp(req.Param("start"));
    if (!start.ok()) return absl::InvalidArgumentError(absl::StrCat("invalid start parameter: ", start.status().message()));
    r.start_ns = *start;
  }
  if (r.end_ns < r.start_ns) {
    return absl::InvalidArgumentError(
        "end timestamp must not be before or equal to start time");
  }
  return r;
}

}  // namespace norn::querier
