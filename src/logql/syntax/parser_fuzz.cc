// libFuzzer entry point for the LogQL parser. Checks that no input crashes, hangs or trips a
// sanitizer, and that every accepted query prints to text that parses back to the same tree.
//
// Build (clang only; not part of the default build):
//   cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
//         -DNORN_FUZZ=ON -DNORN_UNIT_TESTS_ONLY=ON
//   cmake --build build-fuzz --target logql_parser_fuzz
//   ./build-fuzz/src/logql/syntax/logql_parser_fuzz -max_len=512 corpus/
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "logql/syntax/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using norn::logql::syntax::ParseExpr;
  using norn::logql::syntax::Print;
  std::string_view query(reinterpret_cast<const char*>(data), size);
  auto expr = ParseExpr(query);
  if (!expr.ok())
    return 0;
  std::string printed = Print(**expr);
  auto again = ParseExpr(printed);
  // The printed form may only exceed the input size limit; anything else is a bug.
  if (!again.ok()) {
    if (printed.size() >= norn::logql::syntax::kMaxQueryLength)
      return 0;
    std::abort();
  }
  if (!(**again == **expr))
    std::abort();
  return 0;
}
