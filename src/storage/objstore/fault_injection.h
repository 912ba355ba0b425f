// FaultInjectingObjectClient: wraps another ObjectClient and fails, delays or corrupts calls on
// demand, for tests of retry and no-data-loss behaviour (in the manner of RocksDB's
// FaultInjectionTestFS). Thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "storage/objstore/object_client.h"

namespace norn::objstore {

class FaultInjectingObjectClient : public ObjectClient {
 public:
  explicit FaultInjectingObjectClient(std::shared_ptr<ObjectClient> inner)
      : inner_(std::move(inner)) {}

  // The next `n` writes (Put/Delete) fail with `status`; -1 = every write until cleared.
  void FailWrites(int n, absl::Status status = absl::UnavailableError("injected write failure"));
  // The next `n` reads (Get/GetRange/Head/List) fail with `status`; -1 = until cleared.
  void FailReads(int n, absl::Status status = absl::UnavailableError("injected read failure"));
  // Gets of keys containing `part` fail with `status` after the first `after` of them
  // succeeded, until cleared (e.g. chunk reads in the middle of a query, index reads fine).
  void FailGetsOf(std::string part, int after = 0,
                  absl::Status status = absl::UnavailableError("injected read failure"));
  // Flips one byte in the middle of every object read while set.
  void CorruptReads(bool on) { corrupt_reads_.store(on); }
  void SetDelay(absl::Duration d);
  void Clear();

  int64_t writes() const { return writes_.load(); }
  int64_t reads() const { return reads_.load(); }

  absl::Status Put(std::string_view key, std::string_view data) override;
  absl::StatusOr<std::string> Get(std::string_view key) override;
  absl::StatusOr<std::string> GetRange(std::string_view key, uint64_t offset,
                                       uint64_t length) override;
  absl::StatusOr<ObjectAttributes> Head(std::string_view key) override;
  absl::StatusOr<ListResult> List(std::string_view prefix, std::string_view delimiter) override;
  absl::Status Delete(std::string_view key) override;
  std::string_view Name() const override { return inner_->Name(); }
  bool LatencyBound() const override { return inner_->LatencyBound(); }

 private:
  absl::Status MaybeFail(bool write);
  absl::Status MaybeFailGet(std::string_view key);
  absl::StatusOr<std::string> MaybeCorrupt(absl::StatusOr<std::string> data);

  std::shared_ptr<ObjectClient> inner_;
  absl::Mutex mu_;
  int fail_writes_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_reads_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status write_status_ ABSL_GUARDED_BY(mu_);
  absl::Status read_status_ ABSL_GUARDED_BY(mu_);
  absl::Duration delay_ ABSL_GUARDED_BY(mu_);
  std::string fail_gets_of_ ABSL_GUARDED_BY(mu_);
  int fail_gets_after_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status get_status_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> corrupt_reads_{false};
  std::atomic<int64_t> writes_{0};
  std::atomic<int64_t> reads_{0};
};

}  // namespace norn::objstore
