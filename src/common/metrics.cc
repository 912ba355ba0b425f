#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace norn::metrics {
namespace {

// Debian's Abseil is built with its own absl::string_view (not an alias of std::string_view),
// so std::string_view arguments to absl string functions need an explicit conversion.
absl::string_view Sv(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// Programmer errors (bad names, conflicting registrations): print and abort.
[[noreturn]] void Fatal(std::string_view msg) {
  std::fprintf(stderr, "norn::metrics: %.*s\n", static_cast<int>(msg.size()), msg.data());
  std::fflush(stderr);
  std::abort();
}

bool IsValidMetricName(std::string_view name) {
  if (name.empty())
    return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
      return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__"))
    return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
      return false;
  }
  return true;
}

void CheckNames(std::string_view name, const std::vector<std::string>& label_names,
                MetricType type) {
  if (!IsValidMetricName(name))
    Fatal(absl::StrCat("invalid metric name \"", Sv(name), "\""));
  for (size_t i = 0; i < label_names.size(); ++i) {
    const std::string& l = label_names[i];
    if (!IsValidLabelName(l)) {
      Fatal(absl::StrCat("metric ", Sv(name), ": invalid label name \"", l, "\""));
    }
    if (type == MetricType::kHistogram && l == "le") {
      Fatal(absl::StrCat("histogram ", Sv(name), ": label name \"le\" is reserved"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (label_names[j] == l)
        Fatal(absl::StrCat("metric ", Sv(name), ": duplicate label ", l));
    }
  }
}

// Drops a trailing +Inf and checks the rest is strictly increasing and NaN-free.
std::vector<double> NormalizeBounds(std::string_view name, std::vector<double> bounds) {
  if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity()) {
    bounds.pop_back();
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (std::isnan(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
      Fatal(absl::StrCat("histogram ", Sv(name), ": buckets must be strictly increasing"));
    }
  }
  return bounds;
}

void AppendEscaped(std::string* out, std::string_view s, bool escape_quote) {
  for (const char c : s) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '"':
        if (escape_quote) {
          out->append("\\\"");
        } else {
          out->push_back(c);
        }
        break;
      default:
        out->push_back(c);
    }
  }
}

void AppendValue(std::string* out, double value) {
  if (std::isnan(value)) {
    out->append("NaN");
  } else if (std::isinf(value)) {
    out->append(value > 0 ? "+Inf" : "-Inf");
  } else if (std::trunc(value) == value && std::fabs(value) < 9007199254740992.0) {
    absl::StrAppend(out, static_cast<int64_t>(value));
  } else {
    char buf[64];
    // Without a format argument, to_chars emits the shortest round-trip representation.
    const auto res = std::to_chars(buf, buf + sizeof(buf), value);
    out->append(buf, res.ptr);
  }
}

void AppendHeader(std::string* out, std::string_view name, std::string_view help, MetricType type) {
  if (!help.empty()) {
    absl::StrAppend(out, "# HELP ", Sv(name), " ");
    AppendEscaped(out, help, /*escape_quote=*/false);
    out->push_back('\n');
  }
  absl::StrAppend(out, "# TYPE ", Sv(name), " ", Sv(MetricTypeName(type)), "\n");
}

// Writes `name suffix {labels..., extra_name="extra_value"} value\n`. `names` and `values` are
// parallel; the extra label (histogram `le`) is skipped when extra_name is empty.
template <typename Names, typename Values>
void AppendSample(std::string* out, std::string_view name, std::string_view suffix,
                  const Names& names, const Values& values, std::string_view extra_name,
                  std::string_view extra_value, double value) {
  out->append(name);
  out->append(suffix);
  const size_t n = std::size(names);
  if (n > 0 || !extra_name.empty()) {
    out->push_back('{');
    bool first = true;
    for (size_t i = 0; i < n; ++i) {
      if (!first)
        out->push_back(',');
      first = false;
      out->append(names[i]);
      out->append("=\"");
      AppendEscaped(out, values[i], /*escape_quote=*/true);
      out->push_back('"');
    }
    if (!extra_name.empty()) {
      if (!first)
        out->push_back(',');
      absl::StrAppend(out, Sv(extra_name), "=\"", Sv(extra_value), "\"");
    }
    out->push_back('}');
  }
  out->push_back(' ');
  AppendValue(out, value);
  out->push_back('\n');
}

// Children of a family, sorted by label values, for deterministic output.
template <typename T>
using SortedChildren = std::vector<std::pair<const std::vector<std::string>*, const T*>>;

template <typename T>
void SortChildren(SortedChildren<T>* children) {
  std::sort(children->begin(), children->end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
}

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kUntyped:
      return "untyped";
  }
  return "untyped";
}

