#include "logql/template/gofmt.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "common/labels.h"
#include "logql/template/gotime.h"
#include "logql/template/template.h"

namespace norn::logql_template {

std::string_view TypeName(Type t) {
  switch (t) {
    case Type::kInvalid:
      return "<nil>";
    case Type::kNil:
      return "<nil>";
    case Type::kString:
      return "string";
    case Type::kInt:
      return "int";
    case Type::kInt64:
      return "int64";
    case Type::kInt32:
      return "int32";
    case Type::kUint8:
      return "uint8";
    case Type::kFloat64:
      return "float64";
    case Type::kBool:
      return "bool";
    case Type::kTime:
      return "time.Time";
    case Type::kMap:
      return "map[string]string";
    case Type::kObject:
      return "map[string]interface {}";
    case Type::kList:
      return "[]interface {}";
  }
  return "?";
}

namespace internal {
namespace {

// Decimal digits of |f|: value = 0.d[0]d[1]... * 10^dp. Zero has no digits.
struct Digits {
  char d[40];
  int nd = 0;
  int dp = 0;
};

// Shortest round-trip digits when sig < 0, else rounded to `sig` significant digits with
// trailing zeros trimmed (as Go's fixed-precision ryu path does).
Digits DecimalDigits(double f, int sig) {
  Digits out;
  f = std::fabs(f);
  if (f == 0)
    return out;
  char buf[64];
  std::to_chars_result r =
      sig < 0 ? std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific)
              : std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific, sig - 1);
  std::string_view s(buf, r.ptr - buf);
  size_t e = s.find('e');
  int exp = 0;
  std::from_chars(s.data() + e + (s[e + 1] == '+' ? 2 : 1), s.data() + s.size(), exp);
  for (size_t i = 0; i < e; i++) {
    if (s[i] != '.' && out.nd < 40)
      out.d[out.nd++] = s[i];
  }
  while (out.nd > 0 && out.d[out.nd - 1] == '0')
    out.nd--;
  out.dp = exp + 1;
  return out;
}

void FmtE(std::string* out, bool neg, const Digits& dg, int prec, char e) {
  if (neg)
    out->push_back('-');
  out->push_back(dg.nd == 0 ? '0' : dg.d[0]);
  if (prec > 0) {
    out->push_back('.');
    int i = 1;
    int m = std::min(dg.nd, prec + 1);
    if (i < m) {
      out->append(dg.d + i, m - i);
      i = m;
    }
    for (; i <= prec; i++)
      out->push_back('0');
  }
  out->push_back(e);
  int exp = dg.dp - 1;
  if (dg.nd == 0)
    exp = 0;
  if (exp < 0) {
    out->push_back('-');
    exp = -exp;
  } else {
    out->push_back('+');
  }
  if (exp < 10) {
    out->push_back('0');
    out->push_back(static_cast<char>('0' + exp));
  } else {
    out->append(std::to_string(exp));
  }
}

void FmtF(std::string* out, bool neg, const Digits& dg, int prec) {
  if (neg)
    out->push_back('-');
  if (dg.dp > 0) {
    int m = std::min(dg.nd, dg.dp);
    out->append(dg.d, m);
    for (; m < dg.dp; m++)
      out->push_back('0');
  } else {
    out->push_back('0');
  }
  if (prec > 0) {
    out->push_back('.');
    for (int i = 1; i <= prec; i++) {
      char ch = '0';
      int j = dg.dp + i - 1;
      if (j >= 0 && j < dg.nd)
        ch = dg.d[j];
      out->push_back(ch);
    }
  }
}

}  // namespace

void AppendGoFloat(std::string* out, double f, char verb, int prec) {
  if (std::isnan(f)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(f)) {
    out->append(f > 0 ? "+Inf" : "-Inf");
    return;
  }
  bool neg = std::signbit(f);
  bool shortest = prec < 0;
  if (verb == 'f' || verb == 'F') {
    if (shortest) {
      Digits dg = DecimalDigits(f, -1);
      FmtF(out, neg, dg, std::max(dg.nd - dg.dp, 0));
      return;
    }
    char buf[400];
    std::to_chars_result r =
        std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::fixed, std::min(prec, 300));
    out->append(buf, r.ptr - buf);
    return;
  }
  if (verb == 'e' || verb == 'E') {
    if (shortest) {
      Digits dg = DecimalDigits(f, -1);
      FmtE(out, neg, dg, std::max(dg.nd - 1, 0), verb);
      return;
    }
    Digits dg = DecimalDigits(f, std::min(prec + 1, 30));
    FmtE(out, neg, dg, prec, verb);
    return;
  }
  // 'g' / 'G'
  char e = verb == 'G' ? 'E' : 'e';
  Digits dg;
  if (shortest) {
    dg = DecimalDigits(f, -1);
    prec = dg.nd;
  } else {
    if (prec == 0)
      prec = 1;
    dg = DecimalDigits(f, std::min(prec, 30));
  }
  int eprec = prec;
  if (eprec > dg.nd && dg.nd >= dg.dp)
    eprec = dg.nd;
  if (shortest)
    eprec = 6;
  int exp = dg.dp - 1;
  if (dg.nd == 0)
    exp = 0;
  if (exp < -4 || exp >= eprec) {
    if (prec > dg.nd)
      prec = dg.nd;
    FmtE(out, neg, dg, std::max(prec - 1, 0), e);
    return;
  }
  if (prec > dg.dp)
    prec = dg.nd;
  FmtF(out, neg, dg, std::max(prec - dg.dp, 0));
}

