#include "logql/log/labels_builder.h"

#include <algorithm>
#include <cstring>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "logql/log/utf8.h"

namespace norn::logql_log {

const ParserHints LabelsBuilder::kAllHints;
const Labels LabelsBuilder::kEmpty;

ParserHints ParserHints::Only(std::vector<std::string> names) {
  ParserHints h;
  h.all_ = false;
  for (auto& n : names) h.names_.insert(std::move(n));
  return h;
}

ParserHints ParserHints::NoLabels() {
  ParserHints h;
  h.all_ = false;
  h.no_labels_ = true;
  return h;
}

bool ParserHints::ShouldExtract(std::string_view name) const {
  if (all_) return true;
  if (names_.contains(name)) return true;
  if (name.size() > kDuplicateSuffix.size() &&
      name.substr(name.size() - kDuplicateSuffix.size()) == kDuplicateSuffix) {
    return names_.contains(name.substr(0, name.size() - kDuplicateSuffix.size()));
  }
  return false;
}

bool ParserHints::ShouldExtractPrefix(std::string_view prefix) const {
  if (all_) return true;
  for (const auto& n : names_) {
    if (n.size() > prefix.size() && n[prefix.size()] == '_' &&
        std::string_view(n).substr(0, prefix.size()) == prefix) {
      return true;
    }
  }
  return false;
}

namespace {

// Bytes that are valid label-name characters as they are: [a-zA-Z0-9_].
struct KeyCharTable {
  bool ok[256] = {};
  constexpr KeyCharTable() {
    for (int c = 'a'; c <= 'z'; ++c) ok[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) ok[c] = true;
    for (int c = '0'; c <= '9'; ++c) ok[c] = true;
    ok[static_cast<int>('_')] = true;
  }
};
constexpr KeyCharTable kKeyChars;

}  // namespace

void AppendSanitizedKey(std::string* out, std::string_view key, bool is_prefix) {
  // Fast path: already a valid name (the common case); no whitespace to trim either.
  {
    size_t i = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(key.data());
    while (i < key.size() && kKeyChars.ok[p[i]]) ++i;
    if (i == key.size()) {
      if (key.empty()) return;
      if (is_prefix && p[0] >= '0' && p[0] <= '9') out->push_back('_');
      out->append(key.data(), key.size());
      return;
    }
  }
  // Trim Unicode whitespace on both ends (Go's strings.TrimSpace).
  size_t b = 0, e = key.size();
  while (b < e) {
    size_t w;
    char32_t r = utf8::Decode(key, b, &w);
    if (!utf8::IsSpace(r)) break;
    b += w;
  }
  size_t last = b;
  for (size_t i = b; i < e;) {
    size_t w;
    char32_t r = utf8::Decode(key, i, &w);
    if (!utf8::IsSpace(r)) last = i + w;
    i += w;
  }
  e = last;
  if (b == e) return;
  if (is_prefix && key[b] >= '0' && key[b] <= '9') out->push_back('_');
  for (size_t i = b; i < e;) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    if (c < 0x80) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                (c >= '0' && c <= '9');
      out->push_back(ok ? static_cast<char>(c) : '_');
      ++i;
      continue;
    }
    size_t w;
    utf8::Decode(key, i, &w);
    out->push_back('_');
    i += w;
  }
}

std::string SanitizeKey(std::string_view key, bool is_prefix) {
  std::string out;
  AppendSanitizedKey(&out, key, is_prefix);
  return out;
}

LabelsBuilder::LabelsBuilder() : hints_(&kAllHints) { base_hash_ = base_.Hash(); }

LabelsBuilder::LabelsBuilder(Labels base) : hints_(&kAllHints) { SetBase(std::move(base)); }

