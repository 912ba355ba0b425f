#include "pattern/patterns.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/json.h"

namespace norn::pattern {
namespace {

constexpr int64_t kNanosPerMilli = 1000000;
constexpr int64_t kNanosPerSecond = 1000000000;
// Loki's pattern sample resolution; a smaller step is raised to it.
constexpr int64_t kTimeResolutionNs = 10 * kNanosPerSecond;
constexpr int64_t kMaxPointsPerSeries = 11000;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t CeilDiv(int64_t a, int64_t b) { return -FloorDiv(-a, b); }

// JSON string with Go's HTML escaping (jsoniter WriteStringWithHTMLEscaped), which is how Loki
// writes the pattern field: <, > and & become \u003c, \u003e, \u0026; invalid UTF-8 becomes
// \ufffd; U+2028/U+2029 are escaped.
void AppendHtmlEscapedJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out->append("\\\""); break;
        case '\\': out->append("\\\\"); break;
        case '\n': out->append("\\n"); break;
        case '\r': out->append("\\r"); break;
        case '\t': out->append("\\t"); break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            out->append("\\u00");
            out->push_back(kHex[c >> 4]);
            out->push_back(kHex[c & 0xF]);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // Validate one UTF-8 sequence.
    size_t width = 0;
    char32_t r = 0;
    auto cont = [&](size_t k) {
      return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    };
    if (c >= 0xC2 && c <= 0xDF && cont(1)) {
      width = 2;
      r = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F);
    } else if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2)) {
      r = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
      if (r >= 0x800 && (r < 0xD800 || r > 0xDFFF)) width = 3;
    } else if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3)) {
      r = ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) |
          (s[i + 3] & 0x3F);
      if (r >= 0x10000 && r <= 0x10FFFF) width = 4;
    }
    if (width == 0) {
      out->append("\\ufffd");
      ++i;
      continue;
    }
    if (r == 0x2028) {
      out->append("\\u2028");
    } else if (r == 0x2029) {
      out->append("\\u2029");
    } else {
      out->append(s.substr(i, width));
    }
    i += width;
  }
  out->push_back('"');
}

}  // namespace

int64_t DefaultPatternStepNs(int64_t start_ns, int64_t end_ns) {
  const int64_t seconds = (end_ns - start_ns) / kNanosPerSecond / 250;
  return std::max<int64_t>(seconds, 1) * kNanosPerSecond;
}

absl::Status ValidatePatternStep(int64_t start_ns, int64_t end_ns, int64_t step_ns) {
  if (step_ns <= 0) {
    return absl::InvalidArgumentError(
        "zero or negative query resolution step widths are not accepted. Try a positive "
        "integer");
  }
  if ((end_ns - start_ns) / step_ns > kMaxPointsPerSeries) {
    return absl::InvalidArgumentError(
        "exceeded maximum resolution of 11,000 points per timeseries. Try increasing the value "
        "of the step parameter");
  }
  return absl::OkStatus();
}

int64_t EffectivePatternStepNs(const PatternQuery& query) {
  int64_t step = query.step_ns > 0 ? query.step_ns
                                   : DefaultPatternStepNs(query.start_ns, query.end_ns);
  step = step / kNanosPerMilli * kNanosPerMilli;  // Loki carries the step in milliseconds
  return std::max(step, kTimeResolutionNs);
}

// ---------------------------------------------------------------------------------------------
// PatternStream

PatternStream::PatternStream(DrainConfig config) : config_(std::move(config)) {}
PatternStream::~PatternStream() = default;

void PatternStream::Push(int64_t timestamp_ns, std::string_view line, std::string_view level) {
  if (has_last_ts_ && timestamp_ns < last_ts_ns_) return;
  has_last_ts_ = true;
  last_ts_ns_ = timestamp_ns;
  if (!has_format_) {
    format_ = DetectLogFormat(line);
    has_format_ = true;
  }
  if (level.empty()) level = kUnknownLevel;
  auto it = by_level_.find(level);
  if (it == by_level_.end()) {
    it = by_level_.emplace(std::string(level), std::make_unique<Drain>(config_, format_)).first;
  }
  it->second->Train(line, timestamp_ns);
}

size_t PatternStream::num_clusters() const {
  size_t n = 0;
  for (const auto& [level, drain] : by_level_) n += drain->num_clusters();
  return n;
}

DrainStats PatternStream::stats() const {
  DrainStats total;
  for (const auto& [level, drain] : by_level_) {
    const DrainStats& s = drain->stats();
    total.lines_trained += s.lines_trained;
    total.lines_skipped += s.lines_skipped;
    total.skipped_line_too_long += s.skipped_line_too_long;
    total.skipped_no_message += s.skipped_no_message;
    total.skipped_parse_error += s.skipped_parse_error;
    total.skipped_too_few_tokens += s.skipped_too_few_tokens;
    total.skipped_too_many_tokens += s.skipped_too_many_tokens;
    total.skipped_rate_limited += s.skipped_rate_limited;
    total.clusters_created += s.clusters_created;
    total.clusters_evicted += s.clusters_evicted;
    total.clusters_pruned += s.clusters_pruned;
  }
  return total;
}

const Drain* PatternStream::drain(std::string_view level) const {
  auto it = by_level_.find(level);
  return it == by_level_.end() ? nullptr : it->second.get();
}

void PatternStream::CollectInto(PatternMerger* merger) const {
  for (const auto& [level, drain] : by_level_) {
    for (const LogCluster* cluster : drain->Clusters()) merger->AddCluster(*cluster, level);
  }
}

