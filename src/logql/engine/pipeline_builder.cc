#include "logql/engine/pipeline_builder.h"

#include <algorithm>
#include <utility>

#include "common/status.h"
#include "common/strings.h"
#include "logql/log/json_parser.h"
#include "logql/log/label_filter.h"
#include "logql/log/line_filter.h"
#include "logql/log/logfmt_parser.h"
#include "logql/log/parsers.h"
#include "logql/template/template.h"

namespace norn::logql_engine {

namespace syn = logql::syntax;
namespace lg = logql_log;

namespace {

// Exposes the pipeline's sorted label view to a template.
class ViewLabelSource : public logql_template::LabelSource {
 public:
  explicit ViewLabelSource(const lg::LabelsView& v) : v_(v) {}
  std::optional<std::string_view> Get(std::string_view name) const override { return v_.Get(name); }
  void ForEach(absl::FunctionRef<void(std::string_view, std::string_view)> fn) const override {
    for (size_t i = 0; i < v_.size(); ++i)
      fn(v_[i].first, v_[i].second);
  }

 private:
  const lg::LabelsView& v_;
};

class TemplateAdapter : public lg::TemplateRenderer {
 public:
  explicit TemplateAdapter(std::unique_ptr<logql_template::Template> t) : t_(std::move(t)) {}
  absl::Status Render(const lg::LabelsView& labels, std::string_view line, int64_t ts_ns,
                      std::string* out) override {
    if (t_->IsConstant()) {
      out->append(t_->ConstantText());
      return absl::OkStatus();
    }
    ViewLabelSource src(labels);
    logql_template::ExecContext ctx{&src, line, ts_ns};
    return t_->Execute(ctx, out);
  }

