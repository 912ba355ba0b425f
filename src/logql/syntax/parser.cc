// Recursive-descent parser for LogQL. It follows the structure of Loki's yacc grammar
// (pkg/logql/syntax/syntax.y) production by production, including the conflict resolutions
// yacc applies (see ParseLabelFilter), so the same queries are accepted and grouped the same
// way. Errors are thrown as ParseFailure inside this file and turned into absl::Status at the
// public functions.
#include "logql/syntax/parser.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/labels.h"
#include "common/strings.h"
#include "logql/syntax/go_compat.h"
#include "logql/syntax/lexer.h"
#include "re2/re2.h"

namespace norn::logql::syntax {
namespace {

using internal::Tok;
using internal::Token;

constexpr std::string_view kEmptyCompatibleError =
    "queries require at least one regexp or equality matcher that does not have an "
    "empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but "
    "app=~\".+\" will";

// Deeper nesting than any real query; keeps recursion far away from the stack limit.
constexpr int kMaxDepth = 1000;

struct ParseFailure {
  std::string message;
};

[[noreturn]] void Fail(std::string msg) {
  throw ParseFailure{std::move(msg)};
}

// "parse error : msg" (Loki's ParseError without a position).
[[noreturn]] void SemanticError(std::string_view msg) {
  Fail(absl::StrCat("parse error : ", AV(msg)));
}

// Loki's stage errors: "parse error : stage '<stage>' : <msg>".
[[noreturn]] void StageError(std::string_view stage, std::string_view msg) {
  SemanticError(absl::StrCat("stage '", AV(stage), "' : ", AV(msg)));
}

[[noreturn]] void PositionedError(const Token& t, std::string_view msg) {
  if (t.line == 0 && t.col == 0)
    SemanticError(msg);
  Fail(absl::StrFormat("parse error at line %d, col %d: %s", t.line, t.col, AV(msg)));
}

int Precedence(Tok k) {
  switch (k) {
    case Tok::kOr:
      return 1;
    case Tok::kAnd:
    case Tok::kUnless:
      return 2;
    case Tok::kCmpEq:
    case Tok::kNeq:
    case Tok::kGt:
    case Tok::kGte:
    case Tok::kLt:
    case Tok::kLte:
      return 3;
    case Tok::kAdd:
    case Tok::kSub:
      return 4;
    case Tok::kMul:
    case Tok::kDiv:
    case Tok::kMod:
      return 5;
    case Tok::kPow:
      return 6;
    default:
      return 0;
  }
}

BinaryOp ToBinaryOp(Tok k) {
  switch (k) {
    case Tok::kOr:
      return BinaryOp::kOr;
    case Tok::kAnd:
      return BinaryOp::kAnd;
    case Tok::kUnless:
      return BinaryOp::kUnless;
    case Tok::kAdd:
      return BinaryOp::kAdd;
    case Tok::kSub:
      return BinaryOp::kSub;
    case Tok::kMul:
      return BinaryOp::kMul;
    case Tok::kDiv:
      return BinaryOp::kDiv;
    case Tok::kMod:
      return BinaryOp::kMod;
    case Tok::kPow:
      return BinaryOp::kPow;
    case Tok::kCmpEq:
      return BinaryOp::kEq;
    case Tok::kNeq:
      return BinaryOp::kNe;
    case Tok::kGt:
      return BinaryOp::kGt;
    case Tok::kGte:
      return BinaryOp::kGe;
    case Tok::kLt:
      return BinaryOp::kLt;
    default:
      return BinaryOp::kLe;
  }
}

std::optional<LineFilterOp> ToLineFilterOp(Tok k) {
  switch (k) {
    case Tok::kPipeExact:
      return LineFilterOp::kContains;
    case Tok::kNeq:
      return LineFilterOp::kNotContains;
    case Tok::kPipeMatch:
      return LineFilterOp::kRegexp;
    case Tok::kNre:
      return LineFilterOp::kNotRegexp;
    case Tok::kPipePattern:
      return LineFilterOp::kPattern;
    case Tok::kNpa:
      return LineFilterOp::kNotPattern;
    default:
      return std::nullopt;
  }
}

std::optional<MatchType> ToMatchType(Tok k) {
  switch (k) {
    case Tok::kEq:
      return MatchType::kEqual;
    case Tok::kNeq:
      return MatchType::kNotEqual;
    case Tok::kRe:
      return MatchType::kRegexp;
    case Tok::kNre:
      return MatchType::kNotRegexp;
    default:
      return std::nullopt;
  }
}

// Loki's literal folding (MergeBinOp without filtering): `1 + 1` is the literal 2.
double Fold(BinaryOp op, double l, double r) {
  switch (op) {
    case BinaryOp::kAdd:
      return l + r;
    case BinaryOp::kSub:
      return l - r;
    case BinaryOp::kMul:
      return l * r;
    case BinaryOp::kDiv:
      return r == 0 ? std::numeric_limits<double>::quiet_NaN() : l / r;
    case BinaryOp::kMod:
      return r == 0 ? std::numeric_limits<double>::quiet_NaN() : std::fmod(l, r);
    case BinaryOp::kPow:
      return std::pow(l, r);
    case BinaryOp::kEq:
      return l == r ? 1 : 0;
    case BinaryOp::kNe:
      return l != r ? 1 : 0;
    case BinaryOp::kGt:
      return l > r ? 1 : 0;
    case BinaryOp::kGe:
      return l >= r ? 1 : 0;
    case BinaryOp::kLt:
      return l < r ? 1 : 0;
    case BinaryOp::kLe:
      return l <= r ? 1 : 0;
    default:
      return 0;  // set operators never reach here (rejected with literal legs)
  }
}

std::string GoTypeName(const Expr& e) {
  const auto& sel = std::get<LogSelectorExpr>(e.node);
  return sel.pipeline.empty() ? "*syntax.MatchersExpr" : "*syntax.PipelineExpr";
}

class Parser {
 public:
  explicit Parser(std::string_view query) : tokens_(internal::Tokenize(query)) {}

