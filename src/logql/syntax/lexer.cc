#include "logql/syntax/lexer.h"

#include <cctype>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "logql/syntax/ast.h"
#include "logql/syntax/go_compat.h"

namespace norn::logql::syntax::internal {
namespace {

constexpr char32_t kEof = 0xFFFFFFFF;
constexpr char32_t kBadRune = 0xFFFFFFFE;
constexpr char32_t kMicro = 0xB5;  // 'µ', a duration unit rune

struct Keyword {
  std::string_view word;
  Tok kind;
  int sub;
};

// Keywords recognised anywhere (Loki's `tokens` table), case-insensitively.
constexpr Keyword kKeywords[] = {
    {"by", Tok::kBy, 0},
    {"without", Tok::kWithout, 0},
    {"bool", Tok::kBool, 0},
    {"offset", Tok::kOffset, 0},
    {"on", Tok::kOn, 0},
    {"ignoring", Tok::kIgnoring, 0},
    {"group_left", Tok::kGroupLeft, 0},
    {"group_right", Tok::kGroupRight, 0},
    {"or", Tok::kOr, 0},
    {"and", Tok::kAnd, 0},
    {"unless", Tok::kUnless, 0},
    {"json", Tok::kJson, 0},
    {"regexp", Tok::kRegexp, 0},
    {"logfmt", Tok::kLogfmt, 0},
    {"unpack", Tok::kUnpack, 0},
    {"pattern", Tok::kPattern, 0},
    {"label_format", Tok::kLabelFormat, 0},
    {"line_format", Tok::kLineFormat, 0},
    {"decolorize", Tok::kDecolorize, 0},
    {"drop", Tok::kDrop, 0},
    {"keep", Tok::kKeep, 0},
    {"unwrap", Tok::kUnwrap, 0},
};

// Function names: keywords only when followed by `(` (or by/without + `(`), identifiers
// otherwise, so `{rate="x"}` and `| unwrap bytes` keep working.
constexpr Keyword kFunctions[] = {
    {"count_over_time", Tok::kRangeOp, static_cast<int>(RangeOp::kCountOverTime)},
    {"rate", Tok::kRangeOp, static_cast<int>(RangeOp::kRate)},
    {"rate_counter", Tok::kRangeOp, static_cast<int>(RangeOp::kRateCounter)},
    {"bytes_over_time", Tok::kRangeOp, static_cast<int>(RangeOp::kBytesOverTime)},
    {"bytes_rate", Tok::kRangeOp, static_cast<int>(RangeOp::kBytesRate)},
    {"avg_over_time", Tok::kRangeOp, static_cast<int>(RangeOp::kAvgOverTime)},
    {"sum_over_time", Tok::kRangeOp, static_cast<int>(RangeOp::kSumOverTime)},
    {"min_over_time", Tok::kRangeOp, static_cast<int>(RangeOp::kMinOverTime)},
    {"max_over_time", Tok::kRangeOp, static_cast<int>(RangeOp::kMaxOverTime)},
    {"stdvar_over_time", Tok::kRangeOp, static_cast<int>(RangeOp::kStdvarOverTime)},
    {"stddev_over_time", Tok::kRangeOp, static_cast<int>(RangeOp::kStddevOverTime)},
    {"quantile_over_time", Tok::kRangeOp, static_cast<int>(RangeOp::kQuantileOverTime)},
    {"first_over_time", Tok::kRangeOp, static_cast<int>(RangeOp::kFirstOverTime)},
    {"last_over_time", Tok::kRangeOp, static_cast<int>(RangeOp::kLastOverTime)},
    {"absent_over_time", Tok::kRangeOp, static_cast<int>(RangeOp::kAbsentOverTime)},
    {"sum", Tok::kVectorOp, static_cast<int>(VectorOp::kSum)},
    {"avg", Tok::kVectorOp, static_cast<int>(VectorOp::kAvg)},
    {"count", Tok::kVectorOp, static_cast<int>(VectorOp::kCount)},
    {"max", Tok::kVectorOp, static_cast<int>(VectorOp::kMax)},
    {"min", Tok::kVectorOp, static_cast<int>(VectorOp::kMin)},
    {"stddev", Tok::kVectorOp, static_cast<int>(VectorOp::kStddev)},
    {"stdvar", Tok::kVectorOp, static_cast<int>(VectorOp::kStdvar)},
    {"bottomk", Tok::kVectorOp, static_cast<int>(VectorOp::kBottomK)},
    {"topk", Tok::kVectorOp, static_cast<int>(VectorOp::kTopK)},
    {"sort", Tok::kVectorOp, static_cast<int>(VectorOp::kSort)},
    {"sort_desc", Tok::kVectorOp, static_cast<int>(VectorOp::kSortDesc)},
    {"approx_topk", Tok::kVectorOp, static_cast<int>(VectorOp::kApproxTopK)},
    {"vector", Tok::kVector, 0},
    {"label_replace", Tok::kLabelReplace, 0},
    {"ip", Tok::kIp, 0},
    {"bytes", Tok::kConv, static_cast<int>(UnwrapConv::kBytes)},
    {"duration", Tok::kConv, static_cast<int>(UnwrapConv::kDuration)},
    {"duration_seconds", Tok::kConv, static_cast<int>(UnwrapConv::kDurationSeconds)},
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsDigit(char32_t r) {
  return r >= '0' && r <= '9';
}
bool IsSpace(char32_t r) {
  return r == ' ' || r == '\t' || r == '\n' || r == '\r';
}
bool IsLetter(char32_t r) {
  // Go's unicode.IsLetter; every non-ASCII rune is taken as a letter (close enough for labels).
  return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= 0x80 && r < kBadRune);
}
bool IsDurationRune(char32_t r) {
  switch (r) {
    case 'n':
    case 'u':
    case kMicro:
    case 'm':
    case 's':
    case 'h':
    case 'd':
    case 'w':
    case 'y':
      return true;
    default:
      return false;
  }
}
bool IsBytesRune(char32_t r) {
  switch (r) {
    case 'B':
    case 'i':
    case 'k':
    case 'K':
    case 'M':
    case 'G':
    case 'T':
    case 'P':
      return true;
    default:
      return false;
  }
}

// A position in the input with Go text/scanner's line/column bookkeeping (columns count
// characters, not bytes).
struct Cursor {
  size_t pos = 0;
  int line = 1;
  int col = 1;  // column of the character at `pos`
};

class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  std::vector<Token> Run() {
    std::vector<Token> out;
    while (true) {
      Token t = Next();
      bool stop = t.kind == Tok::kEnd || t.kind == Tok::kError;
      out.push_back(std::move(t));
      if (stop)
        break;
    }
    return out;
  }

