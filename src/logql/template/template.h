// Go text/template, the subset Loki's `line_format` and `label_format` use, with Loki's function
// set (strings, regex, math, dates, `__line__`, `__timestamp__`, the sprig functions Loki ships).
//
// A Template is parsed once per query stage and executed once per log entry. Execution reads the
// labels through a LabelSource (Loki passes a map[string]string, so missing keys print as ""),
// the current line and its timestamp; it allocates nothing beyond the output string for templates
// that only print fields and literals, and only what function results need otherwise.
//
// Parse errors read like Go's (`template: line:1: function "foo" not defined`); execution errors
// too (`template: line:1:2: executing "line" at <...>: error calling div: ...`). Loki turns an
// execution error into __error__=TemplateFormatErr; that is the caller's job.
//
// Thread-safety: a parsed Template is immutable; Execute may run concurrently from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace norn::logql_template {

// Read access to the labels of the entry being formatted. Views returned must stay valid for the
// duration of one Execute call.
class LabelSource {
 public:
  virtual ~LabelSource() = default;
  virtual std::optional<std::string_view> Get(std::string_view name) const = 0;
  // Visits every label, in any order. Only templates that use the whole map (`{{ . }}`,
  // `{{ range $k, $v := . }}`, `len .`) call it.
  virtual void ForEach(
      absl::FunctionRef<void(std::string_view name, std::string_view value)> fn) const = 0;
};

// A LabelSource over borrowed (name, value) pairs, for tests and simple callers. Linear lookup.
class PairsLabelSource : public LabelSource {
 public:
  using Pair = std::pair<std::string_view, std::string_view>;
  explicit PairsLabelSource(std::vector<Pair> pairs) : pairs_(std::move(pairs)) {}
  std::optional<std::string_view> Get(std::string_view name) const override;
  void ForEach(absl::FunctionRef<void(std::string_view, std::string_view)> fn) const override;

 private:
  std::vector<Pair> pairs_;
};

struct ExecContext {
  const LabelSource* labels = nullptr;  // null means no labels
  std::string_view line;                // what __line__ returns
  int64_t timestamp_ns = 0;             // what __timestamp__ returns (time.Unix(0, ts))
};

namespace internal {
struct Tree;
}

class Template {
 public:
  // `name` is the Go template name used in error messages: Loki uses "line" for line_format and
  // "label" for label_format.
  static absl::StatusOr<std::unique_ptr<Template>> Parse(std::string_view text,
                                                         std::string_view name = "line");
  ~Template();
  Template(const Template&) = delete;
  Template& operator=(const Template&) = delete;

  // Replaces *out with the rendered text. On error *out holds partial output. `out` must not
  // alias ctx.line or any label value (they are read while *out is written).
  [[nodiscard]] absl::Status Execute(const ExecContext& ctx, std::string* out) const;

  // Label names referenced as fields (`.foo`, `.foo.bar` gives foo and bar), unique, in order of
  // first use; what Loki's RequiredLabelNames reports.
  const std::vector<std::string>& RequiredLabelNames() const;
  // True when the template uses the label map as a whole (`.`, `$`, `index . "x"`, range over
  // it), so every label may be needed.
  bool UsesAllLabels() const;
  bool UsesLine() const;       // calls __line__
  bool UsesTimestamp() const;  // calls __timestamp__
  // The template is a single text node (no actions); Execute always yields ConstantText().
  bool IsConstant() const;
  std::string_view ConstantText() const;
  std::string_view text() const;

 private:
  explicit Template(std::unique_ptr<internal::Tree> tree);
  std::unique_ptr<internal::Tree> tree_;
};

}  // namespace norn::logql_template