  Expr ParseRoot() {
    Expr e = ParseBinary(1);
    if (Cur().kind != Tok::kEnd)
      SyntaxError(Cur());
    return e;
  }

 private:
  // ---- token access -------------------------------------------------------------------------

  const Token& Cur() {
    const Token& t = tokens_[pos_];
    if (t.kind == Tok::kError)
      PositionedError(t, t.text);
    return t;
  }
  // Lookahead without raising a pending lexical error (Loki reports it only once reached).
  const Token& PeekAt(size_t k) const {
    size_t i = pos_ + k;
    return i < tokens_.size() ? tokens_[i] : tokens_.back();
  }
  Tok PeekKind(size_t k) const { return PeekAt(k).kind; }
  void Advance() {
    if (pos_ + 1 < tokens_.size())
      ++pos_;
  }

  [[noreturn]] void SyntaxError(const Token& t, std::string_view expecting = "") {
    std::string msg = absl::StrCat("syntax error: unexpected ", internal::TokenName(t));
    if (!expecting.empty())
      absl::StrAppend(&msg, ", expecting ", AV(expecting));
    PositionedError(t, msg);
  }

  const Token& Expect(Tok kind, std::string_view expecting = "") {
    const Token& t = Cur();
    if (t.kind != kind)
      SyntaxError(t, expecting);
    Advance();
    return t;
  }

  std::string ExpectIdentifier(std::string_view expecting = "") {
    return Expect(Tok::kIdentifier, expecting).text;
  }

  struct DepthGuard {
    explicit DepthGuard(Parser* p) : p(p) {
      if (++p->depth_ > kMaxDepth)
        SemanticError("expression nests too deeply");
    }
    ~DepthGuard() { --p->depth_; }
    Parser* p;
  };

  // ---- expressions --------------------------------------------------------------------------

