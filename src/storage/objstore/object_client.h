// ObjectClient: the object-storage interface every store backend implements (filesystem today;
// S3 next). Keys are '/'-separated relative paths such as
// "fake/chunks/00ab.../0000018c-0000018d-1a2b3c4d" or "index/index_19723/fake/ingester-1.idx".
//
// Contract (modelled on LevelDB's Env): every call may be made from any thread concurrently.
// Put is atomic: a reader sees either no object or the whole new object, never a prefix. Errors:
// kNotFound for a missing key, kUnavailable for transient failures worth retrying (network,
// throttling, a store that is down), kInvalidArgument for bad keys, kDataLoss for corruption,
// kInternal otherwise. Callers retry only on kUnavailable / kResourceExhausted.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace norn::objstore {

struct ObjectAttributes {
  std::string key;
  uint64_t size = 0;
  absl::Time last_modified;
};

struct ListResult {
  std::vector<ObjectAttributes> objects;
  // "Directories" one level below the prefix when a delimiter was given (S3 CommonPrefixes).
  std::vector<std::string> common_prefixes;
};

// An object's bytes, valid while `owner` lives.
struct SharedBytes {
  std::shared_ptr<const void> owner;
  std::string_view bytes;
};

class ObjectClient {
 public:
  virtual ~ObjectClient() = default;

  [[nodiscard]] virtual absl::Status Put(std::string_view key, std::string_view data) = 0;
  virtual absl::StatusOr<std::string> Get(std::string_view key) = 0;
  // Bytes [offset, offset+length) of the object; a range past the end is clipped.
  virtual absl::StatusOr<std::string> GetRange(std::string_view key, uint64_t offset,
                                               uint64_t length) = 0;
  // Get() for readers that keep the bytes while they use them (chunks being queried): a
  // backend that can hand out an object without copying it does (the filesystem maps the file).
  virtual absl::StatusOr<SharedBytes> GetShared(std::string_view key) {
    absl::StatusOr<std::string> got = Get(key);
    if (!got.ok())
      return got.status();
    auto owned = std::make_shared<const std::string>(*std::move(got));
    return SharedBytes{owned, *owned};
  }
  // GetRange() likewise.
  virtual absl::StatusOr<SharedBytes> GetRangeShared(std::string_view key, uint64_t offset,
                                                     uint64_t length) {
    absl::StatusOr<std::string> got = GetRange(key, offset, length);
    if (!got.ok())
      return got.status();
    auto owned = std::make_shared<const std::string>(*std::move(got));
    return SharedBytes{owned, *owned};
  }
  virtual absl::StatusOr<ObjectAttributes> Head(std::string_view key) = 0;
  // Every object whose key starts with `prefix`. With a non-empty `delimiter` ("/"), keys that
  // continue past the next delimiter are folded into common_prefixes instead.
  virtual absl::StatusOr<ListResult> List(std::string_view prefix, std::string_view delimiter) = 0;
  // Deleting a missing key is not an error (as S3).
  [[nodiscard]] virtual absl::Status Delete(std::string_view key) = 0;
  // Short name for logs and metrics ("filesystem", "s3").
  virtual std::string_view Name() const = 0;
  // True when a request's time is mostly waiting (network round trips), so many requests in
  // flight at once pay off; false for local storage, where more than a request per core only
  // adds thread wake-ups.
  virtual bool LatencyBound() const { return true; }
};

// Rejects keys that could escape the store's root or are not portable across backends:
// empty, absolute, containing "." or ".." segments, empty segments or NUL.
[[nodiscard]] absl::Status ValidateKey(std::string_view key);

}  // namespace norn::objstore
