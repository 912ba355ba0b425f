#include "logql/log/logfmt_parser.h"

#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#define NORN_LOGFMT_AVX2 1
#endif

#include "absl/strings/str_cat.h"
#include "common/cpu.h"
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

#ifndef __SSE2__
// The bytes where the decoder's key and unquoted-value scans stop: '=', '"', <= ' ' (space and
// controls) and >= 0x80 (multibyte runes, which keys must be checked for and values flagged).
struct StopTable {
  bool stop[256] = {};
  constexpr StopTable() {
    for (int c = 0; c <= ' '; ++c) stop[c] = true;
    stop[static_cast<int>('=')] = true;
    stop[static_cast<int>('"')] = true;
    for (int c = 0x80; c < 256; ++c) stop[c] = true;
  }
};
constexpr StopTable kStop;
#endif

// The stop bits of 64 bytes at p.
inline uint64_t StopBits64(const unsigned char* p) {
#ifdef __SSE2__
  const __m128i below = _mm_set1_epi8(0x21);  // signed: <= ' ' and >= 0x80 are both below 0x21
  const __m128i eq = _mm_set1_epi8('=');
  const __m128i quote = _mm_set1_epi8('"');
  uint64_t bits = 0;
  for (int k = 0; k < 4; ++k) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    __m128i m = _mm_or_si128(_mm_cmplt_epi8(v, below),
                             _mm_or_si128(_mm_cmpeq_epi8(v, eq), _mm_cmpeq_epi8(v, quote)));
    bits |= uint64_t{static_cast<uint16_t>(_mm_movemask_epi8(m))} << (16 * k);
  }
  return bits;
#else
  uint64_t bits = 0;
  for (int k = 0; k < 64; ++k) bits |= uint64_t{kStop.stop[p[k]]} << k;
  return bits;
#endif
}

#ifdef NORN_LOGFMT_AVX2
// StopBits64 with two 32-byte steps (the same bits).
__attribute__((target("avx2"))) uint64_t StopBits64Avx2(const unsigned char* p) {
  const __m256i below = _mm256_set1_epi8(0x21);
  const __m256i eq = _mm256_set1_epi8('=');
  const __m256i quote = _mm256_set1_epi8('"');
  uint64_t bits = 0;
  for (int k = 0; k < 2; ++k) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * k));
    __m256i m = _mm256_or_si256(_mm256_cmpgt_epi8(below, v),
                                _mm256_or_si256(_mm256_cmpeq_epi8(v, eq), _mm256_cmpeq_epi8(v, quote)));
    bits |= uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(m))} << (32 * k);
  }
  return bits;
}

__attribute__((target("avx2"))) size_t StopWordsAvx2(const unsigned char* p, size_t n,
                                                     uint64_t* out) {
  size_t w = 0;
  for (; (w + 1) * 64 <= n; ++w) out[w] = StopBits64Avx2(p + w * 64);
  return w;
}
#endif

}  // namespace

void LogfmtDecoder::Reset(std::string_view line) {
  line_ = line;
  pos_ = 0;
  err_.clear();
  const size_t n = line.size();
  const auto* p = reinterpret_cast<const unsigned char*>(line.data());
  stop_bits_.resize((n + 63) / 64);
  size_t w = 0;
#ifdef NORN_LOGFMT_AVX2
  if (CpuHasAvx2())
    w = StopWordsAvx2(p, n, stop_bits_.data());
#endif
  for (; (w + 1) * 64 <= n; ++w) stop_bits_[w] = StopBits64(p + w * 64);
  if (w * 64 < n) {
    // The tail, padded with a byte that never stops the scan.
    unsigned char tail[64];
    std::memset(tail, 'a', sizeof(tail));
    std::memcpy(tail, p + w * 64, n - w * 64);
    stop_bits_[w] = StopBits64(tail);
  }
}

inline size_t LogfmtDecoder::NextStop(size_t i) const {
  const size_t words = stop_bits_.size();
  size_t w = i >> 6;
  if (w >= words) return line_.size();
  uint64_t bits = stop_bits_[w] & (~uint64_t{0} << (i & 63));
  while (bits == 0) {
    if (++w >= words) return line_.size();
    bits = stop_bits_[w];
  }
  return w * 64 + static_cast<size_t>(__builtin_ctzll(bits));
}

__attribute__((always_inline)) inline bool LogfmtDecoder::ScanKeyvalInline(
    std::string_view expected_key_eq) {
  key_ = {};
  value_ = {};
  value_non_ascii_ = false;
  expected_hit_ = false;
  const std::string_view line = line_;
  const size_t n = line.size();
  // garbage
  while (pos_ < n && static_cast<unsigned char>(line[pos_]) <= ' ') ++pos_;
  if (pos_ >= n) return false;

  // key
  size_t start = pos_;
  bool multibyte = false;
  const auto* bytes = reinterpret_cast<const unsigned char*>(line.data());
  if (const size_t k = expected_key_eq.size();
      k > 1 && n - pos_ >= k && ShortEqual(line.substr(pos_, k), expected_key_eq)) {
    // The key scan would stop exactly at this '=' (the key holds no stop byte).
    key_ = line.substr(pos_, k - 1);
    pos_ += k - 1;
    expected_hit_ = true;
    goto equal;
  }
  while (pos_ < n) {
    pos_ = NextStop(pos_);
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
    pos_ = NextStop(pos_);
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
    value_non_ascii_ = true;  // c >= 0x80
    ++pos_;
  }
  value_ = line.substr(start, pos_ - start);
  return true;

qvalue: {
  value_non_ascii_ = true;  // not scanned for: the caller checks
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

bool LogfmtDecoder::ScanKeyval() {
  return ScanKeyvalInline({});
}

bool LogfmtParser::Process(int64_t, std::string_view* line, LabelsBuilder* lbs) {
  if (lbs->hints().no_labels()) return true;
  dec_.Reset(*line);
  key_cache_.BeginLine();
  const ParserHints& hints = lbs->hints();
  size_t position = 0;
  while (!dec_.EOL()) {
    // Lines of one source list the same keys in the same order: the key the previous line had
    // at this position is tried first, as one comparison.
    const ParserKeyCache::Info* expected = key_cache_.Expected(position, hints);
    if (!dec_.ScanKeyvalInline(expected != nullptr ? std::string_view(expected->logfmt_token)
                                                   : std::string_view())) {
      if (!dec_.err().empty() && !opts_.continue_on_error) break;
      continue;
    }
    // Every key goes through the cache: its sanitised name and the hints' verdicts are computed
    // once per distinct key instead of once per line.
    const ParserKeyCache::Info& k =
        dec_.expected_hit_ ? *expected : key_cache_.Get(dec_.key(), position, hints);
    ++position;
    if (!k.wanted()) continue;
    bool clash = lbs->BaseHas(k.name, k.sig);
    if (!(clash ? k.want_ext : k.want)) continue;
    std::string_view val = dec_.value();
    if (dec_.value_maybe_non_ascii() && utf8::ContainsRuneError(val)) val = {};
    if (opts_.drop_empty && val.empty()) continue;
    // The key cache's names last until the next line and the line outlives the entry; only
    // values unescaped into the decoder's buffer must be copied.
    const std::string& name = clash ? k.name_ext : k.name;
    if (dec_.value_in_line()) {
      lbs->SetBorrowed(name, clash ? k.sig_ext : k.sig, val);
    } else {
      lbs->Set(name, val);
    }
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
