#include "querier/drilldown_api.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/json.h"
#include "common/labels.h"
#include "common/status.h"
#include "common/strings.h"
#include "ingester/ingester.h"
#include "logql/engine/http_params.h"
#include "logql/engine/pipeline_builder.h"
#include "logql/engine/source.h"
#include "logql/log/go_conv.h"
#include "logql/log/json_parser.h"
#include "logql/log/labels_builder.h"
#include "logql/log/logfmt_parser.h"
#include "logql/log/pipeline.h"
#include "logql/syntax/parser.h"
#include "querier/entry_source.h"
#include "querier/querier.h"
#include "server/http/tenant.h"

namespace norn::querier {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using http::Method;
using logql::syntax::Matcher;

constexpr int64_t kSecondNs = 1'000'000'000;
constexpr int64_t kMillisNs = 1'000'000;
constexpr uint32_t kDefaultVolumeLimit = 100;
constexpr uint32_t kDefaultLineLimit = 100;     // Loki's lineLimit default (defaultQueryLimit).
constexpr uint32_t kDefaultFieldLimit = 1000;  // Loki's detectedFieldsLimit default.

void WriteError(const absl::Status& st, HttpResponse& resp) {
  resp.Error(http::HttpStatusFromStatus(st), SV(st.message()));
}

// Parses start/end (and step when `with_step`) with Loki's query_range rules, exposing only the
// parameters named in `pass` to the parser so that, e.g., `limit` is read by the caller.
absl::StatusOr<logql_engine::LogQuery> ParseTimes(const HttpRequest& req,
                                                  std::initializer_list<std::string_view> pass) {
  auto get = [&](std::string_view name) -> std::optional<std::string_view> {
    if (std::find(pass.begin(), pass.end(), name) == pass.end()) return std::nullopt;
    if (!req.HasParam(name)) return std::nullopt;
    return req.Param(name);
  };
  return logql_engine::ParseRangeQueryParams(get, absl::GetCurrentTimeNanos());
}

// A positive integer parameter with a default; `zero_means_default` as Loki's volume limit.
absl::StatusOr<uint32_t> PositiveParam(const HttpRequest& req, std::string_view name,
                                       uint32_t fallback, bool zero_means_default = false) {
  std::string_view v = req.Param(name);
  if (v.empty()) return fallback;
  int64_t n = 0;
  if (!absl::SimpleAtoi(AV(v), &n)) {
    return absl::InvalidArgumentError(
        absl::StrCat("strconv.ParseInt: parsing \"", AV(v), "\": invalid syntax"));
  }
  if (n == 0 && zero_means_default) return fallback;
  if (n <= 0) return absl::InvalidArgumentError("limit must be a positive value");
  return static_cast<uint32_t>(std::min<int64_t>(n, std::numeric_limits<uint32_t>::max()));
}

// Prometheus' JSON for a millisecond timestamp: float seconds, shortest form.
void AppendPromTime(std::string* out, int64_t ms) {
  int64_t secs = ms / 1000;
  int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  absl::StrAppend(out, secs);
  if (frac != 0) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), ".%03d", static_cast<int>(frac));
    std::string_view s(buf);
    while (s.back() == '0') s.remove_suffix(1);
    out->append(s);
  }
}

void AppendMetric(std::string* out, const Labels& metric) {
  out->push_back('{');
  bool first = true;
  for (const Label& l : metric) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, l.name);
    out->push_back(':');
    AppendJsonString(out, l.value);
  }
  out->push_back('}');
}

// ---------------------------------------------------------------------------------------------
// Volume

struct ChunkSpan {
  int64_t from_ns;
  int64_t through_ns;
  uint64_t bytes;
};

struct SeriesVolume {
  Labels labels;
  std::vector<ChunkSpan> chunks;
};

