// The LogQL abstract syntax tree produced by parser.h and printed by Print().
//
// Design: plain structs and std::variant, so an engine walks a query with std::visit or
// std::get_if and never needs a visitor class. Children are held in Box<T>, a deep-copying
// owning pointer, which makes every node a regular value type: copyable (Clone is a copy),
// comparable with == (structural equality, used by the round-trip tests) and movable.
//
//   Expr = LogSelectorExpr | RangeAggregationExpr | VectorAggregationExpr | BinaryOpExpr
//        | LiteralExpr | VectorExpr | LabelReplaceExpr
//   LogSelectorExpr = matchers + pipeline (vector<Stage>)
//   Stage = LineFilterStage | LogfmtParserStage | JsonParserStage | RegexpParserStage
//         | PatternParserStage | UnpackParserStage | LabelFilterStage | LineFormatStage
//         | LabelFormatStage | DropLabelsStage | KeepLabelsStage | DecolorizeStage | DistinctStage
//
// Invariants established by the parser (engines may rely on them):
//   - every regex in the tree compiled (RE2, Go syntax); matchers carry the compiled form;
//   - two literals never meet in a BinaryOpExpr (Loki folds `1 + 1` to `2` at parse time);
//   - negated line-filter `or` chains are split: `!= "a" or "b"` is two stages `!= "a"`,
//     `!= "b"`, so only the positive operators (|= |~ |>) carry more than one alternative;
//   - range aggregations have exactly the parameter/unwrap/grouping combinations Loki allows.
//
// Nodes are immutable after parsing in practice; sharing a const tree between threads is safe
// (compiled RE2 objects are thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "logql/syntax/stage_args.h"

namespace re2 {
class RE2;
}

namespace norn::logql::syntax {

// A deep-copying, never-null owning pointer for recursive nodes.
template <typename T>
class Box {
 public:
  Box(T value) : p_(std::make_unique<T>(std::move(value))) {}  // NOLINT: implicit on purpose
  Box(const Box& o) : p_(std::make_unique<T>(*o.p_)) {}
  Box(Box&&) noexcept = default;
  Box& operator=(const Box& o) {
    if (this != &o)
      p_ = std::make_unique<T>(*o.p_);
    return *this;
  }
  Box& operator=(Box&&) noexcept = default;
  ~Box() = default;

  T& operator*() { return *p_; }
  const T& operator*() const { return *p_; }
  T* operator->() { return p_.get(); }
  const T* operator->() const { return p_.get(); }
  T* get() { return p_.get(); }
  const T* get() const { return p_.get(); }

  friend bool operator==(const Box& a, const Box& b) { return *a.p_ == *b.p_; }

 private:
  std::unique_ptr<T> p_;
};

// ---------------------------------------------------------------------------------------------
// Matchers

enum class MatchType : uint8_t { kEqual, kNotEqual, kRegexp, kNotRegexp };
std::string_view MatchTypeString(MatchType t);  // "=", "!=", "=~", "!~"

// A label matcher (`name="value"`, `name=~"re"` ...). Regexes are fully anchored and `.` matches
// newlines, as in Prometheus. Cheap to copy (the compiled regex is shared).
class Matcher {
 public:
  // Compiles the regex for =~ / !~; error text is Go's ("error parsing regexp: ...").
  static absl::StatusOr<Matcher> Create(MatchType type, std::string name, std::string value);

  MatchType type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }
  // The compiled (unanchored) regex for =~ and !~, nullptr otherwise. Match it with
  // RE2::ANCHOR_BOTH (Matches() does).
  const re2::RE2* regex() const { return re_.get(); }

  bool Matches(std::string_view v) const;
  // Whether the matcher accepts the empty string, i.e. also selects series without the label.
  bool MatchesEmpty() const { return matches_empty_; }

  // `name="value"` with the value Go-quoted (Prometheus' Matcher.String()).
  std::string ToString() const;

  friend bool operator==(const Matcher& a, const Matcher& b) {
    return a.type_ == b.type_ && a.name_ == b.name_ && a.value_ == b.value_;
  }

 private:
  Matcher() = default;
  MatchType type_ = MatchType::kEqual;
  std::string name_;
  std::string value_;
  std::shared_ptr<const re2::RE2> re_;
  bool matches_empty_ = false;
};

// ---------------------------------------------------------------------------------------------
// Pipeline stages

