// OTLP logs ingestion (`POST /otlp/v1/logs`): decodes an ExportLogsServiceRequest, as protobuf
// or OTLP/JSON, optionally zstd- or lz4-compressed, and maps it onto Loki streams the way Loki 3.x
// does with its default `otlp_config` (docs/otlp.md has the full mapping):
//   - resource attributes listed in OtlpConfig::index_label_attributes become stream labels,
//     names normalized (`k8s.pod.name` -> `k8s_pod_name`); `service_name` is discovered or set
//     to "unknown_service" when the resource has no `service.name`;
//   - every other resource attribute, scope attribute and log attribute becomes structured
//     metadata (maps flattened with `_`), plus severity_number, severity_text, trace_id,
//     span_id, flags, observed_timestamp, dropped_attributes_count, scope_name, scope_version;
//   - the body becomes the line (strings as-is, other values JSON-encoded as Loki does);
//   - the timestamp is time_unix_nano, else observed_time_unix_nano, else `now_ns`.
// Resources that map to the same label set share one stream.
//
// The result is an ordinary PushRequest (see push_request.h for ownership). Stateless functions;
// safe to call from many threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "loghttp/push_request.h"

namespace norn::loghttp {

struct OtlpConfig {
  // Resource attribute keys (exact, before normalization) stored as index labels. Loki's
  // `distributor.otlp_config.default_resource_attributes_as_index_labels`.
  std::vector<std::string> index_label_attributes;
  // When a resource has no non-empty `service.name`, the first index label (in attribute
  // order) whose normalized name is in this list supplies `service_name`; with none,
  // `service_name="unknown_service"`. Empty disables discovery. Loki's
  // `limits_config.discover_service_name`.
  std::vector<std::string> discover_service_name;

  // Loki 3.x defaults for both lists.
  static const OtlpConfig& Default();
};

// Decodes and maps a body for `POST /otlp/v1/logs`. `content_type` must be
// application/x-protobuf or application/json (parameters ignored); `content_encoding` may be
// empty/identity, zstd or lz4 (frame format); gzip/deflate are inflated by the HTTP server
// before this is called. `max_decompressed_bytes` bounds zstd/lz4 output (kResourceExhausted
// beyond). `now_ns` stamps records with neither timestamp.
absl::StatusOr<PushRequest> DecodeOtlpLogs(std::string_view content_type,
                                           std::string_view content_encoding, std::string body,
                                           const OtlpConfig& config, int64_t now_ns,
                                           uint64_t max_decompressed_bytes);

// The two payload forms, uncompressed. The protobuf decoder takes ownership of `body` so
// lines and attribute strings are views into it (no copies).
absl::StatusOr<PushRequest> DecodeOtlpProtobuf(std::string body, const OtlpConfig& config,
                                               int64_t now_ns);
absl::StatusOr<PushRequest> DecodeOtlpJson(std::string_view body, const OtlpConfig& config,
                                           int64_t now_ns);

namespace internal {
// Prometheus/otlptranslator NormalizeLabel: every rune outside [a-zA-Z0-9_] becomes '_', a
// leading digit gets "key_" prepended, a single leading '_' gets "key" prepended.
std::string NormalizeOtlpLabelName(std::string_view name);
// Go's JSON float format (ES6 number-to-string) used for double attributes and bodies.
void AppendGoFloat(std::string* out, double d);
}  // namespace internal

}  // namespace norn::loghttp