// Every chunk of the matching streams overlapping [from_ns, through_ns] (inclusive): the
// store's refs, plus the ingester's in-memory chunks not already among them (a flushed chunk
// stays in memory for a while and is counted once).
absl::StatusOr<std::vector<SeriesVolume>> CollectChunks(Querier* q, const std::string& tenant,
                                                        const Matchers& matchers,
                                                        int64_t from_ns, int64_t through_ns) {
  std::map<Fingerprint, SeriesVolume> by_fp;
  std::set<std::tuple<Fingerprint, int64_t, int64_t, uint32_t>> stored;
  ASSIGN_OR_RETURN(auto refs, q->StoreChunkRefs(tenant, matchers, from_ns, through_ns + 1));
  for (auto& s : refs) {
    SeriesVolume& sv = by_fp[s.fingerprint];
    if (sv.labels.empty()) sv.labels = std::move(s.labels);
    for (const auto& c : s.chunks) {
      if (!c.Overlaps(from_ns, through_ns)) continue;
      if (!stored.emplace(s.fingerprint, c.from_ns, c.through_ns, c.checksum).second) continue;
      sv.chunks.push_back(ChunkSpan{c.from_ns, c.through_ns, c.uncompressed_bytes});
    }
  }
  ingester::Ingester* ing = q->ingester();
  if (ing != nullptr && q->UseIngesters(through_ns + 1)) {
    ing->ForEachStream(tenant, [&](ingester::Stream& s) {
      if (!logql_engine::MatchesAll(matchers, s.labels())) return;
      for (const auto& d : s.chunks) {
        chunk::ChunkStats st = d.chunk->Stats();
        if (st.entries == 0) continue;
        if (st.min_ts > through_ns || st.max_ts < from_ns) continue;
        if (d.ref.has_value() && stored.contains({s.fingerprint(), d.ref->from_ns,
                                                  d.ref->through_ns, d.ref->checksum})) {
          continue;
        }
        SeriesVolume& sv = by_fp[s.fingerprint()];
        if (sv.labels.empty()) sv.labels = s.labels();
        sv.chunks.push_back(ChunkSpan{st.min_ts, st.max_ts, st.raw_bytes});
      }
    });
  }
  std::vector<SeriesVolume> out;
  out.reserve(by_fp.size());
  for (auto& [fp, sv] : by_fp) {
    if (!sv.chunks.empty()) out.push_back(std::move(sv));
  }
  return out;
}

// One sub-range of a volume query: chunks overlapping [from_ns, through_ns] count toward it;
// its samples carry `ts_ms`.
struct Bucket {
  int64_t from_ns;
  int64_t through_ns;
  int64_t ts_ms;
};

int64_t TruncSeconds(int64_t ns) {
  int64_t r = ns % kSecondNs;
  return r < 0 ? ns - r - kSecondNs : ns - r;
}

// Loki splits a volume query into step-aligned sub-ranges (the first starting at `start`, the
// last ending at `end`, 1ms gaps between them); each sub-request's bounds are truncated to whole
// seconds and its samples are stamped with the sub-range's end. Instant queries: one range.
std::vector<Bucket> VolumeBuckets(int64_t start_ns, int64_t end_ns, int64_t step_ns) {
  std::vector<Bucket> out;
  auto add = [&](int64_t from, int64_t through) {
    out.push_back(Bucket{TruncSeconds(from), TruncSeconds(through), through / kMillisNs});
  };
  if (step_ns <= 0) {
    add(start_ns, end_ns);
    return out;
  }
  int64_t aligned = start_ns - ((start_ns % step_ns) + step_ns) % step_ns;
  bool first = true;
  for (int64_t s = aligned; s < end_ns; s += step_ns) {
    int64_t e = s + step_ns;
    if (e >= end_ns) {
      e = end_ns;
    } else {
      e -= kMillisNs;
    }
    add(first ? start_ns : s, e);
    first = false;
  }
  return out;
}

struct VolumeSpec {
  Matchers matchers;
  StringSet group_labels;  // labels to aggregate into
  bool include_all = false;  // `{}` without targetLabels: every label
  bool by_series = true;
  uint32_t limit = kDefaultVolumeLimit;
};

