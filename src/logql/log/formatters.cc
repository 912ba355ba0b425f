#include "logql/log/formatters.h"

#include <algorithm>
#include <cstring>

#include <re2/re2.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace norn::logql_log {

std::optional<std::string_view> LabelsView::Get(std::string_view name) const {
  if (!pairs_) return std::nullopt;
  auto it = std::lower_bound(pairs_->begin(), pairs_->end(), name,
                             [](const LabelPair& p, std::string_view n) { return p.first < n; });
  if (it != pairs_->end() && it->first == name) return it->second;
  return std::nullopt;
}

bool LineFormatter::Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) {
  lbs->SortedPairs(&pairs_);
  which_ ^= 1;
  std::string& out = buf_[which_];
  out.clear();
  absl::Status st = tmpl_->Render(LabelsView(&pairs_), *line, ts_ns, &out);
  if (!st.ok()) {
    lbs->SetErr(kErrTemplateFormat);
    lbs->SetErrorDetails(SV(st.message()));
    return true;
  }
  *line = out;
  return true;
}

absl::StatusOr<std::unique_ptr<LabelFormatter>> LabelFormatter::Create(
    std::vector<LabelFormat> formats) {
  absl::flat_hash_set<std::string> names;
  for (const auto& f : formats) {
    if (!names.insert(f.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "multiple label name '", f.name, "' not allowed in a single format operation"));
    }
    if (!f.tmpl && f.rename_from.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("label_format ", f.name, ": no value"));
    }
  }
  std::unique_ptr<LabelFormatter> lf(new LabelFormatter());
  lf->formats_ = std::move(formats);
  return lf;
}

bool LabelFormatter::Process(int64_t ts_ns, std::string_view* line, LabelsBuilder* lbs) {
  bool have_data = false;
  for (auto& f : formats_) {
    if (!f.tmpl) {
      auto v = lbs->Get(f.rename_from);
      if (v) {
        value_.assign(v->data(), v->size());  // Set may move the source's storage
        auto cat = lbs->CategoryOf(f.rename_from).value_or(LabelCategory::kParsed);
        lbs->Set(cat, f.name, value_);
        lbs->Del(f.rename_from);
      }
      continue;
    }
    if (!have_data) {
      // The templates of one label_format see the labels as they were at the first template
      // (Loki evaluates them against one snapshot map).
      lbs->SortedPairs(&pairs_);
      if (snapshot_.size() < pairs_.size() * 2) snapshot_.resize(pairs_.size() * 2);
      for (size_t i = 0; i < pairs_.size(); ++i) {
        snapshot_[2 * i].assign(pairs_[i].first.data(), pairs_[i].first.size());
        snapshot_[2 * i + 1].assign(pairs_[i].second.data(), pairs_[i].second.size());
      }
      for (size_t i = 0; i < pairs_.size(); ++i) {
        pairs_[i] = {snapshot_[2 * i], snapshot_[2 * i + 1]};
      }
      have_data = true;
    }
    out_.clear();
    absl::Status st = f.tmpl->Render(LabelsView(&pairs_), *line, ts_ns, &out_);
    if (!st.ok()) {
      lbs->SetErr(kErrTemplateFormat);
      lbs->SetErrorDetails(SV(st.message()));
      continue;
    }
    lbs->Set(LabelCategory::kParsed, f.name, out_);
  }
  return true;
}

bool DropLabels::Process(int64_t, std::string_view*, LabelsBuilder* lbs) {
  for (const auto& s : sel_) {
    const std::string& name = s.matcher ? s.matcher->name() : s.name;
    if (name == kErrorLabel) {
      if (!s.matcher || s.matcher->Matches(lbs->GetErr())) lbs->ResetError();
      continue;
    }
    if (name == kErrorDetailsLabel) {
      if (!s.matcher || s.matcher->Matches(lbs->GetErrorDetails())) lbs->ResetErrorDetails();
      continue;
    }
    auto v = lbs->Get(name);
    if (!s.matcher) {
      if (v) lbs->Del(name);
      continue;
    }
    if (s.matcher->Matches(v ? *v : std::string_view())) lbs->Del(name);
  }
  return true;
}

bool KeepLabels::Process(int64_t, std::string_view*, LabelsBuilder* lbs) {
  if (sel_.empty()) return true;
  to_delete_.clear();
  lbs->ForEach([&](std::string_view name, std::string_view value) {
    if (name == kErrorLabel || name == kErrorDetailsLabel) return;
    for (const auto& s : sel_) {
      if (s.matcher) {
        if (s.matcher->name() == name && s.matcher->Matches(value)) return;
      } else if (s.name == name) {
        return;
      }
    }
    to_delete_.emplace_back(name);
  });
  for (const auto& n : to_delete_) lbs->Del(n);
  return true;
}

struct Decolorizer::Impl {
  RE2 re{"[\\x{1B}\\x{9B}][[\\]()#;?]*(?:(?:(?:[a-zA-Z\\d]*(?:;[a-zA-Z\\d]*)*)?\\x{07})|"
         "(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PRZcf-ntqry=><~]))"};
};

Decolorizer::Decolorizer() : impl_(std::make_unique<Impl>()) {}
Decolorizer::~Decolorizer() = default;

bool Decolorizer::Process(int64_t, std::string_view* line, LabelsBuilder*) {
  // Fast path: no ESC byte and no U+009B (C2 9B) means nothing to strip.
  if (std::memchr(line->data(), 0x1B, line->size()) == nullptr &&
      line->find("\xC2\x9B") == std::string_view::npos) {
    return true;
  }
  buf_.assign(line->data(), line->size());
  RE2::GlobalReplace(&buf_, impl_->re, "");
  *line = buf_;
  return true;
}

bool DistinctFilter::Process(int64_t, std::string_view*, LabelsBuilder* lbs) {
  key_.clear();
  for (const auto& l : labels_) {
    auto v = lbs->Get(l);
    if (!v) return true;
    // Length-prefixed so values cannot run together.
    absl::StrAppend(&key_, v->size(), ":", AV(*v), ";");
  }
  return seen_.insert(key_).second;
}

}  // namespace norn::logql_log
