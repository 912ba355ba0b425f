// Lexer and parser for Go text/template, following the structure of Go's text/template/parse so
// that what parses, and the messages for what does not, match Go (the lexer's item stream, the
// parser's contexts such as "in operand" / "in command").
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/labels.h"
#include "common/strings.h"
#include "logql/template/tree.h"

namespace norn::logql_template::internal {
namespace {

enum class It : uint8_t {
  kError,
  kBool,
  kChar,
  kCharConstant,
  kAssign,
  kDeclare,
  kEOF,
  kField,
  kIdentifier,
  kLeftDelim,
  kLeftParen,
  kNumber,
  kPipe,
  kRawString,
  kRightDelim,
  kRightParen,
  kSpace,
  kString,
  kText,
  kVariable,
  // Keywords (printed as <word> in errors).
  kKeyword,
  kBlock,
  kBreak,
  kContinue,
  kDot,
  kDefine,
  kElse,
  kEnd,
  kIf,
  kNil,
  kRange,
  kTemplate,
  kWith,
};

struct Item {
  It typ;
  int pos;
  std::string val;  // for errors: the message
};

constexpr std::string_view kLeftDelim = "{{";
constexpr std::string_view kRightDelim = "}}";

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Go's isAlphaNumeric; any non-ASCII byte counts as a letter (Unicode letters are the only
// non-ASCII runes real templates put in identifiers).
bool IsAlnum(unsigned char c) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c >= 0x80;
}

std::string FormatRuneU(std::string_view in, size_t pos) {
  // Go's %#U: U+002D '-'
  unsigned char c = pos < in.size() ? static_cast<unsigned char>(in[pos]) : 0;
  uint32_t r = c;
  size_t w = 1;
  if (c >= 0x80) {
    int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    r = c & (0x7F >> (n + 1));
    for (int k = 1; k < n && pos + k < in.size(); k++) {
      r = (r << 6) | (static_cast<unsigned char>(in[pos + k]) & 0x3F);
    }
    w = static_cast<size_t>(n);
  }
  char buf[16];
  snprintf(buf, sizeof(buf), "U+%04X", r);
  std::string out = buf;
  if (r >= 0x20 && r != 0x7F) {
    out += " '";
    out.append(in.substr(pos, w));
    out += "'";
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  std::vector<Item> Run() {
    while (!done_) {
      if (inside_) {
        LexInsideAction();
      } else {
        LexText();
      }
    }
    return std::move(items_);
  }

 private:
  void Emit(It t) {
    items_.push_back({t, static_cast<int>(start_), std::string(in_.substr(start_, pos_ - start_))});
    start_ = pos_;
  }
  void Error(std::string msg) {
    items_.push_back({It::kError, static_cast<int>(start_), std::move(msg)});
    done_ = true;
  }
  int Peek() const { return pos_ < in_.size() ? static_cast<unsigned char>(in_[pos_]) : -1; }
  bool HasPrefixAt(size_t p, std::string_view s) const {
    return in_.size() >= p + s.size() && in_.compare(p, s.size(), s) == 0;
  }
  bool HasLeftTrimMarker(size_t p) const {
    return in_.size() >= p + 2 && in_[p] == '-' && IsSpace(in_[p + 1]);
  }
  bool HasRightTrimMarker(size_t p) const {
    return in_.size() >= p + 2 && IsSpace(in_[p]) && in_[p + 1] == '-';
  }
  // Returns (is delimiter, with trim marker).
  std::pair<bool, bool> AtRightDelim() const {
    if (HasRightTrimMarker(pos_) && HasPrefixAt(pos_ + 2, kRightDelim))
      return {true, true};
    if (HasPrefixAt(pos_, kRightDelim))
      return {true, false};
    return {false, false};
  }
  bool AtTerminator() const {
    int r = Peek();
    if (r < 0)
      return true;
    if (IsSpace(static_cast<char>(r)))
      return true;
    switch (r) {
      case '.':
      case ',':
      case '|':
      case ':':
      case ')':
      case '(':
        return true;
      default:
        return HasPrefixAt(pos_, kRightDelim);
    }
  }

  void LexText() {
    size_t x = in_.find(kLeftDelim, pos_);
    if (x == std::string_view::npos) {
      pos_ = in_.size();
      if (pos_ > start_)
        Emit(It::kText);
      Emit(It::kEOF);
      done_ = true;
      return;
    }
    if (x > pos_) {
      pos_ = x;
      size_t trim = 0;
      if (HasLeftTrimMarker(pos_ + kLeftDelim.size())) {
        size_t e = pos_;
        while (e > start_ && IsSpace(in_[e - 1]))
          e--;
        trim = pos_ - e;
      }
      pos_ -= trim;
      if (pos_ > start_)
        Emit(It::kText);
      pos_ += trim;
      start_ = pos_;
    }
    // lexLeftDelim
    pos_ += kLeftDelim.size();
    bool trim = HasLeftTrimMarker(pos_);
    size_t after = trim ? 2 : 0;
    if (HasPrefixAt(pos_ + after, "/*")) {
      pos_ += after;
      start_ = pos_;
      LexComment();
      return;
    }
    Emit(It::kLeftDelim);
    inside_ = true;
    pos_ += after;
    start_ = pos_;
    paren_depth_ = 0;
  }

  void LexComment() {
    pos_ += 2;
    size_t x = in_.find("*/", pos_);
    if (x == std::string_view::npos) {
      Error("unclosed comment");
      return;
    }
    pos_ = x + 2;
    auto [delim, trim] = AtRightDelim();
    if (!delim) {
      Error("comment ends before closing delimiter");
      return;
    }
    if (trim)
      pos_ += 2;
    pos_ += kRightDelim.size();
    if (trim) {
      while (pos_ < in_.size() && IsSpace(in_[pos_]))
        pos_++;
    }
    start_ = pos_;
  }

  void LexRightDelim(bool trim) {
    if (trim) {
      pos_ += 2;
      start_ = pos_;
    }
    pos_ += kRightDelim.size();
    Emit(It::kRightDelim);
    if (trim) {
      while (pos_ < in_.size() && IsSpace(in_[pos_]))
        pos_++;
      start_ = pos_;
    }
    inside_ = false;
  }

  void LexInsideAction() {
    auto [delim, trim] = AtRightDelim();
    if (delim) {
      if (paren_depth_ == 0) {
        LexRightDelim(trim);
      } else {
        Error("unclosed left paren");
      }
      return;
    }
    int r = Peek();
    if (r < 0) {
      Error("unclosed action");
      return;
    }
    char c = static_cast<char>(r);
    if (IsSpace(c)) {
      LexSpace();
      return;
    }
    pos_++;
    switch (c) {
      case '=':
        Emit(It::kAssign);
        return;
      case ':':
        if (Peek() != '=') {
          Error("expected :=");
          return;
        }
        pos_++;
        Emit(It::kDeclare);
        return;
      case '|':
        Emit(It::kPipe);
        return;
      case '"':
        LexQuote();
        return;
      case '`':
        LexRawQuote();
        return;
      case '$':
        LexFieldOrVariable(It::kVariable);
        return;
      case '\'':
        LexChar();
        return;
      case '(':
        Emit(It::kLeftParen);
        paren_depth_++;
        return;
      case ')':
        paren_depth_--;
        if (paren_depth_ < 0) {
          Error("unexpected right paren");
          return;
        }
        Emit(It::kRightParen);
        return;
      default:
        break;
    }
    if (c == '.') {
      if (pos_ < in_.size() && (in_[pos_] < '0' || in_[pos_] > '9')) {
        LexFieldOrVariable(It::kField);
        return;
      }
      if (pos_ >= in_.size()) {
        LexFieldOrVariable(It::kField);
        return;
      }
    }
    if (c == '.' || c == '+' || c == '-' || (c >= '0' && c <= '9')) {
      pos_--;
      LexNumber();
      return;
    }
    if (IsAlnum(static_cast<unsigned char>(c))) {
      pos_--;
      LexIdentifier();
      return;
    }
    if (r < 0x80 && r >= 0x20 && r != 0x7F) {
      Emit(It::kChar);
      return;
    }
    Error("unrecognized character in action: " + FormatRuneU(in_, pos_ - 1));
  }

  void LexSpace() {
    int num = 0;
    while (pos_ < in_.size() && IsSpace(in_[pos_])) {
      pos_++;
      num++;
    }
    if (HasRightTrimMarker(pos_ - 1) && HasPrefixAt(pos_ + 1, kRightDelim)) {
      pos_--;  // before the space
      if (num == 1) {
        LexRightDelim(true);
        return;
      }
    }
    Emit(It::kSpace);
  }

  void LexQuote() {
    while (true) {
      int r = Peek();
      if (r == '\\') {
        pos_++;
        int n = Peek();
        if (n >= 0 && n != '\n') {
          pos_++;
          continue;
        }
        Error("unterminated quoted string");
        return;
      }
      if (r < 0 || r == '\n') {
        Error("unterminated quoted string");
        return;
      }
      pos_++;
      if (r == '"')
        break;
    }
    Emit(It::kString);
  }

  void LexRawQuote() {
    size_t x = in_.find('`', pos_);
    if (x == std::string_view::npos) {
      Error("unterminated raw quoted string");
      return;
    }
    pos_ = x + 1;
    Emit(It::kRawString);
  }

  void LexChar() {
    while (true) {
      int r = Peek();
      if (r == '\\') {
        pos_++;
        int n = Peek();
        if (n >= 0 && n != '\n') {
          pos_++;
          continue;
        }
        Error("unterminated character constant");
        return;
      }
      if (r < 0 || r == '\n') {
        Error("unterminated character constant");
        return;
      }
      pos_++;
      if (r == '\'')
        break;
    }
    Emit(It::kCharConstant);
  }

  bool Accept(std::string_view valid) {
    if (pos_ < in_.size() && valid.find(in_[pos_]) != std::string_view::npos) {
      pos_++;
      return true;
    }
    return false;
  }
  void AcceptRun(std::string_view valid) {
    while (pos_ < in_.size() && valid.find(in_[pos_]) != std::string_view::npos)
      pos_++;
  }

  bool ScanNumber() {
    Accept("+-");
    std::string_view digits = "0123456789_";
    if (Accept("0")) {
      if (Accept("xX")) {
        digits = "0123456789abcdefABCDEF_";
      } else if (Accept("oO")) {
        digits = "01234567_";
      } else if (Accept("bB")) {
        digits = "01_";
      }
    }
    AcceptRun(digits);
    if (Accept("."))
      AcceptRun(digits);
    if (digits.size() == 11 && Accept("eE")) {
      Accept("+-");
      AcceptRun("0123456789_");
    }
    if (digits.size() == 23 && Accept("pP")) {
      Accept("+-");
      AcceptRun("0123456789_");
    }
    Accept("i");
    if (pos_ < in_.size() && IsAlnum(static_cast<unsigned char>(in_[pos_]))) {
      pos_++;
      return false;
    }
    return true;
  }

  void LexNumber() {
    if (!ScanNumber()) {
      std::string q;
      AppendGoQuoted(&q, in_.substr(start_, pos_ - start_));
      Error("bad number syntax: " + q);
      return;
    }
    int sign = Peek();
    if (sign == '+' || sign == '-') {
      // Complex: 1+2i. Complex constants are not supported by Loki's functions; Go's lexer
      // accepts them, so only reject malformed ones here and let the parser refuse the rest.
      bool ok = ScanNumber() && in_[pos_ - 1] == 'i';
      std::string q;
      AppendGoQuoted(&q, in_.substr(start_, pos_ - start_));
      Error(ok ? "complex constants are not supported: " + q : "bad number syntax: " + q);
      return;
    }
    Emit(It::kNumber);
  }

  void LexIdentifier() {
    while (pos_ < in_.size() && IsAlnum(static_cast<unsigned char>(in_[pos_])))
      pos_++;
    if (!AtTerminator()) {
      Error("bad character " + FormatRuneU(in_, pos_));
      return;
    }
    std::string_view word = in_.substr(start_, pos_ - start_);
    static const std::pair<std::string_view, It> kKeys[] = {{"block", It::kBlock},
                                                            {"break", It::kBreak},
                                                            {"continue", It::kContinue},
                                                            {"define", It::kDefine},
                                                            {"else", It::kElse},
                                                            {"end", It::kEnd},
                                                            {"if", It::kIf},
                                                            {"range", It::kRange},
                                                            {"nil", It::kNil},
                                                            {"template", It::kTemplate},
                                                            {"with", It::kWith}};
    for (const auto& [k, t] : kKeys) {
      if (word == k) {
        Emit(t);
        return;
      }
    }
    if (word == "true" || word == "false") {
      Emit(It::kBool);
      return;
    }
    Emit(It::kIdentifier);
  }

  void LexFieldOrVariable(It typ) {
    if (AtTerminator()) {
      Emit(typ == It::kVariable ? It::kVariable : It::kDot);
      return;
    }
    while (pos_ < in_.size() && IsAlnum(static_cast<unsigned char>(in_[pos_])))
      pos_++;
    if (!AtTerminator()) {
      Error("bad character " + FormatRuneU(in_, pos_));
      return;
    }
    Emit(typ);
  }

  std::string_view in_;
  size_t pos_ = 0, start_ = 0;
  int paren_depth_ = 0;
  bool inside_ = false;
  bool done_ = false;
  std::vector<Item> items_;
};

// ---------------------------------------------------------------------------------------------

struct ParseError {
  std::string msg;
};

// strconv.Unquote for "..." and `...`, and UnquoteChar for '...'. Returns false on bad syntax.
bool UnquoteChar(std::string_view* s, char quote, uint32_t* out, bool* multibyte) {
  *multibyte = false;
  unsigned char c = static_cast<unsigned char>((*s)[0]);
  if (c == static_cast<unsigned char>(quote) && (quote == '\'' || quote == '"'))
    return false;
  if (c >= 0x80) {
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    n = std::min(n, s->size());
    uint32_t r = c & (0x7F >> (n + 1));
    for (size_t k = 1; k < n; k++)
      r = (r << 6) | (static_cast<unsigned char>((*s)[k]) & 0x3F);
    *out = r;
    *multibyte = true;
    s->remove_prefix(n);
    return true;
  }
  if (c != '\\') {
    *out = c;
    s->remove_prefix(1);
    return true;
  }
  if (s->size() <= 1)
    return false;
  char e = (*s)[1];
  s->remove_prefix(2);
  switch (e) {
    case 'a':
      *out = '\a';
      return true;
    case 'b':
      *out = '\b';
      return true;
    case 'f':
      *out = '\f';
      return true;
    case 'n':
      *out = '\n';
      return true;
    case 'r':
      *out = '\r';
      return true;
    case 't':
      *out = '\t';
      return true;
    case 'v':
      *out = '\v';
      return true;
    case 'x':
    case 'u':
    case 'U': {
      size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
      if (s->size() < n)
        return false;
      uint32_t v = 0;
      for (size_t k = 0; k < n; k++) {
        char h = (*s)[k];
        int d = (h >= '0' && h <= '9')   ? h - '0'
                : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                         : -1;
        if (d < 0)
          return false;
        v = v * 16 + static_cast<uint32_t>(d);
      }
      s->remove_prefix(n);
      if (e == 'x') {
        *out = v;
        *multibyte = false;  // a raw byte
        return true;
      }
      if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return false;
      *out = v;
      *multibyte = true;
      return true;
    }
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7': {
      uint32_t v = static_cast<uint32_t>(e - '0');
      if (s->size() < 2)
        return false;
      for (int k = 0; k < 2; k++) {
        char o = (*s)[k];
        if (o < '0' || o > '7')
          return false;
        v = v * 8 + static_cast<uint32_t>(o - '0');
      }
      if (v > 255)
        return false;
      s->remove_prefix(2);
      *out = v;
      return true;
    }
    case '\\':
      *out = '\\';
      return true;
    case '\'':
    case '"':
      if (e != quote)
        return false;
      *out = static_cast<uint32_t>(e);
      return true;
    default:
      return false;
  }
}

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

bool Unquote(std::string_view q, std::string* out) {
  if (q.size() < 2)
    return false;
  if (q[0] == '`') {
    if (q.back() != '`')
      return false;
    for (char c : q.substr(1, q.size() - 2)) {
      if (c != '\r')
        out->push_back(c);
    }
    return true;
  }
  if (q[0] != '"' || q.back() != '"')
    return false;
  std::string_view s = q.substr(1, q.size() - 2);
  while (!s.empty()) {
    uint32_t r = 0;
    bool mb = false;
    if (!UnquoteChar(&s, '"', &r, &mb))
      return false;
    if (mb || r >= 0x80) {
      if (mb) {
        AppendUtf8(out, r);
      } else {
        out->push_back(static_cast<char>(r));
      }
    } else {
      out->push_back(static_cast<char>(r));
    }
  }
  return true;
}

bool IsRuneLiteral(std::string_view t) {
  return !t.empty() && t[0] == '\'';
}
bool IsHexLiteral(std::string_view t) {
  if (!t.empty() && (t[0] == '+' || t[0] == '-'))
    t.remove_prefix(1);
  return t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') &&
         t.find_first_of("pP") == std::string_view::npos;
}

// Go's strconv.ParseInt(text, 0, 64) / ParseFloat(text, 64) for template number literals.
bool ParseIntLiteral(std::string_view s, int64_t* out, bool* overflow) {
  *overflow = false;
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() >= 2 && s[0] == '0') {
    char c = static_cast<char>(s[1] | 0x20);
    if (c == 'x') {
      base = 16;
      s.remove_prefix(2);
    } else if (c == 'o') {
      base = 8;
      s.remove_prefix(2);
    } else if (c == 'b') {
      base = 2;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }
  std::string digits;
  for (char c : s) {
    if (c != '_')
      digits.push_back(c);
  }
  if (digits.empty()) {
    if (base == 8) {
      *out = 0;
      return true;
    }
    return false;
  }
  uint64_t v = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
  if (r.ptr != digits.data() + digits.size())
    return false;
  if (r.ec == std::errc::result_out_of_range) {
    *overflow = true;
    return false;
  }
  if (neg ? v > (uint64_t{1} << 63) : v > (uint64_t{1} << 63) - 1) {
    *overflow = true;
    return false;
  }
  *out = neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return true;
}

bool ParseFloatLiteral(std::string_view s, double* out) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  std::string clean;
  for (char c : s) {
    if (c != '_')
      clean.push_back(c);
  }
  double v = 0;
  std::from_chars_result r;
  if (clean.size() > 2 && clean[0] == '0' && (clean[1] == 'x' || clean[1] == 'X')) {
    if (clean.find_first_of("pP") == std::string::npos)
      return false;
    r = std::from_chars(clean.data() + 2, clean.data() + clean.size(), v, std::chars_format::hex);
  } else {
    r = std::from_chars(clean.data(), clean.data() + clean.size(), v);
  }
  if (r.ptr != clean.data() + clean.size())
    return false;
  if (r.ec != std::errc() && r.ec != std::errc::result_out_of_range)
    return false;
  *out = neg ? -v : v;
  return true;
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view name, Tree* tree)
      : text_(text), name_(name), tree_(tree) {}

  void Parse() {
    items_ = Lexer(text_).Run();
    vars_.push_back({"$", 0});
    auto root = std::make_unique<Node>(NodeType::kList, Peek().pos);
    while (Peek().typ != It::kEOF) {
      if (Peek().typ == It::kLeftDelim) {
        size_t save = idx_;
        Next();
        if (NextNonSpace().typ == It::kDefine) {
          Errorf("{{define}} is not supported in Loki templates");
        }
        idx_ = save;
      }
      auto n = TextOrAction();
      if (n.end_or_else)
        Errorf("unexpected " + n.what);
      root->nodes.push_back(std::move(n.node));
    }
    tree_->root = std::move(root);
  }

 private:
  struct Parsed {
    Parsed() = default;
    Parsed(std::unique_ptr<Node> n) : node(std::move(n)) {}  // NOLINT: implicit on purpose
    std::unique_ptr<Node> node;
    bool end_or_else = false;  // NOLINT
    bool is_else = false;
    bool else_if = false;  // {{else if ...}}: the "if" is left pending
    bool else_with = false;
    std::string what;  // "{{end}}" / "{{else}}"
    int pos = 0;
  };

  // Token stream with Go's backup semantics; reading past the end repeats the last item (EOF or
  // the lexer's error).
  const Item& At(size_t i) const { return items_[std::min(i, items_.size() - 1)]; }
  const Item& Next() {
    cur_ = idx_;
    return At(idx_++);
  }
  void Backup() { idx_--; }
  const Item& Peek() const { return At(idx_); }
  const Item& NextNonSpace() {
    while (true) {
      const Item& it = Next();
      if (it.typ != It::kSpace)
        return it;
    }
  }
  const Item& PeekNonSpace() {
    size_t save = idx_;
    const Item& it = NextNonSpace();
    idx_ = save;
    return it;
  }

  int LineOf(int pos) const {
    return 1 + static_cast<int>(std::count(
                   text_.begin(),
                   text_.begin() + std::min<size_t>(static_cast<size_t>(pos), text_.size()), '\n'));
  }

  [[noreturn]] void Errorf(const std::string& msg) {
    int pos = items_[std::min(cur_, items_.size() - 1)].pos;
    throw ParseError{absl::StrCat("template: ", AV(name_), ":", LineOf(pos), ": ", msg)};
  }

  static std::string ItemString(const Item& i) {
    if (i.typ == It::kEOF)
      return "EOF";
    if (i.typ == It::kError)
      return i.val;
    if (i.typ > It::kKeyword)
      return "<" + i.val + ">";
    std::string out;
    if (i.val.size() > 10) {
      // %.10q: the first 10 runes, quoted, then "...".
      size_t n = 0, k = 0;
      while (k < i.val.size() && n < 10) {
        k++;
        while (k < i.val.size() && (static_cast<unsigned char>(i.val[k]) & 0xC0) == 0x80)
          k++;
        n++;
      }
      AppendGoQuoted(&out, std::string_view(i.val).substr(0, k));
      out += "...";
      return out;
    }
    AppendGoQuoted(&out, i.val);
    return out;
  }

  [[noreturn]] void Unexpected(const Item& it, std::string_view context) {
    if (it.typ == It::kError)
      Errorf(it.val);
    Errorf(absl::StrCat("unexpected ", ItemString(it), " in ", AV(context)));
  }

  const Item& Expect(It t, std::string_view context) {
    const Item& it = NextNonSpace();
    if (it.typ != t)
      Unexpected(it, context);
    return it;
  }

  Parsed TextOrAction() {
    const Item& it = NextNonSpace();
    switch (it.typ) {
      case It::kText: {
        auto n = std::make_unique<Node>(NodeType::kText, it.pos);
        n->text = it.val;
        return {std::move(n)};
      }
      case It::kLeftDelim:
        return Action();
      default:
        Unexpected(it, "input");
    }
  }

  Parsed Action() {
    const Item& it = NextNonSpace();
    switch (it.typ) {
      case It::kBlock:
      case It::kTemplate:
        Errorf(absl::StrCat("{{", it.val, "}} is not supported in Loki templates"));
      case It::kBreak:
      case It::kContinue: {
        bool is_break = it.typ == It::kBreak;
        int pos = it.pos;
        const Item& t = NextNonSpace();
        if (t.typ != It::kRightDelim)
          Unexpected(t, is_break ? "{{break}}" : "{{continue}}");
        if (range_depth_ == 0) {
          Errorf(is_break ? "{{break}} outside {{range}}" : "{{continue}} outside {{range}}");
        }
        return {std::make_unique<Node>(is_break ? NodeType::kBreak : NodeType::kContinue, pos)};
      }
      case It::kElse: {
        Parsed p;
        p.end_or_else = true;
        p.is_else = true;
        p.what = "{{else}}";
        p.pos = it.pos;
        const Item& peek = PeekNonSpace();
        if (peek.typ == It::kIf) {
          p.else_if = true;
          return p;
        }
        if (peek.typ == It::kWith) {
          p.else_with = true;
          return p;
        }
        Expect(It::kRightDelim, "else");
        return p;
      }
      case It::kEnd: {
        Parsed p;
        p.end_or_else = true;
        p.what = "{{end}}";
        p.pos = it.pos;
        Expect(It::kRightDelim, "end");
        return p;
      }
      case It::kIf:
        return {Control(NodeType::kIf, "if")};
      case It::kRange:
        return {Control(NodeType::kRange, "range")};
      case It::kWith:
        return {Control(NodeType::kWith, "with")};
      default:
        break;
    }
    Backup();
    int pos = Peek().pos;
    auto n = std::make_unique<Node>(NodeType::kAction, pos);
    n->pipe = Pipeline("command", It::kRightDelim);
    return {std::move(n)};
  }

  // itemList: parses until {{end}} or {{else}}.
  std::pair<std::unique_ptr<Node>, Parsed> ItemList() {
    auto list = std::make_unique<Node>(NodeType::kList, PeekNonSpace().pos);
    while (PeekNonSpace().typ != It::kEOF) {
      Parsed n = TextOrAction();
      if (n.end_or_else)
        return {std::move(list), std::move(n)};
      list->nodes.push_back(std::move(n.node));
    }
    Errorf("unexpected EOF");
  }

  // Nesting guard: parentheses and control structures recurse in the parser and the executor,
  // so unbounded nesting in a query would exhaust the stack (Go caps it too).
  struct DepthGuard {
    explicit DepthGuard(Parser* p) : p(p) {
      if (++p->depth_ > kMaxParseDepth)
        p->Errorf("max expression depth exceeded");
    }
    ~DepthGuard() { p->depth_--; }
    Parser* p;
  };
  static constexpr int kMaxParseDepth = 1000;

  std::unique_ptr<Node> Control(NodeType type, std::string_view context) {
    DepthGuard guard(this);
    size_t saved_vars = vars_.size();
    auto n = std::make_unique<Node>(type, 0);
    n->pipe = Pipeline(context, It::kRightDelim);
    n->pos = n->pipe->pos;
    if (type == NodeType::kRange)
      range_depth_++;
    auto [list, next] = ItemList();
    if (type == NodeType::kRange)
      range_depth_--;
    n->list = std::move(list);
    if (next.is_else) {
      if (type == NodeType::kIf && next.else_if) {
        NextNonSpace();  // the "if"
        auto else_list = std::make_unique<Node>(NodeType::kList, next.pos);
        else_list->nodes.push_back(Control(NodeType::kIf, "if"));
        n->else_list = std::move(else_list);
      } else if (type == NodeType::kWith && next.else_with) {
        NextNonSpace();  // the "with"
        auto else_list = std::make_unique<Node>(NodeType::kList, next.pos);
        else_list->nodes.push_back(Control(NodeType::kWith, "with"));
        n->else_list = std::move(else_list);
      } else {
        if (next.else_if || next.else_with) {
          // {{else if}} inside range/with (or {{else with}} inside if): Go reports the pending
          // keyword as unexpected in "else".
          Unexpected(NextNonSpace(), "input");
        }
        auto [else_list, end] = ItemList();
        if (end.is_else)
          Errorf("expected end; found {{else}}");
        n->else_list = std::move(else_list);
      }
    }
    vars_.resize(saved_vars);
    return n;
  }

  int NewSlot() { return tree_->num_slots++; }

  std::unique_ptr<Node> Pipeline(std::string_view context, It end) {
    const Item& first = PeekNonSpace();
    auto pipe = std::make_unique<Node>(NodeType::kPipe, first.pos);
    // Declarations: $x := / $x = / $i, $e :=
    while (true) {
      size_t save = idx_;
      const Item& v = PeekNonSpace();
      if (v.typ != It::kVariable)
        break;
      NextNonSpace();
      const Item& next = PeekNonSpace();
      if (next.typ == It::kAssign || next.typ == It::kDeclare) {
        pipe->is_assign = next.typ == It::kAssign;
        NextNonSpace();
        AddDecl(pipe.get(), v.val);
        break;
      }
      if (next.typ == It::kChar && next.val == ",") {
        NextNonSpace();
        AddDecl(pipe.get(), v.val);
        if (context == "range" && pipe->decl_names.size() < 2) {
          It t = PeekNonSpace().typ;
          if (t == It::kVariable || t == It::kRightDelim || t == It::kRightParen)
            continue;
          Errorf("range can only initialize variables");
        }
        Errorf(absl::StrCat("too many declarations in ", AV(context)));
      }
      idx_ = save;  // not a declaration: the variable starts a command
      break;
    }
    while (true) {
      const Item& t = NextNonSpace();
      if (t.typ == end) {
        CheckPipeline(pipe.get(), context);
        return pipe;
      }
      switch (t.typ) {
        case It::kBool:
        case It::kCharConstant:
        case It::kDot:
        case It::kField:
        case It::kIdentifier:
        case It::kNumber:
        case It::kNil:
        case It::kRawString:
        case It::kString:
        case It::kVariable:
        case It::kLeftParen:
          Backup();
          pipe->cmds.push_back(Command());
          break;
        default:
          Unexpected(t, context);
      }
    }
  }

  void AddDecl(Node* pipe, const std::string& name) {
    pipe->decl_names.push_back(name);
    if (pipe->is_assign) {
      int slot = -1;
      for (size_t k = vars_.size(); k > 0; k--) {
        if (vars_[k - 1].first == name) {
          slot = vars_[k - 1].second;
          break;
        }
      }
      pipe->decl_slots.push_back(slot);
      if (slot < 0)
        vars_.push_back({name, NewSlot()});
      return;
    }
    int slot = NewSlot();
    pipe->decl_slots.push_back(slot);
    vars_.push_back({name, slot});
  }

  void CheckPipeline(Node* pipe, std::string_view context) {
    if (pipe->cmds.empty())
      Errorf(absl::StrCat("missing value for ", AV(context)));
    for (size_t i = 1; i < pipe->cmds.size(); i++) {
      switch (pipe->cmds[i]->args[0]->type) {
        case NodeType::kBool:
        case NodeType::kDot:
        case NodeType::kNil:
        case NodeType::kNumber:
        case NodeType::kString:
          Errorf(absl::StrCat("non executable command in pipeline stage ", i + 1));
        default:
          break;
      }
    }
  }

  std::unique_ptr<Node> Command() {
    auto cmd = std::make_unique<Node>(NodeType::kCommand, PeekNonSpace().pos);
    while (true) {
      PeekNonSpace();
      auto operand = Operand();
      if (operand)
        cmd->args.push_back(std::move(operand));
      const Item& t = Next();
      if (t.typ == It::kSpace)
        continue;
      if (t.typ == It::kRightDelim || t.typ == It::kRightParen) {
        Backup();
      } else if (t.typ != It::kPipe) {
        Unexpected(t, "operand");
      }
      break;
    }
    if (cmd->args.empty())
      Errorf("empty command");
    const Node* first = cmd->args[0].get();
    if (first->type == NodeType::kIdentifier && TakesRegex(*first->func) && cmd->args.size() > 1 &&
        cmd->args[1]->type == NodeType::kString) {
      cmd->regex = CompileGoRegex(cmd->args[1]->text);
    }
    return cmd;
  }

  std::unique_ptr<Node> Operand() {
    auto node = Term();
    if (!node)
      return nullptr;
    if (Peek().typ == It::kField) {
      std::vector<std::string> fields;
      int pos = Peek().pos;
      while (Peek().typ == It::kField)
        fields.push_back(Next().val.substr(1));
      switch (node->type) {
        case NodeType::kField:
          node->pos = pos;  // Go rebuilds the field node at the chain's position
          for (auto& f : fields) {
            node->ident.push_back(f);
            AddField(f);
          }
          break;
        case NodeType::kVariable:
          node->pos = pos;
          for (auto& f : fields) {
            node->ident.push_back(f);
            if (node->var_slot == 0)
              AddField(f);
          }
          break;
        case NodeType::kBool:
        case NodeType::kString:
        case NodeType::kNumber:
        case NodeType::kNil:
        case NodeType::kDot: {
          std::string q;
          AppendGoQuoted(&q, NodeString(*node));
          Errorf("unexpected . after term " + q);
        }
        default: {
          auto chain = std::make_unique<Node>(NodeType::kChain, pos);
          chain->chain_node = std::move(node);
          chain->ident = std::move(fields);
          node = std::move(chain);
        }
      }
    }
    return node;
  }

  void AddField(const std::string& f) {
    if (std::find(tree_->fields.begin(), tree_->fields.end(), f) == tree_->fields.end()) {
      tree_->fields.push_back(f);
    }
  }

  std::unique_ptr<Node> Term() {
    const Item& t = NextNonSpace();
    switch (t.typ) {
      case It::kIdentifier: {
        const FuncInfo* f = LookupFunc(t.val);
        if (f == nullptr) {
          std::string q;
          AppendGoQuoted(&q, t.val);
          Errorf("function " + q + " not defined");
        }
        auto n = std::make_unique<Node>(NodeType::kIdentifier, t.pos);
        n->text = t.val;
        n->func = f;
        if (t.val == "__line__")
          tree_->uses_line = true;
        if (t.val == "__timestamp__")
          tree_->uses_timestamp = true;
        return n;
      }
      case It::kDot:
        tree_->uses_all_labels = true;
        return std::make_unique<Node>(NodeType::kDot, t.pos);
      case It::kNil:
        return std::make_unique<Node>(NodeType::kNil, t.pos);
      case It::kVariable: {
        auto n = std::make_unique<Node>(NodeType::kVariable, t.pos);
        n->ident.push_back(t.val);
        for (size_t k = vars_.size(); k > 0; k--) {
          if (vars_[k - 1].first == t.val) {
            n->var_slot = vars_[k - 1].second;
            break;
          }
        }
        if (n->var_slot < 0) {
          std::string q;
          AppendGoQuoted(&q, t.val);
          Errorf("undefined variable " + q);
        }
        if (n->var_slot == 0 && Peek().typ != It::kField)
          tree_->uses_all_labels = true;
        return n;
      }
      case It::kField: {
        auto n = std::make_unique<Node>(NodeType::kField, t.pos);
        n->ident.push_back(t.val.substr(1));
        AddField(n->ident.back());
        return n;
      }
      case It::kBool: {
        auto n = std::make_unique<Node>(NodeType::kBool, t.pos);
        n->bool_val = t.val == "true";
        return n;
      }
      case It::kCharConstant:
      case It::kNumber:
        return Number(t);
      case It::kLeftParen: {
        DepthGuard guard(this);
        auto p = Pipeline("parenthesized pipeline", It::kRightParen);
        return p;
      }
      case It::kString:
      case It::kRawString: {
        auto n = std::make_unique<Node>(NodeType::kString, t.pos);
        n->orig = t.val;
        if (!Unquote(t.val, &n->text))
          Errorf("invalid syntax");
        return n;
      }
      default:
        Backup();
        return nullptr;
    }
  }

  std::unique_ptr<Node> Number(const Item& t) {
    auto n = std::make_unique<Node>(NodeType::kNumber, t.pos);
    n->orig = t.val;
    std::string_view text = t.val;
    if (t.typ == It::kCharConstant) {
      std::string_view body = text.substr(1);
      uint32_t r = 0;
      bool mb = false;
      if (body.empty() || !UnquoteChar(&body, '\'', &r, &mb) || body != "'") {
        Errorf(absl::StrCat("malformed character constant: ", AV(text)));
      }
      n->is_int = n->is_float = true;
      n->int_val = r;
      n->float_val = r;
      return n;
    }
    if (!text.empty() && text.back() == 'i')
      Errorf("complex constants are not supported");
    bool overflow = false;
    int64_t iv = 0;
    if (ParseIntLiteral(text, &iv, &overflow)) {
      n->is_int = n->is_float = true;
      n->int_val = iv;
      n->float_val = static_cast<double>(iv);
    } else {
      double f = 0;
      if (ParseFloatLiteral(text, &f) && !std::isinf(f)) {
        if (text.find_first_of(".eEpP") == std::string_view::npos) {
          std::string q;
          AppendGoQuoted(&q, text);
          Errorf("integer overflow: " + q);
        }
        n->is_float = true;
        n->float_val = f;
        if (f >= -9223372036854775808.0 && f < 9223372036854775808.0 &&
            static_cast<double>(static_cast<int64_t>(f)) == f) {
          n->is_int = true;
          n->int_val = static_cast<int64_t>(f);
        }
      }
    }
    if (!n->is_int && !n->is_float) {
      std::string q;
      AppendGoQuoted(&q, text);
      Errorf("illegal number syntax: " + q);
    }
    n->float_syntax = n->is_float && !IsHexLiteral(text) && !IsRuneLiteral(text) &&
                      text.find_first_of(".eEpP") != std::string_view::npos;
    return n;
  }

  std::string_view text_;
  std::string_view name_;
  Tree* tree_;
  std::vector<Item> items_;
  size_t idx_ = 0;
  size_t cur_ = 0;
  int range_depth_ = 0;
  int depth_ = 0;
  std::vector<std::pair<std::string, int>> vars_;
};

