// Internals shared by the config module's .cc files: type traits over field types, leaf value
// parsing/formatting, a generic leaf walker over the field registration, and the load pipeline
// steps. Not for use outside src/config.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "config/config.h"
#include "config/fields.h"

namespace YAML {
class Node;
}

namespace norn::config::internal {

// This Abseil build has its own string_view type; convert explicitly at Abseil calls.
inline absl::string_view AV(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
std::string_view StripSpace(std::string_view s);

template <class T>
concept SectionType = requires {
  T::kSection;
};

template <class T>
struct IsSectionVectorT : std::false_type {};
template <class T>
struct IsSectionVectorT<std::vector<T>> : std::bool_constant<SectionType<T>> {};
template <class T>
inline constexpr bool kIsSectionVector = IsSectionVectorT<T>::value;

// Dotted key path -> 1-based source line of the key (0 when set by a command-line flag). Holds
// every key that was explicitly set, sections included.
using KeyLines = absl::flat_hash_map<std::string, int>;

// Leaf parsing from text (YAML scalars and flag values). Errors read like
// `cannot parse "abc" as an integer`.
absl::Status ParseLeaf(bool& out, std::string_view text, const FieldOpts& o);
absl::Status ParseLeaf(int& out, std::string_view text, const FieldOpts& o);
absl::Status ParseLeaf(double& out, std::string_view text, const FieldOpts& o);
absl::Status ParseLeaf(uint64_t& out, std::string_view text, const FieldOpts& o);
absl::Status ParseLeaf(std::string& out, std::string_view text, const FieldOpts& o);
absl::Status ParseLeaf(absl::Duration& out, std::string_view text, const FieldOpts& o);
absl::Status ParseLeaf(absl::CivilDay& out, std::string_view text, const FieldOpts& o);
// A flag occurrence appends one element (Go flagext.StringSlice).
absl::Status ParseLeaf(std::vector<std::string>& out, std::string_view text, const FieldOpts& o);

// Leaf formatting for docs and help (not masked).
std::string LeafToString(bool v, const FieldOpts& o);
std::string LeafToString(int v, const FieldOpts& o);
std::string LeafToString(double v, const FieldOpts& o);
std::string LeafToString(uint64_t v, const FieldOpts& o);
std::string LeafToString(const std::string& v, const FieldOpts& o);
std::string LeafToString(absl::Duration v, const FieldOpts& o);
std::string LeafToString(absl::CivilDay v, const FieldOpts& o);
std::string LeafToString(const std::vector<std::string>& v, const FieldOpts& o);

template <class T>
constexpr const char* TypeName() {
  if constexpr (std::is_same_v<T, bool>)
    return "bool";
  else if constexpr (std::is_same_v<T, int>)
    return "int";
  else if constexpr (std::is_same_v<T, double>)
    return "float";
  else if constexpr (std::is_same_v<T, uint64_t>)
    return "bytes";
  else if constexpr (std::is_same_v<T, std::string>)
    return "string";
  else if constexpr (std::is_same_v<T, absl::Duration>)
    return "duration";
  else if constexpr (std::is_same_v<T, absl::CivilDay>)
    return "date";
  else if constexpr (std::is_same_v<T, std::vector<std::string>>)
    return "list of strings";
  else
    return "list";
}

// Calls f(value&, path, flag, opts) for every non-section field below `obj` (section vectors are
// passed to f whole). `flag` is the full flag name, or "" when the field has none.
template <class Obj, class F>
struct LeafWalker {
  Obj& obj;
  F& f;
  std::string path;
  std::string prefix;
  bool flags_on;

  template <class S, class T>
  void Field(const char* name, T S::*member, const FieldOpts& o) {
    auto& value = obj.*member;
    std::string p = path.empty() ? std::string(name) : path + "." + name;
    if constexpr (SectionType<T>) {
      LeafWalker<std::remove_reference_t<decltype(value)>, F> sub{
          value, f, p, prefix + (o.flag ? o.flag : ""), flags_on && o.flag != nullptr};
      T::Fields(sub);
    } else {
      std::string flag = (flags_on && o.flag != nullptr) ? prefix + o.flag : std::string();
      f(value, p, flag, o);
    }
  }
};

template <class Obj, class F>
void WalkLeaves(Obj& obj, F&& f, std::string path = "", std::string prefix = "",
                bool flags_on = true) {
  LeafWalker<Obj, std::remove_reference_t<F>> w{obj, f, std::move(path), std::move(prefix),
                                                flags_on};
  std::remove_const_t<Obj>::Fields(w);
}

// Thrown inside the module, converted to absl::Status at the API.
struct ConfigError {
  std::string message;
};

// Decodes `node` (a mapping or null) into `out` on top of its current values, recording keys.
// Throws ConfigError.
void DecodeLimitsNode(const YAML::Node& node, const std::string& path, std::string_view source,
                      LimitsConfig& out, KeyLines* keys);

// Decodes YAML text into `config`; records explicitly set keys in `keys`.
absl::Status DecodeYaml(std::string_view text, const ParseOptions& options, Config& config,
                        KeyLines& keys);

// Loki's `common` propagation, the default schema period when none is given, and validation.
absl::Status Finalize(Config& config, const KeyLines& keys, std::string_view source);

// EmbeddedDefaults() before Finalize, with the keys it sets marked.
Config EmbeddedBase(KeyLines& keys);

}  // namespace norn::config::internal