absl::StatusOr<VolumeSpec> ParseVolumeSpec(const HttpRequest& req) {
  VolumeSpec spec;
  std::string_view query = req.Param("query");
  bool match_any = query == "{}";
  if (!match_any) {
    ASSIGN_OR_RETURN(spec.matchers, logql::syntax::ParseMatchers(query, /*validate=*/true));
  }
  std::string_view agg = req.Param("aggregateBy");
  if (agg.empty() || agg == "series") {
    spec.by_series = true;
  } else if (agg == "labels") {
    spec.by_series = false;
  } else {
    return absl::InvalidArgumentError("invalid aggregation option");
  }
  ASSIGN_OR_RETURN(spec.limit, PositiveParam(req, "limit", kDefaultVolumeLimit, true));
  std::vector<std::string> targets;
  std::string_view tl = req.Param("targetLabels");
  if (!tl.empty()) {
    for (absl::string_view t : absl::StrSplit(AV(tl), ',')) targets.emplace_back(SV(t));
  }
  if (!targets.empty()) {
    // Every target label must be present: a target without a matcher gets `name=~".+"`.
    for (const std::string& t : targets) {
      spec.group_labels.insert(t);
      bool found = std::any_of(spec.matchers.begin(), spec.matchers.end(),
                               [&](const Matcher& m) { return m.name() == t; });
      if (!found) {
        ASSIGN_OR_RETURN(Matcher m,
                         Matcher::Create(logql::syntax::MatchType::kRegexp, t, ".+"));
        spec.matchers.push_back(std::move(m));
      }
    }
  } else {
    for (const Matcher& m : spec.matchers) spec.group_labels.insert(m.name());
    spec.include_all = match_any;
  }
  return spec;
}

struct VolumeSeries {
  Labels metric;
  std::vector<std::pair<int64_t, uint64_t>> samples;  // (ts_ms, bytes)
};

void ServeVolume(HttpRequest& req, HttpResponse& resp, Querier* q, bool auth_enabled,
                 bool range) {
  auto tenant = http::TenantFromRequest(req, auth_enabled);
  if (!tenant.ok()) return WriteError(tenant.status(), resp);
  auto times = range ? ParseTimes(req, {"start", "end", "since", "step"})
                     : ParseTimes(req, {"start", "end", "since"});
  if (!times.ok()) return WriteError(times.status(), resp);
  auto spec = ParseVolumeSpec(req);
  if (!spec.ok()) return WriteError(spec.status(), resp);

  std::vector<Bucket> buckets =
      VolumeBuckets(times->start_ns, times->end_ns, range ? times->step_ns : 0);
  std::map<std::string, VolumeSeries> by_name;
  if (!buckets.empty()) {
    int64_t lo = buckets.front().from_ns, hi = buckets.front().through_ns;
    for (const Bucket& b : buckets) {
      lo = std::min(lo, b.from_ns);
      hi = std::max(hi, b.through_ns);
    }
    auto series = CollectChunks(q, *tenant, spec->matchers, lo, hi);
    if (!series.ok()) return WriteError(series.status(), resp);
    // Group labels of each series are the same in every bucket: compute them once.
    std::vector<std::vector<std::pair<std::string, Labels>>> groups(series->size());
    for (size_t i = 0; i < series->size(); ++i) {
      const Labels& l = (*series)[i].labels;
      if (spec->by_series) {
        std::vector<Label> kept;
        for (const Label& p : l) {
          if (spec->include_all || spec->group_labels.contains(p.name)) kept.push_back(p);
        }
        Labels g(std::move(kept));
        std::string name = g.ToString();
        groups[i].emplace_back(std::move(name), std::move(g));
      } else {
        for (const Label& p : l) {
          if (spec->include_all || spec->group_labels.contains(p.name)) {
            groups[i].emplace_back(p.name, Labels({{p.name, ""}}));
          }
        }
      }
    }
    for (const Bucket& b : buckets) {
      std::map<std::string, std::pair<const Labels*, uint64_t>> vols;
      for (size_t i = 0; i < series->size(); ++i) {
        uint64_t bytes = 0;
        bool any = false;
        for (const ChunkSpan& c : (*series)[i].chunks) {
          if (c.from_ns <= b.through_ns && c.through_ns >= b.from_ns) {
            bytes += c.bytes;
            any = true;
          }
        }
        if (!any) continue;
        for (const auto& [name, metric] : groups[i]) {
          auto& slot = vols[name];
          slot.first = &metric;
          slot.second += bytes;
        }
      }
      std::vector<std::pair<std::string_view, std::pair<const Labels*, uint64_t>>> ranked(
          vols.begin(), vols.end());
      std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
        if (a.second.second != b.second.second) return a.second.second > b.second.second;
        return a.first < b.first;
      });
      if (ranked.size() > spec->limit) ranked.resize(spec->limit);
      for (const auto& [name, v] : ranked) {
        VolumeSeries& s = by_name[std::string(name)];
        if (s.samples.empty()) s.metric = *v.first;
        s.samples.emplace_back(b.ts_ms, v.second);
      }
    }
  }

  std::vector<std::pair<const std::string*, VolumeSeries*>> result;
  bool matrix = false;
  for (auto& [name, s] : by_name) {
    std::sort(s.samples.begin(), s.samples.end());
    if (s.samples.size() > 1) matrix = true;
    result.emplace_back(&name, &s);
  }
  // Loki sorts by the first sample's value (descending), then by name.
  std::sort(result.begin(), result.end(), [](const auto& a, const auto& b) {
    uint64_t va = a.second->samples.front().second, vb = b.second->samples.front().second;
    if (va != vb) return va > vb;
    return *a.first < *b.first;
  });
  std::string out = absl::StrCat(R"({"status":"success","data":{"resultType":")",
                                 matrix ? "matrix" : "vector", R"(","result":[)");
  bool first = true;
  for (const auto& [name, s] : result) {
    if (!first) out.push_back(',');
    first = false;
    out.append(R"({"metric":)");
    AppendMetric(&out, s->metric);
    if (matrix) {
      out.append(R"(,"values":[)");
      for (size_t i = 0; i < s->samples.size(); ++i) {
        if (i > 0) out.push_back(',');
        out.push_back('[');
        AppendPromTime(&out, s->samples[i].first);
        absl::StrAppend(&out, ",\"", s->samples[i].second, "\"]");
      }
      out.append("]}");
    } else {
      out.append(R"(,"value":[)");
      AppendPromTime(&out, s->samples[0].first);
      absl::StrAppend(&out, ",\"", s->samples[0].second, "\"]}");
    }
  }
  out.append("]}}");
  resp.Json(200, std::move(out));
}

