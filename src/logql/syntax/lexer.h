// LogQL lexer. Internal to the syntax module (the parser is its only user); it reproduces the
// token rules of Loki's lexer (built on Go's text/scanner) including its quirks, because they
// decide which queries parse: keywords are case-insensitive, function names are keywords only
// when followed by `(` or `by (`/`without (`, a number directly followed by duration or byte-size
// characters is a DURATION / BYTES token, `[...]` is one RANGE token, and a token that ends with
// extra characters consumed after the Go scanner's token (two-character operators, durations,
// ranges, flags) reports line 0 in error messages as Loki's does.
//
// Pure function; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace norn::logql::syntax::internal {

enum class Tok : uint8_t {
  kEnd,
  kError,  // lexical error; `text` holds the message; always the last token
  kIdentifier,
  kString,
  kNumber,
  kDuration,
  kBytes,
  kRange,
  kParserFlag,
  kOpenBrace,
  kCloseBrace,
  kOpenParen,
  kCloseParen,
  kComma,
  kEq,           // =
  kNeq,          // !=
  kRe,           // =~
  kNre,          // !~
  kNpa,          // !>
  kPipeExact,    // |=
  kPipeMatch,    // |~
  kPipePattern,  // |>
  kPipe,         // |
  kCmpEq,        // ==
  kGt,
  kGte,
  kLt,
  kLte,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kBy,
  kWithout,
  kBool,
  kOffset,
  kOn,
  kIgnoring,
  kGroupLeft,
  kGroupRight,
  kOr,
  kAnd,
  kUnless,
  kJson,
  kRegexp,
  kLogfmt,
  kUnpack,
  kPattern,
  kLabelFormat,
  kLineFormat,
  kDecolorize,
  kDrop,
  kKeep,
  kUnwrap,
  // Function tokens (only when followed by `(` or a grouping); `sub` holds the RangeOp,
  // VectorOp or UnwrapConv.
  kRangeOp,
  kVectorOp,
  kVector,
  kLabelReplace,
  kIp,
  kConv,
  // A character no rule covers (`@`, `:` ...). Loki reports it as an IDENTIFIER, but it can
  // never be used as one.
  kOther,
};

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;         // identifier / number / flag text, decoded string, error message
  int64_t duration_ns = 0;  // kDuration, kRange
  uint64_t bytes = 0;       // kBytes
  int sub = 0;              // kRangeOp / kVectorOp / kConv
  int line = 0;             // 1-based; 0 for tokens Loki's scanner loses the line of
  int col = 0;              // 1-based, in characters
};

// Splits `input` into tokens. The last token is kEnd, or kError on the first lexical error.
std::vector<Token> Tokenize(std::string_view input);

// How Loki's parser names the token in "syntax error: unexpected X": "$end", "IDENTIFIER",
// "STRING", "NUMBER", "}", "by", "SUM", ...
std::string TokenName(const Token& t);

}  // namespace norn::logql::syntax::internal