void LabelsBuilder::SetBase(Labels base) {
  base_ = std::move(base);
  base_hash_ = base_.Hash();
  base_sigs_ = 0;
  for (const Label& l : base_) {
    if (!l.name.empty()) base_sigs_ |= NameSig(l.name);
  }
  base_hidden_.assign(base_.size(), 0);
  base_hidden_any_ = false;
  num_adds_ = 0;
  add_sigs_ = 0;
  err_.clear();
  err_details_.clear();
  cache_.clear();
  if (grouping_set_) SetGrouping({groups_.begin(), groups_.end()}, group_without_,
                                 group_no_labels_);
}

void LabelsBuilder::Reset() {
  if (base_hidden_any_) {
    std::fill(base_hidden_.begin(), base_hidden_.end(), 0);
    base_hidden_any_ = false;
  }
  num_adds_ = 0;
  add_sigs_ = 0;
  err_.clear();
  err_details_.clear();
}

LabelsBuilder::Slot& LabelsBuilder::Slot::operator=(Slot&& o) noexcept {
  name_buf = std::move(o.name_buf);
  value_buf = std::move(o.value_buf);
  name_owned = o.name_owned;
  value_owned = o.value_owned;
  name = name_owned ? std::string_view(name_buf) : o.name;
  value = value_owned ? std::string_view(value_buf) : o.value;
  category = o.category;
  return *this;
}

int LabelsBuilder::ScanAdds(std::string_view name) const {
  if (name.empty()) return -1;
  for (size_t i = 0; i < num_adds_; ++i) {
    if (ShortEqual(adds_[i].name, name)) return static_cast<int>(i);
  }
  return -1;
}

int LabelsBuilder::ScanBase(std::string_view name) const {
  if (name.empty()) return -1;
  const auto& items = base_.items();
  for (size_t i = 0; i < items.size(); ++i) {
    if (ShortEqual(items[i].name, name)) return static_cast<int>(i);
  }
  return -1;
}

void LabelsBuilder::HideBase(int i) {
  base_hidden_[i] = 1;
  base_hidden_any_ = true;
}

void LabelsBuilder::AddStructuredMetadata(std::span<const Label> metadata) {
  std::string tmp;
  for (const Label& l : metadata) {
    if (BaseHas(l.name)) {
      tmp.assign(l.name);
      tmp.append(kDuplicateSuffix);
      Set(LabelCategory::kStructuredMetadata, tmp, l.value);
    } else {
      Set(LabelCategory::kStructuredMetadata, l.name, l.value);
    }
  }
}

void LabelsBuilder::SetImpl(LabelCategory category, std::string_view name, uint64_t sig,
                            std::string_view value, bool borrowed) {
  if (name.size() >= kErrorLabel.size() && name[0] == '_' && name[1] == '_') {
    if (name == kErrorLabel) {
      if (value.data() != err_.data()) SetErr(value);
      return;
    }
    if (name == kErrorDetailsLabel) {
      if (value.data() != err_details_.data()) SetErrorDetails(value);
      return;
    }
  }
  int i = FindAdd(name, sig);
  if (i >= 0) {
    Slot& s = adds_[i];
    if (value.data() != s.value.data() || value.size() != s.value.size()) {
      s.SetValue(value, !borrowed);
    }
    s.category = category;
    return;
  }
  int b = FindBase(name, sig);
  if (b >= 0) HideBase(b);
  add_sigs_ |= sig;
  if (num_adds_ == adds_.size()) {
    // Build the slot first: copied `name`/`value` may point into adds_, whose growth moves the
    // slots' buffers (borrowed ones point into lent memory, never into adds_).
    Slot s;
    s.SetName(name, !borrowed);
    s.SetValue(value, !borrowed);
    s.category = category;
    adds_.push_back(std::move(s));
  } else {
    Slot& s = adds_[num_adds_];
    s.SetName(name, !borrowed);
    s.SetValue(value, !borrowed);
    s.category = category;
  }
  ++num_adds_;
}

