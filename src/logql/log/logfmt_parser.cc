#include "logql/log/logfmt_parser.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/labels.h"
#include "common/strings.h"
#include "logql/log/labels_builder.h"
#include "logql/log/utf8.h"

namespace norn::logql_log {
namespace {

int GetU4(std::string_view s, size_t i) {
  if (i + 6 > s.size() || s[i] != '\\' || s[i + 1] != 'u') return -1;
  int r = 0;
  for (size_t k = i + 2; k < i + 6; ++k) {
    char c = s[k];
    int h;
    if (c >= '0' && c <= '9') h = c - '0';
    else if (c >= 'a' && c <= 'f') h = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') h = c - 'A' + 10;
    else return -1;
    r = r * 16 + h;
  }
  return r;
}

// go-logfmt's unquoteBytes on the body between the quotes (which contains a backslash).
bool Unquote(std::string_view s, std::string* out) {
  out->clear();
  size_t r = 0;
  while (r < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[r]);
    if (c == '\\') {
      ++r;
      if (r >= s.size()) return false;
      char e = s[r];
      switch (e) {
        case '"': case '\\': case '/': case '\'':
          out->push_back(e);
          ++r;
          break;
        case 'b': out->push_back('\b'); ++r; break;
        case 'f': out->push_back('\f'); ++r; break;
        case 'n': out->push_back('\n'); ++r; break;
        case 'r': out->push_back('\r'); ++r; break;
        case 't': out->push_back('\t'); ++r; break;
        case 'u': {
          --r;
          int rr = GetU4(s, r);
          if (rr < 0) return false;
          r += 6;
          if (rr >= 0xD800 && rr < 0xE000) {
            int rr1 = GetU4(s, r);
            if (rr < 0xDC00 && rr1 >= 0xDC00 && rr1 < 0xE000) {
              r += 6;
              utf8::Append(out, 0x10000 + ((rr - 0xD800) << 10) + (rr1 - 0xDC00));
              break;
            }
            rr = utf8::kRuneError;
          }
          utf8::Append(out, static_cast<char32_t>(rr));
          break;
        }
        default:
          return false;
      }
    } else if (c == '"' || c < ' ') {
      return false;
    } else if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++r;
    } else {
      size_t w;
      char32_t rr = utf8::Decode(s, r, &w);
      r += w;
      utf8::Append(out, rr);
    }
  }
  return true;
}

}  // namespace

void LogfmtDecoder::SyntaxError(std::string_view msg) {
  err_ = absl::StrCat("logfmt syntax error at pos ", pos_ + 1, " : ", AV(msg));
}

void LogfmtDecoder::UnexpectedByte(char c) {
  // Go's %q of a byte: a single-quoted character literal.
  std::string q = "'";
  if (c == '\'') q += "\\'";
  else if (c == '\\') q += "\\\\";
  else q.push_back(c);
  q += "'";
  err_ = absl::StrCat("logfmt syntax error at pos ", pos_ + 1, " : unexpected ", q);
}

bool LogfmtDecoder::SkipValue() {
  while (pos_ < line_.size()) {
    if (static_cast<unsigned char>(line_[pos_]) <= ' ') return false;
    ++pos_;
  }
  return false;
}

namespace {

// Byte classes for the decoder's scanning loops: bit 1 ends a key ('=', '"', <= ' ', and
// >= 0x80 to note multibyte keys), bit 2 ends an unquoted value ('=', '"', <= ' ').
struct ScanTable {
  uint8_t cls[256] = {};
  constexpr ScanTable() {
    for (int c = 0; c <= ' '; ++c) cls[c] = 3;
    cls[static_cast<int>('=')] = 3;
    cls[static_cast<int>('"')] = 3;
    for (int c = 0x80; c < 256; ++c) cls[c] = 1;
  }
};
constexpr ScanTable kScan;

}  // namespace

