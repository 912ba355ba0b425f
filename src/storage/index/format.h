// Constants of the index file layout, shared by writer and reader. The layout is documented in
// docs/formats.md ("Index"); bump kVersion for any change a v1 reader cannot read.
//
// Internal to norn::index.
#pragma once

#include <cstddef>
#include <cstdint>

namespace norn::index::internal {

inline constexpr char kMagic[4] = {'N', 'I', 'D', 'X'};     // file start
inline constexpr char kEndMagic[4] = {'X', 'D', 'I', 'N'};  // in the footer
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderSize = 8;  // magic, version, 3 zero bytes

enum Section : int {
  kSymbols = 0,    // uvarint length + bytes per symbol, sorted, unique
  kSymbolOffsets,  // u32 per symbol: entry offset within kSymbols
  kSeries,         // one entry per series in label order
  kSeriesOffsets,  // u32 per series: entry offset within kSeries
  kPostings,       // postings lists; the all-series list is at offset 0
  kLabelNames,     // 12 bytes per label name: u32 name sym, u32 first value, u32 value count
  kLabelValues,    // 8 bytes per (name, value): u32 value sym, u32 postings offset
  kNumSections,
};

inline constexpr size_t kNameEntrySize = 12;
inline constexpr size_t kValueEntrySize = 8;

// TOC: u32 symbols, u32 series, u32 label names, u32 label values, u64 chunks,
// i64 min time, i64 max time, then (u64 offset, u64 length) per section.
inline constexpr size_t kTocSize = 4 * 4 + 8 * 3 + 16 * kNumSections;
// Footer: u64 TOC offset, 4-byte end magic, u64 XXH3-64 of every byte before the checksum.
inline constexpr size_t kFooterSize = 8 + 4 + 8;

}  // namespace norn::index::internal
