// Minimal JSON string quoting for hand-built responses (small admin payloads). Query results use
// a streaming writer of their own.
#pragma once

#include <string>
#include <string_view>

namespace norn {

// Appends `s` as a JSON string literal (with quotes), escaping per RFC 8259. Invalid UTF-8 bytes
// are passed through unchanged (Loki does the same for log lines).
void AppendJsonString(std::string* out, std::string_view s);
inline std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

}  // namespace norn
