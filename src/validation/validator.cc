#include "validation/validator.h"

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "common/strings.h"

namespace norn::validation {
namespace {

Rejection Invalid(std::string msg, std::string_view reason) {
  return Rejection{absl::InvalidArgumentError(std::move(msg)), reason};
}

// Labels with empty values are absent (Prometheus semantics); Loki drops them on parse.
Labels DropEmptyValues(Labels in) {
  bool any_empty = false;
  for (const auto& l : in) any_empty |= l.value.empty();
  if (!any_empty)
    return in;  // moved, not copied
  std::vector<Label> kept;
  for (const auto& l : in) {
    if (!l.value.empty()) kept.push_back(l);
  }
  return Labels(std::move(kept));
}

}  // namespace

std::string FormatTimestamp(int64_t timestamp_ns) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", absl::FromUnixNanos(timestamp_ns),
                          absl::UTCTimeZone());
}

std::string HumanBytes(uint64_t bytes) {
  // go-humanize's Bytes(): SI units with one decimal below 10 of a unit.
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  if (bytes < 10) return absl::StrCat(bytes, " B");
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1000 && unit < 6) {
    v /= 1000;
    ++unit;
  }
  return v < 10 ? absl::StrFormat("%.1f %s", v, kUnits[unit])
                : absl::StrFormat("%.0f %s", v, kUnits[unit]);
}

absl::StatusOr<Labels> ParseStreamLabels(std::string_view labels_text) {
  absl::StatusOr<Labels> parsed = ParseLabels(labels_text);
  if (!parsed.ok())
    return parsed.status();
  return DropEmptyValues(*std::move(parsed));
}

Rejection ValidateLabels(const config::TenantLimits& limits, std::string_view labels_text,
                         Labels* labels) {
  auto parsed = ParseStreamLabels(labels_text);
  if (!parsed.ok()) {
    if (absl::StrContains(parsed.status().message(), "duplicate label name")) {
      std::string_view msg = SV(parsed.status().message());
      std::string_view name = msg.substr(msg.rfind(' ') + 1);
      return Invalid(absl::StrCat("stream '", AV(labels_text), "' has duplicate label name: '",
                                  AV(name), "'"),
                     kDuplicateLabelNames);
    }
    return Invalid(absl::StrCat("Error parsing labels '", AV(labels_text),
                                "' with error: ", parsed.status().message()),
                   kInvalidLabels);
  }
  *labels = *std::move(parsed);
  return ValidateParsedLabels(limits, *labels, labels_text);
}

Rejection ValidateParsedLabels(const config::TenantLimits& limits, const Labels& labels,
                               std::string_view stream_text) {
  if (labels.empty()) {
    return Invalid("error at least one label pair is required per stream", kMissingLabels);
  }
  if (limits.max_label_names_per_series > 0 &&
      labels.size() > static_cast<size_t>(limits.max_label_names_per_series)) {
    return Invalid(absl::StrCat("entry for stream '", AV(stream_text), "' has ", labels.size(),
                                " label names; limit ", limits.max_label_names_per_series),
                   kMaxLabelNamesPerSeries);
  }
  for (const Label& l : labels) {
    if (!IsValidLabelName(l.name)) {
      return Invalid(absl::StrCat("Error parsing labels '", AV(stream_text),
                                  "' with error: invalid label name: ", l.name),
                     kInvalidLabels);
    }
    if (limits.max_label_name_length > 0 &&
        l.name.size() > static_cast<size_t>(limits.max_label_name_length)) {
      return Invalid(absl::StrCat("stream '", AV(stream_text), "' has label name too long: '",
                                  l.name, "'"),
                     kLabelNameTooLong);
    }
    if (limits.max_label_value_length > 0 &&
        l.value.size() > static_cast<size_t>(limits.max_label_value_length)) {
      return Invalid(absl::StrCat("stream '", AV(stream_text), "' has label value too long: '",
                                  l.value, "'"),
                     kLabelValueTooLong);
    }
  }
  return Rejection{absl::OkStatus(), ""};
}

