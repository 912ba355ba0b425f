#include "storage/chunk/codec.h"

#include <lz4.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace norn::chunk {
namespace {

absl::Status Corrupt(std::string_view codec, std::string_view what) {
  return absl::DataLossError(absl::StrCat(AV(codec), " block: ", AV(what)));
}

class NoneCodec final : public Codec {
 public:
  Encoding method() const override { return Encoding::kNone; }
  std::string_view name() const override { return "none"; }
  absl::Status Compress(std::string_view raw, std::string* out) const override {
    out->append(raw);
    return absl::OkStatus();
  }
  absl::Status Decompress(std::string_view compressed, size_t raw_size,
                          std::string* out) const override {
    if (compressed.size() != raw_size)
      return Corrupt(name(), "size mismatch");
    out->assign(compressed);
    return absl::OkStatus();
  }
};

// zlib's default level (6), like Go's gzip.DefaultCompression that Loki uses.
class GzipCodec final : public Codec {
 public:
  Encoding method() const override { return Encoding::kGzip; }
  std::string_view name() const override { return "gzip"; }
  absl::Status Compress(std::string_view raw, std::string* out) const override {
    if (raw.size() > std::numeric_limits<uLong>::max() / 2) {
      return absl::InvalidArgumentError("gzip: input too large");
    }
    const size_t old = out->size();
    uLongf bound = compressBound(static_cast<uLong>(raw.size()));
    out->resize(old + bound);
    const int rc = compress2(reinterpret_cast<Bytef*>(out->data() + old), &bound,
                             reinterpret_cast<const Bytef*>(raw.data()),
                             static_cast<uLong>(raw.size()), Z_DEFAULT_COMPRESSION);
    if (rc != Z_OK) {
      out->resize(old);
      return absl::InternalError(absl::StrCat("gzip: compress failed: ", rc));
    }
    out->resize(old + bound);
    return absl::OkStatus();
  }
  absl::Status Decompress(std::string_view compressed, size_t raw_size,
                          std::string* out) const override {
    out->resize(raw_size);
    uLongf dest_len = static_cast<uLongf>(raw_size);
    uLong src_len = static_cast<uLong>(compressed.size());
    // uncompress2 reports Z_BUF_ERROR when the data decodes to more than raw_size bytes.
    const int rc = uncompress2(reinterpret_cast<Bytef*>(out->data()), &dest_len,
                               reinterpret_cast<const Bytef*>(compressed.data()), &src_len);
    if (rc != Z_OK || dest_len != raw_size || src_len != compressed.size()) {
      return Corrupt(name(), "invalid deflate stream");
    }
    return absl::OkStatus();
  }
};

class Lz4Codec final : public Codec {
 public:
  Encoding method() const override { return Encoding::kLz4; }
  std::string_view name() const override { return "lz4"; }
  absl::Status Compress(std::string_view raw, std::string* out) const override {
    if (raw.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
      return absl::InvalidArgumentError("lz4: input too large");
    }
    const size_t old = out->size();
    const int bound = LZ4_compressBound(static_cast<int>(raw.size()));
    out->resize(old + bound);
    const int n =
        LZ4_compress_default(raw.data(), out->data() + old, static_cast<int>(raw.size()), bound);
    if (n <= 0 && !raw.empty()) {
      out->resize(old);
      return absl::InternalError("lz4: compress failed");
    }
    out->resize(old + n);
    return absl::OkStatus();
  }
  absl::Status Decompress(std::string_view compressed, size_t raw_size,
                          std::string* out) const override {
    if (raw_size > static_cast<size_t>(LZ4_MAX_INPUT_SIZE) ||
        compressed.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
      return Corrupt(name(), "size out of range");
    }
    out->resize(raw_size);
    const int n =
        LZ4_decompress_safe(compressed.data(), out->data(), static_cast<int>(compressed.size()),
                            static_cast<int>(raw_size));
    if (n < 0 || static_cast<size_t>(n) != raw_size)
      return Corrupt(name(), "invalid lz4 block");
    return absl::OkStatus();
  }
};

class SnappyCodec final : public Codec {
 public:
  Encoding method() const override { return Encoding::kSnappy; }
  std::string_view name() const override { return "snappy"; }
  absl::Status Compress(std::string_view raw, std::string* out) const override {
    const size_t old = out->size();
    out->resize(old + snappy::MaxCompressedLength(raw.size()));
    size_t n = 0;
    snappy::RawCompress(raw.data(), raw.size(), out->data() + old, &n);
    out->resize(old + n);
    return absl::OkStatus();
  }
  absl::Status Decompress(std::string_view compressed, size_t raw_size,
                          std::string* out) const override {
    size_t len = 0;
    if (!snappy::GetUncompressedLength(compressed.data(), compressed.size(), &len) ||
        len != raw_size) {
      return Corrupt(name(), "bad length");
    }
    out->resize(raw_size);
    if (!snappy::RawUncompress(compressed.data(), compressed.size(), out->data())) {
      return Corrupt(name(), "invalid snappy data");
    }
    return absl::OkStatus();
  }
};

// Level 3 is zstd's default and close to Loki's (klauspost) "SpeedDefault".
constexpr int kZstdLevel = 1;  // Level 1: ~2x faster than 3 at a few % less ratio on logs.

class ZstdCodec final : public Codec {
 public:
  Encoding method() const override { return Encoding::kZstd; }
  std::string_view name() const override { return "zstd"; }
  absl::Status Compress(std::string_view raw, std::string* out) const override {
    // Contexts are reused per thread: creating one costs more than compressing a small block.
    thread_local std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(),
                                                                           &ZSTD_freeCCtx);
    if (cctx == nullptr)
      return absl::ResourceExhaustedError("zstd: no context");
    const size_t old = out->size();
    const size_t bound = ZSTD_compressBound(raw.size());
    out->resize(old + bound);
    const size_t n =
        ZSTD_compressCCtx(cctx.get(), out->data() + old, bound, raw.data(), raw.size(), kZstdLevel);
    if (ZSTD_isError(n)) {
      out->resize(old);
      return absl::InternalError(absl::StrCat("zstd: ", ZSTD_getErrorName(n)));
    }
    out->resize(old + n);
    return absl::OkStatus();
  }
  absl::Status Decompress(std::string_view compressed, size_t raw_size,
                          std::string* out) const override {
    thread_local std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(),
                                                                           &ZSTD_freeDCtx);
    if (dctx == nullptr)
      return absl::ResourceExhaustedError("zstd: no context");
    out->resize(raw_size);
    const size_t n = ZSTD_decompressDCtx(dctx.get(), out->data(), raw_size, compressed.data(),
                                         compressed.size());
    if (ZSTD_isError(n) || n != raw_size)
      return Corrupt(name(), "invalid zstd frame");
    return absl::OkStatus();
  }
};

}  // namespace

