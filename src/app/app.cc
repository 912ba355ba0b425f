#include "app/app.h"

#include <signal.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cache/cache.h"
#include "common/build_info.h"
#include "common/json.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/status.h"
#include "common/strings.h"
#include "config/runtime_config.h"
#include "distributor/distributor.h"
#include "ingester/ingester.h"
#include "indexgateway/caching_index_client.h"
#include "indexgateway/grpc_service.h"
#include "indexgateway/store_index_client.h"
#include "querier/drilldown_api.h"
#include "querier/http_api.h"
#include "querier/query_api.h"
#include "querier/patterns_api.h"
#include "querier/querier.h"
#include "querier/tail.h"
#include "storage/objstore/filesystem.h"
#include "storage/objstore/s3.h"
#include "server/grpc/grpc_server.h"
#include "server/http/server.h"

namespace norn::app {

using http::HttpRequest;
using http::HttpResponse;
using http::Method;

// The HTTP and gRPC servers as one module: every other module depends on it, so it starts
// first (routes are all registered by then) and stops last (in-flight requests finish).
class App::ServerService : public Service {
 public:
  ServerService(const config::ServerConfig& cfg)
      : grace_(cfg.graceful_shutdown_timeout),
        http_(HttpOptions(cfg), metrics::Registry::Default()),
        grpc_(GrpcOptions(cfg)) {}

  http::HttpServer& http() { return http_; }
  grpcserver::GrpcServer& grpc() { return grpc_; }

  absl::Status Start() override {
    RETURN_IF_ERROR(http_.Start());
    absl::Status st = grpc_.Start();
    if (!st.ok()) {
      http_.Shutdown(absl::ZeroDuration());
      return st;
    }
    NORN_LOG(Info)
        .Msg("server listening on addresses")
        .Kv("http", absl::StrCat(http_options_address_, ":", http_.port()))
        .Kv("grpc", absl::StrCat(grpc_options_address_, ":", grpc_.port()));
    grpc_.SetServing(true);
    return absl::OkStatus();
  }

  void Stop() override {
    grpc_.SetServing(false);
    absl::Time start = absl::Now();
    http_.Shutdown(grace_);
    absl::Duration left = grace_ - (absl::Now() - start);
    grpc_.Shutdown(left > absl::ZeroDuration() ? left : absl::ZeroDuration());
  }

 private:
  http::ServerOptions HttpOptions(const config::ServerConfig& cfg) {
    http::ServerOptions o;
    o.address = cfg.http_listen_address;
    o.port = static_cast<uint16_t>(cfg.http_listen_port);
    o.read_timeout = cfg.http_server_read_timeout;
    o.write_timeout = cfg.http_server_write_timeout;
    o.idle_timeout = cfg.http_server_idle_timeout;
    o.max_request_body_bytes = cfg.http_server_max_request_body_bytes;
    http_options_address_ = cfg.http_listen_address.empty() ? "[::]" : cfg.http_listen_address;
    return o;
  }
  grpcserver::GrpcServerOptions GrpcOptions(const config::ServerConfig& cfg) {
    grpcserver::GrpcServerOptions o;
    o.address = cfg.grpc_listen_address;
    o.port = static_cast<uint16_t>(cfg.grpc_listen_port);
    o.max_recv_message_bytes = cfg.grpc_server_max_recv_msg_size;
    o.max_send_message_bytes = cfg.grpc_server_max_send_msg_size;
    o.max_concurrent_streams = cfg.grpc_server_max_concurrent_streams;
    grpc_options_address_ = cfg.grpc_listen_address.empty() ? "[::]" : cfg.grpc_listen_address;
    return o;
  }

  absl::Duration grace_;
  std::string http_options_address_;
  std::string grpc_options_address_;
  http::HttpServer http_;
  grpcserver::GrpcServer grpc_;
};

// Per-tenant overrides from runtime_config.file, reloaded periodically.
class App::RuntimeConfigService : public Service {
 public:
  RuntimeConfigService(const config::Config& cfg)
      : manager_(cfg.runtime_config, cfg.limits_config) {}
  config::RuntimeConfigManager& manager() { return manager_; }
  absl::Status Start() override { return manager_.Start(); }
  void Stop() override { manager_.Stop().IgnoreError(); }

