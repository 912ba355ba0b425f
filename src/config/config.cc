// YAML decoding over the field registration, Loki's `common` propagation, defaults and
// validation.

#include "config/config.h"

#include <string>
#include <string_view>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "config/fields.h"
#include "config/internal.h"

namespace norn::config {
namespace internal {
namespace {

struct DecodeCtx {
  std::string source;
  KeyLines* keys;
};

int LineOf(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.line >= 0 ? m.line + 1 : 0;
}

[[noreturn]] void Fail(const DecodeCtx& ctx, int line, const std::string& msg) {
  if (line > 0)
    throw ConfigError{absl::StrCat(ctx.source, ":", line, ": ", msg)};
  throw ConfigError{absl::StrCat(ctx.source, ": ", msg)};
}

const char* KindName(const YAML::Node& n) {
  if (n.IsMap())
    return "a mapping";
  if (n.IsSequence())
    return "a list";
  return "a scalar";
}

template <class S>
void DecodeMap(S& obj, const YAML::Node& node, const std::string& path, DecodeCtx& ctx);

template <class T>
void DecodeValue(T& out, const YAML::Node& key, const YAML::Node& val, const std::string& path,
                 const FieldOpts& o, DecodeCtx& ctx) {
  const int line = LineOf(key);
  if (ctx.keys != nullptr)
    (*ctx.keys)[path] = line;
  // A key without a value keeps the default, like a missing key.
  if (!val.IsDefined() || val.IsNull())
    return;
  if constexpr (SectionType<T>) {
    DecodeMap(out, val, path, ctx);
  } else if constexpr (kIsSectionVector<T>) {
    if (!val.IsSequence())
      Fail(ctx, line, absl::StrCat(path, ": expected a list, got ", KindName(val)));
    T result;
    int i = 0;
    for (const YAML::Node& item : val) {
      typename T::value_type element;
      DecodeMap(element, item, absl::StrCat(path, "[", i++, "]"), ctx);
      result.push_back(std::move(element));
    }
    out = std::move(result);
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    if (!val.IsSequence()) {
      Fail(ctx, line, absl::StrCat(path, ": expected a list of strings, got ", KindName(val)));
    }
    std::vector<std::string> result;
    for (const YAML::Node& item : val) {
      if (!item.IsScalar()) {
        Fail(ctx, LineOf(item),
             absl::StrCat(path, ": expected a list of strings, got an element that is ",
                          KindName(item)));
      }
      result.push_back(item.Scalar());
    }
    out = std::move(result);
  } else {
    if (!val.IsScalar()) {
      Fail(ctx, line,
           absl::StrCat(path, ": expected a ", TypeName<T>(), " value, got ", KindName(val)));
    }
    absl::Status s = ParseLeaf(out, val.Scalar(), o);
    if (!s.ok())
      Fail(ctx, LineOf(val) > 0 ? LineOf(val) : line, absl::StrCat(path, ": ", s.message()));
  }
}

template <class S>
struct KeyMatcher {
  S& obj;
  const std::string& key;
  const YAML::Node& key_node;
  const YAML::Node& value;
  const std::string& path;
  DecodeCtx& ctx;
  bool found = false;

  template <class T>
  void Field(const char* name, T S::*member, const FieldOpts& o) {
    if (found || key != name)
      return;
    found = true;
    DecodeValue(obj.*member, key_node, value, path, o, ctx);
  }
};

template <class S>
void DecodeMap(S& obj, const YAML::Node& node, const std::string& path, DecodeCtx& ctx) {
  if (!node.IsDefined() || node.IsNull())
    return;
  if (!node.IsMap()) {
    Fail(ctx, LineOf(node),
         absl::StrCat(path.empty() ? "top level" : path, ": expected a mapping, got ",
                      KindName(node)));
  }
  absl::flat_hash_set<std::string> seen;
  for (const auto& kv : node) {
    const YAML::Node& key_node = kv.first;
    const int line = LineOf(key_node);
    if (!key_node.IsScalar())
      Fail(ctx, line, absl::StrCat(path, ": keys must be strings"));
    const std::string key = key_node.Scalar();
    const std::string full = path.empty() ? key : absl::StrCat(path, ".", key);
    if (!seen.insert(key).second)
      Fail(ctx, line, absl::StrCat("duplicate key \"", full, "\""));
    KeyMatcher<S> m{obj, key, key_node, kv.second, full, ctx};
    S::Fields(m);
    if (!m.found) {
      Fail(ctx, line,
           absl::StrCat("unknown key \"", full,
                        "\" (not supported by Norn; see docs/configuration.md)"));
    }
  }
}

// Copies the fields of `src` that were set explicitly (under src_path) into `dst` wherever the
// corresponding key under dst_path was not set explicitly.
template <class S>
struct CopySetFields {
  const S& src;
  S& dst;
  std::string src_path;
  std::string dst_path;
  const KeyLines& keys;

