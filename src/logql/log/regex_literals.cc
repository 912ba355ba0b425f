#include "logql/log/regex_literals.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "logql/log/utf8.h"

namespace norn::logql_log {

bool RegexLiteralInfo::prefilter_possible() const {
  if (branches.empty()) return false;
  for (const auto& b : branches) {
    if (b.literal.empty() && b.alternatives.empty()) return false;
  }
  return true;
}

bool RegexLiteralInfo::all_pure() const {
  if (branches.empty()) return false;
  for (const auto& b : branches) {
    if (!b.pure) return false;
  }
  return true;
}

namespace {

// Index just past the ']' closing the class that starts at p[i] == '['; npos if unclosed.
size_t SkipClass(std::string_view p, size_t i) {
  ++i;
  if (i < p.size() && p[i] == '^') ++i;
  if (i < p.size() && p[i] == ']') ++i;  // a leading ']' is literal
  while (i < p.size()) {
    char c = p[i];
    if (c == '\\') {
      i += 2;
      continue;
    }
    if (c == '[' && i + 1 < p.size() && p[i + 1] == ':') {
      size_t e = p.find(":]", i + 2);
      if (e != std::string_view::npos) {
        i = e + 2;
        continue;
      }
    }
    if (c == ']') return i + 1;
    ++i;
  }
  return std::string_view::npos;
}

// Index just past the ')' matching p[i] == '('; npos if unbalanced.
size_t SkipGroup(std::string_view p, size_t i) {
  int depth = 0;
  while (i < p.size()) {
    char c = p[i];
    if (c == '\\') {
      if (i + 1 < p.size() && p[i + 1] == 'Q') {
        size_t e = p.find("\\E", i + 2);
        if (e == std::string_view::npos) return std::string_view::npos;
        i = e + 2;
        continue;
      }
      i += 2;
      continue;
    }
    if (c == '[') {
      i = SkipClass(p, i);
      if (i == std::string_view::npos) return i;
      continue;
    }
    if (c == '(') ++depth;
    if (c == ')') {
      --depth;
      if (depth == 0) return i + 1;
    }
    ++i;
  }
  return std::string_view::npos;
}

// Parses a counted repetition at p[i] == '{'. Returns the index past '}' and sets *min, or
// npos when it is not a valid repetition (then '{' is a literal in Go's syntax).
size_t ParseRepeat(std::string_view p, size_t i, int* min) {
  size_t j = i + 1;
  size_t ds = j;
  while (j < p.size() && std::isdigit(static_cast<unsigned char>(p[j]))) ++j;
  if (j == ds) return std::string_view::npos;
  *min = std::atoi(std::string(p.substr(ds, j - ds)).c_str());
  if (j < p.size() && p[j] == ',') {
    ++j;
    while (j < p.size() && std::isdigit(static_cast<unsigned char>(p[j]))) ++j;
  }
  if (j < p.size() && p[j] == '}') return j + 1;
  return std::string_view::npos;
}

// Splits `p` at its top-level '|' (not inside groups, classes or \Q...\E). False when a group
// or class is not closed.
bool SplitTopLevel(std::string_view p, std::vector<std::string_view>* parts) {
  size_t start = 0;
  for (size_t i = 0; i < p.size();) {
    char c = p[i];
    if (c == '\\') {
      if (i + 1 < p.size() && p[i + 1] == 'Q') {
        size_t e = p.find("\\E", i + 2);
        i = e == std::string_view::npos ? p.size() : e + 2;
      } else {
        i += 2;
      }
      continue;
    }
    if (c == '[' || c == '(') {
      size_t e = c == '[' ? SkipClass(p, i) : SkipGroup(p, i);
      if (e == std::string_view::npos) return false;
      i = e;
      continue;
    }
    if (c == '|') {
      parts->push_back(p.substr(start, i - start));
      start = i + 1;
    }
    ++i;
  }
  parts->push_back(p.substr(std::min(start, p.size())));
  return true;
}

// Alternative sets larger than this are not tracked (cross products grow fast).
constexpr size_t kMaxAlternatives = 16;

struct BranchScanner {
  bool ci;
  std::vector<std::string> runs;
  std::string cur;
  // Start (in cur) of the last literal atom, or npos when the last atom was not a literal
  // appended to cur.
  size_t last_atom = std::string::npos;
  bool pure = true;
  bool stop = false;
  // The same runs, but continued across groups of literal alternatives: each run is a set of
  // literals one of which every match contains (runs of one literal are only in `runs`).
  std::vector<std::vector<std::string>> alt_runs;
  std::vector<std::string> cur_alts{std::string()};
  size_t last_atom_len = std::string::npos;  // byte length of cur_alts' last literal atom

