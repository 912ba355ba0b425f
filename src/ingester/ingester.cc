#include "ingester/ingester.h"

#include <xxhash.h>

#include <algorithm>
#include <condition_variable>
#include <atomic>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cache/cache.h"
#include "common/memory_trim.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/status.h"
#include "common/strings.h"
#include "storage/index/index_writer.h"
#include "storage/index/object_key.h"
#include "validation/validator.h"

namespace norn::ingester {
namespace {

constexpr int64_t kNanosPerDay = int64_t{86400} * 1'000'000'000;
constexpr size_t kMaxIgnoredReported = 10;

int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

std::vector<Label> MetadataToLabels(std::span<const wal::LabelView> views) {
  std::vector<Label> out;
  out.reserve(views.size());
  for (const auto& v : views) out.push_back(Label{std::string(v.name), std::string(v.value)});
  return out;
}

struct Metrics {
  metrics::CounterFamily& chunks_flushed = metrics::Registry::Default().Counter(
      "loki_ingester_chunks_flushed_total", "Total flushed chunks per reason.", {"reason"});
  metrics::Counter& flush_failures =
      metrics::Registry::Default()
          .Counter("loki_ingester_chunks_flush_failures_total",
                   "Total number of flush failures.")
          .Get();
  metrics::Counter& index_files =
      metrics::Registry::Default()
          .Counter("norn_ingester_index_files_written_total",
                   "Index files the ingester wrote to the store.")
          .Get();
  metrics::Counter& head_compactions =
      metrics::Registry::Default()
          .Counter("norn_ingester_head_compactions_total",
                   "Head blocks compressed in memory because all heads exceeded "
                   "ingester.head_compaction_threshold.")
          .Get();
  metrics::Counter& pressure_cuts =
      metrics::Registry::Default()
          .Counter("norn_ingester_head_pressure_cuts_total",
                   "Head blocks compressed early because all heads exceeded "
                   "ingester.head_memory_budget.")
          .Get();
  metrics::Counter& streams_created =
      metrics::Registry::Default()
          .Counter("loki_ingester_streams_created_total", "The total number of streams created.")
          .Get();
  metrics::Counter& streams_removed =
      metrics::Registry::Default()
          .Counter("loki_ingester_streams_removed_total", "The total number of streams removed.")
          .Get();
  metrics::Gauge& memory_chunks =
      metrics::Registry::Default()
          .Gauge("loki_ingester_memory_chunks", "The total number of chunks in memory.")
          .Get();
  metrics::Gauge& memory_streams =
      metrics::Registry::Default()
          .Gauge("loki_ingester_memory_streams", "The total number of streams in memory.")
          .Get();
  metrics::Counter& checkpoints =
      metrics::Registry::Default()
          .Counter("loki_ingester_checkpoint_creations_total",
                   "Total number of checkpoints created.")
          .Get();
  metrics::Counter& checkpoint_failures =
      metrics::Registry::Default()
          .Counter("loki_ingester_checkpoint_creations_failed_total",
                   "Total number of checkpoint creations that failed.")
          .Get();
};

Metrics& M() {
  static Metrics* m = new Metrics();
  return *m;
}

}  // namespace

absl::StatusOr<IngesterOptions> IngesterOptions::FromConfig(const config::Config& cfg) {
  IngesterOptions o;
  const auto& ing = cfg.ingester;
  ASSIGN_OR_RETURN(o.chunk.encoding, chunk::ParseEncoding(ing.chunk_encoding));
  o.chunk.block_size = static_cast<size_t>(ing.chunk_block_size);
  o.chunk.target_size = static_cast<size_t>(ing.chunk_target_size);
  o.max_chunk_age = ing.max_chunk_age;
  o.chunk_idle_period = ing.chunk_idle_period;
  o.chunk_retain_period = ing.chunk_retain_period;
  o.flush_check_period = ing.flush_check_period;
  o.early_flush_bytes = ing.early_flush_bytes;
  o.head_compaction_threshold = ing.head_compaction_threshold;
  o.head_memory_budget = ing.head_memory_budget;
  o.concurrent_flushes = std::max(1, ing.concurrent_flushes);
  o.wal_enabled = ing.wal.enabled;
  o.wal_dir = ing.wal.dir;
  o.wal_direct_io = ing.wal.direct_io;
  o.checkpoint_duration = ing.wal.checkpoint_duration;
  o.flush_on_shutdown = ing.wal.flush_on_shutdown;
  std::string addr = cfg.common.instance_addr.empty() ? "local" : cfg.common.instance_addr;
  o.instance_id = absl::StrCat("ingester-", addr, "-", cfg.server.grpc_listen_port);
  for (char& c : o.instance_id) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-')) c = '-';
  }
  if (!cfg.schema_config.configs.empty()) {
    o.index_prefix = cfg.schema_config.configs.back().index.prefix;
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Instance

Stream* Instance::GetOrCreate(const Labels& labels, Fingerprint fp, int64_t now_ns,
                              size_t max_streams, bool* created) {
  std::lock_guard lock(mu_);
  return GetOrCreateLocked(StreamBatch{&labels, fp, {}, {}}, now_ns, max_streams, created);
}

void Instance::GetOrCreateAll(std::span<const StreamBatch> batches, int64_t now_ns,
                              size_t max_streams, std::vector<Stream*>& out) {
  out.resize(batches.size());
  // One lock per push, not per stream: with thousands of streams per push, pushes running
  // side by side spent 5-7% of their CPU taking turns on this mutex.
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < batches.size(); ++i) {
    bool created;
    out[i] = GetOrCreateLocked(batches[i], now_ns, max_streams, &created);
  }
}

Stream* Instance::GetOrCreateLocked(const StreamBatch& batch, int64_t now_ns, size_t max_streams,
                                    bool* created) {
  *created = false;
  const Fingerprint fp = batch.fingerprint;
  auto it = streams_.find(fp);
  if (it != streams_.end()) return it->second.get();
  if (max_streams > 0 && streams_.size() >= max_streams) return nullptr;
  Labels parsed;
  if (batch.labels == nullptr) {
    absl::StatusOr<Labels> from_text = validation::ParseStreamLabels(batch.labels_text);
    if (!from_text.ok() || from_text->Hash() != fp) {
      NORN_LOG(Error)
          .Msg("stream labels do not match the fingerprint the distributor sent")
          .Kv("labels", batch.labels_text);
      return nullptr;
    }
    parsed = *std::move(from_text);
  }
  const Labels& labels = batch.labels != nullptr ? *batch.labels : parsed;
  auto stream = std::make_unique<Stream>(labels, fp, now_ns);
  Stream* raw = stream.get();
  streams_.emplace(fp, std::move(stream));
  for (const Label& l : labels) postings_[l.name][l.value].insert(fp);
  *created = true;
  M().streams_created.Inc();
  M().memory_streams.Inc();
  return raw;
}

Stream* Instance::Find(Fingerprint fp) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(fp);
  return it == streams_.end() ? nullptr : it->second.get();
}

