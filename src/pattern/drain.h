// Drain log-pattern clusterer, as used by Loki's pattern ingester.
//
// Drain (He et al., ICWS 2017) keeps a fixed-depth parse tree: the first level is keyed by the
// number of tokens in a line, the next levels by the line's leading tokens (tokens containing
// digits, and overflow past max_children, go down a shared wildcard branch). The leaf holds
// candidate clusters; a line joins the most similar one (share of equal non-wildcard tokens)
// if that similarity reaches sim_th, and differing positions of the cluster template become the
// placeholder `<_>`. Otherwise it starts a new cluster. Clusters beyond max_clusters are evicted
// least-recently-used.
//
// Each cluster also counts its lines in sample_interval (10s) buckets, split into chunks of at
// most max_chunk_age (1h) like Loki's, which is what the /loki/api/v1/patterns samples come from.
//
// Ownership: Drain owns its clusters; LogCluster pointers stay valid until the next Train or
// Prune call. Train keeps tokens as views into the caller's line while matching and copies them
// only when a new cluster is created. Not thread-safe: one Drain per stream (and level), guarded
// by the caller. Not copyable or movable (clusters point back at its config).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/strings.h"
#include "pattern/tokenizer.h"

namespace norn::pattern {

// How a stream's lines are tokenized. Chosen once per stream from its first line.
enum class LogFormat { kUnknown, kLogfmt, kJson };

// Loki's heuristic: `{...}` is JSON; a line made only of `key=value` pairs (values bare or
// quoted) is logfmt; anything else is tokenized on punctuation.
LogFormat DetectLogFormat(std::string_view line);
std::string_view LogFormatName(LogFormat format);  // "unknown", "logfmt", "json"

struct DrainConfig {
  int log_cluster_depth = 30;  // tree depth incl. root and length level; >= 3
  double sim_th = 0.3;         // min share of equal tokens to join a cluster
  int max_children = 15;       // children per tree node before overflowing to the wildcard
  int max_clusters = 300;      // LRU capacity; 0 = unlimited
  std::string param_string = "<_>";
  int max_allowed_line_length = 3000;  // longer lines (or JSON messages) are skipped; 0 = no cap
  int min_tokens = 4;                  // lines with fewer tokens are skipped
  int max_tokens = 80;                 // lines with more tokens are skipped
  // Loki stops training for a while when more than this share of trained lines caused an LRU
  // eviction (a stream with unbounded shapes). 0 disables the limiter.
  double max_eviction_ratio = 0.25;
  int64_t eviction_block_ns = 10LL * 60 * 1000000000;  // measured in entry time, see README
  // Top-level JSON string members tried, in order, as the message of a JSON line.
  std::vector<std::string> json_fields = {"log", "message", "msg", "msg_", "_msg", "content"};
  int64_t sample_interval_ns = 10LL * 1000000000;  // sample bucket width
  int64_t max_chunk_age_ns = 3600LL * 1000000000;  // samples per chunk span at most this
};

// One bucket of a pattern's volume: lines whose timestamp falls in
// [timestamp_ns, timestamp_ns + width).
struct PatternSample {
  int64_t timestamp_ns = 0;
  int64_t value = 0;
  bool operator==(const PatternSample&) const = default;
};

using SkipReason = internal::SkipReason;

struct DrainStats {
  int64_t lines_trained = 0;
  int64_t lines_skipped = 0;
  int64_t skipped_line_too_long = 0;
  int64_t skipped_no_message = 0;
  int64_t skipped_parse_error = 0;
  int64_t skipped_too_few_tokens = 0;
  int64_t skipped_too_many_tokens = 0;
  int64_t skipped_rate_limited = 0;
  int64_t clusters_created = 0;
  int64_t clusters_evicted = 0;  // LRU evictions
  int64_t clusters_pruned = 0;   // removed by Prune (aged out)
};

class LogCluster {
 public:
  int id() const { return id_; }
  // Lines trained into this cluster (recomputed from the kept samples by Prune).
  int64_t size() const { return size_; }
  // Template tokens; varying positions hold the config's param_string.
  const std::vector<std::string>& tokens() const { return tokens_; }
  // The pattern text as Loki reports it (format-specific join, placeholder runs collapsed).
  std::string Pattern() const;
  // All samples at sample_interval resolution, oldest first.
  std::vector<PatternSample> Samples() const;
  // Samples within [start_ns, end_ns) re-bucketed to step_ns (a multiple of the sample
  // interval, or equal to it), appended to *out in time order. Within a chunk, empty steps
  // between two non-empty ones are emitted as zero-valued samples, as Loki does.
  void AppendRange(int64_t start_ns, int64_t end_ns, int64_t step_ns,
                   std::vector<PatternSample>* out) const;

