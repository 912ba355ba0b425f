// Norn's configuration: plain structs whose YAML keys, nesting and defaults follow Grafana
// Loki 3.x, plus loading (YAML file, `${VAR}` expansion, command-line overrides), validation,
// dumping and the generated reference in docs/configuration.md.
//
// Contract:
//  - Every struct's member initializers are Loki's documented defaults (LokiDefaults()). Norn's
//    own zero-config start is EmbeddedDefaults().
//  - The keys of each section are listed exactly once, in the section's `Fields()` (defined in
//    config/fields.h). YAML decoding, YAML dumping, flags and the reference docs all walk that
//    list.
//  - Unknown keys, duplicate keys, wrong types and invalid values are errors (absl::Status with
//    kInvalidArgument) naming the dotted key path and, when known, the source line.
//  - uint64_t fields are byte sizes (accept "256KB", "1.5MiB", plain integers; KB = 1000 bytes,
//    KiB = 1024 as in Loki's flagext.ByteSize). absl::Duration fields accept Go ("1h30m", "500ms")
//    and Prometheus ("30d", "1w", "1y") syntax.
//  - All functions are pure and thread-safe; a Config is a value type (copy freely).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace norn::config {

// ---------------------------------------------------------------------------------------------
// Field registration options (see config/fields.h).
struct FieldOpts {
  const char* doc = "";
  // Loki command-line flag without the leading dash. For a nested section this is the flag
  // prefix handed to its fields ("" = no prefix, nullptr = the section's fields have no flags).
  const char* flag = nullptr;
  // Printed as "********" by DumpYaml when non-empty.
  bool secret = false;
  // Loki stores this key as a Prometheus model.Duration: a bare integer other than 0 is rejected,
  // and dumps use the d/w/y units.
  bool model_duration = false;
  // A key Loki does not have (documented as a Norn extension).
  bool norn_only = false;
};

// ---------------------------------------------------------------------------------------------
// server
struct ServerConfig {
  static constexpr bool kSection = true;
  std::string http_listen_network = "tcp";
  std::string http_listen_address;
  int http_listen_port = 3100;
  std::string grpc_listen_address;
  int grpc_listen_port = 9095;
  absl::Duration http_server_read_timeout = absl::Seconds(30);
  absl::Duration http_server_write_timeout = absl::Seconds(30);
  absl::Duration http_server_idle_timeout = absl::Seconds(120);
  absl::Duration graceful_shutdown_timeout = absl::Seconds(30);
  int grpc_server_max_recv_msg_size = 4194304;
  int grpc_server_max_send_msg_size = 4194304;
  int grpc_server_max_concurrent_streams = 100;
  std::string log_level = "info";
  std::string log_format = "logfmt";
  bool log_request_at_info_level_enabled = false;
  std::string http_path_prefix;
  bool register_instrumentation = true;
  // Norn extension: larger request bodies are answered with 413.
  uint64_t http_server_max_request_body_bytes = 104857600;
  template <class V>
  static void Fields(V& v);
};

// ---------------------------------------------------------------------------------------------
// Rings and KV stores.
struct EtcdConfig {
  static constexpr bool kSection = true;
  std::vector<std::string> endpoints;
  absl::Duration dial_timeout = absl::Seconds(10);
  int max_retries = 10;
  std::string username;
  std::string password;
  template <class V>
  static void Fields(V& v);
};

struct KvStoreConfig {
  static constexpr bool kSection = true;
  std::string store = "consul";
  std::string prefix = "collectors/";
  EtcdConfig etcd;
  template <class V>
  static void Fields(V& v);
};

// The ring block of distributor, query_scheduler and common.
struct RingConfig {
  static constexpr bool kSection = true;
  KvStoreConfig kvstore;
  absl::Duration heartbeat_period = absl::Seconds(15);
  absl::Duration heartbeat_timeout = absl::Minutes(1);
  std::string instance_addr;
  template <class V>
  static void Fields(V& v);
};