std::optional<std::string_view> LabelsBuilder::Get(std::string_view name, uint64_t sig) const {
  int i = FindAdd(name, sig);
  if (i >= 0) return adds_[i].value;
  int b = FindBase(name, sig);
  if (b >= 0 && !base_hidden_[b]) return std::string_view(base_.items()[b].value);
  if (name == kErrorLabel && !err_.empty()) return std::string_view(err_);
  if (name == kErrorDetailsLabel && !err_details_.empty()) return std::string_view(err_details_);
  return std::nullopt;
}

std::optional<LabelCategory> LabelsBuilder::CategoryOf(std::string_view name) const {
  int i = FindAdd(name);
  if (i >= 0) return adds_[i].category;
  int b = FindBase(name);
  if (b >= 0 && !base_hidden_[b]) return LabelCategory::kStream;
  return std::nullopt;
}

void LabelsBuilder::Del(std::string_view name) {
  if (name == kErrorLabel) {
    ResetError();
    return;
  }
  if (name == kErrorDetailsLabel) {
    ResetErrorDetails();
    return;
  }
  int i = FindAdd(name);
  if (i >= 0) {
    // Swap with the last live slot (order is irrelevant: output is sorted).
    size_t last = num_adds_ - 1;
    if (static_cast<size_t>(i) != last) std::swap(adds_[i], adds_[last]);
    --num_adds_;
  }
  int b = FindBase(name);
  if (b >= 0) HideBase(b);
}

void LabelsBuilder::SortedPairs(std::vector<LabelPair>* out) const {
  out->clear();
  ForEach([&](std::string_view n, std::string_view v) { out->emplace_back(n, v); });
  std::sort(out->begin(), out->end(),
            [](const LabelPair& a, const LabelPair& b) { return a.first < b.first; });
}

bool LabelsBuilder::GroupKeeps(std::string_view name) const {
  bool in = groups_.contains(name);
  return group_without_ ? !in : in;
}

void LabelsBuilder::BuildScratch(bool grouped) {
  scratch_.clear();
  if (grouped && !group_without_) {
    // `by`: look up the few grouping names instead of sorting and filtering every label.
    for (const auto& [name, sig] : groups_sorted_) {
      if (auto value = Get(name, sig))
        scratch_.emplace_back(name, *value);
    }
    return;
  }
  const auto& items = base_.items();
  // Base labels are already sorted; merge them with the (sorted) added labels.
  order_.clear();
  for (size_t i = 0; i < num_adds_; ++i) order_.push_back(static_cast<uint32_t>(i));
  std::sort(order_.begin(), order_.end(),
            [&](uint32_t a, uint32_t b) { return adds_[a].name < adds_[b].name; });
  LabelPair extra[2];
  size_t nextra = 0;
  // "__error__" < "__error_details__".
  if (!err_.empty()) extra[nextra++] = {kErrorLabel, err_};
  if (!err_details_.empty()) extra[nextra++] = {kErrorDetailsLabel, err_details_};
  size_t bi = 0, ai = 0, ei = 0;
  auto skip_hidden = [&] {
    while (bi < items.size() && base_hidden_[bi]) ++bi;
  };
  skip_hidden();
  while (bi < items.size() || ai < order_.size() || ei < nextra) {
    std::string_view best;
    int which = -1;
    if (bi < items.size()) {
      best = items[bi].name;
      which = 0;
    }
    if (ai < order_.size() && (which < 0 || adds_[order_[ai]].name < best)) {
      best = adds_[order_[ai]].name;
      which = 1;
    }
    if (ei < nextra && (which < 0 || extra[ei].first < best)) {
      best = extra[ei].first;
      which = 2;
    }
    LabelPair p;
    if (which == 0) {
      p = {items[bi].name, items[bi].value};
      ++bi;
      skip_hidden();
    } else if (which == 1) {
      p = {adds_[order_[ai]].name, adds_[order_[ai]].value};
      ++ai;
    } else {
      p = extra[ei++];
    }
    if (grouped && !GroupKeeps(p.first)) continue;
    scratch_.push_back(p);
  }
}