void WriteNode(const Node& n, std::string* out);

void WritePipe(const Node& p, std::string* out) {
  if (!p.decl_names.empty()) {
    for (size_t i = 0; i < p.decl_names.size(); i++) {
      if (i > 0)
        out->append(", ");
      out->append(p.decl_names[i]);
    }
    out->append(p.is_assign ? " = " : " := ");
  }
  for (size_t i = 0; i < p.cmds.size(); i++) {
    if (i > 0)
      out->append(" | ");
    WriteNode(*p.cmds[i], out);
  }
}

void WriteNode(const Node& n, std::string* out) {
  switch (n.type) {
    case NodeType::kText:
      out->append(n.text);
      return;
    case NodeType::kAction:
      out->append("{{");
      WritePipe(*n.pipe, out);
      out->append("}}");
      return;
    case NodeType::kIf:
    case NodeType::kWith:
    case NodeType::kRange:
      out->append(n.type == NodeType::kIf     ? "{{if "
                  : n.type == NodeType::kWith ? "{{with "
                                              : "{{range ");
      WritePipe(*n.pipe, out);
      out->append("}}");
      WriteNode(*n.list, out);
      if (n.else_list) {
        out->append("{{else}}");
        WriteNode(*n.else_list, out);
      }
      out->append("{{end}}");
      return;
    case NodeType::kBreak:
      out->append("{{break}}");
      return;
    case NodeType::kContinue:
      out->append("{{continue}}");
      return;
    case NodeType::kList:
      for (const auto& c : n.nodes)
        WriteNode(*c, out);
      return;
    case NodeType::kPipe:
      WritePipe(n, out);
      return;
    case NodeType::kCommand:
      for (size_t i = 0; i < n.args.size(); i++) {
        if (i > 0)
          out->push_back(' ');
        if (n.args[i]->type == NodeType::kPipe) {
          out->push_back('(');
          WriteNode(*n.args[i], out);
          out->push_back(')');
        } else {
          WriteNode(*n.args[i], out);
        }
      }
      return;
    case NodeType::kField:
      for (const auto& f : n.ident) {
        out->push_back('.');
        out->append(f);
      }
      return;
    case NodeType::kVariable:
      for (size_t i = 0; i < n.ident.size(); i++) {
        if (i > 0)
          out->push_back('.');
        out->append(n.ident[i]);
      }
      return;
    case NodeType::kDot:
      out->push_back('.');
      return;
    case NodeType::kNil:
      out->append("nil");
      return;
    case NodeType::kBool:
      out->append(n.bool_val ? "true" : "false");
      return;
    case NodeType::kNumber:
    case NodeType::kString:
      out->append(n.orig);
      return;
    case NodeType::kIdentifier:
      out->append(n.text);
      return;
    case NodeType::kChain:
      if (n.chain_node->type == NodeType::kPipe) {
        out->push_back('(');
        WriteNode(*n.chain_node, out);
        out->push_back(')');
      } else {
        WriteNode(*n.chain_node, out);
      }
      for (const auto& f : n.ident) {
        out->push_back('.');
        out->append(f);
      }
      return;
  }
}

}  // namespace

std::string NodeString(const Node& n) {
  std::string out;
  WriteNode(n, &out);
  return out;
}

absl::StatusOr<std::unique_ptr<Tree>> ParseTree(std::string_view text, std::string_view name) {
  auto tree = std::make_unique<Tree>();
  tree->name = std::string(name);
  tree->text = std::string(text);
  try {
    Parser(tree->text, tree->name, tree.get()).Parse();
  } catch (const ParseError& e) {
    return absl::InvalidArgumentError(e.msg);
  }
  return tree;
}

}  // namespace norn::logql_template::internal
