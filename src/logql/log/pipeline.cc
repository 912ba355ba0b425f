#include "logql/log/pipeline.h"

#include <algorithm>

#include "logql/log/go_conv.h"

namespace norn::logql_log {

StreamPipeline::StreamPipeline(Pipeline* p, Labels labels)
    : pipeline_(p), builder_(std::move(labels)) {
  builder_.set_hints(&p->hints());
}

bool StreamPipeline::Process(int64_t ts_ns, std::string_view line,
                             std::span<const Label> structured_metadata,
                             std::string_view* line_out) {
  builder_.Reset();
  if (!structured_metadata.empty()) builder_.AddStructuredMetadata(structured_metadata);
  *line_out = line;
  return pipeline_->Run(ts_ns, line_out, &builder_);
}

Pipeline::Pipeline(std::vector<std::unique_ptr<Stage>> stages, ParserHints hints)
    : stages_(std::move(stages)), hints_(std::move(hints)) {}

bool Pipeline::Run(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) {
  for (auto& s : stages_) {
    if (!s->Process(ts_ns, line, lbs)) return false;
  }
  return true;
}

StreamPipeline* Pipeline::ForStream(const Labels& labels) {
  auto& bucket = streams_[labels.Hash()];
  for (auto& sp : bucket) {
    if (sp->base_labels() == labels) return sp.get();
  }
  bucket.push_back(std::unique_ptr<StreamPipeline>(new StreamPipeline(this, labels)));
  return bucket.back().get();
}

std::vector<std::string> Pipeline::RequiredSubstrings() const {
  std::vector<std::string> out;
  for (const auto& s : stages_) {
    // Only filters that see the original line count; stop at the first stage that may
    // rewrite it (line_format, unpack, decolorize, ...). Label-only stages never do, but we
    // cannot tell them apart here, so stop at any non-line-filter stage.
    if (!s->IsLineFilter()) break;
    auto* lf = dynamic_cast<const LineFilterStage*>(s.get());
    if (!lf) break;
    for (auto& n : lf->RequiredSubstrings()) {
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(std::move(n));
    }
  }
  return out;
}

std::vector<std::string> Pipeline::RequiredLabelNames() const {
  std::vector<std::string> out;
  for (const auto& s : stages_) {
    for (auto& n : s->RequiredLabelNames()) {
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(std::move(n));
    }
  }
  return out;
}

bool ConvertUnwrapped(UnwrapConversion conv, std::string_view value, double* out,
                      std::string* err) {
  switch (conv) {
    case UnwrapConversion::kFloat:
      return GoParseFloat(value, out, err);
    case UnwrapConversion::kDuration:
    case UnwrapConversion::kDurationSeconds: {
      int64_t ns;
      if (!GoParseDuration(value, &ns, err)) return false;
      // Go's Duration.Seconds(): whole seconds plus the fractional part.
      int64_t sec = ns / 1000000000;
      int64_t nsec = ns % 1000000000;
      *out = static_cast<double>(sec) + static_cast<double>(nsec) / 1e9;
      return true;
    }
    case UnwrapConversion::kBytes: {
      uint64_t b;
      if (!GoParseBytes(value, &b, err)) return false;
      *out = static_cast<double>(b);
      return true;
    }
  }
  return false;
}

SampleExtractor::SampleExtractor(std::vector<std::unique_ptr<Stage>> pre,
                                 std::vector<std::unique_ptr<Stage>> post,
                                 SampleExtractorOptions opts, ParserHints hints)
    : pre_(std::move(pre), std::move(hints)), post_(std::move(post)), opts_(std::move(opts)) {
  groups_ = opts_.groups;
  without_ = opts_.without;
  if (opts_.source == SampleSource::kUnwrap && (groups_.empty() || without_)) {
    without_ = true;
    groups_.push_back(opts_.unwrap_label);
  }
}

SampleExtractor::Stream::Stream(SampleExtractor* e, Labels labels)
    : ex_(e), builder_(std::move(labels)) {
  builder_.set_hints(&e->pre_.hints());
  if (!e->groups_.empty() || e->without_ || e->opts_.no_labels) {
    builder_.SetGrouping(e->groups_, e->without_, e->opts_.no_labels);
  }
}

SampleExtractor::Stream* SampleExtractor::ForStream(const Labels& labels) {
  auto& bucket = streams_[labels.Hash()];
  for (auto& s : bucket) {
    if (s->builder().base() == labels) return s.get();
  }
  bucket.push_back(std::unique_ptr<Stream>(new Stream(this, labels)));
  return bucket.back().get();
}

bool SampleExtractor::Stream::Process(int64_t ts_ns, std::string_view line,
                                      std::span<const Label> structured_metadata,
                                      double* value) {
  builder_.Reset();
  if (!structured_metadata.empty()) builder_.AddStructuredMetadata(structured_metadata);
  std::string_view l = line;
  if (!ex_->pre_.Run(ts_ns, &l, &builder_)) return false;
  switch (ex_->opts_.source) {
    case SampleSource::kCount:
      *value = 1;
      break;
    case SampleSource::kBytes:
      *value = static_cast<double>(l.size());
      break;
    case SampleSource::kUnwrap: {
      auto v = builder_.Get(ex_->opts_.unwrap_label);
      // Loki: a missing or empty label yields no sample (not an error).
      if (!v || v->empty()) return false;
      err_.clear();
      double d = 0;
      if (!ConvertUnwrapped(ex_->opts_.conversion, *v, &d, &err_)) {
        builder_.SetErr(kErrSampleExtraction);
        builder_.SetErrorDetails(err_);
        d = 0;
      }
      *value = d;
      if (!ex_->post_.Run(ts_ns, &l, &builder_)) return false;
      break;
    }
  }
  return true;
}

}  // namespace norn::logql_log
