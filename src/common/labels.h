// Labels: a stream's identity, a set of (name, value) pairs kept sorted by name with unique
// names. Its string form is Loki's/Prometheus's `{name="value", other="x"}` and its fingerprint
// is a 64-bit xxHash of the sorted pairs (stable across processes and releases: it names chunk
// objects and WAL series, so never change it).
//
// Value type; not thread-safe to mutate, safe to share const.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace norn {

struct Label {
  std::string name;
  std::string value;
  friend bool operator==(const Label&, const Label&) = default;
  friend auto operator<=>(const Label&, const Label&) = default;
};

using Fingerprint = uint64_t;

class Labels {
 public:
  Labels() = default;
  // Sorts; with duplicate names the last one wins (use Validate-style checks before if a
  // duplicate is an error for the caller).
  explicit Labels(std::vector<Label> labels);
  Labels(std::initializer_list<std::pair<std::string_view, std::string_view>> labels);

  const std::vector<Label>& items() const { return labels_; }
  size_t size() const { return labels_.size(); }
  bool empty() const { return labels_.empty(); }
  auto begin() const { return labels_.begin(); }
  auto end() const { return labels_.end(); }

  // Value of `name`, or "" when absent (Prometheus semantics: absent == empty).
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;

  // `{a="1", b="2"}` with Go-style escaping of `\`, `"` and newlines in values.
  std::string ToString() const;
  Fingerprint Hash() const;

  friend bool operator==(const Labels&, const Labels&) = default;
  friend auto operator<=>(const Labels& a, const Labels& b) { return a.labels_ <=> b.labels_; }

 private:
  std::vector<Label> labels_;
};

// Parses the label-set syntax clients send in push requests: `{a="1", b="x\"y"}`. Values are Go
// double-quoted strings (backtick raw strings accepted too). Errors on malformed input and on
// duplicate names, with messages in Loki's spirit (`parse error at line 1, col 5: ...`).
absl::StatusOr<Labels> ParseLabels(std::string_view text);

// True when `name` matches Prometheus's label name grammar `[a-zA-Z_][a-zA-Z0-9_]*`.
bool IsValidLabelName(std::string_view name);

// Appends `s` as a Go double-quoted string literal (as strconv.Quote does for printable UTF-8).
void AppendGoQuoted(std::string* out, std::string_view s);

}  // namespace norn
