// TokenBucket: the rate limiter behind Loki's ingestion_rate_mb / ingestion_burst_size_mb and
// per_stream_rate_limit(_burst). Tokens are bytes; the bucket refills at `rate` bytes/second up
// to `burst` bytes. AllowN either takes n tokens or takes none (Loki's rate.Limiter.AllowN).
//
// TenantRateLimiters: one bucket per tenant, created on first use, whose rate and burst follow
// the tenant's current limits (runtime overrides change them without a restart).
//
// Thread-safety: TokenBucket is not thread-safe (callers hold their own lock);
// TenantRateLimiters is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "common/strings.h"

namespace norn::validation {

class TokenBucket {
 public:
  TokenBucket(double rate_per_sec, double burst, int64_t now_ns);

  // Takes n tokens if available. A request larger than the burst never fits.
  bool AllowN(int64_t now_ns, double n);
  // Changes rate/burst keeping the current fill (clipped to the new burst).
  void SetLimits(double rate_per_sec, double burst, int64_t now_ns);
  double rate() const { return rate_; }
  double burst() const { return burst_; }
  double Tokens(int64_t now_ns);

 private:
  void Refill(int64_t now_ns);
  double rate_;
  double burst_;
  double tokens_;
  int64_t last_ns_;
};

class TenantRateLimiters {
 public:
  // Returns whether `bytes` fit in the tenant's bucket, configuring the bucket with the given
  // limits first (cheap when unchanged).
  bool AllowN(std::string_view tenant, double rate_per_sec, double burst, int64_t now_ns,
              double bytes);

 private:
  absl::Mutex mu_;
  StringMap<std::unique_ptr<TokenBucket>> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace norn::validation
