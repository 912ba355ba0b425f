// JSON decoding for fromJson with Go encoding/json's rules for an interface{} target: strict
// syntax (RFC 8259, no trailing data), float64 numbers, later duplicate keys win, lone surrogates
// and invalid UTF-8 become U+FFFD, nesting deeper than kMaxDepth is an error.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include "logql/template/value.h"

namespace norn::logql_template {

const Value* Composite::Find(std::string_view key) const {
  auto it = std::lower_bound(object.begin(), object.end(), key,
                             [](const auto& e, std::string_view k) { return e.first < k; });
  if (it == object.end() || it->first != key)
    return nullptr;
  return &it->second;
}

namespace {

// encoding/json allows 10000; the parser recurses per level and runs on request threads, so
// keep the stack use bounded (a log line nested 500 deep is not a real log line).
constexpr int kMaxDepth = 500;

void AppendUtf8(std::string* out, uint32_t r) {
  if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
    r = 0xFFFD;
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

// Length of the valid UTF-8 sequence at s[i], or 0 when invalid (Go's utf8.DecodeRune rules:
// no overlongs, no surrogates, nothing above U+10FFFF).
size_t ValidUtf8Len(std::string_view s, size_t i) {
  auto c = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b = c(i);
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b < 0xC2) {
    return 0;
  } else if (b < 0xE0) {
    n = 2;
  } else if (b < 0xF0) {
    n = 3;
    if (b == 0xE0)
      lo = 0xA0;
    if (b == 0xED)
      hi = 0x9F;
  } else if (b < 0xF5) {
    n = 4;
    if (b == 0xF0)
      lo = 0x90;
    if (b == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size())
    return 0;
  if (c(i + 1) < lo || c(i + 1) > hi)
    return 0;
  for (size_t k = 2; k < n; k++) {
    if (c(i + k) < 0x80 || c(i + k) > 0xBF)
      return 0;
  }
  return n;
}

class Decoder {
 public:
  explicit Decoder(std::string_view s) : s_(s) {}

  bool Top(Value* out) {
    if (!ParseValue(out, 0))
      return false;
    SkipWs();
    return i_ == s_.size();
  }

 private:
  void SkipWs() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      i_++;
  }

  bool Literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word)
      return false;
    i_ += word.size();
    return true;
  }

  bool ParseValue(Value* out, int depth) {
    SkipWs();
    if (i_ >= s_.size())
      return false;
    char c = s_[i_];
    switch (c) {
      case '{':
        return ParseObject(out, depth + 1);
      case '[':
        return ParseArray(out, depth + 1);
      case '"': {
        std::string str;
        if (!ParseString(&str))
          return false;
        *out = Value::Owned(std::move(str));
        return true;
      }
      case 't':
        *out = Value::Bool(true);
        return Literal("true");
      case 'f':
        *out = Value::Bool(false);
        return Literal("false");
      case 'n':
        *out = Value::Nil();
        return Literal("null");
      default:
        return ParseNumber(out);
    }
  }

  bool Digits() {
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
      i_++;
    return i_ > start;
  }

  bool ParseNumber(Value* out) {
    size_t start = i_;
    if (s_[i_] == '-')
      i_++;
    if (i_ >= s_.size())
      return false;
    if (s_[i_] == '0') {
      i_++;
    } else if (!Digits()) {
      return false;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      i_++;
      if (!Digits())
        return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      i_++;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-'))
        i_++;
      if (!Digits())
        return false;
    }
    double f = 0;
    auto [ptr, ec] = std::from_chars(s_.data() + start, s_.data() + i_, f);
    if (ec == std::errc::result_out_of_range) {
      // Rare: underflow (strtod gives the rounded subnormal or zero, as strconv.ParseFloat
      // does) or overflow (an error in Go, which leaves nil in place of the number).
      f = std::strtod(std::string(s_.substr(start, i_ - start)).c_str(), nullptr);
      *out = std::isinf(f) ? Value::Nil() : Value::Float(f);
      return true;
    }
    if (ec != std::errc() || ptr != s_.data() + i_)
      return false;
    *out = Value::Float(f);
    return true;
  }

