#include "logql/syntax/ast.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"
#include "logql/syntax/go_compat.h"
#include "re2/re2.h"

namespace norn::logql::syntax {
namespace {

bool SameNumber(double a, double b) {
  if (std::isnan(a) || std::isnan(b))
    return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0)
      out.push_back(',');
    out += names[i];
  }
  return out;
}

std::string PrintGrouping(const Grouping& g) {
  return absl::StrCat(g.without ? " without (" : " by (", JoinNames(g.labels), ")");
}

std::string PrintLiteral(double v) {
  // Keep the output re-parseable: Loki folds literal arithmetic, so these evaluate back to
  // exactly the same value (its String() prints "NaN"/"+Inf", which do not parse).
  if (std::isnan(v))
    return "(0 / 0)";
  if (std::isinf(v))
    return v > 0 ? "(2 ^ 1024)" : "(-2 ^ 1025)";
  if (v == 0 && std::signbit(v))
    return "(0 * -1)";
  return FormatGoFloat(v);
}

void PrintExtractions(std::string* out, const std::vector<LabelExtraction>& xs) {
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i > 0)
      out->push_back(',');
    absl::StrAppend(out, xs[i].label, "=");
    AppendGoQuote(out, xs[i].expression);
  }
}

void PrintNamedMatchers(std::string* out, const std::vector<NamedMatcher>& xs) {
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i > 0)
      out->push_back(',');
    *out += xs[i].matcher ? xs[i].matcher->ToString() : xs[i].name;
  }
}

struct StagePrinter {
  std::string* out;
  void operator()(const LineFilterStage& s) const {
    absl::StrAppend(out, AV(LineFilterOpString(s.op)), " ");
    for (size_t i = 0; i < s.values.size(); ++i) {
      if (i > 0)
        out->append(" or ");
      if (s.values[i].ip) {
        out->append("ip(");
        AppendGoQuote(out, s.values[i].value);
        out->push_back(')');
      } else {
        AppendGoQuote(out, s.values[i].value);
      }
    }
  }
  void operator()(const LogfmtParserStage& s) const {
    out->append("| logfmt");
    if (s.extractions.empty()) {
      if (s.strict)
        out->append(" --strict");
      if (s.keep_empty)
        out->append(" --keep-empty");
      return;
    }
    out->push_back(' ');
    if (s.strict)
      out->append("--strict ");
    if (s.keep_empty)
      out->append("--keep-empty ");
    PrintExtractions(out, s.extractions);
  }
  void operator()(const JsonParserStage& s) const {
    out->append("| json");
    if (s.extractions.empty())
      return;
    out->push_back(' ');
    PrintExtractions(out, s.extractions);
  }
  void operator()(const RegexpParserStage& s) const {
    out->append("| regexp ");
    AppendGoQuote(out, s.regex);
  }
  void operator()(const PatternParserStage& s) const {
    out->append("| pattern ");
    AppendGoQuote(out, s.pattern);
  }
  void operator()(const UnpackParserStage&) const { out->append("| unpack"); }
  void operator()(const LabelFilterStage& s) const { absl::StrAppend(out, "| ", Print(s.filter)); }
  void operator()(const LineFormatStage& s) const {
    out->append("| line_format ");
    AppendGoQuote(out, s.tmpl);
  }
  void operator()(const LabelFormatStage& s) const {
    out->append("| label_format ");
    for (size_t i = 0; i < s.formats.size(); ++i) {
      if (i > 0)
        out->push_back(',');
      absl::StrAppend(out, s.formats[i].name, "=");
      if (s.formats[i].rename) {
        out->append(s.formats[i].value);
      } else {
        AppendGoQuote(out, s.formats[i].value);
      }
    }
  }
  void operator()(const DropLabelsStage& s) const {
    out->append("| drop ");
    PrintNamedMatchers(out, s.labels);
  }
  void operator()(const KeepLabelsStage& s) const {
    out->append("| keep ");
    PrintNamedMatchers(out, s.labels);
  }
  void operator()(const DecolorizeStage&) const { out->append("| decolorize"); }
  void operator()(const DistinctStage& s) const {
    absl::StrAppend(out, "| distinct ", JoinNames(s.labels));
  }
};