const Codec* GetCodec(Encoding encoding) {
  static const NoneCodec* const kNone = new NoneCodec();
  static const GzipCodec* const kGzip = new GzipCodec();
  static const Lz4Codec* const kLz4 = new Lz4Codec();
  static const SnappyCodec* const kSnappy = new SnappyCodec();
  static const ZstdCodec* const kZstd = new ZstdCodec();
  switch (encoding) {
    case Encoding::kNone:
      return kNone;
    case Encoding::kGzip:
      return kGzip;
    case Encoding::kLz4:
      return kLz4;
    case Encoding::kSnappy:
      return kSnappy;
    case Encoding::kZstd:
      return kZstd;
  }
  return nullptr;
}

absl::StatusOr<Encoding> ParseEncoding(std::string_view name) {
  if (name == "none")
    return Encoding::kNone;
  if (name == "gzip" || name == "flate")
    return Encoding::kGzip;
  if (name == "lz4" || name == "lz4-64k" || name == "lz4-256k" || name == "lz4-1M" ||
      name == "lz4-4M") {
    return Encoding::kLz4;
  }
  if (name == "snappy")
    return Encoding::kSnappy;
  if (name == "zstd")
    return Encoding::kZstd;
  return absl::InvalidArgumentError(
      absl::StrCat("invalid encoding: ", AV(name),
                   ", supported: none, gzip, lz4-64k, snappy, lz4-256k, lz4-1M, lz4, flate, zstd"));
}

std::string_view EncodingName(Encoding encoding) {
  const Codec* codec = GetCodec(encoding);
  return codec == nullptr ? std::string_view("unknown") : codec->name();
}

}  // namespace norn::chunk