namespace {

struct Flags {
  bool plus = false, minus = false, sharp = false, space = false, zero = false;
  bool wid_present = false, prec_present = false;
  int wid = 0, prec = 0;
};

size_t RuneCount(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80)
      n++;
  }
  return n;
}

void WritePadding(std::string* out, int n, bool zero) {
  if (n > 0)
    out->append(static_cast<size_t>(n), zero ? '0' : ' ');
}

void Pad(std::string* out, std::string_view s, const Flags& fl) {
  if (!fl.wid_present || fl.wid == 0) {
    out->append(s);
    return;
  }
  int width = fl.wid - static_cast<int>(RuneCount(s));
  if (!fl.minus) {
    WritePadding(out, width, fl.zero);
    out->append(s);
  } else {
    out->append(s);
    WritePadding(out, width, false);
  }
}

void AppendRune(std::string* out, uint32_t r) {
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

void FmtInteger(std::string* out, int64_t v, bool is_signed, int base, char verb, Flags fl) {
  bool negative = is_signed && v < 0;
  uint64_t u = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  int prec = 0;
  if (fl.prec_present) {
    prec = fl.prec;
    if (prec == 0 && u == 0) {
      bool old = fl.zero;
      fl.zero = false;
      WritePadding(out, fl.wid, false);
      fl.zero = old;
      return;
    }
  } else if (fl.zero && fl.wid_present) {
    prec = fl.wid;
    if (negative || fl.plus || fl.space)
      prec--;
  }
  const char* digits = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  char buf[128];
  int i = sizeof(buf);
  do {
    buf[--i] = digits[u % static_cast<uint64_t>(base)];
    u /= static_cast<uint64_t>(base);
  } while (u > 0 && i > 0);
  int ndig = static_cast<int>(sizeof(buf)) - i;
  prec = std::min(prec, 100);
  while (ndig < prec && i > 4) {
    buf[--i] = '0';
    ndig++;
  }
  if (fl.sharp) {
    if (base == 8 && buf[i] != '0')
      buf[--i] = '0';
    if (base == 16) {
      buf[--i] = verb == 'X' ? 'X' : 'x';
      buf[--i] = '0';
    }
    if (base == 2) {
      buf[--i] = 'b';
      buf[--i] = '0';
    }
  }
  if (verb == 'O') {
    buf[--i] = 'o';
    buf[--i] = '0';
  }
  if (negative) {
    buf[--i] = '-';
  } else if (fl.plus) {
    buf[--i] = '+';
  } else if (fl.space) {
    buf[--i] = ' ';
  }
  fl.zero = false;
  Pad(out, std::string_view(buf + i, sizeof(buf) - i), fl);
}

void QuoteRune(std::string* out, uint32_t r) {
  out->push_back('\'');
  switch (r) {
    case '\a':
      out->append("\\a");
      break;
    case '\b':
      out->append("\\b");
      break;
    case '\f':
      out->append("\\f");
      break;
    case '\n':
      out->append("\\n");
      break;
    case '\r':
      out->append("\\r");
      break;
    case '\t':
      out->append("\\t");
      break;
    case '\v':
      out->append("\\v");
      break;
    case '\\':
      out->append("\\\\");
      break;
    case '\'':
      out->append("\\'");
      break;
    default:
      if (r < 0x20 || r == 0x7F) {
        char b[8];
        snprintf(b, sizeof(b), "\\x%02x", r);
        out->append(b);
      } else {
        AppendRune(out, r);
      }
  }
  out->push_back('\'');
}

void BadVerb(std::string* out, char verb, const Value& v);

void FmtString(std::string* out, std::string_view s, char verb, const Flags& fl) {
  if (fl.prec_present) {
    // Precision truncates to that many runes.
    size_t n = 0, i = 0;
    while (i < s.size() && n < static_cast<size_t>(fl.prec)) {
      i++;
      while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80)
        i++;
      n++;
    }
    if (verb != 'x' && verb != 'X')
      s = s.substr(0, i);
  }
  switch (verb) {
    case 'v':
    case 's':
      Pad(out, s, fl);
      return;
    case 'x':
    case 'X': {
      const char* digits = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
      size_t len = s.size();
      if (fl.prec_present && static_cast<size_t>(fl.prec) < len)
        len = fl.prec;
      std::string buf;
      for (size_t i = 0; i < len; i++) {
        if (fl.space && i > 0)
          buf.push_back(' ');
        if (fl.sharp && (fl.space || i == 0)) {
          buf.push_back('0');
          buf.push_back(verb == 'X' ? 'X' : 'x');
        }
        unsigned char c = static_cast<unsigned char>(s[i]);
        buf.push_back(digits[c >> 4]);
        buf.push_back(digits[c & 15]);
      }
      Pad(out, buf, fl);
      return;
    }
    case 'q': {
      std::string buf;
      if (fl.sharp && s.find_first_of("`\n\r") == std::string_view::npos) {
        buf.push_back('`');
        buf.append(s);
        buf.push_back('`');
      } else {
        AppendGoQuoted(&buf, s);
      }
      Pad(out, buf, fl);
      return;
    }
    default:
      BadVerb(out, verb, Value::Borrowed(s));
  }
}

