// The `regexp` and `pattern` parser stages (json, logfmt and unpack are in their own headers).
//
//  * RegexpParser: RE2 (Go syntax) named groups become labels (`_extracted` on a clash with a
//    stream label); a line the regex does not match passes unchanged with no labels; a group
//    that did not participate sets "" (Go's FindSubmatch gives an empty slice).
//  * PatternParser: Loki's pattern syntax (pattern.h); captures found become labels.
//
// Not thread-safe (scratch buffers); see stage.h.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "logql/log/pattern.h"
#include "logql/log/stage.h"

#include <re2/stringpiece.h>

namespace re2 {
class RE2;
}

namespace norn::logql_log {

class RegexpParser : public Stage {
 public:
  // Errors: invalid regex, no named capture ("at least one named capture must be supplied"),
  // invalid or duplicate names.
  static absl::StatusOr<std::unique_ptr<RegexpParser>> Create(std::string_view regex);
  ~RegexpParser() override;
  bool Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) override;

 private:
  RegexpParser() = default;
  std::unique_ptr<re2::RE2> re_;
  std::vector<std::string> names_;  // by group index (1-based -> names_[i-1]); "" unnamed
  std::vector<re2::StringPiece> sp_;
  std::string name_;
};

class PatternParser : public Stage {
 public:
  static absl::StatusOr<std::unique_ptr<PatternParser>> Create(std::string_view pattern);
  bool Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) override;

 private:
  explicit PatternParser(Pattern p) : pattern_(std::move(p)) {}
  Pattern pattern_;
  std::vector<std::string_view> matches_;
  std::string name_;
};

}  // namespace norn::logql_log
