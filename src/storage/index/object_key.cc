#include "storage/index/object_key.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/strings.h"

namespace norn::index {
namespace {

bool ParseHex(std::string_view s, size_t max_len, uint64_t* out) {
  if (s.empty() || s.size() > max_len)
    return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return false;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

absl::Status BadChunkKey(std::string_view key) {
  return absl::InvalidArgumentError(absl::StrCat("invalid chunk object key: ", AV(key)));
}

}  // namespace

std::string ChunkObjectKey(std::string_view tenant, Fingerprint fp, int64_t from_ns,
                           int64_t through_ns, uint32_t checksum) {
  return absl::StrFormat("%s/chunks/%016x/%x-%x-%08x", AV(tenant), fp,
                         static_cast<uint64_t>(from_ns), static_cast<uint64_t>(through_ns),
                         checksum);
}

absl::StatusOr<ChunkKey> ParseChunkObjectKey(std::string_view key) {
  // Split from the right: tenant IDs cannot contain '/', but parse defensively anyway.
  size_t p3 = key.rfind('/');
  if (p3 == std::string_view::npos || p3 == 0)
    return BadChunkKey(key);
  size_t p2 = key.rfind('/', p3 - 1);
  if (p2 == std::string_view::npos)
    return BadChunkKey(key);
  constexpr std::string_view kChunks = "/chunks";
  if (p2 < kChunks.size() || key.substr(p2 - kChunks.size(), kChunks.size()) != kChunks) {
    return BadChunkKey(key);
  }
  ChunkKey out;
  out.tenant = std::string(key.substr(0, p2 - kChunks.size()));
  if (out.tenant.empty())
    return BadChunkKey(key);
  std::string_view fp_hex = key.substr(p2 + 1, p3 - p2 - 1);
  std::string_view rest = key.substr(p3 + 1);
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= rest.size(); ++i) {
    if (i == rest.size() || rest[i] == '-') {
      parts.push_back(rest.substr(start, i - start));
      start = i + 1;
    }
  }
  uint64_t fp, from, through, sum;
  if (fp_hex.size() != 16 || !ParseHex(fp_hex, 16, &fp) || parts.size() != 3 ||
      !ParseHex(parts[0], 16, &from) || !ParseHex(parts[1], 16, &through) || parts[2].size() != 8 ||
      !ParseHex(parts[2], 8, &sum)) {
    return BadChunkKey(key);
  }
  out.fingerprint = fp;
  out.from_ns = static_cast<int64_t>(from);
  out.through_ns = static_cast<int64_t>(through);
  out.checksum = static_cast<uint32_t>(sum);
  // Reject non-canonical spellings (leading zeros) so a key maps to exactly one chunk.
  if (ChunkObjectKey(out.tenant, out.fingerprint, out.from_ns, out.through_ns, out.checksum) !=
      key) {
    return BadChunkKey(key);
  }
  return out;
}

int64_t PeriodNumber(int64_t unix_ns) {
  int64_t q = unix_ns / kPeriodNs;
  if (unix_ns % kPeriodNs < 0)
    --q;
  return q;
}

int64_t PeriodStartNs(int64_t period) {
  return period * kPeriodNs;
}

std::string IndexObjectKey(int64_t period, std::string_view tenant, std::string_view file_name,
                           std::string_view prefix) {
  return absl::StrCat("index/", AV(prefix), period, "/", AV(tenant), "/", AV(file_name));
}

absl::StatusOr<IndexKey> ParseIndexObjectKey(std::string_view key, std::string_view prefix) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat("invalid index object key: ", AV(key)));
  };
  constexpr std::string_view kRoot = "index/";
  if (key.substr(0, kRoot.size()) != kRoot)
    return bad();
  std::string_view rest = key.substr(kRoot.size());
  if (rest.substr(0, prefix.size()) != prefix)
    return bad();
  rest.remove_prefix(prefix.size());
  size_t s1 = rest.find('/');
  if (s1 == std::string_view::npos)
    return bad();
  size_t s2 = rest.find('/', s1 + 1);
  if (s2 == std::string_view::npos)
    return bad();
  IndexKey out;
  std::string_view period = rest.substr(0, s1);
  if (!absl::SimpleAtoi(AV(period), &out.period))
    return bad();
  out.tenant = std::string(rest.substr(s1 + 1, s2 - s1 - 1));
  out.file_name = std::string(rest.substr(s2 + 1));
  if (out.tenant.empty() || out.file_name.empty() ||
      IndexObjectKey(out.period, out.tenant, out.file_name, prefix) != key) {
    return bad();
  }
  return out;
}

}  // namespace norn::index