struct LifecyclerRingConfig {
  static constexpr bool kSection = true;
  KvStoreConfig kvstore;
  absl::Duration heartbeat_timeout = absl::Minutes(1);
  int replication_factor = 3;
  bool zone_awareness_enabled = false;
  template <class V>
  static void Fields(V& v);
};

struct LifecyclerConfig {
  static constexpr bool kSection = true;
  LifecyclerRingConfig ring;
  int num_tokens = 128;
  absl::Duration heartbeat_period = absl::Seconds(5);
  absl::Duration join_after = absl::ZeroDuration();
  absl::Duration min_ready_duration = absl::Seconds(15);
  absl::Duration final_sleep = absl::ZeroDuration();
  std::string address;
  int port = 0;
  std::string availability_zone;
  template <class V>
  static void Fields(V& v);
};

// ---------------------------------------------------------------------------------------------
// Caches.
struct EmbeddedCacheConfig {
  static constexpr bool kSection = true;
  bool enabled = false;
  int max_size_mb = 100;
  int max_size_items = 0;
  absl::Duration ttl = absl::Hours(1);
  template <class V>
  static void Fields(V& v);
};

struct MemcachedConfig {
  static constexpr bool kSection = true;
  absl::Duration expiration = absl::ZeroDuration();
  int batch_size = 256;
  int parallelism = 10;
  template <class V>
  static void Fields(V& v);
};

struct MemcachedClientConfig {
  static constexpr bool kSection = true;
  std::string host;
  std::string service = "memcached";
  std::string addresses;
  absl::Duration timeout = absl::Milliseconds(100);
  int max_idle_conns = 16;
  int max_item_size = 0;
  absl::Duration update_interval = absl::Minutes(1);
  bool consistent_hash = true;
  template <class V>
  static void Fields(V& v);
};

struct CacheConfig {
  static constexpr bool kSection = true;
  absl::Duration default_validity = absl::ZeroDuration();
  EmbeddedCacheConfig embedded_cache;
  MemcachedConfig memcached;
  MemcachedClientConfig memcached_client;
  template <class V>
  static void Fields(V& v);
};

// ---------------------------------------------------------------------------------------------
// Object storage.
struct S3HttpConfig {
  static constexpr bool kSection = true;
  absl::Duration idle_conn_timeout = absl::Seconds(90);
  absl::Duration response_header_timeout = absl::ZeroDuration();
  bool insecure_skip_verify = false;
  std::string ca_file;
  template <class V>
  static void Fields(V& v);
};

struct BackoffConfig {
  static constexpr bool kSection = true;
  absl::Duration min_period = absl::Milliseconds(100);
  absl::Duration max_period = absl::Seconds(3);
  int max_retries = 5;
  template <class V>
  static void Fields(V& v);
};

struct SseConfig {
  static constexpr bool kSection = true;
  std::string type;
  std::string kms_key_id;
  std::string kms_encryption_context;
  template <class V>
  static void Fields(V& v);
};

// storage_config.aws and common.storage.s3.
struct S3Config {
  static constexpr bool kSection = true;
  std::string s3;  // URL form: s3://key:secret@region/bucket (may carry credentials)
  bool s3forcepathstyle = false;
  std::string bucketnames;  // comma-separated
  std::string endpoint;
  std::string region;
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  bool insecure = false;
  std::string storage_class = "STANDARD";
  S3HttpConfig http_config;
  BackoffConfig backoff_config;
  SseConfig sse;
  template <class V>
  static void Fields(V& v);
};

struct FilesystemConfig {
  static constexpr bool kSection = true;
  std::string directory;
  template <class V>
  static void Fields(V& v);
};

struct IndexGatewayClientConfig {
  static constexpr bool kSection = true;
  std::string server_address;
  template <class V>
  static void Fields(V& v);
};

