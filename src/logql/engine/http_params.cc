#include "logql/engine/http_params.h"

#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"
#include "logql/syntax/go_compat.h"

namespace norn::logql_engine {

namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kDefaultSince = 3600 * kSecond;

// Howard Hinnant's days_from_civil.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, size_t pos, size_t n, int64_t* out) {
  if (pos + n > s.size())
    return false;
  int64_t v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

absl::Status ParseIntError(std::string_view v) {
  return absl::InvalidArgumentError(
      absl::StrCat("strconv.ParseInt: parsing ", logql::syntax::GoQuote(v), ": invalid syntax"));
}

}  // namespace

absl::StatusOr<int64_t> ParseRfc3339Nano(std::string_view s) {
  auto bad = [&]() {
    return absl::InvalidArgumentError(absl::StrCat("parsing time ", logql::syntax::GoQuote(s),
                                                   " as \"2006-01-02T15:04:05.999999999Z07:00\""));
  };
  int64_t y, mo, d, h, mi, sec;
  if (!Digits(s, 0, 4, &y) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || s[10] != 'T' || !Digits(s, 11, 2, &h) ||
      s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' || !Digits(s, 17, 2, &sec)) {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59)
    return bad();
  size_t i = 19;
  int64_t frac = 0;
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    ++i;
    size_t start = i;
    int64_t scale = 100'000'000;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (i - start < 9)
        frac += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == start)
      return bad();
  }
  int64_t offset = 0;
  if (i < s.size() && s[i] == 'Z') {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int64_t oh, om;
    if (!Digits(s, i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !Digits(s, i + 4, 2, &om) || oh > 23 || om > 59) {
      return bad();
    }
    offset = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return bad();
  }
  if (i != s.size())
    return bad();
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset;
  return secs * kSecond + frac;
}

absl::StatusOr<int64_t> ParseLokiTimestamp(std::string_view value, int64_t default_ns) {
  if (value.empty())
    return default_ns;
  if (value.find('.') != std::string_view::npos) {
    auto f = logql::syntax::ParseGoFloat(value);
    if (f.ok()) {
      double ip;
      double frac = std::modf(*f, &ip);
      frac = std::round(frac * 1000) / 1000;
      return static_cast<int64_t>(ip) * kSecond + static_cast<int64_t>(frac * 1e9);
    }
  }
  int64_t n;
  bool digits_only = !value.empty();
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (!(c >= '0' && c <= '9') && !(i == 0 && (c == '-' || c == '+') && value.size() > 1)) {
      digits_only = false;
    }
  }
  if (!digits_only || !absl::SimpleAtoi(AV(value), &n)) {
    auto t = ParseRfc3339Nano(value);
    if (t.ok())
      return *t;
    return ParseIntError(value);
  }
  if (value.size() <= 10)
    return n * kSecond;
  return n;
}

absl::StatusOr<int64_t> ParseSecondsOrDuration(std::string_view value) {
  auto f = logql::syntax::ParseGoFloat(value);
  if (f.ok()) {
    double ns = *f * 1e9;
    if (ns > static_cast<double>(std::numeric_limits<int64_t>::max()) ||
        ns < static_cast<double>(std::numeric_limits<int64_t>::min())) {
      return absl::InvalidArgumentError(absl::StrCat("cannot parse ", logql::syntax::GoQuote(value),
                                                     " to a valid duration. It overflows int64"));
    }
    return static_cast<int64_t>(ns);
  }
  auto d = logql::syntax::ParsePromDuration(value);
  if (d.ok())
    return *d;
  return absl::InvalidArgumentError(
      absl::StrCat("cannot parse ", logql::syntax::GoQuote(value), " to a valid duration"));
}

namespace {

std::string_view Get(ParamGetter get, std::string_view name) {
  auto v = get(name);
  return v ? *v : std::string_view();
}

absl::Status ParseLimitAndDirection(ParamGetter get, LogQuery* q) {
  std::string_view l = Get(get, "limit");
  if (!l.empty()) {
    int64_t n;
    if (!absl::SimpleAtoi(AV(l), &n))
      return ParseIntError(l);
    if (n <= 0)
      return absl::InvalidArgumentError("limit must be a positive value");
    if (n > std::numeric_limits<uint32_t>::max())
      n = std::numeric_limits<uint32_t>::max();
    q->limit = static_cast<uint32_t>(n);
  }
  std::string_view d = Get(get, "direction");
  if (!d.empty()) {
    std::string up = absl::AsciiStrToUpper(AV(d));
    if (up == "FORWARD") {
      q->direction = Direction::kForward;
    } else if (up == "BACKWARD") {
      q->direction = Direction::kBackward;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("invalid direction '", AV(d), "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LogQuery> ParseRangeQueryParams(ParamGetter get, int64_t now_ns) {
  LogQuery q;
  q.query = std::string(Get(get, "query"));
  int64_t since = kDefaultSince;
  std::string_view since_s = Get(get, "since");
  if (!since_s.empty()) {
    auto d = logql::syntax::ParsePromDuration(since_s);
    if (!d.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("could not parse 'since' parameter: ", d.status().message()));
    }
    since = *d;
  }
  ASSIGN_OR_RETURN(q.end_ns, ParseLokiTimestamp(Get(get, "end"), now_ns));
  int64_t end_or_now = q.end_ns > now_ns ? now_ns : q.end_ns;
  ASSIGN_OR_RETURN(q.start_ns, ParseLokiTimestamp(Get(get, "start"), end_or_now - since));
  if (q.end_ns < q.start_ns) {
    return absl::InvalidArgumentError("end timestamp must not be before or equal to start time");
  }
  RETURN_IF_ERROR(ParseLimitAndDirection(get, &q));
  std::string_view step = Get(get, "step");
  if (step.empty()) {
    double secs = std::floor(static_cast<double>(q.end_ns - q.start_ns) / 1e9 / 250);
    q.step_ns = static_cast<int64_t>(std::max(secs, 1.0)) * kSecond;
  } else {
    ASSIGN_OR_RETURN(q.step_ns, ParseSecondsOrDuration(step));
  }
  if (q.step_ns <= 0) {
    return absl::InvalidArgumentError(
        "zero or negative query resolution step widths are not accepted. Try a positive integer");
  }
  if ((q.end_ns - q.start_ns) / q.step_ns > kMaxPointsPerSeries) {
    return absl::InvalidArgumentError(
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
        "resolution (?step=XX)");
  }
  std::string_view interval = Get(get, "interval");
  if (!interval.empty()) {
    ASSIGN_OR_RETURN(q.interval_ns, ParseSecondsOrDuration(interval));
    if (q.interval_ns < 0) {
      return absl::InvalidArgumentError(
          "zero or negative interval widths are not accepted. Try a positive integer");
    }
  }
  return q;
}

absl::StatusOr<LogQuery> ParseInstantQueryParams(ParamGetter get, int64_t now_ns) {
  LogQuery q;
  q.query = std::string(Get(get, "query"));
  q.instant = true;
  ASSIGN_OR_RETURN(q.end_ns, ParseLokiTimestamp(Get(get, "time"), now_ns));
  q.start_ns = q.end_ns;
  RETURN_IF_ERROR(ParseLimitAndDirection(get, &q));
  return q;
}

}  // namespace norn::logql_engine