std::vector<Stream*> Instance::Lookup(std::string_view name, std::string_view value) {
  std::lock_guard lock(mu_);
  std::vector<Stream*> out;
  auto n = postings_.find(name);
  if (n == postings_.end()) return out;
  auto collect = [&](const absl::flat_hash_set<Fingerprint>& fps) {
    for (Fingerprint fp : fps) {
      if (auto s = streams_.find(fp); s != streams_.end()) out.push_back(s->second.get());
    }
  };
  if (value.empty()) {
    for (const auto& [v, fps] : n->second) collect(fps);
  } else if (auto v = n->second.find(value); v != n->second.end()) {
    collect(v->second);
  }
  return out;
}

std::vector<Stream*> Instance::All() {
  std::lock_guard lock(mu_);
  std::vector<Stream*> out;
  out.reserve(streams_.size());
  for (auto& [fp, s] : streams_) out.push_back(s.get());
  return out;
}

size_t Instance::RemoveEmpty(absl::Time now, absl::Duration idle) {
  std::lock_guard lock(mu_);
  size_t removed = 0;
  for (auto it = streams_.begin(); it != streams_.end();) {
    Stream* s = it->second.get();
    bool empty;
    {
      std::lock_guard slock(s->mu);
      empty = s->chunks.empty() && now - s->last_push >= idle;
    }
    if (!empty) {
      ++it;
      continue;
    }
    for (const Label& l : s->labels()) {
      auto n = postings_.find(l.name);
      if (n == postings_.end()) continue;
      auto v = n->second.find(l.value);
      if (v != n->second.end()) {
        v->second.erase(s->fingerprint());
        if (v->second.empty()) n->second.erase(v);
      }
      if (n->second.empty()) postings_.erase(n);
    }
    streams_.erase(it++);
    ++removed;
  }
  M().streams_removed.Inc(static_cast<double>(removed));
  M().memory_streams.Dec(static_cast<double>(removed));
  return removed;
}

size_t Instance::size() {
  std::lock_guard lock(mu_);
  return streams_.size();
}

// ---------------------------------------------------------------------------------------------
// Ingester

