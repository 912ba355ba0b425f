// Little-endian fixed-width and LEB128 varint helpers for the chunk format. Decoders take a
// `std::string_view*` cursor and advance it; they return false (never read out of bounds) on
// truncated or malformed input so callers can turn that into kDataLoss.
//
// Stateless free functions; thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace norn::chunk::internal {

inline void PutFixed32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i)
    b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 4);
}

inline void PutFixed64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i)
    b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 8);
}

inline uint32_t LoadFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

inline uint64_t LoadFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

inline void PutVarint(std::string* out, uint64_t v) {
  char b[10];
  int n = 0;
  while (v >= 0x80) {
    b[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  b[n++] = static_cast<char>(v);
  out->append(b, n);
}

inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

inline bool GetVarint(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  const size_t n = in->size() < 10 ? in->size() : 10;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t byte = static_cast<uint8_t>((*in)[i]);
    if (i == 9 && byte > 1)
      return false;  // more than 64 bits
    result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      in->remove_prefix(i + 1);
      *v = result;
      return true;
    }
  }
  return false;
}

inline bool GetFixed64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8)
    return false;
  *v = LoadFixed64(in->data());
  in->remove_prefix(8);
  return true;
}

inline bool GetByte(std::string_view* in, uint8_t* v) {
  if (in->empty())
    return false;
  *v = static_cast<uint8_t>((*in)[0]);
  in->remove_prefix(1);
  return true;
}

// A varint length followed by that many bytes; the result views into the input.
inline bool GetLengthPrefixed(std::string_view* in, std::string_view* out) {
  uint64_t len = 0;
  if (!GetVarint(in, &len) || len > in->size())
    return false;
  *out = in->substr(0, len);
  in->remove_prefix(len);
  return true;
}

}  // namespace norn::chunk::internal
