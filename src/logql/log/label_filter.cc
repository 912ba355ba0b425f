#include "logql/log/label_filter.h"

#include <re2/re2.h>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "logql/log/go_conv.h"
#include "logql/log/ip.h"
#include "logql/log/labels_builder.h"

namespace norn::logql_log {

struct LabelMatcher::Impl {
  std::unique_ptr<RE2> re;
};

LabelMatcher::LabelMatcher(LabelMatcher&&) noexcept = default;
LabelMatcher& LabelMatcher::operator=(LabelMatcher&&) noexcept = default;
LabelMatcher::~LabelMatcher() = default;

absl::StatusOr<LabelMatcher> LabelMatcher::Create(std::string name, StringMatchType type,
                                                  std::string value) {
  LabelMatcher m;
  m.name_ = std::move(name);
  m.type_ = type;
  m.value_ = std::move(value);
  if (type == StringMatchType::kRegex || type == StringMatchType::kNotRegex) {
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_never_capture(true);
    opts.set_dot_nl(false);
    // Prometheus anchors label regexes: ^(?:re)$ (and RE2's FullMatch anchors too).
    m.impl_ = std::make_unique<Impl>();
    m.impl_->re = std::make_unique<RE2>("^(?:" + m.value_ + ")$", opts);
    if (!m.impl_->re->ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("error parsing regexp: ", m.impl_->re->error(), ": `", m.value_, "`"));
    }
  }
  return m;
}

bool LabelMatcher::Matches(std::string_view v) const {
  switch (type_) {
    case StringMatchType::kEqual: return v == value_;
    case StringMatchType::kNotEqual: return v != value_;
    case StringMatchType::kRegex:
      return RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *impl_->re);
    case StringMatchType::kNotRegex:
      return !RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *impl_->re);
  }
  return false;
}

namespace {

template <typename T>
bool Compare(CompareOp op, T a, T b) {
  switch (op) {
    case CompareOp::kEqual: return a == b;
    case CompareOp::kNotEqual: return a != b;
    case CompareOp::kGreater: return a > b;
    case CompareOp::kGreaterEqual: return a >= b;
    case CompareOp::kLess: return a < b;
    case CompareOp::kLessEqual: return a <= b;
  }
  return false;
}

class StringFilter : public LabelFilter {
 public:
  explicit StringFilter(LabelMatcher m) : m_(std::move(m)) {}
  bool Test(LabelsBuilder* lbs) override {
    if (m_.name() == kErrorLabel) return m_.Matches(lbs->GetErr());
    auto v = lbs->Get(m_.name());
    return m_.Matches(v ? *v : std::string_view());
  }
  std::vector<std::string> RequiredLabelNames() const override { return {m_.name()}; }

 private:
  LabelMatcher m_;
};

// Shared shape of the converting filters.
template <typename Conv>
class ConvertingFilter : public LabelFilter {
 public:
  ConvertingFilter(std::string name, Conv conv) : name_(std::move(name)), conv_(conv) {}
  bool Test(LabelsBuilder* lbs) override {
    if (lbs->HasErr()) return true;  // only string matchers filter errored entries
    auto v = lbs->Get(name_);
    if (!v) return false;
    err_.clear();
    bool result;
    if (!conv_(*v, &err_, &result)) {
      lbs->SetErr(kErrLabelFilter);
      lbs->SetErrorDetails(err_);
      return true;
    }
    return result;
  }
  std::vector<std::string> RequiredLabelNames() const override { return {name_}; }

