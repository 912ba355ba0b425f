// Push validation with Loki's rules, HTTP statuses and message texts (pkg/validation in Loki):
// stream labels (missing, too many names, name/value too long, duplicate or invalid names) and
// entries (too old, too new, line too long, structured metadata size/count). Every rejection
// carries the `reason` label Loki uses in loki_discarded_samples_total / _bytes_total, which
// RecordDiscarded() increments.
//
// Stateless apart from metrics; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/labels.h"
#include "config/config.h"

namespace norn::validation {

// Reasons, as Loki names them.
inline constexpr std::string_view kMissingLabels = "missing_labels";
inline constexpr std::string_view kInvalidLabels = "invalid_labels";
inline constexpr std::string_view kMaxLabelNamesPerSeries = "max_label_names_per_series";
inline constexpr std::string_view kLabelNameTooLong = "label_name_too_long";
inline constexpr std::string_view kLabelValueTooLong = "label_value_too_long";
inline constexpr std::string_view kDuplicateLabelNames = "duplicate_label_names";
inline constexpr std::string_view kLineTooLong = "line_too_long";
inline constexpr std::string_view kGreaterThanMaxSampleAge = "greater_than_max_sample_age";
inline constexpr std::string_view kTooFarInFuture = "too_far_in_future";
inline constexpr std::string_view kRateLimited = "rate_limited";
inline constexpr std::string_view kStreamRateLimit = "per_stream_rate_limit";
inline constexpr std::string_view kStreamLimit = "stream_limit";
inline constexpr std::string_view kTooFarBehind = "too_far_behind";
inline constexpr std::string_view kDisallowedStructuredMetadata = "disallowed_structured_metadata";
inline constexpr std::string_view kStructuredMetadataTooLarge = "structured_metadata_too_large";
inline constexpr std::string_view kStructuredMetadataTooMany = "structured_metadata_too_many";

// A rejection: HTTP-mapped status (kInvalidArgument = 400, kResourceExhausted = 429) and the
// metrics reason.
struct Rejection {
  absl::Status status;
  std::string_view reason;
  bool ok() const { return status.ok(); }
};

// The label set a stream's label string names: parsed, with empty values dropped (they mean
// "no label", as in Loki). Errors are ParseLabels's.
absl::StatusOr<Labels> ParseStreamLabels(std::string_view labels_text);

// Parses and validates a stream's label string (`{a="b"}` as protobuf pushes send it) or checks
// already-built labels (JSON/OTLP pushes). On success `labels` holds the parsed set.
Rejection ValidateLabels(const config::TenantLimits& limits, std::string_view labels_text,
                         Labels* labels);
Rejection ValidateParsedLabels(const config::TenantLimits& limits, const Labels& labels,
                               std::string_view stream_text);

// Checks one entry of the stream whose label string is `stream_text`. When the line is too long
// and max_line_size_truncate is on, sets *truncate_to to the allowed size and accepts it.
Rejection ValidateEntry(const config::TenantLimits& limits, std::string_view stream_text,
                        int64_t timestamp_ns, size_t line_bytes,
                        std::span<const Label> structured_metadata, int64_t now_ns,
                        size_t* truncate_to);

// The 429 for a tenant over its ingestion rate (whole request rejected, as Loki does).
Rejection RateLimitedRejection(std::string_view tenant, double limit_bytes_per_sec, size_t lines,
                               size_t bytes);
// The 429 for a new stream over max_global_streams_per_user / max_streams_per_user.
Rejection StreamLimitRejection(std::string_view tenant);
// The 429 for entries over per_stream_rate_limit.
Rejection StreamRateLimitRejection(std::string_view stream_text, uint64_t limit_bytes_per_sec,
                                   size_t bytes);

// loki_discarded_samples_total{reason,tenant} += lines; loki_discarded_bytes_total += bytes.
void RecordDiscarded(std::string_view reason, std::string_view tenant, size_t lines, size_t bytes);

// RFC3339 with nanoseconds trimmed as Go's time.RFC3339Nano does, e.g. 2100-01-01T00:00:00Z.
std::string FormatTimestamp(int64_t timestamp_ns);
// Humanized bytes as Loki formats them in limit messages ("3.0 MB").
std::string HumanBytes(uint64_t bytes);

}  // namespace norn::validation