// storage_config.boltdb_shipper and storage_config.tsdb_shipper.
struct ShipperConfig {
  static constexpr bool kSection = true;
  std::string active_index_directory;
  std::string cache_location;
  absl::Duration cache_ttl = absl::Hours(24);
  absl::Duration resync_interval = absl::Minutes(5);
  IndexGatewayClientConfig index_gateway_client;
  template <class V>
  static void Fields(V& v);
};

struct StorageConfig {
  static constexpr bool kSection = true;
  FilesystemConfig filesystem;
  S3Config aws;
  ShipperConfig boltdb_shipper;
  ShipperConfig tsdb_shipper;
  CacheConfig index_queries_cache_config;
  int max_parallel_get_chunk = 150;
  template <class V>
  static void Fields(V& v);
};

// ---------------------------------------------------------------------------------------------
// schema_config
struct PeriodicTableConfig {
  static constexpr bool kSection = true;
  std::string prefix = "index_";
  absl::Duration period = absl::Hours(24);
  template <class V>
  static void Fields(V& v);
};

struct PeriodConfig {
  static constexpr bool kSection = true;
  absl::CivilDay from;
  std::string store;
  std::string object_store;
  std::string schema;
  PeriodicTableConfig index;
  int row_shards = 16;
  template <class V>
  static void Fields(V& v);
};

struct SchemaConfig {
  static constexpr bool kSection = true;
  std::vector<PeriodConfig> configs;
  template <class V>
  static void Fields(V& v);
};

struct ChunkStoreConfig {
  static constexpr bool kSection = true;
  CacheConfig chunk_cache_config;
  CacheConfig write_dedupe_cache_config;
  absl::Duration cache_lookups_older_than = absl::ZeroDuration();
  template <class V>
  static void Fields(V& v);
};

// ---------------------------------------------------------------------------------------------
// common
struct CommonFilesystemConfig {
  static constexpr bool kSection = true;
  std::string chunks_directory;
  std::string rules_directory;
  template <class V>
  static void Fields(V& v);
};

struct CommonStorageConfig {
  static constexpr bool kSection = true;
  CommonFilesystemConfig filesystem;
  S3Config s3;
  template <class V>
  static void Fields(V& v);
};

struct CommonConfig {
  static constexpr bool kSection = true;
  std::string path_prefix;
  std::string instance_addr;
  int replication_factor = 3;
  RingConfig ring;
  CommonStorageConfig storage;
  std::string compactor_address;
  template <class V>
  static void Fields(V& v);
};

// ---------------------------------------------------------------------------------------------
// Components.
struct DistributorConfig {
  static constexpr bool kSection = true;
  RingConfig ring;
  template <class V>
  static void Fields(V& v);
};

struct WalConfig {
  static constexpr bool kSection = true;
  bool enabled = true;
  std::string dir = "wal";
  absl::Duration checkpoint_duration = absl::Minutes(5);
  bool flush_on_shutdown = false;
  uint64_t replay_memory_ceiling = uint64_t{4} << 30;
  bool direct_io = true;  // Norn extension
  template <class V>
  static void Fields(V& v);
};

struct IngesterConfig {
  static constexpr bool kSection = true;
  LifecyclerConfig lifecycler;
  // Normalized by validation to one of none, gzip, lz4, snappy, zstd (Loki's flate -> gzip,
  // lz4-64k/lz4-256k/lz4-1M -> lz4).
  std::string chunk_encoding = "zstd";  // Norn default, chosen by measurement (docs/benchmarks.md).