 private:
  friend class Drain;
  LogCluster(const DrainConfig* config, LogFormat format, int id)
      : config_(config), format_(format), id_(id) {}
  void AddSample(int64_t ts_ns);
  void PruneChunks(int64_t older_than_ns);

  const DrainConfig* config_;
  LogFormat format_;
  int id_;
  int64_t size_ = 0;
  std::vector<std::string> tokens_;
  std::vector<int> spaces_after_;                 // punctuation/JSON formats only
  std::vector<std::vector<PatternSample>> chunks_;  // each sorted, spanning < max_chunk_age
  LogCluster* lru_prev_ = nullptr;                // towards most recently used
  LogCluster* lru_next_ = nullptr;                // towards least recently used
};

class Drain {
 public:
  explicit Drain(DrainConfig config, LogFormat format = LogFormat::kUnknown);
  ~Drain();
  Drain(const Drain&) = delete;
  Drain& operator=(const Drain&) = delete;

  // Tokenizes `line` and assigns it to a cluster, updating that cluster's template and the
  // sample bucket of `ts_ns`. Returns the cluster id (> 0), or 0 if the line was skipped (see
  // last_skip_reason()). Entries older than the cluster's newest sample are clustered but not
  // counted, as in Loki.
  int Train(std::string_view line, int64_t ts_ns);
  SkipReason last_skip_reason() const { return last_skip_; }

  // Live clusters, least recently used first.
  std::vector<const LogCluster*> Clusters() const;
  const LogCluster* Cluster(int id) const;  // nullptr when unknown or evicted
  size_t num_clusters() const { return clusters_.size(); }

  // Drops sample chunks whose newest sample is older than `older_than_ns`, deletes clusters
  // left empty and removes tree branches that lead nowhere. Returns true if no cluster is left.
  bool Prune(int64_t older_than_ns);

  const DrainConfig& config() const { return config_; }
  LogFormat format() const { return format_; }
  const DrainStats& stats() const { return stats_; }

 private:
  struct Node;

  bool AllowTraining(int64_t ts_ns);
  LogCluster* Touch(int id);  // LRU lookup that marks the cluster as used
  LogCluster* TreeSearch(std::span<const std::string_view> tokens);
  void AddToTree(LogCluster* cluster);
  void LinkFront(LogCluster* c);
  void Unlink(LogCluster* c);
  void Remove(LogCluster* c);
  size_t PruneNode(Node* node);

  const DrainConfig config_;
  const LogFormat format_;
  const int max_node_depth_;
  absl::flat_hash_map<int, std::unique_ptr<Node>> by_length_;
  absl::flat_hash_map<int, std::unique_ptr<LogCluster>> clusters_;
  LogCluster* lru_head_ = nullptr;  // most recently used
  LogCluster* lru_tail_ = nullptr;  // least recently used
  int next_id_ = 0;
  internal::TokenizedLine scratch_;
  SkipReason last_skip_ = SkipReason::kNone;
  DrainStats stats_;
  // Eviction limiter state (Loki's limiter, on entry time).
  int64_t limiter_added_ = 0;
  int64_t limiter_evicted_ = 0;
  int64_t limiter_blocked_until_ns_ = 0;
  bool limiter_blocked_ = false;
};

}  // namespace norn::pattern
