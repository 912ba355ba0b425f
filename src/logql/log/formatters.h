// Formatting stages: `line_format`, `label_format`, `drop`, `keep`, `decolorize`, `distinct`.
//
// line_format / label_format render Go text/templates through TemplateRenderer, an interface
// the template module implements (this folder does not depend on it). A render error sets
// __error__="TemplateFormatErr" with the error text in __error_details__ and keeps the entry
// (line_format then keeps the original line), as Loki does.
//
// Not thread-safe (scratch buffers); see stage.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "logql/log/label_filter.h"
#include "logql/log/labels_builder.h"
#include "logql/log/stage.h"

namespace norn::logql_log {

// Read-only view of an entry's labels as a template sees them: every current label, including
// `__error__` / `__error_details__` when set, sorted by name. Borrowed: valid only during the
// Render call it is passed to.
class LabelsView {
 public:
  LabelsView() = default;
  explicit LabelsView(const std::vector<LabelPair>* sorted) : pairs_(sorted) {}
  std::optional<std::string_view> Get(std::string_view name) const;
  size_t size() const { return pairs_ ? pairs_->size() : 0; }
  const LabelPair& operator[](size_t i) const { return (*pairs_)[i]; }
  auto begin() const { return pairs_->begin(); }
  auto end() const { return pairs_->end(); }

 private:
  const std::vector<LabelPair>* pairs_ = nullptr;
};

// A compiled template. Render appends the output to *out (which the caller cleared).
class TemplateRenderer {
 public:
  virtual ~TemplateRenderer() = default;
  virtual absl::Status Render(const LabelsView& labels, std::string_view line, int64_t ts_ns,
                              std::string* out) = 0;
};

class LineFormatter : public Stage {
 public:
  explicit LineFormatter(std::unique_ptr<TemplateRenderer> tmpl) : tmpl_(std::move(tmpl)) {}
  bool Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) override;

 private:
  std::unique_ptr<TemplateRenderer> tmpl_;
  std::vector<LabelPair> pairs_;
  std::string buf_[2];  // alternate so the input line may live in the previous output
  int which_ = 0;
};

// One `label_format` item: `dst=src` (rename) or `dst="{{template}}"`.
struct LabelFormat {
  std::string name;
  std::string rename_from;                   // set for renames
  std::unique_ptr<TemplateRenderer> tmpl;    // set for templates
};

class LabelFormatter : public Stage {
 public:
  // Errors on a name used twice (Loki: "multiple label name '%s' not allowed in a single
  // format operation").
  static absl::StatusOr<std::unique_ptr<LabelFormatter>> Create(std::vector<LabelFormat> f);
  bool Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) override;

 private:
  LabelFormatter() = default;
  std::vector<LabelFormat> formats_;
  std::vector<LabelPair> pairs_;
  std::vector<std::string> snapshot_;  // owned copy of the labels the templates see
  std::string value_;
  std::string out_;
};

// A `drop` / `keep` item: a bare name, or a matcher (`drop level="debug"`).
struct LabelSelector {
  std::string name;
  std::optional<LabelMatcher> matcher;
};

class DropLabels : public Stage {
 public:
  explicit DropLabels(std::vector<LabelSelector> sel) : sel_(std::move(sel)) {}
  bool Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) override;

 private:
  std::vector<LabelSelector> sel_;
};

class KeepLabels : public Stage {
 public:
  explicit KeepLabels(std::vector<LabelSelector> sel) : sel_(std::move(sel)) {}
  bool Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) override;

 private:
  std::vector<LabelSelector> sel_;
  std::vector<std::string> to_delete_;
};

// Strips ANSI escape sequences (the stripansi expression Loki uses).
class Decolorizer : public Stage {
 public:
  Decolorizer();
  ~Decolorizer() override;
  bool Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string buf_;
};

// `distinct a, b`: keeps the first entry for each combination of the labels' values; entries
// missing one of the labels pass. State lives for the pipeline's lifetime (one query).
class DistinctFilter : public Stage {
 public:
  explicit DistinctFilter(std::vector<std::string> labels) : labels_(std::move(labels)) {}
  bool Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) override;

 private:
  std::vector<std::string> labels_;
  StringSet seen_;
  std::string key_;
};

}  // namespace norn::logql_log
