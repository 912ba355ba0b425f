// The functions a Loki template can call: Go's builtins (and, or, eq, printf, ...) and Loki's set
// (its own plus the sprig functions it ships). Internal to the template module.
//
// Each function declares Go parameter types so the executor can apply text/template's argument
// checks; Call then sees already-checked values. Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "logql/template/template.h"
#include "logql/template/value.h"

namespace re2 {
class RE2;
}

namespace norn::logql_template::internal {

// Go parameter types. kAny is interface{}, kValue is reflect.Value (builtins).
enum class Param : uint8_t { kAny, kValue, kString, kInt, kFloat64, kBool, kTime };
std::string_view ParamName(Param p);

enum class FuncId : uint16_t;

struct FuncInfo {
  std::string_view name;
  FuncId id;
  Param params[4];
  int nparams;  // fixed parameters
  bool variadic;
  Param variadic_type;
};

// Null when `name` is not a function Loki's templates know.
const FuncInfo* LookupFunc(std::string_view name);
bool IsAndOr(const FuncInfo& f);
// Functions whose first argument is a regular expression (precompiled when it is a literal).
bool TakesRegex(const FuncInfo& f);

// A regex compiled at parse time from a literal argument, or its compile error.
struct CompiledRegex {
  std::unique_ptr<re2::RE2> re;
  std::string error;  // Go's "error parsing regexp: ..." when compilation failed
  ~CompiledRegex();
};
std::unique_ptr<CompiledRegex> CompileGoRegex(std::string_view pattern);

struct CallEnv {
  const ExecContext* ctx = nullptr;
  const CompiledRegex* regex = nullptr;  // for TakesRegex functions with a literal pattern
};

// Calls `f` with type-checked arguments (moved from). On failure returns false with Go's error
// text in *err (the executor prefixes "error calling <name>: ").
bool CallFunc(const FuncInfo& f, std::span<Value> args, const CallEnv& env, Value* result,
              std::string* err);

// Comparison builtins, shared with the executor for tests: Go's eq/lt semantics.
bool GoEq(const Value& a, std::span<const Value> bs, bool* truth, std::string* err);
bool GoLt(const Value& a, const Value& b, bool* truth, std::string* err);

}  // namespace norn::logql_template::internal