Ingester::Ingester(IngesterOptions options, std::shared_ptr<objstore::ObjectClient> store,
                   LimitsProvider limits)
    : options_(std::move(options)), store_(std::move(store)), limits_(std::move(limits)),
      tails_(options_.tail) {}

Ingester::~Ingester() { Stop(); }

Instance* Ingester::GetOrCreateInstance(std::string_view tenant) {
  std::lock_guard lock(instances_mu_);
  auto it = instances_.find(tenant);
  if (it != instances_.end()) return it->second.get();
  auto inst = std::make_unique<Instance>(std::string(tenant));
  Instance* raw = inst.get();
  instances_.emplace(std::string(tenant), std::move(inst));
  return raw;
}

std::vector<std::string> Ingester::Tenants() {
  std::lock_guard lock(instances_mu_);
  std::vector<std::string> out;
  for (const auto& [t, i] : instances_) out.push_back(t);
  return out;
}

void Ingester::ForEachStream(std::string_view tenant, const std::function<void(Stream&)>& fn) {
  Instance* inst;
  {
    std::lock_guard lock(instances_mu_);
    auto it = instances_.find(tenant);
    if (it == instances_.end()) return;
    inst = it->second.get();
  }
  for (Stream* s : inst->All()) {
    std::lock_guard lock(s->mu);
    fn(*s);
  }
}

FlushStats Ingester::flush_stats() {
  std::lock_guard lock(flush_mu_);
  return stats_;
}

absl::Status Ingester::Start() {
  if (options_.wal_enabled) {
    if (options_.wal_dir.empty()) {
      return absl::InvalidArgumentError("ingester.wal.dir must be set when the WAL is enabled");
    }
    RETURN_IF_ERROR(Replay());
    wal::WalOptions wo;
    wo.dir = options_.wal_dir;
    wo.direct_io = options_.wal_direct_io;
    ASSIGN_OR_RETURN(wal_, wal::Wal::Open(std::move(wo)));
  }
  last_checkpoint_ = absl::Now();
  started_ = true;
  flush_loop_ = std::jthread([this](std::stop_token stop) { FlushLoop(stop); });
  return absl::OkStatus();
}

void Ingester::Stop() {
  if (!started_) return;
  started_ = false;
  flush_loop_.request_stop();
  if (flush_loop_.joinable()) flush_loop_.join();
  if (!options_.wal_enabled || options_.flush_on_shutdown) {
    absl::Status st = FlushAll();
    if (!st.ok()) {
      NORN_LOG(Error).Msg("flush on shutdown failed; unflushed data stays in the WAL").Err(st);
    }
  }
  if (wal_) {
    absl::Status st = wal_->Close();
    if (!st.ok()) {
      NORN_LOG(Error).Msg("closing WAL").Err(st);
    }
  }
}

absl::Status Ingester::Replay() {
  std::error_code ec;
  if (!std::filesystem::exists(options_.wal_dir, ec)) return absl::OkStatus();
  NORN_LOG(Info).Msg("replaying WAL").Kv("dir", options_.wal_dir);
  int64_t now = absl::GetCurrentTimeNanos();
  uint64_t orphans = 0;
  wal::ReplayCallbacks cb;
  cb.on_series = [&](std::string_view tenant, Fingerprint fp, const Labels& labels) {
    bool created;
    Stream* s = GetOrCreateInstance(tenant)->GetOrCreate(labels, fp, now, 0, &created);
    s->series_logged = true;
    return absl::OkStatus();
  };
  cb.on_entries = [&](std::string_view tenant, Fingerprint fp,
                      std::span<const wal::EntryView> entries) -> absl::Status {
    Stream* s = GetOrCreateInstance(tenant)->Find(fp);
    if (s == nullptr) {
      orphans += entries.size();
      return absl::OkStatus();
    }
    std::lock_guard lock(s->mu);
    for (const auto& e : entries) {
      if (s->chunks.empty() || s->chunks.back().closed ||
          !s->chunks.back().chunk->SpaceFor(e.line.size())) {
        if (!s->chunks.empty() && !s->chunks.back().closed) {
          RETURN_IF_ERROR(s->chunks.back().chunk->Close());
          s->chunks.back().closed = true;
        }
        ChunkDesc d;
        d.chunk = std::make_unique<chunk::MemChunk>(options_.chunk);
        s->chunks.push_back(std::move(d));
        M().memory_chunks.Inc();
      }
      auto md = MetadataToLabels(e.structured_metadata);
      auto r = s->chunks.back().chunk->Append(e.timestamp_ns, e.line, md);
      if (!r.ok()) return r.status();
      s->chunks.back().last_updated = absl::Now();
      s->newest_ts = std::max(s->newest_ts, e.timestamp_ns);
    }
    s->last_push = absl::Now();
    return absl::OkStatus();
  };
  auto stats = wal::Replay(options_.wal_dir, cb);
  if (!stats.ok()) return stats.status();
  if (orphans > 0) {
    NORN_LOG(Error).Msg("WAL entries without a series record were skipped").Kv("entries", orphans);
  }
  NORN_LOG(Info)
      .Msg("WAL replay finished")
      .Kv("series_records", stats->series_records)
      .Kv("entries", stats->entries)
      .Kv("bytes", stats->bytes)
      .Kv("duration", stats->duration);
  return absl::OkStatus();
}

