// Block compression codecs for chunks, in the style of ClickHouse's ICompressionCodec: each codec
// is identified by a one-byte method (`Encoding`) stored in the chunk header, so a reader picks
// the codec from the data and the writer's choice is a per-chunk setting.
//
// Codecs are stateless singletons (per-thread scratch contexts live inside the .cc), returned as
// `const Codec*` with static lifetime; every method is thread-safe.
//
// The caller always knows a block's uncompressed size (it is recorded in the block meta), so
// codecs use their raw/block formats without frame headers: lz4 is the LZ4 *block* format,
// gzip is a zlib (RFC 1950) deflate stream, snappy is snappy's raw format, zstd a zstd frame.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace norn::chunk {

// Stored on disk: never renumber.
enum class Encoding : uint8_t {
  kNone = 0,
  kGzip = 1,
  kLz4 = 2,
  kSnappy = 3,
  kZstd = 4,
};

class Codec {
 public:
  virtual ~Codec() = default;

  virtual Encoding method() const = 0;
  virtual std::string_view name() const = 0;

  // Appends the compressed form of `raw` to `*out`.
  [[nodiscard]] virtual absl::Status Compress(std::string_view raw, std::string* out) const = 0;

  // Replaces `*out` with the decompression of `compressed`, which must decode to exactly
  // `raw_size` bytes; anything else (corrupt input, wrong size) is kDataLoss.
  [[nodiscard]] virtual absl::Status Decompress(std::string_view compressed, size_t raw_size,
                                                std::string* out) const = 0;
};

// The codec for `encoding`, or nullptr for a value outside the enum (e.g. a corrupt byte).
const Codec* GetCodec(Encoding encoding);

// Loki's `chunk_encoding` names: "none", "gzip", "lz4", "snappy", "zstd", plus the aliases
// "lz4-64k", "lz4-256k", "lz4-1M", "lz4-4M" (all the same lz4 block codec here: our blocks are
// at most one head block long, so Loki's frame block-size variants make no difference) and
// "flate" (mapped to gzip: the same deflate algorithm). Case-sensitive, like Loki's.
absl::StatusOr<Encoding> ParseEncoding(std::string_view name);

// The canonical name ("none", "gzip", "lz4", "snappy", "zstd"); "unknown" for bad values.
std::string_view EncodingName(Encoding encoding);

}  // namespace norn::chunk