 private:
  config::RuntimeConfigManager manager_;
};

// The object store chunks and index files go to (filesystem or S3, see NewObjectStore). A probe
// checks every 15 s that the store answers, for the `norn_object_store_reachable` gauge and for
// /ready of processes that only read (a querier or index gateway without its store can answer
// nothing). Writers stay ready while the store is down: the WAL and the ingester keep every
// acknowledged line until a flush succeeds, which the flush-failure metrics show.
class App::StoreService : public Service {
 public:
  explicit StoreService(std::shared_ptr<objstore::ObjectClient> client) : client_(std::move(client)) {}
  absl::Status Start() override {
    Probe();
    prober_ = std::thread([this] {
      std::unique_lock lock(mu_);
      while (!stopping_) {
        cv_.wait_for(lock, std::chrono::seconds(15));
        if (stopping_) break;
        lock.unlock();
        Probe();
        lock.lock();
      }
    });
    return absl::OkStatus();
  }
  void Stop() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (prober_.joinable()) prober_.join();
  }
  // OK, or the last probe's error.
  absl::Status Health() {
    std::lock_guard lock(mu_);
    return health_;
  }

 private:
  void Probe() {
    // A HEAD of a key that never exists: NotFound proves the store answers and that we may read.
    absl::Status st = client_->Head("norn-reachability-probe").status();
    if (absl::IsNotFound(st)) st = absl::OkStatus();
    static auto& up = metrics::Registry::Default()
                          .Gauge("norn_object_store_reachable",
                                 "1 when the last probe of the object store succeeded.", {})
                          .WithLabels({});
    up.Set(st.ok() ? 1 : 0);
    std::lock_guard lock(mu_);
    if (!st.ok() && health_.ok()) {
      NORN_LOG(Error).Msg("object store unreachable").Kv("store", client_->Name())
          .Kv("err", st.ToString());
    }
    health_ = st;
  }

  std::shared_ptr<objstore::ObjectClient> client_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  absl::Status health_;
  std::thread prober_;
};

class App::IngesterService : public Service {
 public:
  explicit IngesterService(std::unique_ptr<ingester::Ingester> ingester)
      : ingester_(std::move(ingester)) {}
  ingester::Ingester& ingester() { return *ingester_; }
  absl::Status Start() override { return ingester_->Start(); }
  void Stop() override { ingester_->Stop(); }

 private:
  std::unique_ptr<ingester::Ingester> ingester_;
};

class App::DistributorService : public Service {
 public:
  explicit DistributorService(std::unique_ptr<distributor::Distributor> d) : d_(std::move(d)) {}
  distributor::Distributor& distributor() { return *d_; }
  absl::Status Start() override { return absl::OkStatus(); }
  void Stop() override {}

 private:
  std::unique_ptr<distributor::Distributor> d_;
};

// Index look-ups from the index files in object storage: served over gRPC to remote queriers
// and used in-process by a querier of the same process.
class App::IndexGatewayService : public Service {
 public:
  explicit IndexGatewayService(std::shared_ptr<indexgateway::StoreIndexClient> index)
      : index_(std::move(index)), grpc_service_(index_.get()) {}
  indexgateway::IndexGatewayService& grpc_service() { return grpc_service_; }
  absl::Status Start() override { return absl::OkStatus(); }
  void Stop() override {}

 private:
  std::shared_ptr<indexgateway::StoreIndexClient> index_;
  indexgateway::IndexGatewayService grpc_service_;
};

class App::QuerierService : public Service {
 public:
  explicit QuerierService(std::unique_ptr<querier::Querier> q) : q_(std::move(q)) {}
  absl::Status Start() override { return absl::OkStatus(); }
  void Stop() override {}

 private:
  std::unique_ptr<querier::Querier> q_;
};