absl::Status Ingester::Push(std::string_view tenant, std::span<const StreamBatch> streams) {
  std::shared_ptr<const config::TenantLimits> limits = limits_(tenant);
  Instance* inst = GetOrCreateInstance(tenant);
  const int64_t now = absl::GetCurrentTimeNanos();
  const absl::Time now_time = absl::FromUnixNanos(now);
  // Loki: the local limit is the global one divided over ingesters (times the replication
  // factor); one ingester here.
  size_t max_streams = 0;
  for (int l : {limits->max_streams_per_user, limits->max_global_streams_per_user}) {
    if (l > 0 && (max_streams == 0 || static_cast<size_t>(l) < max_streams)) max_streams = l;
  }
  const int64_t window = absl::ToInt64Nanoseconds(options_.max_chunk_age) / 2;

  // Accepted entries of all streams in one vector, reserved up front so the spans the WAL
  // records and tails take stay valid; each stream's are [accepted_begin[i], [i + 1]).
  size_t total_entries = 0;
  for (const StreamBatch& batch : streams)
    total_entries += batch.entries.size();
  std::vector<wal::EntryView> accepted;
  accepted.reserve(total_entries);
  std::vector<size_t> accepted_begin(streams.size() + 1, 0);
  auto accepted_of = [&](size_t i) {
    return std::span<const wal::EntryView>(accepted.data() + accepted_begin[i],
                                           accepted_begin[i + 1] - accepted_begin[i]);
  };
  std::vector<wal::Record> records;
  records.reserve(streams.size() * 2);
  std::vector<Stream*> series_to_mark;
  absl::Status limit_error, order_error;
  std::vector<Stream*> stream_of;
  inst->GetOrCreateAll(streams, now, max_streams, stream_of);

  for (size_t i = 0; i < streams.size(); ++i) {
    accepted_begin[i + 1] = accepted.size();  // stays so if the stream is skipped
    const StreamBatch& batch = streams[i];
    Stream* s = stream_of[i];
    size_t batch_bytes = 0;
    for (const auto& e : batch.entries) batch_bytes += e.line.size();
    if (s == nullptr) {
      auto rej = validation::StreamLimitRejection(tenant);
      validation::RecordDiscarded(rej.reason, tenant, batch.entries.size(), batch_bytes);
      if (limit_error.ok()) limit_error = rej.status;
      continue;
    }
    std::lock_guard lock(s->mu);
    if (limits->per_stream_rate_limit > 0) {
      auto& rl = s->rate_limiter();
      double rate = static_cast<double>(limits->per_stream_rate_limit);
      double burst = static_cast<double>(
          std::max(limits->per_stream_rate_limit_burst, limits->per_stream_rate_limit));
      if (rl.burst() == 0) {
        rl = validation::TokenBucket(rate, burst, now);  // First push: start with a full bucket.
      } else if (rl.rate() != rate || rl.burst() != burst) {
        rl.SetLimits(rate, burst, now);
      }
      if (!rl.AllowN(now, static_cast<double>(batch_bytes))) {
        auto rej = validation::StreamRateLimitRejection(s->labels_text(),
                                                        limits->per_stream_rate_limit, batch_bytes);
        validation::RecordDiscarded(rej.reason, tenant, batch.entries.size(), batch_bytes);
        if (limit_error.ok()) limit_error = rej.status;
        continue;
      }
    }
    std::vector<std::string> ignored;
    size_t ignored_count = 0, ignored_bytes = 0;
    for (const auto& e : batch.entries) {
      if (s->newest_ts != INT64_MIN && e.timestamp_ns < s->newest_ts - window) {
        ++ignored_count;
        ignored_bytes += e.line.size();
        if (ignored.size() < kMaxIgnoredReported) {
          ignored.push_back(absl::StrCat(
              "entry with timestamp ", validation::FormatTimestamp(e.timestamp_ns),
              " ignored, reason: 'entry too far behind, entry timestamp is: ",
              validation::FormatTimestamp(e.timestamp_ns), ", oldest acceptable timestamp is: ",
              validation::FormatTimestamp(s->newest_ts - window), "',"));
        }
        continue;
      }
      if (s->chunks.empty() || s->chunks.back().closed ||
          !s->chunks.back().chunk->SpaceFor(e.line.size())) {
        if (!s->chunks.empty() && !s->chunks.back().closed) {
          RETURN_IF_ERROR(s->chunks.back().chunk->Close());
          s->chunks.back().closed = true;
          NoteClosedChunk(s->chunks.back().chunk->CompressedSize());
        }
        ChunkDesc d;
        d.chunk = std::make_unique<chunk::MemChunk>(options_.chunk);
        s->chunks.push_back(std::move(d));
        M().memory_chunks.Inc();
      }
      absl::StatusOr<chunk::AppendResult> r;
      if (e.structured_metadata.empty()) {
        r = s->chunks.back().chunk->Append(e.timestamp_ns, e.line);
      } else {
        auto md = MetadataToLabels(e.structured_metadata);
        r = s->chunks.back().chunk->Append(e.timestamp_ns, e.line, md);
      }
      if (!r.ok()) return r.status();
      if (*r == chunk::AppendResult::kDuplicate) continue;
      s->chunks.back().last_updated = now_time;
      s->newest_ts = std::max(s->newest_ts, e.timestamp_ns);
      accepted.push_back(e);
    }
    accepted_begin[i + 1] = accepted.size();
    const std::span<const wal::EntryView> out = accepted_of(i);
    s->last_push = now_time;
    RETURN_IF_ERROR(CountHead(*s));
    if (ignored_count > 0) {
      validation::RecordDiscarded(validation::kTooFarBehind, tenant, ignored_count, ignored_bytes);
      if (order_error.ok()) {
        std::string msg;
        for (const auto& line : ignored) absl::StrAppend(&msg, line, "\n");
        absl::StrAppend(&msg, "user '", AV(tenant), "', total ignored: ", ignored_count, " out of ",
                        batch.entries.size(), " for stream: ", s->labels_text());
        order_error = absl::InvalidArgumentError(msg);
      }
    }
    if (wal_ != nullptr && !out.empty()) {
      if (!s->series_logged.load()) {
        records.push_back(wal::Record::Series(tenant, s->fingerprint(), s->labels()));
        series_to_mark.push_back(s);
      }
      records.push_back(wal::Record::EntryViews(tenant, s->fingerprint(), out));
    }
  }

  if (wal_ != nullptr && !records.empty()) {
    absl::Status st = wal_->Append(records);
    if (!st.ok()) {
      return absl::UnavailableError(absl::StrCat("failed to write to the WAL: ", st.message()));
    }
    for (Stream* s : series_to_mark) s->series_logged = true;
  }
  // Live tails see only what is acknowledged (durable). Nobody tailing costs one relaxed load.
  if (tails_.active()) {
    std::vector<TailInput> tail_inputs;
    tail_inputs.reserve(streams.size());
    for (size_t i = 0; i < streams.size(); ++i) {
      if (accepted_of(i).empty())
        continue;
      tail_inputs.push_back({&stream_of[i]->labels(), streams[i].fingerprint, accepted_of(i)});
    }
    tails_.Notify(tenant, tail_inputs);
  }
  if (!limit_error.ok()) return limit_error;
  return order_error;
}

