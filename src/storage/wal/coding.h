// The shared encoding helpers (common/coding.h), visible unqualified inside norn::wal.
#pragma once

#include "common/coding.h"

namespace norn::wal::internal {
using namespace ::norn::coding;  // NOLINT(google-build-using-namespace): internal namespace only
}  // namespace norn::wal::internal
