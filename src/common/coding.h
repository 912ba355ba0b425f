// Little-endian fixed-width integers and LEB128 varints, shared by the binary formats (chunks,
// WAL). Encoders append to a std::string; decoders advance a std::string_view cursor and return
// false on truncated or malformed input (never reading out of bounds), so callers can turn that
// into kDataLoss.
//
// Stateless free functions; thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace norn::coding {


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
inline void EncodeFixed32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<char>(v >> (8 * i));
}
inline void EncodeFixed64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}
inline uint64_t DecodeFixed64(const char* p) {
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
inline void PutLengthPrefixed(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s.data(), s.size());
}

inline bool GetVarint(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0, i = 0; i < 10 && i < static_cast<int>(in->size()); ++i, shift += 7) {
    const uint8_t byte = static_cast<uint8_t>((*in)[i]);
    if (i == 9 && byte > 1)
      return false;  // Overflows 64 bits.
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (byte < 0x80) {
      in->remove_prefix(i + 1);
      *v = result;
      return true;
    }
  }
  return false;
}
inline bool GetFixed32(std::string_view* in, uint32_t* v) {
  if (in->size() < 4)
    return false;
  *v = DecodeFixed32(in->data());
  in->remove_prefix(4);
  return true;
}
inline bool GetFixed64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8)
    return false;
  *v = DecodeFixed64(in->data());
  in->remove_prefix(8);
  return true;
}
inline bool GetLengthPrefixed(std::string_view* in, std::string_view* s) {
  uint64_t n = 0;
  if (!GetVarint(in, &n) || n > in->size())
    return false;
  *s = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

inline bool GetByte(std::string_view* in, uint8_t* v) {
  if (in->empty())
    return false;
  *v = static_cast<uint8_t>((*in)[0]);
  in->remove_prefix(1);
  return true;
}

}  // namespace norn::coding
