// Version facts baked in at configure time (version, git revision and branch, compiler).
#pragma once

#include <string_view>

namespace norn::build_info {

std::string_view Version();
std::string_view Revision();
std::string_view Branch();
std::string_view BuildDate();
std::string_view Compiler();

}  // namespace norn::build_info