struct FilterPrinter {
  std::string* out;
  void operator()(const StringLabelFilter& f) const { *out += f.matcher.ToString(); }
  void operator()(const NumericLabelFilter& f) const {
    std::string number = FormatFloatPlain(f.value);
    // A bare 0 lexes as a duration (Go accepts "0" without a unit): keep it a number so the
    // printed query means the same (`status == 00` must not become a duration filter).
    if (number == "0" || number == "-0") number += ".0";
    absl::StrAppend(out, f.name, AV(CmpOpString(f.op)), number);
  }
  void operator()(const DurationLabelFilter& f) const {
    absl::StrAppend(out, f.name, AV(CmpOpString(f.op)), FormatGoDuration(f.value_ns));
  }
  void operator()(const BytesLabelFilter& f) const {
    absl::StrAppend(out, f.name, AV(CmpOpString(f.op)), FormatBytesLiteral(f.value));
  }
  void operator()(const IpLabelFilter& f) const {
    absl::StrAppend(out, f.name, f.negated ? "!=" : "=", "ip(");
    AppendGoQuote(out, f.pattern);
    out->push_back(')');
  }
  void operator()(const BinaryLabelFilter& f) const {
    out->append("( ");
    std::visit(*this, f.lhs->node);
    out->append(f.is_and ? " , " : " or ");
    std::visit(*this, f.rhs->node);
    out->append(" )");
  }
};

std::string_view ConvName(UnwrapConv c) {
  switch (c) {
    case UnwrapConv::kBytes:
      return "bytes";
    case UnwrapConv::kDuration:
      return "duration";
    case UnwrapConv::kDurationSeconds:
      return "duration_seconds";
    case UnwrapConv::kNone:
      break;
  }
  return "";
}

std::string PrintLogRange(const LogRange& r) {
  std::string out = Print(r.selector);
  if (r.unwrap) {
    out.append(" | unwrap ");
    if (r.unwrap->conv != UnwrapConv::kNone) {
      absl::StrAppend(&out, AV(ConvName(r.unwrap->conv)), "(", r.unwrap->label, ")");
    } else {
      out.append(r.unwrap->label);
    }
    for (const LabelFilter& f : r.unwrap->post_filters)
      absl::StrAppend(&out, " | ", Print(f));
  }
  absl::StrAppend(&out, "[", FormatPromDuration(r.range_ns), "]");
  if (r.offset_ns != 0)
    absl::StrAppend(&out, " offset ", FormatGoDuration(r.offset_ns));
  return out;
}

struct ExprPrinter {
  std::string operator()(const LogSelectorExpr& e) const { return Print(e); }
  std::string operator()(const RangeAggregationExpr& e) const {
    std::string out = absl::StrCat(AV(RangeOpName(e.op)), "(");
    if (e.param)
      absl::StrAppend(&out, FormatFloatPlain(*e.param), ",");
    absl::StrAppend(&out, PrintLogRange(e.range), ")");
    if (e.grouping)
      out += PrintGrouping(*e.grouping);
    return out;
  }
  std::string operator()(const VectorAggregationExpr& e) const {
    std::string out(VectorOpName(e.op));
    if (e.grouping.without || !e.grouping.labels.empty())
      out += PrintGrouping(e.grouping);
    out.push_back('(');
    if (e.param)
      absl::StrAppend(&out, *e.param, ",");
    absl::StrAppend(&out, Print(*e.inner), ")");
    return out;
  }
  std::string operator()(const BinaryOpExpr& e) const {
    std::string op(BinaryOpString(e.op));
    if (e.return_bool)
      op += " bool";
    const VectorMatching& m = e.matching;
    if (m.on || !m.matching_labels.empty() || m.card != VectorMatching::Card::kOneToOne) {
      absl::StrAppend(&op, m.on ? " on (" : " ignoring (", JoinNames(m.matching_labels), ")");
      if (m.card == VectorMatching::Card::kManyToOne)
        op += " group_left";
      if (m.card == VectorMatching::Card::kOneToMany)
        op += " group_right";
      if (!m.include.empty())
        absl::StrAppend(&op, " (", JoinNames(m.include), ")");
    }
    return absl::StrCat("(", Print(*e.lhs), " ", op, " ", Print(*e.rhs), ")");
  }
  std::string operator()(const LiteralExpr& e) const { return PrintLiteral(e.value); }
  std::string operator()(const VectorExpr& e) const {
    return absl::StrCat("vector(", FormatFloatPlain(e.value), ")");
  }
  std::string operator()(const LabelReplaceExpr& e) const {
    return absl::StrCat("label_replace(", Print(*e.inner), ",", GoQuote(e.dst), ",",
                        GoQuote(e.replacement), ",", GoQuote(e.src), ",", GoQuote(e.regex), ")");
  }
};

}  // namespace

