// LabelsBuilder: the per-entry mutable label set of the LogQL log pipeline (Loki's
// log.LabelsBuilder). It sits on top of a stream's base labels (norn::Labels, owned by the
// builder) and holds, for the entry being processed, the structured metadata and parsed labels
// that stages add, the labels they delete, and the `__error__` / `__error_details__` pair.
//
// Lifecycle: one builder per input stream (StreamPipeline owns it). `Reset()` before each entry
// clears the per-entry state without freeing memory (slots and strings are reused), so the
// steady state allocates nothing. The final label set is available as a 64-bit hash (the same
// value norn::Labels::Hash() would give for it, computed without building strings) and as a
// cached norn::Labels looked up by that hash, so grouping entries into output streams costs a
// hash, not a string build.
//
// Categories follow Loki 3: stream (base), structured metadata and parsed labels. A name lives
// in at most one place: setting a name again overrides it (and moves it to the new category).
//
// ParserHints tell parsers which labels later stages need (lazy parsing); the default extracts
// everything.
//
// Not thread-safe: one builder is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/labels.h"
#include "common/strings.h"

namespace norn::logql_log {

inline constexpr std::string_view kErrorLabel = "__error__";
inline constexpr std::string_view kErrorDetailsLabel = "__error_details__";
// Loki's `_extracted` suffix for a parsed label whose name clashes with a stream label.
inline constexpr std::string_view kDuplicateSuffix = "_extracted";

// Values of `__error__` set by the stages (Loki's names).
inline constexpr std::string_view kErrJson = "JSONParserErr";
inline constexpr std::string_view kErrLogfmt = "LogfmtParserErr";
inline constexpr std::string_view kErrLabelFilter = "LabelFilterErr";
inline constexpr std::string_view kErrSampleExtraction = "SampleExtractionErr";
inline constexpr std::string_view kErrTemplateFormat = "TemplateFormatErr";

enum class LabelCategory : uint8_t { kStream, kStructuredMetadata, kParsed };

// A borrowed (name, value) pair.
using LabelPair = std::pair<std::string_view, std::string_view>;

// Which labels the stages after a parser need. Default: all. Immutable after construction.
class ParserHints {
 public:
  ParserHints() = default;  // extract everything
  static ParserHints Only(std::vector<std::string> names);
  static ParserHints NoLabels();

  bool extract_all() const { return all_; }
  bool no_labels() const { return no_labels_; }
  // True when a parser should add `name` (the final name, after `_extracted` suffixing; the
  // name without the suffix is accepted too so callers can pass either).
  bool ShouldExtract(std::string_view name) const;
  // True when some wanted name starts with `prefix` + '_' (nested JSON objects).
  bool ShouldExtractPrefix(std::string_view prefix) const;

 private:
  bool all_ = true;
  bool no_labels_ = false;
  StringSet names_;
};

// Sanitises a parsed key into a label name as Loki does: surrounding Unicode whitespace trimmed,
// every rune outside [a-zA-Z0-9_] becomes one '_' (one per byte for invalid UTF-8) and, when
// `is_prefix` (a top-level key), a leading digit gets a '_' in front. Appends to `out`.
void AppendSanitizedKey(std::string* out, std::string_view key, bool is_prefix);
std::string SanitizeKey(std::string_view key, bool is_prefix);

class LabelsBuilder {
 public:
  LabelsBuilder();
  explicit LabelsBuilder(Labels base);
  LabelsBuilder(const LabelsBuilder&) = delete;
  LabelsBuilder& operator=(const LabelsBuilder&) = delete;

  // Switches to another stream: new base labels, per-entry state and result cache cleared.
  void SetBase(Labels base);
  const Labels& base() const { return base_; }
  Fingerprint base_hash() const { return base_hash_; }

  // Clears the per-entry state (keeps memory).
  void Reset();

  // Hints are borrowed; nullptr means "extract everything".
  void set_hints(const ParserHints* hints) { hints_ = hints ? hints : &kAllHints; }
  const ParserHints& hints() const { return *hints_; }

  // Adds structured metadata; a name clashing with a stream label gets `_extracted` (Loki 3).
  void AddStructuredMetadata(std::span<const Label> metadata);

