// Metric queries: range aggregations (sliding windows over extracted samples), vector
// aggregations, binary operators, label_replace, vector() and literals, per evaluation step.
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "common/strings.h"
#include "logql/engine/eval_internal.h"
#include "logql/engine/pipeline_builder.h"
#include "logql/log/labels_builder.h"
#include "logql/log/pipeline.h"
#include "re2/re2.h"

namespace norn::logql_engine::internal {

namespace syn = logql::syntax;

uint32_t LabelsTable::Intern(Labels&& l, Fingerprint h) {
  auto [it, inserted] = by_hash_.try_emplace(h, static_cast<uint32_t>(items_.size()));
  if (!inserted) {
    int64_t i = it->second;
    while (true) {
      if (items_[i] == l)
        return static_cast<uint32_t>(i);
      if (next_[i] < 0)
        break;
      i = next_[i];
    }
    next_[i] = static_cast<int64_t>(items_.size());
  }
  items_.push_back(std::move(l));
  next_.push_back(-1);
  return static_cast<uint32_t>(items_.size() - 1);
}

namespace {

// Loki's limit on points per series (also enforced when parsing HTTP parameters).
constexpr int64_t kMaxSteps = 11000;

// ---------------------------------------------------------------------------------------------
// Range aggregations

struct RawSeries {
  uint32_t id;
  std::vector<int64_t> ts;
  std::vector<double> v;  // empty when every value is 1 (count-only sources)
  bool sorted = true;
  // Bucketed mode: per evaluation step base+i, the number of samples in its window and their
  // sum. Only the span of steps the series touched is allocated, so a high-cardinality
  // intermediate result (one series per line) costs a few buckets per series, not one per step.
  int64_t base = 0;
  std::vector<uint32_t> cnt;
  std::vector<double> sum;

  // Makes buckets [lo, hi] addressable.
  void Cover(int64_t lo, int64_t hi, bool values) {
    if (cnt.empty()) {
      base = lo;
      cnt.assign(static_cast<size_t>(hi - lo + 1), 0);
      if (values)
        sum.assign(cnt.size(), 0);
      return;
    }
    if (lo < base) {
      size_t n = static_cast<size_t>(base - lo);
      cnt.insert(cnt.begin(), n, 0);
      if (values)
        sum.insert(sum.begin(), n, 0);
      base = lo;
    }
    if (hi >= base + static_cast<int64_t>(cnt.size())) {
      cnt.resize(static_cast<size_t>(hi - base + 1), 0);
      if (values)
        sum.resize(cnt.size(), 0);
    }
  }
};

// Windows of order-insensitive aggregations (count, rate, bytes, sum) are accumulated while
// reading, straight into per-step buckets: a sample at ts belongs to the steps t with
// t - off - range < ts <= t - off. This keeps no samples and needs no sorting; used when a
// sample falls into few steps (range / step small).
struct Bucketing {
  bool on = false;
  bool values = false;  // keep sums (otherwise counts only)
  int64_t first = 0;    // first evaluation time
  int64_t step = 1;
  int64_t nsteps = 0;
  int64_t off = 0;
  int64_t range = 0;
};

// Floor division for possibly negative numerators.
inline int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Collects one range aggregation's samples from the source. A query may run several
// collectors over disjoint sets of streams on different threads (see MergeFrom); each keeps its
// own counters and interrupt, and interning new series in the shared table is serialised by
// `intern_mu` when given.
class SampleCollector : public EntrySink {
 public:
  SampleCollector(logql_log::SampleExtractor* ex, bool values, bool invariant, Bucketing b,
                  EvalContext* ctx, std::mutex* intern_mu = nullptr)
      : ex_(ex),
        values_(values),
        invariant_(invariant),
        b_(b),
        ctx_(ctx),
        intern_mu_(intern_mu),
        interrupt_(*ctx->q) {}

  bool Done() const override { return !interrupt_.status().ok(); }

  bool Push(const Labels& stream, std::span<const EntryRef> entries) override {
    if (interrupt_.Check())
      return false;
    logql_log::SampleExtractor::Stream* st = ex_->ForStream(stream);
    // With a pipeline that cannot change labels, every sample of the batch without structured
    // metadata has the same series (metadata become labels, so entries carrying some are
    // looked up one by one). Without stages, such an entry's sample is known without running
    // the extractor once that series is.
    int64_t cached = -1;
    const bool line_samples = st->YieldsLineSamples();
    const bool count = st->source() == logql_log::SampleSource::kCount;
    for (const EntryRef& e : entries) {
      lines_++;
      bytes_ += static_cast<int64_t>(e.line.size());
      double v;
      uint32_t idx;
      const bool plain = e.structured_metadata.empty();
      if (cached >= 0 && plain && line_samples) {
        v = count ? 1 : static_cast<double>(e.line.size());
        idx = static_cast<uint32_t>(cached);
      } else if (!st->Process(e.ts_ns, e.line, e.structured_metadata, &v)) {
        continue;
      } else if (cached >= 0 && plain) {
        idx = static_cast<uint32_t>(cached);
      } else {
        Fingerprint h = st->builder().GroupedHash();
        auto [it, inserted] = ids_.try_emplace(h, static_cast<uint32_t>(series_.size()));
        if (inserted)
          series_.push_back(RawSeries{Intern(st->builder().GroupedLabels()), {}, {}});
        idx = it->second;
        if (invariant_ && plain)
          cached = idx;
      }
      RawSeries& s = series_[idx];
      if (b_.on) {
        // Steps t_i = first + i*step with ts + off <= t_i < ts + off + range. Neighbouring
        // entries mostly fall into the same steps: two comparisons instead of two divisions.
        if (e.ts_ns < steps_from_ || e.ts_ns > steps_through_)
          FindSteps(e.ts_ns);
        int64_t lo = steps_lo_, hi = steps_hi_;
        if (lo < 0)
          lo = 0;
        if (hi >= b_.nsteps)
          hi = b_.nsteps - 1;
        if (lo > hi)
          continue;
        if (s.cnt.empty() || lo < s.base || hi >= s.base + static_cast<int64_t>(s.cnt.size()))
          s.Cover(lo, hi, b_.values);
        for (int64_t i = lo - s.base; i <= hi - s.base; ++i) {
          s.cnt[static_cast<size_t>(i)]++;
          if (b_.values)
            s.sum[static_cast<size_t>(i)] += v;
        }
        continue;
      }
      if (!s.ts.empty() && e.ts_ns < s.ts.back())
        s.sorted = false;
      s.ts.push_back(e.ts_ns);
      if (values_)
        s.v.push_back(v);
      ++samples_;
    }
    return true;
  }