  template <class T>
  void Field(const char* name, T S::*member, const FieldOpts&) {
    std::string sp = absl::StrCat(src_path, ".", name);
    std::string dp = absl::StrCat(dst_path, ".", name);
    if constexpr (SectionType<T>) {
      CopySetFields<T> sub{src.*member, dst.*member, sp, dp, keys};
      T::Fields(sub);
    } else {
      if (keys.contains(sp) && !keys.contains(dp))
        dst.*member = src.*member;
    }
  }
};

template <class S>
void CopySet(const S& src, S& dst, std::string src_path, std::string dst_path,
             const KeyLines& keys) {
  CopySetFields<S> c{src, dst, std::move(src_path), std::move(dst_path), keys};
  S::Fields(c);
}

void ApplyCommon(Config& c, KeyLines keys) {
  auto set = [&](const std::string& p) { return keys.contains(p); };
  CommonConfig& cm = c.common;
  std::string prefix = cm.path_prefix;
  while (prefix.size() > 1 && prefix.back() == '/')
    prefix.pop_back();
  if (!prefix.empty()) {
    auto assign = [&](const std::string& path, std::string& field, const char* leaf) {
      if (!set(path))
        field = absl::StrCat(prefix, "/", leaf);
    };
    assign("ingester.wal.dir", c.ingester.wal.dir, "wal");
    assign("compactor.working_directory", c.compactor.working_directory, "compactor");
    assign("storage_config.boltdb_shipper.active_index_directory",
           c.storage_config.boltdb_shipper.active_index_directory, "boltdb-shipper-active");
    assign("storage_config.boltdb_shipper.cache_location",
           c.storage_config.boltdb_shipper.cache_location, "boltdb-shipper-cache");
    assign("storage_config.tsdb_shipper.active_index_directory",
           c.storage_config.tsdb_shipper.active_index_directory, "tsdb-shipper-active");
    assign("storage_config.tsdb_shipper.cache_location",
           c.storage_config.tsdb_shipper.cache_location, "tsdb-shipper-cache");
    assign("ruler.rule_path", c.ruler.rule_path, "rules-temp");
  }
  if (!cm.storage.filesystem.chunks_directory.empty() &&
      !set("storage_config.filesystem.directory")) {
    c.storage_config.filesystem.directory = cm.storage.filesystem.chunks_directory;
  }
  if (!cm.storage.filesystem.rules_directory.empty()) {
    if (!set("ruler.storage.type"))
      c.ruler.storage.type = "local";
    if (!set("ruler.storage.local.directory")) {
      c.ruler.storage.local.directory = cm.storage.filesystem.rules_directory;
    }
  }
  CopySet(cm.storage.s3, c.storage_config.aws, "common.storage.s3", "storage_config.aws", keys);

  if (!set("ingester.lifecycler.ring.replication_factor")) {
    c.ingester.lifecycler.ring.replication_factor = cm.replication_factor;
  }
  // With memberlist members and no explicit ring store anywhere in common, rings gossip.
  if (!c.memberlist.join_members.empty() && !set("common.ring.kvstore.store")) {
    cm.ring.kvstore.store = "memberlist";
    keys["common.ring.kvstore.store"] = 0;
  }
  CopySet(cm.ring, c.distributor.ring, "common.ring", "distributor.ring", keys);
  CopySet(cm.ring, c.query_scheduler.scheduler_ring, "common.ring",
          "query_scheduler.scheduler_ring", keys);
  CopySet(cm.ring.kvstore, c.ingester.lifecycler.ring.kvstore, "common.ring.kvstore",
          "ingester.lifecycler.ring.kvstore", keys);
  if (set("common.ring.heartbeat_timeout") && !set("ingester.lifecycler.ring.heartbeat_timeout")) {
    c.ingester.lifecycler.ring.heartbeat_timeout = cm.ring.heartbeat_timeout;
  }
  if (set("common.ring.heartbeat_period") && !set("ingester.lifecycler.heartbeat_period")) {
    c.ingester.lifecycler.heartbeat_period = cm.ring.heartbeat_period;
  }
  const std::string& addr = !cm.instance_addr.empty() ? cm.instance_addr : cm.ring.instance_addr;
  if (!addr.empty()) {
    if (!set("ingester.lifecycler.address"))
      c.ingester.lifecycler.address = addr;
    if (!set("distributor.ring.instance_addr"))
      c.distributor.ring.instance_addr = addr;
    if (!set("query_scheduler.scheduler_ring.instance_addr")) {
      c.query_scheduler.scheduler_ring.instance_addr = addr;
    }
    if (cm.ring.instance_addr.empty())
      cm.ring.instance_addr = addr;
  }
}

PeriodConfig DefaultPeriod(const Config& c) {
  PeriodConfig p;
  p.from = absl::CivilDay(2020, 10, 24);
  p.store = "tsdb";
  p.schema = "v13";
  const bool s3 = !c.storage_config.aws.bucketnames.empty() || !c.storage_config.aws.s3.empty();
  p.object_store = s3 ? "s3" : "filesystem";
  return p;
}

// Validation helpers that know where a key came from.
class Checker {
 public:
  Checker(const KeyLines& keys, std::string_view source) : keys_(keys), source_(source) {}

