#include "ingester/tailer.h"

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "ingester/ingester.h"
#include "storage/objstore/filesystem.h"

namespace norn::ingester {
namespace {

namespace fs = std::filesystem;

StreamMatcher JobIs(std::string job) {
  return [job](const Labels& l) { return l.Get("job") == job; };
}

struct PushData {
  Labels labels;
  std::vector<std::string> lines;
  std::vector<wal::EntryView> views;
  PushData(Labels l, std::vector<std::pair<int64_t, std::string>> entries)
      : labels(std::move(l)) {
    lines.reserve(entries.size());
    for (auto& [ts, line] : entries) {
      lines.push_back(line);
      views.push_back(wal::EntryView{ts, lines.back(), {}});
    }
  }
  TailInput input() const { return TailInput{&labels, labels.Hash(), views}; }
};

std::vector<std::string> Lines(const std::vector<TailBatch>& batches) {
  std::vector<std::string> out;
  for (const auto& b : batches) {
    for (const auto& e : b.entries) {
      out.push_back(std::string(b.labels->Get("job")) + ":" + std::to_string(e.timestamp_ns) +
                    ":" + e.line);
    }
  }
  return out;
}

TEST(TailRegistryTest, ActiveOnlyWhileSubscribed) {
  TailRegistry reg;
  EXPECT_FALSE(reg.active());
  auto t = reg.Subscribe("a", JobIs("x"));
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(reg.active());
  EXPECT_EQ(reg.TailerCount("a"), 1u);
  (*t)->Close();
  EXPECT_FALSE(reg.active());
  EXPECT_EQ(reg.TailerCount("a"), 0u);
  auto t2 = reg.Subscribe("a", JobIs("x"));
  ASSERT_TRUE(t2.ok());
  t2->reset();  // Destruction unsubscribes too.
  EXPECT_FALSE(reg.active());
}

TEST(TailRegistryTest, DeliversMatchingStreamsOfTheTenantOnly) {
  TailRegistry reg;
  auto ta = reg.Subscribe("a", JobIs("x"));
  auto tb = reg.Subscribe("b", JobIs("x"));
  ASSERT_TRUE(ta.ok() && tb.ok());
  PushData x(Labels{{"job", "x"}, {"pod", "1"}}, {{10, "one"}, {11, "two"}});
  PushData y(Labels{{"job", "y"}}, {{12, "other"}});
  std::vector<TailInput> in = {x.input(), y.input()};
  reg.Notify("a", in);

  std::vector<TailBatch> batches;
  std::vector<TailDropped> dropped;
  EXPECT_TRUE((*ta)->Wait(absl::Seconds(1), &batches, &dropped));
  EXPECT_EQ(Lines(batches), (std::vector<std::string>{"x:10:one", "x:11:two"}));
  EXPECT_EQ(batches[0].labels->ToString(), R"({job="x", pod="1"})");
  EXPECT_TRUE(dropped.empty());

  // Tenant b saw nothing.
  batches.clear();
  EXPECT_TRUE((*tb)->Wait(absl::Milliseconds(20), &batches, &dropped));
  EXPECT_TRUE(batches.empty());
}

TEST(TailRegistryTest, FullQueueDropsAndReports) {
  TailRegistryOptions opts;
  opts.max_buffered_entries = 3;
  opts.max_dropped_reported = 1;
  TailRegistry reg(opts);
  auto t = reg.Subscribe("a", JobIs("x"));
  ASSERT_TRUE(t.ok());
  PushData x(Labels{{"job", "x"}}, {{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}, {5, "e"}});
  std::vector<TailInput> in = {x.input()};
  reg.Notify("a", in);  // Never blocks, whatever the consumer does.

  std::vector<TailBatch> batches;
  std::vector<TailDropped> dropped;
  ASSERT_TRUE((*t)->Wait(absl::Seconds(1), &batches, &dropped));
  EXPECT_EQ(Lines(batches), (std::vector<std::string>{"x:1:a", "x:2:b", "x:3:c"}));
  ASSERT_EQ(dropped.size(), 1u);  // Only max_dropped_reported are remembered...
  EXPECT_EQ(dropped[0].timestamp_ns, 4);
  EXPECT_EQ(dropped[0].labels->Get("job"), "x");
  EXPECT_EQ((*t)->dropped_total(), 2u);  // ...but all are counted.

  // Draining frees the queue.
  batches.clear();
  dropped.clear();
  reg.Notify("a", in);
  ASSERT_TRUE((*t)->Wait(absl::Seconds(1), &batches, &dropped));
  EXPECT_EQ(Lines(batches).size(), 3u);
}

TEST(TailRegistryTest, LimitsTailersPerTenant) {
  TailRegistryOptions opts;
  opts.max_tailers_per_tenant = 2;
  TailRegistry reg(opts);
  auto t1 = reg.Subscribe("a", JobIs("x"));
  auto t2 = reg.Subscribe("a", JobIs("x"));
  ASSERT_TRUE(t1.ok() && t2.ok());
  auto t3 = reg.Subscribe("a", JobIs("x"));
  ASSERT_FALSE(t3.ok());
  EXPECT_EQ(t3.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t3.status().message(),
            "max concurrent tail requests limit exceeded, count > limit (3 > 2)");
  EXPECT_TRUE(reg.Subscribe("b", JobIs("x")).ok());  // Per tenant.
  EXPECT_TRUE(reg.Subscribe("a", JobIs("x"), /*max_tailers=*/3).ok());  // Per-call override.
  (*t1)->Close();
  EXPECT_EQ(reg.TailerCount("a"), 1u);  // The override's tailer was a temporary: gone.
  EXPECT_TRUE(reg.Subscribe("a", JobIs("x")).ok());
}

TEST(TailRegistryTest, WaitWakesOnNotifyAndEndsWhenRegistryGoes) {
  auto reg = std::make_unique<TailRegistry>();
  auto t = reg->Subscribe("a", JobIs("x"));
  ASSERT_TRUE(t.ok());
  std::shared_ptr<Tailer> tailer = *t;
  PushData x(Labels{{"job", "x"}}, {{7, "late"}});
  std::thread pusher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::vector<TailInput> in = {x.input()};
    reg->Notify("a", in);
  });
  std::vector<TailBatch> batches;
  std::vector<TailDropped> dropped;
  absl::Time start = absl::Now();
  EXPECT_TRUE(tailer->Wait(absl::Seconds(10), &batches, &dropped));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(Lines(batches), (std::vector<std::string>{"x:7:late"}));
  pusher.join();