  // Sets `name` to `value`. `__error__` / `__error_details__` are routed to SetErr /
  // SetErrorDetails. `value` may alias a label held by this builder.
  void Set(LabelCategory category, std::string_view name, std::string_view value) {
    SetImpl(category, name, NameSig(name), value, /*borrowed=*/false);
  }
  void Set(std::string_view name, std::string_view value) {
    Set(LabelCategory::kParsed, name, value);
  }
  // Set(kParsed, name, value) without copying either: the caller guarantees that both stay
  // valid and unchanged until the next Reset() or SetBase() (parsers lend views into the
  // entry's line and into their key caches). `sig` is NameSig(name), which parsers compute
  // once per distinct key. Saves two string copies and the name's hashing per parsed field.
  void SetBorrowed(std::string_view name, uint64_t sig, std::string_view value) {
    SetImpl(LabelCategory::kParsed, name, sig, value, /*borrowed=*/true);
  }

  // A 64-bit Bloom signature (two bits) of a name's length and first, second and last bytes:
  // a missing bit proves a name is absent, so most look-ups of new names skip the scans.
  static uint64_t NameSig(std::string_view name) {
    if (name.empty()) return 1;
    const auto* p = reinterpret_cast<const unsigned char*>(name.data());
    uint64_t x = name.size() | uint64_t{p[0]} << 8 | uint64_t{p[name.size() > 1]} << 16 |
                 uint64_t{p[name.size() - 1]} << 24;
    x *= 0x9E3779B97F4A7C15ULL;
    return uint64_t{1} << (x >> 58) | uint64_t{1} << ((x >> 52) & 63);
  }
  static bool MayHave(uint64_t sigs, uint64_t sig) { return (sigs & sig) == sig; }

  // Value of `name` (including `__error__` / `__error_details__` when set), or nullopt.
  std::optional<std::string_view> Get(std::string_view name) const {
    return Get(name, NameSig(name));
  }
  std::optional<std::string_view> Get(std::string_view name, uint64_t sig) const;
  std::optional<LabelCategory> CategoryOf(std::string_view name) const;
  // Deletes `name` (stream label, metadata or parsed). Deleting `__error__` resets the error.
  void Del(std::string_view name);
  // True when the stream's base labels have `name` (the `_extracted` rule).
  bool BaseHas(std::string_view name) const { return FindBase(name, NameSig(name)) >= 0; }
  bool BaseHas(std::string_view name, uint64_t sig) const { return FindBase(name, sig) >= 0; }

  void SetErr(std::string_view err) { err_.assign(err.data(), err.size()); }
  void SetErrorDetails(std::string_view d) { err_details_.assign(d.data(), d.size()); }
  std::string_view GetErr() const { return err_; }
  std::string_view GetErrorDetails() const { return err_details_; }
  bool HasErr() const { return !err_.empty(); }
  void ResetError() { err_.clear(); }
  void ResetErrorDetails() { err_details_.clear(); }

  // True when nothing was added, deleted or errored since Reset (the labels are the base).
  bool Unchanged() const { return num_adds_ == 0 && !base_hidden_any_ && err_.empty() &&
                                  err_details_.empty(); }

  // The current label set, sorted by name, as borrowed pairs (valid until the next mutation).
  // `out` is cleared first; its capacity is reused.
  void SortedPairs(std::vector<LabelPair>* out) const;
  // Calls f(name, value) for each current label, unsorted.
  template <typename F>
  void ForEach(F&& f) const;

  // Hash of the current label set, equal to ToLabels().Hash().
  Fingerprint Hash();
  Labels ToLabels() const;
  // The current label set from a per-builder cache keyed by hash (built on a miss). The
  // reference stays valid until the next CachedLabels/GroupedLabels/SetBase call.
  const Labels& CachedLabels();

  // Grouping for metric queries (Loki's GroupedLabels): `by (groups)` keeps only those labels,
  // `without (groups)` removes them, `no_labels` yields the empty set. As in Loki, an entry
  // with an error keeps all its labels (so the error is not lost to grouping).
  void SetGrouping(std::vector<std::string> groups, bool without, bool no_labels);
  bool has_grouping() const { return grouping_set_; }
  Fingerprint GroupedHash();
  const Labels& GroupedLabels();

