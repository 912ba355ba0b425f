// Integration test of MemcachedCache against real memcached processes the test starts itself
// (loopback only). Exits 77 (ctest: skipped) when /usr/bin/memcached is missing.
#include "cache/memcached_cache.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/metrics.h"

namespace norn::cache {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Clock = std::chrono::steady_clock;

constexpr const char* kMemcached = "/usr/bin/memcached";

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

int ConnectLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A memcached child process on 127.0.0.1:port, killed by PID when destroyed.
class MemcachedProcess {
 public:
  explicit MemcachedProcess(int port, int memory_mb = 64) : port_(port), memory_mb_(memory_mb) {
    Start();
  }
  ~MemcachedProcess() { Kill(); }

  void Start() {
    const std::string port = std::to_string(port_);
    const std::string mem = std::to_string(memory_mb_);
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<const char*> argv = {kMemcached, "-l", "127.0.0.1", "-p", port.c_str(), "-U",
                                       "0",        "-m", mem.c_str(), "-t", "1"};
      if (::getuid() == 0) {
        argv.push_back("-u");
        argv.push_back("root");
      }
      argv.push_back(nullptr);
      ::execv(kMemcached, const_cast<char* const*>(argv.data()));
      std::_Exit(127);
    }
    // Ready when it accepts connections.
    for (int i = 0; i < 500; ++i) {
      const int fd = ConnectLoopback(port_);
      if (fd >= 0) {
        ::close(fd);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "memcached on port " << port_ << " did not come up";
  }

  void Kill() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  std::string addr() const { return absl::StrCat("127.0.0.1:", port_); }

  // A `stats` value read over a raw socket (-1 on failure).
  int64_t Stat(std::string_view name) const {
    const int fd = ConnectLoopback(port_);
    if (fd < 0)
      return -1;
    const std::string req = "stats\r\n";
    (void)!::write(fd, req.data(), req.size());
    std::string resp;
    char buf[4096];
    while (resp.find("END\r\n") == std::string::npos) {
      const ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n <= 0)
        break;
      resp.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    const std::string needle = absl::StrCat("STAT ", std::string(name), " ");
    const size_t at = resp.find(needle);
    if (at == std::string::npos)
      return -1;
    const size_t eol = resp.find("\r\n", at);
    int64_t v = -1;
    if (!absl::SimpleAtoi(resp.substr(at + needle.size(), eol - at - needle.size()), &v))
      return -1;
    return v;
  }

 private:
  const int port_;
  const int memory_mb_;
  pid_t pid_ = -1;
};

std::vector<std::string> Keys(std::string_view prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back(absl::StrCat(std::string(prefix), i));
  return out;
}
std::vector<std::string> ValuesFor(const std::vector<std::string>& keys) {
  std::vector<std::string> out;
  for (const auto& k : keys)
    out.push_back("value-of-" + k);
  return out;
}

MemcachedEnv Env(metrics::Registry* reg, absl::Duration max_backoff = absl::Milliseconds(300)) {
  MemcachedEnv e;
  e.registry = reg;
  e.max_backoff = max_backoff;
  return e;
}

MemcachedClientOptions Client(std::string addresses) {
  MemcachedClientOptions c;
  c.addresses = std::move(addresses);
  c.timeout = absl::Milliseconds(200);
  return c;
}

double CounterValue(metrics::Registry& reg, const std::string& name, std::string_view cache) {
  return reg.Counter(name, "", {"name"}).WithLabels({cache}).Value();
}

class MemcachedCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = std::make_unique<MemcachedProcess>(FreePort());
    b_ = std::make_unique<MemcachedProcess>(FreePort());
  }
  std::unique_ptr<MemcachedCache> NewClient(MemcachedOptions options = {},
                                            MemcachedClientOptions client = {}) {
    if (client.addresses.empty())
      client = Client(a_->addr() + "," + b_->addr());
    auto c = MemcachedCache::Create("test", options, client, Env(&reg_));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  metrics::Registry reg_;
  std::unique_ptr<MemcachedProcess> a_;
  std::unique_ptr<MemcachedProcess> b_;
};

TEST_F(MemcachedCacheTest, MultiSetMultiGetSpreadsOverBothServers) {
  MemcachedOptions options;
  options.batch_size = 16;  // Many batches, several in flight.
  options.parallelism = 3;
  auto c = NewClient(options);
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->Servers(),
              ElementsAre(std::min(a_->addr(), b_->addr()), std::max(a_->addr(), b_->addr())));
  const auto keys = Keys("chunk/", 300);
  c->Store(keys, ValuesFor(keys));