namespace {

// The object store of the newest schema period (Loki picks per period; Norn writes to the
// newest and, having one backend per process, reads every period from it too).
absl::StatusOr<std::shared_ptr<objstore::ObjectClient>> NewObjectStore(const config::Config& c) {
  std::string kind = "filesystem";
  if (!c.schema_config.configs.empty()) kind = c.schema_config.configs.back().object_store;
  if (kind == "s3" || kind == "aws") {
    const config::S3Config& a = c.storage_config.aws;
    objstore::S3Options o;
    if (!a.s3.empty()) {
      absl::Status st = objstore::ApplyS3Url(a.s3, o);
      if (!st.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("storage_config.aws.s3: ", st.message()));
      }
    }
    if (!a.bucketnames.empty()) o.bucket_names = objstore::ParseBucketNames(a.bucketnames);
    if (!a.endpoint.empty()) o.endpoint = a.endpoint;
    if (!a.region.empty()) o.region = a.region;
    if (!a.access_key_id.empty()) o.access_key_id = a.access_key_id;
    if (!a.secret_access_key.empty()) o.secret_access_key = a.secret_access_key;
    if (!a.session_token.empty()) o.session_token = a.session_token;
    o.s3forcepathstyle = o.s3forcepathstyle || a.s3forcepathstyle;
    o.insecure = o.insecure || a.insecure;
    o.storage_class = a.storage_class;
    o.http_config.idle_conn_timeout = a.http_config.idle_conn_timeout;
    o.http_config.response_header_timeout = a.http_config.response_header_timeout;
    o.http_config.insecure_skip_verify = a.http_config.insecure_skip_verify;
    o.http_config.ca_file = a.http_config.ca_file;
    o.backoff_config.min_period = a.backoff_config.min_period;
    o.backoff_config.max_period = a.backoff_config.max_period;
    o.backoff_config.max_retries = a.backoff_config.max_retries;
    o.sse.type = a.sse.type;
    o.sse.kms_key_id = a.sse.kms_key_id;
    o.sse.kms_encryption_context = a.sse.kms_encryption_context;
    if (o.bucket_names.empty()) {
      return absl::InvalidArgumentError(
          "storage_config.aws: no bucket (set bucketnames or an s3:// URL with the bucket)");
    }
    auto client = objstore::S3ObjectClient::Create(std::move(o));
    if (!client.ok()) {
      return absl::Status(client.status().code(),
                          absl::StrCat("storage_config.aws: ", client.status().message()));
    }
    return std::shared_ptr<objstore::ObjectClient>(std::move(*client));
  }
  if (kind == "inmemory") {
    return absl::InvalidArgumentError(
        "schema_config object_store \"inmemory\" is not supported; use filesystem");
  }
  std::string root = c.storage_config.filesystem.directory;
  if (root.empty()) root = c.common.storage.filesystem.chunks_directory;
  if (root.empty()) root = c.common.path_prefix + "/chunks";
  auto client = objstore::FilesystemObjectClient::Open(root);
  if (!client.ok()) return client.status();
  return std::shared_ptr<objstore::ObjectClient>(std::move(*client));
}

// A cache from a Loki cache block, or null when the block configures none.
absl::StatusOr<std::unique_ptr<cache::Cache>> NewCacheFor(const config::CacheConfig& block,
                                                          std::string name,
                                                          std::string_view key) {
  auto c = cache::NewCache(cache::CacheConfigFrom(block), std::move(name));
  if (!c.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(AV(key), ": ", c.status().message()));
  }
  return c;
}

}  // namespace

App::App(config::Config config) : config_(std::move(config)) { RegisterModules(); }

App::~App() = default;

