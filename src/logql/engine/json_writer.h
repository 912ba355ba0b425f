// Loki's JSON shapes for query results (/loki/api/v1/query and /query_range):
//
//   {"status":"success","data":{"resultType":"streams","result":[
//      {"stream":{"a":"b"},"values":[["<ts ns>","line"], ...]}, ...],"stats":{...}}}
//   matrix: {"metric":{...},"values":[[<seconds>,"<value>"], ...]}
//   vector: {"metric":{...},"value":[<seconds>,"<value>"]}
//   scalar: "result":[<seconds>,"<value>"]
//
// Timestamps of samples are seconds with millisecond precision ("1704067265.500"), values use
// Prometheus' formatting (strconv.FormatFloat 'f' -1, 'e' below 1e-6 or from 1e21 up; "NaN",
// "+Inf", "-Inf"). Strings are escaped like Go's encoding/json (invalid UTF-8 becomes U+FFFD,
// <, >, & as \u003c \u003e \u0026).
//
// The writer streams: it fills a buffer of about `chunk_bytes` and hands it to `write`, so a
// large result never exists as one string. Stateless functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "logql/engine/query.h"

namespace norn::logql_engine {

void WriteQueryResponse(const QueryResult& r, absl::FunctionRef<void(std::string_view)> write,
                        size_t chunk_bytes = 64 * 1024);
std::string RenderQueryResponse(const QueryResult& r);

// Building blocks (exposed for other JSON responses and tests).
void AppendPromValue(std::string* out, double v);          // "1.5", "NaN", "1e-07"
void AppendPromTimestamp(std::string* out, int64_t t_ms);  // 1704067265.5 -> "1704067265.500"
void AppendGoJsonString(std::string* out, std::string_view s);

}  // namespace norn::logql_engine