  // Precedence climbing over Loki's operator table: or < and/unless < comparisons < + - <
  // * / % < ^ (right-associative); all others left-associative.
  Expr ParseBinary(int min_prec) {
    DepthGuard guard(this);
    Expr lhs = ParseUnary();
    while (true) {
      Tok k = Cur().kind;
      int prec = Precedence(k);
      if (prec == 0 || prec < min_prec)
        break;
      Advance();
      BinaryOpExpr proto{ToBinaryOp(k), false, {}, Expr{LiteralExpr{}}, Expr{LiteralExpr{}}};
      ParseBinOpModifiers(&proto);
      Expr rhs = ParseBinary(k == Tok::kPow ? prec : prec + 1);
      lhs = MakeBinary(std::move(proto), std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  void ParseBinOpModifiers(BinaryOpExpr* b) {
    if (Cur().kind == Tok::kBool) {
      b->return_bool = true;
      Advance();
    }
    Tok k = Cur().kind;
    if (k != Tok::kOn && k != Tok::kIgnoring)
      return;
    b->matching.on = k == Tok::kOn;
    Advance();
    Expect(Tok::kOpenParen);
    b->matching.matching_labels = ParseLabelList();
    k = Cur().kind;
    if (k != Tok::kGroupLeft && k != Tok::kGroupRight)
      return;
    b->matching.card =
        k == Tok::kGroupLeft ? VectorMatching::Card::kManyToOne : VectorMatching::Card::kOneToMany;
    Advance();
    // yacc shifts: a '(' after group_left always opens the include list.
    if (Cur().kind == Tok::kOpenParen) {
      Advance();
      b->matching.include = ParseLabelList();
    }
  }

  // Labels after an already consumed '(' up to and including ')': `a, b)` or `)`.
  std::vector<std::string> ParseLabelList() {
    std::vector<std::string> labels;
    if (Cur().kind == Tok::kCloseParen) {
      Advance();
      return labels;
    }
    while (true) {
      labels.push_back(ExpectIdentifier());
      if (Cur().kind == Tok::kComma) {
        Advance();
        continue;
      }
      Expect(Tok::kCloseParen, ", or )");
      return labels;
    }
  }

  Expr MakeBinary(BinaryOpExpr b, Expr lhs, Expr rhs) {
    std::string_view op = BinaryOpString(b.op);
    if (lhs.IsLogQuery()) {
      SemanticError(absl::StrCat("unexpected type for left leg of binary operation (", AV(op),
                                 "): ", GoTypeName(lhs)));
    }
    if (rhs.IsLogQuery()) {
      SemanticError(absl::StrCat("unexpected type for right leg of binary operation (", AV(op),
                                 "): ", GoTypeName(rhs)));
    }
    const auto* l = std::get_if<LiteralExpr>(&lhs.node);
    const auto* r = std::get_if<LiteralExpr>(&rhs.node);
    if (IsSetOp(b.op)) {
      if (l) {
        SemanticError(absl::StrFormat(
            "unexpected literal for left leg of logical/set binary operation (%s): %f", AV(op),
            l->value));
      }
      if (r) {
        SemanticError(absl::StrFormat(
            "unexpected literal for right leg of logical/set binary operation (%s): %f", AV(op),
            r->value));
      }
    }
    if (l && r)
      return Expr{LiteralExpr{Fold(b.op, l->value, r->value)}};
    b.lhs = std::move(lhs);
    b.rhs = std::move(rhs);
    return Expr{std::move(b)};
  }

  double ParseNumberText(const std::string& text, std::string_view what) {
    absl::StatusOr<double> v = ParseGoFloat(text);
    if (!v.ok()) {
      SemanticError(
          absl::StrCat("unable to parse ", AV(what), " as a float: ", v.status().message()));
    }
    return *v;
  }

  Expr ParseUnary() {
    const Token& t = Cur();
    switch (t.kind) {
      case Tok::kNumber: {
        Advance();
        return Expr{LiteralExpr{ParseNumberText(t.text, "literal")}};
      }
      case Tok::kAdd:
      case Tok::kSub: {
        bool neg = t.kind == Tok::kSub;
        Advance();
        const Token& n = Expect(Tok::kNumber, "NUMBER");
        double v = ParseNumberText(n.text, "literal");
        return Expr{LiteralExpr{neg ? -v : v}};
      }
      case Tok::kOpenParen: {
        Advance();
        Expr e = ParseBinary(1);
        Expect(Tok::kCloseParen);
        return e;
      }
      case Tok::kOpenBrace:
        return Expr{ParseLogExpr()};
      case Tok::kRangeOp:
        return ParseRangeAggregation();
      case Tok::kVectorOp:
        return ParseVectorAggregation();
      case Tok::kLabelReplace:
        return ParseLabelReplace();
      case Tok::kVector: {
        Advance();
        Expect(Tok::kOpenParen);
        const Token& n = Expect(Tok::kNumber, "NUMBER");
        Expect(Tok::kCloseParen);
        return Expr{VectorExpr{ParseNumberText(n.text, "vectorExpr")}};
      }
      default:
        SyntaxError(t);
    }
  }

  // A metric expression argument: a log query there is a syntax error at the token after it
  // (where yacc notices it cannot reduce to metricExpr).
  Expr ParseMetricArgument() {
    Expr e = ParseBinary(1);
    if (e.IsLogQuery())
      SyntaxError(Cur());
    return e;
  }

  Grouping ParseGrouping() {
    Grouping g;
    g.without = Cur().kind == Tok::kWithout;
    Advance();
    Expect(Tok::kOpenParen);
    g.labels = ParseLabelList();
    return g;
  }

  bool AtGrouping() {
    Tok k = Cur().kind;
    return k == Tok::kBy || k == Tok::kWithout;
  }

  Expr ParseRangeAggregation() {
    RangeAggregationExpr r;
    r.op = static_cast<RangeOp>(Cur().sub);
    std::string name(RangeOpName(r.op));
    Advance();
    Expect(Tok::kOpenParen);
    std::optional<std::string> param;
    if (Cur().kind == Tok::kNumber) {
      param = Cur().text;
      Advance();
      Expect(Tok::kComma, ",");
    }
    r.range = ParseLogRange();
    Expect(Tok::kCloseParen);
    if (AtGrouping())
      r.grouping = ParseGrouping();

    if (param) {
      if (r.op != RangeOp::kQuantileOverTime) {
        SemanticError(absl::StrCat("parameter ", *param, " not supported for operation ", name));
      }
      absl::StatusOr<double> v = ParseGoFloat(*param);
      if (!v.ok()) {
        SemanticError(
            absl::StrCat("invalid parameter for operation ", name, ": ", v.status().message()));
      }
      r.param = *v;
    } else if (r.op == RangeOp::kQuantileOverTime) {
      SemanticError(absl::StrCat("parameter required for operation ", name));
    }
    if (r.grouping) {
      switch (r.op) {
        case RangeOp::kAvgOverTime:
        case RangeOp::kStddevOverTime:
        case RangeOp::kStdvarOverTime:
        case RangeOp::kQuantileOverTime:
        case RangeOp::kMaxOverTime:
        case RangeOp::kMinOverTime:
        case RangeOp::kFirstOverTime:
        case RangeOp::kLastOverTime:
          break;
        default:
          SemanticError(absl::StrCat("grouping not allowed for ", name, " aggregation"));
      }
    }
    if (r.range.unwrap) {
      switch (r.op) {
        case RangeOp::kCountOverTime:
        case RangeOp::kBytesOverTime:
        case RangeOp::kBytesRate:
          SemanticError(absl::StrCat("invalid aggregation ", name, " with unwrap"));
        default:
          break;
      }
    } else {
      switch (r.op) {
        case RangeOp::kBytesOverTime:
        case RangeOp::kBytesRate:
        case RangeOp::kCountOverTime:
        case RangeOp::kRate:
        case RangeOp::kAbsentOverTime:
          break;
        default:
          SemanticError(absl::StrCat("invalid aggregation ", name, " without unwrap"));
      }
    }
    return Expr{std::move(r)};
  }

  Expr ParseVectorAggregation() {
    VectorOp op = static_cast<VectorOp>(Cur().sub);
    std::string name(VectorOpName(op));
    Advance();
    std::optional<Grouping> grouping;
    if (AtGrouping())
      grouping = ParseGrouping();
    Expect(Tok::kOpenParen);
    std::optional<std::string> param;
    if (Cur().kind == Tok::kNumber && PeekKind(1) == Tok::kComma) {
      param = Cur().text;
      Advance();
      Advance();
    }
    Expr inner = ParseMetricArgument();
    Expect(Tok::kCloseParen);
    if (!grouping && AtGrouping())
      grouping = ParseGrouping();

    VectorAggregationExpr v{op, grouping.value_or(Grouping{}), std::nullopt, std::move(inner)};
    switch (op) {
      case VectorOp::kTopK:
      case VectorOp::kBottomK:
      case VectorOp::kApproxTopK: {
        if (!param)
          SemanticError(absl::StrCat("parameter required for operation ", name));
        int64_t k = 0;
        bool ok = !param->empty();
        for (char c : *param) {
          ok = ok && c >= '0' && c <= '9' && k < (int64_t{1} << 53);
          if (ok)
            k = k * 10 + (c - '0');
        }
        if (!ok)
          SemanticError(absl::StrCat("invalid parameter ", name, "(", *param, ","));
        if (k <= 0) {
          SemanticError(
              absl::StrCat("invalid parameter (must be greater than 0) ", name, "(", *param));
        }
        if (op == VectorOp::kApproxTopK && grouping) {
          SemanticError(absl::StrCat("grouping not allowed for ", name, " aggregation"));
        }
        v.param = k;
        break;
      }
      default:
        if (param) {
          SemanticError(
              absl::StrCat("unsupported parameter for operation ", name, "(", *param, ","));
        }
    }
    if ((op == VectorOp::kSort || op == VectorOp::kSortDesc) && !v.grouping.labels.empty()) {
      SemanticError("sort and sort_desc doesn't allow grouping by ");
    }
    return Expr{std::move(v)};
  }

  Expr ParseLabelReplace() {
    Advance();
    Expect(Tok::kOpenParen);
    Expr inner = ParseMetricArgument();
    Expect(Tok::kComma, ",");
    std::string dst = Expect(Tok::kString, "STRING").text;
    Expect(Tok::kComma, ",");
    std::string replacement = Expect(Tok::kString, "STRING").text;
    Expect(Tok::kComma, ",");
    std::string src = Expect(Tok::kString, "STRING").text;
    Expect(Tok::kComma, ",");
    std::string regex = Expect(Tok::kString, "STRING").text;
    Expect(Tok::kCloseParen);
    // Loki compiles "^(?:" + regex + ")$"; report its errors in that form.
    absl::StatusOr<std::shared_ptr<const re2::RE2>> anchored =
        CompileGoRegex(absl::StrCat("^(?:", regex, ")$"));
    if (!anchored.ok()) {
      SemanticError(absl::StrCat("invalid regex in label_replace: ", anchored.status().message()));
    }
    absl::StatusOr<std::shared_ptr<const re2::RE2>> re = CompileGoRegex(regex);
    if (!re.ok()) {
      SemanticError(absl::StrCat("invalid regex in label_replace: ", re.status().message()));
    }
    return Expr{LabelReplaceExpr{std::move(inner), std::move(dst), std::move(replacement),
                                 std::move(src), std::move(regex), *std::move(re)}};
  }

  // ---- log queries and ranges ---------------------------------------------------------------

  LogSelectorExpr ParseLogExpr() {
    LogSelectorExpr e;
    e.matchers = ParseSelector();
    e.pipeline = ParsePipeline(/*allow_unwrap=*/false);
    return e;
  }

  bool AtUnwrap() { return Cur().kind == Tok::kPipe && PeekKind(1) == Tok::kUnwrap; }

  LogRange ParseLogRange() {
    DepthGuard guard(this);
    if (Cur().kind == Tok::kOpenParen) {
      if (PeekKind(1) == Tok::kOpenParen) {  // ( logRangeExpr )
        Advance();
        LogRange r = ParseLogRange();
        Expect(Tok::kCloseParen);
        return r;
      }
      if (PeekKind(1) == Tok::kOpenBrace) {
        Advance();
        LogRange r;
        r.selector.matchers = ParseSelector();
        r.selector.pipeline = ParsePipeline(/*allow_unwrap=*/true);
        if (AtUnwrap())
          r.unwrap = ParseUnwrap();
        if (Cur().kind == Tok::kCloseParen) {
          // ( selector [pipeline] [unwrap] ) RANGE [offset], and for a bare selector also
          // ( selector ) RANGE [offset] unwrap.
          bool bare = r.selector.pipeline.empty() && !r.unwrap;
          Advance();
          r.range_ns = Expect(Tok::kRange).duration_ns;
          ParseOffset(&r);
          if (bare && AtUnwrap())
            r.unwrap = ParseUnwrap();
          return r;
        }
        ContinueLogRange(&r);
        Expect(Tok::kCloseParen);
        return r;
      }
      Advance();
      SyntaxError(Cur());
    }
    if (Cur().kind != Tok::kOpenBrace)
      SyntaxError(Cur());
    LogRange r;
    r.selector.matchers = ParseSelector();
    r.selector.pipeline = ParsePipeline(/*allow_unwrap=*/true);
    if (AtUnwrap())
      r.unwrap = ParseUnwrap();
    ContinueLogRange(&r);
    return r;
  }

  // After `selector [pipeline] [unwrap]`: RANGE [offset], and when nothing preceded the range
  // the pipeline and unwrap may follow it (`{x}[5m] | json | unwrap y`).
  void ContinueLogRange(LogRange* r) {
    bool bare = r->selector.pipeline.empty() && !r->unwrap;
    r->range_ns = Expect(Tok::kRange).duration_ns;
    ParseOffset(r);
    if (bare) {
      r->selector.pipeline = ParsePipeline(/*allow_unwrap=*/true);
      if (AtUnwrap())
        r->unwrap = ParseUnwrap();
    }
  }

  void ParseOffset(LogRange* r) {
    if (Cur().kind != Tok::kOffset)
      return;
    Advance();
    r->offset_ns = Expect(Tok::kDuration, "DURATION").duration_ns;
  }

  Unwrap ParseUnwrap() {
    Expect(Tok::kPipe);
    Expect(Tok::kUnwrap);
    Unwrap u;
    if (Cur().kind == Tok::kConv) {
      u.conv = static_cast<UnwrapConv>(Cur().sub);
      Advance();
      Expect(Tok::kOpenParen);
      u.label = ExpectIdentifier();
      Expect(Tok::kCloseParen);
    } else {
      u.label = ExpectIdentifier();
    }
    while (Cur().kind == Tok::kPipe) {
      Advance();
      Tok k = Cur().kind;
      if (k != Tok::kIdentifier && k != Tok::kOpenParen)
        SyntaxError(Cur());
      u.post_filters.push_back(ParseLabelFilter());
    }
    return u;
  }

  std::vector<Matcher> ParseSelector() {
    Expect(Tok::kOpenBrace);
    std::vector<Matcher> matchers;
    if (Cur().kind == Tok::kCloseBrace) {
      Advance();
      return matchers;
    }
    while (true) {
      matchers.push_back(ParseMatcher());
      if (Cur().kind == Tok::kComma) {
        Advance();
        continue;
      }
      Expect(Tok::kCloseBrace, "} or ,");
      return matchers;
    }
  }

  Matcher ParseMatcher() {
    std::string name = ExpectIdentifier("IDENTIFIER");
    std::optional<MatchType> type = ToMatchType(Cur().kind);
    if (!type)
      SyntaxError(Cur(), "= or =~ or !~ or !=");
    Advance();
    std::string value = Expect(Tok::kString, "STRING").text;
    return MakeMatcher(*type, std::move(name), std::move(value));
  }

  static Matcher MakeMatcher(MatchType type, std::string name, std::string value) {
    absl::StatusOr<Matcher> m = Matcher::Create(type, std::move(name), std::move(value));
    if (!m.ok())
      SemanticError(SV(m.status().message()));
    return *std::move(m);
  }

  // ---- pipelines ----------------------------------------------------------------------------

  std::vector<Stage> ParsePipeline(bool allow_unwrap) {
    std::vector<Stage> stages;
    while (true) {
      Tok k = Cur().kind;
      if (ToLineFilterOp(k)) {
        ParseLineFilter(&stages);
        continue;
      }
      if (k != Tok::kPipe)
        break;
      if (PeekKind(1) == Tok::kUnwrap) {
        if (allow_unwrap)
          break;
        Advance();
        SyntaxError(Cur());  // unwrap outside a range aggregation
      }
      Advance();
      stages.push_back(ParseStage());
    }
    return stages;
  }

  Stage ParseStage() {
    const Token& t = Cur();
    switch (t.kind) {
      case Tok::kLogfmt: {
        Advance();
        LogfmtParserStage s;
        while (Cur().kind == Tok::kParserFlag) {
          (Cur().text == "--strict" ? s.strict : s.keep_empty) = true;
          Advance();
        }
        if (Cur().kind == Tok::kIdentifier)
          s.extractions = ParseExtractions(false);
        return s;
      }
      case Tok::kJson: {
        Advance();
        JsonParserStage s;
        if (Cur().kind == Tok::kIdentifier)
          s.extractions = ParseExtractions(true);
        return s;
      }
      case Tok::kRegexp: {
        Advance();
        RegexpParserStage s{Expect(Tok::kString, "STRING").text};
        ValidateRegexpParser(s.regex);
        return s;
      }
      case Tok::kPattern: {
        Advance();
        PatternParserStage s;
        s.pattern = Expect(Tok::kString, "STRING").text;
        absl::StatusOr<std::vector<PatternNode>> nodes = ParsePattern(s.pattern);
        if (!nodes.ok()) {
          SemanticError(absl::StrCat("invalid pattern parser: ", nodes.status().message()));
        }
        s.nodes = *std::move(nodes);
        return s;
      }
      case Tok::kUnpack:
        Advance();
        return UnpackParserStage{};
      case Tok::kDecolorize:
        Advance();
        return DecolorizeStage{};
      case Tok::kLineFormat: {
        Advance();
        return LineFormatStage{Expect(Tok::kString, "STRING").text};
      }
      case Tok::kLabelFormat:
        return ParseLabelFormat();
      case Tok::kDrop: {
        Advance();
        return DropLabelsStage{ParseNamedMatchers()};
      }
      case Tok::kKeep: {
        Advance();
        return KeepLabelsStage{ParseNamedMatchers()};
      }
      case Tok::kIdentifier:
        if (PeekKind(1) == Tok::kIdentifier && EqualsIgnoreCase(t.text, "distinct")) {
          Advance();
          DistinctStage s;
          while (true) {
            s.labels.push_back(ExpectIdentifier());
            if (Cur().kind != Tok::kComma)
              break;
            Advance();
          }
          return s;
        }
        return LabelFilterStage{ParseLabelFilter()};
      case Tok::kOpenParen:
        return LabelFilterStage{ParseLabelFilter()};
      default:
        SyntaxError(t);
    }
  }

  static bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
      return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(a[i])) != b[i])
        return false;
    }
    return true;
  }