void FmtFloat(std::string* out, double v, char verb, Flags fl) {
  int prec = -1;
  char cverb = verb;
  switch (verb) {
    case 'v':
      cverb = 'g';
      break;
    case 'g':
    case 'G':
      break;
    case 'f':
    case 'F':
    case 'e':
    case 'E':
      prec = 6;
      break;
    default:
      BadVerb(out, verb, Value::Float(v));
      return;
  }
  if (fl.prec_present)
    prec = fl.prec;
  std::string num = "+";
  AppendGoFloat(&num, v, cverb == 'F' ? 'f' : cverb, prec);
  if (num[1] == '-' || num[1] == '+') {
    num.erase(0, 1);
  }
  if (fl.space && num[0] == '+' && !fl.plus)
    num[0] = ' ';
  if (num[1] == 'I' || num[1] == 'N') {
    fl.zero = false;
    if (num[1] == 'N' && !fl.space && !fl.plus)
      num.erase(0, 1);
    Pad(out, num, fl);
    return;
  }
  if (fl.plus || num[0] != '+') {
    if (fl.zero && fl.wid_present && fl.wid > static_cast<int>(num.size())) {
      out->push_back(num[0]);
      WritePadding(out, fl.wid - static_cast<int>(num.size()), true);
      out->append(num, 1);
      return;
    }
    Pad(out, num, fl);
    return;
  }
  Pad(out, std::string_view(num).substr(1), fl);
}

void AppendMap(std::string* out, const LabelSource* m) {
  std::vector<std::pair<std::string_view, std::string_view>> kv;
  if (m != nullptr) {
    m->ForEach([&](std::string_view k, std::string_view v) { kv.emplace_back(k, v); });
  }
  std::sort(kv.begin(), kv.end());
  out->append("map[");
  for (size_t i = 0; i < kv.size(); i++) {
    if (i > 0)
      out->push_back(' ');
    out->append(kv[i].first);
    out->push_back(':');
    out->append(kv[i].second);
  }
  out->push_back(']');
}

void PrintArg(std::string* out, const Value& v, char verb, const Flags& fl);

// fmt's printValue for an element of a decoded JSON container (an interface{}): nil prints
// "<nil>" whatever the verb; anything else as its dynamic type with the same verb.
void PrintElem(std::string* out, const Value& v, char verb, const Flags& fl) {
  if (v.type() == Type::kNil || v.type() == Type::kInvalid) {
    Pad(out, "<nil>", fl);
    return;
  }
  PrintArg(out, v, verb, fl);
}

