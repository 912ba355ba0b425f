#include "config/runtime_config.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace norn::config {
namespace {

using ::testing::HasSubstr;

void WriteFile(const std::string& path, const std::string& content) {
  // Write then rename so the poller never sees a half-written file.
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << content;
  std::filesystem::rename(tmp, path);
}

template <class Pred>
bool WaitFor(Pred pred) {
  for (int i = 0; i < 300; ++i) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

TEST(ParseRuntimeConfig, MergesOverDefaults) {
  LimitsConfig defaults;
  auto o = ParseRuntimeConfig(
      "overrides:\n  tenant-a:\n    ingestion_rate_mb: 10\n    max_line_size: 512KB\n"
      "  tenant-b:\n    retention_period: 30d\n",
      defaults, "rt.yaml");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->size(), 2u);
  EXPECT_EQ(o->at("tenant-a")->ingestion_rate_mb, 10);
  EXPECT_EQ(o->at("tenant-a")->max_line_size, 512000u);
  EXPECT_EQ(o->at("tenant-a")->ingestion_burst_size_mb, defaults.ingestion_burst_size_mb);
  EXPECT_EQ(o->at("tenant-b")->retention_period, absl::Hours(720));
  EXPECT_TRUE(ParseRuntimeConfig("", defaults, "rt.yaml").ok());
  EXPECT_TRUE(ParseRuntimeConfig("overrides:\n", defaults, "rt.yaml").ok());
}

TEST(ParseRuntimeConfig, UnknownKeyNamesTenantKeyAndLine) {
  LimitsConfig defaults;
  auto o = ParseRuntimeConfig("overrides:\n  tenant-a:\n    ingestion_rate_mb: 10\n    nope: 1\n",
                              defaults, "rt.yaml");
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(o.status().message(),
              HasSubstr("rt.yaml:4: unknown key \"overrides.tenant-a.nope\""));
  o = ParseRuntimeConfig("overrides:\n  t:\n    max_line_size: huge\n", defaults, "rt.yaml");
  EXPECT_THAT(o.status().message(), HasSubstr("rt.yaml:3: overrides.t.max_line_size"));
  o = ParseRuntimeConfig("configs: {}\n", defaults, "rt.yaml");
  EXPECT_THAT(o.status().message(), HasSubstr("unknown key \"configs\""));
}

TEST(RuntimeConfigManager, NoFileMeansDefaults) {
  LimitsConfig defaults;
  defaults.max_query_series = 7;
  RuntimeConfigManager m(RuntimeConfigConfig{}, defaults);
  ASSERT_TRUE(m.Start().ok());
  EXPECT_EQ(m.LimitsFor("anyone")->max_query_series, 7);
  ASSERT_TRUE(m.Stop().ok());
}

TEST(RuntimeConfigManager, ReloadsOnChangeAndKeepsOldOnError) {
  const std::string path = ::testing::TempDir() + "/runtime_config_test.yaml";
  WriteFile(path, "overrides:\n  t1:\n    max_query_series: 11\n");
  RuntimeConfigConfig rc;
  rc.file = path;
  rc.period = absl::Milliseconds(20);
  RuntimeConfigManager m(rc, LimitsConfig{});
  std::atomic<int> changes{0};
  m.SetChangeCallback([&] { changes++; });
  ASSERT_TRUE(m.Start().ok());
  EXPECT_EQ(m.LimitsFor("t1")->max_query_series, 11);
  EXPECT_EQ(m.LimitsFor("t2")->max_query_series, 500);
  EXPECT_EQ(changes.load(), 1);

  WriteFile(path, "overrides:\n  t1:\n    max_query_series: 22\n  t2:\n    max_query_series: 3\n");
  EXPECT_TRUE(WaitFor([&] { return m.LimitsFor("t1")->max_query_series == 22; }));
  EXPECT_EQ(m.LimitsFor("t2")->max_query_series, 3);
  EXPECT_TRUE(WaitFor([&] { return changes.load() == 2; }));

  // A bad file is reported and the previous overrides stay.
  WriteFile(path, "overrides:\n  t1:\n    bogus_key: 1\n");
  absl::Status s = m.Reload();
  EXPECT_THAT(s.message(), HasSubstr("overrides.t1.bogus_key"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(m.LimitsFor("t1")->max_query_series, 22);

  WriteFile(path, "overrides:\n  t1:\n    max_query_series: 33\n");
  EXPECT_TRUE(WaitFor([&] { return m.LimitsFor("t1")->max_query_series == 33; }));
  EXPECT_EQ(m.LimitsFor("t2")->max_query_series, 500);
  ASSERT_TRUE(m.Stop().ok());
  ASSERT_TRUE(m.Stop().ok());
}

TEST(RuntimeConfigManager, InvalidFileFailsStart) {
  const std::string path = ::testing::TempDir() + "/runtime_config_bad.yaml";
  WriteFile(path, "overrides:\n  t1:\n    nope: 1\n");
  RuntimeConfigConfig rc;
  rc.file = path;
  RuntimeConfigManager m(rc, LimitsConfig{});
  EXPECT_FALSE(m.Start().ok());
  RuntimeConfigConfig missing;
  missing.file = ::testing::TempDir() + "/does-not-exist.yaml";
  RuntimeConfigManager m2(missing, LimitsConfig{});
  EXPECT_EQ(m2.Start().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace norn::config