  void ParseLineFilter(std::vector<Stage>* stages) {
    LineFilterStage f;
    f.op = *ToLineFilterOp(Cur().kind);
    Advance();
    while (true) {
      LineFilterValue v;
      if (Cur().kind == Tok::kString) {
        v.value = Cur().text;
        Advance();
      } else if (Cur().kind == Tok::kIp) {
        Advance();
        Expect(Tok::kOpenParen, "(");
        v.value = Expect(Tok::kString, "STRING").text;
        Expect(Tok::kCloseParen, ")");
        v.ip = IpPattern{};
      } else {
        SyntaxError(Cur(), "STRING or ip");
      }
      f.values.push_back(std::move(v));
      if (Cur().kind != Tok::kOr)
        break;
      Advance();
    }
    for (LineFilterValue& v : f.values) {
      if (v.ip) {
        if (f.op != LineFilterOp::kContains && f.op != LineFilterOp::kNotContains) {
          StageError(Print(Stage{f}), "ip: invalid operation");
        }
        absl::StatusOr<IpPattern> p = ParseIpPattern(v.value);
        if (!p.ok())
          StageError(Print(Stage{f}), SV(p.status().message()));
        v.ip = *p;
      } else if (f.op == LineFilterOp::kRegexp || f.op == LineFilterOp::kNotRegexp) {
        absl::StatusOr<std::shared_ptr<const re2::RE2>> re = CompileGoRegex(v.value);
        if (!re.ok())
          StageError(Print(Stage{f}), SV(re.status().message()));
      }
    }
    // `!= "a" or "b"` means neither a nor b: Loki rewrites it into chained filters.
    if (IsNegated(f.op) && f.values.size() > 1) {
      for (LineFilterValue& v : f.values)
        stages->push_back(LineFilterStage{f.op, {std::move(v)}});
      return;
    }
    stages->push_back(std::move(f));
  }