bool LogfmtDecoder::ScanKeyval() {
  key_ = {};
  value_ = {};
  const std::string_view line = line_;
  const size_t n = line.size();
  // garbage
  while (pos_ < n && static_cast<unsigned char>(line[pos_]) <= ' ') ++pos_;
  if (pos_ >= n) return false;

  // key
  size_t start = pos_;
  bool multibyte = false;
  const auto* bytes = reinterpret_cast<const unsigned char*>(line.data());
  while (pos_ < n) {
    {
      size_t q = pos_;
      while (q < n && !(kScan.cls[bytes[q]] & 1)) ++q;
      pos_ = q;
    }
    if (pos_ >= n) break;
    unsigned char c = bytes[pos_];
    if (c == '=') {
      if (pos_ > start) {
        key_ = line.substr(start, pos_ - start);
        if (multibyte && utf8::ContainsRuneError(key_)) {
          SyntaxError("invalid key");
          return SkipValue();
        }
      }
      if (key_.empty()) {
        UnexpectedByte('=');
        return SkipValue();
      }
      goto equal;
    }
    if (c == '"') {
      UnexpectedByte('"');
      return SkipValue();
    }
    if (c <= ' ') {
      if (pos_ > start) {
        key_ = line.substr(start, pos_ - start);
        if (multibyte && utf8::ContainsRuneError(key_)) {
          SyntaxError("invalid key");
          return false;
        }
      }
      return true;
    }
    if (c >= 0x80) multibyte = true;
    ++pos_;
  }
  if (pos_ > start) {
    key_ = line.substr(start, pos_ - start);
    if (multibyte && utf8::ContainsRuneError(key_)) {
      SyntaxError("invalid key");
      return false;
    }
  }
  return true;

equal:
  ++pos_;
  if (pos_ >= n) return true;
  {
    unsigned char c = static_cast<unsigned char>(line[pos_]);
    if (c <= ' ') return true;
    if (c == '"') goto qvalue;
  }
  // value
  start = pos_;
  while (pos_ < n) {
    {
      size_t q = pos_;
      while (q < n && !(kScan.cls[bytes[q]] & 2)) ++q;
      pos_ = q;
    }
    if (pos_ >= n) break;
    unsigned char c = bytes[pos_];
    if (c == '=' || c == '"') {
      UnexpectedByte(static_cast<char>(c));
      return SkipValue();
    }
    if (c <= ' ') {
      value_ = line.substr(start, pos_ - start);
      return true;
    }
    ++pos_;
  }
  value_ = line.substr(start, pos_ - start);
  return true;

qvalue: {
  bool has_esc = false, esc = false;
  start = pos_;
  for (size_t p = pos_ + 1; p < n; ++p) {
    if (!esc) {
      // Jump to the next quote or backslash.
      const char* q = static_cast<const char*>(std::memchr(line.data() + p, '"', n - p));
      size_t qi = q ? static_cast<size_t>(q - line.data()) : n;
      const char* b = static_cast<const char*>(std::memchr(line.data() + p, '\\', qi - p));
      p = b ? static_cast<size_t>(b - line.data()) : qi;
      if (p >= n) break;
    }
    char c = line[p];
    if (esc) {
      esc = false;
    } else if (c == '\\') {
      has_esc = esc = true;
    } else if (c == '"') {
      pos_ = p + 1;
      std::string_view body = line.substr(start + 1, p - start - 1);
      if (has_esc) {
        if (!Unquote(body, &unquoted_)) {
          SyntaxError("invalid quoted value");
          return false;
        }
        value_ = unquoted_;
      } else {
        value_ = body;
      }
      return true;
    }
  }
  pos_ = n;
  SyntaxError("unterminated quoted value");
  return false;
}
}

bool LogfmtParser::Process(int64_t, std::string_view* line, LabelsBuilder* lbs) {
  if (lbs->hints().no_labels()) return true;
  dec_.Reset(*line);
  const ParserHints& hints = lbs->hints();
  size_t position = 0;
  while (!dec_.EOL()) {
    if (!dec_.ScanKeyval()) {
      if (!dec_.err().empty() && !opts_.continue_on_error) break;
      continue;
    }
    // Every key goes through the cache: its sanitised name and the hints' verdicts are computed
    // once per distinct key instead of once per line.
    const ParserKeyCache::Info& k = key_cache_.Get(dec_.key(), position++, hints);
    if (!k.wanted()) continue;
    bool clash = lbs->BaseHas(k.name);
    if (!(clash ? k.want_ext : k.want)) continue;
    std::string_view val = dec_.value();
    if (utf8::ContainsRuneError(val)) val = {};
    if (opts_.drop_empty && val.empty()) continue;
    lbs->Set(clash ? k.name_ext : k.name, val);
  }
  if (!dec_.err().empty()) {
    lbs->SetErr(kErrLogfmt);
    lbs->SetErrorDetails(dec_.err());
  }
  return true;
}

absl::StatusOr<std::unique_ptr<LogfmtExpressionParser>> LogfmtExpressionParser::Create(
    std::vector<LogfmtExpression> expressions, LogfmtOptions opts) {
  if (expressions.empty()) return absl::InvalidArgumentError("no logfmt expression provided");
  std::unique_ptr<LogfmtExpressionParser> p(new LogfmtExpressionParser());
  for (auto& e : expressions) {
    if (!IsValidLabelName(e.label)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid extracted label name '", e.label, "'"));
    }
    if (e.key.empty()) e.key = e.label;
  }
  p->exprs_ = std::move(expressions);
  p->opts_ = opts;
  return p;
}

bool LogfmtExpressionParser::Process(int64_t, std::string_view* line, LabelsBuilder* lbs) {
  if (lbs->hints().no_labels()) return true;
  for (const auto& e : exprs_) {
    if (!lbs->BaseHas(e.label)) lbs->Set(e.label, "");
  }
  dec_.Reset(*line);
  while (!dec_.EOL()) {
    if (!dec_.ScanKeyval()) {
      if (!dec_.err().empty() && !opts_.continue_on_error) break;
      continue;
    }
    key_.clear();
    AppendSanitizedKey(&key_, dec_.key(), true);
    if (key_.empty()) continue;
    for (const auto& e : exprs_) {
      if (e.key != key_) continue;
      std::string_view val = dec_.value();
      if (utf8::ContainsRuneError(val)) val = {};
      if (opts_.drop_empty && val.empty()) continue;
      if (lbs->BaseHas(e.label)) {
        name_.assign(e.label);
        name_.append(kDuplicateSuffix);
        lbs->Set(name_, val);
      } else {
        lbs->Set(e.label, val);
      }
    }
  }
  if (!dec_.err().empty()) {
    lbs->SetErr(kErrLogfmt);
    lbs->SetErrorDetails(dec_.err());
  }
  return true;
}

}  // namespace norn::logql_log