// ---------------------------------------------------------------------------------------------
// Detected labels

bool IsUuid(std::string_view v) {
  // Go's uuid.Parse forms: plain (36), {...} (38), urn:uuid:... (45), 32 hex digits.
  if (v.size() == 45) {
    if (absl::AsciiStrToLower(AV(v.substr(0, 9))) != "urn:uuid:") return false;
    v.remove_prefix(9);
  } else if (v.size() == 38) {
    if (v.front() != '{' || v.back() != '}') return false;
    v = v.substr(1, 36);
  }
  if (v.size() == 32) {
    return std::all_of(v.begin(), v.end(), [](char c) { return absl::ascii_isxdigit(c); });
  }
  if (v.size() != 36) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? v[i] != '-' : !absl::ascii_isxdigit(static_cast<unsigned char>(v[i]))) {
      return false;
    }
  }
  return true;
}

bool IsIdLike(std::string_view v) {
  double d;
  std::string err;
  return logql_log::GoParseFloat(v, &d, &err) || IsUuid(v);
}

// Loki's rule: a label is not worth offering when it has no values, or when every value is an
// ID (a number or a UUID), except that the boolean-like values 0/1 are kept.
bool ShouldRejectLabel(const std::set<std::string>& values) {
  if (values.empty()) return true;
  auto all_ids = [&] {
    return std::all_of(values.begin(), values.end(), [](const std::string& v) {
      return IsIdLike(v);
    });
  };
  if (values.size() > 2) return all_ids();
  for (const std::string& v : values) {
    if (v != "0" && v != "1") return all_ids();
  }
  return false;
}

