#include "storage/objstore/filesystem.h"

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/test_dir.h"
#include "storage/objstore/fault_injection.h"

namespace norn::objstore {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;

class FilesystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = FilesystemObjectClient::Open(root_.path().string());
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
  }

  TestDir root_{"norn-objstore"};
  std::shared_ptr<FilesystemObjectClient> client_;
};

TEST_F(FilesystemTest, PutGetRangeHeadDelete) {
  ASSERT_TRUE(client_->Put("fake/chunks/ab/1-2-3", "hello world").ok());
  EXPECT_EQ(*client_->Get("fake/chunks/ab/1-2-3"), "hello world");
  EXPECT_EQ(*client_->GetRange("fake/chunks/ab/1-2-3", 6, 5), "world");
  EXPECT_EQ(*client_->GetRange("fake/chunks/ab/1-2-3", 6, 500), "world");
  EXPECT_EQ(*client_->GetRange("fake/chunks/ab/1-2-3", 600, 5), "");
  auto head = client_->Head("fake/chunks/ab/1-2-3");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 11u);
  // Overwrite is atomic and complete.
  ASSERT_TRUE(client_->Put("fake/chunks/ab/1-2-3", "v2").ok());
  EXPECT_EQ(*client_->Get("fake/chunks/ab/1-2-3"), "v2");
  ASSERT_TRUE(client_->Delete("fake/chunks/ab/1-2-3").ok());
  EXPECT_EQ(client_->Get("fake/chunks/ab/1-2-3").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->Head("fake/chunks/ab/1-2-3").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(client_->Delete("fake/chunks/ab/1-2-3").ok());  // Missing is fine.
  EXPECT_FALSE(fs::exists(root_ / "fake"));                    // Empty dirs cleaned up.
}