std::string_view MatchTypeString(MatchType t) {
  switch (t) {
    case MatchType::kEqual:
      return "=";
    case MatchType::kNotEqual:
      return "!=";
    case MatchType::kRegexp:
      return "=~";
    case MatchType::kNotRegexp:
      return "!~";
  }
  return "";
}

absl::StatusOr<Matcher> Matcher::Create(MatchType type, std::string name, std::string value) {
  Matcher m;
  m.type_ = type;
  m.name_ = std::move(name);
  m.value_ = std::move(value);
  if (type == MatchType::kRegexp || type == MatchType::kNotRegexp) {
    absl::StatusOr<std::shared_ptr<const re2::RE2>> re = CompileGoRegex(m.value_, true);
    if (!re.ok())
      return re.status();
    m.re_ = *std::move(re);
  }
  m.matches_empty_ = m.Matches("");
  return m;
}

bool Matcher::Matches(std::string_view v) const {
  switch (type_) {
    case MatchType::kEqual:
      return v == value_;
    case MatchType::kNotEqual:
      return v != value_;
    case MatchType::kRegexp:
    case MatchType::kNotRegexp: {
      bool hit = re_->Match(re2::StringPiece(v.data(), v.size()), 0, v.size(),
                            re2::RE2::ANCHOR_BOTH, nullptr, 0);
      return type_ == MatchType::kRegexp ? hit : !hit;
    }
  }
  return false;
}

std::string Matcher::ToString() const {
  std::string out = name_;
  out += MatchTypeString(type_);
  AppendGoQuote(&out, value_);
  return out;
}

std::string_view LineFilterOpString(LineFilterOp op) {
  switch (op) {
    case LineFilterOp::kContains:
      return "|=";
    case LineFilterOp::kNotContains:
      return "!=";
    case LineFilterOp::kRegexp:
      return "|~";
    case LineFilterOp::kNotRegexp:
      return "!~";
    case LineFilterOp::kPattern:
      return "|>";
    case LineFilterOp::kNotPattern:
      return "!>";
  }
  return "";
}

std::string_view CmpOpString(CmpOp op) {
  switch (op) {
    case CmpOp::kEq:
      return "==";
    case CmpOp::kNe:
      return "!=";
    case CmpOp::kGt:
      return ">";
    case CmpOp::kGe:
      return ">=";
    case CmpOp::kLt:
      return "<";
    case CmpOp::kLe:
      return "<=";
  }
  return "";
}

std::string_view RangeOpName(RangeOp op) {
  switch (op) {
    case RangeOp::kCountOverTime:
      return "count_over_time";
    case RangeOp::kRate:
      return "rate";
    case RangeOp::kRateCounter:
      return "rate_counter";
    case RangeOp::kBytesOverTime:
      return "bytes_over_time";
    case RangeOp::kBytesRate:
      return "bytes_rate";
    case RangeOp::kAvgOverTime:
      return "avg_over_time";
    case RangeOp::kSumOverTime:
      return "sum_over_time";
    case RangeOp::kMinOverTime:
      return "min_over_time";
    case RangeOp::kMaxOverTime:
      return "max_over_time";
    case RangeOp::kStdvarOverTime:
      return "stdvar_over_time";
    case RangeOp::kStddevOverTime:
      return "stddev_over_time";
    case RangeOp::kQuantileOverTime:
      return "quantile_over_time";
    case RangeOp::kFirstOverTime:
      return "first_over_time";
    case RangeOp::kLastOverTime:
      return "last_over_time";
    case RangeOp::kAbsentOverTime:
      return "absent_over_time";
  }
  return "";
}