  int chunk_block_size = 262144;
  int chunk_target_size = 1572864;
  absl::Duration max_chunk_age = absl::Hours(2);
  absl::Duration chunk_idle_period = absl::Minutes(30);
  absl::Duration chunk_retain_period = absl::ZeroDuration();
  absl::Duration flush_check_period = absl::Seconds(30);
  uint64_t early_flush_bytes = uint64_t{32} << 20;          // Norn extension
  uint64_t head_compaction_threshold = uint64_t{64} << 20;  // Norn extension
  uint64_t head_memory_budget = 0;                          // Norn extension
  absl::Duration flush_op_timeout = absl::Minutes(10);
  int concurrent_flushes = 32;
  int max_transfer_retries = 0;
  int max_returned_stream_errors = 10;
  absl::Duration query_store_max_look_back_period = absl::ZeroDuration();
  WalConfig wal;
  template <class V>
  static void Fields(V& v);
};

struct GrpcClientConfig {
  static constexpr bool kSection = true;
  int max_recv_msg_size = 104857600;
  int max_send_msg_size = 104857600;
  std::string grpc_compression;
  template <class V>
  static void Fields(V& v);
};

struct IngesterClientConfig {
  static constexpr bool kSection = true;
  GrpcClientConfig grpc_client_config;
  absl::Duration remote_timeout = absl::Seconds(5);
  template <class V>
  static void Fields(V& v);
};

struct QuerierEngineConfig {
  static constexpr bool kSection = true;
  absl::Duration max_look_back_period = absl::Seconds(30);
  template <class V>
  static void Fields(V& v);
};

struct QuerierConfig {
  static constexpr bool kSection = true;
  absl::Duration query_ingesters_within = absl::Hours(3);
  int max_concurrent = 4;
  absl::Duration tail_max_duration = absl::Hours(1);
  absl::Duration extra_query_delay = absl::ZeroDuration();
  bool multi_tenant_queries_enabled = false;
  bool query_store_only = false;
  bool query_ingester_only = false;
  int chunk_index_cache_size_mb = 64;  // Norn extension
  QuerierEngineConfig engine;
  template <class V>
  static void Fields(V& v);
};

struct ResultsCacheConfig {
  static constexpr bool kSection = true;
  CacheConfig cache;
  std::string compression;
  template <class V>
  static void Fields(V& v);
};

struct QueryRangeConfig {
  static constexpr bool kSection = true;
  bool align_queries_with_step = false;
  bool cache_results = false;
  int max_retries = 5;
  bool parallelise_shardable_queries = true;
  ResultsCacheConfig results_cache;
  template <class V>
  static void Fields(V& v);
};

struct FrontendConfig {
  static constexpr bool kSection = true;
  int max_outstanding_per_tenant = 2048;
  bool compress_responses = true;
  absl::Duration log_queries_longer_than = absl::ZeroDuration();
  std::string downstream_url;
  std::string scheduler_address;
  std::string tail_proxy_url;
  uint64_t max_body_size = 10485760;
  template <class V>
  static void Fields(V& v);
};

struct FrontendWorkerConfig {
  static constexpr bool kSection = true;
  std::string frontend_address;
  std::string scheduler_address;
  absl::Duration dns_lookup_duration = absl::Seconds(3);
  int parallelism = 10;
  bool match_max_concurrent = true;
  template <class V>
  static void Fields(V& v);
};

struct QuerySchedulerConfig {
  static constexpr bool kSection = true;
  int max_outstanding_requests_per_tenant = 32000;
  absl::Duration querier_forget_delay = absl::ZeroDuration();
  bool use_scheduler_ring = false;
  RingConfig scheduler_ring;
  template <class V>
  static void Fields(V& v);
};

struct CompactorConfig {
  static constexpr bool kSection = true;
  std::string working_directory = "/var/loki/compactor";
  absl::Duration compaction_interval = absl::Minutes(10);
  absl::Duration apply_retention_interval = absl::ZeroDuration();
  bool retention_enabled = false;
  absl::Duration retention_delete_delay = absl::Hours(2);
  int retention_delete_worker_count = 150;
  std::string delete_request_store;
  absl::Duration delete_request_cancel_period = absl::Hours(24);
  template <class V>
  static void Fields(V& v);
};

