// Go-compatible conversions that LogQL's semantics are defined by: Loki is written in Go, so
// string literals follow strconv.Quote/Unquote, numbers print like fmt.Sprint(float64),
// durations parse like Prometheus' model.ParseDuration and Go's time.ParseDuration, byte sizes
// like go-humanize, and regular expressions use Go's RE2 syntax.
//
// Everything here is a pure function (thread-safe). The engine (logql/log) uses the same helpers
// at run time, e.g. to parse a label value for `| size > 10KB` or `| latency > 250ms`, so that the
// parser and the engine agree on every edge case.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace re2 {
class RE2;
}

namespace norn::logql::syntax {

// strconv.Quote: a double-quoted Go literal. Invalid UTF-8 bytes become \xNN, control characters
// use Go's short escapes (\n, \t, ...) or \xNN / \uNNNN.
std::string GoQuote(std::string_view s);
void AppendGoQuote(std::string* out, std::string_view s);

// Decodes the body of a Go literal. `literal` includes its quotes: "..." (escapes \a \b \f \n \r
// \t \v \\ \" \xNN \NNN \uNNNN \UNNNNNNNN) or `...` (raw; carriage returns dropped). On failure
// returns InvalidArgument with text/scanner's message ("invalid char escape") or strconv's
// ("invalid syntax").
absl::StatusOr<std::string> GoUnquote(std::string_view literal);

// fmt.Sprint(float64): shortest round-trip digits in Go's %v form: an exponent is used when the
// decimal exponent is < -4 or >= 6 ("100000", "1e+06",
// "0.0001", "1e-05"). NaN -> "NaN", +Inf -> "+Inf", -Inf -> "-Inf".
std::string FormatGoFloat(double v);
// strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent.
std::string FormatFloatPlain(double v);
// strconv.ParseFloat(s, 64) for decimal input ("12", "-1.5e3", ".5", "inf", "NaN"). Returns the
// error text ("strconv.ParseFloat: parsing \"x\": invalid syntax" / "value out of range").
absl::StatusOr<double> ParseGoFloat(std::string_view s);

// Prometheus model.ParseDuration: units y w d h m s ms, each at most once and in that order, or
// "0". Nanoseconds.
absl::StatusOr<int64_t> ParsePromDuration(std::string_view s);
// model.Duration.String() (millisecond precision): "5m", "1h30m", "1d", "0s".
std::string FormatPromDuration(int64_t ns);
// Go time.ParseDuration: "1.5h", "-2m3s", "500us", "300µs", "0".
absl::StatusOr<int64_t> ParseGoDuration(std::string_view s);
// time.Duration.String(): "1h0m0s", "1m30s", "1.5s", "500ms", "300µs", "0s".
std::string FormatGoDuration(int64_t ns);
// Loki's duration literals: Prometheus syntax first, then Go's.
absl::StatusOr<int64_t> ParseLokiDuration(std::string_view s);

// go-humanize ParseBytes: "10KB" (SI, 1000), "1MiB" (IEC, 1024), "5 b", "1.5GB", "1,000kB".
absl::StatusOr<uint64_t> ParseHumanBytes(std::string_view s);
// A byte size literal that re-parses to exactly `v`: go-humanize's Bytes() without the space
// ("15MB", "1.5kB") when that is exact, otherwise "<v>B".
std::string FormatBytesLiteral(uint64_t v);

// Compiles a user regular expression with Go regexp semantics (RE2 syntax, UTF-8, `(?<name>`
// accepted as `(?P<name>`). `dot_nl` wraps the pattern as `(?s:...)` (Prometheus label matchers
// let `.` match newlines). Errors read like Go's: "error parsing regexp: missing closing ): `(`".
// Anchoring is the caller's business (RE2::Match with ANCHOR_BOTH for label matchers).
absl::StatusOr<std::shared_ptr<const re2::RE2>> CompileGoRegex(std::string_view pattern,
                                                               bool dot_nl = false);

}  // namespace norn::logql::syntax