// fmt's printArg.
void PrintArg(std::string* out, const Value& v, char verb, const Flags& fl) {
  switch (v.type()) {
    case Type::kInvalid:
    case Type::kNil:
      if (verb == 'v') {
        Pad(out, "<nil>", fl);
      } else {
        BadVerb(out, verb, v);
      }
      return;
    case Type::kBool:
      if (verb == 't' || verb == 'v') {
        Pad(out, v.b() ? "true" : "false", fl);
      } else {
        BadVerb(out, verb, v);
      }
      return;
    case Type::kFloat64:
      FmtFloat(out, v.f(), verb, fl);
      return;
    case Type::kInt:
    case Type::kInt64:
    case Type::kInt32:
    case Type::kUint8: {
      bool is_signed = v.type() != Type::kUint8;
      switch (verb) {
        case 'v':
        case 'd':
          FmtInteger(out, v.i(), is_signed, 10, verb, fl);
          return;
        case 'b':
          FmtInteger(out, v.i(), is_signed, 2, verb, fl);
          return;
        case 'o':
        case 'O':
          FmtInteger(out, v.i(), is_signed, 8, verb, fl);
          return;
        case 'x':
        case 'X':
          FmtInteger(out, v.i(), is_signed, 16, verb, fl);
          return;
        case 'c': {
          std::string buf;
          AppendRune(&buf, static_cast<uint32_t>(v.i()));
          Pad(out, buf, fl);
          return;
        }
        case 'q': {
          std::string buf;
          QuoteRune(&buf, static_cast<uint32_t>(v.i()));
          Pad(out, buf, fl);
          return;
        }
        case 'U': {
          char b[32];
          snprintf(b, sizeof(b), "U+%04llX", static_cast<unsigned long long>(v.i()));
          std::string buf = b;
          if (fl.sharp) {
            buf += " '";
            AppendRune(&buf, static_cast<uint32_t>(v.i()));
            buf += "'";
          }
          Pad(out, buf, fl);
          return;
        }
        default:
          BadVerb(out, verb, v);
          return;
      }
    }
    case Type::kString:
      FmtString(out, v.str(), verb, fl);
      return;
    case Type::kTime:
      if (verb == 'v' || verb == 's' || verb == 'x' || verb == 'X' || verb == 'q') {
        std::string s;
        AppendGoTimeString(&s, v.time());
        FmtString(out, s, verb, fl);
      } else {
        BadVerb(out, verb, v);
      }
      return;
    case Type::kMap:
      if (verb == 'v') {
        AppendMap(out, v.map());
      } else {
        BadVerb(out, verb, v);
      }
      return;
    case Type::kObject: {
      // Go prints maps with sorted keys, keys and values with the same verb.
      out->append("map[");
      bool first = true;
      for (const auto& [k, e] : v.comp().object) {
        if (!first)
          out->push_back(' ');
        first = false;
        FmtString(out, k, verb, fl);
        out->push_back(':');
        PrintElem(out, e, verb, fl);
      }
      out->push_back(']');
      return;
    }
    case Type::kList: {
      out->push_back('[');
      bool first = true;
      for (const auto& e : v.comp().list) {
        if (!first)
          out->push_back(' ');
        first = false;
        PrintElem(out, e, verb, fl);
      }
      out->push_back(']');
      return;
    }
  }
}

void BadVerb(std::string* out, char verb, const Value& v) {
  out->append("%!");
  out->push_back(verb);
  out->push_back('(');
  if (v.type() == Type::kInvalid || v.type() == Type::kNil) {
    out->append("<nil>");
  } else {
    out->append(TypeName(v.type()));
    out->push_back('=');
    PrintArg(out, v, 'v', Flags());
  }
  out->push_back(')');
}

bool ParseNum(std::string_view f, size_t* i, int* num) {
  bool found = false;
  *num = 0;
  while (*i < f.size() && f[*i] >= '0' && f[*i] <= '9') {
    if (*num > 1000000)
      return false;  // Go: absurdly large numbers are "not found"
    *num = *num * 10 + (f[*i] - '0');
    found = true;
    (*i)++;
  }
  return found;
}

bool IntFromArg(std::span<const Value> args, size_t* arg_num, int* out) {
  if (*arg_num >= args.size())
    return false;
  const Value& v = args[*arg_num];
  (*arg_num)++;
  if (!v.is_int())
    return false;
  if (v.i() > 1000000 || v.i() < -1000000)
    return false;
  *out = static_cast<int>(v.i());
  return true;
}

}  // namespace

void AppendValue(std::string* out, const Value& v) {
  switch (v.type()) {
    case Type::kInvalid:
      out->append("<no value>");
      return;
    case Type::kString:
      out->append(v.str());
      return;
    default:
      PrintArg(out, v, 'v', Flags());
  }
}

void AppendSprint(std::string* out, std::span<const Value> args) {
  bool prev_string = false;
  for (size_t i = 0; i < args.size(); i++) {
    bool is_string = args[i].type() == Type::kString;
    if (i > 0 && !is_string && !prev_string)
      out->push_back(' ');
    PrintArg(out, args[i], 'v', Flags());
    prev_string = is_string;
  }
}

