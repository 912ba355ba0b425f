// Pipeline: the compiled per-entry log pipeline of one LogQL query (Loki's log.Pipeline), and
// the sample extractors of metric queries built on it.
//
// Lifecycle: the engine constructs the stages (line filters, parsers, label filters,
// formatters ...) from the AST once per query and hands them to a Pipeline. For each input
// stream it asks ForStream(labels) for a StreamPipeline (cached by the labels' hash) that owns
// the stream's LabelsBuilder, so base-label work (hashing, `_extracted` checks, the unchanged
// result) is done once per stream. Process then runs the stages over one entry:
//
//   std::string_view out;
//   if (sp->Process(ts, line, entry.structured_metadata, &out)) {
//     Fingerprint fp = sp->builder().Hash();           // group into output streams
//     const Labels& labels = sp->builder().CachedLabels();
//   }
//
// `out` is either `line` or a view into a stage buffer, valid until the next Process call on
// any StreamPipeline of the same Pipeline. Metric queries use SampleExtractor the same way.
//
// Threading: a Pipeline, its StreamPipelines and its stages are used by one thread at a time
// (stages keep scratch buffers). Build one per query execution thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/labels.h"
#include "logql/log/labels_builder.h"
#include "logql/log/line_filter.h"
#include "logql/log/stage.h"

namespace norn::logql_log {

class Pipeline;

class StreamPipeline {
 public:
  // Runs the stages over one entry. Returns false when the entry is dropped.
  bool Process(int64_t ts_ns, std::string_view line, std::span<const Label> structured_metadata,
               std::string_view* line_out);
  LabelsBuilder& builder() { return builder_; }
  const Labels& base_labels() const { return builder_.base(); }

 private:
  friend class Pipeline;
  friend class SampleExtractor;
  StreamPipeline(Pipeline* p, Labels labels);
  Pipeline* pipeline_;
  LabelsBuilder builder_;
};

class Pipeline {
 public:
  // `hints` (optional) tells parsers which labels are needed; by default all are extracted.
  explicit Pipeline(std::vector<std::unique_ptr<Stage>> stages, ParserHints hints = {});
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // The StreamPipeline for a stream, created on first use and cached by label hash. The
  // pointer stays valid for the Pipeline's lifetime.
  StreamPipeline* ForStream(const Labels& labels);

  // Runs the stages with an existing builder (the builder's Reset is the caller's job).
  bool Run(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs);

  bool noop() const { return stages_.empty(); }
  const ParserHints& hints() const { return hints_; }
  // Needles every passing line must contain, from the leading line-filter stages (those that
  // run before anything can rewrite the line); empty if none. For chunk/block skipping.
  std::vector<std::string> RequiredSubstrings() const;
  // Union of the labels the stages read.
  std::vector<std::string> RequiredLabelNames() const;

 private:
  std::vector<std::unique_ptr<Stage>> stages_;
  ParserHints hints_;
  absl::flat_hash_map<Fingerprint, std::vector<std::unique_ptr<StreamPipeline>>> streams_;
};

// ---------------------------------------------------------------------------------------------
// Sample extraction (metric queries).

enum class SampleSource {
  kCount,   // count_over_time, rate: 1 per entry
  kBytes,   // bytes_over_time, bytes_rate: line length after the pipeline
  kUnwrap,  // unwrap <label>
};

enum class UnwrapConversion {
  kFloat,            // unwrap x
  kDuration,         // unwrap duration(x): seconds
  kDurationSeconds,  // unwrap duration_seconds(x): seconds
  kBytes,            // unwrap bytes(x)
};

// Converts an unwrapped label value; on failure sets *err to Go's message.
bool ConvertUnwrapped(UnwrapConversion conv, std::string_view value, double* out,
                      std::string* err);

struct SampleExtractorOptions {
  SampleSource source = SampleSource::kCount;
  std::string unwrap_label;  // kUnwrap
  UnwrapConversion conversion = UnwrapConversion::kFloat;
  // Grouping of the range aggregation (`count_over_time(...) by (x)`), Loki's rules: with
  // unwrap and no `by`, the unwrapped label is removed (grouping "without" it).
  std::vector<std::string> groups;
  bool without = false;
  bool no_labels = false;
};

// A pipeline plus sample extraction: `pre` stages, then the value, then `post` stages (the
// label filters after `unwrap`, typically `| __error__=""`).
class SampleExtractor {
 public:
  SampleExtractor(std::vector<std::unique_ptr<Stage>> pre,
                  std::vector<std::unique_ptr<Stage>> post, SampleExtractorOptions opts,
                  ParserHints hints = {});

  class Stream {
   public:
    // Returns false when the entry yields no sample. On true, *value is the sample and
    // builder().GroupedHash() / GroupedLabels() identify its series.
    bool Process(int64_t ts_ns, std::string_view line, std::span<const Label> structured_metadata,
                 double* value);
    LabelsBuilder& builder() { return builder_; }
    // True when Process() of an entry without structured metadata always succeeds with 1
    // (count) or the line's length (bytes) and leaves the builder as it is: no stages. A
    // collector may then skip Process() for such entries once it knows their series.
    bool YieldsLineSamples() const {
      return ex_->pre_.noop() && ex_->opts_.source != SampleSource::kUnwrap;
    }
    SampleSource source() const { return ex_->opts_.source; }

   private:
    friend class SampleExtractor;
    Stream(SampleExtractor* e, Labels labels);
    SampleExtractor* ex_;
    LabelsBuilder builder_;
    std::string err_;
  };

  Stream* ForStream(const Labels& labels);

 private:
  Pipeline pre_;
  Pipeline post_;
  SampleExtractorOptions opts_;
  std::vector<std::string> groups_;
  bool without_;
  absl::flat_hash_map<Fingerprint, std::vector<std::unique_ptr<Stream>>> streams_;
};

}  // namespace norn::logql_log
