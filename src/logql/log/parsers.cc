#include "logql/log/parsers.h"

#include <map>

#include <re2/re2.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/labels.h"
#include "common/strings.h"
#include "logql/log/labels_builder.h"

namespace norn::logql_log {

RegexpParser::~RegexpParser() = default;

absl::StatusOr<std::unique_ptr<RegexpParser>> RegexpParser::Create(std::string_view regex) {
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_max_mem(64 << 20);
  auto re = std::make_unique<RE2>(re2::StringPiece(regex.data(), regex.size()), opts);
  if (!re->ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("error parsing regexp: ", re->error(), ": `", AV(regex), "`"));
  }
  if (re->NumberOfCapturingGroups() == 0) {
    return absl::InvalidArgumentError("at least one named capture must be supplied");
  }
  std::unique_ptr<RegexpParser> p(new RegexpParser());
  p->names_.assign(re->NumberOfCapturingGroups(), "");
  absl::flat_hash_set<std::string> seen;
  for (const auto& [idx, name] : re->CapturingGroupNames()) {
    if (!IsValidLabelName(name)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid extracted label name '", name, "'"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate extracted label name '", name, "'"));
    }
    p->names_[idx - 1] = name;
  }
  if (seen.empty()) return absl::InvalidArgumentError("at least one named capture must be supplied");
  p->sp_.resize(p->names_.size() + 1);
  p->re_ = std::move(re);
  return p;
}

bool RegexpParser::Process(int64_t, std::string_view* line, LabelsBuilder* lbs) {
  auto& sp = sp_;
  // RE2::Match fills submatches; unmatched groups stay null (Go: empty).
  if (!re_->Match(re2::StringPiece(line->data(), line->size()), 0, line->size(),
                  RE2::UNANCHORED, sp.data(), static_cast<int>(sp.size()))) {
    return true;
  }
  const ParserHints& hints = lbs->hints();
  for (size_t i = 1; i < sp.size(); ++i) {
    const std::string& n = names_[i - 1];
    if (n.empty()) continue;
    name_.assign(n);
    if (lbs->BaseHas(name_)) name_.append(kDuplicateSuffix);
    if (!hints.ShouldExtract(name_)) continue;
    lbs->Set(name_, std::string_view(sp[i].data() ? sp[i].data() : "", sp[i].size()));
  }
  return true;
}

absl::StatusOr<std::unique_ptr<PatternParser>> PatternParser::Create(std::string_view pattern) {
  auto p = Pattern::Parse(pattern, /*require_named_capture=*/true);
  if (!p.ok()) return p.status();
  for (const auto& n : p->names()) {
    if (!IsValidLabelName(n)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid capture label name '", n, "'"));
    }
  }
  return std::unique_ptr<PatternParser>(new PatternParser(std::move(*p)));
}

bool PatternParser::Process(int64_t, std::string_view* line, LabelsBuilder* lbs) {
  if (lbs->hints().no_labels()) return true;
  pattern_.Matches(*line, &matches_);
  const auto& names = pattern_.names();
  const ParserHints& hints = lbs->hints();
  for (size_t i = 0; i < matches_.size(); ++i) {
    name_.assign(names[i]);
    if (lbs->BaseHas(name_)) name_.append(kDuplicateSuffix);
    if (!hints.ShouldExtract(name_)) continue;
    lbs->Set(name_, matches_[i]);
  }
  return true;
}

}  // namespace norn::logql_log