  std::vector<std::string> ask = keys;
  ask.insert(ask.begin() + 10, "absent-1");
  ask.push_back("absent-2");
  FetchResult r = c->Fetch(ask);
  EXPECT_EQ(r.found_keys, keys);
  EXPECT_EQ(r.values, ValuesFor(keys));
  EXPECT_THAT(r.missing_keys, ElementsAre("absent-1", "absent-2"));

  const int64_t on_a = a_->Stat("curr_items");
  const int64_t on_b = b_->Stat("curr_items");
  EXPECT_GT(on_a, 50);
  EXPECT_GT(on_b, 50);
  EXPECT_EQ(on_a + on_b, 300);
  int mapped_to_a = 0;
  for (const auto& k : keys)
    mapped_to_a += c->ServerFor(k) == a_->addr();
  EXPECT_EQ(mapped_to_a, on_a);  // ServerFor agrees with where the data went.
  EXPECT_EQ(reg_.Gauge("loki_memcache_client_servers", "", {"name"}).WithLabels({"test"}).Value(),
            2);
}

TEST_F(MemcachedCacheTest, BigValuesAndUnsafeKeys) {
  auto c = NewClient();
  ASSERT_NE(c, nullptr);
  const std::vector<std::string> keys = {
      "key with spaces", std::string(300, 'L'), "tab\tand\nnewline", "",
      "ünïcode",         std::string(250, 'S')};  // The last one is exactly at the limit: sent as
                                                  // is.
  std::vector<std::string> values = ValuesFor(keys);
  values[1] = std::string(700000, 'v');  // Arrives over many reads.
  c->Store(keys, values);
  FetchResult r = c->Fetch(keys);
  EXPECT_EQ(r.found_keys, keys);
  EXPECT_EQ(r.values, values);
  EXPECT_THAT(r.missing_keys, IsEmpty());

  EXPECT_EQ(MemcachedCache::WireKey(std::string(250, 'S')), std::string(250, 'S'));
  const std::string hashed = MemcachedCache::WireKey("key with spaces");
  EXPECT_EQ(hashed.size(), 5u + 32u);
  EXPECT_EQ(hashed.substr(0, 5), "xxh3:");
  EXPECT_NE(MemcachedCache::WireKey(std::string(300, 'L')),
            MemcachedCache::WireKey(std::string(301, 'L')));
}

TEST_F(MemcachedCacheTest, MaxItemSizeAndServerRefusalsAreSkipped) {
  MemcachedClientOptions client = Client(a_->addr());
  client.max_item_size = 1000;
  auto c = NewClient({}, client);
  ASSERT_NE(c, nullptr);
  c->Store(std::vector<std::string>{"small", "large"},
           std::vector<std::string>{"v", std::string(1001, 'x')});
  FetchResult r = c->Fetch(std::vector<std::string>{"small", "large"});
  EXPECT_THAT(r.found_keys, ElementsAre("small"));
  EXPECT_THAT(r.missing_keys, ElementsAre("large"));
  EXPECT_EQ(CounterValue(reg_, "loki_memcache_client_set_skip_total", "test"), 1);

  // Without a limit, memcached itself refuses values over its 1 MB item size; the other items of
  // the same pipeline are still stored and the refusal is counted.
  auto unlimited = NewClient({}, Client(a_->addr()));
  unlimited->Store(std::vector<std::string>{"x1", "huge", "x2"},
                   std::vector<std::string>{"1", std::string(2 << 20, 'h'), "2"});
  r = unlimited->Fetch(std::vector<std::string>{"x1", "huge", "x2"});
  EXPECT_THAT(r.found_keys, ElementsAre("x1", "x2"));
  EXPECT_EQ(CounterValue(reg_, "norn_memcache_client_dropped_items_total", "test"), 1);
}