  std::vector<LabelExtraction> ParseExtractions(bool json) {
    std::vector<LabelExtraction> out;
    while (true) {
      LabelExtraction x;
      x.label = ExpectIdentifier();
      if (Cur().kind == Tok::kEq) {
        Advance();
        x.expression = Expect(Tok::kString, "STRING").text;
      } else {
        x.expression = x.label;
      }
      out.push_back(std::move(x));
      if (Cur().kind != Tok::kComma)
        break;
      Advance();
    }
    if (json) {
      for (LabelExtraction& x : out) {
        absl::StatusOr<std::vector<JsonPathElem>> path = ParseJsonPath(x.expression);
        if (!path.ok()) {
          StageError(Print(Stage{JsonParserStage{out}}),
                     absl::StrCat("cannot parse expression [", x.expression,
                                  "]: ", path.status().message()));
        }
        x.json_path = *std::move(path);
      }
    }
    return out;
  }

  static void ValidateRegexpParser(const std::string& regex) {
    absl::StatusOr<std::shared_ptr<const re2::RE2>> re = CompileGoRegex(regex);
    if (!re.ok()) {
      SemanticError(absl::StrCat("invalid regexp parser: ", re.status().message()));
    }
    const auto& names = (*re)->NamedCapturingGroups();
    if (names.empty()) {
      SemanticError("invalid regexp parser: at least one named capture must be supplied");
    }
    for (const auto& [name, index] : names) {
      if (!IsValidLabelName(name)) {
        SemanticError(
            absl::StrCat("invalid regexp parser: invalid extracted label name '", name, "'"));
      }
    }
  }

