// Prometheus-style metrics: counters, gauges and histograms grouped into labelled families, kept
// in a Registry and rendered in the Prometheus text exposition format 0.0.4 for `/metrics`.
//
//   auto& requests = metrics::Registry::Default().Counter(
//       "loki_request_total", "Requests served.", {"method", "route", "status_code"});
//   metrics::Counter& ready_ok = requests.WithLabels({"GET", "ready", "200"});  // cache this
//   ready_ok.Inc();
//
// Ownership and lifetime: a Registry owns its families, a family owns its children. Neither is
// ever removed, so references returned by Registry::Counter/Gauge/Histogram and by
// WithLabels()/Get() stay valid (and never move) until the Registry is destroyed. The default
// registry is never destroyed.
//
// Thread safety: everything here is thread-safe. Counter::Inc, Gauge updates and
// Histogram::Observe are lock-free atomics (no allocation), so hot paths should look a child up
// once and keep the reference. WithLabels() takes a family-level reader lock for lookup and a
// writer lock only when it creates a child. Render() holds no lock while running collectors.
//
// Misuse that can only come from code (invalid metric or label names, wrong label count,
// conflicting re-registration, unsorted buckets) aborts the process with a message. Label
// *values* may be anything; they are escaped on output.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace norn::metrics {

// The Content-Type of Registry::Render() output.
constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType : uint8_t { kCounter, kGauge, kHistogram, kUntyped };

// "counter", "gauge", "histogram", "untyped": the word used on `# TYPE` lines.
std::string_view MetricTypeName(MetricType type);

// Prometheus' default histogram buckets: .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10.
std::vector<double> DefBuckets();
// `count` buckets: start, start*factor, start*factor^2, ... (start > 0, factor > 1, count >= 1).
std::vector<double> ExponentialBuckets(double start, double factor, int count);
// `count` buckets: start, start+width, start+2*width, ... (width > 0, count >= 1).
std::vector<double> LinearBuckets(double start, double width, int count);

// Formats a sample value the way Prometheus does: "+Inf", "-Inf", "NaN", integers without an
// exponent when exactly representable (|v| < 2^53), otherwise the shortest string that parses
// back to the same double.
std::string FormatValue(double value);

// A monotonically increasing value. Inc() is lock-free.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Adds `v`. Negative and NaN increments are ignored (counters never go down). Whole-number
  // increments take a single atomic add; fractional ones a CAS loop.
  void Inc(double v = 1);
  double Value() const;

 private:
  std::atomic<uint64_t> whole_{0};
  std::atomic<double> fraction_{0};
};

// A value that can go up and down. All operations are lock-free.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Inc(double v = 1) { Add(v); }
  void Dec(double v = 1) { Add(-v); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  void Sub(double v) { Add(-v); }
  // Sets the gauge to the current Unix time in seconds (fractional).
  void SetToCurrentTime();
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into buckets with inclusive upper bounds (`le`), plus their sum.
// Observe() is lock-free: one atomic add on the bucket and a CAS loop on the sum.
class Histogram {
 public:
  // `bounds` must be strictly increasing; a trailing +Inf is implied (and dropped if given).
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double v);

  // A point-in-time copy. `cumulative_counts[i]` counts observations <= bounds[i]; the last
  // element (one past bounds) is the +Inf bucket and equals `count`. Concurrent observations
  // may make `sum` and `count` disagree by the in-flight ones.
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative_counts;
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Collect() const;

  uint64_t Count() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  // Non-cumulative per-bucket counts; index bounds_.size() is the +Inf bucket.
  const std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
};

namespace internal {

// Transparent hash/equality so children can be looked up by a span of string_views without
// building a key.
struct LabelValuesHash {
  using is_transparent = void;
  size_t operator()(std::span<const std::string_view> values) const;
  size_t operator()(const std::vector<std::string>& values) const;
};
struct LabelValuesEq {
  using is_transparent = void;
  bool operator()(const std::vector<std::string>& a, const std::vector<std::string>& b) const {
    return a == b;
  }
  bool operator()(const std::vector<std::string>& a, std::span<const std::string_view> b) const;
  bool operator()(std::span<const std::string_view> a, const std::vector<std::string>& b) const {
    return (*this)(b, a);
  }
};

}  // namespace internal