void App::RegisterModules() {
  modules_.Register(ModuleDef{
      .name = "server",
      .deps = {},
      .user_visible = false,
      .implemented = true,
      .factory = [this]() -> absl::StatusOr<std::unique_ptr<Service>> {
        auto svc = std::make_unique<ServerService>(config_.server);
        http_ = &svc->http();
        grpc_ = &svc->grpc();
        RegisterAdminRoutes();
        return svc;
      }});
  modules_.Register(ModuleDef{
      .name = "runtime-config",
      .deps = {"server"},
      .user_visible = false,
      .implemented = true,
      .factory = [this]() -> absl::StatusOr<std::unique_ptr<Service>> {
        auto svc = std::make_unique<RuntimeConfigService>(config_);
        runtime_config_ = &svc->manager();
        return svc;
      }});

  modules_.Register(ModuleDef{
      .name = "store",
      .deps = {},
      .user_visible = false,
      .implemented = true,
      .factory = [this]() -> absl::StatusOr<std::unique_ptr<Service>> {
        ASSIGN_OR_RETURN(store_, NewObjectStore(config_));
        auto svc = std::make_unique<StoreService>(store_);
        store_service_ = svc.get();
        return svc;
      }});
  modules_.Register(ModuleDef{
      .name = "ingester",
      .deps = {"server", "runtime-config", "store"},
      .user_visible = true,
      .implemented = true,
      .factory = [this]() -> absl::StatusOr<std::unique_ptr<Service>> {
        ASSIGN_OR_RETURN(auto options, ingester::IngesterOptions::FromConfig(config_));
        ASSIGN_OR_RETURN(options.write_dedupe_cache,
                         NewCacheFor(config_.chunk_store_config.write_dedupe_cache_config,
                                     "write-dedupe",
                                     "chunk_store_config.write_dedupe_cache_config"));
        ASSIGN_OR_RETURN(options.chunk_cache, ChunkCache());
        auto* rc = runtime_config_;
        auto ing = std::make_unique<ingester::Ingester>(
            std::move(options), store_,
            [rc](std::string_view tenant) { return rc->LimitsFor(tenant); });
        auto svc = std::make_unique<IngesterService>(std::move(ing));
        ingester_ = &svc->ingester();
        RegisterIngesterRoutes();
        return svc;
      }});
  modules_.Register(ModuleDef{
      .name = "distributor",
      // In one process the distributor writes to the local ingester; the gRPC ingester client
      // (separate processes) comes with the cluster work.
      .deps = {"server", "runtime-config", "ingester"},
      .user_visible = true,
      .implemented = true,
      .factory = [this]() -> absl::StatusOr<std::unique_ptr<Service>> {
        auto* rc = runtime_config_;
        auto d = std::make_unique<distributor::Distributor>(
            config_.auth_enabled, [rc](std::string_view tenant) { return rc->LimitsFor(tenant); },
            ingester_);
        auto svc = std::make_unique<DistributorService>(std::move(d));
        distributor::Distributor* dist = &svc->distributor();
        http::Router& router = http_->router();
        const std::string& prefix = config_.server.http_path_prefix;
        for (const char* path : {"/loki/api/v1/push", "/api/prom/push"}) {
          router.Handle({Method::kPost}, absl::StrCat(prefix, path),
                        [dist](HttpRequest& req, HttpResponse& resp) { dist->HandlePush(req, resp); });
        }
        router.Handle({Method::kPost}, absl::StrCat(prefix, "/otlp/v1/logs"),
                      [dist](HttpRequest& req, HttpResponse& resp) { dist->HandleOtlp(req, resp); });
        return svc;
      }});

  modules_.Register(ModuleDef{
      .name = "querier",
      // Reads recent data from the in-process ingester; the gRPC ingester client for separate
      // processes comes with the cluster work.
      .deps = {"server", "runtime-config", "store", "ingester"},
      .user_visible = true,
      .implemented = true,
      .factory = [this]() -> absl::StatusOr<std::unique_ptr<Service>> {
        querier::QuerierOptions o;
        if (!config_.schema_config.configs.empty()) {
          o.index_prefix = config_.schema_config.configs.back().index.prefix;
        }
        o.query_ingesters_within_ns =
            absl::ToInt64Nanoseconds(config_.querier.query_ingesters_within);
        o.query_store_only = config_.querier.query_store_only;
        o.query_ingester_only = config_.querier.query_ingester_only;
        std::shared_ptr<indexgateway::IndexClient> index;
        const auto& gw = config_.storage_config.tsdb_shipper.index_gateway_client;
        if (!gw.server_address.empty()) {
          indexgateway::RemoteIndexOptions ro;
          ro.server_address = gw.server_address;
          ro.max_recv_message_bytes = config_.server.grpc_server_max_recv_msg_size;
          ASSIGN_OR_RETURN(index, indexgateway::RemoteIndexClient::Create(ro));
        } else {
          index = LocalIndex();
        }
        ASSIGN_OR_RETURN(std::shared_ptr<cache::Cache> index_cache,
                         NewCacheFor(config_.storage_config.index_queries_cache_config,
                                     "index-queries", "storage_config.index_queries_cache_config"));
        if (index_cache != nullptr) {
          // Ranges newer than this may still gain index files; the ingesters answer for them.
          absl::Duration freshness = std::max(config_.chunk_store_config.cache_lookups_older_than,
                                              config_.querier.query_ingesters_within);
          index = std::make_shared<indexgateway::CachingIndexClient>(
              std::move(index), std::move(index_cache), freshness);
        }
        o.max_parallel_get_chunk = config_.storage_config.max_parallel_get_chunk;
        o.multi_tenant_queries_enabled = config_.querier.multi_tenant_queries_enabled;
        o.chunk_index_cache_mb = config_.querier.chunk_index_cache_size_mb;
        ASSIGN_OR_RETURN(auto chunk_cache, ChunkCache());
        auto q = std::make_unique<querier::Querier>(o, ingester_, std::move(index), store_,
                                                    std::move(chunk_cache));
        querier::RegisterMetadataRoutes(http_->router(), config_.server.http_path_prefix, q.get(),
                                        config_.auth_enabled);
        auto* rc = runtime_config_;
        querier::RegisterQueryRoutes(
            http_->router(), config_.server.http_path_prefix, q.get(), config_.auth_enabled,
            [rc](std::string_view tenant) { return rc->LimitsFor(tenant); });
        querier::RegisterPatternRoutes(http_->router(), config_.server.http_path_prefix, q.get(),
                                       config_.auth_enabled);
        querier::RegisterDrilldownRoutes(
            http_->router(), config_.server.http_path_prefix, q.get(), config_.auth_enabled,
            [rc](std::string_view tenant) { return rc->LimitsFor(tenant); });
        querier::RegisterTailRoutes(
            http_->router(), config_.server.http_path_prefix, q.get(), config_.auth_enabled,
            [rc](std::string_view tenant) { return rc->LimitsFor(tenant); });
        return std::make_unique<QuerierService>(std::move(q));
      }});

  modules_.Register(ModuleDef{
      .name = "index-gateway",
      .deps = {"server", "runtime-config", "store"},
      .user_visible = true,
      .implemented = true,
      .factory = [this]() -> absl::StatusOr<std::unique_ptr<Service>> {
        auto svc = std::make_unique<IndexGatewayService>(LocalIndex());
        grpc_->RegisterService(&svc->grpc_service());
        return svc;
      }});

  // Components whose implementation lands with later work. Their dependencies are declared
  // now, as in Loki's module graph, so targets and groups already resolve the final way.
  struct Pending {
    const char* name;
    std::vector<std::string> deps;
  };
  const std::vector<Pending> pending = {
      {"query-frontend", {"server", "runtime-config"}},
      {"query-scheduler", {"server", "runtime-config"}},
      {"compactor", {"server", "runtime-config"}},
      {"ruler", {"server", "runtime-config"}},
  };
  for (const auto& p : pending) {
    modules_.Register(ModuleDef{.name = p.name,
                                .deps = p.deps,
                                .user_visible = true,
                                .implemented = false,
                                .factory = nullptr});
  }
  // `all` includes the internal modules so the process serves its admin endpoints even before
  // every component exists; the scalable-mode groups are strict (see ModuleManager).
  modules_.RegisterGroup("all",
                         {"server", "runtime-config", "distributor", "ingester", "querier",
                          "query-frontend", "query-scheduler", "index-gateway", "compactor",
                          "ruler"},
                         /*lenient=*/true);
  modules_.RegisterGroup("read", {"querier", "query-frontend"}, /*lenient=*/false);
  modules_.RegisterGroup("write", {"distributor", "ingester"}, /*lenient=*/false);
  modules_.RegisterGroup("backend", {"query-scheduler", "index-gateway", "compactor", "ruler"},
                         /*lenient=*/false);
}

