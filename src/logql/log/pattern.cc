#include "logql/log/pattern.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace norn::logql_log {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAlnum(char c) { return IsAlpha(c) || (c >= '0' && c <= '9'); }

}  // namespace

absl::StatusOr<Pattern> Pattern::Parse(std::string_view text, bool require_named_capture) {
  Pattern p;
  std::string lit;
  auto flush = [&] {
    if (!lit.empty()) {
      p.nodes_.push_back(Node{false, false, lit});
      lit.clear();
    }
  };
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '<' && i + 1 < text.size() && (IsAlpha(text[i + 1]) || text[i + 1] == '_')) {
      size_t j = i + 2;
      while (j < text.size() && (IsAlnum(text[j]) || text[j] == '_')) ++j;
      if (j < text.size() && text[j] == '>') {
        flush();
        std::string name(text.substr(i + 1, j - i - 1));
        bool named = name != "_";
        p.nodes_.push_back(Node{true, named, name});
        i = j + 1;
        continue;
      }
    }
    lit.push_back(text[i]);
    ++i;
  }
  flush();
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < p.nodes_.size(); ++i) {
    const Node& n = p.nodes_[i];
    if (!n.capture) continue;
    if (i + 1 < p.nodes_.size() && p.nodes_[i + 1].capture) {
      return absl::InvalidArgumentError("found consecutive capture: invalid expression");
    }
    if (n.named) {
      if (!seen.insert(n.text).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("duplicate capture name (", n.text, "): invalid expression"));
      }
      p.names_.push_back(n.text);
    }
  }
  if (require_named_capture && p.names_.empty()) {
    return absl::InvalidArgumentError("at least one capture is required");
  }
  return p;
}

std::vector<std::string> Pattern::Literals() const {
  std::vector<std::string> out;
  for (const Node& n : nodes_) {
    if (!n.capture) out.push_back(n.text);
  }
  return out;
}

void Pattern::Matches(std::string_view in, std::vector<std::string_view>* out) const {
  out->clear();
  if (in.empty() || nodes_.empty()) return;
  size_t e = 0;
  if (!nodes_[0].capture) {
    const std::string& ls = nodes_[0].text;
    if (in.substr(0, ls.size()) != ls) return;
    in.remove_prefix(ls.size());
    e = 1;
  }
  while (e < nodes_.size()) {
    const Node& capt = nodes_[e];
    if (e + 1 == nodes_.size()) {  // ending on a capture
      if (capt.named) out->push_back(in);
      return;
    }
    const std::string& ls = nodes_[e + 1].text;
    e += 2;
    size_t i = in.find(ls);
    if (i == std::string_view::npos) {
      if (capt.named) out->push_back(in);
      return;
    }
    if (capt.named) out->push_back(in.substr(0, i));
    in.remove_prefix(i + ls.size());
  }
}

bool Pattern::Test(std::string_view in) const {
  if (in.empty() || nodes_.empty()) return in.empty() && nodes_.empty();
  size_t off = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].capture) continue;
    const std::string& lit = nodes_[i].text;
    size_t j = in.substr(off).find(lit);
    if (j == std::string_view::npos) return false;
    if (i != 0 && j == 0) return false;
    off += j + lit.size();
  }
  bool req_rem = nodes_.back().capture;
  bool has_rem = off != in.size();
  return req_rem == has_rem;
}

}  // namespace norn::logql_log