std::vector<double> DefBuckets() {
  return {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  if (!(start > 0) || !(factor > 1) || count < 1) {
    Fatal(absl::StrCat("ExponentialBuckets(", start, ", ", factor, ", ", count,
                       "): need start > 0, factor > 1, count >= 1"));
  }
  std::vector<double> out;
  out.reserve(count);
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor)
    out.push_back(v);
  return out;
}

std::vector<double> LinearBuckets(double start, double width, int count) {
  if (!(width > 0) || count < 1) {
    Fatal(absl::StrCat("LinearBuckets(", start, ", ", width, ", ", count,
                       "): need width > 0, count >= 1"));
  }
  std::vector<double> out;
  out.reserve(count);
  for (int i = 0; i < count; ++i)
    out.push_back(start + width * i);
  return out;
}

std::string FormatValue(double value) {
  std::string out;
  AppendValue(&out, value);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Counter, Gauge, Histogram

void Counter::Inc(double v) {
  if (!(v > 0))
    return;  // Ignores 0, negatives and NaN.
  // Whole increments below 2^53 stay exact in a uint64 and need no CAS loop.
  if (v < 9007199254740992.0 && std::trunc(v) == v) {
    whole_.fetch_add(static_cast<uint64_t>(v), std::memory_order_relaxed);
  } else {
    fraction_.fetch_add(v, std::memory_order_relaxed);
  }
}

double Counter::Value() const {
  return static_cast<double>(whole_.load(std::memory_order_relaxed)) +
         fraction_.load(std::memory_order_relaxed);
}

void Gauge::SetToCurrentTime() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  Set(std::chrono::duration<double>(now).count());
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(NormalizeBounds("<unnamed>", std::move(bounds))),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double v) {
  // First bound >= v, i.e. the smallest `le` bucket that holds v. NaN goes to +Inf.
  size_t i = bounds_.size();
  if (!std::isnan(v)) {
    i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  }
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

uint64_t Histogram::Count() const {
  uint64_t n = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i)
    n += buckets_[i].load(std::memory_order_relaxed);
  return n;
}

Histogram::Snapshot Histogram::Collect() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative_counts.resize(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative_counts[i] = running;
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Families

namespace internal {

size_t LabelValuesHash::operator()(std::span<const std::string_view> values) const {
  size_t h = values.size();
  for (std::string_view v : values)
    h = absl::HashOf(h, v);
  return h;
}

size_t LabelValuesHash::operator()(const std::vector<std::string>& values) const {
  size_t h = values.size();
  for (std::string_view v : values)
    h = absl::HashOf(h, v);
  return h;
}

bool LabelValuesEq::operator()(const std::vector<std::string>& a,
                               std::span<const std::string_view> b) const {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i])
      return false;
  }
  return true;
}

}  // namespace internal

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type,
                       std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)) {}

template <typename T>
Family<T>::Family(std::string name, std::string help, MetricType type,
                  std::vector<std::string> label_names, std::vector<double> bounds)
    : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
      bounds_(std::move(bounds)) {
  if (this->label_names().empty())
    unlabelled_ = &WithLabels(std::span<const std::string_view>());
}

template <typename T>
std::unique_ptr<T> Family<T>::NewChild() const {
  if constexpr (std::is_same_v<T, Histogram>) {
    return std::make_unique<Histogram>(bounds_);
  } else {
    return std::make_unique<T>();
  }
}

template <typename T>
T& Family<T>::WithLabels(std::span<const std::string_view> values) {
  if (values.size() != label_names().size()) {
    Fatal(absl::StrCat("metric ", name(), ": got ", values.size(), " label values for ",
                       label_names().size(), " label names (", absl::StrJoin(label_names(), ","),
                       ")"));
  }
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = children_.find(values);
    if (it != children_.end())
      return *it->second;
  }
  absl::MutexLock lock(&mu_);
  auto it = children_.find(values);
  if (it != children_.end())
    return *it->second;
  std::vector<std::string> key(values.begin(), values.end());
  auto [inserted, ok] = children_.emplace(std::move(key), NewChild());
  return *inserted->second;
}

