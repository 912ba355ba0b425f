// The shared encoding helpers (common/coding.h), visible unqualified inside norn::chunk.
#pragma once

#include "common/coding.h"

namespace norn::chunk::internal {
using namespace ::norn::coding;  // NOLINT(google-build-using-namespace): internal namespace only
}  // namespace norn::chunk::internal