  Stage ParseLabelFormat() {
    Advance();
    LabelFormatStage s;
    while (true) {
      LabelFormat f;
      f.name = ExpectIdentifier();
      Expect(Tok::kEq, "=");
      if (Cur().kind == Tok::kIdentifier) {
        f.rename = true;
        f.value = Cur().text;
      } else if (Cur().kind == Tok::kString) {
        f.value = Cur().text;
      } else {
        SyntaxError(Cur(), "IDENTIFIER or STRING");
      }
      Advance();
      s.formats.push_back(std::move(f));
      if (Cur().kind != Tok::kComma)
        break;
      Advance();
    }
    absl::flat_hash_set<std::string> seen;
    for (const LabelFormat& f : s.formats) {
      if (f.name == "__error__")
        StageError(Print(Stage{s}), "__error__ cannot be formatted");
      if (!seen.insert(f.name).second) {
        StageError(Print(Stage{s}), absl::StrCat("multiple label name '", f.name,
                                                 "' not allowed in a single format operation"));
      }
    }
    return s;
  }

  std::vector<NamedMatcher> ParseNamedMatchers() {
    std::vector<NamedMatcher> out;
    while (true) {
      NamedMatcher m;
      m.name = ExpectIdentifier();
      if (std::optional<MatchType> type = ToMatchType(Cur().kind)) {
        Advance();
        std::string value = Expect(Tok::kString, "STRING").text;
        m.matcher = MakeMatcher(*type, m.name, std::move(value));
      }
      out.push_back(std::move(m));
      if (Cur().kind != Tok::kComma)
        break;
      Advance();
    }
    return out;
  }

