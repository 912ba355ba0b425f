#include "config/config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/flags.h"

namespace norn::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string TempFile(const std::string& name, const std::string& content) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << content;
  return path;
}

TEST(Defaults, MatchLoki) {
  Config c = LokiDefaults();
  EXPECT_EQ(c.target, "all");
  EXPECT_TRUE(c.auth_enabled);
  EXPECT_EQ(c.server.http_listen_port, 3100);
  EXPECT_EQ(c.server.grpc_listen_port, 9095);
  EXPECT_EQ(c.server.http_server_read_timeout, absl::Seconds(30));
  EXPECT_EQ(c.server.http_server_idle_timeout, absl::Seconds(120));
  EXPECT_EQ(c.server.graceful_shutdown_timeout, absl::Seconds(30));
  EXPECT_EQ(c.server.grpc_server_max_recv_msg_size, 4194304);
  EXPECT_EQ(c.server.log_level, "info");
  EXPECT_EQ(c.server.log_format, "logfmt");
  EXPECT_EQ(c.server.http_server_max_request_body_bytes, 104857600u);
  EXPECT_EQ(c.ingester.chunk_encoding, "zstd");  // Norn's measured default (Loki 3.x: snappy).
  EXPECT_EQ(c.ingester.chunk_block_size, 262144);
  EXPECT_EQ(c.ingester.chunk_target_size, 1572864);
  EXPECT_EQ(c.ingester.max_chunk_age, absl::Hours(2));
  EXPECT_EQ(c.ingester.chunk_idle_period, absl::Minutes(30));
  EXPECT_TRUE(c.ingester.wal.enabled);
  EXPECT_EQ(c.ingester.lifecycler.ring.replication_factor, 3);
  EXPECT_EQ(c.limits_config.ingestion_rate_mb, 4);
  EXPECT_EQ(c.limits_config.ingestion_burst_size_mb, 6);
  EXPECT_EQ(c.limits_config.max_line_size, 256000u);
  EXPECT_EQ(c.limits_config.max_label_names_per_series, 15);
  EXPECT_EQ(c.limits_config.reject_old_samples_max_age, absl::Hours(168));
  EXPECT_EQ(c.limits_config.max_entries_limit_per_query, 5000);
  EXPECT_EQ(c.limits_config.max_query_series, 500);
  EXPECT_EQ(c.limits_config.max_query_length, absl::Hours(721));
  EXPECT_EQ(c.limits_config.query_timeout, absl::Minutes(1));
  EXPECT_EQ(c.limits_config.max_global_streams_per_user, 5000);
  EXPECT_EQ(c.querier.query_ingesters_within, absl::Hours(3));
  EXPECT_EQ(c.querier.max_concurrent, 4);
  EXPECT_EQ(c.runtime_config.period, absl::Seconds(10));
  EXPECT_EQ(c.memberlist.bind_port, 7946);
}

TEST(Defaults, EmbeddedZeroConfig) {
  Config c = EmbeddedDefaults();
  EXPECT_FALSE(c.auth_enabled);
  EXPECT_EQ(c.common.path_prefix, "data");
  EXPECT_EQ(c.ingester.wal.dir, "data/wal");
  EXPECT_EQ(c.ingester.lifecycler.ring.kvstore.store, "inmemory");
  EXPECT_EQ(c.distributor.ring.kvstore.store, "inmemory");
  EXPECT_EQ(c.ingester.lifecycler.ring.replication_factor, 1);
  EXPECT_EQ(c.storage_config.filesystem.directory, "data/chunks");
  EXPECT_EQ(c.compactor.working_directory, "data/compactor");
  EXPECT_EQ(c.storage_config.tsdb_shipper.active_index_directory, "data/tsdb-shipper-active");
  // Over the filesystem store the page cache keeps chunk files in memory (see below).
  EXPECT_FALSE(c.chunk_store_config.chunk_cache_config.embedded_cache.enabled);
  ASSERT_EQ(c.schema_config.configs.size(), 1u);
  EXPECT_EQ(c.schema_config.configs[0].store, "tsdb");
  EXPECT_EQ(c.schema_config.configs[0].object_store, "filesystem");
  Config copy = c;
  EXPECT_TRUE(Validate(copy).ok());
}

