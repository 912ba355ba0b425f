#include "server/http/body_decoder.h"

#include <zlib.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace norn::http {
namespace {

// window_bits: 15+32 auto-detects gzip or zlib headers; -15 is raw deflate.
absl::StatusOr<std::string> InflateWith(std::string_view in, uint64_t max_bytes, int window_bits) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, window_bits) != Z_OK) {
    return absl::InternalError("zlib inflateInit2 failed");
  }
  std::string out;
  out.resize(std::min<uint64_t>(std::max<size_t>(in.size() * 4, 4096), max_bytes + 1));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  size_t produced = 0;
  int rc = Z_OK;
  while (true) {
    if (produced == out.size()) {
      if (out.size() > max_bytes) break;
      out.resize(std::min<uint64_t>(out.size() * 2, max_bytes + 1));
    }
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out.size() - produced);
    rc = inflate(&zs, Z_NO_FLUSH);
    produced = out.size() - zs.avail_out;
    if (rc == Z_STREAM_END) {
      // Concatenated gzip members are legal: continue with the next one.
      if (zs.avail_in > 0 && window_bits > 0) {
        inflateReset(&zs);
        continue;
      }
      break;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // Truncated input.
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
  }
  inflateEnd(&zs);
  if (produced > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("decompressed request body exceeds the limit of ", max_bytes, " bytes"));
  }
  if (rc != Z_STREAM_END) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot decompress request body: ", rc == Z_OK || rc == Z_BUF_ERROR ? "unexpected end of data"
                                                                            : (zs.msg ? zs.msg : "invalid data")));
  }
  out.resize(produced);
  return out;
}

}  // namespace

absl::StatusOr<std::string> Inflate(std::string_view compressed, uint64_t max_bytes) {
  auto result = InflateWith(compressed, max_bytes, 15 + 32);
  if (result.ok() || result.status().code() == absl::StatusCode::kResourceExhausted) return result;
  auto raw = InflateWith(compressed, max_bytes, -15);
  if (raw.ok() || raw.status().code() == absl::StatusCode::kResourceExhausted) return raw;
  return result.status();
}

std::string GzipCompress(std::string_view data) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out;
  out.resize(deflateBound(&zs, data.size()) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace norn::http
