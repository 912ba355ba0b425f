#include "distributor/distributor.h"

#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/strings.h"
#include "loghttp/otlp.h"
#include "server/http/tenant.h"
#include "validation/validator.h"

namespace norn::distributor {
namespace {

constexpr size_t kMaxErrorsReported = 10;
constexpr double kBytesPerMB = 1024 * 1024;  // Loki's ingestion_rate_mb unit.
constexpr uint64_t kMaxOtlpDecompressedBytes = 100 << 20;

struct Metrics {
  metrics::CounterFamily& lines = metrics::Registry::Default().Counter(
      "loki_distributor_lines_received_total",
      "The total number of uncompressed lines received per tenant.", {"tenant"});
  metrics::CounterFamily& bytes = metrics::Registry::Default().Counter(
      "loki_distributor_bytes_received_total",
      "The total number of uncompressed bytes received per tenant.", {"tenant"});
  metrics::CounterFamily& metadata_bytes = metrics::Registry::Default().Counter(
      "loki_distributor_structured_metadata_bytes_received_total",
      "The total number of uncompressed structured metadata bytes received per tenant.",
      {"tenant"});
  metrics::CounterFamily& appends = metrics::Registry::Default().Counter(
      "loki_distributor_ingester_appends_total", "The total number of batch appends sent to ingesters.",
      {"ingester"});
  metrics::CounterFamily& append_failures = metrics::Registry::Default().Counter(
      "loki_distributor_ingester_append_failures_total",
      "The total number of failed batch appends sent to ingesters.", {"ingester"});
};

Metrics& M() {
  static Metrics* m = new Metrics();
  return *m;
}

// Whether a label set that passed validation once passes the tenant's current limits (which
// runtime overrides may have changed since); when not, the push validates it in full for
// Loki's message. The label names' grammar does not depend on limits.
bool Fits(const KnownLabels& k, const config::TenantLimits& limits) {
  auto within = [](uint32_t v, int limit) {
    return limit <= 0 || v <= static_cast<uint32_t>(limit);
  };
  return k.names > 0 && within(k.names, limits.max_label_names_per_series) &&
         within(k.longest_name, limits.max_label_name_length) &&
         within(k.longest_value, limits.max_label_value_length);
}

void WriteStatus(const absl::Status& st, http::HttpResponse& resp) {
  if (st.ok()) {
    resp.status = 204;
    resp.body.clear();
    return;
  }
  int code = http::HttpStatusFromStatus(st);
  if (code == 503 || code == 504 || code == 499) code = 500;  // Loki answers 5xx as 500 here.
  resp.Error(code, SV(st.message()));
}

}  // namespace

Distributor::Distributor(bool auth_enabled, LimitsProvider limits,
                         ingester::IngesterClient* ingesters)
    : auth_enabled_(auth_enabled), limits_(std::move(limits)), ingesters_(ingesters) {}

void Distributor::HandlePush(http::HttpRequest& req, http::HttpResponse& resp) {
  auto tenant = http::TenantFromRequest(req, auth_enabled_);
  if (!tenant.ok()) return WriteStatus(tenant.status(), resp);
  auto decoded = loghttp::DecodeLokiPush(req.Header("content-type"),
                                         req.Header("content-encoding"), req.body);
  if (!decoded.ok()) return WriteStatus(decoded.status(), resp);
  WriteStatus(Push(*tenant, *decoded), resp);
}

void Distributor::HandleOtlp(http::HttpRequest& req, http::HttpResponse& resp) {
  auto tenant = http::TenantFromRequest(req, auth_enabled_);
  if (!tenant.ok()) return WriteStatus(tenant.status(), resp);
  auto decoded = loghttp::DecodeOtlpLogs(req.Header("content-type"),
                                         req.Header("content-encoding"), std::move(req.body),
                                         loghttp::OtlpConfig::Default(),
                                         absl::GetCurrentTimeNanos(), kMaxOtlpDecompressedBytes);
  if (!decoded.ok()) return WriteStatus(decoded.status(), resp);
  WriteStatus(Push(*tenant, *decoded), resp);
}

absl::Status Distributor::Push(std::string_view tenant, const loghttp::PushRequest& request) {
  std::shared_ptr<const config::TenantLimits> limits = limits_(tenant);
  const int64_t now = absl::GetCurrentTimeNanos();
  M().lines.WithLabels({tenant}).Inc(static_cast<double>(request.entry_count()));
  M().bytes.WithLabels({tenant}).Inc(static_cast<double>(request.line_bytes()));
  if (request.structured_metadata_bytes() > 0) {
    M().metadata_bytes.WithLabels({tenant}).Inc(
        static_cast<double>(request.structured_metadata_bytes()));
  }

  // Storage for what the ingester sees; sized up front so spans into it stay valid.
  size_t total_entries = 0, total_metadata = 0;
  for (const auto& s : request.streams) {
    total_entries += s.entries.size();
    for (const auto& e : s.entries) total_metadata += e.structured_metadata.size();
  }
  // Label sets parsed by this push (streams whose label string was not known yet); reserved
  // so the pointers the batches take stay valid.
  std::vector<Labels> labels;
  labels.reserve(request.streams.size());
  // Label strings accepted before are checked against the tenant's current limits from what
  // the cache kept of them, without parsing.
  std::vector<LabelsCache::Key> keys(request.streams.size());
  for (size_t i = 0; i < request.streams.size(); ++i) {
    if (!request.streams[i].labels.has_value())
      keys[i] = LabelsCache::KeyOf(request.streams[i].labels_text);
  }
  std::vector<std::optional<KnownLabels>> known(request.streams.size());
  labels_cache_.FindAll(keys, known);
  std::vector<std::pair<LabelsCache::Key, KnownLabels>> learned;
  std::vector<wal::EntryView> entries;
  entries.reserve(total_entries);
  std::vector<wal::LabelView> metadata;
  metadata.reserve(total_metadata);
  std::vector<Label> metadata_owned;  // Validation wants owned pairs; reused per entry.
  struct Range {
    size_t begin, end;
  };
  // Per stream with accepted entries: its labels (null when known by their string), the
  // string, the fingerprint and the entries.
  struct Accepted {
    const Labels* labels;
    std::string_view text;
    Fingerprint fingerprint;
    Range range;
  };
  std::vector<Accepted> accepted;
  accepted.reserve(request.streams.size());

  std::vector<std::string> errors;
  size_t error_count = 0;
  absl::StatusCode error_code = absl::StatusCode::kInvalidArgument;
  size_t valid_bytes = 0;
  auto reject = [&](const validation::Rejection& r, size_t lines, size_t bytes) {
    validation::RecordDiscarded(r.reason, tenant, lines, bytes);
    ++error_count;
    if (errors.size() < kMaxErrorsReported) errors.emplace_back(r.status.message());
  };

  for (size_t i = 0; i < request.streams.size(); ++i) {
    const loghttp::PushStream& stream = request.streams[i];
    size_t stream_bytes = 0;
    for (const auto& e : stream.entries) stream_bytes += e.line.size();
    Labels parsed;
    std::string text_storage;
    std::string_view stream_text;
    validation::Rejection r;
    Fingerprint fingerprint = 0;
    // A known string: the ingester gets the text, not parsed labels.
    bool by_text = false;
    if (!stream.labels.has_value() && known[i].has_value() && Fits(*known[i], *limits)) {
      stream_text = stream.labels_text;
      fingerprint = known[i]->fingerprint;
      by_text = true;
    } else if (stream.labels.has_value()) {
      text_storage = stream.labels->ToString();
      stream_text = text_storage;
      parsed = *stream.labels;
      // Empty values mean "no label" (as Loki drops them).
      std::vector<Label> kept;
      for (const Label& l : parsed) {
        if (!l.value.empty()) kept.push_back(l);
      }
      if (kept.size() != parsed.size()) parsed = Labels(std::move(kept));
      r = validation::ValidateParsedLabels(*limits, parsed, stream_text);
      if (r.ok())
        fingerprint = parsed.Hash();
    } else {
      stream_text = stream.labels_text;
      r = validation::ValidateLabels(*limits, stream.labels_text, &parsed);
      if (r.ok()) {
        learned.emplace_back(keys[i], KnownLabels::Of(parsed));
        fingerprint = learned.back().second.fingerprint;
      }
    }
    if (!r.ok()) {
      reject(r, stream.entries.size(), stream_bytes);
      continue;
    }
    Range range{entries.size(), entries.size()};
    for (const auto& e : stream.entries) {
      metadata_owned.clear();
      for (const auto& m : e.structured_metadata) {
        metadata_owned.push_back(Label{std::string(m.name), std::string(m.value)});
      }
      size_t truncate_to = 0;
      auto er = validation::ValidateEntry(*limits, stream_text, e.timestamp_ns, e.line.size(),
                                          metadata_owned, now, &truncate_to);
      if (!er.ok()) {
        reject(er, 1, e.line.size());
        continue;
      }
      std::string_view line = truncate_to > 0 ? e.line.substr(0, truncate_to) : e.line;
      size_t md_begin = metadata.size();
      for (const auto& m : e.structured_metadata) metadata.push_back({m.name, m.value});
      entries.push_back(wal::EntryView{
          e.timestamp_ns, line,
          std::span<const wal::LabelView>(metadata.data() + md_begin, metadata.size() - md_begin)});
      valid_bytes += line.size();
    }
    range.end = entries.size();
    if (range.end > range.begin) {
      const Labels* parsed_labels = nullptr;  // by text: parsed by the ingester if it must
      if (!by_text) {
        labels.push_back(std::move(parsed));
        parsed_labels = &labels.back();
      }
      accepted.push_back(Accepted{parsed_labels, stream.labels_text, fingerprint, range});
    }
  }
  labels_cache_.InsertAll(learned);

  size_t valid_lines = entries.size();
  if (valid_lines > 0) {
    double rate = limits->ingestion_rate_mb * kBytesPerMB;
    double burst = limits->ingestion_burst_size_mb * kBytesPerMB;
    if (!rate_limiters_.AllowN(tenant, rate, burst, now,
                               static_cast<double>(valid_bytes))) {
      auto r = validation::RateLimitedRejection(tenant, rate, valid_lines, valid_bytes);
      validation::RecordDiscarded(r.reason, tenant, valid_lines, valid_bytes);
      return r.status;
    }
    std::vector<ingester::StreamBatch> batches;
    batches.reserve(accepted.size());
    for (const Accepted& a : accepted) {
      batches.push_back(
          ingester::StreamBatch{a.labels, a.fingerprint,
                                std::span<const wal::EntryView>(entries.data() + a.range.begin,
                                                                a.range.end - a.range.begin),
                                a.text});
    }
    M().appends.WithLabels({"local"}).Inc();
    absl::Status st = ingesters_->Push(tenant, batches);
    if (!st.ok()) {
      if (st.code() != absl::StatusCode::kInvalidArgument &&
          st.code() != absl::StatusCode::kResourceExhausted) {
        M().append_failures.WithLabels({"local"}).Inc();
        NORN_LOG(Warn).Msg("push to ingester failed").Kv("tenant", tenant).Err(st);
        return st;
      }
      ++error_count;
      if (errors.size() < kMaxErrorsReported) errors.emplace_back(st.message());
      if (st.code() == absl::StatusCode::kResourceExhausted) error_code = st.code();
    }
  }
  if (error_count == 0) return absl::OkStatus();
  std::string msg = absl::StrJoin(errors, "\n");
  if (error_count > errors.size()) {
    absl::StrAppend(&msg, "\n(and ", error_count - errors.size(), " more errors)");
  }
  return absl::Status(error_code, msg);
}

}  // namespace norn::distributor
