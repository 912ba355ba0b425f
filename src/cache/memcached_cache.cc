#include "cache/memcached_cache.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <resolv.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/strings.h"

namespace norn::cache {

namespace internal {

using Clock = std::chrono::steady_clock;

// One memcached server: its socket address and a pool of idle connections, plus the failure
// state that drives back-off. Shared by ring snapshots; outlives every op that points at it.
struct MemcachedServer {
  MemcachedServer(std::string address, int max_idle_conns)
      : addr(std::move(address)), max_idle(max_idle_conns) {}
  ~MemcachedServer() {
    for (int fd : idle)
      ::close(fd);
  }
  MemcachedServer(const MemcachedServer&) = delete;
  MemcachedServer& operator=(const MemcachedServer&) = delete;

  const std::string addr;
  const int max_idle;
  sockaddr_storage sa{};
  socklen_t sa_len = 0;  // 0: the address did not resolve; connecting fails.

  std::mutex mu;  // Guards the three members below.
  std::vector<int> idle;
  int failures = 0;
  Clock::time_point retry_after{};

  bool InBackoff(Clock::time_point now) {
    std::lock_guard lock(mu);
    return now < retry_after;
  }

  // An idle connection that still looks alive, or -1. A peer that closed shows up as EOF (or
  // an error) on a non-blocking peek; unexpected pending bytes also disqualify a connection.
  int TakeIdle() {
    std::lock_guard lock(mu);
    while (!idle.empty()) {
      const int fd = idle.back();
      idle.pop_back();
      char c;
      const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return fd;
      ::close(fd);
    }
    return -1;
  }

  void PutIdle(int fd) {
    std::lock_guard lock(mu);
    if (static_cast<int>(idle.size()) < max_idle) {
      idle.push_back(fd);
      return;
    }
    ::close(fd);
  }

  void DropIdle() {
    std::lock_guard lock(mu);
    for (int fd : idle)
      ::close(fd);
    idle.clear();
  }

  void Succeeded(std::string_view cache) {
    std::lock_guard lock(mu);
    if (failures > 0) {
      NORN_LOG(Info).Msg("memcached server reachable again").Kv("cache", cache).Kv("server", addr);
    }
    failures = 0;
    retry_after = {};
  }

  void Failed(std::string_view cache, std::string_view reason, Clock::duration max_backoff) {
    std::lock_guard lock(mu);
    if (failures == 0) {
      NORN_LOG(Warn)
          .Msg("memcached server failed; its keys are misses until it is back")
          .Kv("cache", cache)
          .Kv("server", addr)
          .Kv("reason", reason);
    }
    ++failures;
    const int shift = std::min(failures - 1, 10);
    Clock::duration backoff = std::chrono::milliseconds(100) * (1 << shift);
    backoff = std::min(backoff, max_backoff);
    retry_after = Clock::now() + backoff;
    for (int fd : idle)
      ::close(fd);
    idle.clear();
  }
};

// An immutable snapshot of the server list and its hash ring.
struct MemcachedRing {
  std::vector<std::shared_ptr<MemcachedServer>> servers;  // Sorted by address.
  std::vector<std::pair<uint64_t, uint32_t>> points;      // (hash, server index), sorted.
  bool consistent = true;

  MemcachedServer* Pick(uint64_t hash) const {
    if (servers.empty())
      return nullptr;
    if (!consistent)
      return servers[hash % servers.size()].get();
    auto it = std::lower_bound(points.begin(), points.end(), std::make_pair(hash, uint32_t{0}));
    if (it == points.end())
      it = points.begin();
    return servers[it->second].get();
  }
};

enum class OpKind : uint8_t { kGet, kSet };
enum class OpState : uint8_t { kIdle, kConnecting, kWriting, kReading, kDone, kFailed };

// One request (a multi-get or a pipeline of sets) to one server on one connection.
struct MemcachedOp {
  OpKind kind = OpKind::kGet;
  MemcachedServer* server = nullptr;
  std::vector<uint32_t> idx;  // Indices of the call's keys carried by this op, in order.
  std::string request;
  size_t written = 0;
  std::string rbuf;
  size_t rpos = 0;
  int fd = -1;
  bool reused = false;
  bool retried = false;
  bool reusable = true;  // The connection ended in a clean state.
  OpState state = OpState::kIdle;
  std::string_view fail_reason;
  Clock::time_point started{};
  Clock::time_point deadline{};
  // Get: wire keys of the call, where hits land, and the next request position to match.
  const std::vector<std::string_view>* wire = nullptr;
  std::vector<std::string>* values = nullptr;
  std::vector<char>* found = nullptr;
  size_t next_match = 0;
  // Set: items the server answered with an error (not stored).
  size_t item_errors = 0;
};

}  // namespace internal

namespace {

using internal::Clock;
using internal::MemcachedOp;
using internal::MemcachedRing;
using internal::MemcachedServer;
using internal::OpKind;
using internal::OpState;

constexpr int kPointsPerServer = 160;
constexpr std::string_view kHashedKeyPrefix = "xxh3:";
constexpr size_t kMaxKeyLength = 250;
constexpr int64_t kMaxRelativeExpiration = 60 * 60 * 24 * 30;  // memcached's 30 days.

bool SafeKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyLength)
    return false;
  for (unsigned char c : key) {
    if (c <= 0x20 || c >= 0x7f)
      return false;
  }
  return true;
}

