#include "validation/rate_limiter.h"

#include <algorithm>

namespace norn::validation {

TokenBucket::TokenBucket(double rate_per_sec, double burst, int64_t now_ns)
    : rate_(rate_per_sec), burst_(burst), tokens_(burst), last_ns_(now_ns) {}

void TokenBucket::Refill(int64_t now_ns) {
  if (now_ns > last_ns_) {
    tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>(now_ns - last_ns_) / 1e9);
    last_ns_ = now_ns;
  }
}

double TokenBucket::Tokens(int64_t now_ns) {
  Refill(now_ns);
  return tokens_;
}

bool TokenBucket::AllowN(int64_t now_ns, double n) {
  Refill(now_ns);
  if (n > tokens_) return false;
  tokens_ -= n;
  return true;
}

void TokenBucket::SetLimits(double rate_per_sec, double burst, int64_t now_ns) {
  Refill(now_ns);
  rate_ = rate_per_sec;
  burst_ = burst;
  tokens_ = std::min(tokens_, burst_);
}

bool TenantRateLimiters::AllowN(std::string_view tenant, double rate_per_sec, double burst,
                                int64_t now_ns, double bytes) {
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(tenant);
  if (it == buckets_.end()) {
    it = buckets_.emplace(std::string(tenant),
                          std::make_unique<TokenBucket>(rate_per_sec, burst, now_ns))
             .first;
  } else if (it->second->rate() != rate_per_sec || it->second->burst() != burst) {
    it->second->SetLimits(rate_per_sec, burst, now_ns);
  }
  return it->second->AllowN(now_ns, bytes);
}

}  // namespace norn::validation
