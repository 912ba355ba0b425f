// Per-tenant limit overrides read from `runtime_config.file` and re-read every
// `runtime_config.period`, as Loki's runtime config. The file looks like
//
//   overrides:
//     tenant-a:
//       ingestion_rate_mb: 10
//       max_line_size: 512KB
//
// where each tenant block holds limits_config keys. Unknown keys are errors naming the tenant, the
// key and the line. A tenant's effective limits are limits_config with its block applied.
//
// Lifecycle: construct, Start() (loads the file once; an invalid file fails Start), then a
// background std::jthread polls the file and reloads when its content changes. A bad reload keeps
// the previous good overrides and logs an error. Stop() (or the destructor) joins the thread.
// All public methods are thread-safe; LimitsFor returns immutable snapshots.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "config/config.h"

namespace norn::config {

// tenant -> effective limits.
using TenantOverrides = absl::flat_hash_map<std::string, std::shared_ptr<const TenantLimits>>;

// Parses a runtime config file's text; each tenant block is applied on top of `defaults`.
absl::StatusOr<TenantOverrides> ParseRuntimeConfig(std::string_view yaml_text,
                                                   const LimitsConfig& defaults,
                                                   std::string_view source_name);

class RuntimeConfigManager {
 public:
  // Called after a reload that changed the overrides (on the polling thread, or in Reload()).
  using ChangeCallback = std::function<void()>;

  RuntimeConfigManager(RuntimeConfigConfig config, LimitsConfig defaults);
  ~RuntimeConfigManager();
  RuntimeConfigManager(const RuntimeConfigManager&) = delete;
  RuntimeConfigManager& operator=(const RuntimeConfigManager&) = delete;

  // Loads the file (if runtime_config.file is set) and starts polling. Fails if the file cannot be
  // read or is invalid.
  [[nodiscard]] absl::Status Start();
  // Stops polling; idempotent.
  [[nodiscard]] absl::Status Stop();
  // Re-reads the file now. On error the previous overrides stay in effect.
  [[nodiscard]] absl::Status Reload();

  // The tenant's effective limits (limits_config when the tenant has no overrides).
  std::shared_ptr<const TenantLimits> LimitsFor(std::string_view tenant) const;
  std::shared_ptr<const TenantLimits> DefaultLimits() const { return defaults_; }

  // The text of the last file that loaded successfully ("" when none), for /runtime_config.
  std::string CurrentContent() const;

  // Replaces the change callback.
  void SetChangeCallback(ChangeCallback callback);

 private:
  void Poll(std::stop_token stop);

  const RuntimeConfigConfig config_;
  const std::shared_ptr<const TenantLimits> defaults_;

  mutable std::mutex mu_;
  std::shared_ptr<const TenantOverrides> overrides_;  // guarded by mu_
  std::string content_;                               // guarded by mu_
  ChangeCallback callback_;                           // guarded by mu_

  std::mutex reload_mu_;  // serializes Reload()
  std::mutex wait_mu_;
  std::condition_variable_any wake_;
  std::jthread poller_;
};

}  // namespace norn::config