// "host:port" or "[v6]:port" -> (host, port). Port must be 1..65535.
absl::Status SplitHostPort(std::string_view hp, std::string* host, std::string* port) {
  std::string_view h;
  std::string_view p;
  if (!hp.empty() && hp.front() == '[') {
    const size_t close = hp.find(']');
    if (close == std::string_view::npos || close + 1 >= hp.size() || hp[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat("bad memcached address \"", AV(hp), "\""));
    }
    h = hp.substr(1, close - 1);
    p = hp.substr(close + 2);
  } else {
    const size_t colon = hp.rfind(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("memcached address \"", AV(hp), "\" has no port (want host:port)"));
    }
    h = hp.substr(0, colon);
    p = hp.substr(colon + 1);
  }
  int port_num = 0;
  if (h.empty() || !absl::SimpleAtoi(AV(p), &port_num) || port_num <= 0 || port_num > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad memcached address \"", AV(hp), "\""));
  }
  host->assign(h);
  port->assign(p);
  return absl::OkStatus();
}

std::string JoinHostPort(std::string_view host, std::string_view port) {
  if (host.find(':') != std::string_view::npos) {
    return absl::StrCat("[", AV(host), "]:", AV(port));
  }
  return absl::StrCat(AV(host), ":", AV(port));
}

// Resolves host (A/AAAA) to "ip:port" strings, in resolver order without duplicates.
absl::StatusOr<std::vector<std::string>> ResolveHost(const std::string& host,
                                                     const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat("resolving ", host, ": ", ::gai_strerror(rc)));
  }
  std::vector<std::string> out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    char ip[INET6_ADDRSTRLEN] = {};
    const void* src =
        ai->ai_family == AF_INET6
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr);
    if (::inet_ntop(ai->ai_family, src, ip, sizeof(ip)) == nullptr)
      continue;
    std::string a = JoinHostPort(ip, port);
    if (std::find(out.begin(), out.end(), a) == out.end())
      out.push_back(std::move(a));
  }
  ::freeaddrinfo(res);
  if (out.empty())
    return absl::UnavailableError(absl::StrCat("no addresses for ", host));
  return out;
}

// SRV records of `name` as (target, port).
absl::StatusOr<std::vector<std::pair<std::string, int>>> LookupSrv(const std::string& name) {
  struct __res_state st;
  std::memset(&st, 0, sizeof(st));
  if (::res_ninit(&st) != 0)
    return absl::UnavailableError("res_ninit failed");
  std::vector<unsigned char> buf(65536);
  const int len =
      ::res_nquery(&st, name.c_str(), ns_c_in, ns_t_srv, buf.data(), static_cast<int>(buf.size()));
  ::res_nclose(&st);
  if (len < 0)
    return absl::UnavailableError(absl::StrCat("SRV lookup of ", name, " failed"));
  ns_msg msg;
  if (::ns_initparse(buf.data(), len, &msg) != 0) {
    return absl::UnavailableError(absl::StrCat("bad SRV answer for ", name));
  }
  std::vector<std::pair<std::string, int>> out;
  const int count = ns_msg_count(msg, ns_s_an);
  for (int i = 0; i < count; ++i) {
    ns_rr rr;
    if (::ns_parserr(&msg, ns_s_an, i, &rr) != 0)
      continue;
    if (ns_rr_type(rr) != ns_t_srv || ns_rr_rdlen(rr) < 7)
      continue;
    const unsigned char* rdata = ns_rr_rdata(rr);
    const int port = ns_get16(rdata + 4);
    char target[NS_MAXDNAME];
    if (::dn_expand(ns_msg_base(msg), ns_msg_end(msg), rdata + 6, target, sizeof(target)) < 0) {
      continue;
    }
    out.emplace_back(target, port);
  }
  if (out.empty())
    return absl::UnavailableError(absl::StrCat("no SRV records for ", name));
  return out;
}

