#include "ingester/tailer.h"

#include <algorithm>
#include <shared_mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace norn::ingester {

namespace internal {

// State shared by the registry and its tailers, so a Tailer can unsubscribe after the
// registry is gone. Lock order: mu -> Tailer::mu_.
struct TailHub {
  explicit TailHub(TailRegistryOptions o) : opts(o) {}

  void Remove(Tailer* t) {
    std::unique_lock lock(mu);
    auto it = tenants.find(t->tenant());
    if (it == tenants.end()) return;
    auto& v = it->second;
    auto pos = std::find(v.begin(), v.end(), t);
    if (pos == v.end()) return;
    v.erase(pos);
    if (v.empty()) tenants.erase(it);
    active.fetch_sub(1, std::memory_order_relaxed);
  }

  void CloseAll() {
    std::unique_lock lock(mu);
    closed = true;
    for (auto& [tenant, tailers] : tenants) {
      for (Tailer* t : tailers) t->MarkClosed();
    }
    tenants.clear();
    active.store(0, std::memory_order_relaxed);
  }

  const TailRegistryOptions opts;
  std::atomic<int64_t> active{0};
  mutable std::shared_mutex mu;
  // Tailers unsubscribe (under mu) before they are destroyed, so the pointers stay valid.
  StringMap<std::vector<Tailer*>> tenants;  // Guarded by mu.
  bool closed = false;                      // Guarded by mu.
};

}  // namespace internal

// ---------------------------------------------------------------------------------------------
// Tailer

Tailer::Tailer(std::shared_ptr<internal::TailHub> hub, std::string tenant, StreamMatcher matcher,
               const TailRegistryOptions& opts)
    : hub_(std::move(hub)),
      tenant_(std::move(tenant)),
      max_entries_(opts.max_buffered_entries),
      max_bytes_(opts.max_buffered_bytes),
      max_dropped_(opts.max_dropped_reported),
      matcher_(std::move(matcher)) {}

Tailer::~Tailer() { Close(); }

void Tailer::Close() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  cv_.notify_all();
  hub_->Remove(this);
}

void Tailer::MarkClosed() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool Tailer::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

uint64_t Tailer::dropped_total() const {
  std::lock_guard lock(mu_);
  return dropped_total_;
}

void Tailer::Offer(const TailInput& in) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  auto [it, inserted] = streams_.try_emplace(in.fingerprint);
  StreamInfo& info = it->second;
  if (inserted) {
    info.matches = matcher_(*in.labels);
    if (info.matches) info.labels = std::make_shared<const Labels>(*in.labels);
  }
  if (!info.matches) return;
  TailBatch batch;
  for (const wal::EntryView& e : in.entries) {
    if (queued_entries_ >= max_entries_ || queued_bytes_ + e.line.size() > max_bytes_) {
      ++dropped_total_;
      if (dropped_.size() < max_dropped_) dropped_.push_back({info.labels, e.timestamp_ns});
      continue;
    }
    Entry& out = batch.entries.emplace_back();
    out.timestamp_ns = e.timestamp_ns;
    out.line.assign(e.line.data(), e.line.size());
    out.structured_metadata.reserve(e.structured_metadata.size());
    for (const wal::LabelView& l : e.structured_metadata) {
      out.structured_metadata.push_back(Label{std::string(l.name), std::string(l.value)});
    }
    ++queued_entries_;
    queued_bytes_ += e.line.size();
  }
  if (!batch.entries.empty()) {
    batch.labels = info.labels;
    batch.fingerprint = in.fingerprint;
    queue_.push_back(std::move(batch));
    cv_.notify_one();
  } else if (!dropped_.empty()) {
    cv_.notify_one();
  }
}

bool Tailer::Wait(absl::Duration timeout, std::vector<TailBatch>* batches,
                  std::vector<TailDropped>* dropped) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
               [this] { return closed_ || !queue_.empty() || !dropped_.empty(); });
  bool moved = !queue_.empty() || !dropped_.empty();
  for (auto& b : queue_) batches->push_back(std::move(b));
  queue_.clear();
  for (auto& d : dropped_) dropped->push_back(std::move(d));
  dropped_.clear();
  queued_entries_ = 0;
  queued_bytes_ = 0;
  return !closed_ || moved;
}

// ---------------------------------------------------------------------------------------------
// TailRegistry

TailRegistry::TailRegistry(TailRegistryOptions opts)
    : hub_(std::make_shared<internal::TailHub>(opts)) {}

TailRegistry::~TailRegistry() { hub_->CloseAll(); }

absl::StatusOr<std::shared_ptr<Tailer>> TailRegistry::Subscribe(std::string_view tenant,
                                                                StreamMatcher matcher,
                                                                int max_tailers) {
  const int limit = max_tailers > 0 ? max_tailers : hub_->opts.max_tailers_per_tenant;
  std::unique_lock lock(hub_->mu);
  if (hub_->closed) return absl::UnavailableError("the ingester is shutting down");
  auto& tailers = hub_->tenants[tenant];
  if (limit > 0 && tailers.size() >= static_cast<size_t>(limit)) {
    size_t count = tailers.size();
    if (tailers.empty()) hub_->tenants.erase(tenant);
    return absl::InvalidArgumentError(
        absl::StrCat("max concurrent tail requests limit exceeded, count > limit (", count + 1,
                     " > ", limit, ")"));
  }
  // The constructor is private (only the registry makes tailers), so no make_shared.
  std::shared_ptr<Tailer> t(
      new Tailer(hub_, std::string(tenant), std::move(matcher), hub_->opts));
  tailers.push_back(t.get());
  hub_->active.fetch_add(1, std::memory_order_relaxed);
  return t;
}

bool TailRegistry::active() const { return hub_->active.load(std::memory_order_relaxed) > 0; }

void TailRegistry::Notify(std::string_view tenant, std::span<const TailInput> streams) {
  std::shared_lock lock(hub_->mu);
  auto it = hub_->tenants.find(tenant);
  if (it == hub_->tenants.end()) return;
  for (Tailer* t : it->second) {
    for (const TailInput& in : streams) {
      if (!in.entries.empty()) t->Offer(in);
    }
  }
}

size_t TailRegistry::TailerCount(std::string_view tenant) const {
  std::shared_lock lock(hub_->mu);
  auto it = hub_->tenants.find(tenant);
  return it == hub_->tenants.end() ? 0 : it->second.size();
}

}  // namespace norn::ingester
