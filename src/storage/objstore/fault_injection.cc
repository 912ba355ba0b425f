#include "storage/objstore/fault_injection.h"

#include "absl/time/clock.h"

namespace norn::objstore {

void FaultInjectingObjectClient::FailWrites(int n, absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_writes_ = n;
  write_status_ = std::move(status);
}

void FaultInjectingObjectClient::FailReads(int n, absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_reads_ = n;
  read_status_ = std::move(status);
}

void FaultInjectingObjectClient::FailGetsOf(std::string part, int after, absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_gets_of_ = std::move(part);
  fail_gets_after_ = after;
  get_status_ = std::move(status);
}

absl::Status FaultInjectingObjectClient::MaybeFailGet(std::string_view key) {
  absl::MutexLock lock(&mu_);
  if (fail_gets_of_.empty() || key.find(fail_gets_of_) == std::string_view::npos) {
    return absl::OkStatus();
  }
  if (fail_gets_after_ > 0) {
    --fail_gets_after_;
    return absl::OkStatus();
  }
  return get_status_;
}

void FaultInjectingObjectClient::SetDelay(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  delay_ = d;
}

void FaultInjectingObjectClient::Clear() {
  absl::MutexLock lock(&mu_);
  fail_writes_ = fail_reads_ = 0;
  fail_gets_of_.clear();
  delay_ = absl::ZeroDuration();
  corrupt_reads_.store(false);
}

absl::Status FaultInjectingObjectClient::MaybeFail(bool write) {
  absl::Duration delay;
  absl::Status result;
  {
    absl::MutexLock lock(&mu_);
    delay = delay_;
    int& left = write ? fail_writes_ : fail_reads_;
    if (left != 0) {
      if (left > 0) --left;
      result = write ? write_status_ : read_status_;
    }
  }
  (write ? writes_ : reads_).fetch_add(1);
  if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
  return result;
}

absl::StatusOr<std::string> FaultInjectingObjectClient::MaybeCorrupt(
    absl::StatusOr<std::string> data) {
  if (data.ok() && corrupt_reads_.load() && !data->empty()) {
    (*data)[data->size() / 2] ^= 0x5a;
  }
  return data;
}

absl::Status FaultInjectingObjectClient::Put(std::string_view key, std::string_view data) {
  if (auto st = MaybeFail(true); !st.ok()) return st;
  return inner_->Put(key, data);
}

absl::StatusOr<std::string> FaultInjectingObjectClient::Get(std::string_view key) {
  if (auto st = MaybeFail(false); !st.ok()) return st;
  if (auto st = MaybeFailGet(key); !st.ok()) return st;
  return MaybeCorrupt(inner_->Get(key));
}

absl::StatusOr<std::string> FaultInjectingObjectClient::GetRange(std::string_view key,
                                                                 uint64_t offset, uint64_t length) {
  if (auto st = MaybeFail(false); !st.ok()) return st;
  if (auto st = MaybeFailGet(key); !st.ok()) return st;
  return MaybeCorrupt(inner_->GetRange(key, offset, length));
}

absl::StatusOr<ObjectAttributes> FaultInjectingObjectClient::Head(std::string_view key) {
  if (auto st = MaybeFail(false); !st.ok()) return st;
  return inner_->Head(key);
}

absl::StatusOr<ListResult> FaultInjectingObjectClient::List(std::string_view prefix,
                                                            std::string_view delimiter) {
  if (auto st = MaybeFail(false); !st.ok()) return st;
  return inner_->List(prefix, delimiter);
}

absl::Status FaultInjectingObjectClient::Delete(std::string_view key) {
  if (auto st = MaybeFail(true); !st.ok()) return st;
  return inner_->Delete(key);
}

}  // namespace norn::objstore