  // Ends the single-literal run only (a group of alternatives continues the sets).
  void BreakSingle() {
    if (!cur.empty()) runs.push_back(cur);
    cur.clear();
    last_atom = std::string::npos;
  }
  void Break() {
    BreakSingle();
    bool usable = cur_alts.size() > 1;
    for (const auto& a : cur_alts) usable = usable && !a.empty();
    if (usable) alt_runs.push_back(cur_alts);
    cur_alts.assign(1, std::string());
    last_atom_len = std::string::npos;
  }
  void NonLiteral() {
    pure = false;
    Break();
  }
  void Literal(std::string_view bytes) {
    if (ci) {
      // ASCII folding is exact only for ASCII without k/s.
      bool ok = bytes.size() == 1 && static_cast<unsigned char>(bytes[0]) < 0x80;
      char c = ok ? static_cast<char>(std::tolower(static_cast<unsigned char>(bytes[0]))) : 0;
      if (!ok || c == 'k' || c == 's') {
        NonLiteral();
        return;
      }
    }
    last_atom = cur.size();
    cur.append(bytes);
    for (auto& a : cur_alts) a.append(bytes);
    last_atom_len = bytes.size();
  }
  // Applies a quantifier to the previous atom: optional (min 0) drops it from the run.
  void Quantifier(bool optional) {
    pure = false;
    if (last_atom != std::string::npos && optional) {
      cur.resize(last_atom);
    }
    if (last_atom_len != std::string::npos && optional) {
      for (auto& a : cur_alts) a.resize(a.size() - last_atom_len);
    }
    Break();
  }
  // `p[i]` is '(' of a group ending before `end`: when it is a plain or non-capturing group of
  // literal alternatives, not quantified, continues the alternative sets through it and
  // returns true.
  bool ExpandGroup(std::string_view p, size_t i, size_t end);

