// Decodes `Content-Encoding: gzip` / `deflate` request bodies (zlib), bounded by a size limit so
// a small compressed body cannot expand without bound ("zip bomb").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace norn::http {

// Inflates a gzip or zlib-wrapped body (raw deflate is accepted for `deflate` too, as some
// clients send it). Returns kResourceExhausted when the output would exceed `max_bytes`,
// kInvalidArgument when the data is not valid.
absl::StatusOr<std::string> Inflate(std::string_view compressed, uint64_t max_bytes);

// Gzip-compresses `data` (used by tests and by response compression).
std::string GzipCompress(std::string_view data);

}  // namespace norn::http
