// On-disk framing shared by WAL segments and checkpoint files (docs/formats.md, "WAL"):
//
//   file   := header frame*
//   header := "NORNWAL" 0x01                                   (8 bytes)
//   frame  := payload_len:u32 payload_xxh3:u32 synced_offset:u64 type:u8 zero:u8[3]
//             header_xxh3:u32 payload                          (24-byte header, little endian)
//   payload:= record*                   (type 1; see record.h)
//            | snappy(record*)          (type 2: the records, snappy-compressed as one block)
//
// The payload checksum covers the stored bytes (compressed for type 2). Writers compress a
// frame when that saves at least 1/16 of it; readers accept both types.
// A frame is the unit of writing and of checksumming: one Append() writes whole frames in one
// write(2). `synced_offset` is the file offset known durable (fdatasync'ed) when the frame was
// written; it is what lets a reader tell a torn tail (damage after which nothing was ever
// synced: truncate) from real corruption (damage followed by a frame that proves the damaged
// bytes had been synced: kDataLoss).
//
// Everything here is internal to norn::wal except the names and the scan result; thread-safe
// free functions, FrameBuilder not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/wal/record.h"

namespace norn::wal {

inline constexpr size_t kSegmentHeaderSize = 8;
inline constexpr std::string_view kSegmentMagic("NORNWAL\x01", kSegmentHeaderSize);
inline constexpr size_t kFrameHeaderSize = 24;
// Writers using direct I/O write whole blocks of this size: each group commit is followed by
// zeros up to the next multiple, and a new segment's first frame starts at this offset (bytes
// 8..4095 are zero). Where a frame is expected at an offset that is not a multiple and the bytes
// up to the next multiple are all zero, readers continue at that multiple.
inline constexpr size_t kPaddingBlock = 4096;
inline constexpr uint8_t kFrameTypeRecords = 1;
inline constexpr uint8_t kFrameTypeSnappyRecords = 2;
// Frames are closed once their payload reaches this; entries records are split at a quarter of
// it, so a frame stays below ~1.25x this plus one entry, which bounds the replay read buffer.
inline constexpr size_t kFrameTargetBytes = 1 << 20;
// Readers reject larger frames as corrupt (a sanity bound, not a format limit in practice).
inline constexpr uint32_t kMaxFramePayload = 1u << 30;

// "00000042" (zero-padded to 8 digits, longer when needed).
std::string SegmentName(uint64_t segment);
// Accepts names made only of decimal digits (at least one, at most 19).
bool ParseSegmentName(std::string_view name, uint64_t* segment);
// "checkpoint.00000042".
std::string CheckpointName(uint64_t segment);
// Accepts "checkpoint.<digits>" exactly (not the ".tmp" form).
bool ParseCheckpointName(std::string_view name, uint64_t* segment);

namespace internal {

// Low 32 bits of XXH3-64.
uint32_t Checksum(std::string_view data);

// Encodes records into complete frames in one buffer. Frame headers are left with
// synced_offset 0 and no header checksum: SealFrame() sets both right before writing.
class FrameBuilder {
 public:
  // `compress`: snappy-compress frames (type 2) when it pays; false writes only type 1.
  explicit FrameBuilder(size_t target_bytes = kFrameTargetBytes, bool compress = true)
      : target_(target_bytes), compress_(compress) {}

  // Appends the records (splitting big entries records) and returns how many wire records that
  // made.
  size_t Add(const Record& record);
  // Closes the open frame, if any. Add() may be called again afterwards.
  void Finish();

  const std::string& buffer() const { return buf_; }
  std::string& mutable_buffer() { return buf_; }
  // Start offset in buffer() of each finished frame.
  const std::vector<size_t>& frames() const { return frames_; }
  void Clear() {
    buf_.clear();
    frames_.clear();
    open_ = false;
  }

 private:
  void OpenFrame();
  void CloseFrame();
  void MaybeCut();

  const size_t target_;
  const bool compress_;
  std::string buf_;
  std::vector<size_t> frames_;
  size_t frame_start_ = 0;
  bool open_ = false;
};

// Length of the frame starting at `frame` (header + payload).
size_t FrameLength(const char* frame);
// Writes synced_offset and the header checksum of the frame at `frame`.
void SealFrame(char* frame, uint64_t synced_offset);

// What a directory holds, numbers sorted ascending.
struct DirListing {
  std::vector<uint64_t> segments;
  std::vector<uint64_t> checkpoints;
  std::vector<std::string> tmp_checkpoints;  // Names of "checkpoint.*.tmp" leftovers.
};
absl::StatusOr<DirListing> ListDir(const std::string& dir);

// fsync(2) on a directory, making renames/creations/unlinks in it durable.
absl::Status SyncDir(const std::string& dir);
// Removes a directory tree (checkpoint dirs hold plain files only).
absl::Status RemoveTree(const std::string& path);
// An I/O error as kUnavailable (retryable: the push fails with a 5xx and may be retried),
// e.g. "wal: write 00000003: No space left on device".
absl::Status ErrnoStatus(int err, std::string_view what);

struct ScanResult {
  uint64_t file_size = 0;
  uint64_t valid_end = 0;  // Offset after the last good frame (== file_size when clean).
  bool torn = false;       // A damaged tail was found (only when not strict).
  uint64_t frames = 0;
  uint64_t payload_bytes = 0;  // Decoded (uncompressed) payload bytes.
};

// Reads the file at `path` frame by frame with a bounded buffer (1 MiB, grown to the largest
// frame) and calls `on_payload(payload, frame_offset)` for each valid frame, with compressed
// payloads decompressed (into one reused buffer, grown to the largest frame); the view is valid
// only during the call. A type-2 frame whose checksum holds but that does not decompress is
// kDataLoss (it is not a torn write). A non-OK status from the callback stops the scan and is returned.
//
// Damage (bad header, checksum mismatch, truncated frame) at offset X:
//  - strict (non-last segments, checkpoints): kDataLoss naming `display` and X;
//  - otherwise (last segment): the rest of the file is searched for a valid frame whose
//    synced_offset > X; if one exists the damaged bytes had been synced, so it is kDataLoss;
//    if not, the damage is a torn tail: the result has torn = true and valid_end = X.
absl::StatusOr<ScanResult> ScanFile(
    const std::string& path, std::string_view display, bool strict,
    const std::function<absl::Status(std::string_view payload, uint64_t offset)>& on_payload);

}  // namespace internal
}  // namespace norn::wal