  // ---- label filters ------------------------------------------------------------------------
  //
  // Loki's grammar is ambiguous here (labelFilter: labelFilter labelFilter | labelFilter AND
  // labelFilter | labelFilter COMMA labelFilter | labelFilter OR labelFilter) and yacc resolves
  // it with its precedence table (and > or, both left-associative) plus "shift" wherever a rule
  // or token has no precedence (`,` and juxtaposition). The effect: `and` binds tighter than
  // `or`, and a `,` or a juxtaposed filter takes everything to its right as its right operand:
  // `a, b or c` is `a and (b or c)`, `a or b, c` is `a or (b and c)`.

  LabelFilter ParseLabelFilter() {
    DepthGuard guard(this);
    LabelFilter lhs = ParseLabelFilterAnd();
    while (Cur().kind == Tok::kOr) {
      Advance();
      LabelFilter rhs = ParseLabelFilterAnd();
      lhs = LabelFilter{BinaryLabelFilter{false, std::move(lhs), std::move(rhs)}};
    }
    return lhs;
  }

  LabelFilter ParseLabelFilterAnd() {
    LabelFilter lhs = ParseLabelFilterExtended();
    while (Cur().kind == Tok::kAnd) {
      Advance();
      LabelFilter rhs = ParseLabelFilterExtended();
      lhs = LabelFilter{BinaryLabelFilter{true, std::move(lhs), std::move(rhs)}};
    }
    return lhs;
  }

  LabelFilter ParseLabelFilterExtended() {
    LabelFilter atom = ParseLabelFilterAtom();
    Tok k = Cur().kind;
    if (k == Tok::kComma) {
      Advance();
    } else if (k != Tok::kIdentifier && k != Tok::kOpenParen) {
      return atom;
    }
    LabelFilter rest = ParseLabelFilter();
    return LabelFilter{BinaryLabelFilter{true, std::move(atom), std::move(rest)}};
  }

