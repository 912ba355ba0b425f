// The single list of configuration keys. Each section's Fields(v) calls
//   v.Field("yaml_key", &Section::member, {.doc = ..., .flag = ..., .secret = ...});
// once per key, in the order keys are dumped and documented. Visitors (YAML decoder, dumper,
// flag table, reference renderer) live in config/*.cc and are the only includers of this file.
// Adding a key = adding a member in config.h and one line here.
#pragma once

#include "config/config.h"

namespace norn::config {

template <class V>
void ServerConfig::Fields(V& v) {
  using S = ServerConfig;
  v.Field("http_listen_network", &S::http_listen_network,
          {.doc = "HTTP server listen network (tcp, tcp4, tcp6).",
           .flag = "server.http-listen-network"});
  v.Field("http_listen_address", &S::http_listen_address,
          {.doc = "HTTP server listen address; empty listens on all interfaces.",
           .flag = "server.http-listen-address"});
  v.Field("http_listen_port", &S::http_listen_port,
          {.doc = "HTTP server listen port.", .flag = "server.http-listen-port"});
  v.Field("grpc_listen_address", &S::grpc_listen_address,
          {.doc = "gRPC server listen address; empty listens on all interfaces.",
           .flag = "server.grpc-listen-address"});
  v.Field("grpc_listen_port", &S::grpc_listen_port,
          {.doc = "gRPC server listen port.", .flag = "server.grpc-listen-port"});
  v.Field("http_server_read_timeout", &S::http_server_read_timeout,
          {.doc = "Maximum time to read a whole HTTP request, body included.",
           .flag = "server.http-read-timeout"});
  v.Field("http_server_write_timeout", &S::http_server_write_timeout,
          {.doc = "Maximum time to write an HTTP response.", .flag = "server.http-write-timeout"});
  v.Field("http_server_idle_timeout", &S::http_server_idle_timeout,
          {.doc = "How long an idle keep-alive HTTP connection stays open.",
           .flag = "server.http-idle-timeout"});
  v.Field("graceful_shutdown_timeout", &S::graceful_shutdown_timeout,
          {.doc = "How long in-flight requests may run after SIGTERM before the servers close.",
           .flag = "server.graceful-shutdown-timeout"});
  v.Field("grpc_server_max_recv_msg_size", &S::grpc_server_max_recv_msg_size,
          {.doc = "Largest gRPC message the server accepts, in bytes.",
           .flag = "server.grpc-max-recv-msg-size-bytes"});
  v.Field("grpc_server_max_send_msg_size", &S::grpc_server_max_send_msg_size,
          {.doc = "Largest gRPC message the server sends, in bytes.",
           .flag = "server.grpc-max-send-msg-size-bytes"});
  v.Field("grpc_server_max_concurrent_streams", &S::grpc_server_max_concurrent_streams,
          {.doc = "Concurrent gRPC streams per connection (0 = unlimited).",
           .flag = "server.grpc-max-concurrent-streams"});
  v.Field("log_level", &S::log_level,
          {.doc = "Lowest level logged: debug, info, warn or error.", .flag = "log.level"});
  v.Field("log_format", &S::log_format,
          {.doc = "Log line format: logfmt or json.", .flag = "log.format"});
  v.Field("log_request_at_info_level_enabled", &S::log_request_at_info_level_enabled,
          {.doc = "Log every HTTP request at info level instead of debug.",
           .flag = "server.log-request-at-info-level-enabled"});
  v.Field("http_path_prefix", &S::http_path_prefix,
          {.doc = "Prefix prepended to every HTTP route.", .flag = "server.path-prefix"});
  v.Field(
      "register_instrumentation", &S::register_instrumentation,
      {.doc = "Serve /metrics and the debug handlers.", .flag = "server.register-instrumentation"});
  v.Field("http_server_max_request_body_bytes", &S::http_server_max_request_body_bytes,
          {.doc = "Largest accepted HTTP request body (after the headers); a larger body is "
                  "answered with 413 Request Entity Too Large.",
           .flag = "server.http-max-request-body-bytes",
           .norn_only = true});
}

template <class V>
void EtcdConfig::Fields(V& v) {
  using S = EtcdConfig;
  v.Field("endpoints", &S::endpoints,
          {.doc = "etcd endpoints (host:port).", .flag = "etcd.endpoints"});
  v.Field("dial_timeout", &S::dial_timeout,
          {.doc = "Timeout to connect to etcd.", .flag = "etcd.dial-timeout"});
  v.Field("max_retries", &S::max_retries,
          {.doc = "Retries of a failed etcd operation.", .flag = "etcd.max-retries"});
  v.Field("username", &S::username, {.doc = "etcd user name.", .flag = "etcd.username"});
  v.Field("password", &S::password,
          {.doc = "etcd password.", .flag = "etcd.password", .secret = true});
}

template <class V>
void KvStoreConfig::Fields(V& v) {
  using S = KvStoreConfig;
  v.Field("store", &S::store,
          {.doc = "Ring KV backend. Norn supports inmemory, etcd and memberlist; Loki's default "
                  "consul is accepted in the file but not served.",
           .flag = "store"});
  v.Field("prefix", &S::prefix, {.doc = "Key prefix in the KV store.", .flag = "prefix"});
  v.Field("etcd", &S::etcd, {.doc = "etcd client settings."});
}

template <class V>
void RingConfig::Fields(V& v) {
  using S = RingConfig;
  v.Field("kvstore", &S::kvstore, {.doc = "Where the ring is stored.", .flag = ""});
  v.Field("heartbeat_period", &S::heartbeat_period,
          {.doc = "How often the instance heartbeats the ring.", .flag = "heartbeat-period"});
  v.Field("heartbeat_timeout", &S::heartbeat_timeout,
          {.doc = "An instance without a heartbeat for this long is unhealthy.",
           .flag = "heartbeat-timeout"});
  v.Field("instance_addr", &S::instance_addr,
          {.doc = "Address advertised in the ring (default: first private interface address).",
           .flag = "instance-addr"});
}

template <class V>
void LifecyclerRingConfig::Fields(V& v) {
  using S = LifecyclerRingConfig;
  v.Field("kvstore", &S::kvstore, {.doc = "Where the ingester ring is stored.", .flag = "ring."});
  v.Field("heartbeat_timeout", &S::heartbeat_timeout,
          {.doc = "An ingester without a heartbeat for this long is skipped for reads and writes.",
           .flag = "ring.heartbeat-timeout"});
  v.Field("replication_factor", &S::replication_factor,
          {.doc = "Number of ingesters each stream is written to and read from.",
           .flag = "distributor.replication-factor"});
  v.Field("zone_awareness_enabled", &S::zone_awareness_enabled,
          {.doc = "Spread replicas across availability zones.",
           .flag = "distributor.zone-awareness-enabled"});
}

template <class V>
void LifecyclerConfig::Fields(V& v) {
  using S = LifecyclerConfig;
  v.Field("ring", &S::ring, {.doc = "The ingester ring.", .flag = ""});
  v.Field("num_tokens", &S::num_tokens,
          {.doc = "Tokens each ingester owns in the ring.", .flag = "ingester.num-tokens"});
  v.Field(
      "heartbeat_period", &S::heartbeat_period,
      {.doc = "How often the ingester heartbeats the ring.", .flag = "ingester.heartbeat-period"});
  v.Field("join_after", &S::join_after,
          {.doc = "Delay before joining the ring.", .flag = "ingester.join-after"});
  v.Field("min_ready_duration", &S::min_ready_duration,
          {.doc = "Minimum time between joining and reporting ready.",
           .flag = "ingester.min-ready-duration"});
  v.Field("final_sleep", &S::final_sleep,
          {.doc = "Time to stay alive after leaving the ring at shutdown.",
           .flag = "ingester.final-sleep"});
  v.Field("address", &S::address,
          {.doc = "Address advertised in the ring (default: common.instance_addr or first "
                  "private interface).",
           .flag = "ingester.lifecycler.addr"});
  v.Field("port", &S::port,
          {.doc = "Port advertised in the ring (0 = server.grpc_listen_port).",
           .flag = "ingester.lifecycler.port"});
  v.Field("availability_zone", &S::availability_zone,
          {.doc = "Availability zone of this ingester.", .flag = "ingester.availability-zone"});
}

template <class V>
void EmbeddedCacheConfig::Fields(V& v) {
  using S = EmbeddedCacheConfig;
  v.Field("enabled", &S::enabled,
          {.doc = "Use an in-process LRU cache.", .flag = "embedded-cache.enabled"});
  v.Field(
      "max_size_mb", &S::max_size_mb,
      {.doc = "Memory limit of the embedded cache in MB.", .flag = "embedded-cache.max-size-mb"});
  v.Field("max_size_items", &S::max_size_items,
          {.doc = "Entry limit of the embedded cache (0 = unlimited).",
           .flag = "embedded-cache.max-size-items"});
  v.Field("ttl", &S::ttl,
          {.doc = "Lifetime of an embedded cache entry.", .flag = "embedded-cache.ttl"});
}

template <class V>
void MemcachedConfig::Fields(V& v) {
  using S = MemcachedConfig;
  v.Field("expiration", &S::expiration,
          {.doc = "Expiration of stored items (0 = the memcached default).",
           .flag = "memcached.expiration"});
  v.Field("batch_size", &S::batch_size,
          {.doc = "Keys per memcached multi-get.", .flag = "memcached.batchsize"});
  v.Field("parallelism", &S::parallelism,
          {.doc = "Concurrent memcached multi-gets.", .flag = "memcached.parallelism"});
}

template <class V>
void MemcachedClientConfig::Fields(V& v) {
  using S = MemcachedClientConfig;
  v.Field(
      "host", &S::host,
      {.doc = "Hostname resolved (SRV) to find memcached servers.", .flag = "memcached.hostname"});
  v.Field("service", &S::service,
          {.doc = "SRV service name used with host.", .flag = "memcached.service"});
  v.Field("addresses", &S::addresses,
          {.doc = "Comma-separated memcached addresses (host:port, dns+host:port, "
                  "dnssrv+_service._proto.host); takes precedence over host.",
           .flag = "memcached.addresses"});
  v.Field("timeout", &S::timeout,
          {.doc = "Timeout of one memcached request.", .flag = "memcached.timeout"});
  v.Field(
      "max_idle_conns", &S::max_idle_conns,
      {.doc = "Idle connections kept per memcached server.", .flag = "memcached.max-idle-conns"});
  v.Field("max_item_size", &S::max_item_size,
          {.doc = "Items larger than this many bytes are not stored (0 = no limit).",
           .flag = "memcached.max-item-size"});
  v.Field(
      "update_interval", &S::update_interval,
      {.doc = "How often server addresses are re-resolved.", .flag = "memcached.update-interval"});
  v.Field("consistent_hash", &S::consistent_hash,
          {.doc = "Pick servers with a consistent hash.", .flag = "memcached.consistent-hash"});
}

template <class V>
void CacheConfig::Fields(V& v) {
  using S = CacheConfig;
  v.Field("default_validity", &S::default_validity,
          {.doc = "Default lifetime of cached entries.", .flag = "default-validity"});
  v.Field("embedded_cache", &S::embedded_cache, {.doc = "In-process cache.", .flag = ""});
  v.Field("memcached", &S::memcached, {.doc = "memcached behaviour.", .flag = ""});
  v.Field("memcached_client", &S::memcached_client, {.doc = "memcached servers.", .flag = ""});
}

template <class V>
void S3HttpConfig::Fields(V& v) {
  using S = S3HttpConfig;
  v.Field("idle_conn_timeout", &S::idle_conn_timeout,
          {.doc = "How long an idle connection to S3 is kept.", .flag = "http.idle-conn-timeout"});
  v.Field("response_header_timeout", &S::response_header_timeout,
          {.doc = "Time to wait for S3 response headers (0 = no limit).",
           .flag = "http.response-header-timeout"});
  v.Field("insecure_skip_verify", &S::insecure_skip_verify,
          {.doc = "Skip TLS certificate verification.", .flag = "http.insecure-skip-verify"});
  v.Field("ca_file", &S::ca_file,
          {.doc = "CA bundle used to verify the S3 endpoint.", .flag = "http.ca-file"});
}

template <class V>
void BackoffConfig::Fields(V& v) {
  using S = BackoffConfig;
  v.Field("min_period", &S::min_period, {.doc = "First retry delay.", .flag = "min-backoff"});
  v.Field("max_period", &S::max_period, {.doc = "Largest retry delay.", .flag = "max-backoff"});
  v.Field("max_retries", &S::max_retries,
          {.doc = "Attempts (the first included) before a request fails.", .flag = "max-retries"});
}

template <class V>
void SseConfig::Fields(V& v) {
  using S = SseConfig;
  v.Field("type", &S::type,
          {.doc = "Server-side encryption: SSE-S3 or SSE-KMS (empty = none).", .flag = "sse.type"});
  v.Field("kms_key_id", &S::kms_key_id,
          {.doc = "KMS key id for SSE-KMS.", .flag = "sse.kms-key-id"});
  v.Field(
      "kms_encryption_context", &S::kms_encryption_context,
      {.doc = "KMS encryption context (JSON) for SSE-KMS.", .flag = "sse.kms-encryption-context"});
}

template <class V>
void S3Config::Fields(V& v) {
  using S = S3Config;
  v.Field("s3", &S::s3,
          {.doc = "S3 URL, s3://key:secret@region/bucket or s3://region/bucket; credentials "
                  "here are masked in dumps.",
           .flag = "s3.url",
           .secret = true});
  v.Field("s3forcepathstyle", &S::s3forcepathstyle,
          {.doc = "Use path-style URLs (endpoint/bucket/key) instead of virtual-host style.",
           .flag = "s3.force-path-style"});
  v.Field(
      "bucketnames", &S::bucketnames,
      {.doc = "Comma-separated bucket names; Norn uses the first.", .flag = "s3.buckets"});
  v.Field("endpoint", &S::endpoint,
          {.doc = "S3 endpoint (host[:port] or URL) for S3-compatible stores; empty = AWS.",
           .flag = "s3.endpoint"});
  v.Field("region", &S::region, {.doc = "AWS region.", .flag = "s3.region"});
  v.Field("access_key_id", &S::access_key_id,
          {.doc = "Static access key id; empty = the AWS credential chain (env, profile, web "
                  "identity/IRSA, instance metadata).",
           .flag = "s3.access-key-id",
           .secret = true});
  v.Field("secret_access_key", &S::secret_access_key,
          {.doc = "Static secret access key.", .flag = "s3.secret-access-key", .secret = true});
  v.Field("session_token", &S::session_token,
          {.doc = "Session token for temporary static credentials.",
           .flag = "s3.session-token",
           .secret = true});
  v.Field("insecure", &S::insecure,
          {.doc = "Talk plain HTTP to the endpoint.", .flag = "s3.insecure"});
  v.Field("storage_class", &S::storage_class,
          {.doc = "Storage class of written objects.", .flag = "s3.storage-class"});
  v.Field("http_config", &S::http_config, {.doc = "HTTP client settings.", .flag = "s3."});
  v.Field("backoff_config", &S::backoff_config, {.doc = "Retry backoff.", .flag = "s3."});
  v.Field("sse", &S::sse, {.doc = "Server-side encryption.", .flag = "s3."});
}

template <class V>
void FilesystemConfig::Fields(V& v) {
  v.Field(
      "directory", &FilesystemConfig::directory,
      {.doc = "Root directory of the filesystem object store.", .flag = "local.chunk-directory"});
}

template <class V>
void IndexGatewayClientConfig::Fields(V& v) {
  v.Field("server_address", &IndexGatewayClientConfig::server_address,
          {.doc = "index-gateway address queriers ask for index look-ups (empty = read the index "
                  "directly).",
           .flag = "index-gateway-client.server-address"});
}

template <class V>
void ShipperConfig::Fields(V& v) {
  using S = ShipperConfig;
  v.Field("active_index_directory", &S::active_index_directory,
          {.doc = "Where ingesters write index files before upload (default: "
                  "<path_prefix>/<store>-shipper-active).",
           .flag = "shipper.active-index-directory"});
  v.Field("cache_location", &S::cache_location,
          {.doc = "Where downloaded index files are cached (default: "
                  "<path_prefix>/<store>-shipper-cache).",
           .flag = "shipper.cache-location"});
  v.Field("cache_ttl", &S::cache_ttl,
          {.doc = "How long downloaded index files are kept.", .flag = "shipper.cache-ttl"});
  v.Field("resync_interval", &S::resync_interval,
          {.doc = "How often the index file list is refreshed from the object store.",
           .flag = "shipper.resync-interval"});
  v.Field("index_gateway_client", &S::index_gateway_client,
          {.doc = "index-gateway client.", .flag = nullptr});
}

template <class V>
void StorageConfig::Fields(V& v) {
  using S = StorageConfig;
  v.Field("filesystem", &S::filesystem, {.doc = "Filesystem object store.", .flag = ""});
  v.Field("aws", &S::aws, {.doc = "S3 object store.", .flag = ""});
  v.Field("boltdb_shipper", &S::boltdb_shipper,
          {.doc = "Index shipper for boltdb-shipper schema periods (Norn reads and writes its "
                  "own index format for them).",
           .flag = "boltdb."});
  v.Field("tsdb_shipper", &S::tsdb_shipper,
          {.doc = "Index shipper for tsdb schema periods.", .flag = "tsdb."});
  v.Field("index_queries_cache_config", &S::index_queries_cache_config,
          {.doc = "Cache of index look-ups.", .flag = "store.index-cache-read."});
  v.Field("max_parallel_get_chunk", &S::max_parallel_get_chunk,
          {.doc = "Concurrent chunk fetches per query.", .flag = "store.max-parallel-get-chunk"});
}

template <class V>
void PeriodicTableConfig::Fields(V& v) {
  v.Field("prefix", &PeriodicTableConfig::prefix, {.doc = "Index table name prefix."});
  v.Field("period", &PeriodicTableConfig::period, {.doc = "Index table period; must be 24h."});
}

template <class V>
void PeriodConfig::Fields(V& v) {
  using S = PeriodConfig;
  v.Field("from", &S::from, {.doc = "First day (UTC, YYYY-MM-DD) this period applies to."});
  v.Field("store", &S::store, {.doc = "Index type: tsdb or boltdb-shipper."});
  v.Field("object_store", &S::object_store,
          {.doc = "Object store holding chunks and index: filesystem, s3 (aws) or inmemory."});
  v.Field("schema", &S::schema, {.doc = "Schema version, v9 ... v13 (v13 recommended)."});
  v.Field("index", &S::index, {.doc = "Index table naming."});
  v.Field("row_shards", &S::row_shards, {.doc = "Index shards per table (schema v10+)."});
}

template <class V>
void SchemaConfig::Fields(V& v) {
  v.Field("configs", &SchemaConfig::configs,
          {.doc = "Schema periods in increasing `from` order. When empty, Norn uses the "
                  "zero-config period (tsdb, v13, from 2020-10-24)."});
}

template <class V>
void ChunkStoreConfig::Fields(V& v) {
  using S = ChunkStoreConfig;
  v.Field("chunk_cache_config", &S::chunk_cache_config,
          {.doc = "Cache of chunk contents.", .flag = "store.chunks-cache."});
  v.Field("write_dedupe_cache_config", &S::write_dedupe_cache_config,
          {.doc = "Cache that deduplicates index writes.", .flag = "store.index-cache-write."});
  v.Field("cache_lookups_older_than", &S::cache_lookups_older_than,
          {.doc = "Only cache index look-ups for data older than this.",
           .flag = "store.cache-lookups-older-than"});
}

template <class V>
void CommonFilesystemConfig::Fields(V& v) {
  using S = CommonFilesystemConfig;
  v.Field("chunks_directory", &S::chunks_directory,
          {.doc = "Sets storage_config.filesystem.directory unless that is set."});
  v.Field("rules_directory", &S::rules_directory,
          {.doc = "Sets ruler.storage (type local) and its directory unless set."});
}

template <class V>
void CommonStorageConfig::Fields(V& v) {
  using S = CommonStorageConfig;
  v.Field("filesystem", &S::filesystem, {.doc = "Filesystem object store for every component."});
  v.Field("s3", &S::s3,
          {.doc = "S3 object store for every component: copied key by key into "
                  "storage_config.aws where that key is not set."});
}

template <class V>
void CommonConfig::Fields(V& v) {
  using S = CommonConfig;
  v.Field("path_prefix", &S::path_prefix,
          {.doc = "Base directory for local state: WAL (<prefix>/wal), index shipper directories, "
                  "compactor working directory (<prefix>/compactor), ruler scratch "
                  "(<prefix>/rules-temp), unless those keys are set.",
           .flag = "common.path-prefix"});
  v.Field("instance_addr", &S::instance_addr,
          {.doc = "Address every ring advertises for this instance unless set per ring."});
  v.Field("replication_factor", &S::replication_factor,
          {.doc = "Sets ingester.lifecycler.ring.replication_factor unless that is set."});
  v.Field("ring", &S::ring,
          {.doc = "Ring settings for every ring (ingester, distributor, scheduler) unless set per "
                  "ring."});
  v.Field("storage", &S::storage, {.doc = "Object store shared by all components."});
  v.Field("compactor_address", &S::compactor_address,
          {.doc = "HTTP address of the compactor (for delete requests and retention from other "
                  "targets).",
           .flag = "common.compactor-address"});
}

template <class V>
void DistributorConfig::Fields(V& v) {
  v.Field("ring", &DistributorConfig::ring,
          {.doc = "The distributor ring (used to share the global rate limit).",
           .flag = "distributor.ring."});
}

template <class V>
void WalConfig::Fields(V& v) {
  using S = WalConfig;
  v.Field("enabled", &S::enabled,
          {.doc = "Write pushed entries to a write-ahead log before acknowledging them.",
           .flag = "ingester.wal-enabled"});
  v.Field("dir", &S::dir,
          {.doc = "WAL directory (default with common.path_prefix: <prefix>/wal).",
           .flag = "ingester.wal-dir"});
  v.Field("checkpoint_duration", &S::checkpoint_duration,
          {.doc = "Interval between WAL checkpoints.", .flag = "ingester.checkpoint-duration"});
  v.Field("flush_on_shutdown", &S::flush_on_shutdown,
          {.doc = "Flush all chunks to the object store on shutdown.",
           .flag = "ingester.flush-on-shutdown"});
  v.Field("replay_memory_ceiling", &S::replay_memory_ceiling,
          {.doc = "Memory used by WAL replay before chunks are flushed early.",
           .flag = "ingester.wal-replay-memory-ceiling"});
  v.Field("direct_io", &S::direct_io,
          {.doc = "Write WAL segments with O_DIRECT, bypassing the page cache (the WAL is read "
                  "only after a crash): each group commit is padded to 4 KiB blocks. Where the "
                  "filesystem refuses O_DIRECT, buffered writes are used. False: always "
                  "buffered.",
           .flag = "ingester.wal-direct-io",
           .norn_only = true});
}

template <class V>
void IngesterConfig::Fields(V& v) {
  using S = IngesterConfig;
  v.Field("lifecycler", &S::lifecycler, {.doc = "Ring membership of the ingester.", .flag = ""});
  v.Field("chunk_encoding", &S::chunk_encoding,
          {.doc = "Block compression: none, gzip, lz4, snappy, zstd (Loki's flate maps to gzip, "
                  "lz4-64k/lz4-256k/lz4-1M to lz4).",
           .flag = "ingester.chunk-encoding"});
  v.Field("chunk_block_size", &S::chunk_block_size,
          {.doc = "Uncompressed size at which the head block is cut into a compressed block.",
           .flag = "ingester.chunks-block-size"});
  v.Field("chunk_target_size", &S::chunk_target_size,
          {.doc = "Compressed size at which a chunk is closed (0 = use max_chunk_age only).",
           .flag = "ingester.chunk-target-size"});
  v.Field("max_chunk_age", &S::max_chunk_age,
          {.doc = "A chunk older than this is flushed.", .flag = "ingester.max-chunk-age"});
  v.Field("chunk_idle_period", &S::chunk_idle_period,
          {.doc = "A chunk without new entries for this long is flushed.",
           .flag = "ingester.chunks-idle-period"});
  v.Field("chunk_retain_period", &S::chunk_retain_period,
          {.doc = "How long flushed chunks stay in memory for queries.",
           .flag = "ingester.chunks-retain-period"});
  v.Field(
      "flush_check_period", &S::flush_check_period,
      {.doc = "How often chunks are checked for flushing.", .flag = "ingester.flush-check-period"});
  v.Field("early_flush_bytes", &S::early_flush_bytes,
          {.doc = "Full chunks are flushed as soon as this many compressed bytes of them wait in "
                  "memory, before the next flush check; 0 waits for the check, as Loki does.",
           .flag = "ingester.early-flush-bytes",
           .norn_only = true});
  v.Field("head_compaction_threshold", &S::head_compaction_threshold,
          {.doc = "When the head blocks of all streams take more memory than this, a push "
                  "compresses the head of the stream it appends to in memory (once 4 KiB of it "
                  "are not compressed yet); the head keeps filling and is cut at "
                  "chunk_block_size as usual, so chunks do not change. Cuts ingester memory "
                  "with many slowly filling streams by about the compression ratio. 0 never "
                  "does.",
           .flag = "ingester.head-compaction-threshold",
           .norn_only = true});
  v.Field("head_memory_budget", &S::head_memory_budget,
          {.doc = "When the head blocks of all streams take more memory than this, a push "
                  "cuts the head of the stream it appends to into a block (once it holds 8 KiB) "
                  "instead of waiting for chunk_block_size: bounds ingester memory with many "
                  "slowly filling streams, at the price of smaller blocks (budget / active "
                  "streams is roughly the block size left). 0 (default) never does, as Loki.",
           .flag = "ingester.head-memory-budget",
           .norn_only = true});
  v.Field("flush_op_timeout", &S::flush_op_timeout,
          {.doc = "Timeout of one flush operation.", .flag = "ingester.flush-op-timeout"});
  v.Field("concurrent_flushes", &S::concurrent_flushes,
          {.doc = "Parallel flush workers.", .flag = "ingester.concurrent-flushes"});
  v.Field("max_transfer_retries", &S::max_transfer_retries,
          {.doc = "Accepted for compatibility; chunk hand-over is not used (the WAL is).",
           .flag = "ingester.max-transfer-retries"});
  v.Field("max_returned_stream_errors", &S::max_returned_stream_errors,
          {.doc = "Per-stream errors reported in one push response.",
           .flag = "ingester.max-ignored-stream-errors"});
  v.Field("query_store_max_look_back_period", &S::query_store_max_look_back_period,
          {.doc = "How far back ingesters query the store themselves (0 = never).",
           .flag = "ingester.query-store-max-look-back-period"});
  v.Field("wal", &S::wal, {.doc = "Write-ahead log.", .flag = ""});
}

template <class V>
void GrpcClientConfig::Fields(V& v) {
  using S = GrpcClientConfig;
  v.Field("max_recv_msg_size", &S::max_recv_msg_size,
          {.doc = "Largest gRPC message received, in bytes.", .flag = "grpc-max-recv-msg-size"});
  v.Field("max_send_msg_size", &S::max_send_msg_size,
          {.doc = "Largest gRPC message sent, in bytes.", .flag = "grpc-max-send-msg-size"});
  v.Field("grpc_compression", &S::grpc_compression,
          {.doc = "Compression of requests: empty, gzip or snappy.", .flag = "grpc-compression"});
}

template <class V>
void IngesterClientConfig::Fields(V& v) {
  using S = IngesterClientConfig;
  v.Field("grpc_client_config", &S::grpc_client_config,
          {.doc = "gRPC client to ingesters.", .flag = "ingester.client."});
  v.Field("remote_timeout", &S::remote_timeout,
          {.doc = "Timeout of a call to an ingester.", .flag = "ingester.client.timeout"});
}

template <class V>
void QuerierEngineConfig::Fields(V& v) {
  v.Field("max_look_back_period", &QuerierEngineConfig::max_look_back_period,
          {.doc = "How far back a tail or instant log query looks.",
           .flag = "querier.engine.max-lookback-period"});
}

template <class V>
void QuerierConfig::Fields(V& v) {
  using S = QuerierConfig;
  v.Field("query_ingesters_within", &S::query_ingesters_within,
          {.doc = "Only ask ingesters for queries whose range reaches this close to now "
                  "(0 = always ask).",
           .flag = "querier.query-ingesters-within"});
  v.Field("max_concurrent", &S::max_concurrent,
          {.doc = "Queries a querier runs at once.", .flag = "querier.max-concurrent"});
  v.Field("tail_max_duration", &S::tail_max_duration,
          {.doc = "Longest allowed live tail.", .flag = "querier.tail-max-duration"});
  v.Field("extra_query_delay", &S::extra_query_delay,
          {.doc = "Delay before asking more ingesters than strictly needed.",
           .flag = "querier.extra-query-delay"});
  v.Field("multi_tenant_queries_enabled", &S::multi_tenant_queries_enabled,
          {.doc = "Allow `tenant1|tenant2` in X-Scope-OrgID for queries.",
           .flag = "querier.multi-tenant-queries-enabled"});
  v.Field("query_store_only", &S::query_store_only,
          {.doc = "Never ask ingesters.", .flag = "querier.query-store-only"});
  v.Field("query_ingester_only", &S::query_ingester_only,
          {.doc = "Never read the store.", .flag = "querier.query-ingester-only"});
  v.Field("chunk_index_cache_size_mb", &S::chunk_index_cache_size_mb,
          {.doc = "Megabytes (10^6 bytes) of an in-process cache of chunk indexes (block "
                  "metadata and token filters, no log lines) that needle and limit-bound reads "
                  "fetch from each chunk object's end. Used only when "
                  "chunk_store_config.chunk_cache_config configures no cache (which would keep "
                  "them). 0 disables it.",
           .flag = "querier.chunk-index-cache-size-mb",
           .norn_only = true});
  v.Field("engine", &S::engine, {.doc = "LogQL engine.", .flag = ""});
}

template <class V>
void ResultsCacheConfig::Fields(V& v) {
  using S = ResultsCacheConfig;
  v.Field("cache", &S::cache, {.doc = "Cache of query results.", .flag = "frontend."});
  v.Field(
      "compression", &S::compression,
      {.doc = "Compression of cached results: empty or snappy.", .flag = "frontend.compression"});
}

template <class V>
void QueryRangeConfig::Fields(V& v) {
  using S = QueryRangeConfig;
  v.Field("align_queries_with_step", &S::align_queries_with_step,
          {.doc = "Align start and end of metric queries to the step.",
           .flag = "querier.align-querier-with-step"});
  v.Field("cache_results", &S::cache_results,
          {.doc = "Cache metric query results.", .flag = "querier.cache-results"});
  v.Field("max_retries", &S::max_retries,
          {.doc = "Retries of a failed sub-query.", .flag = "querier.max-retries-per-request"});
  v.Field("parallelise_shardable_queries", &S::parallelise_shardable_queries,
          {.doc = "Split shardable queries by stream shard.",
           .flag = "querier.parallelise-shardable-queries"});
  v.Field("results_cache", &S::results_cache, {.doc = "Results cache.", .flag = ""});
}

template <class V>
void FrontendConfig::Fields(V& v) {
  using S = FrontendConfig;
  v.Field("max_outstanding_per_tenant", &S::max_outstanding_per_tenant,
          {.doc = "Queued queries per tenant before 429 (without a scheduler).",
           .flag = "querier.max-outstanding-requests-per-tenant"});
  v.Field("compress_responses", &S::compress_responses,
          {.doc = "gzip HTTP responses when the client accepts it.",
           .flag = "querier.compress-http-responses"});
  v.Field("log_queries_longer_than", &S::log_queries_longer_than,
          {.doc = "Log queries slower than this (0 = off).",
           .flag = "frontend.log-queries-longer-than"});
  v.Field(
      "downstream_url", &S::downstream_url,
      {.doc = "Send queries to this URL instead of queriers.", .flag = "frontend.downstream-url"});
  v.Field("scheduler_address", &S::scheduler_address,
          {.doc = "query-scheduler address (empty = queue in the frontend).",
           .flag = "frontend.scheduler-address"});
  v.Field("tail_proxy_url", &S::tail_proxy_url,
          {.doc = "Querier URL tail requests are proxied to.", .flag = "frontend.tail-proxy-url"});
  v.Field("max_body_size", &S::max_body_size,
          {.doc = "Largest query request body.", .flag = "frontend.max-body-size"});
}

template <class V>
void FrontendWorkerConfig::Fields(V& v) {
  using S = FrontendWorkerConfig;
  v.Field("frontend_address", &S::frontend_address,
          {.doc = "query-frontend a querier pulls work from.", .flag = "querier.frontend-address"});
  v.Field(
      "scheduler_address", &S::scheduler_address,
      {.doc = "query-scheduler a querier pulls work from.", .flag = "querier.scheduler-address"});
  v.Field("dns_lookup_duration", &S::dns_lookup_duration,
          {.doc = "How often frontend/scheduler addresses are re-resolved.",
           .flag = "querier.dns-lookup-period"});
  v.Field("parallelism", &S::parallelism,
          {.doc = "Concurrent requests per frontend or scheduler.",
           .flag = "querier.worker-parallelism"});
  v.Field("match_max_concurrent", &S::match_max_concurrent,
          {.doc = "Use querier.max_concurrent workers in total instead of parallelism.",
           .flag = "querier.worker-match-max-concurrent"});
}

template <class V>
void QuerySchedulerConfig::Fields(V& v) {
  using S = QuerySchedulerConfig;
  v.Field("max_outstanding_requests_per_tenant", &S::max_outstanding_requests_per_tenant,
          {.doc = "Queued queries per tenant before 429.",
           .flag = "query-scheduler.max-outstanding-requests-per-tenant"});
  v.Field("querier_forget_delay", &S::querier_forget_delay,
          {.doc = "How long a disconnected querier keeps its tenant shard.",
           .flag = "query-scheduler.querier-forget-delay"});
  v.Field(
      "use_scheduler_ring", &S::use_scheduler_ring,
      {.doc = "Discover schedulers through a ring.", .flag = "query-scheduler.use-scheduler-ring"});
  v.Field("scheduler_ring", &S::scheduler_ring,
          {.doc = "The scheduler ring.", .flag = "query-scheduler.ring."});
}

template <class V>
void CompactorConfig::Fields(V& v) {
  using S = CompactorConfig;
  v.Field("working_directory", &S::working_directory,
          {.doc = "Scratch directory (default with common.path_prefix: <prefix>/compactor).",
           .flag = "compactor.working-directory"});
  v.Field("compaction_interval", &S::compaction_interval,
          {.doc = "How often index files are compacted.", .flag = "compactor.compaction-interval"});
  v.Field("apply_retention_interval", &S::apply_retention_interval,
          {.doc = "How often retention runs (0 = with every compaction).",
           .flag = "compactor.apply-retention-interval"});
  v.Field("retention_enabled", &S::retention_enabled,
          {.doc = "Delete data older than the retention period and apply delete requests.",
           .flag = "compactor.retention-enabled"});
  v.Field("retention_delete_delay", &S::retention_delete_delay,
          {.doc = "Delay between marking chunks for deletion and deleting them.",
           .flag = "compactor.retention-delete-delay"});
  v.Field("retention_delete_worker_count", &S::retention_delete_worker_count,
          {.doc = "Parallel chunk deleters.", .flag = "compactor.retention-delete-worker-count"});
  v.Field("delete_request_store", &S::delete_request_store,
          {.doc = "Object store holding delete requests (required with retention).",
           .flag = "compactor.delete-request-store"});
  v.Field("delete_request_cancel_period", &S::delete_request_cancel_period,
          {.doc = "How long a delete request can be cancelled.",
           .flag = "compactor.delete-request-cancel-period"});
}

template <class V>
void RulerLocalStorageConfig::Fields(V& v) {
  v.Field("directory", &RulerLocalStorageConfig::directory,
          {.doc = "Directory of rule files (<dir>/<tenant>/<file>.yaml).",
           .flag = "ruler.storage.local.directory"});
}

template <class V>
void RulerStorageConfig::Fields(V& v) {
  using S = RulerStorageConfig;
  v.Field("type", &S::type, {.doc = "Rule store: local or s3.", .flag = "ruler.storage.type"});
  v.Field("local", &S::local, {.doc = "Local rule store.", .flag = ""});
}

template <class V>
void RemoteWriteClientConfig::Fields(V& v) {
  using S = RemoteWriteClientConfig;
  v.Field("url", &S::url, {.doc = "Prometheus remote-write URL."});
  v.Field("remote_timeout", &S::remote_timeout, {.doc = "Timeout of a remote-write request."});
}

template <class V>
void RulerRemoteWriteConfig::Fields(V& v) {
  using S = RulerRemoteWriteConfig;
  v.Field("enabled", &S::enabled,
          {.doc = "Remote-write recording rule results.", .flag = "ruler.remote-write.enabled"});
  v.Field("client", &S::client, {.doc = "Remote-write target."});
}

template <class V>
void RulerConfig::Fields(V& v) {
  using S = RulerConfig;
  v.Field("external_url", &S::external_url,
          {.doc = "URL put in alert generator links.", .flag = "ruler.external.url"});
  v.Field("storage", &S::storage, {.doc = "Where rules are read from.", .flag = ""});
  v.Field("rule_path", &S::rule_path,
          {.doc = "Scratch directory for rule files (default with common.path_prefix: "
                  "<prefix>/rules-temp).",
           .flag = "ruler.rule-path"});
  v.Field("alertmanager_url", &S::alertmanager_url,
          {.doc = "Comma-separated Alertmanager URLs.", .flag = "ruler.alertmanager-url"});
  v.Field("enable_alertmanager_v2", &S::enable_alertmanager_v2,
          {.doc = "Use the Alertmanager v2 API.", .flag = "ruler.alertmanager-use-v2"});
  v.Field("evaluation_interval", &S::evaluation_interval,
          {.doc = "How often rules are evaluated.", .flag = "ruler.evaluation-interval"});
  v.Field("poll_interval", &S::poll_interval,
          {.doc = "How often rule files are re-read.", .flag = "ruler.poll-interval"});
  v.Field("enable_api", &S::enable_api,
          {.doc = "Serve the rules API.", .flag = "ruler.enable-api"});
  v.Field("enable_sharding", &S::enable_sharding,
          {.doc = "Shard rule groups over rulers with a ring.", .flag = "ruler.enable-sharding"});
  v.Field("remote_write", &S::remote_write,
          {.doc = "Remote write of recording rules.", .flag = ""});
}

template <class V>
void RetentionStreamConfig::Fields(V& v) {
  using S = RetentionStreamConfig;
  v.Field("selector", &S::selector, {.doc = "Stream selector, e.g. {namespace=\"dev\"}."});
  v.Field("priority", &S::priority, {.doc = "Higher priority wins when selectors overlap."});
  v.Field("period", &S::period, {.doc = "Retention of matching streams.", .model_duration = true});
}

template <class V>
void LimitsConfig::Fields(V& v) {
  using S = LimitsConfig;
  v.Field("ingestion_rate_strategy", &S::ingestion_rate_strategy,
          {.doc = "local: the rate limit applies per distributor; global: it is shared by all "
                  "distributors.",
           .flag = "distributor.ingestion-rate-limit-strategy"});
  v.Field("ingestion_rate_mb", &S::ingestion_rate_mb,
          {.doc = "Per-tenant ingestion rate limit in MB/s.",
           .flag = "distributor.ingestion-rate-limit-mb"});
  v.Field(
      "ingestion_burst_size_mb", &S::ingestion_burst_size_mb,
      {.doc = "Per-tenant ingestion burst in MB.", .flag = "distributor.ingestion-burst-size-mb"});
  v.Field("max_label_name_length", &S::max_label_name_length,
          {.doc = "Longest label name accepted.", .flag = "validation.max-length-label-name"});
  v.Field("max_label_value_length", &S::max_label_value_length,
          {.doc = "Longest label value accepted.", .flag = "validation.max-length-label-value"});
  v.Field(
      "max_label_names_per_series", &S::max_label_names_per_series,
      {.doc = "Most labels a stream may have.", .flag = "validation.max-label-names-per-series"});
  v.Field("reject_old_samples", &S::reject_old_samples,
          {.doc = "Reject entries older than reject_old_samples_max_age.",
           .flag = "validation.reject-old-samples"});
  v.Field("reject_old_samples_max_age", &S::reject_old_samples_max_age,
          {.doc = "Oldest accepted entry age.",
           .flag = "validation.reject-old-samples.max-age",
           .model_duration = true});
  v.Field("creation_grace_period", &S::creation_grace_period,
          {.doc = "How far in the future an entry timestamp may be.",
           .flag = "validation.create-grace-period",
           .model_duration = true});
  v.Field(
      "max_line_size", &S::max_line_size,
      {.doc = "Longest accepted log line (0 = unlimited).", .flag = "distributor.max-line-size"});
  v.Field("max_line_size_truncate", &S::max_line_size_truncate,
          {.doc = "Truncate longer lines instead of rejecting them.",
           .flag = "distributor.max-line-size-truncate"});
  v.Field("increment_duplicate_timestamp", &S::increment_duplicate_timestamp,
          {.doc = "Add 1ns to an entry whose timestamp equals the previous one's in the stream.",
           .flag = "validation.increment-duplicate-timestamps"});
  v.Field("unordered_writes", &S::unordered_writes,
          {.doc = "Accept out-of-order entries within the ingester's window.",
           .flag = "ingester.unordered-writes"});
  v.Field("max_streams_per_user", &S::max_streams_per_user,
          {.doc = "Active streams per tenant per ingester (0 = unlimited).",
           .flag = "ingester.max-streams-per-user"});
  v.Field("max_global_streams_per_user", &S::max_global_streams_per_user,
          {.doc = "Active streams per tenant across the cluster (0 = unlimited).",
           .flag = "ingester.max-global-streams-per-user"});
  v.Field("per_stream_rate_limit", &S::per_stream_rate_limit,
          {.doc = "Per-stream rate limit in bytes per second.",
           .flag = "ingester.per-stream-rate-limit"});
  v.Field("per_stream_rate_limit_burst", &S::per_stream_rate_limit_burst,
          {.doc = "Per-stream burst in bytes.", .flag = "ingester.per-stream-rate-limit-burst"});
  v.Field("allow_structured_metadata", &S::allow_structured_metadata,
          {.doc = "Accept structured metadata on entries.",
           .flag = "validation.allow-structured-metadata"});
  v.Field("max_structured_metadata_size", &S::max_structured_metadata_size,
          {.doc = "Largest structured metadata per entry.",
           .flag = "limits.max-structured-metadata-size"});
  v.Field("max_structured_metadata_entries_count", &S::max_structured_metadata_entries_count,
          {.doc = "Most structured metadata pairs per entry.",
           .flag = "limits.max-structured-metadata-entries-count"});
  v.Field(
      "max_entries_limit_per_query", &S::max_entries_limit_per_query,
      {.doc = "Largest `limit` a log query may ask for.", .flag = "validation.max-entries-limit"});
  v.Field("max_query_series", &S::max_query_series,
          {.doc = "Most series a metric query may return.", .flag = "querier.max-query-series"});
  v.Field("max_chunks_per_query", &S::max_chunks_per_query,
          {.doc = "Most chunks a query may fetch.", .flag = "store.query-chunk-limit"});
  v.Field("max_query_length", &S::max_query_length,
          {.doc = "Longest query range (0 = unlimited).",
           .flag = "store.max-query-length",
           .model_duration = true});
  v.Field("max_query_lookback", &S::max_query_lookback,
          {.doc = "How far back queries may reach (0 = unlimited).",
           .flag = "querier.max-query-lookback",
           .model_duration = true});
  v.Field("max_query_parallelism", &S::max_query_parallelism,
          {.doc = "Sub-queries of one query scheduled at once.",
           .flag = "querier.max-query-parallelism"});
  v.Field("tsdb_max_query_parallelism", &S::tsdb_max_query_parallelism,
          {.doc = "max_query_parallelism for tsdb schema periods.",
           .flag = "querier.tsdb-max-query-parallelism"});
  v.Field("cardinality_limit", &S::cardinality_limit,
          {.doc = "Most series an index look-up may return.", .flag = "store.cardinality-limit"});
  v.Field(
      "query_timeout", &S::query_timeout,
      {.doc = "Timeout of one query.", .flag = "querier.query-timeout", .model_duration = true});
  v.Field("max_streams_matchers_per_query", &S::max_streams_matchers_per_query,
          {.doc = "Most stream selectors in one query.",
           .flag = "querier.max-streams-matcher-per-query"});
  v.Field("max_concurrent_tail_requests", &S::max_concurrent_tail_requests,
          {.doc = "Live tails per tenant.", .flag = "querier.max-concurrent-tail-requests"});
  v.Field("max_cache_freshness_per_query", &S::max_cache_freshness_per_query,
          {.doc = "Results newer than this are not cached.",
           .flag = "frontend.max-cache-freshness",
           .model_duration = true});
  v.Field("split_queries_by_interval", &S::split_queries_by_interval,
          {.doc = "Split queries into sub-queries of this length (0 = no split).",
           .flag = "querier.split-queries-by-interval",
           .model_duration = true});
  v.Field("retention_period", &S::retention_period,
          {.doc = "Delete data older than this when compactor.retention_enabled (0 = keep).",
           .flag = "store.retention",
           .model_duration = true});
  v.Field("retention_stream", &S::retention_stream,
          {.doc = "Per-stream retention periods overriding retention_period."});
}

template <class V>
void RuntimeConfigConfig::Fields(V& v) {
  using S = RuntimeConfigConfig;
  v.Field("period", &S::period,
          {.doc = "How often the runtime config file is re-read.",
           .flag = "runtime-config.reload-period"});
  v.Field("file", &S::file,
          {.doc = "YAML file with per-tenant `overrides` of limits_config keys.",
           .flag = "runtime-config.file"});
}

template <class V>
void MemberlistConfig::Fields(V& v) {
  using S = MemberlistConfig;
  v.Field("node_name", &S::node_name,
          {.doc = "Name of this member (default: hostname).", .flag = "memberlist.nodename"});
  v.Field("join_members", &S::join_members,
          {.doc = "Members to join at start; when set and no ring store is configured, rings use "
                  "memberlist.",
           .flag = "memberlist.join"});
  v.Field("bind_addr", &S::bind_addr,
          {.doc = "Addresses to listen on for gossip.", .flag = "memberlist.bind-addr"});
  v.Field("bind_port", &S::bind_port, {.doc = "Gossip port.", .flag = "memberlist.bind-port"});
  v.Field("advertise_addr", &S::advertise_addr,
          {.doc = "Address advertised to other members.", .flag = "memberlist.advertise-addr"});
  v.Field("advertise_port", &S::advertise_port,
          {.doc = "Port advertised to other members.", .flag = "memberlist.advertise-port"});
}

template <class V>
void AnalyticsConfig::Fields(V& v) {
  v.Field("reporting_enabled", &AnalyticsConfig::reporting_enabled,
          {.doc = "Accepted for compatibility; Norn never sends usage reports.",
           .flag = "reporting.enabled"});
}

template <class V>
void TracingConfig::Fields(V& v) {
  v.Field("enabled", &TracingConfig::enabled,
          {.doc = "Record traces (exported when OTEL/Jaeger environment variables are set).",
           .flag = "tracing.enabled"});
}

template <class V>
void Config::Fields(V& v) {
  using S = Config;
  v.Field("target", &S::target,
          {.doc = "Comma-separated components to run: all, read, write, backend, or component "
                  "names (distributor, ingester, querier, query-frontend, query-scheduler, "
                  "index-gateway, compactor, ruler).",
           .flag = "target"});
  v.Field("auth_enabled", &S::auth_enabled,
          {.doc = "Require X-Scope-OrgID; when false every request is tenant `fake`.",
           .flag = "auth.enabled"});
  v.Field("server", &S::server, {.doc = "HTTP and gRPC servers, logging.", .flag = ""});
  v.Field("common", &S::common, {.doc = "Settings shared by several components.", .flag = ""});
  v.Field("distributor", &S::distributor, {.doc = "Distributor.", .flag = ""});
  v.Field("ingester", &S::ingester, {.doc = "Ingester.", .flag = ""});
  v.Field("ingester_client", &S::ingester_client, {.doc = "Client to ingesters.", .flag = ""});
  v.Field("querier", &S::querier, {.doc = "Querier.", .flag = ""});
  v.Field("query_range", &S::query_range,
          {.doc = "Query splitting, sharding and results cache in the frontend.", .flag = ""});
  v.Field("frontend", &S::frontend, {.doc = "Query frontend.", .flag = ""});
  v.Field("frontend_worker", &S::frontend_worker,
          {.doc = "Querier side of the frontend/scheduler work queue.", .flag = ""});
  v.Field("query_scheduler", &S::query_scheduler, {.doc = "Query scheduler.", .flag = ""});
  v.Field("storage_config", &S::storage_config, {.doc = "Object stores and index.", .flag = ""});
  v.Field("schema_config", &S::schema_config, {.doc = "Schema periods.", .flag = ""});
  v.Field("chunk_store_config", &S::chunk_store_config, {.doc = "Chunk store caches.", .flag = ""});
  v.Field("compactor", &S::compactor, {.doc = "Compactor and retention.", .flag = ""});
  v.Field("ruler", &S::ruler, {.doc = "Ruler.", .flag = ""});
  v.Field("limits_config", &S::limits_config,
          {.doc = "Per-tenant limits (defaults; see runtime_config for overrides).", .flag = ""});
  v.Field("runtime_config", &S::runtime_config, {.doc = "Runtime overrides file.", .flag = ""});
  v.Field("memberlist", &S::memberlist, {.doc = "Gossip ring KV.", .flag = ""});
  v.Field("analytics", &S::analytics, {.doc = "Usage reporting.", .flag = ""});
  v.Field("tracing", &S::tracing, {.doc = "Tracing.", .flag = ""});
}

}  // namespace norn::config