template <typename T>
T& Family<T>::WithLabels(std::span<const std::string> values) {
  // Label counts are small; a stack copy of views avoids a heap key for lookups.
  constexpr size_t kInline = 16;
  if (values.size() <= kInline) {
    std::string_view views[kInline];
    for (size_t i = 0; i < values.size(); ++i)
      views[i] = values[i];
    return WithLabels(std::span<const std::string_view>(views, values.size()));
  }
  std::vector<std::string_view> views(values.begin(), values.end());
  return WithLabels(std::span<const std::string_view>(views));
}

template <typename T>
T& Family<T>::Get() {
  if (unlabelled_ == nullptr) {
    Fatal(absl::StrCat("metric ", name(), ": Get() on a family with labels (",
                       absl::StrJoin(label_names(), ","), ")"));
  }
  return *unlabelled_;
}

template <typename T>
void Family<T>::Render(std::string* out) const {
  SortedChildren<T> children;
  {
    absl::ReaderMutexLock lock(&mu_);
    children.reserve(children_.size());
    for (const auto& [key, child] : children_)
      children.emplace_back(&key, child.get());
  }
  // Keys and children are never removed, so the pointers stay valid without the lock.
  if (children.empty())
    return;
  SortChildren(&children);
  AppendHeader(out, name(), help(), type());
  for (const auto& [values, child] : children) {
    if constexpr (std::is_same_v<T, Histogram>) {
      const Histogram::Snapshot s = child->Collect();
      for (size_t i = 0; i < s.cumulative_counts.size(); ++i) {
        const std::string le = i < s.bounds.size() ? FormatValue(s.bounds[i]) : "+Inf";
        AppendSample(out, name(), "_bucket", label_names(), *values, "le", le,
                     static_cast<double>(s.cumulative_counts[i]));
      }
      AppendSample(out, name(), "_sum", label_names(), *values, "", "", s.sum);
      AppendSample(out, name(), "_count", label_names(), *values, "", "",
                   static_cast<double>(s.count));
    } else {
      AppendSample(out, name(), "", label_names(), *values, "", "", child->Value());
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---------------------------------------------------------------------------------------------
// Exposition

void Exposition::AddFamily(std::string_view name, std::string_view help, MetricType type,
                           std::vector<Sample> samples) {
  if (type == MetricType::kHistogram) {
    Fatal(
        absl::StrCat("collector family ", Sv(name), ": only counter, gauge and untyped supported"));
  }
  if (!IsValidMetricName(name))
    Fatal(absl::StrCat("invalid metric name \"", Sv(name), "\""));
  for (const Sample& s : samples) {
    for (const auto& [label, value] : s.labels) {
      if (!IsValidLabelName(label)) {
        Fatal(absl::StrCat("metric ", Sv(name), ": invalid label name \"", label, "\""));
      }
    }
  }
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), CollectedFamily{std::string(help), type, {}}).first;
  } else if (it->second.type != type) {
    Fatal(absl::StrCat("collector family ", Sv(name), " emitted with two types"));
  }
  auto& dst = it->second.samples;
  dst.insert(dst.end(), std::make_move_iterator(samples.begin()),
             std::make_move_iterator(samples.end()));
}

void Exposition::AddCounter(std::string_view name, std::string_view help, double value,
                            Labels labels) {
  std::vector<Sample> samples;
  samples.push_back(Sample{std::move(labels), value});
  AddFamily(name, help, MetricType::kCounter, std::move(samples));
}

void Exposition::AddGauge(std::string_view name, std::string_view help, double value,
                          Labels labels) {
  std::vector<Sample> samples;
  samples.push_back(Sample{std::move(labels), value});
  AddFamily(name, help, MetricType::kGauge, std::move(samples));
}

void Exposition::Render(const std::string& name, std::string* out) const {
  const CollectedFamily& f = families_.find(name)->second;
  if (f.samples.empty())
    return;
  std::vector<const Sample*> sorted;
  sorted.reserve(f.samples.size());
  for (const Sample& s : f.samples)
    sorted.push_back(&s);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Sample* a, const Sample* b) { return a->labels < b->labels; });
  AppendHeader(out, name, f.help, f.type);
  std::vector<std::string_view> names;
  std::vector<std::string_view> values;
  for (const Sample* s : sorted) {
    names.clear();
    values.clear();
    for (const auto& [label, value] : s->labels) {
      names.push_back(label);
      values.push_back(value);
    }
    AppendSample(out, name, "", names, values, "", "", s->value);
  }
}