absl::StatusOr<std::shared_ptr<cache::Cache>> App::ChunkCache() {
  if (!chunk_cache_created_) {
    ASSIGN_OR_RETURN(chunk_cache_, NewCacheFor(config_.chunk_store_config.chunk_cache_config,
                                               "chunks", "chunk_store_config.chunk_cache_config"));
    chunk_cache_created_ = true;
  }
  return chunk_cache_;
}

std::shared_ptr<indexgateway::StoreIndexClient> App::LocalIndex() {
  if (local_index_ == nullptr) {
    indexgateway::StoreIndexOptions o;
    if (!config_.schema_config.configs.empty()) {
      o.index_prefix = config_.schema_config.configs.back().index.prefix;
    }
    o.cache_location = config_.storage_config.tsdb_shipper.cache_location;
    o.cache_ttl = config_.storage_config.tsdb_shipper.cache_ttl;
    local_index_ = std::make_shared<indexgateway::StoreIndexClient>(o, store_);
  }
  return local_index_;
}

void App::RegisterIngesterRoutes() {
  http::Router& router = http_->router();
  const std::string& prefix = config_.server.http_path_prefix;
  // Loki's /flush: every in-memory chunk to the store now.
  router.Handle({Method::kPost, Method::kGet}, absl::StrCat(prefix, "/flush"),
                [this](HttpRequest&, HttpResponse& resp) {
                  absl::Status st = ingester_->FlushAll();
                  if (!st.ok()) {
                    resp.Error(500, absl::StrCat("flush failed: ", st.message()));
                    return;
                  }
                  resp.status = 204;
                });
  // Loki's /ingester/shutdown: flush everything, then stop the process (terminate=false keeps
  // it running, flush=false skips the flush and leaves the data in the WAL).
  router.Handle({Method::kPost, Method::kGet}, absl::StrCat(prefix, "/ingester/shutdown"),
                [this](HttpRequest& req, HttpResponse& resp) {
                  if (req.Param("flush", "true") != "false") {
                    absl::Status st = ingester_->FlushAll();
                    if (!st.ok()) {
                      resp.Error(500, absl::StrCat("flush failed: ", st.message()));
                      return;
                    }
                  }
                  if (req.Param("terminate", "true") != "false") RequestStop();
                  resp.status = 204;
                });
}