void AppendSprintln(std::string* out, std::span<const Value> args) {
  for (size_t i = 0; i < args.size(); i++) {
    if (i > 0)
      out->push_back(' ');
    PrintArg(out, args[i], 'v', Flags());
  }
  out->push_back('\n');
}

void AppendSprintf(std::string* out, std::string_view format, std::span<const Value> args) {
  size_t arg_num = 0;
  size_t end = format.size();
  size_t i = 0;
  while (i < end) {
    size_t lasti = i;
    while (i < end && format[i] != '%')
      i++;
    out->append(format.substr(lasti, i - lasti));
    if (i >= end)
      break;
    i++;  // skip %
    Flags fl;
    for (; i < end; i++) {
      char c = format[i];
      if (c == '#') {
        fl.sharp = true;
      } else if (c == '0') {
        fl.zero = !fl.minus;
      } else if (c == '+') {
        fl.plus = true;
      } else if (c == '-') {
        fl.minus = true;
        fl.zero = false;
      } else if (c == ' ') {
        fl.space = true;
      } else {
        break;
      }
    }
    // Width.
    if (i < end && format[i] == '*') {
      i++;
      fl.wid_present = IntFromArg(args, &arg_num, &fl.wid);
      if (!fl.wid_present)
        out->append("%!(BADWIDTH)");
      if (fl.wid < 0) {
        fl.wid = -fl.wid;
        fl.minus = true;
        fl.zero = false;
      }
    } else {
      fl.wid_present = ParseNum(format, &i, &fl.wid);
    }
    // Precision.
    if (i + 1 < end && format[i] == '.') {
      i++;
      if (i < end && format[i] == '*') {
        i++;
        fl.prec_present = IntFromArg(args, &arg_num, &fl.prec);
        if (fl.prec < 0) {
          fl.prec = 0;
          fl.prec_present = false;
        }
        if (!fl.prec_present)
          out->append("%!(BADPREC)");
      } else {
        fl.prec_present = ParseNum(format, &i, &fl.prec);
        if (!fl.prec_present) {
          fl.prec = 0;
          fl.prec_present = true;
        }
      }
    }
    if (i >= end) {
      out->append("%!(NOVERB)");
      break;
    }
    // The verb is one rune; multi-byte verbs are always bad verbs.
    size_t vstart = i;
    i++;
    while (i < end && (static_cast<unsigned char>(format[i]) & 0xC0) == 0x80)
      i++;
    std::string_view verb_text = format.substr(vstart, i - vstart);
    char verb = verb_text.size() == 1 ? verb_text[0] : '?';
    if (verb == '%' && verb_text.size() == 1) {
      out->push_back('%');
      continue;
    }
    if (arg_num >= args.size()) {
      out->append("%!");
      out->append(verb_text);
      out->append("(MISSING)");
      continue;
    }
    if (verb == 'T' && verb_text.size() == 1) {
      Pad(out, TypeName(args[arg_num].type()), fl);
      arg_num++;
      continue;
    }
    if (verb_text.size() != 1) {
      out->append("%!");
      out->append(verb_text);
      out->push_back('(');
      out->append(TypeName(args[arg_num].type()));
      out->push_back('=');
      PrintArg(out, args[arg_num], 'v', Flags());
      out->push_back(')');
      arg_num++;
      continue;
    }
    PrintArg(out, args[arg_num], verb, fl);
    arg_num++;
  }
  if (arg_num < args.size()) {
    out->append("%!(EXTRA ");
    for (size_t k = arg_num; k < args.size(); k++) {
      if (k > arg_num)
        out->append(", ");
      if (args[k].type() == Type::kNil || args[k].type() == Type::kInvalid) {
        out->append("<nil>");
      } else {
        out->append(TypeName(args[k].type()));
        out->push_back('=');
        PrintArg(out, args[k], 'v', Flags());
      }
    }
    out->push_back(')');
  }
}

}  // namespace internal

bool IsTrue(const Value& v) {
  switch (v.type()) {
    case Type::kInvalid:
    case Type::kNil:
      return false;
    case Type::kString:
      return !v.str().empty();
    case Type::kInt:
    case Type::kInt64:
    case Type::kInt32:
    case Type::kUint8:
      return v.i() != 0;
    case Type::kFloat64:
      return v.f() != 0;
    case Type::kBool:
      return v.b();
    case Type::kTime:
      return true;
    case Type::kMap: {
      bool any = false;
      if (v.map() != nullptr)
        v.map()->ForEach([&](std::string_view, std::string_view) { any = true; });
      return any;
    }
    case Type::kObject:
    case Type::kList:
      return v.comp().size() > 0;
  }
  return false;
}

}  // namespace norn::logql_template