  // Adds `other`'s series (collected from other streams) into this one's. Only valid for
  // aggregations whose result does not depend on the order of samples with equal timestamps
  // or on the order of additions (see ParallelSafe). Afterwards series are in label order, so
  // the result does not depend on which collector saw a series first.
  void MergeFrom(SampleCollector& other) {
    for (const auto& [h, oidx] : other.ids_) {
      RawSeries& src = other.series_[oidx];
      auto [it, inserted] = ids_.try_emplace(h, static_cast<uint32_t>(series_.size()));
      if (inserted) {
        series_.push_back(std::move(src));
        continue;
      }
      RawSeries& dst = series_[it->second];
      if (!src.cnt.empty()) {
        const int64_t hi = src.base + static_cast<int64_t>(src.cnt.size()) - 1;
        dst.Cover(src.base, hi, b_.values);
        for (size_t j = 0; j < src.cnt.size(); ++j) {
          const size_t i = static_cast<size_t>(src.base - dst.base) + j;
          dst.cnt[i] += src.cnt[j];
          if (b_.values)
            dst.sum[i] += src.sum[j];
        }
      }
      if (!src.ts.empty()) {
        dst.sorted = dst.ts.empty() ? src.sorted : false;
        dst.ts.insert(dst.ts.end(), src.ts.begin(), src.ts.end());
        dst.v.insert(dst.v.end(), src.v.begin(), src.v.end());
      }
    }
    lines_ += other.lines_;
    bytes_ += other.bytes_;
    samples_ += other.samples_;
    other.ids_.clear();
    other.series_.clear();
  }

  void SortSeriesByLabels() {
    std::sort(series_.begin(), series_.end(), [this](const RawSeries& a, const RawSeries& b) {
      return ctx_->table.Get(a.id) < ctx_->table.Get(b.id);
    });
  }

  // Adds the counters to the query's totals.
  void Account() {
    ctx_->stats->total_lines_processed += lines_;
    ctx_->stats->total_bytes_processed += bytes_;
    ctx_->samples += samples_;
  }

  const Interrupt& interrupt() const { return interrupt_; }
  std::vector<RawSeries>& series() { return series_; }

 private:
  // Sets steps_lo_/steps_hi_ to the (unclamped) steps a sample at `ts` belongs to, and
  // [steps_from_, steps_through_] to every timestamp that belongs to exactly those steps.
  void FindSteps(int64_t ts) {
    // lo = ceil((ts + off - first) / step), hi = floor((ts + off + range - 1 - first) / step).
    steps_lo_ = FloorDiv(ts + b_.off - b_.first + b_.step - 1, b_.step);
    steps_hi_ = FloorDiv(ts + b_.off + b_.range - 1 - b_.first, b_.step);
    // lo holds while (lo - 1) * step < ts + off - first <= lo * step, hi while
    // hi * step <= ts + off + range - 1 - first < (hi + 1) * step.
    const int64_t base = b_.first - b_.off;
    steps_from_ =
        std::max(base + (steps_lo_ - 1) * b_.step + 1, base - b_.range + 1 + steps_hi_ * b_.step);
    steps_through_ =
        std::min(base + steps_lo_ * b_.step, base - b_.range + (steps_hi_ + 1) * b_.step);
  }

  uint32_t Intern(Labels l) {
    if (intern_mu_ == nullptr)
      return ctx_->table.Intern(std::move(l));
    std::lock_guard lock(*intern_mu_);
    return ctx_->table.Intern(std::move(l));
  }