// As in Loki, an embedded chunk cache is on when nothing else is configured for chunks; Norn
// leaves it off over the filesystem store, and an explicit `enabled` wins either way.
TEST(Defaults, EmbeddedChunkCacheUnlessFilesystemOrConfigured) {
  auto chunk_cache_on = [](const std::string& extra, const std::string& object_store) {
    auto c = ParseYaml(
        "schema_config:\n  configs:\n  - from: 2020-10-24\n    store: tsdb\n"
        "    object_store: " +
            object_store + "\n    schema: v13\n    index:\n      prefix: index_\n" +
            "      period: 24h\n" + extra,
        {});
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() && c->chunk_store_config.chunk_cache_config.embedded_cache.enabled;
  };
  EXPECT_TRUE(chunk_cache_on("", "s3"));
  EXPECT_TRUE(chunk_cache_on("", "aws"));
  EXPECT_FALSE(chunk_cache_on("", "filesystem"));
  const std::string off =
      "chunk_store_config:\n  chunk_cache_config:\n    embedded_cache:\n"
      "      enabled: false\n";
  EXPECT_FALSE(chunk_cache_on(off, "s3"));
  const std::string on =
      "chunk_store_config:\n  chunk_cache_config:\n    embedded_cache:\n"
      "      enabled: true\n";
  EXPECT_TRUE(chunk_cache_on(on, "filesystem"));
  const std::string memcached =
      "chunk_store_config:\n  chunk_cache_config:\n"
      "    memcached_client:\n      host: 127.0.0.1\n";
  EXPECT_FALSE(chunk_cache_on(memcached, "s3"));
  // No schema: the fallback period's store decides (filesystem unless S3 is configured).
  auto bare = ParseYaml("", {});
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_FALSE(bare->chunk_store_config.chunk_cache_config.embedded_cache.enabled);
}

TEST(Parse, EmptyAndMissingSectionsKeepDefaults) {
  auto c = ParseYaml("", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.http_listen_port, 3100);
  c = ParseYaml("server:\ningester:\n  wal:\n", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.http_listen_port, 3100);
  EXPECT_TRUE(c->ingester.wal.enabled);
}

TEST(Parse, UnknownKeyNamesKeyAndLine) {
  auto c = ParseYaml("server:\n  http_listen_port: 3100\n  foo_bar: 1\n", {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "config.yaml:3: unknown key \"server.foo_bar\" (not supported by Norn; see "
            "docs/configuration.md)");
}

TEST(Parse, NestedUnknownKey) {
  ParseOptions o;
  o.source_name = "my.yaml";
  auto c = ParseYaml("ingester:\n  wal:\n    enabled: true\n    bogus: x\n", o);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("my.yaml:4: unknown key \"ingester.wal.bogus\""));
  c = ParseYaml("nope: 1\n", o);
  EXPECT_THAT(c.status().message(), HasSubstr("my.yaml:1: unknown key \"nope\""));
  c = ParseYaml("schema_config:\n  configs:\n  - from: 2020-10-24\n    wat: 1\n", o);
  EXPECT_THAT(c.status().message(),
              HasSubstr("my.yaml:4: unknown key \"schema_config.configs[0].wat\""));
}

TEST(Parse, WrongTypes) {
  auto c = ParseYaml("auth_enabled: false\nserver:\n  http_listen_port: abc\n", {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "config.yaml:3: server.http_listen_port: cannot parse \"abc\" as an integer");
  c = ParseYaml("server:\n  http_listen_port:\n    a: 1\n", {});
  EXPECT_THAT(c.status().message(), HasSubstr("server.http_listen_port: expected a int value"));
  c = ParseYaml("auth_enabled: maybe\n", {});
  EXPECT_THAT(c.status().message(), HasSubstr("auth_enabled: cannot parse \"maybe\" as a boolean"));
  c = ParseYaml("server: 5\n", {});
  EXPECT_THAT(c.status().message(), HasSubstr("server: expected a mapping"));
  c = ParseYaml("limits_config:\n  retention_period: 5\n", {});
  EXPECT_THAT(c.status().message(), HasSubstr("limits_config.retention_period"));
  c = ParseYaml("server: [\n", {});
  EXPECT_THAT(c.status().message(), HasSubstr("invalid YAML"));
}

TEST(Parse, InvalidValues) {
  auto c = ParseYaml("server:\n  log_level: loud\n", {});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("config.yaml:2: server.log_level: invalid value"));
  c = ParseYaml("server:\n  http_listen_port: 70000\n", {});
  EXPECT_THAT(c.status().message(), HasSubstr("out of range"));
  c = ParseYaml("server:\n  log_format: xml\n", {});
  EXPECT_FALSE(c.ok());
  c = ParseYaml(
      "schema_config:\n  configs:\n  - from: 2020-10-24\n    store: tsdb\n    object_store: "
      "filesystem\n    schema: v13\n    index:\n      prefix: i_\n      period: 168h\n",
      {});
  EXPECT_THAT(c.status().message(),
              HasSubstr("schema_config.configs[0].index.period: must be 24h"));
  c = ParseYaml("ingester:\n  chunk_encoding: brotli\n", {});
  EXPECT_FALSE(c.ok());
  c = ParseYaml("ingester:\n  chunk_block_size: 1073741824\n", {});
  EXPECT_THAT(c.status().message(), HasSubstr("ingester.chunk_block_size"));
  EXPECT_THAT(c.status().message(), HasSubstr("out of range"));
  EXPECT_TRUE(ParseYaml("ingester:\n  chunk_block_size: 268435456\n", {}).ok());
}

