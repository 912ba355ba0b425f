// Scale check with the benchmark's many-streams label shape (cluster, namespace, app, unique
// pod, container; 20,000 streams) and 10 chunks per stream: prints file size, open time and
// look-up latencies (thread CPU time), and asserts generous upper bounds so a gross regression
// fails.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/index/index_reader.h"
#include "storage/index/index_writer.h"

namespace norn::index {
namespace {

struct App {
  const char* ns;
  const char* app;
};
constexpr App kApps[] = {
    {"ingress", "ingress-nginx"},
    {"ingress", "web"},
    {"shop", "checkout"},
    {"shop", "payments"},
    {"shop", "cart"},
    {"shop", "search"},
    {"shop", "auth"},
    {"platform", "api-gateway"},
    {"platform", "inventory"},
    {"platform", "shipping"},
    {"platform", "notifier"},
    {"backoffice", "orders"},
    {"backoffice", "billing"},
    {"backoffice", "catalog"},
};
constexpr const char* kClusters[] = {"prod-us-east-1", "prod-eu-west-1", "staging-us-east-1"};
constexpr int kSeries = 20000;
constexpr int kChunks = 10;
constexpr int64_t kStart = 1704067200000000000;
constexpr int64_t kChunkSpan = int64_t{36} * 60 * 1000000000;  // 6h window / 10 chunks

// Thread CPU time, minimum over `reps`: the machine is shared, and wall-clock medians mostly
// measure the neighbours.
double CpuMicros() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

template <typename F>
double MinMicros(int reps, F&& f) {
  double best = 1e18;
  for (int i = 0; i < reps; ++i) {
    double a = CpuMicros();
    f();
    best = std::min(best, CpuMicros() - a);
  }
  return best;
}

TEST(IndexPerfTest, ManyStreamsProfile) {
  IndexBuilder b;
  const double t0 = CpuMicros();
  std::vector<ChunkRef> chunks(kChunks);
  size_t want_shop = 0;
  std::string probe_pod;
  for (int i = 0; i < kSeries; ++i) {
    const App& a = kApps[i % 14];
    std::string pod =
        std::string(a.app) + "-7d9f8c6b5-" + std::to_string(100000 + i * 7919 % 90000);
    pod += "-" + std::to_string(i);
    Labels l{{"cluster", kClusters[(i / 14) % 3]},
             {"namespace", a.ns},
             {"app", a.app},
             {"pod", pod},
             {"container", a.app}};
    if (std::string_view(a.ns) == "shop")
      ++want_shop;
    if (i == 4)
      probe_pod = pod;
    for (int c = 0; c < kChunks; ++c) {
      chunks[c] = ChunkRef{
          kStart + c * kChunkSpan + i % 1000,         kStart + (c + 1) * kChunkSpan - 1 - i % 777,
          static_cast<uint32_t>(i * 2654435761u + c), static_cast<uint32_t>(1500 + i % 100 * 3),
          static_cast<uint32_t>(5 + i % 7),           static_cast<uint64_t>(9000 + i % 5000)};
    }
    ASSERT_TRUE(b.Add(l, chunks).ok());
  }
  const double t1 = CpuMicros();
  auto bytes = b.Encode();
  ASSERT_TRUE(bytes.ok());
  const double t2 = CpuMicros();
  const size_t file_size = bytes->size();
  std::unique_ptr<IndexReader> r;
  double open_us = MinMicros(5, [&] { r = *IndexReader::FromView(*bytes); });
  ASSERT_NE(r, nullptr);

  std::vector<Matcher> shop = {Matcher::Eq("namespace", "shop")};
  std::vector<Matcher> cluster_any = {Matcher::Re("cluster", ".+")};
  std::vector<Matcher> shop_checkout = {Matcher::Eq("namespace", "shop"),
                                        Matcher::Re("app", "checkout|cart")};
  std::vector<Matcher> one_pod = {Matcher::Eq("pod", probe_pod)};
  const int64_t from = kStart, through = kStart + 6 * 3600 * int64_t{1000000000};
  const int64_t hour_from = kStart + 3600 * int64_t{1000000000};
  const int64_t hour_through = hour_from + 3600 * int64_t{1000000000};

  size_t n_shop = 0, n_chunks_shop = 0, n_any = 0, n_pod = 0;
  double postings_shop = MinMicros(21, [&] { n_shop = r->PostingsForMatchers(shop)->size(); });
  double postings_any = MinMicros(21, [&] { n_any = r->PostingsForMatchers(cluster_any)->size(); });
  double stats_shop = MinMicros(21, [&] { (void)r->Stats(shop, from, through); });
  double series_shop = MinMicros(11, [&] { (void)r->Series(shop, from, through); });
  double refs_shop = MinMicros(11, [&] {
    auto refs = r->ChunkRefs(shop, from, through);
    n_chunks_shop = 0;
    for (const auto& s : *refs)
      n_chunks_shop += s.chunks.size();
  });
  double refs_shop_hour = MinMicros(11, [&] { (void)r->ChunkRefs(shop, hour_from, hour_through); });
  double series_any = MinMicros(5, [&] { (void)r->Series(cluster_any, from, through); });
  double refs_any = MinMicros(5, [&] { (void)r->ChunkRefs(cluster_any, from, through); });
  double stats_any = MinMicros(11, [&] { (void)r->Stats(cluster_any, from, through); });
  double refs_two = MinMicros(21, [&] { (void)r->ChunkRefs(shop_checkout, from, through); });
  double refs_pod = MinMicros(101, [&] { n_pod = r->ChunkRefs(one_pod, from, through)->size(); });
  double names = MinMicros(101, [&] { (void)r->LabelNames(); });
  double values_pod = MinMicros(21, [&] { (void)r->LabelValues("pod"); });
  double values_app_shop = MinMicros(11, [&] { (void)r->LabelValues("app", shop); });

  EXPECT_EQ(n_shop, want_shop);
  EXPECT_EQ(n_chunks_shop, n_shop * kChunks);
  EXPECT_EQ(n_any, static_cast<size_t>(kSeries));
  EXPECT_EQ(n_pod, 1u);
  auto st = r->Stats(cluster_any, from, through);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->chunks, static_cast<uint64_t>(kSeries * kChunks));

