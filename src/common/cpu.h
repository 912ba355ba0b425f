// What the CPU the process runs on can do, for code with a vector path chosen at run time
// (compiled with __attribute__((target(...))), since the build targets baseline x86-64).
#pragma once

namespace norn {

#if defined(__x86_64__) || defined(__i386__)
// True when AVX2 instructions may be used. Checked once.
inline bool CpuHasAvx2() {
  static const bool have = __builtin_cpu_supports("avx2");
  return have;
}
#endif

}  // namespace norn
