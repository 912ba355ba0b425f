#include "pattern/drain.h"

#include <algorithm>
#include <utility>

#include "re2/re2.h"

namespace norn::pattern {
namespace {

int64_t FloorTo(int64_t ts, int64_t width) {
  int64_t r = ts % width;
  if (r < 0) r += width;
  return ts - r;
}

bool HasDigit(std::string_view token) {
  // Loki asks unicode.IsNumber; ASCII digits are what appear in practice.
  for (char c : token) {
    if (c >= '0' && c <= '9') return true;
  }
  return false;
}

}  // namespace

LogFormat DetectLogFormat(std::string_view line) {
  if (line.size() < 2) return LogFormat::kUnknown;
  if (line.front() == '{' && line.back() == '}') return LogFormat::kJson;
  // The same expression Loki uses; RE2 has Go's regexp semantics. Runs once per stream.
  static const RE2* const kLogfmt =
      new RE2(R"re(^(\w+?=([^"]\S*?|".+?") )*?(\w+?=([^"]\S*?|".+?"))+$)re");
  if (RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), *kLogfmt)) {
    return LogFormat::kLogfmt;
  }
  return LogFormat::kUnknown;
}

std::string_view LogFormatName(LogFormat format) {
  switch (format) {
    case LogFormat::kLogfmt: return "logfmt";
    case LogFormat::kJson: return "json";
    case LogFormat::kUnknown: break;
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// LogCluster

std::string LogCluster::Pattern() const {
  std::string joined;
  const std::string& param = config_->param_string;
  switch (format_) {
    case LogFormat::kLogfmt:
      internal::JoinLogfmt(tokens_, &joined);
      break;
    case LogFormat::kJson:
      // The message came from inside a JSON document: the rest of the document is variable.
      joined = param;
      internal::JoinPunctuation(tokens_, spaces_after_, &joined);
      joined += param;
      break;
    case LogFormat::kUnknown:
      internal::JoinPunctuation(tokens_, spaces_after_, &joined);
      break;
  }
  return internal::DedupPlaceholders(joined, param);
}

std::vector<PatternSample> LogCluster::Samples() const {
  std::vector<PatternSample> out;
  for (const auto& chunk : chunks_) out.insert(out.end(), chunk.begin(), chunk.end());
  return out;
}

void LogCluster::AddSample(int64_t ts_ns) {
  ++size_;
  const int64_t t = FloorTo(ts_ns, config_->sample_interval_ns);
  if (chunks_.empty()) {
    chunks_.push_back({PatternSample{t, 1}});
    return;
  }
  auto& last = chunks_.back();
  if (last.back().timestamp_ns == t) {
    ++last.back().value;
    return;
  }
  if (t - last.front().timestamp_ns >= config_->max_chunk_age_ns) {
    chunks_.push_back({PatternSample{t, 1}});
    return;
  }
  if (ts_ns < last.back().timestamp_ns) return;  // out of order: not counted
  last.push_back(PatternSample{t, 1});
}

void LogCluster::PruneChunks(int64_t older_than_ns) {
  std::erase_if(chunks_, [&](const std::vector<PatternSample>& chunk) {
    return chunk.back().timestamp_ns < older_than_ns;
  });
  size_ = 0;
  for (const auto& chunk : chunks_) {
    for (const auto& s : chunk) size_ += s.value;
  }
}

void LogCluster::AppendRange(int64_t start_ns, int64_t end_ns, int64_t step_ns,
                             std::vector<PatternSample>* out) const {
  if (start_ns >= end_ns || step_ns <= 0) return;
  for (const auto& samples : chunks_) {
    if (samples.empty()) continue;
    const int64_t first = samples.front().timestamp_ns;
    const int64_t last = samples.back().timestamp_ns;
    if (first >= end_ns || last < start_ns) continue;
    auto cmp = [](const PatternSample& s, int64_t ts) { return s.timestamp_ns < ts; };
    size_t lo = 0;
    if (start_ns > first) {
      lo = std::lower_bound(samples.begin(), samples.end(), start_ns, cmp) - samples.begin();
    }
    size_t hi = samples.size();
    if (end_ns < last) {
      hi = std::lower_bound(samples.begin(), samples.end(), end_ns, cmp) - samples.begin();
    }
    if (lo >= hi) continue;
    if (step_ns == config_->sample_interval_ns) {
      out->insert(out->end(), samples.begin() + lo, samples.begin() + hi);
      continue;
    }
    int64_t current = FloorTo(samples[lo].timestamp_ns, step_ns);
    out->push_back(PatternSample{current, 0});
    for (size_t i = lo; i < hi; ++i) {
      const PatternSample& s = samples[i];
      if (s.timestamp_ns >= current + step_ns) {
        const int64_t bucket = FloorTo(s.timestamp_ns, step_ns);
        for (int64_t t = current + step_ns; t <= bucket; t += step_ns) {
          out->push_back(PatternSample{t, 0});
        }
        current = bucket;
      }
      out->back().value += s.value;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Drain

struct Drain::Node {
  StringMap<std::unique_ptr<Node>> children;
  std::vector<int> cluster_ids;
};

Drain::Drain(DrainConfig config, LogFormat format)
    : config_(std::move(config)),
      format_(format),
      max_node_depth_(std::max(config_.log_cluster_depth, 3) - 2) {}

Drain::~Drain() = default;

bool Drain::AllowTraining(int64_t ts_ns) {
  if (config_.max_eviction_ratio <= 0) return true;
  if (limiter_blocked_) {
    if (ts_ns < limiter_blocked_until_ns_) return false;
    limiter_blocked_ = false;
    limiter_added_ = 0;
    limiter_evicted_ = 0;
  }
  if (limiter_added_ == 0) {
    ++limiter_added_;
    return true;
  }
  if (static_cast<double>(limiter_evicted_) / static_cast<double>(limiter_added_) >
      config_.max_eviction_ratio) {
    limiter_blocked_ = true;
    limiter_blocked_until_ns_ = ts_ns + config_.eviction_block_ns;
    return false;
  }
  ++limiter_added_;
  return true;
}

void Drain::LinkFront(LogCluster* c) {
  c->lru_prev_ = nullptr;
  c->lru_next_ = lru_head_;
  if (lru_head_ != nullptr) lru_head_->lru_prev_ = c;
  lru_head_ = c;
  if (lru_tail_ == nullptr) lru_tail_ = c;
}

void Drain::Unlink(LogCluster* c) {
  if (c->lru_prev_ != nullptr) {
    c->lru_prev_->lru_next_ = c->lru_next_;
  } else {
    lru_head_ = c->lru_next_;
  }
  if (c->lru_next_ != nullptr) {
    c->lru_next_->lru_prev_ = c->lru_prev_;
  } else {
    lru_tail_ = c->lru_prev_;
  }
  c->lru_prev_ = c->lru_next_ = nullptr;
}

void Drain::Remove(LogCluster* c) {
  Unlink(c);
  clusters_.erase(c->id_);  // tree nodes keep the stale id; it is skipped and cleaned lazily
}

LogCluster* Drain::Touch(int id) {
  auto it = clusters_.find(id);
  if (it == clusters_.end()) return nullptr;
  LogCluster* c = it->second.get();
  if (c != lru_head_) {
    Unlink(c);
    LinkFront(c);
  }
  return c;
}

const LogCluster* Drain::Cluster(int id) const {
  auto it = clusters_.find(id);
  return it == clusters_.end() ? nullptr : it->second.get();
}

std::vector<const LogCluster*> Drain::Clusters() const {
  std::vector<const LogCluster*> out;
  out.reserve(clusters_.size());
  for (const LogCluster* c = lru_tail_; c != nullptr; c = c->lru_prev_) out.push_back(c);
  return out;
}

LogCluster* Drain::TreeSearch(std::span<const std::string_view> tokens) {
  const int n = static_cast<int>(tokens.size());
  auto first = by_length_.find(n);
  if (first == by_length_.end()) return nullptr;
  Node* cur = first->second.get();
  if (n < 2) {
    return cur->cluster_ids.empty() ? nullptr : Touch(cur->cluster_ids.front());
  }
  const std::string_view param = config_.param_string;
  int depth = 1;
  for (std::string_view token : tokens) {
    if (depth >= max_node_depth_ || depth == n) break;
    auto it = cur->children.find(token);
    if (it == cur->children.end()) it = cur->children.find(param);
    if (it == cur->children.end()) return nullptr;
    cur = it->second.get();
    ++depth;
  }
  // Best candidate by similarity, then by number of wildcards (the more general template).
  LogCluster* best = nullptr;
  double best_sim = -1.0;
  int best_params = -1;
  for (int id : cur->cluster_ids) {
    LogCluster* c = Touch(id);
    if (c == nullptr) continue;
    int same = 0;
    int params = 0;
    for (size_t i = 0; i < tokens.size(); ++i) {
      const std::string& t = c->tokens_[i];
      if (t == param) {
        ++params;
      } else if (t == tokens[i]) {
        ++same;
      }
    }
    const double sim = static_cast<double>(same) / static_cast<double>(n);
    if (sim > best_sim || (sim == best_sim && params > best_params)) {
      best_sim = sim;
      best_params = params;
      best = c;
    }
  }
  return best_sim >= config_.sim_th ? best : nullptr;
}

void Drain::AddToTree(LogCluster* cluster) {
  const int n = static_cast<int>(cluster->tokens_.size());
  auto& first = by_length_[n];
  if (first == nullptr) first = std::make_unique<Node>();
  Node* cur = first.get();
  if (n == 0) {
    cur->cluster_ids.push_back(cluster->id_);
    return;
  }
  const std::string& param = config_.param_string;
  const size_t max_children = static_cast<size_t>(std::max(config_.max_children, 1));
  auto descend = [&](std::string_view key) {
    auto& child = cur->children[key];
    if (child == nullptr) child = std::make_unique<Node>();
    cur = child.get();
  };
  int depth = 1;
  for (const std::string& token : cluster->tokens_) {
    if (depth >= max_node_depth_ || depth >= n) {
      // Leaf: drop ids of evicted clusters before adding this one.
      std::erase_if(cur->cluster_ids, [&](int id) { return Touch(id) == nullptr; });
      cur->cluster_ids.push_back(cluster->id_);
      break;
    }
    auto it = cur->children.find(token);
    if (it != cur->children.end()) {
      cur = it->second.get();
    } else if (HasDigit(token)) {
      // Tokens with digits are likely variables: route them through the wildcard branch.
      descend(param);
    } else if (cur->children.contains(param)) {
      if (cur->children.size() < max_children) {
        descend(token);
      } else {
        descend(param);
      }
    } else if (cur->children.size() + 1 < max_children) {
      descend(token);
    } else {
      // Last free slot goes to the wildcard so later tokens have somewhere to go.
      descend(param);
    }
    ++depth;
  }
}

int Drain::Train(std::string_view line, int64_t ts_ns) {
  last_skip_ = SkipReason::kNone;
  auto skip = [&](SkipReason reason) {
    last_skip_ = reason;
    ++stats_.lines_skipped;
    switch (reason) {
      case SkipReason::kLineTooLong: ++stats_.skipped_line_too_long; break;
      case SkipReason::kNoMessage: ++stats_.skipped_no_message; break;
      case SkipReason::kParseError: ++stats_.skipped_parse_error; break;
      case SkipReason::kTooFewTokens: ++stats_.skipped_too_few_tokens; break;
      case SkipReason::kTooManyTokens: ++stats_.skipped_too_many_tokens; break;
      case SkipReason::kRateLimited: ++stats_.skipped_rate_limited; break;
      case SkipReason::kNone: break;
    }
    return 0;
  };
  if (!AllowTraining(ts_ns)) return skip(SkipReason::kRateLimited);

  SkipReason reason;
  switch (format_) {
    case LogFormat::kLogfmt:
      reason = internal::TokenizeLogfmt(line, config_.max_allowed_line_length,
                                        config_.param_string, &scratch_);
      break;
    case LogFormat::kJson:
      reason = internal::TokenizeJson(line, config_.max_allowed_line_length, config_.json_fields,
                                      &scratch_);
      break;
    default:
      reason = internal::TokenizePunctuation(line, config_.max_allowed_line_length, &scratch_);
      break;
  }
  if (reason != SkipReason::kNone) return skip(reason);
  const std::vector<std::string_view>& tokens = scratch_.tokens;
  if (static_cast<int>(tokens.size()) < config_.min_tokens) {
    return skip(SkipReason::kTooFewTokens);
  }
  if (static_cast<int>(tokens.size()) > config_.max_tokens) {
    return skip(SkipReason::kTooManyTokens);
  }
  ++stats_.lines_trained;

  LogCluster* match = TreeSearch(tokens);
  if (match != nullptr) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (match->tokens_[i] != tokens[i]) match->tokens_[i] = config_.param_string;
    }
    match->AddSample(ts_ns);
    Touch(match->id_);
    return match->id_;
  }

  const int id = ++next_id_;
  auto owned = std::unique_ptr<LogCluster>(new LogCluster(&config_, format_, id));
  LogCluster* cluster = owned.get();
  cluster->tokens_.assign(tokens.begin(), tokens.end());
  if (format_ != LogFormat::kLogfmt) cluster->spaces_after_ = scratch_.spaces_after;
  cluster->AddSample(ts_ns);
  clusters_.emplace(id, std::move(owned));
  LinkFront(cluster);
  ++stats_.clusters_created;
  if (config_.max_clusters > 0 && clusters_.size() > static_cast<size_t>(config_.max_clusters)) {
    Remove(lru_tail_);
    ++stats_.clusters_evicted;
    ++limiter_evicted_;
  }
  AddToTree(cluster);
  return id;
}

size_t Drain::PruneNode(Node* node) {
  for (auto it = node->children.begin(); it != node->children.end();) {
    if (PruneNode(it->second.get()) == 0) {
      node->children.erase(it++);
    } else {
      ++it;
    }
  }
  std::erase_if(node->cluster_ids, [&](int id) { return !clusters_.contains(id); });
  return node->children.size() + node->cluster_ids.size();
}

bool Drain::Prune(int64_t older_than_ns) {
  std::vector<LogCluster*> empty;
  for (auto& [id, cluster] : clusters_) {
    cluster->PruneChunks(older_than_ns);
    if (cluster->size_ == 0) empty.push_back(cluster.get());
  }
  for (LogCluster* c : empty) {
    Remove(c);
    ++stats_.clusters_pruned;
  }
  for (auto it = by_length_.begin(); it != by_length_.end();) {
    if (PruneNode(it->second.get()) == 0) {
      by_length_.erase(it++);
    } else {
      ++it;
    }
  }
  return clusters_.empty();
}

}  // namespace norn::pattern
