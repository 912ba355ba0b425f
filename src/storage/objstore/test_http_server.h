// TestHttpServer: a tiny blocking HTTP/1.1 server on 127.0.0.1 (ephemeral port) for tests of the
// S3 client and the AWS credential providers. One request per connection ("Connection: close"),
// one accept thread; the handler runs on that thread. Test-only; not linked into norn.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "storage/objstore/aws_sigv4.h"

namespace norn::objstore::testing {

struct TestRequest {
  std::string method;
  std::string target;  // path?query as sent
  KeyValues headers;   // names lowercased
  std::string body;
  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name)
        return v;
    }
    return "";
  }
};

struct TestResponse {
  TestResponse(int s = 200, KeyValues h = {}, std::string b = "")
      : status(s), headers(std::move(h)), body(std::move(b)) {}
  int status;  // < 0: close the connection without answering.
  KeyValues headers;
  std::string body;
};

class TestHttpServer {
 public:
  using Handler = std::function<TestResponse(const TestRequest&)>;

  explicit TestHttpServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd_, 64) != 0) {
      std::abort();
    }
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~TestHttpServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }

  int port() const { return port_; }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }
  std::vector<TestRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  size_t request_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_.size();
  }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0)
        continue;
      Serve(c);
      ::close(c);
    }
  }

  static bool ReadMore(int c, std::string& buf) {
    pollfd p{c, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0)
      return false;
    char tmp[65536];
    ssize_t n = ::read(c, tmp, sizeof(tmp));
    if (n <= 0)
      return false;
    buf.append(tmp, static_cast<size_t>(n));
    return true;
  }

  void Serve(int c) {
    std::string buf;
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!ReadMore(c, buf))
        return;
    }
    TestRequest req;
    std::string_view head(buf.data(), end);
    size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    size_t s1 = line.find(' '), s2 = line.rfind(' ');
    req.method = std::string(line.substr(0, s1));
    req.target = std::string(line.substr(s1 + 1, s2 - s1 - 1));
    size_t content_length = 0;
    while (eol != std::string_view::npos) {
      head = head.substr(eol + 2);
      eol = head.find("\r\n");
      std::string_view h = head.substr(0, eol);
      size_t colon = h.find(':');
      if (colon == std::string_view::npos)
        continue;
      std::string name = absl::AsciiStrToLower(AV(h.substr(0, colon)));
      std::string value(absl::StripAsciiWhitespace(AV(h.substr(colon + 1))));
      if (name == "content-length")
        (void)absl::SimpleAtoi(value, &content_length);
      req.headers.emplace_back(std::move(name), std::move(value));
    }
    std::string rest = buf.substr(end + 4);
    while (rest.size() < content_length) {
      if (!ReadMore(c, rest))
        return;
    }
    req.body = rest.substr(0, content_length);
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req);
    }
    TestResponse resp = handler_(req);
    if (resp.status < 0)
      return;  // Simulate a dropped connection.
    std::string out = absl::StrCat("HTTP/1.1 ", resp.status, " X\r\nConnection: close\r\n");
    bool has_length = false;
    for (const auto& [k, v] : resp.headers) {
      if (absl::EqualsIgnoreCase(k, "content-length"))
        has_length = true;
      absl::StrAppend(&out, k, ": ", v, "\r\n");
    }
    if (!has_length)
      absl::StrAppend(&out, "Content-Length: ", resp.body.size(), "\r\n");
    absl::StrAppend(&out, "\r\n");
    if (req.method != "HEAD")
      out += resp.body;
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = ::write(c, out.data() + off, out.size() - off);
      if (n <= 0)
        return;
      off += static_cast<size_t>(n);
    }
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<TestRequest> requests_;
};

}  // namespace norn::objstore::testing