enum class LineFilterOp : uint8_t {
  kContains,     // |=
  kNotContains,  // !=
  kRegexp,       // |~
  kNotRegexp,    // !~
  kPattern,      // |>
  kNotPattern,   // !>
};
std::string_view LineFilterOpString(LineFilterOp op);
inline bool IsNegated(LineFilterOp op) {
  return op == LineFilterOp::kNotContains || op == LineFilterOp::kNotRegexp ||
         op == LineFilterOp::kNotPattern;
}

// One alternative of a line filter: a string (substring, regex or pattern depending on the
// operator) or `ip("...")` (only with |= and !=).
struct LineFilterValue {
  std::string value;
  std::optional<IpPattern> ip;  // set for ip("...")
  friend bool operator==(const LineFilterValue&, const LineFilterValue&) = default;
};

// `|= "a"`, `|~ "re" or "re2"`, `!= ip("10.0.0.0/8")`. A line passes a positive filter when any
// alternative matches and a negated one (always a single alternative) when it does not match.
struct LineFilterStage {
  LineFilterOp op = LineFilterOp::kContains;
  std::vector<LineFilterValue> values;  // at least one
  friend bool operator==(const LineFilterStage&, const LineFilterStage&) = default;
};

// `a="b.c"` in `| json a="b.c"` / `| logfmt a="b"`; the shorthand `| json a` means a="a".
struct LabelExtraction {
  std::string label;
  std::string expression;
  std::vector<JsonPathElem> json_path;  // parsed expression (json only)
  friend bool operator==(const LabelExtraction&, const LabelExtraction&) = default;
};

struct LogfmtParserStage {
  bool strict = false;                       // --strict
  bool keep_empty = false;                   // --keep-empty
  std::vector<LabelExtraction> extractions;  // empty: extract every key
  friend bool operator==(const LogfmtParserStage&, const LogfmtParserStage&) = default;
};

struct JsonParserStage {
  std::vector<LabelExtraction> extractions;  // empty: extract every key
  friend bool operator==(const JsonParserStage&, const JsonParserStage&) = default;
};

struct RegexpParserStage {
  std::string regex;  // unanchored Go regex with at least one named group (validated)
  friend bool operator==(const RegexpParserStage&, const RegexpParserStage&) = default;
};

struct PatternParserStage {
  std::string pattern;
  std::vector<PatternNode> nodes;  // parsed and validated
  friend bool operator==(const PatternParserStage&, const PatternParserStage&) = default;
};

struct UnpackParserStage {
  friend bool operator==(const UnpackParserStage&, const UnpackParserStage&) = default;
};

// Comparison of a numeric / duration / bytes label filter.
enum class CmpOp : uint8_t { kEq, kNe, kGt, kGe, kLt, kLe };
std::string_view CmpOpString(CmpOp op);  // "==", "!=", ">", ">=", "<", "<="

struct LabelFilter;

// `name="v"`, `name=~"re"` ... compared as strings (absent label == "").
struct StringLabelFilter {
  Matcher matcher;
  friend bool operator==(const StringLabelFilter&, const StringLabelFilter&) = default;
};
// `name > 5`, `name == -1.5`: the label value is parsed as a float.
struct NumericLabelFilter {
  std::string name;
  CmpOp op = CmpOp::kEq;
  double value = 0;
  friend bool operator==(const NumericLabelFilter&, const NumericLabelFilter&) = default;
};
// `name > 1m30s`: the label value is parsed with ParseGoDuration.
struct DurationLabelFilter {
  std::string name;
  CmpOp op = CmpOp::kEq;
  int64_t value_ns = 0;
  friend bool operator==(const DurationLabelFilter&, const DurationLabelFilter&) = default;
};
// `name > 10KB`: the label value is parsed with ParseHumanBytes.
struct BytesLabelFilter {
  std::string name;
  CmpOp op = CmpOp::kEq;
  uint64_t value = 0;
  friend bool operator==(const BytesLabelFilter&, const BytesLabelFilter&) = default;
};
// `name = ip("10.0.0.0/8")` / `name != ip(...)`.
struct IpLabelFilter {
  std::string name;
  bool negated = false;
  std::string pattern;
  IpPattern parsed;
  friend bool operator==(const IpLabelFilter&, const IpLabelFilter&) = default;
};
// `a and b`, `a, b`, `a b` (all "and") and `a or b`.
struct BinaryLabelFilter {
  bool is_and = true;
  Box<LabelFilter> lhs;
  Box<LabelFilter> rhs;
  friend bool operator==(const BinaryLabelFilter&, const BinaryLabelFilter&) = default;
};

struct LabelFilter {
  std::variant<StringLabelFilter, NumericLabelFilter, DurationLabelFilter, BytesLabelFilter,
               IpLabelFilter, BinaryLabelFilter>
      node;
  friend bool operator==(const LabelFilter&, const LabelFilter&) = default;
};

