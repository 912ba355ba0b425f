#include "logql/log/json_parser.h"

#include <bit>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/labels.h"
#include "common/strings.h"
#include "logql/log/labels_builder.h"
#include "logql/log/utf8.h"

namespace norn::logql_log {

namespace {

constexpr std::string_view kNotObject = "expecting json object(6), but it is not";
constexpr int kMaxDepth = 10000;

inline int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline bool IsNumberChar(char c) {
  return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

}  // namespace

bool AppendJsonUnescaped(std::string_view body, std::string* out) {
  size_t i = 0;
  while (i < body.size()) {
    const char* bs = static_cast<const char*>(std::memchr(body.data() + i, '\\', body.size() - i));
    if (!bs) {
      out->append(body.data() + i, body.size() - i);
      return true;
    }
    size_t k = bs - body.data();
    out->append(body.data() + i, k - i);
    if (k + 1 >= body.size()) return false;
    char e = body[k + 1];
    i = k + 2;
    switch (e) {
      case '"': out->push_back('"'); break;
      case '\\': out->push_back('\\'); break;
      case '/': out->push_back('/'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'u': {
        auto read4 = [&](size_t at, uint32_t* v) {
          if (at + 4 > body.size()) return false;
          uint32_t r = 0;
          for (size_t j = 0; j < 4; ++j) {
            int h = HexVal(body[at + j]);
            if (h < 0) return false;
            r = (r << 4) | static_cast<uint32_t>(h);
          }
          *v = r;
          return true;
        };
        uint32_t r;
        if (!read4(i, &r)) return false;
        i += 4;
        if (r >= 0xD800 && r <= 0xDBFF) {
          uint32_t lo;
          if (i + 1 < body.size() && body[i] == '\\' && body[i + 1] == 'u' && read4(i + 2, &lo) &&
              lo >= 0xDC00 && lo <= 0xDFFF) {
            i += 6;
            r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
          } else {
            r = utf8::kRuneError;
          }
        } else if (r >= 0xDC00 && r <= 0xDFFF) {
          r = utf8::kRuneError;
        }
        utf8::Append(out, r);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

// A cursor over one JSON text with jsoniter-flavoured error reporting.
struct JsonScanner {
  const char* begin;
  const char* p;
  const char* end;
  std::string* err;  // set on failure

  void SkipWs() {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')) ++p;
  }

  // jsoniter's ReportError layout: context around the read head.
  bool Fail(std::string_view op, std::string_view msg) {
    if (!err->empty()) return false;
    size_t len = static_cast<size_t>(end - begin);
    size_t head = std::min(static_cast<size_t>(p - begin) + 1, len);
    size_t peek_start = head > 10 ? head - 10 : 0;
    size_t peek_end = std::min(head + 10, len);
    size_t ctx_start = head > 50 ? head - 50 : 0;
    size_t ctx_end = std::min(head + 50, len);
    *err = absl::StrCat(AV(op), ": ", AV(msg), ", error found in #", head - peek_start,
                        " byte of ...|", AV(std::string_view(begin + peek_start,
                                                             peek_end - peek_start)),
                        "|..., bigger context ...|",
                        AV(std::string_view(begin + ctx_start, ctx_end - ctx_start)), "|...");
    return false;
  }

  std::string Found() const { return p < end ? std::string(1, *p) : std::string(); }

  // p at '"'. Sets *body (between the quotes) and *esc; leaves p after the closing quote.
  // One pass that stops at a quote or a backslash, eight bytes at a time: JSON strings in log
  // lines are short, where a memchr call per string (and another for backslashes) costs more
  // than the scan.
  bool String(std::string_view* body, bool* esc) {
    const char* start = p + 1;
    const char* q = start;
    bool has_esc = false;
    while (true) {
      while (end - q >= 8) {
        uint64_t v;
        std::memcpy(&v, q, 8);
        const uint64_t m = HasByte(v, 0x2222222222222222ULL) | HasByte(v, 0x5C5C5C5C5C5C5C5CULL);
        if (m != 0) {
          q += std::countr_zero(m) >> 3;  // the lowest flagged byte is exact
          break;
        }
        q += 8;
      }
      while (q < end && *q != '"' && *q != '\\') ++q;
      if (q >= end) {
        p = end;
        return Fail("ReadString", "incomplete string");
      }
      if (*q == '"') break;
      has_esc = true;
      q += 2;  // the backslash and the byte it escapes
      if (q > end) q = end;
    }
    *body = std::string_view(start, q - start);
    *esc = has_esc;
    p = q + 1;
    return true;
  }

  // High bit set in each byte of `v` equal to the byte repeated in `pattern` (and possibly in
  // bytes above the first such byte, which callers ignore).
  static uint64_t HasByte(uint64_t v, uint64_t pattern) {
    const uint64_t x = v ^ pattern;
    return (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
  }

  bool Literal(std::string_view word, std::string_view op) {
    if (static_cast<size_t>(end - p) < word.size() ||
        std::memcmp(p, word.data(), word.size()) != 0) {
      return Fail(op, absl::StrCat("expect ", AV(word.substr(1))));
    }
    p += word.size();
    return true;
  }

  std::string_view Number() {
    const char* s = p;
    while (p < end && IsNumberChar(*p)) ++p;
    return std::string_view(s, p - s);
  }

  // Skips any value at p (after whitespace).
  bool Skip(int depth) {
    SkipWs();
    if (p >= end) return Fail("Skip", "do not know how to skip: 0");
    switch (*p) {
      case '"': {
        std::string_view b;
        bool e = false;
        return String(&b, &e);
      }
      case 'n': return Literal("null", "skipThreeBytes");
      case 't': return Literal("true", "skipThreeBytes");
      case 'f': return Literal("false", "skipFourBytes");
      case '[':
      case '{': {
        if (depth > kMaxDepth) return Fail("skip", "depth exceeded");
        // Loose bracket matching that respects strings (jsoniter's skipObject/skipArray).
        int level = 0;
        while (p < end) {
          char c = *p;
          if (c == '"') {
            std::string_view b;
            bool e = false;
            if (!String(&b, &e)) return false;
            continue;
          }
          if (c == '[' || c == '{') {
            ++level;
          } else if (c == ']' || c == '}') {
            if (--level == 0) {
              ++p;
              return true;
            }
          }
          ++p;
        }
        return Fail("skipObject", "incomplete object");
      }
      default:
        if (*p == '-' || (*p >= '0' && *p <= '9')) {
          Number();
          return true;
        }
        return Fail("Skip", absl::StrCat("do not know how to skip: ",
                                         static_cast<int>(static_cast<unsigned char>(*p))));
    }
  }

  // After a member value: consumes ',' (returns true, *more=true) or '}' (*more=false).
  bool AfterMember(bool* more) {
    SkipWs();
    if (p < end && *p == ',') {
      ++p;
      *more = true;
      return true;
    }
    if (p < end && *p == '}') {
      ++p;
      *more = false;
      return true;
    }
    return Fail("ReadMapCB", "object not ended with }");
  }

  // Reads a member key at p (after whitespace). `first` selects jsoniter's message variant.
  bool Key(bool first, std::string_view* key, bool* esc) {
    SkipWs();
    if (p >= end || *p != '"') {
      if (first) return Fail("ReadMapCB", absl::StrCat("expect \" after {, but found ", Found()));
      return Fail("ReadString", absl::StrCat("expects \" or n, but found ", Found()));
    }
    if (!String(key, esc)) return false;
    SkipWs();
    if (p >= end || *p != ':') {
      return Fail("ReadMapCB",
                  absl::StrCat("expect : after object field, but found ", first ? "\"" : ","));
    }
    ++p;
    SkipWs();
    return true;
  }
};

namespace {

// The json stage's walk over one object, setting labels as it goes.
class JsonWalk {
 public:
  JsonWalk(JsonScanner* s, LabelsBuilder* lbs, std::string* prefix, std::string* name,
           std::string* key_buf, std::string* val_buf, ParserKeyCache* cache)
      : s_(*s), lbs_(*lbs), prefix_(*prefix), name_(*name), key_buf_(*key_buf),
        val_buf_(*val_buf), hints_(lbs->hints()), cache_(*cache) {
  }

  // s_.p at '{'.
  bool Object(int depth) {
    if (depth > kMaxDepth) return s_.Fail("ReadMapCB", "depth exceeded");
    ++s_.p;
    s_.SkipWs();
    if (s_.p < s_.end && *s_.p == '}') {
      ++s_.p;
      return true;
    }
    bool first = true;
    size_t position = 0;
    while (true) {
      std::string_view key;
      bool esc = false;
      // Lines of one source list the same keys in the same order: the key the previous line
      // had at this position, as compact JSON writes it, is one comparison instead of a scan
      // of the key, a look-up and a comparison.
      known_ = nullptr;
      if (depth == 0) {
        const ParserKeyCache::Info* e = cache_.Expected(position, hints_);
        if (e != nullptr && !e->json_token.empty()) {
          s_.SkipWs();
          const size_t n = e->json_token.size();
          if (static_cast<size_t>(s_.end - s_.p) >= n &&
              ShortEqual(std::string_view(s_.p, n), e->json_token)) {
            key = std::string_view(s_.p + 1, n - 3);
            s_.p += n;
            s_.SkipWs();
            known_ = e;
          }
        }
      }
      if (known_ == nullptr && !s_.Key(first, &key, &esc))
        return false;
      first = false;
      position_ = depth == 0 ? position++ : SIZE_MAX;
      if (esc) {
        key_buf_.clear();
        if (!AppendJsonUnescaped(key, &key_buf_)) {
          return s_.Fail("ReadString", "invalid escape char after \\");
        }
        key = key_buf_;
      }
      if (!Member(key, depth)) return false;
      bool more = false;
      if (!s_.AfterMember(&more)) return false;
      if (!more) return true;
    }
  }

 private:
  // Picks the label name for `key` at the current prefix: a top-level key's name comes from
  // the key cache (stable for the line, so it can be lent to the builder), a nested one is
  // built into name_. Returns false when the label is not wanted (or has no name).
  bool LabelName(std::string_view key) {
    if (prefix_.empty()) {
      const ParserKeyCache::Info& info =
          known_ != nullptr ? *known_ : cache_.Get(key, position_, hints_);
      if (info.name.empty() || !info.wanted()) return false;
      const bool clash = lbs_.BaseHas(info.name, info.sig);
      if (!(clash ? info.want_ext : info.want)) return false;
      cached_name_ = clash ? &info.name_ext : &info.name;
      cached_sig_ = clash ? info.sig_ext : info.sig;
      return true;
    }
    cached_name_ = nullptr;
    name_.clear();
    if (prefix_.empty()) {
      AppendSanitizedKey(&name_, key, true);
      if (name_.empty()) return false;
    } else {
      name_.append(prefix_);
      name_.push_back('_');
      AppendSanitizedKey(&name_, key, false);
    }
    if (lbs_.BaseHas(name_)) name_.append(kDuplicateSuffix);
    return hints_.ShouldExtract(name_);
  }

  // Sets the label chosen by LabelName to `value`; `value_in_line` says it points into the
  // line (or static storage), so with a cached name nothing needs copying.
  void Emit(std::string_view value, bool value_in_line) {
    if (cached_name_ == nullptr) {
      lbs_.Set(name_, value);
    } else if (value_in_line) {
      lbs_.SetBorrowed(*cached_name_, cached_sig_, value);
    } else {
      lbs_.Set(*cached_name_, value);
    }
  }

  bool Member(std::string_view key, int depth) {
    if (s_.p >= s_.end) return s_.Skip(depth);
    char c = *s_.p;
    switch (c) {
      case '"': {
        // key may live in key_buf_: build the name before touching buffers.
        bool want = LabelName(key);
        std::string_view body;
        bool esc = false;
        if (!s_.String(&body, &esc)) return false;
        if (!want) return true;
        if (esc) {
          val_buf_.clear();
          if (!AppendJsonUnescaped(body, &val_buf_)) {
            return s_.Fail("ReadString", "invalid escape char after \\");
          }
          Emit(val_buf_, false);
        } else {
          Emit(body, true);
        }
        return true;
      }
      case 't':
      case 'f': {
        bool want = LabelName(key);
        bool t = c == 't';
        if (!s_.Literal(t ? "true" : "false", t ? "skipThreeBytes" : "skipFourBytes")) {
          return false;
        }
        if (want) Emit(t ? "true" : "false", true);
        return true;
      }
      case '{': {
        size_t saved = prefix_.size();
        if (prefix_.empty()) {
          AppendSanitizedKey(&prefix_, key, true);
        } else {
          prefix_.push_back('_');
          AppendSanitizedKey(&prefix_, key, false);
        }
        bool ok;
        if (hints_.ShouldExtractPrefix(prefix_)) {
          ok = Object(depth + 1);
        } else {
          ok = s_.Skip(depth + 1);
        }
        prefix_.resize(saved);
        return ok;
      }
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          bool want = LabelName(key);
          std::string_view num = s_.Number();
          if (want) Emit(num, true);
          return true;
        }
        return s_.Skip(depth + 1);  // arrays, null, invalid
    }
  }

  JsonScanner& s_;
  LabelsBuilder& lbs_;
  std::string& prefix_;
  std::string& name_;
  std::string& key_buf_;
  std::string& val_buf_;
  const ParserHints& hints_;
  ParserKeyCache& cache_;
  size_t position_ = SIZE_MAX;  // of the current key in the top-level object
  const ParserKeyCache::Info* known_ = nullptr;  // the current key's, when matched as expected
  const std::string* cached_name_ = nullptr;  // LabelName's pick, when from the key cache
  uint64_t cached_sig_ = 0;
};

}  // namespace

bool JsonParser::Process(int64_t, std::string_view* line, LabelsBuilder* lbs) {
  if (lbs->hints().no_labels()) return true;
  err_.clear();
  JsonScanner s{line->data(), line->data(), line->data() + line->size(), &err_};
  s.SkipWs();
  if (s.p >= s.end || *s.p != '{') {
    lbs->SetErr(kErrJson);
    lbs->SetErrorDetails(kNotObject);
    return true;
  }
  prefix_.clear();
  key_cache_.BeginLine();
  JsonWalk walk(&s, lbs, &prefix_, &name_, &key_buf_, &val_buf_, &key_cache_);
  if (!walk.Object(0)) {
    lbs->SetErr(kErrJson);
    lbs->SetErrorDetails(err_);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// json with parameters

absl::StatusOr<std::vector<JsonExpressionParser::PathElem>> JsonExpressionParser::ParsePath(
    std::string_view e) {
  std::vector<PathElem> out;
  auto syntax_error = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot parse expression [", AV(e), "]: syntax error"));
  };
  size_t i = 0;
  bool expect_field = true;  // at start or after '.'
  while (i < e.size()) {
    char c = e[i];
    if (c == '[') {
      ++i;
      if (i < e.size() && e[i] == '"') {
        ++i;
        std::string key;
        while (i < e.size() && e[i] != '"') {
          if (e[i] == '\\' && i + 1 < e.size()) ++i;
          key.push_back(e[i++]);
        }
        if (i >= e.size()) return syntax_error();
        ++i;  // closing quote
        if (i >= e.size() || e[i] != ']') return syntax_error();
        ++i;
        out.emplace_back(std::move(key));
      } else {
        size_t s = i;
        while (i < e.size() && e[i] >= '0' && e[i] <= '9') ++i;
        if (i == s || i >= e.size() || e[i] != ']') return syntax_error();
        out.emplace_back(std::atoi(std::string(e.substr(s, i - s)).c_str()));
        ++i;
      }
      expect_field = false;
      continue;
    }
    if (c == '.') {
      if (expect_field) return syntax_error();
      expect_field = true;
      ++i;
      continue;
    }
    if (!expect_field && !out.empty()) return syntax_error();
    size_t s = i;
    while (i < e.size() && e[i] != '.' && e[i] != '[' && e[i] != ']' && e[i] != '"' &&
           e[i] != ' ') {
      ++i;
    }
    if (i == s) return syntax_error();
    out.emplace_back(std::string(e.substr(s, i - s)));
    expect_field = false;
  }
  if (out.empty() || (expect_field && !out.empty())) return syntax_error();
  return out;
}

absl::StatusOr<std::unique_ptr<JsonExpressionParser>> JsonExpressionParser::Create(
    std::vector<JsonExpression> expressions) {
  std::unique_ptr<JsonExpressionParser> p(new JsonExpressionParser());
  for (auto& ex : expressions) {
    auto path = ParsePath(ex.expression);
    if (!path.ok()) return path.status();
    if (!IsValidLabelName(ex.label)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid extracted label name '", ex.label, "'"));
    }
    p->ids_.push_back(ex.label);
    p->paths_.push_back(std::move(*path));
  }
  return p;
}

namespace {

// Finds `path` in the JSON value at s.p. Lenient like jsonparser: malformed input just means
// "not found". On success *out is the raw value text (strings without quotes, unescaped=no).
bool FindPath(JsonScanner s, const std::vector<JsonExpressionParser::PathElem>& path,
              std::string* key_buf, std::string_view* out, bool* is_null) {
  for (size_t depth = 0; depth < path.size(); ++depth) {
    s.SkipWs();
    if (s.p >= s.end) return false;
    const auto& elem = path[depth];
    if (const std::string* want = std::get_if<std::string>(&elem)) {
      if (*s.p != '{') return false;
      ++s.p;
      s.SkipWs();
      if (s.p < s.end && *s.p == '}') return false;
      bool found = false;
      bool first = true;
      while (!found) {
        std::string_view key;
        bool esc = false;
        if (!s.Key(first, &key, &esc)) return false;
        first = false;
        if (esc) {
          key_buf->clear();
          if (!AppendJsonUnescaped(key, key_buf)) return false;
          key = *key_buf;
        }
        if (key == *want) {
          found = true;
          break;
        }
        if (!s.Skip(1)) return false;
        bool more = false;
        if (!s.AfterMember(&more) || !more) return false;
      }
    } else {
      int index = std::get<int>(elem);
      if (*s.p != '[') return false;
      ++s.p;
      s.SkipWs();
      if (s.p < s.end && *s.p == ']') return false;
      for (int i = 0; i < index; ++i) {
        if (!s.Skip(1)) return false;
        s.SkipWs();
        if (s.p >= s.end || *s.p != ',') return false;
        ++s.p;
      }
    }
  }
  s.SkipWs();
  if (s.p >= s.end) return false;
  *is_null = false;
  const char* start = s.p;
  if (*s.p == '"') {
    std::string_view body;
    bool esc = false;
    if (!s.String(&body, &esc)) return false;
    *out = body;
    return true;
  }
  if (*s.p == 'n') {
    *is_null = true;
    *out = {};
    return s.Skip(1);
  }
  if (!s.Skip(1)) return false;
  *out = std::string_view(start, s.p - start);
  return true;
}

}  // namespace

bool JsonExpressionParser::Process(int64_t, std::string_view* line, LabelsBuilder* lbs) {
  if (lbs->hints().no_labels()) return true;
  std::string_view l = *line;
  if (!l.empty() && l[0] != '"' && l[0] != '{' && l[0] != '[') {
    lbs->SetErr(kErrJson);
    return true;
  }
  std::string err;
  for (size_t i = 0; i < ids_.size(); ++i) {
    JsonScanner s{l.data(), l.data(), l.data() + l.size(), &err};
    std::string_view value;
    bool is_null = false;
    err.clear();
    if (!l.empty() && FindPath(s, paths_[i], &key_buf_, &value, &is_null)) {
      const std::string& id = ids_[i];
      if (lbs->BaseHas(id)) {
        name_.assign(id);
        name_.append(kDuplicateSuffix);
        lbs->Set(name_, is_null ? std::string_view() : value);
      } else {
        lbs->Set(id, is_null ? std::string_view() : value);
      }
    } else if (!lbs->Get(ids_[i]).has_value()) {
      lbs->Set(ids_[i], "");
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// unpack

bool UnpackParser::Process(int64_t, std::string_view* line, LabelsBuilder* lbs) {
  if (lbs->hints().no_labels()) return true;
  err_.clear();
  std::string_view l = *line;
  JsonScanner s{l.data(), l.data(), l.data() + l.size(), &err_};
  s.SkipWs();
  if (s.p >= s.end || *s.p != '{') {
    lbs->SetErr(kErrJson);
    lbs->SetErrorDetails(kNotObject);
    return true;
  }
  num_pending_ = 0;
  bool packed = false;
  ++s.p;
  s.SkipWs();
  bool ok = true;
  if (s.p < s.end && *s.p == '}') {
    ++s.p;
  } else {
    bool first = true;
    while (true) {
      std::string_view key;
      bool esc = false;
      if (!s.Key(first, &key, &esc)) {
        ok = false;
        break;
      }
      first = false;
      if (esc) {
        key_buf_.clear();
        if (!AppendJsonUnescaped(key, &key_buf_)) {
          ok = s.Fail("ReadString", "invalid escape char after \\");
          break;
        }
        key = key_buf_;
      }
      if (s.p < s.end && *s.p == '"') {
        std::string_view body;
        bool vesc = false;
        if (!s.String(&body, &vesc)) {
          ok = false;
          break;
        }
        if (key == "_entry") {
          entry_.clear();
          if (!AppendJsonUnescaped(body, &entry_)) {
            ok = s.Fail("ReadString", "invalid escape char after \\");
            break;
          }
          packed = true;
        } else {
          std::string* name;
          if (num_pending_ == pending_.size()) pending_.emplace_back();
          name = &pending_[num_pending_].first;
          name->assign(key.data(), key.size());
          if (lbs->BaseHas(*name)) name->append(kDuplicateSuffix);
          if (lbs->hints().ShouldExtract(*name)) {
            std::string& v = pending_[num_pending_].second;
            v.clear();
            if (!AppendJsonUnescaped(body, &v)) {
              ok = s.Fail("ReadString", "invalid escape char after \\");
              break;
            }
            ++num_pending_;
          }
        }
      } else if (!s.Skip(1)) {
        ok = false;
        break;
      }
      bool more = false;
      if (!s.AfterMember(&more)) {
        ok = false;
        break;
      }
      if (!more) break;
    }
  }
  if (!ok) {
    lbs->SetErr(kErrJson);
    lbs->SetErrorDetails(err_);
    return true;
  }
  if (packed) {
    for (size_t i = 0; i < num_pending_; ++i) lbs->Set(pending_[i].first, pending_[i].second);
    *line = entry_;
  }
  return true;
}

}  // namespace norn::logql_log
