#include "logql/log/parser_key_cache.h"

#include <algorithm>

#include "logql/log/labels_builder.h"

namespace norn::logql_log {

const ParserKeyCache::Info& ParserKeyCache::GetSlow(std::string_view key, size_t position,
                                                    const ParserHints& hints) {
  if (&hints != hints_) {
    keys_.clear();
    by_position_.clear();
    hints_ = &hints;
  }
  if (position < by_position_.size()) {
    const Info* info = by_position_[position];
    if (info != nullptr && ShortEqual(info->key, key))
      return *info;
  }
  auto it = keys_.find(key);
  if (it == keys_.end()) {
    auto info = std::make_unique<Info>();
    info->key.assign(key);
    if (key.find_first_of("\"\\") == std::string_view::npos)
      info->json_token.append("\"").append(key).append("\":");
    if (!key.empty() && std::all_of(key.begin(), key.end(), [](char ch) {
          const auto c = static_cast<unsigned char>(ch);
          return c > ' ' && c < 0x80 && c != '=' && c != '"';
        }))
      info->logfmt_token.append(key).append("=");
    AppendSanitizedKey(&info->name, key, true);
    if (!info->name.empty()) {
      info->want = hints.ShouldExtract(info->name);
      info->name_ext = info->name;
      info->name_ext.append(kDuplicateSuffix);
      info->want_ext = hints.ShouldExtract(info->name_ext);
      info->sig = LabelsBuilder::NameSig(info->name);
      info->sig_ext = LabelsBuilder::NameSig(info->name_ext);
    }
    const std::string_view own_key = info->key;
    it = keys_.emplace(own_key, std::move(info)).first;
  }
  if (position < kMaxPositions) {
    if (by_position_.size() <= position)
      by_position_.resize(position + 1);
    by_position_[position] = it->second.get();
  }
  return *it->second;
}

}  // namespace norn::logql_log
