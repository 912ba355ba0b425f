#include "common/labels.h"

#define XXH_STATIC_LINKING_ONLY  // XXH64_state_t on the stack
#include <xxhash.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace norn {

Labels::Labels(std::vector<Label> labels) : labels_(std::move(labels)) {
  const auto by_name = [](const Label& a, const Label& b) { return a.name < b.name; };
  // Clients mostly send names sorted and unique already: nothing to sort or drop then.
  if (std::adjacent_find(labels_.begin(), labels_.end(), [&](const Label& a, const Label& b) {
        return !by_name(a, b);
      }) == labels_.end())
    return;
  // Stable, in place: a push parses a label set per stream, and std::stable_sort takes a
  // temporary buffer each time. Label sets are short; insertion sort suits them.
  if (labels_.size() <= 32) {
    for (size_t i = 1; i < labels_.size(); ++i) {
      for (size_t j = i; j > 0 && by_name(labels_[j], labels_[j - 1]); --j)
        std::swap(labels_[j], labels_[j - 1]);
    }
  } else {
    std::stable_sort(labels_.begin(), labels_.end(), by_name);
  }
  // Keep the last of equal names, in place.
  size_t kept = 0;
  for (size_t i = 0; i < labels_.size(); ++i) {
    if (kept > 0 && labels_[kept - 1].name == labels_[i].name) {
      labels_[kept - 1] = std::move(labels_[i]);
    } else {
      if (kept != i)
        labels_[kept] = std::move(labels_[i]);
      ++kept;
    }
  }
  labels_.erase(labels_.begin() + static_cast<std::ptrdiff_t>(kept), labels_.end());
}

Labels::Labels(std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  std::vector<Label> v;
  v.reserve(labels.size());
  for (const auto& [n, val] : labels) v.push_back(Label{std::string(n), std::string(val)});
  *this = Labels(std::move(v));
}

std::string_view Labels::Get(std::string_view name) const {
  auto it = std::lower_bound(labels_.begin(), labels_.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  if (it != labels_.end() && it->name == name) return it->value;
  return {};
}

bool Labels::Has(std::string_view name) const {
  auto it = std::lower_bound(labels_.begin(), labels_.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  return it != labels_.end() && it->name == name;
}

void AppendGoQuoted(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\a': out->append("\\a"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\v': out->append("\\v"); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out->append("\\x");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string Labels::ToString() const {
  std::string out = "{";
  for (size_t i = 0; i < labels_.size(); ++i) {
    if (i > 0) out.append(", ");
    out.append(labels_[i].name);
    out.push_back('=');
    AppendGoQuoted(&out, labels_[i].value);
  }
  out.push_back('}');
  return out;
}

Fingerprint Labels::Hash() const {
  // name 0xff value 0xff ... : 0xff never occurs in valid UTF-8, so pairs cannot run together.
  XXH64_state_t state;  // on the stack: no allocation per hash
  XXH64_reset(&state, 0);
  static constexpr char kSep = '\xff';
  for (const Label& l : labels_) {
    XXH64_update(&state, l.name.data(), l.name.size());
    XXH64_update(&state, &kSep, 1);
    XXH64_update(&state, l.value.data(), l.value.size());
    XXH64_update(&state, &kSep, 1);
  }
  return XXH64_digest(&state);
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

namespace {

class LabelsParser {
 public:
  explicit LabelsParser(std::string_view text) : s_(text) {}

  absl::StatusOr<Labels> Parse() {
    SkipSpace();
    if (!Eat('{')) return Error("expected {");
    std::vector<Label> labels;
    // One allocation for the vector: a pair per comma and one more (commas in values only
    // over-reserve).
    labels.reserve(1 + std::count(s_.begin(), s_.end(), ','));
    SkipSpace();
    if (Eat('}')) return Finish(std::move(labels));
    for (;;) {
      SkipSpace();
      size_t start = pos_;
      while (pos_ < s_.size() && IsNameChar(s_[pos_], pos_ == start)) ++pos_;
      if (pos_ == start) return Error("expected label name");
      std::string name(s_.substr(start, pos_ - start));
      SkipSpace();
      if (!Eat('=')) return Error("expected =");
      SkipSpace();
      std::string value;
      if (auto st = ParseString(&value); !st.ok()) return st;
      for (const auto& l : labels) {
        if (l.name == name) {
          return absl::InvalidArgumentError(absl::StrCat("duplicate label name: ", name));
        }
      }
      labels.push_back(Label{std::move(name), std::move(value)});
      SkipSpace();
      if (Eat(',')) continue;
      if (Eat('}')) break;
      return Error("expected , or }");
    }
    return Finish(std::move(labels));
  }

 private:
  absl::StatusOr<Labels> Finish(std::vector<Label> labels) {
    SkipSpace();
    if (pos_ != s_.size()) return Error("unexpected text after }");
    return Labels(std::move(labels));
  }

  static bool IsNameChar(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
  }
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                                s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("parse error at line 1, col ", pos_ + 1, ": ",
                                                   AV(what)));
  }

  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  static void AppendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // Go string literal: "..." with escapes, or `...` raw.
  absl::Status ParseString(std::string* out) {
    if (Eat('`')) {
      size_t end = s_.find('`', pos_);
      if (end == std::string_view::npos) return Error("unterminated raw string");
      out->assign(s_.substr(pos_, end - pos_));
      pos_ = end + 1;
      return absl::OkStatus();
    }
    if (!Eat('"')) return Error("expected quoted label value");
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return absl::OkStatus();
      if (c == '\n') return Error("newline in string");
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case 'a': out->push_back('\a'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'v': out->push_back('\v'); break;
        case '\\': out->push_back('\\'); break;
        case '"': out->push_back('"'); break;
        case '\'': out->push_back('\''); break;
        case 'x': case 'u': case 'U': {
          int digits = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          if (pos_ + digits > s_.size()) return Error("invalid escape");
          uint32_t v = 0;
          for (int i = 0; i < digits; ++i) {
            int h = Hex(s_[pos_ + i]);
            if (h < 0) return Error("invalid escape");
            v = v * 16 + static_cast<uint32_t>(h);
          }
          pos_ += digits;
          if (e == 'x') {
            out->push_back(static_cast<char>(v));
          } else {
            if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000)) return Error("invalid escape");
            AppendUtf8(out, v);
          }
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            if (pos_ + 2 > s_.size()) return Error("invalid escape");
            uint32_t v = static_cast<uint32_t>(e - '0');
            for (int i = 0; i < 2; ++i) {
              char d = s_[pos_ + i];
              if (d < '0' || d > '7') return Error("invalid escape");
              v = v * 8 + static_cast<uint32_t>(d - '0');
            }
            if (v > 255) return Error("invalid escape");
            pos_ += 2;
            out->push_back(static_cast<char>(v));
            break;
          }
          return Error("unknown escape sequence");
      }
    }
    return Error("unterminated string");
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<Labels> ParseLabels(std::string_view text) { return LabelsParser(text).Parse(); }

}  // namespace norn