TEST(Parse, ChunkEncodingLokiNamesMap) {
  auto c = ParseYaml("ingester:\n  chunk_encoding: lz4-256k\n", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ingester.chunk_encoding, "lz4");
  c = ParseYaml("ingester:\n  chunk_encoding: flate\n", {});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->ingester.chunk_encoding, "gzip");
  c = ParseYaml("ingester:\n  chunk_encoding: snappy\n", {});
  EXPECT_EQ(c->ingester.chunk_encoding, "snappy");
}

TEST(Parse, DuplicateKey) {
  auto c = ParseYaml("server:\n  http_listen_port: 1\n  http_listen_port: 2\n", {});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("config.yaml:3: duplicate key \"server.http_listen_port\""));
  c = ParseYaml("server: {}\nserver: {}\n", {});
  EXPECT_THAT(c.status().message(), HasSubstr("duplicate key \"server\""));
}

TEST(Parse, EnvExpansion) {
  setenv("NORN_TEST_PORT", "4100", 1);
  unsetenv("NORN_TEST_UNSET");
  ParseOptions o;
  o.expand_env = true;
  auto c = ParseYaml(
      "server:\n  http_listen_port: ${NORN_TEST_PORT}\n  grpc_listen_port: "
      "${NORN_TEST_UNSET:-9200}\n  http_listen_address: \"${NORN_TEST_UNSET}\"\n",
      o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.http_listen_port, 4100);
  EXPECT_EQ(c->server.grpc_listen_port, 9200);
  EXPECT_EQ(c->server.http_listen_address, "");
  EXPECT_EQ(ExpandEnv("a $NORN_TEST_PORT b ${NORN_TEST_PORT:-1} $ c"), "a 4100 b 4100 $ c");
  // Without expand_env the text is taken literally.
  c = ParseYaml("server:\n  http_listen_address: ${NORN_TEST_PORT}\n", {});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->server.http_listen_address, "${NORN_TEST_PORT}");
}