  absl::Status Error(const std::string& path, const std::string& msg) const {
    auto it = keys_.find(path);
    if (it != keys_.end() && it->second > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_, ":", it->second, ": ", path, ": ", msg));
    }
    if (it != keys_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("command line: ", path, ": ", msg));
    }
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", path, ": ", msg));
  }

  absl::Status OneOf(const std::string& path, const std::string& value,
                     std::initializer_list<const char*> allowed) const {
    for (auto a : allowed) {
      if (value == a)
        return absl::OkStatus();
    }
    return Error(path, absl::StrCat("invalid value \"", value, "\" (want one of ",
                                    absl::StrJoin(allowed, ", "), ")"));
  }

  absl::Status Range(const std::string& path, int64_t v, int64_t lo, int64_t hi) const {
    if (v >= lo && v <= hi)
      return absl::OkStatus();
    return Error(path, absl::StrCat("value ", v, " out of range [", lo, ", ", hi, "]"));
  }

 private:
  const KeyLines& keys_;
  std::string source_;
};

absl::Status ValidateImpl(Config& c, const KeyLines& keys, std::string_view source) {
  Checker ck(keys, source);
  constexpr int64_t kMaxInt = std::numeric_limits<int>::max();

  // No negative durations anywhere.
  absl::Status neg = absl::OkStatus();
  WalkLeaves(c, [&](auto& value, const std::string& path, const std::string&, const FieldOpts&) {
    using T = std::remove_cvref_t<decltype(value)>;
    if constexpr (std::is_same_v<T, absl::Duration>) {
      if (neg.ok() && value < absl::ZeroDuration())
        neg = ck.Error(path, "must not be negative");
    }
  });
  RETURN_IF_ERROR(neg);

  // server
  const ServerConfig& s = c.server;
  RETURN_IF_ERROR(ck.Range("server.http_listen_port", s.http_listen_port, 0, 65535));
  RETURN_IF_ERROR(ck.Range("server.grpc_listen_port", s.grpc_listen_port, 0, 65535));
  RETURN_IF_ERROR(
      ck.OneOf("server.http_listen_network", s.http_listen_network, {"tcp", "tcp4", "tcp6"}));
  RETURN_IF_ERROR(ck.OneOf("server.log_level", s.log_level, {"debug", "info", "warn", "error"}));
  RETURN_IF_ERROR(ck.OneOf("server.log_format", s.log_format, {"logfmt", "json"}));
  RETURN_IF_ERROR(ck.Range("server.grpc_server_max_recv_msg_size", s.grpc_server_max_recv_msg_size,
                           1, kMaxInt));
  RETURN_IF_ERROR(ck.Range("server.grpc_server_max_send_msg_size", s.grpc_server_max_send_msg_size,
                           1, kMaxInt));
  RETURN_IF_ERROR(ck.Range("server.grpc_server_max_concurrent_streams",
                           s.grpc_server_max_concurrent_streams, 0, kMaxInt));
  if (s.http_server_max_request_body_bytes == 0) {
    return ck.Error("server.http_server_max_request_body_bytes", "must be positive");
  }

  // common and rings
  RETURN_IF_ERROR(ck.Range("common.replication_factor", c.common.replication_factor, 1, 100));
  RETURN_IF_ERROR(ck.Range("ingester.lifecycler.ring.replication_factor",
                           c.ingester.lifecycler.ring.replication_factor, 1, 100));
  RETURN_IF_ERROR(ck.Range("ingester.lifecycler.port", c.ingester.lifecycler.port, 0, 65535));
  RETURN_IF_ERROR(
      ck.Range("ingester.lifecycler.num_tokens", c.ingester.lifecycler.num_tokens, 1, kMaxInt));

  // ingester
  IngesterConfig& in = c.ingester;
  std::string enc = absl::AsciiStrToLower(in.chunk_encoding);
  if (enc == "flate")
    enc = "gzip";
  if (enc == "lz4-64k" || enc == "lz4-256k" || enc == "lz4-1m" || enc == "lz4-4m")
    enc = "lz4";
  RETURN_IF_ERROR(
      ck.OneOf("ingester.chunk_encoding", enc, {"none", "gzip", "lz4", "snappy", "zstd"}));
  in.chunk_encoding = enc;
  // A block's raw size is at most 512 MiB (the chunk format's bound): the head is cut once it
  // reaches chunk_block_size, with room left for the line that crosses it.
  RETURN_IF_ERROR(ck.Range("ingester.chunk_block_size", in.chunk_block_size, 1, 256 << 20));
  RETURN_IF_ERROR(ck.Range("ingester.chunk_target_size", in.chunk_target_size, 0, kMaxInt));
  RETURN_IF_ERROR(ck.Range("ingester.concurrent_flushes", in.concurrent_flushes, 1, kMaxInt));
  if (in.wal.enabled && in.wal.dir.empty())
    return ck.Error("ingester.wal.dir", "must be set");

  // limits
  const LimitsConfig& l = c.limits_config;
  RETURN_IF_ERROR(ck.OneOf("limits_config.ingestion_rate_strategy", l.ingestion_rate_strategy,
                           {"local", "global"}));
  if (l.ingestion_rate_mb < 0)
    return ck.Error("limits_config.ingestion_rate_mb", "must be >= 0");
  if (l.ingestion_burst_size_mb < 0) {
    return ck.Error("limits_config.ingestion_burst_size_mb", "must be >= 0");
  }
  RETURN_IF_ERROR(ck.Range("limits_config.max_entries_limit_per_query",
                           l.max_entries_limit_per_query, 0, kMaxInt));
  RETURN_IF_ERROR(
      ck.Range("limits_config.max_query_parallelism", l.max_query_parallelism, 1, kMaxInt));

  // schema_config
  const auto& periods = c.schema_config.configs;
  for (size_t i = 0; i < periods.size(); ++i) {
    const PeriodConfig& p = periods[i];
    const std::string base = absl::StrCat("schema_config.configs[", i, "]");
    RETURN_IF_ERROR(ck.OneOf(base + ".store", p.store, {"tsdb", "boltdb-shipper"}));
    RETURN_IF_ERROR(
        ck.OneOf(base + ".object_store", p.object_store, {"filesystem", "s3", "aws", "inmemory"}));
    int version = 0;
    if (p.schema.size() < 2 || p.schema[0] != 'v' ||
        !absl::SimpleAtoi(p.schema.substr(1), &version) || version < 9 || version > 13) {
      return ck.Error(base + ".schema",
                      absl::StrCat("invalid schema version \"", p.schema, "\" (want v9 ... v13)"));
    }
    if (p.index.period != absl::Hours(24)) {
      return ck.Error(base + ".index.period",
                      absl::StrCat("must be 24h, got ", DurationToString(p.index.period)));
    }
    if (p.row_shards < 1)
      return ck.Error(base + ".row_shards", "must be positive");
    if (i > 0 && !(periods[i - 1].from < p.from)) {
      return ck.Error(base + ".from", "periods must be in strictly increasing `from` order");
    }
  }

  // everything else
  if (c.runtime_config.period <= absl::ZeroDuration()) {
    return ck.Error("runtime_config.period", "must be positive");
  }
  RETURN_IF_ERROR(ck.Range("memberlist.bind_port", c.memberlist.bind_port, 0, 65535));
  RETURN_IF_ERROR(ck.Range("memberlist.advertise_port", c.memberlist.advertise_port, 0, 65535));
  RETURN_IF_ERROR(ck.Range("querier.max_concurrent", c.querier.max_concurrent, 1, kMaxInt));
  RETURN_IF_ERROR(ck.Range("querier.chunk_index_cache_size_mb", c.querier.chunk_index_cache_size_mb,
                           0, kMaxInt));
  RETURN_IF_ERROR(
      ck.Range("frontend_worker.parallelism", c.frontend_worker.parallelism, 1, kMaxInt));
  if (!c.ruler.storage.type.empty()) {
    RETURN_IF_ERROR(ck.OneOf("ruler.storage.type", c.ruler.storage.type, {"local", "s3"}));
  }
  return absl::OkStatus();
}

}  // namespace

