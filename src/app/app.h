// App: one Norn process. Builds the module graph from the configuration (`target`), registers
// the process-wide HTTP endpoints (/ready, /metrics, /config, /services, /log_level,
// /loki/api/v1/status/buildinfo), starts the selected modules in dependency order and stops
// them in reverse when asked (SIGTERM/SIGINT via main, or RequestStop()).
//
// Lifecycle: construct with the loaded config, Run() blocks until stopped. RequestStop() is
// thread-safe and async-signal-safe (it only stores to an atomic).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "app/module_manager.h"
#include "config/config.h"

namespace norn::http {
class HttpServer;
}
namespace norn::grpcserver {
class GrpcServer;
}
namespace norn::config {
class RuntimeConfigManager;
}
namespace norn::indexgateway {
class StoreIndexClient;
}
namespace norn::cache {
class Cache;
}
namespace norn::ingester {
class Ingester;
}
namespace norn::distributor {
class Distributor;
}
namespace norn::objstore {
class ObjectClient;
}

namespace norn::app {

class App {
 public:
  explicit App(config::Config config);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Resolves targets, initialises and starts the modules, waits for a stop request, then stops
  // everything. Returns the first startup error, or OK after a clean shutdown.
  [[nodiscard]] absl::Status Run();
  void RequestStop() { stop_requested_.store(true); }
  // Also stop on SIGTERM/SIGINT, which main() blocks in every thread before creating any.
  void WatchSignals(bool watch) { watch_signals_ = watch; }

 private:
  class ServerService;
  class RuntimeConfigService;
  class StoreService;
  class IngesterService;
  class DistributorService;
  class QuerierService;
  class IndexGatewayService;

  void RegisterModules();
  void RegisterAdminRoutes();
  void RegisterIngesterRoutes();
  // The in-process index reader over the object store, shared by the querier and the index
  // gateway of this process (created on first use).
  std::shared_ptr<indexgateway::StoreIndexClient> LocalIndex();
  // chunk_store_config.chunk_cache_config, shared by the querier (reads) and the ingester
  // (write-back on flush); null when none is configured.
  absl::StatusOr<std::shared_ptr<cache::Cache>> ChunkCache();

  config::Config config_;
  ModuleManager modules_;
  std::atomic<bool> stop_requested_{false};
  bool watch_signals_ = false;

  // Created by the module factories; owned here so routes can reach them.
  http::HttpServer* http_ = nullptr;
  config::RuntimeConfigManager* runtime_config_ = nullptr;
  std::shared_ptr<objstore::ObjectClient> store_;
  ingester::Ingester* ingester_ = nullptr;
  grpcserver::GrpcServer* grpc_ = nullptr;
  StoreService* store_service_ = nullptr;
  std::shared_ptr<indexgateway::StoreIndexClient> local_index_;
  std::shared_ptr<cache::Cache> chunk_cache_;
  bool chunk_cache_created_ = false;
};

}  // namespace norn::app