TEST(Values, Durations) {
  EXPECT_EQ(*ParseDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseDuration("30d"), absl::Hours(720));
  EXPECT_EQ(*ParseDuration("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseDuration("1w"), absl::Hours(168));
  EXPECT_EQ(*ParseDuration("1y"), absl::Hours(24 * 365));
  EXPECT_EQ(*ParseDuration("1.5h"), absl::Minutes(90));
  EXPECT_EQ(*ParseDuration("0"), absl::ZeroDuration());
  EXPECT_EQ(*ParseDuration("2m0s"), absl::Minutes(2));
  EXPECT_EQ(*ParseDuration("10us"), absl::Microseconds(10));
  EXPECT_FALSE(ParseDuration("abc").ok());
  EXPECT_FALSE(ParseDuration("5").ok());
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("1x").ok());
  EXPECT_EQ(DurationToString(absl::Minutes(90)), "1h30m");
  EXPECT_EQ(DurationToString(absl::Milliseconds(500)), "500ms");
  EXPECT_EQ(DurationToString(absl::Hours(721), true), "4w2d1h");
  EXPECT_EQ(DurationToString(absl::Hours(168), true), "1w");
  EXPECT_EQ(DurationToString(absl::ZeroDuration()), "0s");
  auto c = ParseYaml(
      "limits_config:\n  retention_period: 30d\n  max_query_lookback: 1w\n"
      "querier:\n  query_ingesters_within: 0\n  tail_max_duration: 1h30m\n",
      {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->limits_config.retention_period, absl::Hours(720));
  EXPECT_EQ(c->limits_config.max_query_lookback, absl::Hours(168));
  EXPECT_EQ(c->querier.query_ingesters_within, absl::ZeroDuration());
  EXPECT_EQ(c->querier.tail_max_duration, absl::Minutes(90));
}

TEST(Values, ByteSizes) {
  EXPECT_EQ(*ParseByteSize("256KB"), 256000u);
  EXPECT_EQ(*ParseByteSize("256KiB"), 262144u);
  EXPECT_EQ(*ParseByteSize("1.5MB"), 1500000u);
  EXPECT_EQ(*ParseByteSize("1.5MiB"), 1572864u);
  EXPECT_EQ(*ParseByteSize("1GB"), 1000000000u);
  EXPECT_EQ(*ParseByteSize("3mb"), 3000000u);
  EXPECT_EQ(*ParseByteSize("1048576"), 1048576u);
  EXPECT_EQ(*ParseByteSize("10 B"), 10u);
  EXPECT_FALSE(ParseByteSize("lots").ok());
  EXPECT_FALSE(ParseByteSize("-1").ok());
  EXPECT_FALSE(ParseByteSize("1XB").ok());
  auto c =
      ParseYaml("limits_config:\n  max_line_size: 512KB\n  per_stream_rate_limit: 3145728\n", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->limits_config.max_line_size, 512000u);
  EXPECT_EQ(c->limits_config.per_stream_rate_limit, 3145728u);
}

TEST(Parse, ExampleLokiConfigsLoad) {
  const std::string bench = "/work/shared/bench/loki-2.7.7.yaml";
  const std::string conformance = "/work/shared/conformance/server-config.yaml";
  for (const std::string& path : {bench, conformance}) {
    std::ifstream probe(path);
    if (!probe.good())
      GTEST_SKIP() << path << " not present";
    CommandLine cmd;
    cmd.config_file = path;
    auto c = LoadConfig(cmd);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_FALSE(c->auth_enabled);
    EXPECT_FALSE(c->limits_config.reject_old_samples);
  }
  CommandLine cmd;
  cmd.config_file = bench;
  auto c = LoadConfig(cmd);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.http_listen_port, 3120);
  EXPECT_EQ(c->server.http_server_read_timeout, absl::Minutes(10));
  EXPECT_EQ(c->server.log_level, "warn");
  EXPECT_EQ(c->limits_config.per_stream_rate_limit, 1000000000u);
  EXPECT_EQ(c->ingester.lifecycler.ring.kvstore.store, "inmemory");
  EXPECT_EQ(c->ingester.lifecycler.ring.replication_factor, 1);
  EXPECT_EQ(c->ingester.lifecycler.address, "127.0.0.1");
  EXPECT_EQ(c->storage_config.filesystem.directory, "data/chunks");
  EXPECT_EQ(c->ruler.storage.local.directory, "data/rules");
  EXPECT_EQ(c->schema_config.configs.at(0).store, "boltdb-shipper");
  EXPECT_EQ(c->schema_config.configs.at(0).from, absl::CivilDay(2020, 10, 24));
  cmd.config_file = conformance;
  c = LoadConfig(cmd);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->limits_config.max_entries_limit_per_query, 5000);
  EXPECT_EQ(c->querier.query_ingesters_within, absl::ZeroDuration());
}