// ---------------------------------------------------------------------------------------------
// Registry

Registry::Registry() = default;
Registry::~Registry() = default;

Registry& Registry::Default() {
  // Leaked on purpose: metrics may still be updated by threads running during static
  // destruction.
  static Registry* const registry = new Registry();
  return *registry;
}

FamilyBase* Registry::FindOrAdd(std::string name, std::string help, MetricType type,
                                std::vector<std::string> label_names, std::vector<double> bounds) {
  CheckNames(name, label_names, type);
  if (type == MetricType::kHistogram)
    bounds = NormalizeBounds(name, std::move(bounds));
  absl::MutexLock lock(&mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    FamilyBase* f = it->second.get();
    bool same = f->type() == type && f->label_names() == label_names;
    if (same && type == MetricType::kHistogram) {
      same = static_cast<HistogramFamily*>(f)->bounds() == bounds;
    }
    if (!same) {
      Fatal(absl::StrCat("conflicting registration of metric ", name, ": was ",
                         Sv(MetricTypeName(f->type())), " {", absl::StrJoin(f->label_names(), ","),
                         "}, now ", Sv(MetricTypeName(type)), " {", absl::StrJoin(label_names, ","),
                         "}"));
    }
    return f;
  }
  std::unique_ptr<FamilyBase> family;
  switch (type) {
    case MetricType::kCounter:
      family.reset(new CounterFamily(name, std::move(help), type, std::move(label_names), {}));
      break;
    case MetricType::kGauge:
      family.reset(new GaugeFamily(name, std::move(help), type, std::move(label_names), {}));
      break;
    case MetricType::kHistogram:
      family.reset(new HistogramFamily(name, std::move(help), type, std::move(label_names),
                                       std::move(bounds)));
      break;
    case MetricType::kUntyped:
      Fatal("untyped families cannot be registered");
  }
  FamilyBase* raw = family.get();
  families_.emplace(std::move(name), std::move(family));
  return raw;
}

CounterFamily& Registry::Counter(std::string name, std::string help,
                                 std::vector<std::string> label_names) {
  return *static_cast<CounterFamily*>(FindOrAdd(std::move(name), std::move(help),
                                                MetricType::kCounter, std::move(label_names), {}));
}

GaugeFamily& Registry::Gauge(std::string name, std::string help,
                             std::vector<std::string> label_names) {
  return *static_cast<GaugeFamily*>(
      FindOrAdd(std::move(name), std::move(help), MetricType::kGauge, std::move(label_names), {}));
}

HistogramFamily& Registry::Histogram(std::string name, std::string help,
                                     std::vector<std::string> label_names,
                                     std::vector<double> buckets) {
  return *static_cast<HistogramFamily*>(FindOrAdd(std::move(name), std::move(help),
                                                  MetricType::kHistogram, std::move(label_names),
                                                  std::move(buckets)));
}

void Registry::AddCollector(std::function<void(Exposition&)> collector) {
  auto shared = std::make_shared<const std::function<void(Exposition&)>>(std::move(collector));
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(shared));
}

std::string Registry::Render() const {
  std::vector<std::pair<std::string_view, const FamilyBase*>> families;
  std::vector<std::shared_ptr<const std::function<void(Exposition&)>>> collectors;
  {
    absl::MutexLock lock(&mu_);
    families.reserve(families_.size());
    // Families are never removed, so the name views and pointers outlive the lock.
    for (const auto& [name, family] : families_)
      families.emplace_back(name, family.get());
    collectors = collectors_;
  }
  Exposition collected;
  for (const auto& collector : collectors)
    (*collector)(collected);

  // Merge the two name-sorted lists; a registered family shadows a collected one.
  std::string out;
  auto fit = families.begin();
  auto cit = collected.families_.begin();
  while (fit != families.end() || cit != collected.families_.end()) {
    if (cit == collected.families_.end() ||
        (fit != families.end() && fit->first <= std::string_view(cit->first))) {
      if (cit != collected.families_.end() && fit->first == cit->first)
        ++cit;
      fit->second->Render(&out);
      ++fit;
    } else {
      collected.Render(cit->first, &out);
      ++cit;
    }
  }
  return out;
}

}  // namespace norn::metrics
