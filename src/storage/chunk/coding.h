// The shared encoding helpers (common/coding.h), visible unqualified inside norn::chunk.
#pragma once

#include "common/coding.h"

namespace norn::chunk::internal {

using coding::PutFixed32;
using coding::PutFixed64;
using coding::EncodeFixed32;
using coding::EncodeFixed64;
using coding::DecodeFixed32;
using coding::DecodeFixed64;
using coding::PutVarint;
using coding::ZigZag;
using coding::UnZigZag;
using coding::PutLengthPrefixed;
using coding::GetVarint;
using coding::GetFixed32;
using coding::GetFixed64;
using coding::GetByte;
using coding::GetLengthPrefixed;

}  // namespace norn::chunk::internal