TEST(Flags, OverrideFileValues) {
  std::string path = TempFile("flags.yaml",
                              "server:\n  http_listen_port: 3200\n  log_level: warn\n"
                              "common:\n  path_prefix: /tmp/x\n");
  auto cmd = ParseCommandLine(std::vector<std::string>{
      "-config.file=" + path, "--server.http-listen-port", "4000", "-log.level=debug",
      "-auth.enabled=false", "-target", "querier", "-ingester.wal-enabled=false",
      "-server.graceful-shutdown-timeout=5s", "-runtime-config.file=/etc/rt.yaml",
      "-memberlist.join=a:7946", "-memberlist.join=b:7946"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->config_file, path);
  auto c = LoadConfig(*cmd);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server.http_listen_port, 4000);
  EXPECT_EQ(c->server.log_level, "debug");
  EXPECT_FALSE(c->auth_enabled);
  EXPECT_EQ(c->target, "querier");
  EXPECT_FALSE(c->ingester.wal.enabled);
  EXPECT_EQ(c->server.graceful_shutdown_timeout, absl::Seconds(5));
  EXPECT_EQ(c->runtime_config.file, "/etc/rt.yaml");
  EXPECT_EQ(c->common.path_prefix, "/tmp/x");
  EXPECT_EQ(c->ingester.wal.dir, "/tmp/x/wal");
  EXPECT_EQ(c->memberlist.join_members, (std::vector<std::string>{"a:7946", "b:7946"}));
  EXPECT_EQ(c->ingester.lifecycler.ring.kvstore.store, "memberlist");

  // A flag changing the path prefix re-derives the embedded defaults' directories.
  cmd = ParseCommandLine(std::vector<std::string>{"-common.path-prefix=/var/norn"});
  ASSERT_TRUE(cmd.ok());
  c = LoadConfig(*cmd);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ingester.wal.dir, "/var/norn/wal");
  EXPECT_FALSE(c->auth_enabled);
}

TEST(Flags, UnknownFlagAndBadValues) {
  auto cmd = ParseCommandLine(std::vector<std::string>{"-server.no-such-flag=1"});
  ASSERT_FALSE(cmd.ok());
  EXPECT_THAT(cmd.status().message(), HasSubstr("-server.no-such-flag"));
  cmd = ParseCommandLine(std::vector<std::string>{"-server.http-listen-port=abc"});
  ASSERT_FALSE(cmd.ok());
  EXPECT_THAT(cmd.status().message(), HasSubstr("-server.http-listen-port"));
  EXPECT_THAT(cmd.status().message(), HasSubstr("as an integer"));
  cmd = ParseCommandLine(std::vector<std::string>{"-server.http-listen-port"});
  EXPECT_THAT(cmd.status().message(), HasSubstr("flag needs an argument"));
  cmd = ParseCommandLine(std::vector<std::string>{"positional"});
  EXPECT_FALSE(cmd.ok());
  cmd = ParseCommandLine(std::vector<std::string>{"-server.http-listen-port=99999"});
  ASSERT_TRUE(cmd.ok());
  EXPECT_THAT(LoadConfig(*cmd).status().message(),
              HasSubstr("command line: server.http_listen_port: value 99999 out of range"));
}

TEST(Flags, BoolForms) {
  auto cmd = ParseCommandLine(std::vector<std::string>{"-version", "--print-config-stderr",
                                                       "-config.expand-env=true", "-auth.enabled",
                                                       "-querier.multi-tenant-queries-enabled"});
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_TRUE(cmd->version);
  EXPECT_TRUE(cmd->print_config_stderr);
  EXPECT_TRUE(cmd->config_expand_env);
  EXPECT_FALSE(cmd->help);
  auto c = LoadConfig(*cmd);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->auth_enabled);
  EXPECT_TRUE(c->querier.multi_tenant_queries_enabled);
  cmd = ParseCommandLine(std::vector<std::string>{"-auth.enabled=false", "-h"});
  ASSERT_TRUE(cmd.ok());
  EXPECT_TRUE(cmd->help);
  c = LoadConfig(*cmd);
  EXPECT_FALSE(c->auth_enabled);
  cmd = ParseCommandLine(std::vector<std::string>{"-auth.enabled=perhaps"});
  EXPECT_FALSE(cmd.ok());
  // Go's flag package never takes the next argument as a bool's value.
  cmd = ParseCommandLine(std::vector<std::string>{"-auth.enabled", "false"});
  EXPECT_FALSE(cmd.ok());
}