 private:
  std::string name_;
  Conv conv_;
  std::string err_;
};

struct NumericConv {
  CompareOp op;
  double value;
  bool operator()(std::string_view v, std::string* err, bool* out) const {
    double d;
    if (!GoParseFloat(v, &d, err)) return false;
    *out = Compare(op, d, value);
    return true;
  }
};

struct DurationConv {
  CompareOp op;
  int64_t value;
  bool operator()(std::string_view v, std::string* err, bool* out) const {
    int64_t d;
    if (!GoParseDuration(v, &d, err)) return false;
    *out = Compare(op, d, value);
    return true;
  }
};

struct BytesConv {
  CompareOp op;
  uint64_t value;
  bool operator()(std::string_view v, std::string* err, bool* out) const {
    uint64_t d;
    if (!GoParseBytes(v, &d, err)) return false;
    *out = Compare(op, d, value);
    return true;
  }
};

class IpFilter : public LabelFilter {
 public:
  IpFilter(std::string name, bool negate, IpMatcher m)
      : name_(std::move(name)), negate_(negate), m_(std::move(m)) {}
  bool Test(LabelsBuilder* lbs) override {
    if (lbs->HasErr()) return true;
    auto v = lbs->Get(name_);
    if (!v) return false;
    return m_.MatchLine(*v) != negate_;
  }
  std::vector<std::string> RequiredLabelNames() const override { return {name_}; }

 private:
  std::string name_;
  bool negate_;
  IpMatcher m_;
};

class BinaryFilter : public LabelFilter {
 public:
  BinaryFilter(bool is_and, std::unique_ptr<LabelFilter> l, std::unique_ptr<LabelFilter> r)
      : and_(is_and), l_(std::move(l)), r_(std::move(r)) {}
  bool Test(LabelsBuilder* lbs) override {
    bool lok = l_->Test(lbs);
    if (!and_ && lok) return true;
    bool rok = r_->Test(lbs);
    return and_ ? (lok && rok) : (lok || rok);
  }
  std::vector<std::string> RequiredLabelNames() const override {
    auto a = l_->RequiredLabelNames();
    for (auto& n : r_->RequiredLabelNames()) a.push_back(std::move(n));
    return a;
  }

 private:
  bool and_;
  std::unique_ptr<LabelFilter> l_, r_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LabelFilter>> NewStringLabelFilter(std::string name,
                                                                  StringMatchType type,
                                                                  std::string value) {
  auto m = LabelMatcher::Create(std::move(name), type, std::move(value));
  if (!m.ok()) return m.status();
  return std::unique_ptr<LabelFilter>(new StringFilter(std::move(*m)));
}

std::unique_ptr<LabelFilter> NewNumericLabelFilter(std::string name, CompareOp op,
                                                   double value) {
  return std::make_unique<ConvertingFilter<NumericConv>>(std::move(name),
                                                         NumericConv{op, value});
}

std::unique_ptr<LabelFilter> NewDurationLabelFilter(std::string name, CompareOp op,
                                                    int64_t value_ns) {
  return std::make_unique<ConvertingFilter<DurationConv>>(std::move(name),
                                                          DurationConv{op, value_ns});
}

std::unique_ptr<LabelFilter> NewBytesLabelFilter(std::string name, CompareOp op,
                                                 uint64_t value) {
  return std::make_unique<ConvertingFilter<BytesConv>>(std::move(name), BytesConv{op, value});
}

absl::StatusOr<std::unique_ptr<LabelFilter>> NewIpLabelFilter(std::string name, bool negate,
                                                              std::string_view pattern) {
  auto m = IpMatcher::Parse(pattern);
  if (!m.ok()) return m.status();
  return std::unique_ptr<LabelFilter>(new IpFilter(std::move(name), negate, std::move(*m)));
}

std::unique_ptr<LabelFilter> NewAndLabelFilter(std::unique_ptr<LabelFilter> left,
                                               std::unique_ptr<LabelFilter> right) {
  return std::make_unique<BinaryFilter>(true, std::move(left), std::move(right));
}

std::unique_ptr<LabelFilter> NewOrLabelFilter(std::unique_ptr<LabelFilter> left,
                                              std::unique_ptr<LabelFilter> right) {
  return std::make_unique<BinaryFilter>(false, std::move(left), std::move(right));
}

}  // namespace norn::logql_log