TEST_F(MemcachedCacheTest, ServerEvictsWhenFull) {
  MemcachedProcess small(FreePort(), /*memory_mb=*/2);
  auto c = NewClient({}, Client(small.addr()));
  ASSERT_NE(c, nullptr);
  const std::string value(10000, 'e');
  std::vector<std::string> keys = Keys("evict/", 1500);  // ~15 MB into a 2 MB server.
  for (size_t i = 0; i < keys.size(); i += 100) {
    std::vector<std::string> k(keys.begin() + i, keys.begin() + i + 100);
    c->Store(k, std::vector<std::string>(k.size(), value));
  }
  FetchResult r = c->Fetch(keys);
  EXPECT_GT(r.found_keys.size(), 0u);
  EXPECT_GT(r.missing_keys.size(), 0u);
  EXPECT_EQ(r.missing_keys.front(), "evict/0");  // The oldest went first.
  EXPECT_EQ(r.found_keys.back(), keys.back());   // The newest is there.
  EXPECT_GT(small.Stat("evictions"), 0);
}

TEST_F(MemcachedCacheTest, DeadServerIsMissesThenReconnects) {
  auto c = NewClient();
  ASSERT_NE(c, nullptr);
  const auto keys = Keys("k", 200);
  c->Store(keys, ValuesFor(keys));
  std::vector<std::string> on_a;
  std::vector<std::string> on_b;
  for (const auto& k : keys)
    (c->ServerFor(k) == a_->addr() ? on_a : on_b).push_back(k);
  ASSERT_FALSE(on_a.empty());
  ASSERT_FALSE(on_b.empty());

  b_->Kill();
  for (int round = 0; round < 3; ++round) {  // First round finds the dead server, then back-off.
    const auto start = Clock::now();
    FetchResult r = c->Fetch(keys);
    const auto took = Clock::now() - start;
    EXPECT_EQ(r.found_keys, on_a) << "round " << round;
    EXPECT_EQ(r.missing_keys, on_b) << "round " << round;
    EXPECT_LT(took, std::chrono::milliseconds(400)) << "round " << round;
  }
  // Stores for the dead server are dropped silently and quickly; the live server's are kept.
  const auto fresh = Keys("fresh", 100);
  const auto start = Clock::now();
  c->Store(fresh, ValuesFor(fresh));
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(400));
  FetchResult r = c->Fetch(fresh);
  for (const auto& k : r.found_keys)
    EXPECT_EQ(c->ServerFor(k), a_->addr());
  for (const auto& k : r.missing_keys)
    EXPECT_EQ(c->ServerFor(k), b_->addr());
  EXPECT_FALSE(r.found_keys.empty());
  EXPECT_FALSE(r.missing_keys.empty());
  EXPECT_GT(CounterValue(reg_, "norn_memcache_client_dropped_items_total", "test"), 0);

  // Restarted on the same port: the client reconnects after its back-off.
  b_->Start();
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {
    c->Store(on_b, ValuesFor(on_b));
    back = c->Fetch(on_b).found_keys.size() == on_b.size();
    if (!back)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(back);
  EXPECT_GT(b_->Stat("curr_items"), 0);
}

