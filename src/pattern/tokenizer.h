// Line tokenizers for the Drain pattern clusterer, shaped like Loki's pattern ingester so the
// patterns it reports read the same: a punctuation tokenizer for plain lines, a key/value
// tokenizer for logfmt lines and a "message field" tokenizer for JSON lines.
//
// Ownership: tokens are std::string_view into the input line or into TokenizedLine::scratch
// (unescaped logfmt values); they are valid until the next Tokenize call on the same
// TokenizedLine or until the line dies. Reusing one TokenizedLine keeps tokenization
// allocation-free after warm-up. Not thread-safe; one TokenizedLine per Drain.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace norn::pattern::internal {

// Why a line was not trained. kNone means it was.
enum class SkipReason {
  kNone,
  kLineTooLong,    // longer than max_allowed_line_length
  kNoMessage,      // JSON line without any of the configured string message fields
  kParseError,     // logfmt syntax error
  kTooFewTokens,
  kTooManyTokens,
  kRateLimited,    // eviction limiter is blocking training
};

struct TokenizedLine {
  std::vector<std::string_view> tokens;
  // Punctuation tokenizer only: for every space in the line, the index of the token it
  // follows (-1 for a leading space, as Loki records it). Used to rebuild the pattern.
  std::vector<int> spaces_after;
  std::string scratch;  // storage for unescaped logfmt values; reserved to the line size

  void Clear() {
    tokens.clear();
    spaces_after.clear();
    scratch.clear();
  }
};

// Plain lines: splits on spaces, '=' and Unicode punctuation except `_ - . : /` (which stay
// inside tokens so paths, IPs, durations and dotted names remain one token). Each split
// punctuation byte is its own token. Stops after 127 tokens.
SkipReason TokenizePunctuation(std::string_view line, int max_line_length, TokenizedLine* out);

// logfmt lines: tokens are key, value, key, value... Values of timestamp-like keys (ts, t,
// time, timestamp, traceID) are replaced by `param` so they never split clusters.
SkipReason TokenizeLogfmt(std::string_view line, int max_line_length, std::string_view param,
                          TokenizedLine* out);

// JSON lines: the raw (still escaped) value of the first of `fields` that is a top-level string
// member is tokenized with the punctuation tokenizer. Lines without one are skipped.
SkipReason TokenizeJson(std::string_view line, int max_line_length,
                        std::span<const std::string> fields, TokenizedLine* out);

// Rebuild pattern text from template tokens (not yet placeholder-deduplicated).
void JoinPunctuation(std::span<const std::string> tokens, std::span<const int> spaces_after,
                     std::string* out);
void JoinLogfmt(std::span<const std::string> tokens, std::string* out);

// Collapses runs of consecutive placeholders ("<_><_><_>") into one.
std::string DedupPlaceholders(std::string_view s, std::string_view param);

// Finds the raw value of the first top-level JSON string member named by `fields` (earlier
// fields win). Returns false when none is present. Exposed for tests.
bool FindJsonMessage(std::string_view json, std::span<const std::string> fields,
                     std::string_view* value);

}  // namespace norn::pattern::internal