  std::printf("index many-streams: %d series x %d chunks\n", kSeries, kChunks);
  std::printf(
      "  build %.1f ms, encode %.1f ms, file %zu bytes (%.1f B/chunk), open+verify %.0f us\n",
      (t1 - t0) / 1e3, (t2 - t1) / 1e3, file_size,
      static_cast<double>(file_size) / (kSeries * kChunks), open_us);
  std::printf(
      "  {namespace=\"shop\"} (%zu series): postings %.0f us, stats %.0f us, series %.0f us,"
      " chunkrefs %.0f us (%zu refs), chunkrefs 1h %.0f us\n",
      n_shop, postings_shop, stats_shop, series_shop, refs_shop, n_chunks_shop, refs_shop_hour);
  std::printf(
      "  {cluster=~\".+\"} (%zu series): postings %.0f us, stats %.0f us, series %.0f us,"
      " chunkrefs %.0f us\n",
      n_any, postings_any, stats_any, series_any, refs_any);
  std::printf(
      "  {namespace=\"shop\",app=~\"checkout|cart\"}: chunkrefs %.0f us; {pod=\"..\"}: "
      "chunkrefs %.1f us\n",
      refs_two, refs_pod);
  std::printf("  label names %.1f us, values(pod) %.0f us, values(app|shop) %.0f us\n", names,
              values_pod, values_app_shop);

  // Generous bounds (shared, loaded CI machine; sanitizer builds are several times slower).
  EXPECT_LT(postings_shop, 20000);
  EXPECT_LT(refs_pod, 20000);
}

}  // namespace
}  // namespace norn::index
