#include "logql/log/line_filter.h"

#include <algorithm>

#include <re2/re2.h>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "logql/log/ip.h"
#include "logql/log/pattern.h"
#include "logql/log/regex_literals.h"
#include "logql/log/substring.h"

namespace norn::logql_log {
namespace {

// Appends `needles` as one group (a line holds at least one of them), unless it says
// nothing: no needles, or an empty one (every line contains "").
void AppendNeedleGroup(const std::vector<Substring>& needles,
                       std::vector<std::vector<Substring>>* groups) {
  if (needles.empty())
    return;
  for (const Substring& s : needles) {
    if (s.needle().empty())
      return;
  }
  groups->push_back(needles);
}

class TrueFilter : public LineFilter {
 public:
  bool Matches(std::string_view) const override { return true; }
};

class ExistsFilter : public LineFilter {
 public:
  bool Matches(std::string_view line) const override { return !line.empty(); }
};

// Line contains any of the needles (one needle: plain `|=`).
class ContainsAnyFilter : public LineFilter {
 public:
  explicit ContainsAnyFilter(std::vector<Substring> needles) : needles_(std::move(needles)) {}
  bool Matches(std::string_view line) const override {
    for (const Substring& s : needles_) {
      if (s.In(line)) return true;
    }
    return false;
  }
  void CollectRequired(std::vector<std::string>* out) const override {
    if (needles_.size() == 1 && !needles_[0].case_insensitive() && !needles_[0].needle().empty()) {
      out->push_back(needles_[0].needle());
    }
  }
  void CollectNeedleGroups(std::vector<std::vector<Substring>>* groups) const override {
    AppendNeedleGroup(needles_, groups);
  }

 private:
  std::vector<Substring> needles_;
};

class NotFilter : public LineFilter {
 public:
  explicit NotFilter(std::unique_ptr<LineFilter> f) : f_(std::move(f)) {}
  bool Matches(std::string_view line) const override { return !f_->Matches(line); }

 private:
  std::unique_ptr<LineFilter> f_;
};

class AndFilter : public LineFilter {
 public:
  explicit AndFilter(std::vector<std::unique_ptr<LineFilter>> fs) : fs_(std::move(fs)) {}
  bool Matches(std::string_view line) const override {
    for (const auto& f : fs_) {
      if (!f->Matches(line)) return false;
    }
    return true;
  }
  void CollectRequired(std::vector<std::string>* out) const override {
    for (const auto& f : fs_) f->CollectRequired(out);
  }
  void CollectNeedleGroups(std::vector<std::vector<Substring>>* groups) const override {
    for (const auto& f : fs_)
      f->CollectNeedleGroups(groups);
  }

 private:
  std::vector<std::unique_ptr<LineFilter>> fs_;
};

class OrFilter : public LineFilter {
 public:
  explicit OrFilter(std::vector<std::unique_ptr<LineFilter>> fs) : fs_(std::move(fs)) {}
  bool Matches(std::string_view line) const override {
    for (const auto& f : fs_) {
      if (f->Matches(line)) return true;
    }
    return false;
  }
  void CollectRequired(std::vector<std::string>* out) const override {
    if (fs_.size() == 1) fs_[0]->CollectRequired(out);
  }
  void CollectNeedleGroups(std::vector<std::vector<Substring>>* groups) const override {
    if (fs_.size() == 1)
      fs_[0]->CollectNeedleGroups(groups);
  }

 private:
  std::vector<std::unique_ptr<LineFilter>> fs_;
};

class RegexFilter : public LineFilter {
 public:
  // A line can only match if it contains one of `prefilter` (when not empty); every matching
  // line contains `required` (when not empty).
  RegexFilter(std::unique_ptr<RE2> re, std::vector<Substring> prefilter, std::string required)
      : re_(std::move(re)), prefilter_(std::move(prefilter)), required_(std::move(required)) {}
  bool Matches(std::string_view line) const override {
    if (!prefilter_.empty()) {
      bool any = false;
      for (const Substring& s : prefilter_) {
        if (s.In(line)) {
          any = true;
          break;
        }
      }
      if (!any) return false;
    }
    return RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), *re_);
  }
  void CollectRequired(std::vector<std::string>* out) const override {
    if (!required_.empty()) out->push_back(required_);
  }
  void CollectNeedleGroups(std::vector<std::vector<Substring>>* groups) const override {
    AppendNeedleGroup(prefilter_, groups);
  }

