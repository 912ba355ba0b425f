// ParserKeyCache: what the `json` and `logfmt` parsers know about a top-level key they have met
// before: its sanitised label name (with and without Loki's `_extracted` suffix) and whether
// the query's ParserHints want either. A line's keys then cost one look-up each instead of
// sanitising and consulting the hints every time, and an unwanted key is skipped at once.
//
// Lines of one source usually list their keys in the same order, so the cache also remembers
// the key last seen at each position of a line and tries it with one comparison before hashing.
//
// Bounded (cleared when full); valid for one ParserHints (cleared when another is passed).
// Not thread-safe: one per parser stage.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/strings.h"
#include "logql/log/labels_builder.h"

namespace norn::logql_log {

class ParserKeyCache {
 public:
  struct Info {
    std::string key;       // the raw key
    std::string name;      // sanitised; empty when the key sanitises to nothing
    std::string name_ext;  // name + "_extracted"
    uint64_t sig = 0;      // LabelsBuilder::NameSig(name)
    uint64_t sig_ext = 0;  // LabelsBuilder::NameSig(name_ext)
    bool want = false;
    bool want_ext = false;
    // The key as compact JSON writes it, `"key":`, when it needs no escaping (no quote or
    // backslash); else empty. Those bytes at a member's start are exactly this key.
    std::string json_token;
    // The key and '=' as a logfmt line has them, when the key is not empty and holds no byte
    // the logfmt key scan stops at ('=', '"', <= ' ', >= 0x80); else empty.
    std::string logfmt_token;
    bool wanted() const { return want || want_ext; }
  };

  // Called by the parser before each line: the only point where a full cache is cleared.
  void BeginLine() {
    if (keys_.size() >= kMaxKeys) {
      keys_.clear();
      by_position_.clear();
    }
  }

  // The facts about raw key `key`, the `position`-th key of its line (positions past
  // kMaxPositions are only looked up by hash). The Info, and so its names, stay valid and
  // unchanged until the next BeginLine(): parsers lend the names to the LabelsBuilder for the
  // rest of the entry.
  const Info& Get(std::string_view key, size_t position, const ParserHints& hints) {
    // The common case, inline: the same hints, and the key this position had last time.
    if (&hints == hints_ && position < by_position_.size()) {
      const Info* info = by_position_[position];
      if (info != nullptr && ShortEqual(info->key, key))
        return *info;
    }
    return GetSlow(key, position, hints);
  }

  // The Info of the key last seen at `position` with these hints, if any: what the line being
  // parsed most likely has there.
  const Info* Expected(size_t position, const ParserHints& hints) const {
    if (&hints == hints_ && position < by_position_.size())
      return by_position_[position];
    return nullptr;
  }

  static constexpr size_t kMaxKeys = 4096;
  static constexpr size_t kMaxPositions = 64;

 private:
  const Info& GetSlow(std::string_view key, size_t position, const ParserHints& hints);

  const ParserHints* hints_ = nullptr;
  // Infos are boxed so that their addresses (and their names' bytes) survive rehashing; the
  // map's keys view the Info's own `key`.
  absl::flat_hash_map<std::string_view, std::unique_ptr<Info>, StringHash, StringEq> keys_;
  // The Info of the key last seen at each position (valid until keys_ is cleared).
  std::vector<const Info*> by_position_;
};

}  // namespace norn::logql_log
