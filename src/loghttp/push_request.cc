#include "loghttp/push_request.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace norn::loghttp {
namespace internal {

namespace {
constexpr size_t kArenaBlock = 64 * 1024;
}  // namespace

char* StringArena::Allocate(size_t n) {
  if (n > left_) {
    // Big requests get a block of their own so the tail of the current block stays usable.
    size_t size = std::max(n, kArenaBlock);
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));
    reserved_ += size;
    if (size > kArenaBlock)
      return blocks_.back().get();
    cur_ = blocks_.back().get();
    left_ = size;
  }
  char* p = cur_;
  cur_ += n;
  left_ -= n;
  return p;
}

std::string_view StringArena::Copy(std::string_view s) {
  if (s.empty())
    return {};
  char* p = Allocate(s.size());
  std::memcpy(p, s.data(), s.size());
  return std::string_view(p, s.size());
}

std::string_view StringArena::Adopt(std::string s) {
  reserved_ += s.size();
  adopted_.push_back(std::make_unique<std::string>(std::move(s)));
  return *adopted_.back();
}

}  // namespace internal

absl::StatusOr<Labels> PushStream::ParsedLabels() const {
  if (labels.has_value())
    return *labels;
  return ParseLabels(labels_text);
}

void PushRequest::Finish() {
  const LabelView* base = metadata_.data();
  for (PushStream& s : streams) {
    for (PushEntry& e : s.entries) {
      if (e.metadata_count_ > 0) {
        e.structured_metadata = {base + e.metadata_offset_, e.metadata_count_};
      }
    }
  }
}

absl::Status CheckContentEncoding(std::string_view content_encoding, PushApi api) {
  std::string enc = absl::AsciiStrToLower(AV(content_encoding));
  absl::StripAsciiWhitespace(&enc);
  if (enc.empty() || enc == "identity")
    return absl::OkStatus();
  // The HTTP server inflates these and drops the header; accept them should one remain.
  if (enc == "gzip" || enc == "x-gzip" || enc == "deflate")
    return absl::OkStatus();
  if (api == PushApi::kLoki && enc == "snappy")
    return absl::OkStatus();
  if (api == PushApi::kOtlp && (enc == "zstd" || enc == "lz4"))
    return absl::OkStatus();
  std::string msg = "Content-Encoding ";
  AppendGoQuoted(&msg, content_encoding);
  msg.append(" not supported");
  return absl::InvalidArgumentError(msg);
}

namespace {

// The media type of a Content-Type value, lower-cased, without parameters.
std::string MediaType(std::string_view content_type) {
  size_t semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  std::string out = absl::AsciiStrToLower(AV(t));
  absl::StripAsciiWhitespace(&out);
  return out;
}

}  // namespace

absl::StatusOr<PushRequest> DecodeLokiPush(std::string_view content_type,
                                           std::string_view content_encoding,
                                           std::string_view body) {
  if (absl::Status s = CheckContentEncoding(content_encoding, PushApi::kLoki); !s.ok())
    return s;
  if (MediaType(content_type) == "application/json")
    return DecodeJsonPush(body);
  return DecodeProtobufPush(body);
}

}  // namespace norn::loghttp