struct LabelFilterStage {
  LabelFilter filter;
  friend bool operator==(const LabelFilterStage&, const LabelFilterStage&) = default;
};

struct LineFormatStage {
  std::string tmpl;  // Go text/template source (not validated here)
  friend bool operator==(const LineFormatStage&, const LineFormatStage&) = default;
};

// `dst=src` (rename) or `dst="{{.template}}"`.
struct LabelFormat {
  std::string name;
  std::string value;
  bool rename = false;
  friend bool operator==(const LabelFormat&, const LabelFormat&) = default;
};
struct LabelFormatStage {
  std::vector<LabelFormat> formats;  // names unique, never __error__ (validated)
  friend bool operator==(const LabelFormatStage&, const LabelFormatStage&) = default;
};

// An item of `| drop` / `| keep`: a bare name or a matcher on the label's value.
struct NamedMatcher {
  std::string name;
  std::optional<Matcher> matcher;  // when set, name == matcher->name()
  friend bool operator==(const NamedMatcher&, const NamedMatcher&) = default;
};
struct DropLabelsStage {
  std::vector<NamedMatcher> labels;
  friend bool operator==(const DropLabelsStage&, const DropLabelsStage&) = default;
};
struct KeepLabelsStage {
  std::vector<NamedMatcher> labels;
  friend bool operator==(const KeepLabelsStage&, const KeepLabelsStage&) = default;
};
struct DecolorizeStage {
  friend bool operator==(const DecolorizeStage&, const DecolorizeStage&) = default;
};
// `| distinct a, b` (Loki 2.9; kept for compatibility with queries written for it).
struct DistinctStage {
  std::vector<std::string> labels;
  friend bool operator==(const DistinctStage&, const DistinctStage&) = default;
};

using Stage = std::variant<LineFilterStage, LogfmtParserStage, JsonParserStage, RegexpParserStage,
                           PatternParserStage, UnpackParserStage, LabelFilterStage, LineFormatStage,
                           LabelFormatStage, DropLabelsStage, KeepLabelsStage, DecolorizeStage,
                           DistinctStage>;

// ---------------------------------------------------------------------------------------------
// Expressions

// `{a="b"} |= "x" | json`: a log query, or the log part of a range aggregation.
struct LogSelectorExpr {
  std::vector<Matcher> matchers;
  std::vector<Stage> pipeline;
  friend bool operator==(const LogSelectorExpr&, const LogSelectorExpr&) = default;
};

enum class UnwrapConv : uint8_t { kNone, kBytes, kDuration, kDurationSeconds };

// `| unwrap latency`, `| unwrap duration(latency) | __error__=""`.
struct Unwrap {
  std::string label;
  UnwrapConv conv = UnwrapConv::kNone;
  std::vector<LabelFilter> post_filters;
  friend bool operator==(const Unwrap&, const Unwrap&) = default;
};

// `{...} | pipeline | unwrap x [5m] offset 1h`.
struct LogRange {
  LogSelectorExpr selector;
  int64_t range_ns = 0;
  int64_t offset_ns = 0;
  std::optional<Unwrap> unwrap;
  friend bool operator==(const LogRange&, const LogRange&) = default;
};

enum class RangeOp : uint8_t {
  kCountOverTime,
  kRate,
  kRateCounter,
  kBytesOverTime,
  kBytesRate,
  kAvgOverTime,
  kSumOverTime,
  kMinOverTime,
  kMaxOverTime,
  kStdvarOverTime,
  kStddevOverTime,
  kQuantileOverTime,
  kFirstOverTime,
  kLastOverTime,
  kAbsentOverTime,
};
std::string_view RangeOpName(RangeOp op);

// `by (a, b)` / `without (c)`. For vector aggregations "no grouping" is `by ()`.
struct Grouping {
  bool without = false;
  std::vector<std::string> labels;
  friend bool operator==(const Grouping&, const Grouping&) = default;
};

struct Expr;

struct RangeAggregationExpr {
  RangeOp op = RangeOp::kCountOverTime;
  LogRange range;
  std::optional<double> param;       // quantile_over_time only (required there)
  std::optional<Grouping> grouping;  // only for ops that allow it
  friend bool operator==(const RangeAggregationExpr&, const RangeAggregationExpr&) = default;
};

enum class VectorOp : uint8_t {
  kSum,
  kAvg,
  kCount,
  kMax,
  kMin,
  kStddev,
  kStdvar,
  kBottomK,
  kTopK,
  kSort,
  kSortDesc,
  kApproxTopK,
};
std::string_view VectorOpName(VectorOp op);