 private:
  // Decodes the rune at c.pos (kEof at the end, kBadRune for invalid UTF-8) and its size.
  char32_t RuneAt(size_t pos, size_t* len) const {
    if (pos >= in_.size()) {
      *len = 0;
      return kEof;
    }
    unsigned char c = static_cast<unsigned char>(in_[pos]);
    if (c < 0x80) {
      *len = 1;
      return c;
    }
    int n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || pos + static_cast<size_t>(n) > in_.size()) {
      *len = 1;
      return kBadRune;
    }
    char32_t r = c & (0x7F >> n);
    for (int k = 1; k < n; ++k) {
      unsigned char b = static_cast<unsigned char>(in_[pos + static_cast<size_t>(k)]);
      if ((b & 0xC0) != 0x80) {
        *len = 1;
        return kBadRune;
      }
      r = (r << 6) | (b & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (r < kMin[n] || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) {
      *len = 1;
      return kBadRune;
    }
    *len = static_cast<size_t>(n);
    return r;
  }
  char32_t Peek(const Cursor& c) const {
    size_t len;
    return RuneAt(c.pos, &len);
  }
  char32_t Peek() const { return Peek(cur_); }
  // Advances past one rune and returns it.
  char32_t Advance(Cursor* c) const {
    size_t len;
    char32_t r = RuneAt(c->pos, &len);
    if (r == kEof)
      return r;
    c->pos += len;
    if (r == '\n') {
      ++c->line;
      c->col = 1;
    } else {
      ++c->col;
    }
    return r;
  }
  char32_t Advance() { return Advance(&cur_); }

  Token Make(Tok kind, const Cursor& start, bool line_lost = false) const {
    Token t;
    t.kind = kind;
    t.line = line_lost ? 0 : start.line;
    t.col = start.col;
    return t;
  }
  Token Error(std::string msg, const Cursor& start, bool line_lost = false) const {
    Token t = Make(Tok::kError, start, line_lost);
    t.text = std::move(msg);
    return t;
  }

  // Skips whitespace and comments (`#`, and Go's `//` and `/* */` which text/scanner skips).
  std::optional<Token> SkipSpaceAndComments() {
    while (true) {
      char32_t r = Peek();
      if (IsSpace(r)) {
        Advance();
      } else if (r == '#') {
        while (Peek() != '\n' && Peek() != kEof)
          Advance();
      } else if (r == '/' && cur_.pos + 1 < in_.size() && in_[cur_.pos + 1] == '/') {
        while (Peek() != '\n' && Peek() != kEof)
          Advance();
      } else if (r == '/' && cur_.pos + 1 < in_.size() && in_[cur_.pos + 1] == '*') {
        Cursor start = cur_;
        Advance();
        Advance();
        while (true) {
          char32_t c = Advance();
          if (c == kEof)
            return Error("comment not terminated", start);
          if (c == '*' && Peek() == '/') {
            Advance();
            break;
          }
        }
      } else {
        return std::nullopt;
      }
    }
  }

  Token Next() {
    if (auto err = SkipSpaceAndComments())
      return *err;
    Cursor start = cur_;
    char32_t r = Peek();
    if (r == kEof)
      return Make(Tok::kEnd, start);
    if (r == kBadRune)
      return Error("invalid UTF-8 encoding", start);
    if (IsLetter(r) || r == '_')
      return Identifier(start);
    if (IsDigit(r) || (r == '.' && cur_.pos + 1 < in_.size() && IsDigit(in_[cur_.pos + 1]))) {
      return Number(start);
    }
    if (r == '"' || r == '`')
      return String(start);
    if (r == '[')
      return Range(start);
    if (r == '-') {
      if (auto t = Minus(start))
        return *t;
    }
    Advance();
    // Two-character operators: Loki consumes the second character with Next(), which loses the
    // token's line.
    char32_t n = Peek();
    auto two = [&](Tok kind) {
      Advance();
      return Make(kind, start, /*line_lost=*/true);
    };
    switch (r) {
      case '!':
        if (n == '=')
          return two(Tok::kNeq);
        if (n == '~')
          return two(Tok::kNre);
        if (n == '>')
          return two(Tok::kNpa);
        break;
      case '=':
        if (n == '~')
          return two(Tok::kRe);
        if (n == '=')
          return two(Tok::kCmpEq);
        return Make(Tok::kEq, start);
      case '|':
        if (n == '=')
          return two(Tok::kPipeExact);
        if (n == '~')
          return two(Tok::kPipeMatch);
        if (n == '>')
          return two(Tok::kPipePattern);
        return Make(Tok::kPipe, start);
      case '>':
        if (n == '=')
          return two(Tok::kGte);
        return Make(Tok::kGt, start);
      case '<':
        if (n == '=')
          return two(Tok::kLte);
        return Make(Tok::kLt, start);
      case '{':
        return Make(Tok::kOpenBrace, start);
      case '}':
        return Make(Tok::kCloseBrace, start);
      case '(':
        return Make(Tok::kOpenParen, start);
      case ')':
        return Make(Tok::kCloseParen, start);
      case ',':
        return Make(Tok::kComma, start);
      case '+':
        return Make(Tok::kAdd, start);
      case '-':
        return Make(Tok::kSub, start);
      case '*':
        return Make(Tok::kMul, start);
      case '/':
        return Make(Tok::kDiv, start);
      case '%':
        return Make(Tok::kMod, start);
      case '^':
        return Make(Tok::kPow, start);
      default:
        break;
    }
    Token t = Make(Tok::kOther, start);
    t.text = std::string(in_.substr(start.pos, cur_.pos - start.pos));
    return t;
  }

  // Whether the text after an identifier makes it a function call: `(`, or `by`/`without`
  // (prefix, case-insensitive) followed by optional spaces and `(`.
  bool IsFunction(Cursor c) const {
    while (IsSpace(Peek(c)) || Peek(c) == '\v' || Peek(c) == '\f')
      Advance(&c);
    std::string_view rest = in_.substr(c.pos);
    if (rest.starts_with("("))
      return true;
    for (std::string_view kw : {std::string_view("by"), std::string_view("without")}) {
      if (rest.size() >= kw.size() && Lower(rest.substr(0, kw.size())) == kw) {
        for (size_t i = 0; i < kw.size(); ++i)
          Advance(&c);
        while (IsSpace(Peek(c)) || Peek(c) == '\v' || Peek(c) == '\f')
          Advance(&c);
        return Peek(c) == '(';
      }
    }
    return false;
  }

  Token Identifier(const Cursor& start) {
    while (true) {
      char32_t r = Peek();
      if (!(IsLetter(r) || IsDigit(r) || r == '_'))
        break;
      Advance();
    }
    std::string text(in_.substr(start.pos, cur_.pos - start.pos));
    std::string lower = Lower(text);
    for (const Keyword& f : kFunctions) {
      if (f.word == lower) {
        if (!IsFunction(cur_))
          break;
        Token t = Make(f.kind, start);
        t.sub = f.sub;
        t.text = std::move(text);
        return t;
      }
    }
    bool is_function_name = false;
    for (const Keyword& f : kFunctions)
      is_function_name = is_function_name || f.word == lower;
    if (!is_function_name) {
      for (const Keyword& k : kKeywords) {
        if (k.word == lower) {
          Token t = Make(k.kind, start);
          t.text = std::move(text);
          return t;
        }
      }
    }
    Token t = Make(Tok::kIdentifier, start);
    t.text = std::move(text);
    return t;
  }

  // After a number (or '-'), Loki greedily takes the following digits/unit runes/dots up to a
  // space and keeps them if the whole text is a duration (or a byte size).
  template <typename Accept>
  std::string Suffix(Accept accept, size_t* consumed_bytes) const {
    Cursor c = cur_;
    while (true) {
      char32_t r = Peek(c);
      if (r == kEof || IsSpace(r))
        break;
      if (!(IsDigit(r) || r == '.' || accept(r)))
        break;
      Advance(&c);
    }
    *consumed_bytes = c.pos - cur_.pos;
    return std::string(in_.substr(cur_.pos, c.pos - cur_.pos));
  }

  void SkipBytes(size_t n) {
    size_t end = cur_.pos + n;
    while (cur_.pos < end)
      Advance();
  }

  // Tries DURATION then BYTES for the number text `num`; returns nullopt to keep a NUMBER.
  std::optional<Token> DurationOrBytes(const std::string& num, const Cursor& start,
                                       bool allow_bytes) {
    size_t n = 0;
    std::string suffix = Suffix(IsDurationRune, &n);
    if (n > 0) {
      if (absl::StatusOr<int64_t> d = ParseLokiDuration(num + suffix); d.ok()) {
        SkipBytes(n);
        Token t = Make(Tok::kDuration, start, /*line_lost=*/true);
        t.duration_ns = *d;
        t.text = num + suffix;
        return t;
      }
    }
    if (!allow_bytes)
      return std::nullopt;
    suffix = Suffix(IsBytesRune, &n);
    if (n > 0) {
      if (absl::StatusOr<uint64_t> b = ParseHumanBytes(num + suffix); b.ok()) {
        SkipBytes(n);
        Token t = Make(Tok::kBytes, start, /*line_lost=*/true);
        t.bytes = *b;
        t.text = num + suffix;
        return t;
      }
    }
    return std::nullopt;
  }

  Token Number(const Cursor& start) {
    auto digits = [&](auto pred) {
      size_t n = 0;
      while (pred(Peek()))
        Advance(), ++n;
      return n;
    };
    char32_t first = Peek();
    if (first == '0' && cur_.pos + 1 < in_.size() &&
        std::string_view("xXbBoO").find(in_[cur_.pos + 1]) != std::string_view::npos) {
      // Go's prefixed integers: scanned as one token; strconv.ParseFloat then rejects them.
      char kind = static_cast<char>(std::tolower(static_cast<unsigned char>(in_[cur_.pos + 1])));
      Advance();
      Advance();
      size_t n = digits([](char32_t r) {
        return IsDigit(r) || (r >= 'a' && r <= 'f') || (r >= 'A' && r <= 'F') || r == '_';
      });
      if (n == 0) {
        return Error(kind == 'x'   ? "hexadecimal literal has no digits"
                     : kind == 'b' ? "binary literal has no digits"
                                   : "octal literal has no digits",
                     start);
      }
    } else {
      digits(IsDigit);
      if (Peek() == '.') {
        Advance();
        digits(IsDigit);
      }
      char32_t e = Peek();
      if (e == 'e' || e == 'E' || e == 'p' || e == 'P') {
        // text/scanner takes the exponent letter unconditionally, so `5e` and `5PB` are errors.
        Advance();
        if (Peek() == '+' || Peek() == '-')
          Advance();
        if (digits(IsDigit) == 0)
          return Error("exponent has no digits", start);
        if (e == 'p' || e == 'P')
          return Error("'p' exponent requires hexadecimal mantissa", start);
      }
    }
    std::string num(in_.substr(start.pos, cur_.pos - start.pos));
    if (auto t = DurationOrBytes(num, start, /*allow_bytes=*/true))
      return *t;
    Token t = Make(Tok::kNumber, start);
    t.text = std::move(num);
    return t;
  }

  // '-' starts a parser flag (`--strict`), a negative duration (`-5m`) or is a minus sign.
  std::optional<Token> Minus(const Cursor& start) {
    Cursor after = cur_;
    Advance(&after);
    if (Peek(after) == '-') {
      Cursor c = after;
      while (IsLetter(Peek(c)) || Peek(c) == '-')
        Advance(&c);
      std::string flag(in_.substr(start.pos, c.pos - start.pos));
      if (flag == "--strict" || flag == "--keep-empty") {
        cur_ = c;
        Token t = Make(Tok::kParserFlag, start, /*line_lost=*/true);
        t.text = std::move(flag);
        return t;
      }
    }
    Cursor saved = cur_;
    cur_ = after;
    if (auto t = DurationOrBytes("-", start, /*allow_bytes=*/false))
      return t;
    cur_ = saved;
    return std::nullopt;
  }

  Token String(const Cursor& start) {
    char32_t quote = Advance();
    while (true) {
      char32_t r = Peek();
      if (r == kEof || (quote == '"' && r == '\n'))
        return Error("literal not terminated", start);
      if (r == kBadRune)
        return Error("invalid UTF-8 encoding", start);
      Advance();
      if (r == quote)
        break;
      if (quote == '"' && r == '\\') {
        if (Peek() == kEof)
          return Error("literal not terminated", start);
        Advance();
      }
    }
    absl::StatusOr<std::string> s = GoUnquote(in_.substr(start.pos, cur_.pos - start.pos));
    if (!s.ok())
      return Error(std::string(s.status().message()), start);
    Token t = Make(Tok::kString, start);
    t.text = *std::move(s);
    return t;
  }

  // `[5m]`: everything up to `]` must be a Prometheus duration.
  Token Range(const Cursor& start) {
    Advance();
    size_t body = cur_.pos;
    while (true) {
      char32_t r = Peek();
      if (r == kEof)
        return Error("missing closing ']' in duration", start, true);
      Advance();
      if (r == ']')
        break;
    }
    std::string_view text = in_.substr(body, cur_.pos - 1 - body);
    absl::StatusOr<int64_t> d = ParsePromDuration(text);
    if (!d.ok())
      return Error(std::string(d.status().message()), start, true);
    Token t = Make(Tok::kRange, start, /*line_lost=*/true);
    t.duration_ns = *d;
    t.text = std::string(text);
    return t;
  }

  std::string_view in_;
  Cursor cur_;
};

}  // namespace

std::vector<Token> Tokenize(std::string_view input) {
  return Lexer(input).Run();
}

std::string TokenName(const Token& t) {
  switch (t.kind) {
    case Tok::kEnd:
      return "$end";
    case Tok::kError:
      return "error";
    case Tok::kIdentifier:
      return "IDENTIFIER";
    case Tok::kOther:
      return "IDENTIFIER";
    case Tok::kString:
      return "STRING";
    case Tok::kNumber:
      return "NUMBER";
    case Tok::kDuration:
      return "DURATION";
    case Tok::kBytes:
      return "BYTES";
    case Tok::kRange:
      return "RANGE";
    case Tok::kParserFlag:
      return "PARSER_FLAG";
    case Tok::kOpenBrace:
      return "{";
    case Tok::kCloseBrace:
      return "}";
    case Tok::kOpenParen:
      return "(";
    case Tok::kCloseParen:
      return ")";
    case Tok::kComma:
      return ",";
    case Tok::kEq:
      return "=";
    case Tok::kNeq:
      return "!=";
    case Tok::kRe:
      return "=~";
    case Tok::kNre:
      return "!~";
    case Tok::kNpa:
      return "!>";
    case Tok::kPipeExact:
      return "|=";
    case Tok::kPipeMatch:
      return "|~";
    case Tok::kPipePattern:
      return "|>";
    case Tok::kPipe:
      return "|";
    case Tok::kCmpEq:
      return "==";
    case Tok::kGt:
      return ">";
    case Tok::kGte:
      return ">=";
    case Tok::kLt:
      return "<";
    case Tok::kLte:
      return "<=";
    case Tok::kAdd:
      return "+";
    case Tok::kSub:
      return "-";
    case Tok::kMul:
      return "*";
    case Tok::kDiv:
      return "/";
    case Tok::kMod:
      return "%";
    case Tok::kPow:
      return "^";
    case Tok::kVector:
      return "VECTOR";
    case Tok::kLabelReplace:
      return "label_replace";
    case Tok::kIp:
      return "ip";
    case Tok::kRangeOp:
    case Tok::kVectorOp:
    case Tok::kConv: {
      std::string upper = Lower(t.text);
      for (char& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return t.kind == Tok::kConv ? upper + "_CONV" : upper;
    }
    default:
      return Lower(t.text);  // keywords print as written in Loki's token table (lower case)
  }
}

}  // namespace norn::logql::syntax::internal