void DecodeLimitsNode(const YAML::Node& node, const std::string& path, std::string_view source,
                      LimitsConfig& out, KeyLines* keys) {
  DecodeCtx ctx{std::string(source), keys};
  DecodeMap(out, node, path, ctx);
}

absl::Status DecodeYaml(std::string_view text, const ParseOptions& options, Config& config,
                        KeyLines& keys) {
  const std::string expanded = options.expand_env ? ExpandEnv(text) : std::string(text);
  DecodeCtx ctx{options.source_name, &keys};
  try {
    YAML::Node root = YAML::Load(expanded);
    DecodeMap(config, root, "", ctx);
  } catch (const ConfigError& e) {
    return absl::InvalidArgumentError(e.message);
  } catch (const YAML::Exception& e) {
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    return absl::InvalidArgumentError(
        absl::StrCat(options.source_name, ":", line, ": invalid YAML: ", e.msg));
  }
  return absl::OkStatus();
}

// Loki turns an embedded chunk cache on whenever no other cache is configured for chunks. Norn
// does so too, unless embedded_cache.enabled is set either way, except over the filesystem
// store: the kernel's page cache already keeps its chunk files in memory, and a second copy in
// the process only costs memory and time (a 100 MB cache made the small benchmark's queries
// take 60% more CPU and 190 MB more memory, docs/caching.md).
void ApplyChunkCacheDefault(Config& c, const KeyLines& keys) {
  CacheConfig& cc = c.chunk_store_config.chunk_cache_config;
  if (keys.contains("chunk_store_config.chunk_cache_config.embedded_cache.enabled"))
    return;
  // The test cache::MemcachedConfigured makes (this module does not depend on that one).
  if (!cc.memcached_client.host.empty() || !cc.memcached_client.addresses.empty())
    return;
  cc.embedded_cache.enabled = c.schema_config.configs.back().object_store != "filesystem";
}

