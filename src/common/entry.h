// Entry: one log line of a stream, as pushed: a nanosecond timestamp, the line bytes and optional
// structured metadata (name/value pairs kept with the entry, not part of the stream's labels).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/labels.h"

namespace norn {

struct Entry {
  int64_t timestamp_ns = 0;
  std::string line;
  std::vector<Label> structured_metadata;
  friend bool operator==(const Entry&, const Entry&) = default;
};

}  // namespace norn
