// Literal analysis of Go/RE2 regular expressions for line-filter prefilters.
//
// AnalyzeRegex splits a pattern at top-level '|' and, for each branch, finds the literal runs
// every match of that branch must contain. A line can only match if, for some branch, it holds
// that branch's best (longest) run, so a fast substring search can reject most lines before
// RE2 runs. When every branch is a bare literal the regex is equivalent to "contains any of"
// and RE2 is not needed at all (Loki simplifies such regexes the same way).
//
// The analysis is conservative: anything it does not understand ends a literal run, so a
// reported literal is always required. Case-insensitive `(?i)` literals are kept only where
// ASCII folding is exact (no 'k'/'s', whose fold orbits include non-ASCII runes, and no
// non-ASCII characters). Stateless and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace norn::logql_log {

struct RegexBranchLiteral {
  std::string literal;          // empty: this branch has no usable required literal
  bool case_insensitive = false;
  bool pure = false;            // the branch is exactly this literal (no other syntax)
  // Literals one of which every match of the branch contains, longer than `literal`, from a
  // group of literal alternatives: `/api/(orders|cart)/` gives {"/api/orders/", "/api/cart/"}
  // (empty when there is no such set). Case-sensitive branches only.
  std::vector<std::string> alternatives;
};

struct RegexLiteralInfo {
  std::vector<RegexBranchLiteral> branches;
  // True when every branch has a non-empty literal or alternatives (a prefilter is possible).
  bool prefilter_possible() const;
  // True when every branch is pure: the regex matches iff the line contains one literal.
  bool all_pure() const;
};

RegexLiteralInfo AnalyzeRegex(std::string_view pattern);

}  // namespace norn::logql_log
