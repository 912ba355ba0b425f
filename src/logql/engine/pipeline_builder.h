// Builds the per-entry stages of logql/log from the AST of logql/syntax: line filters, parsers,
// label filters, line_format / label_format (through logql/template), drop / keep, decolorize,
// distinct; and sample extractors for range aggregations.
//
// Everything returned is owned by the caller and used by one thread at a time (stages keep
// scratch buffers). Errors are InvalidArgument with Loki's text (bad template, ...).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "logql/log/formatters.h"
#include "logql/log/pipeline.h"
#include "logql/log/stage.h"
#include "logql/syntax/ast.h"

namespace norn::logql_engine {

// The stages of a log selector's pipeline, in order; without its leading line filters when
// `without_leading_line_filters` (a source that applies LeadingLineFilter already did).
absl::StatusOr<std::vector<std::unique_ptr<logql_log::Stage>>> BuildStages(
    const std::vector<logql::syntax::Stage>& pipeline, bool without_leading_line_filters = false);

// One label filter expression as a stage.
absl::StatusOr<std::unique_ptr<logql_log::LabelFilter>> BuildLabelFilter(
    const logql::syntax::LabelFilter& f);

// Compiles a Go template for line_format (name "line") / label_format (name "label").
absl::StatusOr<std::unique_ptr<logql_log::TemplateRenderer>> BuildTemplate(std::string_view text,
                                                                           std::string_view name);

// Needles every line passing the pipeline contains (leading line filters only).
std::vector<std::string> LineFilterNeedles(const std::vector<logql::syntax::Stage>& pipeline);
// The pipeline's leading line filters as one (thread-safe) filter that every line the pipeline
// keeps passes; null when the pipeline does not start with a line filter.
std::shared_ptr<const logql_log::LineFilter> LeadingLineFilter(
    const std::vector<logql::syntax::Stage>& pipeline);
// True when every stage is one of those leading line filters (or there are none): the
// pipeline keeps exactly the lines LeadingLineFilter passes, unchanged.
bool OnlyLineFilters(const std::vector<logql::syntax::Stage>& pipeline);

// The sample extractor of a range aggregation. `outer` is the grouping of an enclosing `sum`
// that Loki pushes down into the extractor (only when the range aggregation has none and the
// operation allows it; see CanPushDownGrouping).
// `without_leading_line_filters` as for BuildStages.
absl::StatusOr<std::unique_ptr<logql_log::SampleExtractor>> BuildSampleExtractor(
    const logql::syntax::RangeAggregationExpr& r,
    const std::optional<logql::syntax::Grouping>& outer, bool without_leading_line_filters = false);

// Loki's canInjectVectorGrouping: `sum by (...)` over count/rate/bytes/bytes_rate/sum_over_time
// without its own grouping may group at the source.
bool CanPushDownGrouping(logql::syntax::VectorOp vec_op,
                         const logql::syntax::RangeAggregationExpr& r);

}  // namespace norn::logql_engine
