// A minimal protobuf wire-format reader for the push decoders. Hand-written rather than protoc's
// generated classes so that strings come out as views into the caller's buffer (the generated
// parser copies every string into a std::string). Only what push payloads need: varints,
// fixed32/64, length-delimited fields, skipping unknown fields of any wire type.
//
// Not thread-safe (a cursor); cheap to copy.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace norn::loghttp::internal {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

class WireReader {
 public:
  explicit WireReader(std::string_view data)
      : p_(reinterpret_cast<const uint8_t*>(data.data())), end_(p_ + data.size()) {}

  bool done() const { return p_ >= end_; }

  // Reads the next field key. Returns false at end of input or on a malformed key (check ok()).
  bool Next(uint32_t* field, uint32_t* wire_type) {
    if (p_ >= end_)
      return false;
    uint64_t key;
    if (!ReadVarint(&key))
      return false;
    *field = static_cast<uint32_t>(key >> 3);
    *wire_type = static_cast<uint32_t>(key & 7);
    if (*field == 0)
      return Fail();
    return true;
  }

  bool ReadVarint(uint64_t* v) {
    // Fast path: one byte.
    if (p_ < end_ && *p_ < 0x80) {
      *v = *p_++;
      return true;
    }
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_)
        return Fail();
      uint8_t b = *p_++;
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) {
        *v = result;
        return true;
      }
    }
    return Fail();
  }

  bool ReadFixed64(uint64_t* v) {
    if (end_ - p_ < 8)
      return Fail();
    std::memcpy(v, p_, 8);  // Protobuf is little-endian, as is every target we build for.
    p_ += 8;
    return true;
  }

  bool ReadFixed32(uint32_t* v) {
    if (end_ - p_ < 4)
      return Fail();
    std::memcpy(v, p_, 4);
    p_ += 4;
    return true;
  }

  bool ReadBytes(std::string_view* out) {
    uint64_t len;
    if (!ReadVarint(&len))
      return false;
    if (len > static_cast<uint64_t>(end_ - p_))
      return Fail();
    *out = std::string_view(reinterpret_cast<const char*>(p_), static_cast<size_t>(len));
    p_ += len;
    return true;
  }

  // Skips a field's payload of the given wire type. Groups (deprecated) are rejected.
  bool Skip(uint32_t wire_type) {
    uint64_t v;
    std::string_view s;
    switch (wire_type) {
      case kVarint:
        return ReadVarint(&v);
      case kFixed64:
        return ReadFixed64(&v);
      case kLengthDelimited:
        return ReadBytes(&s);
      case kFixed32: {
        uint32_t w;
        return ReadFixed32(&w);
      }
      default:
        return Fail();
    }
  }

  bool ok() const { return ok_; }

 private:
  bool Fail() {
    ok_ = false;
    p_ = end_;
    return false;
  }

  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

}  // namespace norn::loghttp::internal