// ---------------------------------------------------------------------------------------------
// Flushing

void Ingester::NoteClosedChunk(uint64_t compressed_bytes) {
  const uint64_t waiting = closed_unflushed_bytes_.fetch_add(compressed_bytes) + compressed_bytes;
  if (options_.early_flush_bytes > 0 && waiting >= options_.early_flush_bytes &&
      waiting - compressed_bytes < options_.early_flush_bytes) {
    // Only the push that crosses the threshold wakes the loop. The lock orders this notify
    // after the loop's predicate check, so the wake-up cannot be lost.
    std::lock_guard lock(wake_mu_);
    wake_cv_.notify_one();
  }
}

absl::Status Ingester::CountHead(Stream& s) {
  uint64_t head = 0;
  chunk::MemChunk* open = nullptr;
  if (!s.chunks.empty() && !s.chunks.back().closed) {
    open = s.chunks.back().chunk.get();
    head = open->HeadMemoryBytes();
  }
  auto recount = [&](uint64_t now) {
    const int64_t delta = static_cast<int64_t>(now) - static_cast<int64_t>(s.counted_head_memory);
    s.counted_head_memory = now;
    return head_memory_.fetch_add(delta) + delta;
  };
  int64_t total = recount(head);
  if (open == nullptr)
    return absl::OkStatus();
  if (options_.head_compaction_threshold > 0 &&
      total > static_cast<int64_t>(options_.head_compaction_threshold) &&
      open->HeadUncompactedBytes() >= IngesterOptions::kMinCompactBytes) {
    RETURN_IF_ERROR(open->CompactHead());
    total = recount(open->HeadMemoryBytes());
    M().head_compactions.Inc();
  }
  if (options_.head_memory_budget > 0 &&
      open->HeadBytes() >= IngesterOptions::kMinPressureCutBytes &&
      total > static_cast<int64_t>(options_.head_memory_budget)) {
    RETURN_IF_ERROR(open->CutHead());
    recount(open->HeadMemoryBytes());
    M().pressure_cuts.Inc();
  }
  return absl::OkStatus();
}