// Name, help, type and label names shared by a family's children. Created only by Registry.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends this family in exposition format (HELP, TYPE, samples sorted by label values).
  // Writes nothing if the family has no children yet.
  virtual void Render(std::string* out) const = 0;

 protected:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names);

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
};

// A family of children of type T (Counter, Gauge or Histogram), one per distinct tuple of label
// values. Thread-safe.
template <typename T>
class Family final : public FamilyBase {
 public:
  // Returns the child for these label values (one per label name, in order), creating it on
  // first use. The reference is valid for the registry's lifetime.
  T& WithLabels(std::span<const std::string_view> values);
  T& WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(std::span<const std::string_view>(values.begin(), values.size()));
  }
  T& WithLabels(std::span<const std::string> values);
  // The single child of a family without labels.
  T& Get();

  // Histogram families only: the bucket bounds given at registration (without +Inf).
  const std::vector<double>& bounds() const { return bounds_; }

  void Render(std::string* out) const override;

 private:
  friend class Registry;
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::vector<double> bounds);

  std::unique_ptr<T> NewChild() const;

  const std::vector<double> bounds_;  // Histogram only.
  T* unlabelled_ = nullptr;           // Get()'s child when there are no labels; never changes.
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::vector<std::string>, std::unique_ptr<T>, internal::LabelValuesHash,
                      internal::LabelValuesEq>
      children_ ABSL_GUARDED_BY(mu_);
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// What a collector writes into at scrape time: families of counter, gauge or untyped samples
// computed on the spot (process stats, queue lengths read from another object, ...).
// Samples of one family are rendered sorted by label values. Not thread-safe; each Render()
// call uses its own Exposition.
class Exposition {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;  // (name, value) pairs.
  struct Sample {
    Labels labels;
    double value = 0;
  };

  Exposition() = default;
  Exposition(const Exposition&) = delete;
  Exposition& operator=(const Exposition&) = delete;

  // Adds samples to family `name`, creating it on first use. `type` must be kCounter, kGauge or
  // kUntyped and must match earlier calls for the same name.
  void AddFamily(std::string_view name, std::string_view help, MetricType type,
                 std::vector<Sample> samples);
  void AddCounter(std::string_view name, std::string_view help, double value, Labels labels = {});
  void AddGauge(std::string_view name, std::string_view help, double value, Labels labels = {});

 private:
  friend class Registry;
  struct CollectedFamily {
    std::string help;
    MetricType type;
    std::vector<Sample> samples;
  };
  void Render(const std::string& name, std::string* out) const;

  std::map<std::string, CollectedFamily, std::less<>> families_;
};

// A set of metric families plus scrape-time collectors. Thread-safe.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The process-wide registry served on /metrics. Never destroyed.
  static Registry& Default();

  // Registers (or returns the existing) family. Re-registering a name with the same type and
  // label names (and, for histograms, the same buckets) returns the same family; the first help
  // text wins. A conflicting re-registration or an invalid name aborts.
  CounterFamily& Counter(std::string name, std::string help,
                         std::vector<std::string> label_names = {});
  GaugeFamily& Gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  HistogramFamily& Histogram(std::string name, std::string help,
                             std::vector<std::string> label_names = {},
                             std::vector<double> buckets = DefBuckets());

  // Adds a function run on every Render() to emit values computed at scrape time. It runs
  // without registry locks held (it may register metrics) and must be thread-safe if Render()
  // is called concurrently. A collected family whose name is also a registered family is
  // dropped (the registered one wins).
  void AddCollector(std::function<void(Exposition&)> collector);

  // The whole registry in text exposition format 0.0.4 (see kContentType), families sorted by
  // name. Families without children are omitted.
  std::string Render() const;

 private:
  FamilyBase* FindOrAdd(std::string name, std::string help, MetricType type,
                        std::vector<std::string> label_names, std::vector<double> bounds);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<const std::function<void(Exposition&)>>> collectors_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace norn::metrics