  void Scan(std::string_view p) {
    size_t i = 0;
    while (i < p.size() && !stop) {
      char c = p[i];
      switch (c) {
        case '\\': {
          if (i + 1 >= p.size()) {
            stop = true;
            pure = false;
            break;
          }
          char e = p[i + 1];
          if (e == 'Q') {
            size_t end = p.find("\\E", i + 2);
            std::string_view lit = p.substr(i + 2, end == std::string_view::npos
                                                       ? std::string_view::npos
                                                       : end - (i + 2));
            for (size_t k = 0; k < lit.size();) {
              size_t w;
              utf8::Decode(lit, k, &w);
              Literal(lit.substr(k, w));
              k += w;
            }
            i = end == std::string_view::npos ? p.size() : end + 2;
            break;
          }
          i += 2;
          if (!std::isalnum(static_cast<unsigned char>(e)) &&
              static_cast<unsigned char>(e) < 0x80) {
            Literal(std::string_view(&p[i - 1], 1));
            break;
          }
          char lit = 0;
          switch (e) {
            case 'n': lit = '\n'; break;
            case 't': lit = '\t'; break;
            case 'r': lit = '\r'; break;
            case 'f': lit = '\f'; break;
            case 'v': lit = '\v'; break;
            case 'a': lit = '\a'; break;
            default: break;
          }
          if (lit) {
            Literal(std::string_view(&lit, 1));
            break;
          }
          if (e == 'x') {
            uint32_t cp = 0;
            bool ok = false;
            if (i < p.size() && p[i] == '{') {
              size_t end = p.find('}', i);
              if (end != std::string_view::npos && end > i + 1 && end - i <= 9) {
                ok = true;
                for (size_t k = i + 1; k < end; ++k) {
                  if (!std::isxdigit(static_cast<unsigned char>(p[k]))) ok = false;
                }
                if (ok) cp = std::strtoul(std::string(p.substr(i + 1, end - i - 1)).c_str(),
                                          nullptr, 16);
                i = end + 1;
              }
            } else if (i + 1 < p.size() && std::isxdigit(static_cast<unsigned char>(p[i])) &&
                       std::isxdigit(static_cast<unsigned char>(p[i + 1]))) {
              cp = std::strtoul(std::string(p.substr(i, 2)).c_str(), nullptr, 16);
              ok = true;
              i += 2;
            }
            if (ok && cp <= 0x10FFFF) {
              std::string enc;
              utf8::Append(&enc, cp);
              Literal(enc);
            } else {
              NonLiteral();
              stop = true;
            }
            break;
          }
          if ((e == 'p' || e == 'P') && i < p.size()) {
            if (p[i] == '{') {
              size_t end = p.find('}', i);
              i = end == std::string_view::npos ? p.size() : end + 1;
            } else {
              ++i;
            }
          }
          NonLiteral();  // \d \w \s \b \pL octal ...
          break;
        }
        case '.':
          ++i;
          NonLiteral();
          break;
        case '[': {
          size_t e = SkipClass(p, i);
          NonLiteral();
          if (e == std::string_view::npos) {
            stop = true;
          } else {
            i = e;
          }
          break;
        }
        case '(': {
          if (size_t e = SkipGroup(p, i); e != std::string_view::npos && ExpandGroup(p, i, e)) {
            i = e;
            break;
          }
          // A flag group without ':' changes matching for the rest: stop analysing here.
          if (i + 1 < p.size() && p[i + 1] == '?') {
            size_t k = i + 2;
            while (k < p.size() && std::strchr("imsU-", p[k]) != nullptr) ++k;
            if (k < p.size() && p[k] == ')') {
              NonLiteral();
              stop = true;
              break;
            }
          }
          size_t e = SkipGroup(p, i);
          NonLiteral();
          if (e == std::string_view::npos) {
            stop = true;
          } else {
            i = e;
          }
          break;
        }
        case '^':
        case '$':
          ++i;
          NonLiteral();
          break;
        case '*':
        case '?':
        case '+': {
          ++i;
          Quantifier(c != '+');
          if (i < p.size() && p[i] == '?') ++i;  // lazy
          break;
        }
        case '{': {
          int min = 0;
          size_t e = ParseRepeat(p, i, &min);
          if (e == std::string_view::npos) {
            Literal(std::string_view(&p[i], 1));
            ++i;
          } else {
            i = e;
            Quantifier(min == 0);
            if (i < p.size() && p[i] == '?') ++i;
          }
          break;
        }
        default: {
          size_t w;
          utf8::Decode(p, i, &w);
          Literal(p.substr(i, w));
          i += w;
          break;
        }
      }
    }
    if (stop) pure = false;
    Break();
  }
};

// The top-level '|' alternatives of `body` when each is a plain literal (no classes, groups,
// quantifiers or other syntax); false otherwise.
bool LiteralAlternatives(std::string_view body, std::vector<std::string>* out) {
  std::vector<std::string_view> parts;
  if (!SplitTopLevel(body, &parts)) return false;
  for (std::string_view part : parts) {
    BranchScanner s;
    s.ci = false;
    s.Scan(part);
    if (!s.pure || s.runs.size() > 1 || !s.alt_runs.empty()) return false;
    out->push_back(s.runs.empty() ? std::string() : s.runs[0]);
  }
  return true;
}

bool BranchScanner::ExpandGroup(std::string_view p, size_t i, size_t end) {
  if (ci) return false;
  size_t body = i + 1;
  if (p.substr(i + 1, 2) == "?:") {
    body = i + 3;
  } else if (i + 1 < p.size() && p[i + 1] == '?') {
    return false;  // flags, named groups
  }
  if (end < p.size() && std::strchr("*?+{", p[end]) != nullptr) return false;
  std::vector<std::string> alts;
  if (end < body + 1 || !LiteralAlternatives(p.substr(body, end - 1 - body), &alts)) {
    return false;
  }
  if (cur_alts.size() * alts.size() > kMaxAlternatives) return false;
  pure = false;
  BreakSingle();
  std::vector<std::string> next;
  for (const auto& a : cur_alts) {
    for (const auto& b : alts) next.push_back(a + b);
  }
  cur_alts = std::move(next);
  last_atom_len = std::string::npos;
  return true;
}

}  // namespace

RegexLiteralInfo AnalyzeRegex(std::string_view p) {
  RegexLiteralInfo info;
  bool ci = false;
  // Leading flag groups such as (?i), (?s), (?im).
  while (p.size() >= 3 && p[0] == '(' && p[1] == '?') {
    size_t k = 2;
    bool neg = false, i_flag = false;
    while (k < p.size() && std::strchr("imsU-", p[k]) != nullptr) {
      if (p[k] == '-') neg = true;
      if (p[k] == 'i' && !neg) i_flag = true;
      ++k;
    }
    if (k >= p.size() || p[k] != ')' || k == 2) break;
    if (neg) {
      info.branches.push_back({});  // too clever for us: no prefilter
      return info;
    }
    ci = ci || i_flag;
    p.remove_prefix(k + 1);
  }
  std::vector<std::string_view> branches;
  if (!SplitTopLevel(p, &branches)) {
    info.branches.push_back({});  // unbalanced: no prefilter (RE2 reports the error)
    return info;
  }
  for (std::string_view b : branches) {
    BranchScanner s;
    s.ci = ci;
    s.Scan(b);
    RegexBranchLiteral out;
    out.case_insensitive = ci;
    for (auto& r : s.runs) {
      if (r.size() > out.literal.size()) out.literal = r;
    }
    out.pure = s.pure && s.runs.size() <= 1;
    // The set whose shortest literal is longest, if it beats the single literal.
    size_t best = out.literal.size();
    for (auto& set : s.alt_runs) {
      size_t shortest = std::string::npos;
      for (const auto& a : set) shortest = std::min(shortest, a.size());
      if (shortest > best) {
        best = shortest;
        out.alternatives = set;
      }
    }
    info.branches.push_back(std::move(out));
  }
  return info;
}

}  // namespace norn::logql_log