void ServeDetectedLabels(HttpRequest& req, HttpResponse& resp, Querier* q, bool auth_enabled) {
  auto tenant = http::TenantFromRequest(req, auth_enabled);
  if (!tenant.ok()) return WriteError(tenant.status(), resp);
  auto times = ParseTimes(req, {"start", "end", "since"});
  if (!times.ok()) return WriteError(times.status(), resp);
  Matchers matchers;
  std::string_view query = req.Param("query");
  if (!query.empty()) {
    auto m = logql::syntax::ParseMatchers(query, /*validate=*/true);
    if (!m.ok()) return WriteError(m.status(), resp);
    matchers = std::move(*m);
  }
  auto series = q->Series(*tenant, {matchers}, times->start_ns, times->end_ns);
  if (!series.ok()) return WriteError(series.status(), resp);
  std::map<std::string, std::set<std::string>> values;
  for (const Labels& l : *series) {
    for (const Label& p : l) values[p.name].insert(p.value);
  }
  static const std::set<std::string_view> kStatic = {"cluster", "namespace", "instance", "pod"};
  std::string out = R"({"detectedLabels":[)";
  bool first = true;
  for (const auto& [name, vals] : values) {
    bool keep = (kStatic.contains(name) && !vals.empty()) || !ShouldRejectLabel(vals);
    if (!keep) continue;
    if (!first) out.push_back(',');
    first = false;
    out.append(R"({"label":)");
    AppendJsonString(&out, name);
    absl::StrAppend(&out, R"(,"cardinality":)", vals.size(), "}");
  }
  out.append("]}");
  resp.Json(200, std::move(out));
}

// ---------------------------------------------------------------------------------------------
// Detected fields

// A line the query selected, with what its pipeline found.
struct KeptLine {
  int64_t ts_ns = 0;
  uint64_t seq = 0;  // arrival order, to break ties deterministically
  uint32_t stream = 0;
  std::string line;  // after the query's pipeline (line_format may rewrite it)
  std::vector<Label> metadata;
  std::vector<Label> parsed;  // labels the query's own parsers extracted
};

struct NewerFirst {
  bool operator()(const KeptLine& a, const KeptLine& b) const {
    // Min-heap on time: the oldest kept line is on top, to be evicted first.
    if (a.ts_ns != b.ts_ns) return a.ts_ns > b.ts_ns;
    return a.seq < b.seq;
  }
};

bool IsErrorLabel(std::string_view name) {
  return name == logql_log::kErrorLabel || name == logql_log::kErrorDetailsLabel ||
         name == "__preserve_error__";
}

// Keeps the newest `limit` lines over all streams. Streams arrive newest first, so once a line
// is older than every kept one the rest of its stream is too.
class RecentLinesSink : public logql_engine::EntrySink {
 public:
  RecentLinesSink(logql_log::Pipeline* pipeline, uint32_t limit)
      : pipeline_(pipeline), limit_(limit) {}

  bool Push(const Labels& stream, std::span<const logql_engine::EntryRef> entries) override {
    auto [it, inserted] = stream_index_.try_emplace(stream.ToString(), streams_.size());
    if (inserted) streams_.push_back(stream);
    const uint32_t idx = static_cast<uint32_t>(it->second);
    logql_log::StreamPipeline* sp = pipeline_->ForStream(stream);
    for (const auto& e : entries) {
      if (heap_.size() >= limit_ && e.ts_ns <= heap_.top().ts_ns) return false;
      std::string_view out;
      if (!sp->Process(e.ts_ns, e.line, e.structured_metadata, &out)) continue;
      KeptLine k;
      k.ts_ns = e.ts_ns;
      k.seq = seq_++;
      k.stream = idx;
      k.line.assign(out.data(), out.size());
      const logql_log::LabelsBuilder& b = sp->builder();
      b.ForEach([&](std::string_view name, std::string_view value) {
        if (IsErrorLabel(name)) return;
        auto cat = b.CategoryOf(name);
        if (!cat.has_value() || *cat == logql_log::LabelCategory::kStream) return;
        auto& dst = *cat == logql_log::LabelCategory::kParsed ? k.parsed : k.metadata;
        dst.push_back(Label{std::string(name), std::string(value)});
      });
      heap_.push(std::move(k));
      if (heap_.size() > limit_) heap_.pop();
    }
    return true;
  }

