// HttpServer: the HTTP/1.1 front door (Boost.Beast over Asio, C++20 coroutines).
//
// Threads: `io_threads` run the Asio io_context and only do socket work (accept, read, write,
// timers); every route handler runs on a separate bounded handler pool so a slow handler never
// blocks I/O. One coroutine per connection serves keep-alive requests one after another.
//
// Per request the server: enforces the header and body size limits (413), the read, write and
// idle timeouts, answers `Expect: 100-continue`, decodes gzip/deflate bodies, parses query and
// form parameters, routes (404 / 405 like Loki's router), runs the handler behind an exception
// barrier (500), records `loki_request_duration_seconds` and `loki_inflight_requests`, and logs
// the request at debug level.
//
// Lifecycle: construct, register routes on router(), Start(), then Shutdown(grace) once.
// Shutdown stops accepting, closes idle keep-alive connections, lets in-flight requests finish
// for up to `grace`, then closes whatever is left. WebSocket connections (routes registered with
// Router::HandleWebSocket, see websocket.h) get a close frame (1001) at the start of the grace
// period. All public methods are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/http/router.h"

namespace norn::metrics {
class Registry;
}

namespace norn::http {

struct ServerOptions {
  std::string address;  // "" listens on every interface.
  uint16_t port = 3100;
  int io_threads = 0;       // 0: one per core.
  int handler_threads = 0;  // 0: max(8, 4 per core).
  absl::Duration read_timeout = absl::Seconds(30);
  absl::Duration write_timeout = absl::Seconds(30);
  absl::Duration idle_timeout = absl::Seconds(120);
  uint64_t max_request_body_bytes = 100 << 20;
  uint32_t max_header_bytes = 1 << 20;
  // A WebSocket whose single write stays blocked this long (the client stopped reading) is
  // closed.
  absl::Duration websocket_write_timeout = absl::Seconds(10);
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, metrics::Registry& registry);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes must be registered before Start().
  Router& router() { return router_; }

  // Binds, listens and starts serving on background threads.
  [[nodiscard]] absl::Status Start();
  // The port actually bound (useful when options.port is 0).
  uint16_t port() const { return bound_port_.load(); }
  // Graceful stop; see the class comment. Idempotent.
  void Shutdown(absl::Duration grace);
  // Requests being handled right now (read fully, response not yet written).
  int64_t InFlightRequests() const;

 private:
  class Impl;
  Router router_;
  std::unique_ptr<Impl> impl_;
  std::atomic<uint16_t> bound_port_{0};
};

}  // namespace norn::http
