// Matcher: one label matcher of a stream selector (`name="v"`, `!=`, `=~`, `!~`) in the minimal
// form the index evaluates. The LogQL layer adapts its own matcher type to this one (same four
// operators, same Prometheus/Loki semantics), so the index has no dependency on the parser.
//
// Semantics (as in Prometheus and Loki): a series without label `name` behaves as if it had
// `name=""`; regexes are RE2 (Go syntax) and fully anchored, i.e. `=~"a.*"` means `^(?:a.*)$`.
// The regex is compiled once in Create(); a simple alternation of literals (`a|b|c`, also with
// `\`-escaped punctuation) is recognised so the index answers it with direct postings look-ups.
//
// Immutable after Create(); copies share the compiled regex; safe to use from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace re2 {
class RE2;
}

namespace norn::index {

class Matcher {
 public:
  enum class Type : uint8_t { kEq, kNeq, kRe, kNre };

  // InvalidArgument for a regex RE2 rejects (message starts with "error parsing regexp: ").
  static absl::StatusOr<Matcher> Create(Type type, std::string name, std::string value);

  // Shorthands for tests and internal callers; CHECK-fail on an invalid regex, so never use them
  // with user input.
  static Matcher Eq(std::string name, std::string value);
  static Matcher Neq(std::string name, std::string value);
  static Matcher Re(std::string name, std::string value);
  static Matcher Nre(std::string name, std::string value);

  Type type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }

  // Whether a label value (or "" for an absent label) satisfies the matcher.
  bool Matches(std::string_view v) const;

  // kEq/kNeq: the one value; kRe/kNre whose regex is an alternation of literals: those literals
  // (sorted, unique); otherwise nullptr. Used by the index for postings look-ups without a scan.
  const std::vector<std::string>* literals() const { return has_literals_ ? &literals_ : nullptr; }

  // `name="value"` style, with Go quoting of the value.
  std::string ToString() const;

 private:
  // How a regex is evaluated: kRegex runs RE2; the others are exact shortcuts.
  enum class ReKind : uint8_t { kNone, kRegex, kLiterals, kAny, kAnyNonEmpty };

  Matcher() = default;
  bool PositiveMatch(std::string_view v) const;

  Type type_ = Type::kEq;
  std::string name_;
  std::string value_;
  ReKind re_kind_ = ReKind::kNone;
  bool has_literals_ = false;
  std::vector<std::string> literals_;
  std::shared_ptr<const re2::RE2> re_;
};

}  // namespace norn::index
