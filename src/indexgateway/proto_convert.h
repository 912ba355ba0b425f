// Conversions between the index types and the index gateway's protobuf messages, shared by the
// gRPC service/client and the index-queries cache (which stores answers as these messages).
#pragma once

#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/indexgateway.pb.h"
#include "storage/index/matcher.h"
#include "storage/index/types.h"

namespace norn::indexgateway::internal {

void FillQuery(v1::IndexQuery* q, std::string_view tenant,
               std::span<const index::Matcher> matchers, int64_t from_ns, int64_t through_ns);
absl::StatusOr<std::vector<index::Matcher>> DecodeMatchers(const v1::IndexQuery& q);
void EncodeSeries(const Labels& labels, Fingerprint fp, v1::Series* s);
void EncodeChunkRefs(std::span<const index::ChunkRef> refs, v1::Series* s);
index::SeriesChunks DecodeSeriesChunks(const v1::Series& s);
Labels DecodeLabels(const v1::Series& s);

}  // namespace norn::indexgateway::internal
