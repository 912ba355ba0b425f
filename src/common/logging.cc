#include "common/logging.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/strings.h"

namespace norn::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kLogfmt};

void WriteToStderr(std::string_view line) {
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(2, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // Nowhere left to report a failing stderr.
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

std::atomic<Sink> g_sink{&WriteToStderr};

std::string_view Basename(const char* file) {
  std::string_view f(file);
  size_t slash = f.rfind('/');
  return slash == std::string_view::npos ? f : f.substr(slash + 1);
}

// logfmt values need quotes when empty or when they hold spaces, quotes, '=' or controls.
bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

void AppendEscaped(std::string& out, std::string_view v) {
  for (unsigned char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppend(&out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
}

}  // namespace

absl::StatusOr<Level> ParseLevel(std::string_view name) {
  std::string n = absl::AsciiStrToLower(AV(name));
  if (n == "debug") return Level::kDebug;
  if (n == "info") return Level::kInfo;
  if (n == "warn" || n == "warning") return Level::kWarn;
  if (n == "error") return Level::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("unrecognized log level \"", AV(name), "\": valid levels are debug, info, warn, error"));
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

absl::StatusOr<Format> ParseFormat(std::string_view name) {
  if (name == "logfmt") return Format::kLogfmt;
  if (name == "json") return Format::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("unrecognized log format \"", AV(name), "\": valid formats are logfmt, json"));
}

void SetLevel(Level level) { g_level.store(level, std::memory_order_relaxed); }
Level GetLevel() { return g_level.load(std::memory_order_relaxed); }
void SetFormat(Format format) { g_format.store(format, std::memory_order_relaxed); }
Format GetFormat() { return g_format.load(std::memory_order_relaxed); }
bool Enabled(Level level) {
  return static_cast<uint8_t>(level) >= static_cast<uint8_t>(g_level.load(std::memory_order_relaxed));
}
void SetSinkForTesting(Sink sink) { g_sink.store(sink ? sink : &WriteToStderr); }

Line::Line(Level level, const char* file, int line) {
  buf_.reserve(256);
  std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", absl::Now(), absl::UTCTimeZone());
  std::string caller = absl::StrCat(AV(Basename(file)), ":", line);
  if (GetFormat() == Format::kJson) buf_.push_back('{');
  AppendRaw("level", LevelName(level), true);
  AppendRaw("ts", ts, true);
  AppendRaw("caller", caller, true);
}

Line::~Line() {
  if (GetFormat() == Format::kJson) buf_.push_back('}');
  buf_.push_back('\n');
  g_sink.load()(buf_);
}

void Line::AppendRaw(std::string_view key, std::string_view value, bool quote_always) {
  if (GetFormat() == Format::kJson) {
    if (buf_.size() > 1) buf_.push_back(',');
    buf_.push_back('"');
    AppendEscaped(buf_, key);
    buf_ += "\":";
    if (quote_always) {
      buf_.push_back('"');
      AppendEscaped(buf_, value);
      buf_.push_back('"');
    } else {
      buf_.append(value);
    }
    return;
  }
  if (!buf_.empty()) buf_.push_back(' ');
  buf_.append(key);
  buf_.push_back('=');
  if (NeedsQuotes(value)) {
    buf_.push_back('"');
    AppendEscaped(buf_, value);
    buf_.push_back('"');
  } else {
    buf_.append(value);
  }
}

Line& Line::Kv(std::string_view key, std::string_view value) {
  AppendRaw(key, value, true);
  return *this;
}
Line& Line::Kv(std::string_view key, int64_t value) {
  AppendRaw(key, absl::StrCat(value), false);
  return *this;
}
Line& Line::Kv(std::string_view key, uint64_t value) {
  AppendRaw(key, absl::StrCat(value), false);
  return *this;
}
Line& Line::Kv(std::string_view key, double value) {
  if (!std::isfinite(value)) return Kv(key, std::string_view(absl::StrCat(value)));
  AppendRaw(key, absl::StrCat(value), false);
  return *this;
}
Line& Line::Kv(std::string_view key, bool value) {
  AppendRaw(key, value ? "true" : "false", false);
  return *this;
}
Line& Line::Kv(std::string_view key, absl::Duration value) {
  return Kv(key, std::string_view(absl::FormatDuration(value)));
}
Line& Line::Kv(std::string_view key, const absl::Status& status) {
  return Kv(key, status.ok() ? std::string("ok") : std::string(status.message()));
}

}  // namespace norn::log
