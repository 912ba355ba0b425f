// Go's time layouts ("2006-01-02T15:04:05Z07:00") for formatting and parsing GoTime values, and
// Go's time.LoadLocation. Internal to the template module; stateless and thread-safe.
//
// "Local" is UTC: Norn processes run in UTC (as Loki's container images do), and formatting must
// not depend on the host's TZ.
#pragma once

#include <string>
#include <string_view>

#include "logql/template/value.h"

namespace norn::logql_template::internal {

// time.Time.Format(layout).
void AppendGoTimeFormat(std::string* out, const GoTime& t, std::string_view layout);
// time.Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST".
void AppendGoTimeString(std::string* out, const GoTime& t);

// time.LoadLocation(name): returns false for unknown zones. `loc` receives the zone fields
// (its instant is untouched).
bool LoadGoLocation(std::string_view name, GoTime* loc);

// time.ParseInLocation(layout, value, loc). Returns false on any parse error (callers in Loki's
// function set ignore the error and use the zero time).
bool ParseGoTime(std::string_view layout, std::string_view value, const GoTime& loc, GoTime* out);

// time.ParseDuration; on error returns false and sets *err to Go's message.
bool ParseGoDuration(std::string_view s, int64_t* ns, std::string* err);

}  // namespace norn::logql_template::internal