 private:
  std::unique_ptr<logql_template::Template> t_;
};

lg::LineMatchType ToLineMatch(syn::LineFilterOp op) {
  switch (op) {
    case syn::LineFilterOp::kContains:
      return lg::LineMatchType::kContains;
    case syn::LineFilterOp::kNotContains:
      return lg::LineMatchType::kNotContains;
    case syn::LineFilterOp::kRegexp:
      return lg::LineMatchType::kRegex;
    case syn::LineFilterOp::kNotRegexp:
      return lg::LineMatchType::kNotRegex;
    case syn::LineFilterOp::kPattern:
      return lg::LineMatchType::kPattern;
    case syn::LineFilterOp::kNotPattern:
      return lg::LineMatchType::kNotPattern;
  }
  return lg::LineMatchType::kContains;
}

lg::CompareOp ToCompare(syn::CmpOp op) {
  switch (op) {
    case syn::CmpOp::kEq:
      return lg::CompareOp::kEqual;
    case syn::CmpOp::kNe:
      return lg::CompareOp::kNotEqual;
    case syn::CmpOp::kGt:
      return lg::CompareOp::kGreater;
    case syn::CmpOp::kGe:
      return lg::CompareOp::kGreaterEqual;
    case syn::CmpOp::kLt:
      return lg::CompareOp::kLess;
    case syn::CmpOp::kLe:
      return lg::CompareOp::kLessEqual;
  }
  return lg::CompareOp::kEqual;
}

lg::StringMatchType ToStringMatch(syn::MatchType t) {
  switch (t) {
    case syn::MatchType::kEqual:
      return lg::StringMatchType::kEqual;
    case syn::MatchType::kNotEqual:
      return lg::StringMatchType::kNotEqual;
    case syn::MatchType::kRegexp:
      return lg::StringMatchType::kRegex;
    case syn::MatchType::kNotRegexp:
      return lg::StringMatchType::kNotRegex;
  }
  return lg::StringMatchType::kEqual;
}

absl::StatusOr<std::unique_ptr<lg::LineFilter>> BuildLineFilter(const syn::LineFilterStage& f) {
  lg::LineMatchType type = ToLineMatch(f.op);
  bool any_ip = std::any_of(f.values.begin(), f.values.end(),
                            [](const syn::LineFilterValue& v) { return v.ip.has_value(); });
  if (!any_ip) {
    if (f.values.size() == 1)
      return lg::NewLineFilter(type, f.values[0].value);
    std::vector<std::string> vals;
    for (const auto& v : f.values)
      vals.push_back(v.value);
    return lg::NewLineFilterOr(type, vals);
  }
  std::vector<std::unique_ptr<lg::LineFilter>> alts;
  bool negated = syn::IsNegated(f.op);
  for (const auto& v : f.values) {
    if (v.ip) {
      ASSIGN_OR_RETURN(auto lf, lg::NewIpLineFilter(false, v.value));
      alts.push_back(std::move(lf));
    } else {
      ASSIGN_OR_RETURN(auto lf,
                       lg::NewLineFilter(negated ? lg::LineMatchType::kContains : type, v.value));
      alts.push_back(std::move(lf));
    }
  }
  std::unique_ptr<lg::LineFilter> any =
      alts.size() == 1 ? std::move(alts[0]) : lg::NewOrLineFilter(std::move(alts));
  if (negated)
    return lg::NewNotLineFilter(std::move(any));
  return any;
}

absl::Status Invalid(const absl::Status& s) {
  if (s.ok() || s.code() == absl::StatusCode::kInvalidArgument)
    return s;
  return absl::InvalidArgumentError(s.message());
}

}  // namespace

absl::StatusOr<std::unique_ptr<lg::TemplateRenderer>> BuildTemplate(std::string_view text,
                                                                    std::string_view name) {
  auto t = logql_template::Template::Parse(text, name);
  if (!t.ok())
    return Invalid(t.status());
  return std::unique_ptr<lg::TemplateRenderer>(new TemplateAdapter(std::move(*t)));
}

absl::StatusOr<std::unique_ptr<lg::LabelFilter>> BuildLabelFilter(const syn::LabelFilter& f) {
  if (const auto* s = std::get_if<syn::StringLabelFilter>(&f.node)) {
    return lg::NewStringLabelFilter(s->matcher.name(), ToStringMatch(s->matcher.type()),
                                    s->matcher.value());
  }
  if (const auto* n = std::get_if<syn::NumericLabelFilter>(&f.node)) {
    return lg::NewNumericLabelFilter(n->name, ToCompare(n->op), n->value);
  }
  if (const auto* d = std::get_if<syn::DurationLabelFilter>(&f.node)) {
    return lg::NewDurationLabelFilter(d->name, ToCompare(d->op), d->value_ns);
  }
  if (const auto* b = std::get_if<syn::BytesLabelFilter>(&f.node)) {
    return lg::NewBytesLabelFilter(b->name, ToCompare(b->op), b->value);
  }
  if (const auto* ip = std::get_if<syn::IpLabelFilter>(&f.node)) {
    return lg::NewIpLabelFilter(ip->name, ip->negated, ip->pattern);
  }
  const auto& bin = std::get<syn::BinaryLabelFilter>(f.node);
  ASSIGN_OR_RETURN(auto l, BuildLabelFilter(*bin.lhs));
  ASSIGN_OR_RETURN(auto r, BuildLabelFilter(*bin.rhs));
  return bin.is_and ? lg::NewAndLabelFilter(std::move(l), std::move(r))
                    : lg::NewOrLabelFilter(std::move(l), std::move(r));
}

namespace {

absl::StatusOr<std::vector<lg::LabelSelector>> BuildSelectors(
    const std::vector<syn::NamedMatcher>& items) {
  std::vector<lg::LabelSelector> out;
  for (const auto& it : items) {
    lg::LabelSelector s;
    s.name = it.name;
    if (it.matcher) {
      ASSIGN_OR_RETURN(
          auto m, lg::LabelMatcher::Create(it.matcher->name(), ToStringMatch(it.matcher->type()),
                                           it.matcher->value()));
      s.matcher.emplace(std::move(m));
    }
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<lg::Stage>> BuildStage(const syn::Stage& st) {
  using R = absl::StatusOr<std::unique_ptr<lg::Stage>>;
  return std::visit(
      [](const auto& s) -> R {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, syn::LineFilterStage>) {
          ASSIGN_OR_RETURN(auto f, BuildLineFilter(s));
          return std::unique_ptr<lg::Stage>(new lg::LineFilterStage(std::move(f)));
        } else if constexpr (std::is_same_v<T, syn::LogfmtParserStage>) {
          // Loki 2.7 semantics: stop at the first syntax error, keep empty values.
          lg::LogfmtOptions opts;
          if (s.extractions.empty())
            return std::unique_ptr<lg::Stage>(new lg::LogfmtParser(opts));
          std::vector<lg::LogfmtExpression> ex;
          for (const auto& e : s.extractions)
            ex.push_back({e.label, e.expression});
          ASSIGN_OR_RETURN(auto p, lg::LogfmtExpressionParser::Create(std::move(ex), opts));
          return std::unique_ptr<lg::Stage>(std::move(p));
        } else if constexpr (std::is_same_v<T, syn::JsonParserStage>) {
          if (s.extractions.empty())
            return std::unique_ptr<lg::Stage>(new lg::JsonParser());
          std::vector<lg::JsonExpression> ex;
          for (const auto& e : s.extractions)
            ex.push_back({e.label, e.expression});
          ASSIGN_OR_RETURN(auto p, lg::JsonExpressionParser::Create(std::move(ex)));
          return std::unique_ptr<lg::Stage>(std::move(p));
        } else if constexpr (std::is_same_v<T, syn::RegexpParserStage>) {
          ASSIGN_OR_RETURN(auto p, lg::RegexpParser::Create(s.regex));
          return std::unique_ptr<lg::Stage>(std::move(p));
        } else if constexpr (std::is_same_v<T, syn::PatternParserStage>) {
          ASSIGN_OR_RETURN(auto p, lg::PatternParser::Create(s.pattern));
          return std::unique_ptr<lg::Stage>(std::move(p));
        } else if constexpr (std::is_same_v<T, syn::UnpackParserStage>) {
          return std::unique_ptr<lg::Stage>(new lg::UnpackParser());
        } else if constexpr (std::is_same_v<T, syn::LabelFilterStage>) {
          ASSIGN_OR_RETURN(auto f, BuildLabelFilter(s.filter));
          return std::unique_ptr<lg::Stage>(std::move(f));
        } else if constexpr (std::is_same_v<T, syn::LineFormatStage>) {
          ASSIGN_OR_RETURN(auto t, BuildTemplate(s.tmpl, "line"));
          return std::unique_ptr<lg::Stage>(new lg::LineFormatter(std::move(t)));
        } else if constexpr (std::is_same_v<T, syn::LabelFormatStage>) {
          std::vector<lg::LabelFormat> fs;
          for (const auto& f : s.formats) {
            lg::LabelFormat lf;
            lf.name = f.name;
            if (f.rename) {
              lf.rename_from = f.value;
            } else {
              ASSIGN_OR_RETURN(lf.tmpl, BuildTemplate(f.value, "label"));
            }
            fs.push_back(std::move(lf));
          }
          ASSIGN_OR_RETURN(auto p, lg::LabelFormatter::Create(std::move(fs)));
          return std::unique_ptr<lg::Stage>(std::move(p));
        } else if constexpr (std::is_same_v<T, syn::DropLabelsStage>) {
          ASSIGN_OR_RETURN(auto sel, BuildSelectors(s.labels));
          return std::unique_ptr<lg::Stage>(new lg::DropLabels(std::move(sel)));
        } else if constexpr (std::is_same_v<T, syn::KeepLabelsStage>) {
          ASSIGN_OR_RETURN(auto sel, BuildSelectors(s.labels));
          return std::unique_ptr<lg::Stage>(new lg::KeepLabels(std::move(sel)));
        } else if constexpr (std::is_same_v<T, syn::DecolorizeStage>) {
          return std::unique_ptr<lg::Stage>(new lg::Decolorizer());
        } else {
          static_assert(std::is_same_v<T, syn::DistinctStage>);
          return std::unique_ptr<lg::Stage>(new lg::DistinctFilter(s.labels));
        }
      },
      st);
}

void CollectFilterNames(const syn::LabelFilter& f, std::vector<std::string>* out) {
  if (const auto* b = std::get_if<syn::BinaryLabelFilter>(&f.node)) {
    CollectFilterNames(*b->lhs, out);
    CollectFilterNames(*b->rhs, out);
    return;
  }
  std::visit(
      [&](const auto& n) {
        using T = std::decay_t<decltype(n)>;
        if constexpr (std::is_same_v<T, syn::StringLabelFilter>) {
          out->push_back(n.matcher.name());
        } else if constexpr (!std::is_same_v<T, syn::BinaryLabelFilter>) {
          out->push_back(n.name);
        }
      },
      f.node);
}

// Parser hints for a metric query grouped `by (groups)`: only the labels later stages read and
// the grouping keeps need extracting. Returns nullopt (extract everything) unless every stage is
// one whose label reads are known exactly.
std::optional<lg::ParserHints> HintsFor(const syn::LogRange& range,
                                        const std::vector<std::string>& groups) {
  std::vector<std::string> names = groups;
  for (const auto& st : range.selector.pipeline) {
    if (const auto* lf = std::get_if<syn::LabelFilterStage>(&st)) {
      CollectFilterNames(lf->filter, &names);
    } else if (std::holds_alternative<syn::LineFilterStage>(st) ||
               std::holds_alternative<syn::LogfmtParserStage>(st) ||
               std::holds_alternative<syn::JsonParserStage>(st) ||
               std::holds_alternative<syn::RegexpParserStage>(st) ||
               std::holds_alternative<syn::PatternParserStage>(st)) {
      continue;
    } else {
      return std::nullopt;
    }
  }
  if (range.unwrap) {
    names.push_back(range.unwrap->label);
    for (const auto& f : range.unwrap->post_filters)
      CollectFilterNames(f, &names);
  }
  return lg::ParserHints::Only(std::move(names));
}

}  // namespace

absl::StatusOr<std::vector<std::unique_ptr<lg::Stage>>> BuildStages(
    const std::vector<syn::Stage>& pipeline, bool without_leading_line_filters) {
  std::vector<std::unique_ptr<lg::Stage>> out;
  out.reserve(pipeline.size());
  bool leading = without_leading_line_filters;
  for (const auto& st : pipeline) {
    // Built even when left out: an invalid filter is still the query's error.
    auto s = BuildStage(st);
    if (!s.ok())
      return Invalid(s.status());
    leading = leading && std::holds_alternative<syn::LineFilterStage>(st);
    if (!leading)
      out.push_back(std::move(*s));
  }
  return out;
}

namespace {

// The line filters the pipeline starts with (up to the first one that does not build).
std::vector<std::unique_ptr<lg::LineFilter>> LeadingLineFilters(
    const std::vector<syn::Stage>& pipeline) {
  std::vector<std::unique_ptr<lg::LineFilter>> filters;
  for (const auto& st : pipeline) {
    const auto* lf = std::get_if<syn::LineFilterStage>(&st);
    if (!lf)
      break;
    auto f = BuildLineFilter(*lf);
    if (!f.ok())
      break;
    filters.push_back(std::move(*f));
  }
  return filters;
}

}  // namespace

std::vector<std::string> LineFilterNeedles(const std::vector<syn::Stage>& pipeline) {
  std::vector<std::unique_ptr<lg::LineFilter>> filters = LeadingLineFilters(pipeline);
  if (filters.empty())
    return {};
  return lg::RequiredSubstrings(filters);
}

std::shared_ptr<const lg::LineFilter> LeadingLineFilter(const std::vector<syn::Stage>& pipeline) {
  std::vector<std::unique_ptr<lg::LineFilter>> filters = LeadingLineFilters(pipeline);
  if (filters.empty())
    return nullptr;
  if (filters.size() == 1)
    return std::move(filters.front());
  return lg::NewAndLineFilter(std::move(filters));
}

bool OnlyLineFilters(const std::vector<syn::Stage>& pipeline) {
  return LeadingLineFilters(pipeline).size() == pipeline.size();
}

bool CanPushDownGrouping(syn::VectorOp vec_op, const syn::RangeAggregationExpr& r) {
  if (vec_op != syn::VectorOp::kSum || r.grouping)
    return false;
  switch (r.op) {
    case syn::RangeOp::kBytesOverTime:
    case syn::RangeOp::kBytesRate:
    case syn::RangeOp::kSumOverTime:
    case syn::RangeOp::kRate:
    case syn::RangeOp::kCountOverTime:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<std::unique_ptr<lg::SampleExtractor>> BuildSampleExtractor(
    const syn::RangeAggregationExpr& r, const std::optional<syn::Grouping>& outer,
    bool without_leading_line_filters) {
  ASSIGN_OR_RETURN(auto pre, BuildStages(r.range.selector.pipeline, without_leading_line_filters));
  std::vector<std::unique_ptr<lg::Stage>> post;
  lg::SampleExtractorOptions opts;
  const syn::Grouping* g = r.grouping ? &*r.grouping : (outer ? &*outer : nullptr);
  if (g) {
    opts.groups = g->labels;
    opts.without = g->without;
    opts.no_labels = !g->without && g->labels.empty();
  }
  if (r.range.unwrap) {
    opts.source = lg::SampleSource::kUnwrap;
    opts.unwrap_label = r.range.unwrap->label;
    switch (r.range.unwrap->conv) {
      case syn::UnwrapConv::kNone:
        opts.conversion = lg::UnwrapConversion::kFloat;
        break;
      case syn::UnwrapConv::kBytes:
        opts.conversion = lg::UnwrapConversion::kBytes;
        break;
      case syn::UnwrapConv::kDuration:
        opts.conversion = lg::UnwrapConversion::kDuration;
        break;
      case syn::UnwrapConv::kDurationSeconds:
        opts.conversion = lg::UnwrapConversion::kDurationSeconds;
        break;
    }
    for (const auto& f : r.range.unwrap->post_filters) {
      ASSIGN_OR_RETURN(auto lf, BuildLabelFilter(f));
      post.push_back(std::move(lf));
    }
  } else if (r.op == syn::RangeOp::kBytesOverTime || r.op == syn::RangeOp::kBytesRate) {
    opts.source = lg::SampleSource::kBytes;
  } else {
    opts.source = lg::SampleSource::kCount;
  }
  lg::ParserHints hints;
  if (g && !g->without) {
    if (auto h = HintsFor(r.range, g->labels))
      hints = std::move(*h);
  }
  return std::make_unique<lg::SampleExtractor>(std::move(pre), std::move(post), std::move(opts),
                                               std::move(hints));
}

}  // namespace norn::logql_engine