Fingerprint LabelsBuilder::HashPairs(const std::vector<LabelPair>& pairs) {
  // One XXH64 call over a contiguous copy: cheaper than streaming four small updates per label.
  static constexpr char kSep = '\xff';
  hash_buf_.clear();
  for (const auto& [n, v] : pairs) {
    hash_buf_.append(n);
    hash_buf_.push_back(kSep);
    hash_buf_.append(v);
    hash_buf_.push_back(kSep);
  }
  return XXH64(hash_buf_.data(), hash_buf_.size(), 0);
}

Fingerprint LabelsBuilder::Hash() {
  if (Unchanged()) return base_hash_;
  BuildScratch(false);
  return HashPairs(scratch_);
}

Labels LabelsBuilder::ToLabels() const {
  if (Unchanged()) return base_;
  std::vector<Label> v;
  v.reserve(base_.size() + num_adds_ + 2);
  ForEach([&](std::string_view n, std::string_view val) {
    v.push_back(Label{std::string(n), std::string(val)});
  });
  return Labels(std::move(v));
}

const Labels& LabelsBuilder::Lookup(Fingerprint h) {
  auto it = cache_.find(h);
  if (it != cache_.end()) {
    const auto& items = it->second->items();
    bool same = items.size() == scratch_.size();
    for (size_t i = 0; same && i < items.size(); ++i) {
      same = items[i].name == scratch_[i].first && items[i].value == scratch_[i].second;
    }
    if (same) return *it->second;
    // 64-bit collision: answer correctly without caching.
    std::vector<Label> v;
    for (const auto& [n, val] : scratch_) v.push_back(Label{std::string(n), std::string(val)});
    collision_ = Labels(std::move(v));
    return collision_;
  }
  // Bound the cache: entries with unique values (ids, timestamps) would grow it without end.
  if (cache_.size() >= 8192) cache_.clear();
  std::vector<Label> v;
  v.reserve(scratch_.size());
  for (const auto& [n, val] : scratch_) v.push_back(Label{std::string(n), std::string(val)});
  auto labels = std::make_unique<Labels>(std::move(v));
  const Labels& ref = *labels;
  cache_.emplace(h, std::move(labels));
  return ref;
}

const Labels& LabelsBuilder::CachedLabels() {
  if (Unchanged()) return base_;
  BuildScratch(false);
  return Lookup(HashPairs(scratch_));
}

void LabelsBuilder::SetGrouping(std::vector<std::string> groups, bool without, bool no_labels) {
  grouping_set_ = true;
  group_without_ = without;
  group_no_labels_ = no_labels;
  groups_.clear();
  for (auto& g : groups) groups_.insert(std::move(g));
  groups_sorted_.clear();
  for (const auto& g : groups_) groups_sorted_.emplace_back(g, NameSig(g));
  std::sort(groups_sorted_.begin(), groups_sorted_.end());
  std::vector<Label> v;
  for (const Label& l : base_) {
    if (GroupKeeps(l.name)) v.push_back(l);
  }
  base_grouped_ = Labels(std::move(v));
  base_grouped_hash_ = base_grouped_.Hash();
}

Fingerprint LabelsBuilder::GroupedHash() {
  if (!grouping_set_) return Hash();
  if (!err_.empty()) return Hash();
  if (group_no_labels_) return kEmpty.Hash();
  if (num_adds_ == 0 && !base_hidden_any_ && err_details_.empty()) return base_grouped_hash_;
  BuildScratch(true);
  return HashPairs(scratch_);
}

const Labels& LabelsBuilder::GroupedLabels() {
  if (!grouping_set_) return CachedLabels();
  if (!err_.empty()) return CachedLabels();
  if (group_no_labels_) return kEmpty;
  if (num_adds_ == 0 && !base_hidden_any_ && err_details_.empty()) return base_grouped_;
  BuildScratch(true);
  return Lookup(HashPairs(scratch_));
}

}  // namespace norn::logql_log