void App::RegisterAdminRoutes() {
  http::Router& router = http_->router();
  const std::string prefix = config_.server.http_path_prefix;
  auto path = [&](std::string_view p) { return absl::StrCat(prefix, AV(p)); };

  router.Handle({Method::kGet}, path("/ready"), [this](HttpRequest&, HttpResponse& resp) {
    std::vector<std::string> waiting = modules_.NotRunning();
    if (waiting.empty() && !stop_requested_.load() && store_service_ != nullptr &&
        ingester_ == nullptr) {
      absl::Status st = store_service_->Health();
      if (!st.ok()) {
        resp.Text(503, absl::StrCat("object store unreachable: ", st.message(), "\n"));
        return;
      }
    }
    if (waiting.empty() && !stop_requested_.load()) {
      resp.Text(200, "ready\n");
      return;
    }
    std::string body = "Some services are not Running:\n";
    std::map<std::string, std::vector<std::string>> by_state;
    for (const auto& m : waiting) by_state[std::string(ModuleStateName(modules_.State(m)))].push_back(m);
    for (const auto& [state, names] : by_state) {
      absl::StrAppend(&body, state, ": ", names.size(), " (", absl::StrJoin(names, ", "), ")\n");
    }
    if (waiting.empty()) body = "Shutting down\n";
    resp.Text(503, body);
  });

  router.Handle({Method::kGet}, path("/metrics"), [](HttpRequest&, HttpResponse& resp) {
    resp.status = 200;
    resp.content_type = std::string(metrics::kContentType);
    resp.body = metrics::Registry::Default().Render();
  });

  router.Handle({Method::kGet}, path("/config"), [this](HttpRequest& req, HttpResponse& resp) {
    std::string_view mode = req.Param("mode");
    config::DumpMode dump_mode = config::DumpMode::kAll;
    if (mode == "diff") {
      dump_mode = config::DumpMode::kDiff;
    } else if (mode == "defaults") {
      dump_mode = config::DumpMode::kDefaults;
    } else if (!mode.empty()) {
      resp.Error(400, absl::StrCat("unknown value for mode query parameter: \"", AV(mode),
                                   "\" (valid: diff, defaults)"));
      return;
    }
    resp.status = 200;
    resp.content_type = "text/plain; charset=utf-8";
    resp.body = config::DumpYaml(config_, dump_mode);
  });

  // The overrides file as last loaded successfully (a bad edit is not shown: it is not in force).
  router.Handle({Method::kGet}, path("/runtime_config"), [this](HttpRequest&, HttpResponse& resp) {
    std::string body = runtime_config_ != nullptr ? runtime_config_->CurrentContent() : "";
    resp.status = 200;
    resp.content_type = "text/plain; charset=utf-8";
    resp.body = body.empty() ? "overrides: {}\n" : std::move(body);
  });

  router.Handle({Method::kGet}, path("/services"), [this](HttpRequest&, HttpResponse& resp) {
    resp.Text(200, modules_.ServicesText());
  });

  router.Handle({Method::kGet}, path("/loki/api/v1/status/buildinfo"),
                [](HttpRequest&, HttpResponse& resp) {
                  std::string body = "{";
                  auto field = [&](std::string_view k, std::string_view v, bool last = false) {
                    AppendJsonString(&body, k);
                    body.push_back(':');
                    AppendJsonString(&body, v);
                    if (!last) body.push_back(',');
                  };
                  field("version", build_info::Version());
                  field("revision", build_info::Revision());
                  field("branch", build_info::Branch());
                  field("buildUser", "");
                  field("buildDate", build_info::BuildDate());
                  field("goVersion", build_info::Compiler(), /*last=*/true);
                  body.push_back('}');
                  resp.Json(200, std::move(body));
                });

  // Loki's /log_level: GET reports the level, POST log_level=<level> (form or query) sets it.
  router.Handle({Method::kGet, Method::kPost}, path("/log_level"),
                [](HttpRequest& req, HttpResponse& resp) {
                  auto message = [&](int code, std::string msg) {
                    resp.Json(code, absl::StrCat("{\"message\":", JsonString(msg), "}"));
                  };
                  if (req.method == Method::kGet) {
                    message(200, absl::StrCat("Current log level is ",
                                              AV(log::LevelName(log::GetLevel()))));
                    return;
                  }
                  std::string_view wanted = req.Param("log_level");
                  auto level = log::ParseLevel(wanted);
                  if (!level.ok()) {
                    message(400, std::string(level.status().message()));
                    return;
                  }
                  log::SetLevel(*level);
                  message(200, absl::StrCat("Log level set to ", AV(log::LevelName(*level))));
                });

  router.Handle({Method::kGet}, path("/"), [this](HttpRequest&, HttpResponse& resp) {
    std::string body = "Norn: a Loki-compatible log store.\n\nAdmin endpoints:\n";
    for (const auto& r : http_->router().routes()) absl::StrAppend(&body, "  ", r->pattern, "\n");
    resp.Text(200, std::move(body));
  });
}

absl::Status App::Run() {
  NORN_LOG(Info)
      .Msg("Starting Norn")
      .Kv("version", build_info::Version())
      .Kv("revision", build_info::Revision())
      .Kv("target", config_.target);
  ASSIGN_OR_RETURN(std::vector<std::string> order, modules_.Resolve(config_.target));
  RETURN_IF_ERROR(modules_.Init(order));
  RETURN_IF_ERROR(modules_.Start());
  NORN_LOG(Info).Msg("Norn started").Kv("modules", absl::StrJoin(order, ","));

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  while (!stop_requested_.load()) {
    if (watch_signals_) {
      timespec timeout{0, 100'000'000};
      int sig = sigtimedwait(&signals, nullptr, &timeout);
      if (sig == SIGTERM || sig == SIGINT) {
        NORN_LOG(Info).Msg("received signal, shutting down").Kv("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        stop_requested_.store(true);
      }
    } else {
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  NORN_LOG(Info).Msg("stopping modules").Kv("grace", config_.server.graceful_shutdown_timeout);
  modules_.Stop();
  NORN_LOG(Info).Msg("Norn stopped");
  return absl::OkStatus();
}

}  // namespace norn::app
