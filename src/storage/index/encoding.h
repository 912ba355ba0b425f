// Little-endian fixed-width and LEB128 varint helpers for the index file format (docs/formats.md,
// "Index"). Encoding appends to a std::string; Decoder reads from borrowed bytes with a bounds
// check on every read and a sticky failure flag, so decoding a corrupt file never reads outside
// the mapping: callers test ok() once after a group of reads and report kDataLoss.
//
// Internal to norn::index. Stateless functions; Decoder is a cheap value type (not shared).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace norn::index::internal {

inline void PutU32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i)
    b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 4);
}

inline void PutU64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i)
    b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 8);
}

inline void PutUvarint(std::string* out, uint64_t v) {
  char b[10];
  int n = 0;
  while (v >= 0x80) {
    b[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  b[n++] = static_cast<char>(v);
  out->append(b, n);
}

inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

inline void PutVarint(std::string* out, int64_t v) {
  PutUvarint(out, ZigZag(v));
}

inline uint32_t LoadU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | static_cast<uint32_t>(u[1]) << 8 |
         static_cast<uint32_t>(u[2]) << 16 | static_cast<uint32_t>(u[3]) << 24;
}

inline uint64_t LoadU64(const char* p) {
  return static_cast<uint64_t>(LoadU32(p)) | static_cast<uint64_t>(LoadU32(p + 4)) << 32;
}

// Bounds-checked reader over [data, data + size). After the first failed read every further
// read returns 0 / empty and ok() stays false.
class Decoder {
 public:
  Decoder() = default;
  explicit Decoder(std::string_view bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  bool ok() const { return ok_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  const char* position() const { return p_; }

  uint32_t U32() {
    if (remaining() < 4)
      return Fail();
    uint32_t v = LoadU32(p_);
    p_ += 4;
    return v;
  }

  uint64_t U64() {
    if (remaining() < 8)
      return Fail();
    uint64_t v = LoadU64(p_);
    p_ += 8;
    return v;
  }

  uint64_t Uvarint() {
    const auto* p = reinterpret_cast<const unsigned char*>(p_);
    if (remaining() >= 10) {
      // Unrolled: no per-byte bounds checks when a maximal varint fits (the usual case).
      uint64_t b = p[0];
      uint64_t v = b;
      if (b < 0x80) {
        p_ += 1;
        return v;
      }
      v -= 0x80;
      for (int i = 1; i < 10; ++i) {
        b = p[i];
        v += b << (7 * i);
        if (b < 0x80) {
          if (i == 9 && b > 1)
            return Fail();  // overflows 64 bits
          p_ += i + 1;
          return v;
        }
        v -= uint64_t{0x80} << (7 * i);
      }
      return Fail();
    }
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_)
        return Fail();
      uint64_t b = static_cast<unsigned char>(*p_++);
      if (shift == 63 && b > 1)
        return Fail();  // overflows 64 bits
      v |= (b & 0x7f) << shift;
      if (b < 0x80)
        return v;
    }
    return Fail();
  }

  // A uvarint that must fit 32 bits.
  uint32_t Uvarint32() {
    uint64_t v = Uvarint();
    if (v > UINT32_MAX)
      return Fail();
    return static_cast<uint32_t>(v);
  }

  int64_t Varint() { return UnZigZag(Uvarint()); }

  std::string_view Bytes(size_t n) {
    if (remaining() < n) {
      Fail();
      return {};
    }
    std::string_view s(p_, n);
    p_ += n;
    return s;
  }

 private:
  uint32_t Fail() {
    ok_ = false;
    p_ = end_;
    return 0;
  }

  const char* p_ = nullptr;
  const char* end_ = nullptr;
  bool ok_ = true;
};

}  // namespace norn::index::internal
