// PushRequest: the one in-memory form of every push payload Norn accepts (Loki protobuf+snappy,
// Loki JSON in both the v1 `stream`/`values` and the legacy `labels`/`entries` shapes, OTLP logs
// as protobuf or JSON). The distributor validates and routes this form only.
//
// Ownership: lines, label texts and structured metadata are std::string_views into byte storage
// owned by the PushRequest itself (the decompressed protobuf buffer, the request body, or an
// arena holding unescaped JSON strings). A PushRequest is move-only; moving it keeps every view
// valid (storage is heap-allocated and never reallocated). Views die with the request: copy what
// must outlive it (the ingester copies lines into its head block anyway).
//
// Thread-safety: a value type; not safe to mutate concurrently, safe to read from many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/labels.h"

namespace norn::loghttp {

// A structured-metadata pair viewing bytes owned by the PushRequest.
struct LabelView {
  std::string_view name;
  std::string_view value;
  friend bool operator==(const LabelView&, const LabelView&) = default;
};

struct PushEntry {
  int64_t timestamp_ns = 0;
  std::string_view line;
  // Empty for entries without metadata. Points into the owning PushRequest.
  std::span<const LabelView> structured_metadata;

  // Where the metadata sit in the request's pool; used only while decoding (the pool may still
  // grow, so the span is set by PushRequest::Finish()).
  uint32_t metadata_offset_ = 0;
  uint32_t metadata_count_ = 0;
};

struct PushStream {
  // Exactly one form is set. Protobuf and legacy JSON carry Loki's label text `{a="b"}` (a view
  // into the request) that the distributor parses with norn::ParseLabels (and may cache by
  // text); JSON v1 and OTLP build the label set directly.
  std::string_view labels_text;
  std::optional<Labels> labels;
  std::vector<PushEntry> entries;

  // The stream's labels whichever form was sent.
  absl::StatusOr<Labels> ParsedLabels() const;
};

namespace internal {

// Append-only byte storage whose blocks never move, so views into it stay valid until it dies.
class StringArena {
 public:
  StringArena() = default;
  StringArena(StringArena&&) noexcept = default;
  StringArena& operator=(StringArena&&) noexcept = default;
  StringArena(const StringArena&) = delete;
  StringArena& operator=(const StringArena&) = delete;

  // Uninitialized storage for `n` bytes (n may be 0).
  char* Allocate(size_t n);
  // A stable copy of `s`.
  std::string_view Copy(std::string_view s);
  // Takes ownership of a whole buffer (no copy) and returns a view of its contents.
  std::string_view Adopt(std::string s);
  size_t bytes_reserved() const { return reserved_; }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<std::unique_ptr<std::string>> adopted_;
  char* cur_ = nullptr;
  size_t left_ = 0;
  size_t reserved_ = 0;
};

}  // namespace internal

class PushRequest {
 public:
  PushRequest() = default;
  PushRequest(PushRequest&&) noexcept = default;
  PushRequest& operator=(PushRequest&&) noexcept = default;
  PushRequest(const PushRequest&) = delete;
  PushRequest& operator=(const PushRequest&) = delete;

  std::vector<PushStream> streams;

  // Totals computed while decoding (Loki's push stats: lines received, line bytes, structured
  // metadata bytes as name+value lengths).
  size_t entry_count() const { return entry_count_; }
  size_t line_bytes() const { return line_bytes_; }
  size_t structured_metadata_bytes() const { return metadata_bytes_; }

  // --- Decoder side (used by the decoders in this module and by tests building requests). ---
  internal::StringArena& arena() { return arena_; }
  // Starts a new metadata run for the entry about to be appended; returns its offset.
  uint32_t metadata_size() const { return static_cast<uint32_t>(metadata_.size()); }
  std::string_view metadata_name(uint32_t i) const { return metadata_[i].name; }
  void AddMetadata(std::string_view name, std::string_view value) {
    metadata_.push_back(LabelView{name, value});
    metadata_bytes_ += name.size() + value.size();
  }
  // Appends an entry whose metadata are the pairs added since `metadata_offset`.
  void AddEntry(PushStream& stream, int64_t ts, std::string_view line, uint32_t metadata_offset) {
    PushEntry& e = stream.entries.emplace_back();
    e.timestamp_ns = ts;
    e.line = line;
    e.metadata_offset_ = metadata_offset;
    e.metadata_count_ = static_cast<uint32_t>(metadata_.size() - metadata_offset);
    ++entry_count_;
    line_bytes_ += line.size();
  }
  // Points every entry's metadata span into the final pool. Called once decoding is done.
  void Finish();

 private:
  internal::StringArena arena_;
  std::vector<LabelView> metadata_;
  size_t entry_count_ = 0;
  size_t line_bytes_ = 0;
  size_t metadata_bytes_ = 0;
};

// Decoders. Each returns absl::InvalidArgumentError with a message a client can act on when the
// payload is malformed.

// Loki's `logproto.PushRequest`, raw (block) snappy-compressed as every Loki client sends it.
absl::StatusOr<PushRequest> DecodeProtobufPush(std::string_view snappy_body);
// The same, already uncompressed (the gRPC path and tests). Takes ownership of `raw`.
absl::StatusOr<PushRequest> DecodeUncompressedProtobufPush(std::string raw);

// Loki's JSON push body: `{"streams":[{"stream":{..},"values":[["<ns>","line",{..}]]}]}` and
// the legacy `{"streams":[{"labels":"{..}","entries":[{"ts":"<RFC3339>","line":".."}]}]}`.
absl::StatusOr<PushRequest> DecodeJsonPush(std::string_view body);

// Which endpoint a body arrived on; decides the encodings accepted.
enum class PushApi { kLoki, kOtlp };

// Checks the Content-Encoding left on a push request after the HTTP server inflated gzip/deflate
// (the server removes the header when it does). Accepts "" and "identity" everywhere, "snappy"
// on the Loki endpoint (protobuf bodies are snappy-compressed whatever the header says), and
// "zstd"/"lz4" on the OTLP endpoint (decoded by DecodeOtlpLogs). Anything else is
// InvalidArgument: `Content-Encoding "br" not supported`, Loki's wording.
[[nodiscard]] absl::Status CheckContentEncoding(std::string_view content_encoding, PushApi api);

// Decodes a body for `POST /loki/api/v1/push` (and `/api/prom/push`): JSON when the media type
// of `content_type` is application/json, otherwise (absent, application/x-protobuf, anything
// else, as Loki does) snappy-compressed protobuf. `content_encoding` is checked first.
absl::StatusOr<PushRequest> DecodeLokiPush(std::string_view content_type,
                                           std::string_view content_encoding,
                                           std::string_view body);

}  // namespace norn::loghttp