  reg.reset();
  batches.clear();
  EXPECT_FALSE(tailer->Wait(absl::Seconds(10), &batches, &dropped));
  EXPECT_TRUE(tailer->closed());
  tailer->Close();  // After the registry: safe.
}

TEST(IngesterTailTest, OffersOnlyAcceptedEntries) {
  fs::path dir = fs::temp_directory_path() / ("norn-tailer-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto store = objstore::FilesystemObjectClient::Open((dir / "store").string());
  ASSERT_TRUE(store.ok());
  auto limits = std::make_shared<config::TenantLimits>();
  IngesterOptions opts;
  opts.wal_dir = (dir / "wal").string();
  opts.flush_check_period = absl::Hours(1);
  {
    Ingester ing(opts, std::move(*store), [limits](std::string_view) { return limits; });
    ASSERT_TRUE(ing.Start().ok());
    EXPECT_FALSE(ing.tail_registry().active());
    auto t = ing.tail_registry().Subscribe("a", JobIs("x"));
    ASSERT_TRUE(t.ok());

    Labels lx{{"job", "x"}};
    std::string l1 = "first", l2 = "second";
    std::vector<wal::EntryView> v1 = {{1000, l1, {}}, {2000, l2, {}}};
    StreamBatch b1{&lx, lx.Hash(), v1, {}};
    ASSERT_TRUE(ing.Push("a", std::span<const StreamBatch>(&b1, 1)).ok());
    // An exact duplicate is not stored again, so not tailed again either.
    std::string l3 = "third";
    std::vector<wal::EntryView> v2 = {{2000, l2, {}}, {3000, l3, {}}};
    StreamBatch b2{&lx, lx.Hash(), v2, {}};
    ASSERT_TRUE(ing.Push("a", std::span<const StreamBatch>(&b2, 1)).ok());
    // Other tenant: not seen.
    ASSERT_TRUE(ing.Push("b", std::span<const StreamBatch>(&b1, 1)).ok());

    std::vector<TailBatch> batches;
    std::vector<TailDropped> dropped;
    ASSERT_TRUE((*t)->Wait(absl::Seconds(1), &batches, &dropped));
    EXPECT_EQ(Lines(batches),
              (std::vector<std::string>{"x:1000:first", "x:2000:second", "x:3000:third"}));
    ing.Stop();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace norn::ingester
