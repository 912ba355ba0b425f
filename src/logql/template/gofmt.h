// Go's fmt package as the template module needs it: fmt.Fprint of one value (how actions print),
// Sprint / Sprintln / Sprintf over template values (print, println, printf), and strconv float
// formatting. Internal to the template module; stateless and thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "logql/template/value.h"

namespace norn::logql_template::internal {

// fmt.Sprint(v): "%v" formatting; invalid values print "<no value>" (as templates do).
void AppendValue(std::string* out, const Value& v);
// fmt.Sprint(args...): spaces between operands when neither is a string.
void AppendSprint(std::string* out, std::span<const Value> args);
// fmt.Sprintln(args...): always spaces, then a newline.
void AppendSprintln(std::string* out, std::span<const Value> args);
// fmt.Sprintf(format, args...), including Go's %!verb(type=value) error forms.
void AppendSprintf(std::string* out, std::string_view format, std::span<const Value> args);
// strconv.FormatFloat(f, verb, prec, 64) for verb in e E f g G; prec -1 is shortest.
void AppendGoFloat(std::string* out, double f, char verb, int prec);

}  // namespace norn::logql_template::internal