  bool Hex4(size_t at, uint32_t* r) {
    if (at + 4 > s_.size())
      return false;
    uint32_t v = 0;
    for (size_t k = at; k < at + 4; k++) {
      char c = s_[k];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    *r = v;
    return true;
  }

  bool ParseString(std::string* out) {
    i_++;  // opening quote
    while (true) {
      if (i_ >= s_.size())
        return false;
      unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        i_++;
        return true;
      }
      if (c < 0x20)
        return false;
      if (c == '\\') {
        if (i_ + 1 >= s_.size())
          return false;
        char e = s_[i_ + 1];
        i_ += 2;
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out->push_back(e);
            break;
          case 'b':
            out->push_back('\b');
            break;
          case 'f':
            out->push_back('\f');
            break;
          case 'n':
            out->push_back('\n');
            break;
          case 'r':
            out->push_back('\r');
            break;
          case 't':
            out->push_back('\t');
            break;
          case 'u': {
            uint32_t r;
            if (!Hex4(i_, &r))
              return false;
            i_ += 4;
            if (r >= 0xD800 && r < 0xDC00) {
              uint32_t r2;
              // A high surrogate pairs only with an escaped low one; otherwise U+FFFD and the
              // next escape stands on its own.
              if (i_ + 1 < s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u' && Hex4(i_ + 2, &r2) &&
                  r2 >= 0xDC00 && r2 < 0xE000) {
                i_ += 6;
                r = 0x10000 + ((r - 0xD800) << 10) + (r2 - 0xDC00);
              } else {
                r = 0xFFFD;
              }
            }
            AppendUtf8(out, r);
            break;
          }
          default:
            return false;
        }
        continue;
      }
      if (c < 0x80) {
        out->push_back(static_cast<char>(c));
        i_++;
        continue;
      }
      size_t n = ValidUtf8Len(s_, i_);
      if (n == 0) {
        AppendUtf8(out, 0xFFFD);
        i_++;
      } else {
        out->append(s_.substr(i_, n));
        i_ += n;
      }
    }
  }

  bool ParseObject(Value* out, int depth) {
    if (depth > kMaxDepth)
      return false;
    i_++;  // {
    auto comp = std::make_shared<Composite>();
    auto& entries = comp->object;
    SkipWs();
    if (i_ < s_.size() && s_[i_] == '}') {
      i_++;
    } else {
      while (true) {
        SkipWs();
        if (i_ >= s_.size() || s_[i_] != '"')
          return false;
        std::string key;
        if (!ParseString(&key))
          return false;
        SkipWs();
        if (i_ >= s_.size() || s_[i_] != ':')
          return false;
        i_++;
        Value v;
        if (!ParseValue(&v, depth))
          return false;
        entries.emplace_back(std::move(key), std::move(v));
        SkipWs();
        if (i_ >= s_.size())
          return false;
        if (s_[i_] == ',') {
          i_++;
          continue;
        }
        if (s_[i_] != '}')
          return false;
        i_++;
        break;
      }
    }
    // Sort by key keeping input order among equal keys, then keep the last of each run.
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    size_t w = 0;
    for (size_t r = 0; r < entries.size(); r++) {
      if (r + 1 < entries.size() && entries[r + 1].first == entries[r].first)
        continue;
      if (w != r)
        entries[w] = std::move(entries[r]);
      w++;
    }
    entries.resize(w);
    *out = Value::Object(std::move(comp));
    return true;
  }

  bool ParseArray(Value* out, int depth) {
    if (depth > kMaxDepth)
      return false;
    i_++;  // [
    auto comp = std::make_shared<Composite>();
    SkipWs();
    if (i_ < s_.size() && s_[i_] == ']') {
      i_++;
    } else {
      while (true) {
        Value v;
        if (!ParseValue(&v, depth))
          return false;
        comp->list.push_back(std::move(v));
        SkipWs();
        if (i_ >= s_.size())
          return false;
        if (s_[i_] == ',') {
          i_++;
          continue;
        }
        if (s_[i_] != ']')
          return false;
        i_++;
        break;
      }
    }
    *out = Value::List(std::move(comp));
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

bool DecodeJson(std::string_view text, Value* out) {
  Value v;
  if (!Decoder(text).Top(&v))
    return false;
  *out = std::move(v);
  return true;
}

}  // namespace norn::logql_template