void Ingester::FlushLoop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(wake_mu_);
      wake_cv_.wait_for(lock, stop, absl::ToChronoNanoseconds(options_.flush_check_period),
                        [this] {
                          return options_.early_flush_bytes > 0 &&
                                 closed_unflushed_bytes_.load() >= options_.early_flush_bytes;
                        });
    }
    if (stop.stop_requested()) break;
    // Chunks closed from here on count towards the next early flush; this sweep may take
    // them too, which only flushes them sooner.
    closed_unflushed_bytes_.store(0);
    absl::Status st = Sweep(/*immediate=*/false);
    if (!st.ok()) {
      NORN_LOG(Warn).Msg("flush sweep failed; will retry").Err(st);
    }
  }
}

absl::Status Ingester::FlushAll() {
  absl::Status st = Sweep(/*immediate=*/true);
  return st;
}

absl::Status Ingester::PutWithRetry(const std::string& key, std::string_view data) {
  // Chunk keys name their content (fingerprint, bounds, checksum): one already written by a
  // replica is the same object.
  cache::Cache* dedupe = options_.write_dedupe_cache.get();
  const bool is_chunk = key.find("/chunks/") != std::string::npos;
  // Prefixed so a memcached shared with the chunk cache never mixes markers and chunks.
  const std::string dedupe_key = is_chunk && dedupe != nullptr ? "dedupe:" + key : std::string();
  if (!dedupe_key.empty()) {
    std::string_view k = dedupe_key;
    if (!dedupe->Fetch(std::span<const std::string_view>(&k, 1)).found_keys.empty()) {
      return absl::OkStatus();
    }
  }
  absl::Duration backoff = options_.flush_backoff;
  absl::Status st;
  for (int attempt = 0; attempt <= options_.flush_max_retries; ++attempt) {
    st = store_->Put(key, data);
    if (st.ok()) {
      if (!dedupe_key.empty()) {
        std::string_view k = dedupe_key;
        std::string_view v = "1";
        dedupe->Store(std::span<const std::string_view>(&k, 1),
                      std::span<const std::string_view>(&v, 1));
      }
      // Write back: the chunk is likely to be queried soon (as Loki's flush does).
      if (is_chunk && options_.chunk_cache != nullptr) {
        std::string_view k = key;
        options_.chunk_cache->Store(std::span<const std::string_view>(&k, 1),
                                    std::span<const std::string_view>(&data, 1));
      }
      return st;
    }
    if (st.code() != absl::StatusCode::kUnavailable &&
        st.code() != absl::StatusCode::kResourceExhausted &&
        st.code() != absl::StatusCode::kDeadlineExceeded) {
      return st;
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
  return st;
}

absl::Status Ingester::Sweep(bool immediate) {
  std::lock_guard flush_lock(flush_mu_);
  const absl::Time now = absl::Now();
  const int64_t max_age = absl::ToInt64Nanoseconds(options_.max_chunk_age);
  std::vector<Instance*> instances;
  {
    std::lock_guard lock(instances_mu_);
    for (auto& [t, inst] : instances_) instances.push_back(inst.get());
  }
  std::vector<std::pair<std::string, Stream*>> work;
  for (Instance* inst : instances) {
    for (Stream* s : inst->All()) {
      std::lock_guard lock(s->mu);
      if (!s->chunks.empty() && !s->chunks.back().closed) {
        ChunkDesc& head = s->chunks.back();
        auto [from, through] = head.chunk->Bounds();
        bool due = immediate || now - head.last_updated >= options_.chunk_idle_period ||
                   through - from > max_age;
        if (due && head.chunk->Stats().entries > 0) {
          RETURN_IF_ERROR(head.chunk->Close());
          head.closed = true;
          head_memory_.fetch_sub(static_cast<int64_t>(s->counted_head_memory));
          s->counted_head_memory = 0;
          M().chunks_flushed.WithLabels({immediate ? "forced" : "idle_or_age"}).Inc();
        }
      }
      bool has_work = false;
      for (ChunkDesc& d : s->chunks) {
        if (d.closed && !d.ref && !d.flushing) {
          d.flushing = true;
          has_work = true;
        }
      }
      if (has_work) work.emplace_back(inst->tenant(), s);
    }
  }
  absl::Status upload = UploadChunks(work);
  absl::Status index = WriteIndexes();

  // Stored chunks leave memory after the retain period; streams left empty go after idling.
  const absl::Time after = absl::Now();
  size_t released = 0;
  for (Instance* inst : instances) {
    for (Stream* s : inst->All()) {
      std::lock_guard lock(s->mu);
      while (!s->chunks.empty() && s->chunks.front().stored &&
             after - s->chunks.front().stored_at >= options_.chunk_retain_period) {
        s->chunks.pop_front();
        M().memory_chunks.Dec();
        ++released;
      }
    }
    inst->RemoveEmpty(after, immediate ? absl::ZeroDuration() : options_.chunk_idle_period);
  }
  // Flushed chunks were most of the heap: without a trim the process would keep the RSS of
  // its ingest peak while it queries.
  if (released > 0) RequestMemoryTrim();
  absl::Status checkpoint;
  if (wal_ != nullptr && (immediate || now - last_checkpoint_ >= options_.checkpoint_duration)) {
    checkpoint = Checkpoint();
  }
  if (!upload.ok()) return upload;
  if (!index.ok()) return index;
  return checkpoint;
}

absl::Status Ingester::UploadChunks(std::vector<std::pair<std::string, Stream*>>& work) {
  std::atomic<size_t> next{0};
  std::mutex err_mu;
  absl::Status first_error;
  uint64_t flushed_total = 0;
  auto worker = [&] {
    uint64_t flushed = 0;
    for (size_t i = next.fetch_add(1); i < work.size(); i = next.fetch_add(1)) {
      const std::string& tenant = work[i].first;
      Stream* s = work[i].second;
      std::vector<ChunkDesc*> mine;
      {
        std::lock_guard lock(s->mu);
        for (ChunkDesc& d : s->chunks) {
          if (d.flushing && !d.ref) mine.push_back(&d);
        }
      }
      for (ChunkDesc* d : mine) {
        // Closed chunks are immutable: encoding needs no lock.
        absl::StatusOr<std::string> encoded = d->chunk->Encode();
        absl::Status st = encoded.status();
        index::ChunkRef ref;
        if (st.ok()) {
          auto [from, through] = d->chunk->Bounds();
          auto stats = d->chunk->Stats();
          ref.from_ns = from;
          ref.through_ns = through;
          ref.checksum = static_cast<uint32_t>(XXH3_64bits(encoded->data(), encoded->size()));
          ref.size_bytes = static_cast<uint32_t>(encoded->size());
          ref.entries = static_cast<uint32_t>(stats.entries);
          // Line bytes, what /index/stats and volume report (Loki reports KB-rounded line
          // bytes per chunk; Norn keeps the exact sum).
          ref.uncompressed_bytes = stats.line_bytes;
          st = PutWithRetry(
              index::ChunkObjectKey(tenant, s->fingerprint(), from, through, ref.checksum),
              *encoded);
        }
        std::lock_guard lock(s->mu);
        d->flushing = false;
        if (st.ok()) {
          d->ref = ref;
          ++flushed;
        } else {
          M().flush_failures.Inc();
          std::lock_guard elock(err_mu);
          if (first_error.ok()) {
            first_error = absl::Status(st.code(), absl::StrCat("flushing chunk of stream ",
                                                               s->labels_text(), ": ",
                                                               st.message()));
          }
        }
      }
    }
    std::lock_guard elock(err_mu);
    flushed_total += flushed;
  };
  size_t threads = std::min<size_t>(work.size(), static_cast<size_t>(options_.concurrent_flushes));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  if (!work.empty()) worker();
  for (auto& t : pool) t.join();
  stats_.chunks_flushed += flushed_total;
  if (!first_error.ok()) ++stats_.failures;
  return first_error;
}

absl::Status Ingester::WriteIndexes() {
  std::vector<Instance*> instances;
  {
    std::lock_guard lock(instances_mu_);
    for (auto& [t, inst] : instances_) instances.push_back(inst.get());
  }
  absl::Status first_error;
  for (Instance* inst : instances) {
    // period -> builder; and the chunks that become stored when every file is written.
    std::map<int64_t, index::IndexBuilder> builders;
    std::vector<std::pair<Stream*, ChunkDesc*>> pending;
    absl::Status st;
    for (Stream* s : inst->All()) {
      std::lock_guard lock(s->mu);
      std::map<int64_t, std::vector<index::ChunkRef>> by_period;
      for (ChunkDesc& d : s->chunks) {
        if (!d.ref || d.stored) continue;
        // A chunk spanning midnight is listed in every day's index it overlaps, as Loki does.
        for (int64_t p = FloorDiv(d.ref->from_ns, kNanosPerDay);
             p <= FloorDiv(d.ref->through_ns, kNanosPerDay); ++p) {
          by_period[p].push_back(*d.ref);
        }
        pending.emplace_back(s, &d);
      }
      for (auto& [p, refs] : by_period) {
        st.Update(builders[p].Add(s->labels(), s->fingerprint(), refs));
      }
    }
    if (pending.empty()) continue;
    for (auto& [period, builder] : builders) {
      if (!st.ok()) break;
      auto bytes = builder.Encode();
      if (!bytes.ok()) {
        st = bytes.status();
        break;
      }
      std::string name = absl::StrCat(options_.instance_id, "-", absl::ToUnixNanos(absl::Now()),
                                      "-", index_seq_++, ".idx");
      st = PutWithRetry(
          index::IndexObjectKey(period, inst->tenant(), name, options_.index_prefix), *bytes);
      if (st.ok()) {
        ++stats_.index_files_written;
        M().index_files.Inc();
      }
    }
    if (!st.ok()) {
      M().flush_failures.Inc();
      if (first_error.ok()) first_error = st;
      continue;
    }
    absl::Time now = absl::Now();
    for (auto& [s, d] : pending) {
      std::lock_guard lock(s->mu);
      d->stored = true;
      d->stored_at = now;
    }
  }
  return first_error;
}

absl::Status Ingester::Checkpoint() {
  auto writer = wal_->BeginCheckpoint();
  if (!writer.ok()) {
    M().checkpoint_failures.Inc();
    return writer.status();
  }
  std::vector<Instance*> instances;
  {
    std::lock_guard lock(instances_mu_);
    for (auto& [t, inst] : instances_) instances.push_back(inst.get());
  }
  absl::Status st;
  std::vector<Entry> batch;
  batch.reserve(1024);
  for (Instance* inst : instances) {
    for (Stream* s : inst->All()) {
      std::vector<std::unique_ptr<chunk::ChunkIterator>> iters;
      {
        std::lock_guard lock(s->mu);
        for (ChunkDesc& d : s->chunks) {
          if (!d.stored) iters.push_back(d.chunk->Iterator(INT64_MIN, INT64_MAX,
                                                           chunk::Direction::kForward));
        }
        // Streams without unflushed data leave the WAL with this checkpoint; their next push
        // must log the series record again.
        if (iters.empty()) s->series_logged = false;
      }
      if (iters.empty()) continue;
      wal::Record series = wal::Record::Series(inst->tenant(), s->fingerprint(), s->labels());
      st = writer->Write(std::span<const wal::Record>(&series, 1));
      // Entry views die when their iterator advances, so checkpoint batches own their copies.
      for (auto& it : iters) {
        if (!st.ok()) break;
        batch.clear();
        auto flush_batch = [&]() -> absl::Status {
          if (batch.empty()) return absl::OkStatus();
          wal::Record r = wal::Record::Entries(inst->tenant(), s->fingerprint(), batch);
          absl::Status w = writer->Write(std::span<const wal::Record>(&r, 1));
          batch.clear();
          return w;
        };
        while (st.ok() && it->Next()) {
          const auto& e = it->entry();
          Entry& copy = batch.emplace_back();
          copy.timestamp_ns = e.timestamp_ns;
          copy.line.assign(e.line);
          for (const auto& m : e.metadata) {
            copy.structured_metadata.push_back(Label{std::string(m.name), std::string(m.value)});
          }
          if (batch.size() == 1024) st = flush_batch();
        }
        if (st.ok()) st = it->status();
        if (st.ok()) st = flush_batch();
      }
      if (!st.ok()) break;
    }
    if (!st.ok()) break;
  }
  if (st.ok()) st = writer->Commit();
  if (!st.ok()) {
    writer->Abort();
    M().checkpoint_failures.Inc();
    return st;
  }
  M().checkpoints.Inc();
  last_checkpoint_ = absl::Now();
  return absl::OkStatus();
}

}  // namespace norn::ingester
