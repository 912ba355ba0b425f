// FilesystemObjectClient: objects as files under a root directory (single-binary mode's
// default store, and Loki's `filesystem` object_store). Put writes a temporary file in the
// target directory, fsyncs it, renames it over the key and fsyncs the directory, so a crash
// leaves either the old object or the new one. Thread-safe; no in-process state besides the root.
//
// Layout: the first two components of a key are directories and the rest of the key is one
// file name in which '/' is written "%2F" and '%' "%25": `fake/chunks/<fp>/<from>-<to>-<sum>`
// is the file `fake/chunks/<fp>%2F<from>-<to>-<sum>`. (One directory per key prefix, i.e. per
// stream for chunks, cost a 4 KiB inode each: 82 MB for 20,000 streams.) Objects that earlier
// versions stored at `<root>/<key>` are still read, listed and deleted there.
#pragma once

#include <string>

#include "storage/objstore/object_client.h"

namespace norn::objstore {

class FilesystemObjectClient : public ObjectClient {
 public:
  // Creates `root` if needed.
  static absl::StatusOr<std::unique_ptr<FilesystemObjectClient>> Open(std::string root);

  absl::Status Put(std::string_view key, std::string_view data) override;
  absl::StatusOr<std::string> Get(std::string_view key) override;
  absl::StatusOr<std::string> GetRange(std::string_view key, uint64_t offset,
                                       uint64_t length) override;
  // Reads of at least kMapThreshold bytes are mapped read-only instead of copied: Put only
  // ever replaces a file by renaming a new one over it, so a mapped file never changes.
  // Mapping has a fixed cost (the mapping, its page faults, unmapping with a TLB flush on
  // every core) that a copy of a single 64 KiB block into a reused buffer does not: a
  // 1000-line log query, which reads blocks one or two at a time, took more CPU with them
  // mapped.
  absl::StatusOr<SharedBytes> GetShared(std::string_view key) override;
  absl::StatusOr<SharedBytes> GetRangeShared(std::string_view key, uint64_t offset,
                                             uint64_t length) override;
  static constexpr uint64_t kMapThreshold = 256 << 10;
  absl::StatusOr<ObjectAttributes> Head(std::string_view key) override;
  absl::StatusOr<ListResult> List(std::string_view prefix, std::string_view delimiter) override;
  absl::Status Delete(std::string_view key) override;
  std::string_view Name() const override { return "filesystem"; }
  bool LatencyBound() const override { return false; }

  const std::string& root() const { return root_; }

 private:
  explicit FilesystemObjectClient(std::string root) : root_(std::move(root)) {}
  // Where Put writes `key` (the layout above).
  std::string PathFor(std::string_view key) const;
  // Where versions before the flat layout wrote `key`: `<root>/<key>`.
  std::string LegacyPathFor(std::string_view key) const;
  // Opens `key` for reading at PathFor or else LegacyPathFor; -errno of the first if neither.
  int OpenForRead(std::string_view key, std::string* path) const;
  // OpenForRead, and the file's size; the caller closes the descriptor.
  absl::StatusOr<int> OpenSized(std::string_view key, std::string* path, uint64_t* size) const;
  // Up to `length` (< kMapThreshold) bytes of `key` from `offset`, without asking its size.
  absl::StatusOr<std::string> ReadSmallRange(std::string_view key, uint64_t offset,
                                             uint64_t length) const;

  std::string root_;
};

}  // namespace norn::objstore