  // Lines grouped by stream (in label order), newest first within a stream.
  std::vector<KeptLine> TakeLines() {
    std::vector<KeptLine> out;
    out.reserve(heap_.size());
    while (!heap_.empty()) {
      out.push_back(std::move(const_cast<KeptLine&>(heap_.top())));
      heap_.pop();
    }
    std::sort(out.begin(), out.end(), [this](const KeptLine& a, const KeptLine& b) {
      if (a.stream != b.stream) return streams_[a.stream] < streams_[b.stream];
      if (a.ts_ns != b.ts_ns) return a.ts_ns > b.ts_ns;
      return a.seq < b.seq;
    });
    return out;
  }
  const Labels& stream(uint32_t i) const { return streams_[i]; }

 private:
  logql_log::Pipeline* pipeline_;
  uint32_t limit_;
  uint64_t seq_ = 0;
  std::map<std::string, size_t> stream_index_;
  std::vector<Labels> streams_;
  std::priority_queue<KeptLine, std::vector<KeptLine>, NewerFirst> heap_;
};

// Loki's type inference for a detected field value, in its order of preference.
std::string_view DetermineType(std::string_view v) {
  int64_t i;
  std::string_view digits = v;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) digits.remove_prefix(1);
  if (!digits.empty() &&
      std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      absl::SimpleAtoi(AV(v), &i)) {
    return "int";
  }
  double d;
  std::string err;
  if (logql_log::GoParseFloat(v, &d, &err)) return "float";
  static const std::set<std::string_view> kBools = {"1", "t", "T", "TRUE", "true", "True",
                                                    "0", "f", "F", "FALSE", "false", "False"};
  if (kBools.contains(v)) return "boolean";
  int64_t ns;
  if (logql_log::GoParseDuration(v, &ns, &err)) return "duration";
  uint64_t bytes;
  if (logql_log::GoParseBytes(v, &bytes, &err)) return "bytes";
  return "string";
}

struct DetectedField {
  std::string_view type = "string";
  std::vector<std::string> parsers;
  std::set<std::string> values;
};

using FieldValues = std::map<std::string, std::set<std::string>>;

void AddValues(FieldValues& into, const std::vector<Label>& labels) {
  for (const Label& l : labels) into[l.name].insert(l.value);
}

// Runs json, else logfmt, over a line (Loki's detection parsers) on top of the stream labels
// (so clashing keys get `_extracted`). Returns the parser that succeeded, or "" when none did.
std::string_view DetectParse(const KeptLine& k, const Labels& stream, FieldValues* parsed) {
  std::vector<Label> base;
  for (const Label& l : stream) {
    bool taken = std::any_of(k.parsed.begin(), k.parsed.end(),
                             [&](const Label& p) { return p.name == l.name; });
    if (!taken) base.push_back(l);
  }
  logql_log::LabelsBuilder b{Labels(std::move(base))};
  b.Reset();
  std::string_view parser = "json";
  std::string_view line = k.line;
  // Both parsers outlive the reads of `b` below: parsed labels borrow their names.
  logql_log::JsonParser json;
  // Loki 3's detection parser: not strict, standalone keys and empty values dropped.
  logql_log::LogfmtParser logfmt(
      logql_log::LogfmtOptions{.continue_on_error = true, .drop_empty = true});
  bool ok = json.Process(k.ts_ns, &line, &b);
  if (!ok || b.HasErr()) {
    b.Reset();
    b.ResetError();
    b.ResetErrorDetails();
    parser = "logfmt";
    line = k.line;
    ok = logfmt.Process(k.ts_ns, &line, &b);
    if (!ok || b.HasErr()) return "";
  }
  b.ForEach([&](std::string_view name, std::string_view value) {
    if (IsErrorLabel(name)) return;
    if (b.CategoryOf(name) != logql_log::LabelCategory::kParsed) return;
    (*parsed)[std::string(name)].insert(std::string(value));
  });
  return parser;
}