 private:
  std::unique_ptr<RE2> re_;
  std::vector<Substring> prefilter_;
  std::string required_;
};

class PatternFilter : public LineFilter {
 public:
  PatternFilter(Pattern p, bool negate) : p_(std::move(p)), negate_(negate) {}
  bool Matches(std::string_view line) const override { return p_.Test(line) != negate_; }
  void CollectRequired(std::vector<std::string>* out) const override {
    if (negate_) return;
    for (auto& l : p_.Literals()) out->push_back(l);
  }
  void CollectNeedleGroups(std::vector<std::vector<Substring>>* groups) const override {
    if (negate_)
      return;
    for (auto& l : p_.Literals())
      AppendNeedleGroup({Substring(l)}, groups);
  }

 private:
  Pattern p_;
  bool negate_;
};

class IpFilter : public LineFilter {
 public:
  IpFilter(IpMatcher m, bool negate) : m_(std::move(m)), negate_(negate) {}
  bool Matches(std::string_view line) const override { return m_.MatchLine(line) != negate_; }

 private:
  IpMatcher m_;
  bool negate_;
};

absl::StatusOr<std::unique_ptr<LineFilter>> NewRegexLineFilter(std::string_view re) {
  // Loki's simplifications of "match anything" regexes.
  if (re.empty() || re == ".*" || re == "(.*)" || re == "(?:.*)") {
    return std::unique_ptr<LineFilter>(new TrueFilter());
  }
  if (re == ".+" || re == "(.+)" || re == "(?:.+)") {
    return std::unique_ptr<LineFilter>(new ExistsFilter());
  }
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_never_capture(true);
  opts.set_max_mem(64 << 20);
  auto compiled = std::make_unique<RE2>(re2::StringPiece(re.data(), re.size()), opts);
  if (!compiled->ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("error parsing regexp: ", compiled->error(), ": `", AV(re), "`"));
  }
  RegexLiteralInfo info = AnalyzeRegex(re);
  if (info.all_pure()) {
    std::vector<Substring> needles;
    for (const auto& b : info.branches) {
      if (b.literal.empty()) return std::unique_ptr<LineFilter>(new TrueFilter());
      needles.emplace_back(b.literal, b.case_insensitive);
    }
    return std::unique_ptr<LineFilter>(new ContainsAnyFilter(std::move(needles)));
  }
  // The prefilter: per branch its set of alternatives when it has one (more selective: a line
  // with `/api/` but neither `/api/orders/` nor `/api/cart/` never reaches RE2), else its
  // literal.
  std::vector<Substring> prefilter;
  if (info.prefilter_possible()) {
    for (const auto& b : info.branches) {
      if (b.alternatives.empty()) {
        prefilter.emplace_back(b.literal, b.case_insensitive);
      } else {
        for (const auto& a : b.alternatives) prefilter.emplace_back(a, false);
      }
    }
  }
  // Block skipping wants one substring every matching line holds.
  std::string required;
  if (info.branches.size() == 1 && !info.branches[0].case_insensitive) {
    required = info.branches[0].literal;
  }
  return std::unique_ptr<LineFilter>(
      new RegexFilter(std::move(compiled), std::move(prefilter), std::move(required)));
}

absl::StatusOr<std::unique_ptr<LineFilter>> NewPositive(LineMatchType type,
                                                        std::string_view match) {
  switch (type) {
    case LineMatchType::kContains:
    case LineMatchType::kNotContains: {
      if (match.empty()) return std::unique_ptr<LineFilter>(new TrueFilter());
      std::vector<Substring> n;
      n.emplace_back(std::string(match));
      return std::unique_ptr<LineFilter>(new ContainsAnyFilter(std::move(n)));
    }
    case LineMatchType::kRegex:
    case LineMatchType::kNotRegex:
      return NewRegexLineFilter(match);
    case LineMatchType::kPattern:
    case LineMatchType::kNotPattern: {
      auto p = Pattern::Parse(match, /*require_named_capture=*/false);
      if (!p.ok()) return p.status();
      return std::unique_ptr<LineFilter>(new PatternFilter(std::move(*p), false));
    }
  }
  return absl::InvalidArgumentError("unknown line filter type");
}