TEST_F(MemcachedCacheTest, UnresponsiveServerTimesOut) {
  // A listener that never accepts: connections complete, requests are never answered.
  const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(lfd, 16), 0);
  socklen_t len = sizeof(a);
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  MemcachedClientOptions client = Client(absl::StrCat("127.0.0.1:", ntohs(a.sin_port)));
  client.timeout = absl::Milliseconds(100);
  auto c = NewClient({}, client);
  ASSERT_NE(c, nullptr);
  const auto start = Clock::now();
  FetchResult r = c->Fetch(std::vector<std::string>{"a", "b"});
  const auto took = Clock::now() - start;
  EXPECT_THAT(r.missing_keys, ElementsAre("a", "b"));
  EXPECT_GE(took, std::chrono::milliseconds(90));
  EXPECT_LT(took, std::chrono::milliseconds(350));
  EXPECT_EQ(reg_.Counter("norn_memcache_client_failures_total", "", {"name", "method", "reason"})
                .WithLabels({"test", "Memcache.GetMulti", "timeout"})
                .Value(),
            1);
  // Now in back-off: the next call does not wait at all.
  const auto start2 = Clock::now();
  r = c->Fetch(std::vector<std::string>{"a"});
  EXPECT_LT(Clock::now() - start2, std::chrono::milliseconds(50));
  ::close(lfd);
}

TEST_F(MemcachedCacheTest, ConcurrentCallersShareConnections) {
  MemcachedClientOptions client = Client(a_->addr() + "," + b_->addr());
  client.max_idle_conns = 2;  // Fewer idle slots than callers: connections get closed too.
  auto c = NewClient({}, client);
  ASSERT_NE(c, nullptr);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        const auto keys = Keys(absl::StrCat("t", t, "/", i, "/"), 20);
        c->Store(keys, ValuesFor(keys));
        FetchResult r = c->Fetch(keys);
        if (r.found_keys != keys || r.values != ValuesFor(keys))
          ++bad;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST_F(MemcachedCacheTest, DnsLoopbackResolves) {
  auto c = NewClient({}, Client(absl::StrCat("dns+localhost:", a_->port())));
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->Servers(), ::testing::Contains(a_->addr()));
  std::vector<std::string> keys;
  for (const auto& k : Keys("dns", 50)) {
    if (c->ServerFor(k) == a_->addr())
      keys.push_back(k);
  }
  ASSERT_FALSE(keys.empty());
  c->Store(keys, ValuesFor(keys));
  EXPECT_EQ(c->Fetch(keys).found_keys, keys);
}

TEST(MemcachedRingTest, AddingAServerMovesKeysOnlyToIt) {
  metrics::Registry reg;
  MemcachedClientOptions two = Client("127.0.0.1:1,127.0.0.1:2");
  two.update_interval = absl::ZeroDuration();
  MemcachedClientOptions three = Client("127.0.0.1:3,127.0.0.1:1,127.0.0.1:2");
  three.update_interval = absl::ZeroDuration();
  auto c2 = MemcachedCache::Create("ring2", {}, two, Env(&reg));
  auto c3 = MemcachedCache::Create("ring3", {}, three, Env(&reg));
  ASSERT_TRUE(c2.ok() && c3.ok());
  int moved = 0;
  const int n = 10000;
  for (int i = 0; i < n; ++i) {
    const std::string k = absl::StrCat("key-", i);
    const std::string before = (*c2)->ServerFor(k);
    const std::string after = (*c3)->ServerFor(k);
    if (before != after) {
      ++moved;
      EXPECT_EQ(after, "127.0.0.1:3") << k;
    }
  }
  EXPECT_GT(moved, n / 5);  // About a third.
  EXPECT_LT(moved, n / 2);
}

TEST(MemcachedConfigTest, RejectsBadAddresses) {
  metrics::Registry reg;
  for (const char* bad : {"localhost", "dns+nohostport", "127.0.0.1:0", "[::1]", "dnssrv+"}) {
    auto c = MemcachedCache::Create("bad", {}, Client(bad), Env(&reg));
    EXPECT_FALSE(c.ok()) << bad;
  }
  EXPECT_FALSE(MemcachedCache::Create("bad", {}, {}, Env(&reg)).ok());
}

}  // namespace
}  // namespace norn::cache

int main(int argc, char** argv) {
  if (::access(norn::cache::kMemcached, X_OK) != 0) {
    std::printf("skipping: %s not found (apt-get install memcached)\n", norn::cache::kMemcached);
    return 77;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