struct FieldsRequest {
  std::string tenant;
  logql_engine::LogQuery times;
  logql::syntax::LogSelectorExpr expr;
  uint32_t line_limit = kDefaultLineLimit;
  uint32_t field_limit = kDefaultFieldLimit;
};

absl::StatusOr<FieldsRequest> ParseFieldsRequest(const HttpRequest& req, bool auth_enabled,
                                                 const LimitsProvider& limits) {
  FieldsRequest r;
  ASSIGN_OR_RETURN(r.tenant, http::TenantFromRequest(req, auth_enabled));
  ASSIGN_OR_RETURN(r.times, ParseTimes(req, {"start", "end", "since", "step"}));
  ASSIGN_OR_RETURN(r.line_limit, PositiveParam(req, "line_limit", kDefaultLineLimit));
  std::string_view limit_name = req.Param("limit").empty() ? "field_limit" : "limit";
  ASSIGN_OR_RETURN(r.field_limit, PositiveParam(req, limit_name, kDefaultFieldLimit));
  ASSIGN_OR_RETURN(r.expr, logql::syntax::ParseLogSelector(req.Param("query"), true));
  if (limits) {
    auto l = limits(r.tenant);
    if (l != nullptr && l->max_entries_limit_per_query > 0 &&
        r.line_limit > static_cast<uint32_t>(l->max_entries_limit_per_query)) {
      return absl::InvalidArgumentError(
          absl::StrCat("max entries limit per query exceeded, limit > max_entries_limit (",
                       r.line_limit, " > ", l->max_entries_limit_per_query, ")"));
    }
  }
  return r;
}

// Scans the newest lines and detects their fields (all of them, or only `only_name`).
absl::StatusOr<std::map<std::string, DetectedField>> DetectFields(Querier* q,
                                                                  const FieldsRequest& r,
                                                                  uint32_t field_limit) {
  ASSIGN_OR_RETURN(auto stages, logql_engine::BuildStages(r.expr.pipeline));
  logql_log::Pipeline pipeline(std::move(stages));
  logql_engine::SelectParams params;
  params.matchers = r.expr.matchers;
  params.start_ns = r.times.start_ns;
  params.end_ns = r.times.end_ns;
  params.direction = logql_engine::Direction::kBackward;
  params.line_filter_needles = logql_engine::LineFilterNeedles(r.expr.pipeline);
  RecentLinesSink sink(&pipeline, r.line_limit);
  TenantEntrySource source(q, r.tenant);
  RETURN_IF_ERROR(source.SelectLogs(params, sink));

  std::map<std::string, DetectedField> fields;
  auto field_for = [&](const std::string& name,
                       const std::vector<std::string_view>& parsers) -> DetectedField* {
    auto it = fields.find(name);
    if (it == fields.end()) {
      if (fields.size() >= field_limit) return nullptr;
      it = fields.emplace(name, DetectedField{}).first;
      for (auto p : parsers) it->second.parsers.emplace_back(p);
    }
    return &it->second;
  };
  for (const KeptLine& k : sink.TakeLines()) {
    FieldValues metadata;
    AddValues(metadata, k.metadata);
    for (const auto& [name, vals] : metadata) {
      DetectedField* f = field_for(name, {});
      if (f == nullptr) continue;
      f->type = DetermineType(*vals.begin());
      f->values.insert(vals.begin(), vals.end());
    }
    FieldValues parsed;
    AddValues(parsed, k.parsed);
    std::string_view parser = DetectParse(k, sink.stream(k.stream), &parsed);
    std::vector<std::string_view> parsers;
    if (!parser.empty()) parsers.push_back(parser);
    for (const auto& [name, vals] : parsed) {
      DetectedField* f = field_for(name, parsers);
      if (f == nullptr) continue;
      for (auto p : parsers) {
        if (std::find(f->parsers.begin(), f->parsers.end(), p) == f->parsers.end()) {
          f->parsers.emplace_back(p);
        }
      }
      f->type = DetermineType(*vals.begin());
      f->values.insert(vals.begin(), vals.end());
    }
  }
  return fields;
}