TEST_F(FilesystemTest, SharedReadsOfSmallAndMappedObjects) {
  std::string big(FilesystemObjectClient::kMapThreshold + 12345, '\0');
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>(i * 131 + i / 7);
  const std::string small = "a small object";
  ASSERT_TRUE(client_->Put("fake/chunks/ab/big", big).ok());
  ASSERT_TRUE(client_->Put("fake/chunks/ab/small", small).ok());
  ASSERT_TRUE(client_->Put("fake/chunks/ab/empty", "").ok());
  auto mapped = client_->GetShared("fake/chunks/ab/big");
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_TRUE(mapped->bytes == big);
  EXPECT_EQ(client_->GetShared("fake/chunks/ab/small")->bytes, small);
  EXPECT_EQ(client_->GetShared("fake/chunks/ab/empty")->bytes, "");
  EXPECT_EQ(client_->GetShared("fake/chunks/ab/missing").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->GetShared("../escape").status().code(), absl::StatusCode::kInvalidArgument);
  // The bytes stay as they were read while the object is replaced and deleted: Put renames a
  // new file over the old one, which the mapping keeps alive.
  ASSERT_TRUE(client_->Put("fake/chunks/ab/big", std::string(big.size(), 'z')).ok());
  EXPECT_TRUE(mapped->bytes == big);
  ASSERT_TRUE(client_->Delete("fake/chunks/ab/big").ok());
  EXPECT_TRUE(mapped->bytes == big);
  // Ranges, mapped or read, at offsets that are not page-aligned, and clipped at the end.
  std::string mixed(3 * FilesystemObjectClient::kMapThreshold, '\0');
  for (size_t i = 0; i < mixed.size(); ++i)
    mixed[i] = static_cast<char>(i * 7 + i / 4093);
  ASSERT_TRUE(client_->Put("fake/chunks/ab/mixed", mixed).ok());
  for (uint64_t offset :
       {uint64_t{0}, uint64_t{1}, uint64_t{4095}, uint64_t{4097}, uint64_t{70001}}) {
    for (uint64_t length : {uint64_t{10}, FilesystemObjectClient::kMapThreshold,
                            FilesystemObjectClient::kMapThreshold + 3, uint64_t{1} << 30}) {
      auto got = client_->GetRangeShared("fake/chunks/ab/mixed", offset, length);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(got->bytes == std::string_view(mixed).substr(offset, length))
          << offset << " " << length;
    }
  }
  EXPECT_EQ(client_->GetRangeShared("fake/chunks/ab/mixed", mixed.size() + 5, 10)->bytes, "");
  // The default implementation (through Get) gives the same bytes.
  FaultInjectingObjectClient wrapped(client_);
  EXPECT_EQ(wrapped.GetShared("fake/chunks/ab/small")->bytes, small);
  EXPECT_EQ(wrapped.GetRangeShared("fake/chunks/ab/small", 2, 5)->bytes, "small");
  wrapped.FailReads(1, absl::UnavailableError("injected"));
  EXPECT_EQ(wrapped.GetShared("fake/chunks/ab/small").status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(FilesystemTest, ListWithPrefixAndDelimiter) {
  for (const char* k : {"index/t1/a", "index/t1/b", "index/t2/c", "fake/chunks/x", "other"}) {
    ASSERT_TRUE(client_->Put(k, k).ok());
  }
  auto all = client_->List("", "");
  ASSERT_TRUE(all.ok());
  std::vector<std::string> keys;
  for (const auto& o : all->objects) keys.push_back(o.key);
  EXPECT_THAT(keys, ElementsAre("fake/chunks/x", "index/t1/a", "index/t1/b", "index/t2/c", "other"));

  auto idx = client_->List("index/", "/");
  ASSERT_TRUE(idx.ok());
  EXPECT_TRUE(idx->objects.empty());
  EXPECT_THAT(idx->common_prefixes, ElementsAre("index/t1/", "index/t2/"));

  auto t1 = client_->List("index/t1/", "/");
  ASSERT_TRUE(t1.ok());
  ASSERT_EQ(t1->objects.size(), 2u);
  EXPECT_EQ(t1->objects[1].key, "index/t1/b");
  EXPECT_EQ(t1->objects[1].size, 10u);

  auto partial = client_->List("index/t", "");
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->objects.size(), 3u);
  EXPECT_TRUE(client_->List("nope/", "/")->objects.empty());
}

// Keys below two directory levels are one file: a chunk per stream costs no directory.
TEST_F(FilesystemTest, DeepKeysAreFilesInTwoDirectoryLevels) {
  ASSERT_TRUE(client_->Put("fake/chunks/0123abcd/1-2-3", "chunk").ok());
  ASSERT_TRUE(client_->Put("index/index_1/fake/f.idx", "index").ok());
  ASSERT_TRUE(client_->Put("a/b/c%2Fd/e%f", "odd").ok());
  EXPECT_TRUE(fs::is_regular_file(root_ / "fake" / "chunks" / "0123abcd%2F1-2-3"));
  EXPECT_FALSE(fs::exists(root_ / "fake" / "chunks" / "0123abcd"));
  EXPECT_TRUE(fs::is_regular_file(root_ / "index" / "index_1" / "fake%2Ff.idx"));
  EXPECT_TRUE(fs::is_regular_file(root_ / "a" / "b" / "c%252Fd%2Fe%25f"));
  EXPECT_EQ(*client_->Get("a/b/c%2Fd/e%f"), "odd");
  auto all = client_->List("", "");
  ASSERT_TRUE(all.ok());
  std::vector<std::string> keys;
  for (const auto& o : all->objects)
    keys.push_back(o.key);
  EXPECT_THAT(
      keys, ElementsAre("a/b/c%2Fd/e%f", "fake/chunks/0123abcd/1-2-3", "index/index_1/fake/f.idx"));
  auto deep = client_->List("fake/chunks/0123", "");
  ASSERT_EQ(deep->objects.size(), 1u);
  EXPECT_EQ(deep->objects[0].key, "fake/chunks/0123abcd/1-2-3");
  EXPECT_EQ(deep->objects[0].size, 5u);
  EXPECT_THAT(client_->List("index/", "/")->common_prefixes, ElementsAre("index/index_1/"));
  EXPECT_THAT(client_->List("index/index_1/", "/")->common_prefixes,
              ElementsAre("index/index_1/fake/"));
}

// Objects an earlier version stored at <root>/<key> are still read, listed, replaced and
// deleted.
TEST_F(FilesystemTest, ObjectsOfTheNestedLayoutStayReachable) {
  fs::create_directories(root_ / "fake" / "chunks" / "ab");
  {
    std::ofstream f(root_ / "fake" / "chunks" / "ab" / "9-9-9", std::ios::binary);
    f << "old layout";
  }
  const std::string key = "fake/chunks/ab/9-9-9";
  EXPECT_EQ(*client_->Get(key), "old layout");
  EXPECT_EQ(*client_->GetRange(key, 4, 6), "layout");
  EXPECT_EQ(client_->Head(key)->size, 10u);
  ASSERT_TRUE(client_->Put("fake/chunks/cd/1-1-1", "new layout").ok());
  auto listed = client_->List("fake/", "");
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> keys;
  for (const auto& o : listed->objects)
    keys.push_back(o.key);
  EXPECT_THAT(keys, ElementsAre("fake/chunks/ab/9-9-9", "fake/chunks/cd/1-1-1"));
  // Replacing moves the object to the current layout.
  ASSERT_TRUE(client_->Put(key, "replaced").ok());
  EXPECT_FALSE(fs::exists(root_ / "fake" / "chunks" / "ab" / "9-9-9"));
  EXPECT_EQ(*client_->Get(key), "replaced");
  EXPECT_EQ(client_->List("fake/chunks/ab/", "")->objects.size(), 1u);
  // Deleting removes either copy and the directories left empty.
  fs::create_directories(root_ / "fake" / "chunks" / "ef");
  { std::ofstream(root_ / "fake" / "chunks" / "ef" / "2-2-2") << "x"; }
  for (const char* k : {"fake/chunks/ab/9-9-9", "fake/chunks/cd/1-1-1", "fake/chunks/ef/2-2-2"}) {
    ASSERT_TRUE(client_->Delete(k).ok()) << k;
    EXPECT_EQ(client_->Get(k).status().code(), absl::StatusCode::kNotFound) << k;
  }
  EXPECT_FALSE(fs::exists(root_ / "fake"));
}

TEST_F(FilesystemTest, RejectsEscapingKeys) {
  for (const char* k : {"", "/abs", "a/../b", "../x", "a//b", "./a"}) {
    EXPECT_EQ(client_->Put(k, "x").code(), absl::StatusCode::kInvalidArgument) << k;
  }
}

TEST_F(FilesystemTest, ConcurrentPutsOfSameKeyNeverExposePartialObjects) {
  std::string a(1 << 20, 'a'), b(1 << 20, 'b');
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  ASSERT_TRUE(client_->Put("k", a).ok());
  std::thread reader([&] {
    while (!stop) {
      auto v = client_->Get("k");
      if (!v.ok() || (*v != a && *v != b)) ++bad;
    }
  });
  std::vector<std::thread> writers;
  for (int i = 0; i < 4; ++i) {
    writers.emplace_back([&, i] {
      for (int j = 0; j < 10; ++j) ASSERT_TRUE(client_->Put("k", (i + j) % 2 ? a : b).ok());
    });
  }
  for (auto& t : writers) t.join();
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  // No temporary files left behind and none listed.
  EXPECT_EQ(client_->List("", "")->objects.size(), 1u);
}

TEST_F(FilesystemTest, FaultInjection) {
  auto faulty = std::make_shared<FaultInjectingObjectClient>(client_);
  faulty->FailWrites(2);
  EXPECT_EQ(faulty->Put("a", "1").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(faulty->Put("a", "1").code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(faulty->Put("a", "1234").ok());
  faulty->FailReads(-1);
  EXPECT_FALSE(faulty->Get("a").ok());
  EXPECT_FALSE(faulty->Get("a").ok());
  faulty->Clear();
  faulty->CorruptReads(true);
  EXPECT_NE(*faulty->Get("a"), "1234");
  faulty->CorruptReads(false);
  EXPECT_EQ(*faulty->Get("a"), "1234");
  EXPECT_EQ(faulty->writes(), 3);
}

}  // namespace
}  // namespace norn::objstore