std::string_view VectorOpName(VectorOp op) {
  switch (op) {
    case VectorOp::kSum:
      return "sum";
    case VectorOp::kAvg:
      return "avg";
    case VectorOp::kCount:
      return "count";
    case VectorOp::kMax:
      return "max";
    case VectorOp::kMin:
      return "min";
    case VectorOp::kStddev:
      return "stddev";
    case VectorOp::kStdvar:
      return "stdvar";
    case VectorOp::kBottomK:
      return "bottomk";
    case VectorOp::kTopK:
      return "topk";
    case VectorOp::kSort:
      return "sort";
    case VectorOp::kSortDesc:
      return "sort_desc";
    case VectorOp::kApproxTopK:
      return "approx_topk";
  }
  return "";
}

std::string_view BinaryOpString(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr:
      return "or";
    case BinaryOp::kAnd:
      return "and";
    case BinaryOp::kUnless:
      return "unless";
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSub:
      return "-";
    case BinaryOp::kMul:
      return "*";
    case BinaryOp::kDiv:
      return "/";
    case BinaryOp::kMod:
      return "%";
    case BinaryOp::kPow:
      return "^";
    case BinaryOp::kEq:
      return "==";
    case BinaryOp::kNe:
      return "!=";
    case BinaryOp::kGt:
      return ">";
    case BinaryOp::kGe:
      return ">=";
    case BinaryOp::kLt:
      return "<";
    case BinaryOp::kLe:
      return "<=";
  }
  return "";
}

bool operator==(const LiteralExpr& a, const LiteralExpr& b) {
  return SameNumber(a.value, b.value);
}
bool operator==(const VectorExpr& a, const VectorExpr& b) {
  return SameNumber(a.value, b.value);
}

bool operator==(const VectorAggregationExpr& a, const VectorAggregationExpr& b) {
  return a.op == b.op && a.grouping == b.grouping && a.param == b.param && a.inner == b.inner;
}

bool operator==(const BinaryOpExpr& a, const BinaryOpExpr& b) {
  return a.op == b.op && a.return_bool == b.return_bool && a.matching == b.matching &&
         a.lhs == b.lhs && a.rhs == b.rhs;
}

bool operator==(const LabelReplaceExpr& a, const LabelReplaceExpr& b) {
  return a.inner == b.inner && a.dst == b.dst && a.replacement == b.replacement && a.src == b.src &&
         a.regex == b.regex;
}

bool operator==(const Expr& a, const Expr& b) {
  return a.node == b.node;
}

std::string PrintMatchers(const std::vector<Matcher>& matchers) {
  std::string out = "{";
  for (size_t i = 0; i < matchers.size(); ++i) {
    if (i > 0)
      out.append(", ");
    out += matchers[i].ToString();
  }
  out.push_back('}');
  return out;
}

std::string Print(const LogSelectorExpr& e) {
  std::string out = PrintMatchers(e.matchers);
  for (const Stage& s : e.pipeline) {
    out.push_back(' ');
    std::visit(StagePrinter{&out}, s);
  }
  return out;
}

std::string Print(const Stage& s) {
  std::string out;
  std::visit(StagePrinter{&out}, s);
  return out;
}

std::string Print(const LabelFilter& f) {
  std::string out;
  std::visit(FilterPrinter{&out}, f.node);
  return out;
}

std::string Print(const Expr& e) {
  return std::visit(ExprPrinter{}, e.node);
}

}  // namespace norn::logql::syntax