struct RulerLocalStorageConfig {
  static constexpr bool kSection = true;
  std::string directory;
  template <class V>
  static void Fields(V& v);
};

struct RulerStorageConfig {
  static constexpr bool kSection = true;
  std::string type;
  RulerLocalStorageConfig local;
  template <class V>
  static void Fields(V& v);
};

struct RemoteWriteClientConfig {
  static constexpr bool kSection = true;
  std::string url;
  absl::Duration remote_timeout = absl::Seconds(30);
  template <class V>
  static void Fields(V& v);
};

struct RulerRemoteWriteConfig {
  static constexpr bool kSection = true;
  bool enabled = false;
  RemoteWriteClientConfig client;
  template <class V>
  static void Fields(V& v);
};

struct RulerConfig {
  static constexpr bool kSection = true;
  std::string external_url;
  RulerStorageConfig storage;
  std::string rule_path = "/rules";
  std::string alertmanager_url;
  bool enable_alertmanager_v2 = false;
  absl::Duration evaluation_interval = absl::Minutes(1);
  absl::Duration poll_interval = absl::Minutes(1);
  bool enable_api = true;
  bool enable_sharding = false;
  RulerRemoteWriteConfig remote_write;
  template <class V>
  static void Fields(V& v);
};

// ---------------------------------------------------------------------------------------------
// limits_config (also the per-tenant override block of the runtime config file).
struct RetentionStreamConfig {
  static constexpr bool kSection = true;
  std::string selector;
  int priority = 0;
  absl::Duration period = absl::ZeroDuration();
  template <class V>
  static void Fields(V& v);
};

struct LimitsConfig {
  static constexpr bool kSection = true;
  // Write path.
  std::string ingestion_rate_strategy = "global";
  double ingestion_rate_mb = 4;
  double ingestion_burst_size_mb = 6;
  int max_label_name_length = 1024;
  int max_label_value_length = 2048;
  int max_label_names_per_series = 15;
  bool reject_old_samples = true;
  absl::Duration reject_old_samples_max_age = absl::Hours(24 * 7);
  absl::Duration creation_grace_period = absl::Minutes(10);
  uint64_t max_line_size = 256000;
  bool max_line_size_truncate = false;
  bool increment_duplicate_timestamp = false;
  bool unordered_writes = true;
  int max_streams_per_user = 0;
  int max_global_streams_per_user = 5000;
  uint64_t per_stream_rate_limit = uint64_t{3} << 20;
  uint64_t per_stream_rate_limit_burst = uint64_t{15} << 20;
  bool allow_structured_metadata = true;
  uint64_t max_structured_metadata_size = 64000;
  int max_structured_metadata_entries_count = 128;
  // Read path.
  int max_entries_limit_per_query = 5000;
  int max_query_series = 500;
  int max_chunks_per_query = 2000000;
  absl::Duration max_query_length = absl::Hours(721);
  absl::Duration max_query_lookback = absl::ZeroDuration();
  int max_query_parallelism = 32;
  int tsdb_max_query_parallelism = 128;
  int cardinality_limit = 100000;
  absl::Duration query_timeout = absl::Minutes(1);
  int max_streams_matchers_per_query = 1000;
  int max_concurrent_tail_requests = 10;
  absl::Duration max_cache_freshness_per_query = absl::Minutes(10);
  absl::Duration split_queries_by_interval = absl::Hours(1);
  // Retention.
  absl::Duration retention_period = absl::ZeroDuration();
  std::vector<RetentionStreamConfig> retention_stream;
  template <class V>
  static void Fields(V& v);
};

// The effective limits of one tenant: limits_config with the tenant's runtime overrides applied.
using TenantLimits = LimitsConfig;

struct RuntimeConfigConfig {
  static constexpr bool kSection = true;
  absl::Duration period = absl::Seconds(10);
  std::string file;
  template <class V>
  static void Fields(V& v);
};