  logql_log::SampleExtractor* ex_;
  bool values_;
  bool invariant_;
  Bucketing b_;
  EvalContext* ctx_;
  std::mutex* intern_mu_;
  Interrupt interrupt_;
  int64_t lines_ = 0, bytes_ = 0, samples_ = 0;
  // The steps of the last sample (FindSteps); the empty range makes the first look them up.
  int64_t steps_from_ = 1, steps_through_ = 0, steps_lo_ = 0, steps_hi_ = 0;
  absl::flat_hash_map<Fingerprint, uint32_t> ids_;
  std::vector<RawSeries> series_;
};

// Whether spreading streams over several collectors gives exactly the serial answer: counts,
// line sizes (integers, exact in a double) and order statistics do; sums of unwrapped floats
// (addition order), first/last and counter resets (order of equal timestamps) may not.
bool ParallelSafe(const syn::RangeAggregationExpr& r) {
  switch (r.op) {
    case syn::RangeOp::kCountOverTime:
    case syn::RangeOp::kBytesOverTime:
    case syn::RangeOp::kBytesRate:
    case syn::RangeOp::kAbsentOverTime:
    case syn::RangeOp::kQuantileOverTime:
      return true;
    case syn::RangeOp::kRate:
      return !r.range.unwrap.has_value();
    default:
      return false;
  }
}

void SortSeries(RawSeries* s) {
  if (s->sorted)
    return;
  std::vector<uint32_t> idx(s->ts.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(),
                   [&](uint32_t a, uint32_t b) { return s->ts[a] < s->ts[b]; });
  std::vector<int64_t> ts(idx.size());
  for (size_t i = 0; i < idx.size(); ++i)
    ts[i] = s->ts[idx[i]];
  s->ts = std::move(ts);
  if (!s->v.empty()) {
    std::vector<double> v(idx.size());
    for (size_t i = 0; i < idx.size(); ++i)
      v[i] = s->v[idx[i]];
    s->v = std::move(v);
  }
  s->sorted = true;
}

// Prometheus' quantile over a window (values copied into scratch, which is reordered). Only
// the two ranks around q are needed, so they are selected (linear time) rather than sorted.
// NaN orders before every number, as Go's sort.Float64s puts it.
double Quantile(double q, std::vector<double>* vals) {
  if (vals->empty())
    return std::nan("");
  if (q < 0)
    return -std::numeric_limits<double>::infinity();
  if (q > 1)
    return std::numeric_limits<double>::infinity();
  auto less = [](double a, double b) { return a < b || (std::isnan(a) && !std::isnan(b)); };
  double n = static_cast<double>(vals->size());
  double rank = q * (n - 1);
  double lower = std::max(0.0, std::floor(rank));
  double upper = std::min(n - 1, lower + 1);
  double weight = rank - std::floor(rank);
  const auto lo = vals->begin() + static_cast<ptrdiff_t>(lower);
  std::nth_element(vals->begin(), lo, vals->end(), less);
  const double lo_v = *lo;
  // Everything after the lower rank is >= it: the next rank is their minimum.
  const double hi_v =
      upper > lower ? *std::min_element(lo + 1, vals->end(), less) : lo_v;
  return lo_v * (1 - weight) + hi_v * weight;
}

// Prometheus' extrapolatedRate for counters, over the window (start_ns, end_ns].
double CounterRate(const int64_t* ts, const double* v, size_t n, int64_t start_ns, int64_t end_ns,
                   double range_s) {
  if (n < 2)
    return 0;
  double result = v[n - 1] - v[0];
  double last = 0;
  for (size_t i = 0; i < n; ++i) {
    if (v[i] < last)
      result += last;
    last = v[i];
  }
  double to_start = static_cast<double>(ts[0] - start_ns) / 1e9;
  double to_end = static_cast<double>(end_ns - ts[n - 1]) / 1e9;
  double sampled = static_cast<double>(ts[n - 1] - ts[0]) / 1e9;
  double avg_between = sampled / static_cast<double>(n - 1);
  if (result > 0 && v[0] >= 0) {
    double to_zero = sampled * (v[0] / result);
    if (to_zero < to_start)
      to_start = to_zero;
  }
  double threshold = avg_between * 1.1;
  double interval = sampled;
  interval += to_start < threshold ? to_start : avg_between / 2;
  interval += to_end < threshold ? to_end : avg_between / 2;
  return result * (interval / sampled) / range_s;
}

double Aggregate(syn::RangeOp op, const int64_t* ts, const double* v, size_t n, double range_s,
                 double param, int64_t start_ns, int64_t end_ns, std::vector<double>* scratch) {
  auto val = [&](size_t i) { return v ? v[i] : 1.0; };
  switch (op) {
    case syn::RangeOp::kCountOverTime:
      return static_cast<double>(n);
    case syn::RangeOp::kRate: {
      if (!v)
        return static_cast<double>(n) / range_s;
      double sum = 0;
      for (size_t i = 0; i < n; ++i)
        sum += v[i];
      return sum / range_s;
    }
    case syn::RangeOp::kBytesRate: {
      double sum = 0;
      for (size_t i = 0; i < n; ++i)
        sum += val(i);
      return sum / range_s;
    }
    case syn::RangeOp::kBytesOverTime:
    case syn::RangeOp::kSumOverTime: {
      double sum = 0;
      for (size_t i = 0; i < n; ++i)
        sum += val(i);
      return sum;
    }
    case syn::RangeOp::kAvgOverTime: {
      double mean = 0, count = 0;
      for (size_t i = 0; i < n; ++i) {
        count++;
        mean += (val(i) - mean) / count;
      }
      return mean;
    }
    case syn::RangeOp::kMaxOverTime: {
      double m = val(0);
      for (size_t i = 0; i < n; ++i) {
        if (val(i) > m || std::isnan(m))
          m = val(i);
      }
      return m;
    }
    case syn::RangeOp::kMinOverTime: {
      double m = val(0);
      for (size_t i = 0; i < n; ++i) {
        if (val(i) < m || std::isnan(m))
          m = val(i);
      }
      return m;
    }
    case syn::RangeOp::kStdvarOverTime:
    case syn::RangeOp::kStddevOverTime: {
      double aux = 0, count = 0, mean = 0;
      for (size_t i = 0; i < n; ++i) {
        count++;
        double delta = val(i) - mean;
        mean += delta / count;
        aux += delta * (val(i) - mean);
      }
      double var = aux / count;
      return op == syn::RangeOp::kStddevOverTime ? std::sqrt(var) : var;
    }
    case syn::RangeOp::kQuantileOverTime: {
      scratch->clear();
      for (size_t i = 0; i < n; ++i)
        scratch->push_back(val(i));
      return Quantile(param, scratch);
    }
    case syn::RangeOp::kFirstOverTime:
      return val(0);
    case syn::RangeOp::kLastOverTime:
      return val(n - 1);
    case syn::RangeOp::kRateCounter: {
      std::vector<double> ones;
      if (!v) {
        ones.assign(n, 1.0);
        v = ones.data();
      }
      return CounterRate(ts, v, n, start_ns, end_ns, range_s);
    }
    case syn::RangeOp::kAbsentOverTime:
      return 1;
  }
  return 0;
}

// Labels of absent_over_time's output: the selector's equality matchers (a name used twice is
// left out), as Prometheus' absent() does.
Labels AbsentLabels(const syn::LogSelectorExpr& sel) {
  std::vector<Label> out;
  absl::flat_hash_set<std::string> dup;
  for (const auto& m : sel.matchers) {
    if (m.type() != syn::MatchType::kEqual)
      continue;
    bool seen = false;
    for (const auto& l : out)
      seen |= l.name == m.name();
    if (seen) {
      dup.insert(m.name());
      continue;
    }
    out.push_back(Label{m.name(), m.value()});
  }
  std::vector<Label> kept;
  for (auto& l : out) {
    if (!dup.contains(l.name))
      kept.push_back(std::move(l));
  }
  return Labels(std::move(kept));
}

absl::Status PipelineError(const Labels& l) {
  std::string err(l.Get(logql_log::kErrorLabel));
  return absl::InvalidArgumentError(absl::StrCat(
      "pipeline error: '", err, "' for series: '", l.ToString(),
      "'.\nUse a label filter to intentionally skip this error. (e.g | __error__!=\"", err,
      "\").\nTo skip all potential errors you can match empty errors.(e.g __error__=\"\")\nThe "
      "label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )"));
}

absl::StatusOr<Value> EvalRange(EvalContext* ctx, const syn::RangeAggregationExpr& r,
                                const std::optional<syn::Grouping>& pushdown) {
  const bool source_filters = ctx->source->AppliesLineFilter();
  ASSIGN_OR_RETURN(auto ex, BuildSampleExtractor(r, pushdown, source_filters));
  const int64_t range = r.range.range_ns;
  const int64_t off = r.range.offset_ns;
  const auto& steps = ctx->steps_ns;
  SelectParams p;
  p.matchers = r.range.selector.matchers;
  // Windows are (t - range, t], but like Loki 2.7.7 the entries are fetched over
  // [start - range, end) (minus the offset), so an entry at exactly `end` never counts.
  p.start_ns = steps.front() - range - off + 1;
  p.end_ns = ctx->q->end_ns - off;
  p.direction = Direction::kForward;
  p.line_filter_needles = LineFilterNeedles(r.range.selector.pipeline);
  p.line_filter = LeadingLineFilter(r.range.selector.pipeline);

  bool values = r.range.unwrap.has_value() || r.op == syn::RangeOp::kBytesOverTime ||
                r.op == syn::RangeOp::kBytesRate;
  bool invariant = !r.range.unwrap.has_value();
  for (const auto& st : r.range.selector.pipeline) {
    invariant &= std::holds_alternative<syn::LineFilterStage>(st);
  }
  const bool absent = r.op == syn::RangeOp::kAbsentOverTime;
  // Without stages and unwrap a range aggregation can only count entries or their sizes (the
  // other operations require unwrap): it never reads a line's bytes.
  p.lines_needed = !r.range.selector.pipeline.empty() || r.range.unwrap.has_value();
  Bucketing b;
  b.first = steps.front();
  b.step = steps.size() > 1 ? steps[1] - steps[0] : 1;
  b.nsteps = static_cast<int64_t>(steps.size());
  b.off = off;
  b.range = range;
  b.values = values;
  switch (r.op) {
    case syn::RangeOp::kCountOverTime:
    case syn::RangeOp::kRate:
    case syn::RangeOp::kBytesOverTime:
    case syn::RangeOp::kBytesRate:
    case syn::RangeOp::kSumOverTime:
    case syn::RangeOp::kAbsentOverTime:
      // Each sample lands in about range/step buckets.
      b.on = steps.size() == 1 || range / b.step <= 32;
      break;
    default:
      break;
  }
  // Several collectors when the source can feed them in parallel (each its own extractor:
  // extractors keep per-stream state).
  const size_t parallel = ParallelSafe(r) ? std::max<size_t>(1, ctx->source->Parallelism()) : 1;
  std::mutex intern_mu;
  std::vector<std::unique_ptr<logql_log::SampleExtractor>> extractors;
  std::vector<std::unique_ptr<SampleCollector>> collectors;
  std::vector<EntrySink*> sinks;
  for (size_t k = 0; k < parallel; ++k) {
    if (k > 0) {
      ASSIGN_OR_RETURN(auto more, BuildSampleExtractor(r, pushdown, source_filters));
      extractors.push_back(std::move(more));
    }
    collectors.push_back(std::make_unique<SampleCollector>(
        k == 0 ? ex.get() : extractors.back().get(), values, invariant, b, ctx,
        parallel > 1 ? &intern_mu : nullptr));
    sinks.push_back(collectors.back().get());
  }
  absl::Status selected = parallel > 1 ? ctx->source->SelectLogsParallel(p, sinks)
                                       : ctx->source->SelectLogs(p, *sinks[0]);
  SampleCollector& collector = *collectors[0];
  for (size_t k = 1; k < parallel; ++k)
    collector.MergeFrom(*collectors[k]);
  if (parallel > 1)
    collector.SortSeriesByLabels();
  collector.Account();
  RETURN_IF_ERROR(selected);
  for (const auto& c : collectors) {
    if (!c->interrupt().status().ok())
      ctx->interrupt->Check();  // the deadline or cancellation the collector saw
  }
  RETURN_IF_ERROR(ctx->interrupt->status());
  if (ctx->opts->max_samples > 0 && ctx->samples > ctx->opts->max_samples) {
    return absl::ResourceExhaustedError("query would keep too many samples in memory");
  }

  Value out;
  out.steps.resize(steps.size());
  const double range_s = static_cast<double>(range) / 1e9;
  const double param = r.param.value_or(0);
  std::vector<double> scratch;
  std::vector<bool> seen(absent ? steps.size() : 0, false);
  for (RawSeries& s : collector.series()) {
    bool any = false;
    if (b.on) {
      for (size_t j = 0; j < s.cnt.size(); ++j) {
        if (s.cnt[j] == 0)
          continue;
        size_t i = static_cast<size_t>(s.base) + j;
        any = true;
        if (absent) {
          seen[i] = true;
          continue;
        }
        double n = static_cast<double>(s.cnt[j]);
        double sum = values ? s.sum[j] : n;
        double val = (r.op == syn::RangeOp::kCountOverTime) ? n
                     : (r.op == syn::RangeOp::kRate || r.op == syn::RangeOp::kBytesRate)
                         ? sum / range_s
                         : sum;
        out.steps[i].push_back(StepSample{s.id, val});
      }
    } else {
      SortSeries(&s);
      const int64_t* ts = s.ts.data();
      const double* v = s.v.empty() ? nullptr : s.v.data();
      const size_t n = s.ts.size();
      size_t lo = 0, hi = 0;
      for (size_t i = 0; i < steps.size(); ++i) {
        int64_t end = steps[i] - off;
        int64_t start = end - range;
        while (lo < n && ts[lo] <= start)
          ++lo;
        if (hi < lo)
          hi = lo;
        while (hi < n && ts[hi] <= end)
          ++hi;
        if (hi == lo)
          continue;
        any = true;
        if (absent) {
          seen[i] = true;
          continue;
        }
        double val = Aggregate(r.op, ts + lo, v ? v + lo : nullptr, hi - lo, range_s, param, start,
                               end, &scratch);
        out.steps[i].push_back(StepSample{s.id, val});
      }
    }
    if (any && !absent && ctx->table.Get(s.id).Has(logql_log::kErrorLabel)) {
      return PipelineError(ctx->table.Get(s.id));
    }
  }
  if (absent) {
    uint32_t id = ctx->table.Intern(AbsentLabels(r.range.selector));
    for (size_t i = 0; i < steps.size(); ++i) {
      if (!seen[i])
        out.steps[i].push_back(StepSample{id, 1});
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Vector aggregations

Labels GroupLabels(const Labels& l, const syn::Grouping& g) {
  std::vector<Label> out;
  for (const auto& lab : l) {
    bool listed = std::find(g.labels.begin(), g.labels.end(), lab.name) != g.labels.end();
    if (listed != g.without)
      out.push_back(lab);
  }
  return Labels(std::move(out));
}

absl::StatusOr<Value> EvalNode(EvalContext* ctx, const syn::Expr& e);

absl::StatusOr<Value> EvalVectorAgg(EvalContext* ctx, const syn::VectorAggregationExpr& a) {
  Value in;
  const auto* range = std::get_if<syn::RangeAggregationExpr>(&a.inner->node);
  if (range && CanPushDownGrouping(a.op, *range)) {
    ASSIGN_OR_RETURN(in, EvalRange(ctx, *range, a.grouping));
  } else {
    ASSIGN_OR_RETURN(in, EvalNode(ctx, *a.inner));
  }
  if (in.scalar)
    return absl::InvalidArgumentError("vector aggregation over a scalar");
  Value out;
  out.steps.resize(in.steps.size());
  std::vector<int64_t> group_of;  // series id -> group id (-1: not computed)
  auto group = [&](uint32_t id) -> uint32_t {
    if (group_of.size() <= id)
      group_of.resize(ctx->table.size(), -1);
    if (group_of[id] < 0)
      group_of[id] = ctx->table.Intern(GroupLabels(ctx->table.Get(id), a.grouping));
    return static_cast<uint32_t>(group_of[id]);
  };
  struct Acc {
    double value = 0;
    double mean = 0;
    int64_t count = 0;
  };
  absl::flat_hash_map<uint32_t, size_t> slot;
  std::vector<uint32_t> order;
  std::vector<Acc> accs;
  const bool is_k = a.op == syn::VectorOp::kTopK || a.op == syn::VectorOp::kBottomK ||
                    a.op == syn::VectorOp::kApproxTopK;
  const bool is_sort = a.op == syn::VectorOp::kSort || a.op == syn::VectorOp::kSortDesc;
  std::vector<std::vector<StepSample>> members;
  for (size_t si = 0; si < in.steps.size(); ++si) {
    const StepVec& vec = in.steps[si];
    StepVec& res = out.steps[si];
    if (vec.empty())
      continue;
    if (is_sort) {
      res = vec;
      bool desc = a.op == syn::VectorOp::kSortDesc;
      std::stable_sort(res.begin(), res.end(), [desc](const StepSample& x, const StepSample& y) {
        if (std::isnan(x.v))
          return false;
        if (std::isnan(y.v))
          return true;
        return desc ? x.v > y.v : x.v < y.v;
      });
      continue;
    }
    slot.clear();
    order.clear();
    accs.clear();
    if (is_k)
      members.clear();
    for (const StepSample& s : vec) {
      uint32_t g =
          a.op == syn::VectorOp::kApproxTopK ? ctx->table.Intern(Labels()) : group(s.series);
      auto [it, inserted] = slot.try_emplace(g, accs.size());
      if (inserted) {
        order.push_back(g);
        accs.push_back(Acc{});
        if (is_k)
          members.emplace_back();
      }
      Acc& acc = accs[it->second];
      if (is_k) {
        members[it->second].push_back(s);
        continue;
      }
      if (inserted) {
        acc.count = 1;
        acc.value = s.v;
        acc.mean = s.v;
        if (a.op == syn::VectorOp::kStddev || a.op == syn::VectorOp::kStdvar)
          acc.value = 0;
        continue;
      }
      acc.count++;
      switch (a.op) {
        case syn::VectorOp::kSum:
          acc.value += s.v;
          break;
        case syn::VectorOp::kAvg:
          if (std::isinf(acc.mean)) {
            if (std::isinf(s.v) && (acc.mean > 0) == (s.v > 0))
              break;
            if (!std::isinf(s.v) && !std::isnan(s.v))
              break;
          }
          acc.mean +=
              s.v / static_cast<double>(acc.count) - acc.mean / static_cast<double>(acc.count);
          break;
        case syn::VectorOp::kMax:
          if (acc.value < s.v || std::isnan(acc.value))
            acc.value = s.v;
          break;
        case syn::VectorOp::kMin:
          if (acc.value > s.v || std::isnan(acc.value))
            acc.value = s.v;
          break;
        case syn::VectorOp::kStddev:
        case syn::VectorOp::kStdvar: {
          double delta = s.v - acc.mean;
          acc.mean += delta / static_cast<double>(acc.count);
          acc.value += delta * (s.v - acc.mean);
          break;
        }
        default:
          break;
      }
    }
    for (size_t gi = 0; gi < order.size(); ++gi) {
      const Acc& acc = accs[gi];
      switch (a.op) {
        case syn::VectorOp::kSum:
        case syn::VectorOp::kMax:
        case syn::VectorOp::kMin:
          res.push_back({order[gi], acc.value});
          break;
        case syn::VectorOp::kAvg:
          res.push_back({order[gi], acc.mean});
          break;
        case syn::VectorOp::kCount:
          res.push_back({order[gi], static_cast<double>(acc.count)});
          break;
        case syn::VectorOp::kStddev:
          res.push_back({order[gi], std::sqrt(acc.value / static_cast<double>(acc.count))});
          break;
        case syn::VectorOp::kStdvar:
          res.push_back({order[gi], acc.value / static_cast<double>(acc.count)});
          break;
        case syn::VectorOp::kTopK:
        case syn::VectorOp::kBottomK:
        case syn::VectorOp::kApproxTopK: {
          int64_t k = a.param.value_or(1);
          if (k < 1)
            break;
          bool top = a.op != syn::VectorOp::kBottomK;
          // Prometheus' heap: the kept set's worst element on top, replaced by better ones.
          auto worse = [top](const StepSample& x, const StepSample& y) {
            // true when x should sit above y in the heap (x is "worse")
            if (top)
              return x.v < y.v || (std::isnan(x.v) && !std::isnan(y.v));
            return x.v > y.v || (std::isnan(x.v) && !std::isnan(y.v));
          };
          auto heap_less = [&](const StepSample& x, const StepSample& y) { return worse(y, x); };
          std::vector<StepSample> heap;
          for (const StepSample& s : members[gi]) {
            if (static_cast<int64_t>(heap.size()) < k) {
              heap.push_back(s);
              std::push_heap(heap.begin(), heap.end(), heap_less);
            } else if (worse(heap.front(), s)) {
              std::pop_heap(heap.begin(), heap.end(), heap_less);
              heap.back() = s;
              std::push_heap(heap.begin(), heap.end(), heap_less);
            }
          }
          std::sort_heap(heap.begin(), heap.end(), heap_less);
          for (const StepSample& s : heap)
            res.push_back(s);
          break;
        }
        default:
          break;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Binary operators

bool IsTrueCmp(syn::BinaryOp op, double l, double r) {
  switch (op) {
    case syn::BinaryOp::kEq:
      return l == r;
    case syn::BinaryOp::kNe:
      return l != r;
    case syn::BinaryOp::kGt:
      return l > r;
    case syn::BinaryOp::kGe:
      return l >= r;
    case syn::BinaryOp::kLt:
      return l < r;
    case syn::BinaryOp::kLe:
      return l <= r;
    default:
      return false;
  }
}

double Arith(syn::BinaryOp op, double l, double r) {
  switch (op) {
    case syn::BinaryOp::kAdd:
      return l + r;
    case syn::BinaryOp::kSub:
      return l - r;
    case syn::BinaryOp::kMul:
      return l * r;
    case syn::BinaryOp::kDiv:
      return r == 0 ? std::nan("") : l / r;  // Loki: division by zero is NaN
    case syn::BinaryOp::kMod:
      return r == 0 ? std::nan("") : std::fmod(l, r);
    case syn::BinaryOp::kPow:
      return std::pow(l, r);
    default:
      return 0;
  }
}

class BinOpEval {
 public:
  BinOpEval(EvalContext* ctx, const syn::BinaryOpExpr& b) : ctx_(ctx), b_(b) {}

  absl::StatusOr<Value> Run() {
    ASSIGN_OR_RETURN(Value l, EvalNode(ctx_, *b_.lhs));
    ASSIGN_OR_RETURN(Value r, EvalNode(ctx_, *b_.rhs));
    Value out;
    if (l.scalar && r.scalar) {
      out.scalar = true;
      out.scalar_v = ScalarOp(l.scalar_v, r.scalar_v);
      return out;
    }
    size_t n = l.scalar ? r.steps.size() : l.steps.size();
    out.steps.resize(n);
    for (size_t i = 0; i < n; ++i) {
      if (l.scalar) {
        VectorScalar(r.steps[i], l.scalar_v, /*scalar_left=*/true, &out.steps[i]);
      } else if (r.scalar) {
        VectorScalar(l.steps[i], r.scalar_v, /*scalar_left=*/false, &out.steps[i]);
      } else {
        RETURN_IF_ERROR(VectorVector(l.steps[i], r.steps[i], &out.steps[i]));
      }
    }
    return out;
  }

 private:
  double ScalarOp(double l, double r) const {
    if (syn::IsComparison(b_.op))
      return IsTrueCmp(b_.op, l, r) ? 1 : 0;
    return Arith(b_.op, l, r);
  }

  void VectorScalar(const StepVec& vec, double s, bool scalar_left, StepVec* out) {
    for (const StepSample& x : vec) {
      double l = scalar_left ? s : x.v;
      double r = scalar_left ? x.v : s;
      if (syn::IsComparison(b_.op)) {
        bool t = IsTrueCmp(b_.op, l, r);
        if (b_.return_bool) {
          out->push_back({x.series, t ? 1.0 : 0.0});
        } else if (t) {
          out->push_back(x);
        }
      } else {
        out->push_back({x.series, Arith(b_.op, l, r)});
      }
    }
  }

  const std::string& Sig(uint32_t id) {
    if (sigs_.size() <= id) {
      sigs_.resize(ctx_->table.size());
      sig_done_.resize(ctx_->table.size(), false);
    }
    if (!sig_done_[id]) {
      std::string& s = sigs_[id];
      const auto& m = b_.matching;
      for (const auto& l : ctx_->table.Get(id)) {
        bool listed = std::find(m.matching_labels.begin(), m.matching_labels.end(), l.name) !=
                      m.matching_labels.end();
        if (listed != m.on)
          continue;
        s.append(l.name);
        s.push_back('\xff');
        s.append(l.value);
        s.push_back('\xff');
      }
      sig_done_[id] = true;
    }
    return sigs_[id];
  }

  uint32_t ResultMetric(uint32_t lid, uint32_t rid) {
    uint64_t key = (uint64_t{lid} << 32) | rid;
    auto it = result_ids_.find(key);
    if (it != result_ids_.end())
      return it->second;
    const auto& m = b_.matching;
    const Labels& lhs = ctx_->table.Get(lid);
    const Labels& rhs = ctx_->table.Get(rid);
    std::vector<Label> out;
    for (const auto& l : lhs) {
      if (m.card == syn::VectorMatching::Card::kOneToOne) {
        bool listed = std::find(m.matching_labels.begin(), m.matching_labels.end(), l.name) !=
                      m.matching_labels.end();
        if (listed != m.on)
          continue;
      }
      if (std::find(m.include.begin(), m.include.end(), l.name) != m.include.end())
        continue;
      out.push_back(l);
    }
    for (const auto& name : m.include) {
      std::string_view v = rhs.Get(name);
      if (!v.empty())
        out.push_back(Label{name, std::string(v)});
    }
    uint32_t id = ctx_->table.Intern(Labels(std::move(out)));
    result_ids_.emplace(key, id);
    return id;
  }

  absl::Status VectorVector(const StepVec& lhs_in, const StepVec& rhs_in, StepVec* out) {
    const auto& m = b_.matching;
    if (syn::IsSetOp(b_.op)) {
      absl::flat_hash_set<std::string_view> rsigs;
      if (b_.op == syn::BinaryOp::kOr) {
        for (const StepSample& x : lhs_in) {
          rsigs.insert(Sig(x.series));
          out->push_back(x);
        }
        for (const StepSample& x : rhs_in) {
          if (!rsigs.contains(Sig(x.series)))
            out->push_back(x);
        }
        return absl::OkStatus();
      }
      for (const StepSample& x : rhs_in)
        rsigs.insert(Sig(x.series));
      for (const StepSample& x : lhs_in) {
        bool found = rsigs.contains(Sig(x.series));
        if (found == (b_.op == syn::BinaryOp::kAnd))
          out->push_back(x);
      }
      return absl::OkStatus();
    }
    const bool swap = m.card == syn::VectorMatching::Card::kOneToMany;
    const StepVec& many = swap ? rhs_in : lhs_in;
    const StepVec& one = swap ? lhs_in : rhs_in;
    absl::flat_hash_map<std::string_view, const StepSample*> right;
    for (const StepSample& x : one) {
      auto [it, inserted] = right.try_emplace(Sig(x.series), &x);
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat(
            "found duplicate series for the match group ", ctx_->table.Get(x.series).ToString(),
            " on the ", swap ? "left" : "right",
            " hand-side of the operation; many-to-many matching not allowed: matching labels "
            "must be unique on one side"));
      }
    }
    absl::flat_hash_map<std::string_view, absl::flat_hash_set<uint32_t>> matched;
    for (const StepSample& x : many) {
      std::string_view sig = Sig(x.series);
      auto it = right.find(sig);
      if (it == right.end())
        continue;
      const StepSample& o = *it->second;
      uint32_t metric = ResultMetric(x.series, o.series);
      auto [mit, first] = matched.try_emplace(sig);
      if (m.card == syn::VectorMatching::Card::kOneToOne) {
        if (!first) {
          return absl::InvalidArgumentError(
              "multiple matches for labels: many-to-one matching must be explicit "
              "(group_left/group_right)");
        }
      } else if (!mit->second.insert(metric).second) {
        return absl::InvalidArgumentError(
            "multiple matches for labels: grouping labels must ensure unique matches");
      }
      double l = swap ? o.v : x.v;
      double r = swap ? x.v : o.v;
      if (syn::IsComparison(b_.op)) {
        bool t = IsTrueCmp(b_.op, l, r);
        if (b_.return_bool) {
          out->push_back({metric, t ? 1.0 : 0.0});
        } else if (t) {
          out->push_back({metric, l});
        }
      } else {
        out->push_back({metric, Arith(b_.op, l, r)});
      }
    }
    return absl::OkStatus();
  }

  EvalContext* ctx_;
  const syn::BinaryOpExpr& b_;
  std::deque<std::string> sigs_;  // deque: views into it survive growth
  std::vector<bool> sig_done_;
  absl::flat_hash_map<uint64_t, uint32_t> result_ids_;
};

// ---------------------------------------------------------------------------------------------
// label_replace

// Go's regexp.Expand template syntax: $1, ${1}, $name, ${name}, $$.
void ExpandTemplate(const re2::RE2& re, std::string_view tmpl, const re2::StringPiece* groups,
                    int ngroups, std::string* out) {
  const auto& names = re.NamedCapturingGroups();
  auto group_value = [&](std::string_view name) -> std::string_view {
    if (name.empty())
      return {};
    bool numeric =
        std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
    int idx = -1;
    if (numeric) {
      if (name.size() > 9)
        return {};
      idx = std::stoi(std::string(name));
    } else {
      auto it = names.find(std::string(name));
      if (it == names.end())
        return {};
      idx = it->second;
    }
    if (idx < 0 || idx >= ngroups || groups[idx].data() == nullptr)
      return {};
    return std::string_view(groups[idx].data(), groups[idx].size());
  };
  auto is_name_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  size_t i = 0;
  while (i < tmpl.size()) {
    char c = tmpl[i];
    if (c != '$' || i + 1 >= tmpl.size()) {
      out->push_back(c);
      ++i;
      continue;
    }
    char n = tmpl[i + 1];
    if (n == '$') {
      out->push_back('$');
      i += 2;
      continue;
    }
    if (n == '{') {
      size_t close = tmpl.find('}', i + 2);
      std::string_view name =
          close == std::string_view::npos ? std::string_view() : tmpl.substr(i + 2, close - i - 2);
      bool ok = !name.empty() && std::all_of(name.begin(), name.end(), is_name_char);
      if (!ok) {  // malformed: Go copies the '$' literally
        out->push_back('$');
        ++i;
        continue;
      }
      out->append(group_value(name));
      i = close + 1;
      continue;
    }
    size_t j = i + 1;
    while (j < tmpl.size() && is_name_char(tmpl[j]))
      ++j;
    if (j == i + 1) {
      out->push_back('$');
      ++i;
      continue;
    }
    out->append(group_value(tmpl.substr(i + 1, j - i - 1)));
    i = j;
  }
}

absl::StatusOr<Value> EvalLabelReplace(EvalContext* ctx, const syn::LabelReplaceExpr& lr) {
  ASSIGN_OR_RETURN(Value in, EvalNode(ctx, *lr.inner));
  if (in.scalar)
    return absl::InvalidArgumentError("label_replace over a scalar");
  std::vector<int64_t> memo;
  const re2::RE2& re = *lr.re;
  int ngroups = re.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> groups(static_cast<size_t>(ngroups));
  auto map = [&](uint32_t id) -> uint32_t {
    if (memo.size() <= id)
      memo.resize(ctx->table.size(), -1);
    if (memo[id] >= 0)
      return static_cast<uint32_t>(memo[id]);
    const Labels& l = ctx->table.Get(id);
    std::string src(l.Get(lr.src));
    uint32_t res = id;
    if (re.Match(src, 0, src.size(), re2::RE2::ANCHOR_BOTH, groups.data(), ngroups)) {
      std::string val;
      ExpandTemplate(re, lr.replacement, groups.data(), ngroups, &val);
      std::vector<Label> out;
      for (const auto& lab : l) {
        if (lab.name != lr.dst)
          out.push_back(lab);
      }
      if (!val.empty())
        out.push_back(Label{lr.dst, std::move(val)});
      res = ctx->table.Intern(Labels(std::move(out)));
    }
    if (memo.size() <= id)
      memo.resize(ctx->table.size(), -1);
    memo[id] = res;
    return res;
  };
  for (auto& sv : in.steps) {
    for (auto& s : sv)
      s.series = map(s.series);
  }
  return in;
}

absl::StatusOr<Value> EvalNode(EvalContext* ctx, const syn::Expr& e) {
  if (const auto* r = std::get_if<syn::RangeAggregationExpr>(&e.node)) {
    return EvalRange(ctx, *r, std::nullopt);
  }
  if (const auto* v = std::get_if<syn::VectorAggregationExpr>(&e.node)) {
    return EvalVectorAgg(ctx, *v);
  }
  if (const auto* b = std::get_if<syn::BinaryOpExpr>(&e.node)) {
    BinOpEval ev(ctx, *b);
    return ev.Run();
  }
  if (const auto* l = std::get_if<syn::LiteralExpr>(&e.node)) {
    Value out;
    out.scalar = true;
    out.scalar_v = l->value;
    return out;
  }
  if (const auto* v = std::get_if<syn::VectorExpr>(&e.node)) {
    Value out;
    uint32_t id = ctx->table.Intern(Labels());
    out.steps.assign(ctx->steps_ns.size(), StepVec{StepSample{id, v->value}});
    return out;
  }
  if (const auto* lr = std::get_if<syn::LabelReplaceExpr>(&e.node)) {
    return EvalLabelReplace(ctx, *lr);
  }
  return absl::InvalidArgumentError("unexpected log selector in a metric query");
}

}  // namespace

absl::StatusOr<QueryResult> EvalMetricQuery(const syn::Expr& e, const LogQuery& q,
                                            EntrySource& source, const EngineOptions& opts,
                                            QueryStats* stats) {
  EvalContext ctx;
  ctx.q = &q;
  ctx.source = &source;
  ctx.opts = &opts;
  ctx.stats = stats;
  Interrupt interrupt(q);
  ctx.interrupt = &interrupt;
  if (q.instant) {
    ctx.steps_ns.push_back(q.end_ns);
  } else {
    if (q.step_ns <= 0) {
      return absl::InvalidArgumentError(
          "zero or negative query resolution step widths are not accepted. Try a positive "
          "integer");
    }
    if (q.end_ns < q.start_ns) {
      return absl::InvalidArgumentError("end timestamp must not be before or equal to start time");
    }
    if ((q.end_ns - q.start_ns) / q.step_ns > kMaxSteps) {
      return absl::InvalidArgumentError(
          "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
          "resolution (?step=XX)");
    }
    for (int64_t t = q.start_ns; t <= q.end_ns; t += q.step_ns)
      ctx.steps_ns.push_back(t);
  }
  if (ctx.steps_ns.empty())
    ctx.steps_ns.push_back(q.start_ns);
  ASSIGN_OR_RETURN(Value v, EvalNode(&ctx, e));

  QueryResult r;
  auto t_ms = [](int64_t ns) { return ns / 1000000; };
  if (v.scalar) {
    if (q.instant) {
      r.type = ResultType::kScalar;
      r.scalar = Point{t_ms(ctx.steps_ns[0]), v.scalar_v};
    } else {
      r.type = ResultType::kMatrix;
      Series s;
      for (int64_t t : ctx.steps_ns)
        s.points.push_back(Point{t_ms(t), v.scalar_v});
      r.matrix.push_back(std::move(s));
    }
    stats->total_entries_returned = static_cast<int64_t>(ctx.steps_ns.size());
    return r;
  }
  absl::flat_hash_map<uint32_t, size_t> index;
  const size_t max_series = opts.max_query_series > 0 ? static_cast<size_t>(opts.max_query_series)
                                                      : std::numeric_limits<size_t>::max();
  auto series_limit = [&]() {
    return absl::InvalidArgumentError(absl::StrFormat(
        "maximum of series (%d) reached for a single query", opts.max_query_series));
  };
  if (q.instant) {
    r.type = ResultType::kVector;
    for (const StepSample& s : v.steps[0]) {
      if (!index.try_emplace(s.series, 0).second)
        continue;
      if (index.size() > max_series)
        return series_limit();
      r.vector.push_back(Sample{ctx.table.Get(s.series), Point{t_ms(ctx.steps_ns[0]), s.v}});
    }
    stats->total_entries_returned = static_cast<int64_t>(r.vector.size());
    return r;
  }
  r.type = ResultType::kMatrix;
  for (size_t i = 0; i < v.steps.size(); ++i) {
    for (const StepSample& s : v.steps[i]) {
      auto [it, inserted] = index.try_emplace(s.series, r.matrix.size());
      if (inserted) {
        if (index.size() > max_series)
          return series_limit();
        r.matrix.push_back(Series{ctx.table.Get(s.series), {}});
      }
      auto& pts = r.matrix[it->second].points;
      // One point per series per step (a duplicate would come from a label collision).
      if (!pts.empty() && pts.back().t_ms == t_ms(ctx.steps_ns[i]))
        continue;
      pts.push_back(Point{t_ms(ctx.steps_ns[i]), s.v});
      stats->total_entries_returned++;
    }
  }
  std::sort(r.matrix.begin(), r.matrix.end(),
            [](const Series& a, const Series& b) { return a.metric < b.metric; });
  return r;
}

}  // namespace norn::logql_engine::internal
