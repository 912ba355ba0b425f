// DetectLogLevel: the level of a log line the way Loki's distributor derives `detected_level`
// when the entry carries none: a level-like field of a logfmt or JSON line (level, lvl, severity
// in any case), else a level keyword in the text. Answers one of "trace", "debug", "info",
// "warn", "error", "critical", "fatal" or "unknown". Pure; thread-safe; no allocation.
#pragma once

#include <string_view>

namespace norn {

std::string_view DetectLogLevel(std::string_view line);

// Maps a level spelling ("ERR", "Warning", "information", "5"...) to the names above, or
// "unknown".
std::string_view NormalizeLogLevel(std::string_view value);

// OpenTelemetry's SeverityNumber ranges (1-4 trace ... 21-24 fatal); "unknown" outside them.
std::string_view LevelFromOtlpSeverity(int severity_number);

}  // namespace norn
