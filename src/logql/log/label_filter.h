// Label filters (`| status >= 500`, `| level=~"warn|error"`, `| duration > 1s`,
// `| size < 10KB`, `| addr = ip("10.0.0.0/8")`, `and` / `or` / `,` composition) with Loki's
// rules:
//  * string matchers (=, !=, =~, !~) compare the label value ("" when absent; regexes are fully
//    anchored); on `__error__` they see the error, so `| __error__=""` drops errored entries;
//  * numeric / duration / bytes / ip filters let an entry that already has an error pass
//    (only string matchers filter errors), drop it when the label is absent, and when the value
//    does not convert set __error__="LabelFilterErr" with Go's conversion message in
//    __error_details__ and keep the entry;
//  * `a and b` evaluates both sides; `a or b` stops at the first true side.
//
// Immutable after construction apart from scratch state; not thread-safe (see stage.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "logql/log/stage.h"

namespace norn::logql_log {

enum class StringMatchType { kEqual, kNotEqual, kRegex, kNotRegex };
enum class CompareOp { kEqual, kNotEqual, kGreater, kGreaterEqual, kLess, kLessEqual };

// A label filter is a Stage (drops when false) with a side-effecting test.
class LabelFilter : public Stage {
 public:
  // Evaluates the filter; may set an error label.
  virtual bool Test(LabelsBuilder* lbs) = 0;
  bool Process(int64_t, std::string_view*, LabelsBuilder* lbs) override { return Test(lbs); }
};

// A prometheus-style label matcher (used by label filters, drop/keep with matchers).
class LabelMatcher {
 public:
  static absl::StatusOr<LabelMatcher> Create(std::string name, StringMatchType type,
                                             std::string value);
  LabelMatcher(LabelMatcher&&) noexcept;
  LabelMatcher& operator=(LabelMatcher&&) noexcept;
  ~LabelMatcher();
  const std::string& name() const { return name_; }
  bool Matches(std::string_view value) const;

 private:
  LabelMatcher() = default;
  struct Impl;
  std::string name_;
  StringMatchType type_ = StringMatchType::kEqual;
  std::string value_;
  std::unique_ptr<Impl> impl_;
};

absl::StatusOr<std::unique_ptr<LabelFilter>> NewStringLabelFilter(std::string name,
                                                                  StringMatchType type,
                                                                  std::string value);
std::unique_ptr<LabelFilter> NewNumericLabelFilter(std::string name, CompareOp op, double value);
std::unique_ptr<LabelFilter> NewDurationLabelFilter(std::string name, CompareOp op,
                                                    int64_t value_ns);
std::unique_ptr<LabelFilter> NewBytesLabelFilter(std::string name, CompareOp op,
                                                 uint64_t value);
// `name = ip("...")` / `name != ip("...")`. Errors on an invalid pattern.
absl::StatusOr<std::unique_ptr<LabelFilter>> NewIpLabelFilter(std::string name, bool negate,
                                                              std::string_view pattern);
std::unique_ptr<LabelFilter> NewAndLabelFilter(std::unique_ptr<LabelFilter> left,
                                               std::unique_ptr<LabelFilter> right);
std::unique_ptr<LabelFilter> NewOrLabelFilter(std::unique_ptr<LabelFilter> left,
                                              std::unique_ptr<LabelFilter> right);

}  // namespace norn::logql_log
