#include "querier/params.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "logql/syntax/go_compat.h"

namespace norn::querier {

absl::StatusOr<int64_t> ParseTimestamp(std::string_view value) {
  if (value.find('.') != std::string_view::npos) {
    double f;
    if (absl::SimpleAtod(AV(value), &f) && std::isfinite(f)) {
      double secs;
      double frac = std::modf(f, &secs);
      frac = std::round(frac * 1000) / 1000;
      return static_cast<int64_t>(secs) * 1'000'000'000 + static_cast<int64_t>(frac * 1e9);
    }
  }
  int64_t n;
  if (absl::SimpleAtoi(AV(value), &n)) {
    if (value.size() <= 10) return n * 1'000'000'000;
    return n;
  }
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, AV(value), &t, &err)) return absl::ToUnixNanos(t);
  return absl::InvalidArgumentError(
      absl::StrCat("cannot parse \"", AV(value), "\" to a valid timestamp"));
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
