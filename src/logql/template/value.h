// Values a template computes with: a small tagged union standing in for the Go values Loki's
// templates see (label strings, Go int/int64/float64/bool results of functions, time.Time, nil and
// the label map itself). Each value carries its Go type so comparisons, argument checks and error
// messages follow text/template ("wrong type for value; expected int; got int64").
//
// Strings are either borrowed (a view into a label value, the log line or the parsed template,
// all of which outlive one execution) or owned. Values are plain data: not thread-safe to mutate,
// safe to share const.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace norn::logql_template {

class LabelSource;
struct Composite;

// A point in time with a Go-like location: UTC, a named tz database zone or a fixed offset with an
// optional abbreviation (what time.FixedZone / time.Parse create).
struct GoTime {
  int64_t sec = -62135596800;  // Go's zero time: January 1, year 1, 00:00:00 UTC.
  int32_t nsec = 0;
  enum class Zone : uint8_t { kUtc, kNamed, kFixed };
  Zone zone = Zone::kUtc;
  int32_t fixed_offset = 0;  // seconds east of UTC, for kFixed
  char fixed_abbr[8] = {};   // NUL-terminated abbreviation, for kFixed ("" prints as -0700)
  absl::TimeZone tz;         // for kNamed

  static GoTime FromUnixNanos(int64_t ns);
  absl::Time ToAbsl() const { return absl::FromUnixSeconds(sec) + absl::Nanoseconds(nsec); }
  // Wraps (as Go's does) outside the years 1678..2262.
  int64_t UnixNanos() const {
    return static_cast<int64_t>(static_cast<uint64_t>(sec) * 1000000000u +
                                static_cast<uint64_t>(nsec));
  }
  // Offset (seconds east of UTC) and abbreviation in effect at this instant.
  void ZoneAt(int* offset, std::string* abbr) const;
};

enum class Type : uint8_t {
  kInvalid,  // Go's invalid reflect.Value (a missing value); prints "<no value>"
  kNil,      // untyped nil interface; prints "<nil>"
  kString,
  kInt,    // Go int
  kInt64,  // Go int64
  kInt32,  // Go rune
  kUint8,  // Go byte (index of a string)
  kFloat64,
  kBool,
  kTime,
  kMap,  // the label map (the template's data): map[string]string
  // Decoded JSON (fromJson), as Go's encoding/json builds it into interface{}: objects are
  // map[string]interface {}, arrays []interface {}; numbers float64, null nil.
  kObject,
  kList,
};

// Go's type name, as text/template error messages print it.
std::string_view TypeName(Type t);

class Value {
 public:
  Value() = default;
  static Value Invalid() { return Value(); }
  static Value Nil() {
    Value v;
    v.type_ = Type::kNil;
    return v;
  }
  static Value Borrowed(std::string_view s) {
    Value v;
    v.type_ = Type::kString;
    v.view_ = s;
    return v;
  }
  static Value Owned(std::string s) {
    Value v;
    v.type_ = Type::kString;
    v.owned_ = std::move(s);
    v.is_owned_ = true;
    return v;
  }
  static Value Int(int64_t i, Type t = Type::kInt) {
    Value v;
    v.type_ = t;
    v.u_.i = i;
    return v;
  }
  static Value Float(double f) {
    Value v;
    v.type_ = Type::kFloat64;
    v.u_.f = f;
    return v;
  }
  static Value Bool(bool b) {
    Value v;
    v.type_ = Type::kBool;
    v.u_.i = b ? 1 : 0;
    return v;
  }
  static Value Time(const GoTime& t) {
    Value v;
    v.type_ = Type::kTime;
    v.t_ = t;
    return v;
  }
  static Value Map(const LabelSource* m) {
    Value v;
    v.type_ = Type::kMap;
    v.u_.map = m;
    return v;
  }

  // A JSON object (entries sorted by key, unique) or array; shared and immutable once built.
  static Value Object(std::shared_ptr<const Composite> c) {
    Value v;
    v.type_ = Type::kObject;
    v.comp_ = std::move(c);
    return v;
  }
  static Value List(std::shared_ptr<const Composite> c) {
    Value v;
    v.type_ = Type::kList;
    v.comp_ = std::move(c);
    return v;
  }

  Type type() const { return type_; }
  bool valid() const { return type_ != Type::kInvalid; }
  bool is_int() const {
    return type_ == Type::kInt || type_ == Type::kInt64 || type_ == Type::kInt32 ||
           type_ == Type::kUint8;
  }
  std::string_view str() const { return is_owned_ ? std::string_view(owned_) : view_; }
  // A string viewing memory that outlives the execution (label, line or template text).
  bool borrowed() const { return type_ == Type::kString && !is_owned_; }
  int64_t i() const { return u_.i; }
  double f() const { return u_.f; }
  bool b() const { return u_.i != 0; }
  const GoTime& time() const { return t_; }
  const LabelSource* map() const { return u_.map; }
  // For kObject / kList: never null.
  const Composite& comp() const { return *comp_; }

 private:
  Type type_ = Type::kInvalid;
  bool is_owned_ = false;
  union Scalar {
    int64_t i;
    double f;
    const LabelSource* map;
  } u_ = {0};
  std::string_view view_;
  std::string owned_;
  GoTime t_;
  std::shared_ptr<const Composite> comp_;  // kObject, kList
};

// The contents of a kObject (`object`, sorted by key) or kList (`list`) value.
struct Composite {
  std::vector<std::pair<std::string, Value>> object;
  std::vector<Value> list;

  size_t size() const { return object.empty() ? list.size() : object.size(); }
  // Object lookup; null when absent.
  const Value* Find(std::string_view key) const;
};

// Go's json.Unmarshal into an interface{}: false on invalid JSON (sprig's fromJson then yields
// nil). Numbers that overflow float64 decode as nil, as Go stores them after its type error.
bool DecodeJson(std::string_view text, Value* out);

// Go's template truthiness (text/template isTrue): false, 0, "", nil and empty maps are false;
// times (structs) are true.
bool IsTrue(const Value& v);

}  // namespace norn::logql_template
