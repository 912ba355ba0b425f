// libFuzzer entry point: parses arbitrary bytes as a template and, when that succeeds, executes
// it against a few labels with the input as the log line. Must never crash, hang or leak.
// Build: cmake -DNORN_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ...; run: logql_template_fuzz corpus/
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "logql/template/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto t = norn::logql_template::Template::Parse(text);
  if (!t.ok())
    return 0;
  norn::logql_template::PairsLabelSource labels(
      {{"foo", "bar"}, {"status", "200"}, {"num", "42"}, {"f", "-3.5e2"}, {"empty", ""}});
  norn::logql_template::ExecContext ctx{&labels, text, 1680000000123456789};
  std::string out;
  (*t)->Execute(ctx, &out).IgnoreError();
  (void)(*t)->RequiredLabelNames();
  return 0;
}
