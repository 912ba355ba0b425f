// Process-wide structured logger writing one line per event to stderr, in Loki's logfmt shape
// (`level=info ts=2024-01-01T00:00:00.000000000Z caller=file.cc:42 msg="..." key=value`) or as
// one JSON object per line. Thread-safe: each event is formatted into its own buffer and written
// with a single write(2), so lines from different threads never interleave.
//
//   NORN_LOG(Info).Msg("server listening").Kv("addr", addr).Kv("port", 3100);
//
// Arguments are not evaluated when the level is disabled.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace norn::log {

enum class Level : uint8_t { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format : uint8_t { kLogfmt, kJson };

// Accepts Loki's level names: debug, info, warn, error.
absl::StatusOr<Level> ParseLevel(std::string_view name);
std::string_view LevelName(Level level);
absl::StatusOr<Format> ParseFormat(std::string_view name);

void SetLevel(Level level);
Level GetLevel();
void SetFormat(Format format);
Format GetFormat();
bool Enabled(Level level);

// Redirects output (tests). The default sink writes to fd 2.
using Sink = void (*)(std::string_view line);
void SetSinkForTesting(Sink sink);

// One log event; the line is emitted when the object is destroyed.
class Line {
 public:
  Line(Level level, const char* file, int line);
  ~Line();
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;

  Line& Msg(std::string_view msg) { return Kv("msg", msg); }
  Line& Kv(std::string_view key, std::string_view value);
  Line& Kv(std::string_view key, const char* value) { return Kv(key, std::string_view(value)); }
  Line& Kv(std::string_view key, const std::string& value) {
    return Kv(key, std::string_view(value));
  }
  Line& Kv(std::string_view key, int64_t value);
  Line& Kv(std::string_view key, int value) { return Kv(key, static_cast<int64_t>(value)); }
  Line& Kv(std::string_view key, uint64_t value);
  Line& Kv(std::string_view key, unsigned value) { return Kv(key, static_cast<uint64_t>(value)); }
  Line& Kv(std::string_view key, long long value) { return Kv(key, static_cast<int64_t>(value)); }
  Line& Kv(std::string_view key, unsigned long long value) {
    return Kv(key, static_cast<uint64_t>(value));
  }
  Line& Kv(std::string_view key, double value);
  Line& Kv(std::string_view key, bool value);
  Line& Kv(std::string_view key, absl::Duration value);
  Line& Kv(std::string_view key, const absl::Status& status);
  // Shorthand for Kv("err", status).
  Line& Err(const absl::Status& status) { return Kv("err", status); }

 private:
  void AppendRaw(std::string_view key, std::string_view value, bool quote_always);
  std::string buf_;
};

}  // namespace norn::log

#define NORN_LOG(severity)                                              \
  if (!::norn::log::Enabled(::norn::log::Level::k##severity)) {         \
  } else                                                                \
    ::norn::log::Line(::norn::log::Level::k##severity, __FILE__, __LINE__)