absl::Status ValidateSpec(std::string_view spec) {
  std::string host;
  std::string port;
  if (absl::StartsWith(AV(spec), "dns+"))
    return SplitHostPort(spec.substr(4), &host, &port);
  if (absl::StartsWith(AV(spec), "dnssrv+") || absl::StartsWith(AV(spec), "dnssrvnoa+")) {
    if (spec.substr(spec.find('+') + 1).empty()) {
      return absl::InvalidArgumentError(absl::StrCat("empty SRV name in \"", AV(spec), "\""));
    }
    return absl::OkStatus();
  }
  return SplitHostPort(spec, &host, &port);
}

absl::StatusOr<std::vector<std::string>> ResolveSpec(const std::string& spec) {
  std::string host;
  std::string port;
  if (absl::StartsWith(spec, "dns+")) {
    if (absl::Status s = SplitHostPort(std::string_view(spec).substr(4), &host, &port); !s.ok()) {
      return s;
    }
    return ResolveHost(host, port);
  }
  const bool srv = absl::StartsWith(spec, "dnssrv+");
  const bool srv_noa = absl::StartsWith(spec, "dnssrvnoa+");
  if (srv || srv_noa) {
    auto records = LookupSrv(spec.substr(spec.find('+') + 1));
    if (!records.ok())
      return records.status();
    std::vector<std::string> out;
    for (const auto& [target, p] : *records) {
      const std::string ps = std::to_string(p);
      if (srv_noa) {
        out.push_back(JoinHostPort(target, ps));
        continue;
      }
      auto addrs = ResolveHost(target, ps);
      if (!addrs.ok())
        continue;  // One bad target does not hide the others.
      out.insert(out.end(), addrs->begin(), addrs->end());
    }
    if (out.empty())
      return absl::UnavailableError(absl::StrCat("no addresses for ", spec));
    return out;
  }
  return std::vector<std::string>{spec};
}

// Fills the server's socket address (first getaddrinfo answer). Blocking for host names; runs
// at server-list updates, never on the request path.
void ResolveServer(MemcachedServer& server) {
  std::string host;
  std::string port;
  if (!SplitHostPort(server.addr, &host, &port).ok())
    return;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr)
    return;
  std::memcpy(&server.sa, res->ai_addr, res->ai_addrlen);
  server.sa_len = res->ai_addrlen;
  ::freeaddrinfo(res);
}

uint64_t KeyHash(std::string_view wire) {
  return XXH3_64bits(wire.data(), wire.size());
}

// Seconds for memcached's exptime: rounded up, absolute past 30 days, 0 = no expiry.
int64_t ExpirationSeconds(absl::Duration d) {
  if (d <= absl::ZeroDuration())
    return 0;
  int64_t secs = absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1)));
  if (secs > kMaxRelativeExpiration)
    secs += static_cast<int64_t>(std::time(nullptr));
  return secs;
}

void CloseFd(MemcachedOp& op) {
  if (op.fd >= 0)
    ::close(op.fd);
  op.fd = -1;
}

void Fail(MemcachedOp& op, std::string_view reason);
void Connect(MemcachedOp& op);

// Drops the parsed prefix of the read buffer so a response with many large values does not
// hold all of them twice. Runs only when the parser waits for data after consuming something,
// so each byte moves at most once.
void Compact(MemcachedOp& op) {
  if (op.rpos == 0)
    return;
  op.rbuf.erase(0, op.rpos);
  op.rpos = 0;
}