absl::Status Finalize(Config& config, const KeyLines& keys, std::string_view source) {
  ApplyCommon(config, keys);
  if (config.schema_config.configs.empty()) {
    config.schema_config.configs.push_back(DefaultPeriod(config));
  }
  ApplyChunkCacheDefault(config, keys);
  return ValidateImpl(config, keys, source);
}

Config EmbeddedBase(KeyLines& keys) {
  Config c;
  c.auth_enabled = false;
  c.common.path_prefix = "data";
  c.common.replication_factor = 1;
  c.common.ring.kvstore.store = "inmemory";
  c.common.storage.filesystem.chunks_directory = "data/chunks";
  c.common.storage.filesystem.rules_directory = "data/rules";
  c.query_range.results_cache.cache.embedded_cache.enabled = true;
  c.query_range.cache_results = true;
  c.analytics.reporting_enabled = false;
  for (const char* k : {"auth_enabled", "common.path_prefix", "common.replication_factor",
                        "common.ring.kvstore.store", "common.storage.filesystem.chunks_directory",
                        "common.storage.filesystem.rules_directory",
                        "query_range.results_cache.cache.embedded_cache.enabled",
                        "query_range.cache_results", "analytics.reporting_enabled"}) {
    keys[k] = 0;
  }
  return c;
}

}  // namespace internal

Config LokiDefaults() {
  return Config{};
}

Config EmbeddedDefaults() {
  internal::KeyLines keys;
  Config c = internal::EmbeddedBase(keys);
  absl::Status s = internal::Finalize(c, keys, "embedded defaults");
  (void)s;  // The embedded defaults are valid by construction (config_test checks it).
  return c;
}

absl::StatusOr<Config> ParseYaml(std::string_view yaml_text, const ParseOptions& options) {
  Config config = LokiDefaults();
  internal::KeyLines keys;
  RETURN_IF_ERROR(internal::DecodeYaml(yaml_text, options, config, keys));
  RETURN_IF_ERROR(internal::Finalize(config, keys, options.source_name));
  return config;
}

absl::Status Validate(Config& config) {
  return internal::ValidateImpl(config, internal::KeyLines{}, "config");
}

}  // namespace norn::config