bool PatternStream::Prune(int64_t older_than_ns) {
  for (auto it = by_level_.begin(); it != by_level_.end();) {
    if (it->second->Prune(older_than_ns)) {
      by_level_.erase(it++);
    } else {
      ++it;
    }
  }
  return by_level_.empty();
}

// ---------------------------------------------------------------------------------------------
// PatternMerger

PatternMerger::PatternMerger(const PatternQuery& query)
    : query_(query),
      start_ns_(FloorDiv(query.start_ns, kNanosPerMilli) * kNanosPerMilli),
      end_ns_(CeilDiv(query.end_ns, kNanosPerMilli) * kNanosPerMilli),
      step_ns_(EffectivePatternStepNs(query)) {}

PatternMerger::Acc* PatternMerger::Find(std::string_view pattern, std::string_view level) {
  key_buf_.assign(pattern);
  key_buf_.push_back('\0');
  key_buf_.append(level);
  auto it = index_.find(key_buf_);
  if (it != index_.end()) return &accs_[it->second];
  index_.emplace(key_buf_, accs_.size());
  accs_.push_back(Acc{std::string(pattern), std::string(level), {}});
  return &accs_.back();
}

void PatternMerger::AddCluster(const LogCluster& cluster, std::string_view level) {
  buf_.clear();
  cluster.AppendRange(start_ns_, end_ns_, step_ns_, &buf_);
  if (buf_.empty()) return;
  const std::string pattern = cluster.Pattern();
  if (pattern.empty()) return;
  AddSeries(pattern, level, buf_);
}

void PatternMerger::AddSeries(std::string_view pattern, std::string_view level,
                              std::span<const PatternSample> samples) {
  Acc* acc = nullptr;
  for (const PatternSample& s : samples) {
    // A step bucket can start before an unaligned query start; Loki's answer leaves it out.
    if (s.timestamp_ns < start_ns_ || s.timestamp_ns >= end_ns_) continue;
    if (acc == nullptr) acc = Find(pattern, level);
    acc->samples.push_back(s);
  }
}

PatternResult PatternMerger::Finish() {
  PatternResult result;
  result.series.reserve(accs_.size());
  for (Acc& acc : accs_) {
    auto& samples = acc.samples;
    std::stable_sort(samples.begin(), samples.end(),
                     [](const PatternSample& a, const PatternSample& b) {
                       return a.timestamp_ns < b.timestamp_ns;
                     });
    size_t w = 0;
    for (size_t r = 0; r < samples.size(); ++r) {
      if (w > 0 && samples[w - 1].timestamp_ns == samples[r].timestamp_ns) {
        samples[w - 1].value += samples[r].value;
      } else {
        samples[w++] = samples[r];
      }
    }
    samples.resize(w);
    int64_t total = 0;
    for (const auto& s : samples) total += s.value;
    if (samples.empty() || total < query_.min_cluster_size) continue;
    result.series.push_back(
        PatternSeries{std::move(acc.pattern), std::move(acc.level), std::move(samples), total});
  }
  std::sort(result.series.begin(), result.series.end(),
            [](const PatternSeries& a, const PatternSeries& b) {
              if (a.total != b.total) return a.total > b.total;
              if (a.pattern != b.pattern) return a.pattern < b.pattern;
              return a.level < b.level;
            });
  if (query_.max_patterns > 0 && result.series.size() > query_.max_patterns) {
    result.series.resize(query_.max_patterns);
  }
  accs_.clear();
  index_.clear();
  return result;
}

// ---------------------------------------------------------------------------------------------
// Batch API and JSON

PatternResult DetectPatterns(std::span<const PatternEntry> entries, const PatternQuery& query,
                             const DrainConfig& config) {
  PatternStream stream(config);
  auto by_time = [](const PatternEntry& a, const PatternEntry& b) {
    return a.timestamp_ns < b.timestamp_ns;
  };
  if (std::is_sorted(entries.begin(), entries.end(), by_time)) {
    for (const PatternEntry& e : entries) stream.Push(e);
  } else {
    std::vector<uint32_t> order(entries.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return by_time(entries[a], entries[b]); });
    for (uint32_t i : order) stream.Push(entries[i]);
  }
  PatternMerger merger(query);
  merger.AddStream(stream);
  return merger.Finish();
}

PatternResult DetectPatterns(const std::vector<std::pair<int64_t, std::string_view>>& entries,
                             const PatternQuery& query, const DrainConfig& config) {
  std::vector<PatternEntry> converted;
  converted.reserve(entries.size());
  for (const auto& [ts, line] : entries) converted.push_back(PatternEntry{ts, line, {}});
  return DetectPatterns(converted, query, config);
}

void AppendPatternsJson(const PatternResult& result, std::string* out) {
  out->append(R"({"status":"success","data":[)");
  bool first_series = true;
  for (const PatternSeries& series : result.series) {
    if (!first_series) out->push_back(',');
    first_series = false;
    out->append(R"({"pattern":)");
    AppendHtmlEscapedJsonString(series.pattern, out);
    out->append(R"(,"level":)");
    AppendJsonString(out, series.level);
    out->append(R"(,"samples":[)");
    bool first_sample = true;
    for (const PatternSample& s : series.samples) {
      if (!first_sample) out->push_back(',');
      first_sample = false;
      absl::StrAppend(out, "[", FloorDiv(s.timestamp_ns, kNanosPerSecond), ",", s.value, "]");
    }
    out->append("]}");
  }
  out->append("]}\n");
}

std::string RenderPatternsJson(const PatternResult& result) {
  std::string out;
  AppendPatternsJson(result, &out);
  return out;
}

}  // namespace norn::pattern