void ServeDetectedFields(HttpRequest& req, HttpResponse& resp, Querier* q, bool auth_enabled,
                         const LimitsProvider& limits) {
  auto r = ParseFieldsRequest(req, auth_enabled, limits);
  if (!r.ok()) return WriteError(r.status(), resp);
  auto fields = DetectFields(q, *r, r->field_limit);
  if (!fields.ok()) return WriteError(fields.status(), resp);
  std::string out = R"({"fields":[)";
  bool first = true;
  for (const auto& [name, f] : *fields) {
    if (!first) out.push_back(',');
    first = false;
    out.append(R"({"label":)");
    AppendJsonString(&out, name);
    absl::StrAppend(&out, R"(,"type":")", AV(f.type), R"(","cardinality":)", f.values.size(),
                    R"(,"parsers":)");
    if (f.parsers.empty()) {
      out.append("null");
    } else {
      out.push_back('[');
      for (size_t i = 0; i < f.parsers.size(); ++i) {
        if (i > 0) out.push_back(',');
        AppendJsonString(&out, f.parsers[i]);
      }
      out.push_back(']');
    }
    out.push_back('}');
  }
  absl::StrAppend(&out, R"(],"limit":)", r->field_limit, "}");
  resp.Json(200, std::move(out));
}

void ServeDetectedFieldValues(HttpRequest& req, HttpResponse& resp, Querier* q,
                              bool auth_enabled, const LimitsProvider& limits) {
  std::string name(req.PathParam("name"));
  if (name.empty()) return resp.Error(400, "field name is required");
  auto r = ParseFieldsRequest(req, auth_enabled, limits);
  if (!r.ok()) return WriteError(r.status(), resp);
  // Every field is detected (no field limit) so the named one is never crowded out.
  auto fields = DetectFields(q, *r, std::numeric_limits<uint32_t>::max());
  if (!fields.ok()) return WriteError(fields.status(), resp);
  std::string out = R"({"values":[)";
  auto it = fields->find(name);
  if (it != fields->end()) {
    uint32_t n = 0;
    for (const std::string& v : it->second.values) {
      if (n == r->field_limit) break;
      if (n++ > 0) out.push_back(',');
      AppendJsonString(&out, v);
    }
  }
  absl::StrAppend(&out, R"(],"limit":)", r->field_limit, "}");
  resp.Json(200, std::move(out));
}

}  // namespace

void RegisterDrilldownRoutes(http::Router& router, const std::string& prefix, Querier* q,
                             bool auth_enabled, LimitsProvider limits) {
  const std::initializer_list<Method> kGetPost = {Method::kGet, Method::kPost};
  router.Handle(kGetPost, absl::StrCat(prefix, "/loki/api/v1/index/volume"),
                [q, auth_enabled](HttpRequest& req, HttpResponse& resp) {
                  ServeVolume(req, resp, q, auth_enabled, /*range=*/false);
                });
  router.Handle(kGetPost, absl::StrCat(prefix, "/loki/api/v1/index/volume_range"),
                [q, auth_enabled](HttpRequest& req, HttpResponse& resp) {
                  ServeVolume(req, resp, q, auth_enabled, /*range=*/true);
                });
  router.Handle(kGetPost, absl::StrCat(prefix, "/loki/api/v1/detected_labels"),
                [q, auth_enabled](HttpRequest& req, HttpResponse& resp) {
                  ServeDetectedLabels(req, resp, q, auth_enabled);
                });
  router.Handle(kGetPost, absl::StrCat(prefix, "/loki/api/v1/detected_fields"),
                [q, auth_enabled, limits](HttpRequest& req, HttpResponse& resp) {
                  ServeDetectedFields(req, resp, q, auth_enabled, limits);
                });
  router.Handle(kGetPost, absl::StrCat(prefix, "/loki/api/v1/detected_field/{name}/values"),
                [q, auth_enabled, limits](HttpRequest& req, HttpResponse& resp) {
                  ServeDetectedFieldValues(req, resp, q, auth_enabled, limits);
                });
}

}  // namespace norn::querier
