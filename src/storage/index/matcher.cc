#include "storage/index/matcher.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include <re2/re2.h>

#include "absl/strings/str_cat.h"
#include "common/labels.h"
#include "common/strings.h"

namespace norn::index {
namespace {

bool IsRegexMeta(char c) {
  switch (c) {
    case '\\':
    case '.':
    case '+':
    case '*':
    case '?':
    case '(':
    case ')':
    case '|':
    case '[':
    case ']':
    case '{':
    case '}':
    case '^':
    case '$':
      return true;
    default:
      return false;
  }
}

// Splits `re` into literal alternatives when it is nothing but `lit|lit|...`, where a literal is
// plain characters or `\`-escaped ASCII punctuation. Returns false for anything else.
bool ParseLiteralAlternation(std::string_view re, std::vector<std::string>* out) {
  out->clear();
  std::string cur;
  for (size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '|') {
      out->push_back(std::move(cur));
      cur.clear();
    } else if (c == '\\') {
      if (i + 1 >= re.size())
        return false;
      char n = re[i + 1];
      // Only escaped punctuation is a literal; `\d`, `\w`, `\n`, ... are classes or escapes.
      bool punct = static_cast<unsigned char>(n) < 0x80 && !(n >= '0' && n <= '9') &&
                   !(n >= 'a' && n <= 'z') && !(n >= 'A' && n <= 'Z') && n > ' ';
      if (!punct)
        return false;
      cur.push_back(n);
      ++i;
    } else if (IsRegexMeta(c)) {
      return false;
    } else {
      cur.push_back(c);
    }
  }
  out->push_back(std::move(cur));
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
  return true;
}

Matcher MustCreate(Matcher::Type t, std::string name, std::string value) {
  auto m = Matcher::Create(t, std::move(name), std::move(value));
  if (!m.ok())
    std::abort();  // programmer error: shorthand used with an invalid regex
  return *std::move(m);
}

}  // namespace

absl::StatusOr<Matcher> Matcher::Create(Type type, std::string name, std::string value) {
  Matcher m;
  m.type_ = type;
  m.name_ = std::move(name);
  m.value_ = std::move(value);
  if (type == Type::kEq || type == Type::kNeq) {
    m.has_literals_ = true;
    m.literals_.push_back(m.value_);
    return m;
  }
  // Compile always, even when a shortcut applies, so invalid patterns are rejected exactly as RE2
  // (and therefore Go) would.
  RE2::Options opts;
  opts.set_log_errors(false);
  auto re = std::make_shared<RE2>(absl::StrCat("^(?:", AV(m.value_), ")$"), opts);
  if (!re->ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("error parsing regexp: ", re->error(), ": `", AV(m.value_), "`"));
  }
  m.re_ = std::move(re);
  if (m.value_ == ".*") {
    m.re_kind_ = ReKind::kAny;
  } else if (m.value_ == ".+") {
    m.re_kind_ = ReKind::kAnyNonEmpty;
  } else if (ParseLiteralAlternation(m.value_, &m.literals_)) {
    m.re_kind_ = ReKind::kLiterals;
    m.has_literals_ = true;
  } else {
    m.re_kind_ = ReKind::kRegex;
  }
  return m;
}

Matcher Matcher::Eq(std::string n, std::string v) {
  return MustCreate(Type::kEq, std::move(n), std::move(v));
}
Matcher Matcher::Neq(std::string n, std::string v) {
  return MustCreate(Type::kNeq, std::move(n), std::move(v));
}
Matcher Matcher::Re(std::string n, std::string v) {
  return MustCreate(Type::kRe, std::move(n), std::move(v));
}
Matcher Matcher::Nre(std::string n, std::string v) {
  return MustCreate(Type::kNre, std::move(n), std::move(v));
}

bool Matcher::PositiveMatch(std::string_view v) const {
  switch (re_kind_) {
    case ReKind::kNone:
      return v == value_;
    case ReKind::kAny:
      // `.` does not match a newline (RE2 and Go default), so neither does `.*`.
      return v.find('\n') == std::string_view::npos;
    case ReKind::kAnyNonEmpty:
      return !v.empty() && v.find('\n') == std::string_view::npos;
    case ReKind::kLiterals:
      return std::binary_search(literals_.begin(), literals_.end(), v);
    case ReKind::kRegex:
      return RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *re_);
  }
  return false;
}

bool Matcher::Matches(std::string_view v) const {
  bool m = PositiveMatch(v);
  return (type_ == Type::kNeq || type_ == Type::kNre) ? !m : m;
}

std::string Matcher::ToString() const {
  static constexpr std::string_view kOps[] = {"=", "!=", "=~", "!~"};
  std::string out = name_;
  out.append(kOps[static_cast<int>(type_)]);
  AppendGoQuoted(&out, value_);
  return out;
}

}  // namespace norn::index