bool IsNegative(LineMatchType t) {
  return t == LineMatchType::kNotContains || t == LineMatchType::kNotRegex ||
         t == LineMatchType::kNotPattern;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LineFilter>> NewLineFilter(LineMatchType type,
                                                          std::string_view match) {
  auto f = NewPositive(type, match);
  if (!f.ok()) return f.status();
  if (IsNegative(type)) return std::unique_ptr<LineFilter>(new NotFilter(std::move(*f)));
  return f;
}

absl::StatusOr<std::unique_ptr<LineFilter>> NewLineFilterOr(
    LineMatchType type, const std::vector<std::string>& matches) {
  if (matches.empty()) return absl::InvalidArgumentError("empty line filter alternatives");
  if (matches.size() == 1) return NewLineFilter(type, matches[0]);
  std::unique_ptr<LineFilter> positive;
  if (type == LineMatchType::kContains || type == LineMatchType::kNotContains) {
    std::vector<Substring> needles;
    bool any_empty = false;
    for (const auto& m : matches) {
      if (m.empty()) any_empty = true;
      needles.emplace_back(m);
    }
    if (any_empty) {
      positive = std::make_unique<TrueFilter>();
    } else {
      positive = std::make_unique<ContainsAnyFilter>(std::move(needles));
    }
  } else {
    std::vector<std::unique_ptr<LineFilter>> alts;
    for (const auto& m : matches) {
      auto f = NewPositive(type, m);
      if (!f.ok()) return f.status();
      alts.push_back(std::move(*f));
    }
    positive = std::make_unique<OrFilter>(std::move(alts));
  }
  if (IsNegative(type)) return std::unique_ptr<LineFilter>(new NotFilter(std::move(positive)));
  return positive;
}

absl::StatusOr<std::unique_ptr<LineFilter>> NewIpLineFilter(bool negate,
                                                            std::string_view pattern) {
  auto m = IpMatcher::Parse(pattern);
  if (!m.ok()) return m.status();
  return std::unique_ptr<LineFilter>(new IpFilter(std::move(*m), negate));
}

std::unique_ptr<LineFilter> NewAndLineFilter(std::vector<std::unique_ptr<LineFilter>> filters) {
  return std::make_unique<AndFilter>(std::move(filters));
}
std::unique_ptr<LineFilter> NewOrLineFilter(std::vector<std::unique_ptr<LineFilter>> filters) {
  return std::make_unique<OrFilter>(std::move(filters));
}
std::unique_ptr<LineFilter> NewNotLineFilter(std::unique_ptr<LineFilter> filter) {
  return std::make_unique<NotFilter>(std::move(filter));
}

LineFilterStage::LineFilterStage(std::vector<std::unique_ptr<LineFilter>> filters)
    : filters_(std::move(filters)) {}

LineFilterStage::LineFilterStage(std::unique_ptr<LineFilter> filter) {
  filters_.push_back(std::move(filter));
}

bool LineFilterStage::Matches(std::string_view line) const {
  for (const auto& f : filters_) {
    if (!f->Matches(line)) return false;
  }
  return true;
}

bool LineFilterStage::Process(int64_t, std::string_view* line, LabelsBuilder*) {
  return Matches(*line);
}

std::vector<std::string> LineFilterStage::RequiredSubstrings() const {
  return logql_log::RequiredSubstrings(filters_);
}

std::vector<std::string> RequiredSubstrings(
    const std::vector<std::unique_ptr<LineFilter>>& filters) {
  std::vector<std::string> out;
  for (const auto& f : filters) f->CollectRequired(&out);
  std::vector<std::string> dedup;
  for (auto& s : out) {
    if (s.empty()) continue;
    if (std::find(dedup.begin(), dedup.end(), s) == dedup.end()) dedup.push_back(std::move(s));
  }
  return dedup;
}

}  // namespace norn::logql_log
