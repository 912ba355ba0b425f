// Distributor: the push front end. Decodes a push (Loki protobuf/JSON or OTLP), validates every
// stream and entry with Loki's rules and the tenant's limits, applies the tenant's ingestion rate
// limit, and hands the valid entries to the ingesters through IngesterClient (in this process in
// single-binary mode). Good entries of a partly bad batch are stored and the answer is a 400
// naming the first errors, as Loki does.
//
// Thread-safe: Push() runs concurrently on HTTP handler threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "distributor/labels_cache.h"
#include "ingester/ingester.h"
#include "loghttp/push_request.h"
#include "server/http/request.h"
#include "validation/rate_limiter.h"

namespace norn::distributor {

using LimitsProvider =
    std::function<std::shared_ptr<const config::TenantLimits>(std::string_view tenant)>;

class Distributor {
 public:
  Distributor(bool auth_enabled, LimitsProvider limits, ingester::IngesterClient* ingesters);

  // POST /loki/api/v1/push and /api/prom/push.
  void HandlePush(http::HttpRequest& req, http::HttpResponse& resp);
  // POST /otlp/v1/logs.
  void HandleOtlp(http::HttpRequest& req, http::HttpResponse& resp);

  // Validates and forwards a decoded request. OK, or the status to answer with (its code maps
  // to the HTTP status: 400, 429, 5xx).
  absl::Status Push(std::string_view tenant, const loghttp::PushRequest& request);

 private:
  // Label strings remembered: 7/8 of 2^18, the most a hash table of 2^18 slots holds before
  // it doubles (41 bytes per slot: 11 MB at most).
  static constexpr size_t kMaxKnownLabelStrings = (1 << 18) / 8 * 7;

  const bool auth_enabled_;
  LimitsProvider limits_;
  ingester::IngesterClient* ingesters_;
  validation::TenantRateLimiters rate_limiters_;
  LabelsCache labels_cache_{kMaxKnownLabelStrings};
};

}  // namespace norn::distributor