struct MemberlistConfig {
  static constexpr bool kSection = true;
  std::string node_name;
  std::vector<std::string> join_members;
  std::vector<std::string> bind_addr;
  int bind_port = 7946;
  std::string advertise_addr;
  int advertise_port = 7946;
  template <class V>
  static void Fields(V& v);
};

struct AnalyticsConfig {
  static constexpr bool kSection = true;
  bool reporting_enabled = true;
  template <class V>
  static void Fields(V& v);
};

struct TracingConfig {
  static constexpr bool kSection = true;
  bool enabled = true;
  template <class V>
  static void Fields(V& v);
};

// ---------------------------------------------------------------------------------------------
// The whole file.
struct Config {
  static constexpr bool kSection = true;
  std::string target = "all";
  bool auth_enabled = true;
  ServerConfig server;
  CommonConfig common;
  DistributorConfig distributor;
  IngesterConfig ingester;
  IngesterClientConfig ingester_client;
  QuerierConfig querier;
  QueryRangeConfig query_range;
  FrontendConfig frontend;
  FrontendWorkerConfig frontend_worker;
  QuerySchedulerConfig query_scheduler;
  StorageConfig storage_config;
  SchemaConfig schema_config;
  ChunkStoreConfig chunk_store_config;
  CompactorConfig compactor;
  RulerConfig ruler;
  LimitsConfig limits_config;
  RuntimeConfigConfig runtime_config;
  MemberlistConfig memberlist;
  AnalyticsConfig analytics;
  TracingConfig tracing;
  template <class V>
  static void Fields(V& v);
};

// ---------------------------------------------------------------------------------------------
// API.

struct ParseOptions {
  // Expand `${VAR}`, `${VAR:-default}` and `$VAR` in the raw text before parsing (Loki's
  // -config.expand-env). An unset variable without a default expands to "".
  bool expand_env = false;
  // Used as the prefix of error messages: "<source_name>:<line>: ...".
  std::string source_name = "config.yaml";
};

// Loki's defaults for every key (what a Loki user's file is applied on top of).
Config LokiDefaults();

// What `norn` runs with when started without -config.file ("zero-config start"): LokiDefaults()
// plus auth_enabled=false, common.path_prefix="data", in-memory ring, replication factor 1,
// filesystem object store under data/, embedded caches on and a tsdb/v13 schema.
Config EmbeddedDefaults();

// Parses a Loki-style YAML file on top of LokiDefaults(), applies the `common` block to the
// component sections it feeds (as Loki does) and validates. Sections and keys missing from the
// file keep their defaults.
absl::StatusOr<Config> ParseYaml(std::string_view yaml_text, const ParseOptions& options = {});

// Checks ranges and enumerations and normalizes ingester.chunk_encoding. Called by ParseYaml and
// LoadConfig; exposed for callers that build a Config in code.
absl::Status Validate(Config& config);

// Expands environment references the way Loki's -config.expand-env does.
std::string ExpandEnv(std::string_view text);

enum class DumpMode {
  kAll,       // the effective configuration
  kDefaults,  // LokiDefaults() (the argument is ignored)
  kDiff,      // only keys whose value differs from LokiDefaults()
};

// Renders YAML that ParseYaml accepts. Secrets (keys, passwords, tokens) print as "********".
std::string DumpYaml(const Config& config, DumpMode mode = DumpMode::kAll);

// Markdown tables listing every key, its type, default, flag and meaning (the generated section
// of docs/configuration.md).
std::string ConfigReferenceMarkdown();

// Duration and byte-size syntax shared by YAML and flags.
absl::StatusOr<absl::Duration> ParseDuration(std::string_view text);
std::string DurationToString(absl::Duration d, bool model_style = false);
absl::StatusOr<uint64_t> ParseByteSize(std::string_view text);

}  // namespace norn::config
