// TokenFilter: a per-block Bloom filter over the 4-byte n-grams of the block's lines, used to
// skip blocks for LogQL line filters (`|= "needle"`) without decompressing them.
//
// Semantics: MayContain(needle) is false only if no line of the block contains `needle` as a
// case-sensitive byte substring. Every 4-gram of a line is inserted, so every 4-gram of a needle
// that occurs in a line is present: there are no false negatives. Needles shorter than
// kGramSize cannot be tested and always answer true. See docs/formats.md ("Chunks") for the
// exact hash and sizing rules, which are part of the on-disk format.
//
// Immutable after Build/Decode; const methods are thread-safe. Copies share the bit array: a
// filter decoded from a chunk's index can view the index bytes instead of copying them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace norn::chunk {

class TokenFilter {
 public:
  static constexpr size_t kGramSize = 4;
  // Hard cap on hash functions; also the largest k a decoder accepts.
  static constexpr uint32_t kMaxHashes = 8;

  // An empty filter (no bits): answers true for every needle.
  TokenFilter() = default;

  // Builds a filter over `lines` using at most `budget_bytes` bytes of bit array (rounded down
  // to whole 64-bit words; at least one word when there is anything to insert). The filter is
  // made smaller and given more hash functions when the budget exceeds ~10 bits per distinct
  // n-gram, and dropped (empty) when the budget is so small that it would be nearly all ones.
  static TokenFilter Build(std::span<const std::string_view> lines, size_t budget_bytes);

  bool MayContain(std::string_view needle) const;

  // True when the filter carries no bits (always answers true).
  bool empty() const { return num_words_ == 0; }
  uint32_t num_hashes() const { return num_hashes_; }
  uint64_t num_bits() const { return num_words_ * 64; }
  // Bytes of the bit array (what the filter costs on disk, besides a few header bytes).
  size_t ByteSize() const { return num_words_ * 8; }
  // Fraction of set bits, for diagnostics and tests.
  double FillRatio() const;

  // Serialised form: varint word count, then (if non-zero) one byte k and the words as
  // little-endian uint64s.
  void EncodeTo(std::string* out) const;
  // Parses from the front of `*in`, advancing it. False on truncated or invalid input. With
  // `owner` (which must keep the bytes of `*in` alive) the filter views its bit array where it
  // lies; without, it copies it.
  [[nodiscard]] bool DecodeFrom(std::string_view* in, std::shared_ptr<const void> owner = nullptr);

 private:
  bool TestGram(uint32_t gram) const;
  uint64_t Word(uint64_t i) const;
  // Takes `words` (native integers) as the bit array.
  void Adopt(std::vector<uint64_t> words, uint32_t num_hashes);

  uint32_t num_hashes_ = 0;
  uint64_t num_words_ = 0;
  const char* bits_ = nullptr;         // num_words_ little-endian u64s
  std::shared_ptr<const void> owner_;  // keeps bits_ alive
};

}  // namespace norn::chunk