TEST(Flags, RequiredLokiFlagsExist) {
  std::vector<std::string> names;
  for (const FlagInfo& f : ConfigFlags())
    names.push_back(f.name);
  for (const char* want : {"target",
                           "auth.enabled",
                           "log.level",
                           "log.format",
                           "server.http-listen-port",
                           "server.http-listen-address",
                           "server.grpc-listen-port",
                           "server.grpc-listen-address",
                           "server.graceful-shutdown-timeout",
                           "server.http-read-timeout",
                           "server.http-write-timeout",
                           "server.http-idle-timeout",
                           "common.path-prefix",
                           "runtime-config.file",
                           "runtime-config.reload-period",
                           "ingester.wal-enabled",
                           "querier.multi-tenant-queries-enabled",
                           "distributor.replication-factor",
                           "ring.store",
                           "distributor.ring.store",
                           "s3.url",
                           "s3.buckets",
                           "boltdb.shipper.active-index-directory",
                           "store.chunks-cache.embedded-cache.enabled",
                           "frontend.embedded-cache.enabled",
                           "ingester.client.grpc-max-recv-msg-size"}) {
    EXPECT_THAT(names, testing::Contains(want));
  }
  std::string help = FlagsHelp();
  EXPECT_THAT(help, HasSubstr("-server.http-listen-port int"));
  EXPECT_THAT(help, HasSubstr("-config.file string"));
}

TEST(Dump, RoundTripAndSecrets) {
  Config c = EmbeddedDefaults();
  c.server.http_listen_port = 3333;
  c.storage_config.aws.secret_access_key = "hunter2";
  c.storage_config.aws.access_key_id = "AKIA";
  c.memberlist.join_members = {"a", "b"};
  c.limits_config.retention_stream.push_back(
      {.selector = "{a=\"b\"}", .priority = 1, .period = absl::Hours(48)});
  c.server.http_path_prefix = "*weird: value";
  std::string yaml = DumpYaml(c, DumpMode::kAll);
  EXPECT_THAT(yaml, Not(HasSubstr("hunter2")));
  EXPECT_THAT(yaml, Not(HasSubstr("AKIA")));
  EXPECT_THAT(yaml, HasSubstr("********"));
  auto back = ParseYaml(yaml, {});
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  EXPECT_EQ(back->storage_config.aws.secret_access_key, "********");
  // Apart from the masked secrets the round trip is exact.
  back->storage_config.aws.secret_access_key = "hunter2";
  back->storage_config.aws.access_key_id = "AKIA";
  EXPECT_EQ(DumpYaml(*back, DumpMode::kAll), DumpYaml(c, DumpMode::kAll));
  EXPECT_EQ(back->limits_config.retention_stream.at(0).period, absl::Hours(48));
  EXPECT_EQ(back->server.http_path_prefix, "*weird: value");

  // Defaults round-trip too.
  auto defaults = ParseYaml(DumpYaml(Config{}, DumpMode::kDefaults), {});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
}

TEST(Dump, DiffMode) {
  EXPECT_EQ(DumpYaml(LokiDefaults(), DumpMode::kDiff), "{}\n");
  auto c =
      ParseYaml("server:\n  http_listen_port: 3120\nlimits_config:\n  max_line_size: 1MB\n", {});
  ASSERT_TRUE(c.ok());
  std::string diff = DumpYaml(*c, DumpMode::kDiff);
  EXPECT_THAT(diff, HasSubstr("http_listen_port: 3120"));
  EXPECT_THAT(diff, HasSubstr("max_line_size: 1000000"));
  EXPECT_THAT(diff, Not(HasSubstr("grpc_listen_port")));
  EXPECT_THAT(diff, Not(HasSubstr("ingester:")));
  // The default schema period is added, so it shows in the diff.
  EXPECT_THAT(diff, HasSubstr("schema_config:"));
  auto back = ParseYaml(diff, {});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->server.http_listen_port, 3120);
  EXPECT_EQ(DumpYaml(*back, DumpMode::kAll), DumpYaml(*c, DumpMode::kAll));
}

TEST(Docs, GeneratedReferenceIsUpToDate) {
  const std::string doc = ReadFileOrDie(std::string(NORN_SOURCE_DIR) + "/docs/configuration.md");
  const std::string begin = "<!-- BEGIN GENERATED REFERENCE -->\n";
  const std::string end = "<!-- END GENERATED REFERENCE -->";
  size_t b = doc.find(begin);
  size_t e = doc.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  std::string generated = doc.substr(b + begin.size(), e - b - begin.size());
  std::string want = ConfigReferenceMarkdown();
  if (generated != want) {
    std::ofstream(::testing::TempDir() + "/configuration-reference.md") << want;
  }
  EXPECT_EQ(generated, want) << "regenerate: the expected text was written to "
                             << ::testing::TempDir() << "/configuration-reference.md";
}

}  // namespace
}  // namespace norn::config