// Parses what has arrived; returns true when the response is complete (or the op failed).
bool ParseGet(MemcachedOp& op) {
  while (true) {
    const size_t eol = op.rbuf.find("\r\n", op.rpos);
    if (eol == std::string::npos) {
      Compact(op);
      return false;
    }
    const std::string_view line(op.rbuf.data() + op.rpos, eol - op.rpos);
    if (line == "END") {
      op.rpos = eol + 2;
      op.reusable = op.rpos == op.rbuf.size();
      op.state = OpState::kDone;
      return true;
    }
    if (!absl::StartsWith(AV(line), "VALUE ")) {
      Fail(op, "protocol");
      return true;
    }
    // VALUE <key> <flags> <bytes> [<cas>]
    std::vector<absl::string_view> parts = absl::StrSplit(AV(line), ' ', absl::SkipEmpty());
    uint64_t bytes = 0;
    if (parts.size() < 4 || !absl::SimpleAtoi(parts[3], &bytes)) {
      Fail(op, "protocol");
      return true;
    }
    const size_t body = eol + 2;
    const size_t need = body + bytes + 2;
    if (op.rbuf.size() < need) {
      const size_t missing = need - op.rbuf.size();
      Compact(op);
      op.rbuf.reserve(op.rbuf.size() + missing);
      return false;
    }
    if (op.rbuf.compare(body + bytes, 2, "\r\n") != 0) {
      Fail(op, "protocol");
      return true;
    }
    const std::string_view key = SV(parts[1]);
    while (op.next_match < op.idx.size() && (*op.wire)[op.idx[op.next_match]] != key) {
      ++op.next_match;
    }
    if (op.next_match == op.idx.size()) {
      Fail(op, "protocol");
      return true;
    }
    const uint32_t i = op.idx[op.next_match++];
    (*op.values)[i].assign(op.rbuf, body, bytes);
    (*op.found)[i] = 1;
    op.rpos = need;
  }
}

bool ParseSet(MemcachedOp& op) {
  while (true) {
    const size_t eol = op.rbuf.find("\r\n", op.rpos);
    if (eol == std::string::npos)
      return false;
    const std::string_view line(op.rbuf.data() + op.rpos, eol - op.rpos);
    op.rpos = eol + 2;
    if (line == "MN") {
      op.reusable = op.rpos == op.rbuf.size();
      op.state = OpState::kDone;
      return true;
    }
    if (line == "ERROR") {  // Meta commands not understood: nothing was stored.
      Fail(op, "protocol");
      return true;
    }
    if (line != "HD")
      ++op.item_errors;  // NS, SERVER_ERROR object too large, ...
  }
}

void Fail(MemcachedOp& op, std::string_view reason) {
  // A pooled connection the server closed since (restart, idle timeout) fails on first use;
  // one retry on a fresh connection hides that.
  if (reason == "io" && op.reused && !op.retried && op.rbuf.empty() && Clock::now() < op.deadline) {
    CloseFd(op);
    op.server->DropIdle();
    op.retried = true;
    op.reused = false;
    op.written = 0;
    Connect(op);
    return;
  }
  CloseFd(op);
  op.state = OpState::kFailed;
  op.fail_reason = reason;
}

void Connect(MemcachedOp& op) {
  MemcachedServer& s = *op.server;
  if (s.sa_len == 0) {
    Fail(op, "connect");
    return;
  }
  const int fd = ::socket(s.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    Fail(op, "connect");
    return;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  op.fd = fd;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&s.sa), s.sa_len) == 0) {
    op.state = OpState::kWriting;
  } else if (errno == EINPROGRESS) {
    op.state = OpState::kConnecting;
  } else {
    Fail(op, "connect");
  }
}