Rejection ValidateEntry(const config::TenantLimits& limits, std::string_view stream_text,
                        int64_t timestamp_ns, size_t line_bytes,
                        std::span<const Label> structured_metadata, int64_t now_ns,
                        size_t* truncate_to) {
  *truncate_to = 0;
  if (limits.reject_old_samples) {
    int64_t oldest = now_ns - absl::ToInt64Nanoseconds(limits.reject_old_samples_max_age);
    if (timestamp_ns < oldest) {
      return Invalid(absl::StrCat("entry for stream '", AV(stream_text),
                                  "' has timestamp too old: ", FormatTimestamp(timestamp_ns),
                                  ", oldest acceptable timestamp is: ", FormatTimestamp(oldest)),
                     kGreaterThanMaxSampleAge);
    }
  }
  if (timestamp_ns > now_ns + absl::ToInt64Nanoseconds(limits.creation_grace_period)) {
    return Invalid(absl::StrCat("entry for stream '", AV(stream_text), "' has timestamp too new: ",
                                FormatTimestamp(timestamp_ns)),
                   kTooFarInFuture);
  }
  if (limits.max_line_size > 0 && line_bytes > limits.max_line_size) {
    if (limits.max_line_size_truncate) {
      *truncate_to = limits.max_line_size;
    } else {
      return Invalid(absl::StrCat("Max entry size '", limits.max_line_size,
                                  "' bytes exceeded for stream '", AV(stream_text),
                                  "' while adding an entry with length '", line_bytes, "' bytes"),
                     kLineTooLong);
    }
  }
  if (!structured_metadata.empty()) {
    if (!limits.allow_structured_metadata) {
      return Invalid(absl::StrCat("stream '", AV(stream_text),
                                  "' includes structured metadata, but this feature is "
                                  "disallowed. Please see `limits_config.allow_structured_metadata`"
                                  " or contact your administrator to enable it."),
                     kDisallowedStructuredMetadata);
    }
    size_t size = 0;
    for (const Label& l : structured_metadata) size += l.name.size() + l.value.size();
    if (limits.max_structured_metadata_size > 0 && size > limits.max_structured_metadata_size) {
      return Invalid(absl::StrCat("stream '", AV(stream_text),
                                  "' has structured metadata too large: '", size,
                                  "' bytes, limit: '", limits.max_structured_metadata_size,
                                  "' bytes. Please see "
                                  "`limits_config.max_structured_metadata_size` or contact your "
                                  "administrator to increase it."),
                     kStructuredMetadataTooLarge);
    }
    if (limits.max_structured_metadata_entries_count > 0 &&
        structured_metadata.size() >
            static_cast<size_t>(limits.max_structured_metadata_entries_count)) {
      return Invalid(absl::StrCat("stream '", AV(stream_text),
                                  "' has too many structured metadata labels: '",
                                  structured_metadata.size(), "', limit: '",
                                  limits.max_structured_metadata_entries_count,
                                  "'. Please see "
                                  "`limits_config.max_structured_metadata_entries_count` or "
                                  "contact your administrator to increase it."),
                     kStructuredMetadataTooMany);
    }
  }
  return Rejection{absl::OkStatus(), ""};
}

Rejection RateLimitedRejection(std::string_view tenant, double limit_bytes_per_sec, size_t lines,
                               size_t bytes) {
  return Rejection{
      absl::ResourceExhaustedError(absl::StrCat(
          "Ingestion rate limit exceeded for user ", AV(tenant), " (limit: ",
          static_cast<int64_t>(limit_bytes_per_sec), " bytes/sec) while attempting to ingest '",
          lines, "' lines totaling '", bytes,
          "' bytes, reduce log volume or contact your Loki administrator to see if the limit "
          "can be increased")),
      kRateLimited};
}

Rejection StreamLimitRejection(std::string_view tenant) {
  return Rejection{
      absl::ResourceExhaustedError(absl::StrCat(
          "Maximum active stream limit exceeded, reduce the number of active streams (reduce "
          "labels or reduce label values), or contact your Loki administrator to see if the "
          "limit can be increased, user: '",
          AV(tenant), "'")),
      kStreamLimit};
}

Rejection StreamRateLimitRejection(std::string_view stream_text, uint64_t limit_bytes_per_sec,
                                   size_t bytes) {
  return Rejection{
      absl::ResourceExhaustedError(absl::StrCat(
          "Per stream rate limit exceeded (limit: ", HumanBytes(limit_bytes_per_sec),
          "/sec) while attempting to ingest for stream '", AV(stream_text), "' totaling ",
          HumanBytes(bytes),
          ", consider splitting a stream via additional labels or contact your Loki "
          "administrator to see if the limit can be increased")),
      kStreamRateLimit};
}

void RecordDiscarded(std::string_view reason, std::string_view tenant, size_t lines,
                     size_t bytes) {
  static auto& samples = metrics::Registry::Default().Counter(
      "loki_discarded_samples_total", "The total number of samples that were discarded.",
      {"reason", "tenant"});
  static auto& discarded_bytes = metrics::Registry::Default().Counter(
      "loki_discarded_bytes_total", "The total number of bytes that were discarded.",
      {"reason", "tenant"});
  samples.WithLabels({reason, tenant}).Inc(static_cast<double>(lines));
  discarded_bytes.WithLabels({reason, tenant}).Inc(static_cast<double>(bytes));
}

}  // namespace norn::validation