  // Number of (base hidden / added) labels, for tests.
  size_t num_adds() const { return num_adds_; }

 private:
  // An added label. `name` and `value` are what readers use: views either into the slot's own
  // buffers (owned, after Set) or into memory the caller lends (SetBorrowed). A moved slot
  // re-points views into its own buffers, so slots can live in a vector and be swapped.
  struct Slot {
    std::string_view name;
    std::string_view value;
    std::string name_buf;
    std::string value_buf;
    bool name_owned = false;
    bool value_owned = false;
    LabelCategory category = LabelCategory::kParsed;

    Slot() = default;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot(Slot&& o) noexcept { *this = std::move(o); }
    Slot& operator=(Slot&& o) noexcept;
    void SetName(std::string_view n, bool copy) { Point(n, copy, name, name_buf, name_owned); }
    void SetValue(std::string_view v, bool copy) { Point(v, copy, value, value_buf, value_owned); }
    // view = src, either lent as is or copied into buf (assign copes with src aliasing buf).
    static void Point(std::string_view src, bool copy, std::string_view& view, std::string& buf,
                      bool& owned) {
      owned = copy;
      if (copy) {
        buf.assign(src.data(), src.size());
        src = buf;
      }
      view = src;
    }
  };
  static const ParserHints kAllHints;

  void SetImpl(LabelCategory category, std::string_view name, uint64_t sig,
               std::string_view value, bool borrowed);
  int FindAdd(std::string_view name) const { return FindAdd(name, NameSig(name)); }
  int FindAdd(std::string_view name, uint64_t sig) const {
    return MayHave(add_sigs_, sig) ? ScanAdds(name) : -1;
  }
  int FindBase(std::string_view name) const { return FindBase(name, NameSig(name)); }
  int FindBase(std::string_view name, uint64_t sig) const {
    return MayHave(base_sigs_, sig) ? ScanBase(name) : -1;
  }
  int ScanAdds(std::string_view name) const;
  int ScanBase(std::string_view name) const;
  void HideBase(int i);
  // Fills scratch_ with the sorted output; `grouped` applies the grouping rules.
  void BuildScratch(bool grouped);
  bool GroupKeeps(std::string_view name) const;
  Fingerprint HashPairs(const std::vector<LabelPair>& pairs);
  const Labels& Lookup(Fingerprint h);

  Labels base_;
  Fingerprint base_hash_ = 0;
  std::vector<uint8_t> base_hidden_;  // per base label: deleted or overridden
  bool base_hidden_any_ = false;
  std::vector<Slot> adds_;  // first num_adds_ are live; the rest keep their capacity
  size_t num_adds_ = 0;
  uint64_t add_sigs_ = 0;   // union of NameSig() of names added since Reset (never cleared by Del)
  uint64_t base_sigs_ = 0;  // union of NameSig() of base names
  std::string err_;
  std::string err_details_;
  const ParserHints* hints_;

  bool grouping_set_ = false;
  bool group_without_ = false;
  bool group_no_labels_ = false;
  StringSet groups_;
  // `by` groups sorted, with their signatures: a `by` grouping reads just these names.
  std::vector<std::pair<std::string, uint64_t>> groups_sorted_;
  Labels base_grouped_;
  Fingerprint base_grouped_hash_ = 0;

  std::vector<LabelPair> scratch_;
  std::string hash_buf_;  // HashPairs' input, reused
  std::vector<uint32_t> order_;
  absl::flat_hash_map<Fingerprint, std::unique_ptr<Labels>> cache_;
  Labels collision_;
  static const Labels kEmpty;
};

template <typename F>
void LabelsBuilder::ForEach(F&& f) const {
  const auto& items = base_.items();
  for (size_t i = 0; i < items.size(); ++i) {
    if (!base_hidden_[i]) f(std::string_view(items[i].name), std::string_view(items[i].value));
  }
  for (size_t i = 0; i < num_adds_; ++i) {
    f(adds_[i].name, adds_[i].value);
  }
  if (!err_.empty()) f(kErrorLabel, std::string_view(err_));
  if (!err_details_.empty()) f(kErrorDetailsLabel, std::string_view(err_details_));
}

}  // namespace norn::logql_log