// Moves the op as far as the socket allows without blocking.
void Advance(MemcachedOp& op, short revents) {
  if (op.state == OpState::kConnecting) {
    if ((revents & (POLLOUT | POLLERR | POLLHUP)) == 0)
      return;
    int err = 0;
    socklen_t len = sizeof(err);
    if (::getsockopt(op.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      Fail(op, "connect");
      return;
    }
    op.state = OpState::kWriting;
  }
  if (op.state == OpState::kWriting) {
    while (op.written < op.request.size()) {
      const ssize_t n = ::send(op.fd, op.request.data() + op.written,
                               op.request.size() - op.written, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
          return;
        if (errno == EINTR)
          continue;
        Fail(op, "io");
        return;
      }
      op.written += static_cast<size_t>(n);
    }
    op.state = OpState::kReading;
  }
  if (op.state == OpState::kReading) {
    // Reading through a fixed buffer costs one copy but never zero-fills spare capacity.
    char buf[64 * 1024];
    while (true) {
      const ssize_t n = ::recv(op.fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
          return;
        if (n < 0 && errno == EINTR)
          continue;
        Fail(op, "io");  // EOF or reset before the response was complete.
        return;
      }
      op.rbuf.append(buf, static_cast<size_t>(n));
      if (op.kind == OpKind::kGet ? ParseGet(op) : ParseSet(op))
        return;
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<MemcachedCache>> MemcachedCache::Create(
    std::string name, const MemcachedOptions& options, const MemcachedClientOptions& client,
    MemcachedEnv env) {
  std::vector<std::string> specs;
  for (absl::string_view part : absl::StrSplit(client.addresses, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty())
      continue;
    if (absl::Status s = ValidateSpec(SV(part)); !s.ok())
      return s;
    specs.emplace_back(part);
  }
  if (specs.empty()) {
    if (client.host.empty()) {
      return absl::InvalidArgumentError(
          "memcached needs memcached_client.host or memcached_client.addresses");
    }
    specs.push_back(absl::StrCat("dnssrvnoa+_", client.service, "._tcp.", client.host));
  }
  if (options.batch_size < 0 || options.parallelism < 0 || client.max_item_size < 0 ||
      client.max_idle_conns < 0) {
    return absl::InvalidArgumentError(
        "memcached batch_size, parallelism, max_item_size and max_idle_conns must be >= 0");
  }
  return std::unique_ptr<MemcachedCache>(
      new MemcachedCache(std::move(name), options, client, env, std::move(specs)));
}

MemcachedCache::MemcachedCache(std::string name, const MemcachedOptions& options,
                               const MemcachedClientOptions& client, MemcachedEnv env,
                               std::vector<std::string> address_specs)
    : name_(std::move(name)),
      options_(options),
      client_(client),
      env_(env),
      address_specs_(std::move(address_specs)),
      timeout_(absl::ToChronoNanoseconds(
          client.timeout > absl::ZeroDuration() ? client.timeout : absl::Milliseconds(100))),
      registry_(env.registry ? env.registry : &metrics::Registry::Default()) {
  auto& duration = registry_->Histogram("loki_memcache_request_duration_seconds",
                                        "Total time spent in seconds doing memcache requests.",
                                        {"method", "status_code", "name"},
                                        metrics::ExponentialBuckets(0.000016, 4, 8));
  metrics_.get_multi_ok = &duration.WithLabels({"Memcache.GetMulti", "200", name_});
  metrics_.get_multi_err = &duration.WithLabels({"Memcache.GetMulti", "500", name_});
  metrics_.get_batched_ok = &duration.WithLabels({"Memcache.GetBatched", "200", name_});
  metrics_.get_batched_err = &duration.WithLabels({"Memcache.GetBatched", "500", name_});
  metrics_.put_ok = &duration.WithLabels({"Memcache.Put", "200", name_});
  metrics_.put_err = &duration.WithLabels({"Memcache.Put", "500", name_});
  metrics_.servers = &registry_
                          ->Gauge("loki_memcache_client_servers",
                                  "The number of memcache servers discovered.", {"name"})
                          .WithLabels({name_});
  metrics_.set_skip =
      &registry_
           ->Counter("loki_memcache_client_set_skip_total",
                     "Total number of skipped set operations because of the value is larger "
                     "than the max-item-size.",
                     {"name"})
           .WithLabels({name_});
  metrics_.dropped_items =
      &registry_
           ->Counter("norn_memcache_client_dropped_items_total",
                     "Items not stored because their server failed, timed out or refused them.",
                     {"name"})
           .WithLabels({name_});

  if (absl::Status s = RefreshServers(); !s.ok()) {
    NORN_LOG(Error)
        .Msg("resolving memcached servers failed; retrying every update_interval")
        .Kv("cache", name_)
        .Err(s);
  }
  if (client_.update_interval > absl::ZeroDuration()) {
    const auto interval = absl::ToChronoNanoseconds(client_.update_interval);
    refresher_ = std::jthread([this, interval](std::stop_token stop) {
      std::mutex mu;
      std::condition_variable_any cv;
      std::unique_lock lock(mu);
      while (!stop.stop_requested()) {
        cv.wait_for(lock, stop, interval, [] { return false; });
        if (stop.stop_requested())
          break;
        if (absl::Status s = RefreshServers(); !s.ok()) {
          NORN_LOG(Warn).Msg("updating memcached servers failed").Kv("cache", name_).Err(s);
        }
      }
    });
  }
}

MemcachedCache::~MemcachedCache() {
  Stop();
}

void MemcachedCache::Stop() {
  if (stopped_.exchange(true))
    return;
  if (refresher_.joinable()) {
    refresher_.request_stop();
    refresher_.join();
  }
  std::lock_guard lock(mu_);
  for (auto& [addr, server] : servers_)
    server->DropIdle();
}

std::string MemcachedCache::WireKey(std::string_view key) {
  if (SafeKey(key))
    return std::string(key);
  const XXH128_hash_t h = XXH3_128bits(key.data(), key.size());
  char hex[33];
  std::snprintf(hex, sizeof(hex), "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return absl::StrCat(AV(kHashedKeyPrefix), hex);
}

absl::StatusOr<std::vector<std::string>> MemcachedCache::Resolve() const {
  std::vector<std::string> out;
  absl::Status first_error;
  for (const std::string& spec : address_specs_) {
    auto addrs = ResolveSpec(spec);
    if (!addrs.ok()) {
      if (first_error.ok())
        first_error = addrs.status();
      continue;
    }
    out.insert(out.end(), addrs->begin(), addrs->end());
  }
  // A partial answer would move the failed entries' keys elsewhere; keep the old list instead.
  if (!first_error.ok())
    return first_error;
  return out;
}

absl::Status MemcachedCache::RefreshServers() {
  auto servers = Resolve();
  if (!servers.ok())
    return servers.status();
  SetServers(*std::move(servers));
  return absl::OkStatus();
}

void MemcachedCache::SetServers(std::vector<std::string> addrs) {
  std::sort(addrs.begin(), addrs.end());
  addrs.erase(std::unique(addrs.begin(), addrs.end()), addrs.end());
  const int max_idle = client_.max_idle_conns > 0 ? client_.max_idle_conns : 2;

  // Reuse servers that stay (and resolved); build new ones outside the lock, since resolving a
  // host name blocks.
  std::vector<std::shared_ptr<MemcachedServer>> list(addrs.size());
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < addrs.size(); ++i) {
      auto it = servers_.find(addrs[i]);
      if (it != servers_.end() && it->second->sa_len != 0)
        list[i] = it->second;
    }
  }
  for (size_t i = 0; i < addrs.size(); ++i) {
    if (list[i] != nullptr)
      continue;
    list[i] = std::make_shared<MemcachedServer>(addrs[i], max_idle);
    ResolveServer(*list[i]);
  }

  auto ring = std::make_shared<MemcachedRing>();
  ring->consistent = client_.consistent_hash;
  ring->servers = list;
  if (ring->consistent) {
    ring->points.reserve(list.size() * kPointsPerServer);
    for (uint32_t j = 0; j < list.size(); ++j) {
      const std::string& a = list[j]->addr;
      for (int p = 0; p < kPointsPerServer; ++p) {
        ring->points.emplace_back(XXH3_64bits_withSeed(a.data(), a.size(), p), j);
      }
    }
    std::sort(ring->points.begin(), ring->points.end());
  }

  absl::flat_hash_map<std::string, std::shared_ptr<MemcachedServer>> by_addr;
  for (auto& s : list)
    by_addr.emplace(s->addr, s);
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    changed = by_addr.size() != servers_.size();
    for (const auto& [a, s] : by_addr) {
      auto it = servers_.find(a);
      if (it == servers_.end() || it->second != s)
        changed = true;
    }
    servers_ = std::move(by_addr);
    ring_ = std::move(ring);
  }
  metrics_.servers->Set(static_cast<double>(addrs.size()));
  if (changed) {
    NORN_LOG(Info)
        .Msg("memcached servers updated")
        .Kv("cache", name_)
        .Kv("servers", absl::StrJoin(addrs, ","));
  }
}

std::shared_ptr<const MemcachedRing> MemcachedCache::Ring() const {
  std::lock_guard lock(mu_);
  return ring_;
}

std::vector<std::string> MemcachedCache::Servers() const {
  std::vector<std::string> out;
  auto ring = Ring();
  if (ring == nullptr)
    return out;
  for (const auto& s : ring->servers)
    out.push_back(s->addr);
  return out;
}

std::string MemcachedCache::ServerFor(std::string_view key) const {
  auto ring = Ring();
  if (ring == nullptr)
    return "";
  const std::string wire = WireKey(key);
  MemcachedServer* s = ring->Pick(KeyHash(wire));
  return s == nullptr ? "" : s->addr;
}

void MemcachedCache::CountFailure(std::string_view method, std::string_view reason) {
  registry_
      ->Counter("norn_memcache_client_failures_total",
                "memcached requests that failed, by cause; their keys became misses or "
                "dropped writes.",
                {"name", "method", "reason"})
      .WithLabels({std::string_view(name_), method, reason})
      .Inc();
}

void MemcachedCache::RunOps(std::span<MemcachedOp> ops, std::string_view method) {
  const size_t parallelism =
      options_.parallelism > 0 ? static_cast<size_t>(options_.parallelism) : ops.size();
  const Clock::duration max_backoff = absl::ToChronoNanoseconds(env_.max_backoff);
  std::vector<MemcachedOp*> active;
  std::vector<pollfd> pfds;
  size_t next = 0;

  auto finish = [&](MemcachedOp& op) {
    const bool ok = op.state == OpState::kDone;
    if (op.started != Clock::time_point{}) {
      const double secs = std::chrono::duration<double>(Clock::now() - op.started).count();
      if (op.kind == OpKind::kGet) {
        (ok ? metrics_.get_multi_ok : metrics_.get_multi_err)->Observe(secs);
      } else {
        (ok ? metrics_.put_ok : metrics_.put_err)->Observe(secs);
      }
    }
    if (ok) {
      op.server->Succeeded(name_);
      if (op.reusable && op.fd >= 0) {
        op.server->PutIdle(op.fd);
        op.fd = -1;
      }
      CloseFd(op);
      return;
    }
    CloseFd(op);
    if (op.fail_reason != "down")
      op.server->Failed(name_, op.fail_reason, max_backoff);
    CountFailure(method, op.fail_reason);
  };

  while (true) {
    while (active.size() < parallelism && next < ops.size()) {
      MemcachedOp& op = ops[next++];
      const Clock::time_point now = Clock::now();
      if (stopped_.load(std::memory_order_acquire) || op.server->InBackoff(now)) {
        op.state = OpState::kFailed;
        op.fail_reason = "down";
      } else {
        op.started = now;
        op.deadline = now + timeout_;
        op.fd = op.server->TakeIdle();
        if (op.fd >= 0) {
          op.reused = true;
          op.state = OpState::kWriting;
        } else {
          Connect(op);
        }
        if (op.state == OpState::kWriting)
          Advance(op, POLLOUT);
      }
      if (op.state == OpState::kDone || op.state == OpState::kFailed) {
        finish(op);
      } else {
        active.push_back(&op);
      }
    }
    if (active.empty())
      break;

    pfds.clear();
    Clock::time_point wake = Clock::time_point::max();
    for (MemcachedOp* op : active) {
      const short events = op->state == OpState::kReading ? POLLIN : POLLOUT;
      pfds.push_back(pollfd{op->fd, events, 0});
      wake = std::min(wake, op->deadline);
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(wake - Clock::now());
    const int wait_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    const int n = ::poll(pfds.data(), pfds.size(), wait_ms);
    if (n < 0 && errno != EINTR) {
      for (MemcachedOp* op : active)
        Fail(*op, "io");
    }
    const Clock::time_point now = Clock::now();
    for (size_t i = 0; i < active.size(); ++i) {
      MemcachedOp& op = *active[i];
      if (op.state == OpState::kFailed)
        continue;
      if (n > 0 && pfds[i].revents != 0)
        Advance(op, pfds[i].revents);
      const bool finished = op.state == OpState::kDone || op.state == OpState::kFailed;
      if (!finished && now >= op.deadline)
        Fail(op, "timeout");
    }
    std::erase_if(active, [&](MemcachedOp* op) {
      if (op->state != OpState::kDone && op->state != OpState::kFailed)
        return false;
      finish(*op);
      return true;
    });
  }
}

FetchResult MemcachedCache::Fetch(std::span<const std::string_view> keys) {
  FetchResult out;
  auto ring = Ring();
  if (keys.empty())
    return out;
  if (stopped_.load(std::memory_order_acquire) || ring == nullptr || ring->servers.empty()) {
    out.missing_keys.assign(keys.begin(), keys.end());
    return out;
  }
  const Clock::time_point start = Clock::now();

  // Wire keys: views of the caller's keys when safe, else of hashed copies. `hashed` never
  // reallocates (reserved), so the views stay valid.
  std::vector<std::string> hashed;
  hashed.reserve(keys.size());
  std::vector<std::string_view> wire(keys.size());
  absl::flat_hash_map<MemcachedServer*, std::vector<uint32_t>> by_server;
  for (uint32_t i = 0; i < keys.size(); ++i) {
    if (SafeKey(keys[i])) {
      wire[i] = keys[i];
    } else {
      hashed.push_back(WireKey(keys[i]));
      wire[i] = hashed.back();
    }
    by_server[ring->Pick(KeyHash(wire[i]))].push_back(i);
  }

  std::vector<std::string> values(keys.size());
  std::vector<char> found(keys.size(), 0);
  const size_t batch =
      options_.batch_size > 0 ? static_cast<size_t>(options_.batch_size) : keys.size();
  std::vector<MemcachedOp> ops;
  for (auto& [server, idx] : by_server) {
    for (size_t b = 0; b < idx.size(); b += batch) {
      MemcachedOp& op = ops.emplace_back();
      op.kind = OpKind::kGet;
      op.server = server;
      op.idx.assign(idx.begin() + b, idx.begin() + std::min(idx.size(), b + batch));
      op.request = "get";
      for (uint32_t i : op.idx)
        absl::StrAppend(&op.request, " ", AV(wire[i]));
      op.request += "\r\n";
      op.wire = &wire;
      op.values = &values;
      op.found = &found;
    }
  }
  RunOps(ops, "Memcache.GetMulti");

  bool all_ok = true;
  for (const MemcachedOp& op : ops)
    all_ok = all_ok && op.state == OpState::kDone;
  if (options_.batch_size > 0) {
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    (all_ok ? metrics_.get_batched_ok : metrics_.get_batched_err)->Observe(secs);
  }

  out.found_keys.reserve(keys.size());
  out.values.reserve(keys.size());
  for (uint32_t i = 0; i < keys.size(); ++i) {
    if (found[i]) {
      out.found_keys.emplace_back(keys[i]);
      out.values.push_back(std::move(values[i]));
    } else {
      out.missing_keys.emplace_back(keys[i]);
    }
  }
  return out;
}

void MemcachedCache::Store(std::span<const std::string_view> keys,
                           std::span<const std::string_view> values) {
  if (keys.size() != values.size()) {
    std::fprintf(stderr, "cache: check failed: Store keys and values differ in length\n");
    std::abort();
  }
  if (keys.empty() || stopped_.load(std::memory_order_acquire))
    return;
  auto ring = Ring();
  if (ring == nullptr || ring->servers.empty()) {
    metrics_.dropped_items->Inc(static_cast<double>(keys.size()));
    return;
  }
  const std::string exptime = std::to_string(ExpirationSeconds(options_.expiration));

  absl::flat_hash_map<MemcachedServer*, std::vector<uint32_t>> by_server;
  std::vector<std::string> wire(keys.size());
  for (uint32_t i = 0; i < keys.size(); ++i) {
    if (client_.max_item_size > 0 &&
        values[i].size() > static_cast<size_t>(client_.max_item_size)) {
      metrics_.set_skip->Inc();
      continue;
    }
    wire[i] = WireKey(keys[i]);
    by_server[ring->Pick(KeyHash(wire[i]))].push_back(i);
  }

  const size_t batch =
      options_.batch_size > 0 ? static_cast<size_t>(options_.batch_size) : keys.size();
  std::vector<MemcachedOp> ops;
  for (auto& [server, idx] : by_server) {
    for (size_t b = 0; b < idx.size(); b += batch) {
      MemcachedOp& op = ops.emplace_back();
      op.kind = OpKind::kSet;
      op.server = server;
      op.idx.assign(idx.begin() + b, idx.begin() + std::min(idx.size(), b + batch));
      size_t bytes = 8;
      for (uint32_t i : op.idx)
        bytes += wire[i].size() + values[i].size() + 40;
      op.request.reserve(bytes);
      for (uint32_t i : op.idx) {
        absl::StrAppend(&op.request, "ms ", wire[i], " ", values[i].size(), " T", exptime,
                        " q\r\n");
        op.request.append(values[i]);
        op.request += "\r\n";
      }
      op.request += "mn\r\n";
    }
  }
  RunOps(ops, "Memcache.Put");

  size_t dropped = 0;
  for (const MemcachedOp& op : ops) {
    dropped += op.state == OpState::kDone ? op.item_errors : op.idx.size();
  }
  if (dropped > 0)
    metrics_.dropped_items->Inc(static_cast<double>(dropped));
}

}  // namespace norn::cache