  LabelFilter ParseLabelFilterAtom() {
    if (Cur().kind == Tok::kOpenParen) {
      Advance();
      LabelFilter f = ParseLabelFilter();
      Expect(Tok::kCloseParen);
      return f;
    }
    std::string name = ExpectIdentifier();
    Tok op = Cur().kind;
    switch (op) {
      case Tok::kEq:
      case Tok::kNeq:
        if (PeekKind(1) == Tok::kString) {
          Advance();
          std::string value = Cur().text;
          Advance();
          return LabelFilter{
              StringLabelFilter{MakeMatcher(*ToMatchType(op), std::move(name), std::move(value))}};
        }
        if (PeekKind(1) == Tok::kIp) {
          Advance();
          Advance();
          Expect(Tok::kOpenParen, "(");
          IpLabelFilter f;
          f.name = std::move(name);
          f.negated = op == Tok::kNeq;
          f.pattern = Expect(Tok::kString, "STRING").text;
          Expect(Tok::kCloseParen, ")");
          absl::StatusOr<IpPattern> p = ParseIpPattern(f.pattern);
          if (!p.ok()) {
            StageError(Print(Stage{LabelFilterStage{LabelFilter{f}}}), SV(p.status().message()));
          }
          f.parsed = *p;
          return LabelFilter{std::move(f)};
        }
        Advance();
        return ParseComparisonValue(std::move(name), op == Tok::kEq ? CmpOp::kEq : CmpOp::kNe);
      case Tok::kRe:
      case Tok::kNre: {
        Advance();
        std::string value = Expect(Tok::kString, "STRING").text;
        return LabelFilter{
            StringLabelFilter{MakeMatcher(*ToMatchType(op), std::move(name), std::move(value))}};
      }
      case Tok::kCmpEq:
        Advance();
        return ParseComparisonValue(std::move(name), CmpOp::kEq);
      case Tok::kGt:
        Advance();
        return ParseComparisonValue(std::move(name), CmpOp::kGt);
      case Tok::kGte:
        Advance();
        return ParseComparisonValue(std::move(name), CmpOp::kGe);
      case Tok::kLt:
        Advance();
        return ParseComparisonValue(std::move(name), CmpOp::kLt);
      case Tok::kLte:
        Advance();
        return ParseComparisonValue(std::move(name), CmpOp::kLe);
      default:
        SyntaxError(Cur());
    }
  }

  LabelFilter ParseComparisonValue(std::string name, CmpOp op) {
    const Token& t = Cur();
    switch (t.kind) {
      case Tok::kDuration:
        Advance();
        return LabelFilter{DurationLabelFilter{std::move(name), op, t.duration_ns}};
      case Tok::kBytes:
        Advance();
        return LabelFilter{BytesLabelFilter{std::move(name), op, t.bytes}};
      case Tok::kNumber:
        Advance();
        return LabelFilter{
            NumericLabelFilter{std::move(name), op, ParseNumberText(t.text, "literal")}};
      case Tok::kAdd:
      case Tok::kSub: {
        bool neg = t.kind == Tok::kSub;
        Advance();
        double v = ParseNumberText(Expect(Tok::kNumber, "NUMBER").text, "literal");
        return LabelFilter{NumericLabelFilter{std::move(name), op, neg ? -v : v}};
      }
      default:
        SyntaxError(t, "BYTES or NUMBER or DURATION");
    }
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

Expr ParseUnvalidated(std::string_view query) {
  if (query.size() >= kMaxQueryLength) {
    SemanticError(absl::StrFormat("input size too long (%d > %d)", query.size(), kMaxQueryLength));
  }
  return Parser(query).ParseRoot();
}

void ValidateSelectors(const Expr& e) {
  ForEachSelector(e, [](const LogSelectorExpr& s) {
    for (const Matcher& m : s.matchers) {
      if (!m.MatchesEmpty())
        return;
    }
    SemanticError(kEmptyCompatibleError);
  });
}

template <typename Fn>
auto Guarded(Fn fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const ParseFailure& f) {
    return absl::InvalidArgumentError(f.message);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Expr>> ParseExpr(std::string_view query) {
  return Guarded([&]() -> absl::StatusOr<std::unique_ptr<Expr>> {
    Expr e = ParseUnvalidated(query);
    ValidateSelectors(e);
    return std::make_unique<Expr>(std::move(e));
  });
}

absl::StatusOr<LogSelectorExpr> ParseLogSelector(std::string_view query, bool validate) {
  return Guarded([&]() -> absl::StatusOr<LogSelectorExpr> {
    Expr e = ParseUnvalidated(query);
    if (!e.IsLogQuery())
      return absl::InvalidArgumentError("only log selector is supported");
    if (validate)
      ValidateSelectors(e);
    return std::get<LogSelectorExpr>(std::move(e.node));
  });
}

absl::StatusOr<std::unique_ptr<Expr>> ParseSampleExpr(std::string_view query) {
  absl::StatusOr<std::unique_ptr<Expr>> e = ParseExpr(query);
  if (!e.ok())
    return e;
  if ((*e)->IsLogQuery())
    return absl::InvalidArgumentError("only sample expression supported");
  return e;
}

absl::StatusOr<std::vector<Matcher>> ParseMatchers(std::string_view selector, bool validate) {
  return Guarded([&]() -> absl::StatusOr<std::vector<Matcher>> {
    Expr e = ParseUnvalidated(selector);
    if (validate)
      ValidateSelectors(e);
    const auto* s = std::get_if<LogSelectorExpr>(&e.node);
    if (s == nullptr || !s->pipeline.empty()) {
      return absl::InvalidArgumentError("only label matchers is supported");
    }
    return s->matchers;
  });
}

}  // namespace norn::logql::syntax
