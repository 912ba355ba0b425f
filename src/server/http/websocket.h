// WebSocket routes for HttpServer (RFC 6455 through Boost.Beast).
//
// A route registered with Router::HandleWebSocket() first sees the upgrade request as a normal
// request on a handler thread: it validates it and either refuses (returns an empty
// WebSocketOpen and fills the HttpResponse, e.g. a 400; no upgrade happens) or returns a
// WebSocketOpen callback. The server then completes the handshake (a request that is not a
// WebSocket upgrade gets 400) and calls the callback once with the open connection. The
// callback runs on an I/O thread: it must not block (start a thread or post work instead). If
// the handshake fails the callback is destroyed without being called, so captured resources
// are released by their destructors.
//
// WebSocketConnection is the application's handle on the open connection: a thread-safe,
// non-blocking outbox. The server writes queued text messages in order on the connection's
// I/O strand, answers pings (Beast does), discards incoming data messages, and ends the
// connection when the peer closes, on a write error, when a single write stays blocked longer
// than ServerOptions::websocket_write_timeout (a client that stopped reading), or at shutdown
// (close frame 1001 "server shutting down", then the socket is closed after the grace period).
// Once closed, SendText() returns false and WaitClosed() returns true. The handle may outlive
// the server: after the server is gone every call is a no-op.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "server/http/request.h"

namespace norn::http {

// Close codes of RFC 6455 section 7.4.1 used here.
inline constexpr uint16_t kWsCloseNormal = 1000;
inline constexpr uint16_t kWsCloseGoingAway = 1001;
inline constexpr uint16_t kWsClosePolicyViolation = 1008;
inline constexpr uint16_t kWsCloseInternalError = 1011;

class WebSocketConnection {
 public:
  WebSocketConnection() = default;
  WebSocketConnection(const WebSocketConnection&) = delete;
  WebSocketConnection& operator=(const WebSocketConnection&) = delete;

  // Queues one text message. Never blocks. False (message dropped) once the connection is
  // closed or closing.
  bool SendText(std::string message);
  // Sends a close frame with `code` / `reason` after the messages already queued, then ends
  // the connection. Idempotent; the first call's code wins.
  void Close(uint16_t code = kWsCloseNormal, std::string reason = "");
  // True once the connection ended or Close() was called.
  bool closed() const;
  // Messages / bytes queued and not yet completely written to the socket (backpressure).
  size_t queued_messages() const;
  size_t queued_bytes() const;
  // Waits until closed() or `timeout`; returns closed().
  bool WaitClosed(absl::Duration timeout);

  // --- Used by HttpServer only. ---------------------------------------------------------
  struct CloseRequest {
    uint16_t code = kWsCloseNormal;
    std::string reason;
  };
  // Installs the function that wakes the connection's writer (posts to its strand).
  void ServerAttach(std::function<void()> wake);
  // Moves every queued message to *out (they stay counted in queued_* until ServerWritten)
  // and reports a pending close request.
  void ServerTake(std::deque<std::string>* out, std::optional<CloseRequest>* close);
  void ServerWritten(size_t bytes);
  // The connection ended (or the server went away): closed() becomes true and the wake
  // function is dropped, so later calls never touch the server.
  void ServerDetach();

 private:
  void WakeLocked();  // Requires mu_.

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> outbox_;          // Guarded by mu_.
  size_t queued_messages_ = 0;              // Guarded by mu_.
  size_t queued_bytes_ = 0;                 // Guarded by mu_.
  std::optional<CloseRequest> close_;       // Guarded by mu_.
  bool ended_ = false;                      // Guarded by mu_.
  std::function<void()> wake_;              // Guarded by mu_.
};

// Called once after the handshake with the open connection (on an I/O thread: don't block).
using WebSocketOpen = std::function<void(std::shared_ptr<WebSocketConnection>)>;
// Validates an upgrade request; an empty result refuses it with `response`.
using WebSocketHandler = std::function<WebSocketOpen(HttpRequest& request, HttpResponse& response)>;

}  // namespace norn::http