struct VectorAggregationExpr {
  VectorOp op = VectorOp::kSum;
  Grouping grouping;             // by () when absent
  std::optional<int64_t> param;  // topk / bottomk / approx_topk (k > 0)
  Box<Expr> inner;
};

enum class BinaryOp : uint8_t {
  kOr,
  kAnd,
  kUnless,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kEq,
  kNe,
  kGt,
  kGe,
  kLt,
  kLe,
};
std::string_view BinaryOpString(BinaryOp op);
inline bool IsComparison(BinaryOp op) {
  return op >= BinaryOp::kEq;
}
inline bool IsSetOp(BinaryOp op) {
  return op <= BinaryOp::kUnless;
}

struct VectorMatching {
  enum class Card : uint8_t { kOneToOne, kManyToOne /*group_left*/, kOneToMany /*group_right*/ };
  bool on = false;  // on(...) rather than ignoring(...)
  std::vector<std::string> matching_labels;
  Card card = Card::kOneToOne;
  std::vector<std::string> include;  // group_left(...) / group_right(...) labels
  friend bool operator==(const VectorMatching&, const VectorMatching&) = default;
};

struct BinaryOpExpr {
  BinaryOp op = BinaryOp::kAdd;
  bool return_bool = false;
  VectorMatching matching;
  Box<Expr> lhs;
  Box<Expr> rhs;
};

// A number. == compares NaN equal to NaN so round-trip checks work.
struct LiteralExpr {
  double value = 0;
  friend bool operator==(const LiteralExpr& a, const LiteralExpr& b);
};

// `vector(1)`.
struct VectorExpr {
  double value = 0;
  friend bool operator==(const VectorExpr& a, const VectorExpr& b);
};

// `label_replace(inner, "dst", "replacement", "src", "regex")`.
struct LabelReplaceExpr {
  Box<Expr> inner;
  std::string dst;
  std::string replacement;
  std::string src;
  std::string regex;
  std::shared_ptr<const re2::RE2> re;  // compiled; match with RE2::ANCHOR_BOTH
};

struct Expr {
  std::variant<LogSelectorExpr, RangeAggregationExpr, VectorAggregationExpr, BinaryOpExpr,
               LiteralExpr, VectorExpr, LabelReplaceExpr>
      node;

  // A log query (returns streams) rather than a metric query (returns samples).
  bool IsLogQuery() const { return std::holds_alternative<LogSelectorExpr>(node); }
};

bool operator==(const VectorAggregationExpr& a, const VectorAggregationExpr& b);
bool operator==(const BinaryOpExpr& a, const BinaryOpExpr& b);
bool operator==(const LabelReplaceExpr& a, const LabelReplaceExpr& b);
bool operator==(const Expr& a, const Expr& b);

// Canonical single-line LogQL in the shape of Loki's Expr.String() (the text
// /loki/api/v1/format_query and query splitting work with). Parsing the output gives back an equal
// tree: ParseExpr(Print(e)) == e. Differences from Loki's String(), all for that property:
// numbers in vector() print exactly, non-finite literals print as expressions that evaluate to
// them, byte sizes print exactly, and `ignoring ()`/group modifiers are never dropped.
std::string Print(const Expr& e);
std::string Print(const LogSelectorExpr& e);
std::string Print(const LabelFilter& f);
std::string Print(const Stage& s);
// `{a="b", c=~"d"}`.
std::string PrintMatchers(const std::vector<Matcher>& matchers);

// Calls f(const LogSelectorExpr&) for every log selector in the tree, left to right (the
// selectors a query needs to fetch data for).
template <typename F>
void ForEachSelector(const Expr& e, F&& f);

// ---------------------------------------------------------------------------------------------

template <typename F>
void ForEachSelector(const Expr& e, F&& f) {
  if (const auto* s = std::get_if<LogSelectorExpr>(&e.node)) {
    f(*s);
  } else if (const auto* r = std::get_if<RangeAggregationExpr>(&e.node)) {
    f(r->range.selector);
  } else if (const auto* v = std::get_if<VectorAggregationExpr>(&e.node)) {
    ForEachSelector(*v->inner, f);
  } else if (const auto* b = std::get_if<BinaryOpExpr>(&e.node)) {
    ForEachSelector(*b->lhs, f);
    ForEachSelector(*b->rhs, f);
  } else if (const auto* l = std::get_if<LabelReplaceExpr>(&e.node)) {
    ForEachSelector(*l->inner, f);
  }
}

}  // namespace norn::logql::syntax
