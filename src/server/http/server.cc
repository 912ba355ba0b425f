#include "server/http/server.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/spare_body.h"
#include "common/status.h"
#include "common/strings.h"
#include "server/http/body_decoder.h"
#include "server/http/websocket.h"

namespace norn::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

// Receive buffer of a connection: the most a single receive reads (Beast caps it at 64 KiB).
constexpr size_t kReadBufferBytes = 64 << 10;

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

// Runs `fn` on `pool` and resumes the awaiting coroutine on its own executor afterwards.
template <typename Fn>
auto RunOn(asio::thread_pool& pool, Fn fn) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [&pool, fn = std::move(fn)](auto handler) mutable {
        asio::post(pool, [fn = std::move(fn), handler = std::move(handler)]() mutable {
          fn();
          auto ex = asio::get_associated_executor(handler);
          asio::dispatch(ex, std::move(handler));
        });
      },
      asio::use_awaitable);
}

// Beast's string_view is boost::string_view; Abseil's is its own class (see common/strings.h).
absl::string_view BV(boost::beast::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

// State shared between a connection's coroutine and Shutdown().
struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  // True while waiting for the next request; such connections are closed at shutdown.
  bool idle = true;
  // Set (on the connection's strand) once the connection became a WebSocket.
  std::shared_ptr<WebSocketConnection> ws;
};

// One upgraded connection: the Beast WebSocket over the connection's stream and the state its
// writer (the connection's coroutine), reader and write-stall watchdog share on the strand.
struct WsSession {
  explicit WsSession(std::shared_ptr<Connection> c)
      : conn(std::move(c)),
        ws(conn->stream),
        wake(conn->stream.get_executor()),
        watchdog(conn->stream.get_executor()) {}
  std::shared_ptr<Connection> conn;
  beast::websocket::stream<beast::tcp_stream&> ws;
  asio::steady_timer wake;      // Cancelled to wake the writer.
  asio::steady_timer watchdog;  // Ticks while the session runs.
  beast::flat_buffer read_buffer;
  bool reader_done = false;
  bool finished = false;
  bool write_pending = false;
  std::chrono::steady_clock::time_point write_started;
  beast::websocket::close_reason close_reason;
};

// Built outside the coroutine and kept in the session: filled in place inside the coroutine
// (GCC 12, Boost 1.74) the close frame went out without its reason.
beast::websocket::close_reason MakeCloseReason(uint16_t code, std::string_view reason) {
  beast::websocket::close_reason cr;
  cr.code = code;
  // RFC 6455: a control frame's payload is at most 125 bytes, 2 of them the code.
  reason = reason.substr(0, std::min<size_t>(reason.size(), cr.reason.max_size()));
  cr.reason.assign(reason.data(), reason.size());
  return cr;
}

class HttpServer::Impl {
 public:
  Impl(ServerOptions options, metrics::Registry& registry, Router& router)
      : options_(std::move(options)),
        router_(router),
        ioc_(1),
        handler_pool_(HandlerThreads(options_)),
        request_duration_(registry.Histogram(
            "loki_request_duration_seconds", "Time (in seconds) spent serving HTTP requests.",
            {"method", "route", "status_code", "ws"}, metrics::DefBuckets())),
        inflight_(registry.Gauge("loki_inflight_requests", "Current number of inflight requests.",
                                 {"method", "route"})),
        request_bytes_(registry.Histogram("loki_request_message_bytes",
                                          "Size (in bytes) of messages received in the request.",
                                          {"method", "route"},
                                          metrics::ExponentialBuckets(64, 4, 12))),
        response_bytes_(registry.Histogram("loki_response_message_bytes",
                                           "Size (in bytes) of messages sent in response.",
                                           {"method", "route"},
                                           metrics::ExponentialBuckets(64, 4, 12))),
        connections_(registry.Gauge("loki_tcp_connections",
                                    "Current number of accepted TCP connections.", {"protocol"})
                         .WithLabels({"http"})) {}

  static int HandlerThreads(const ServerOptions& o) {
    if (o.handler_threads > 0) return o.handler_threads;
    int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return std::max(8, 4 * cores);
  }

  absl::Status Start(std::atomic<uint16_t>& bound_port) {
    boost::system::error_code ec;
    tcp::endpoint endpoint;
    if (options_.address.empty()) {
      endpoint = tcp::endpoint(tcp::v6(), options_.port);
    } else {
      auto addr = asio::ip::make_address(options_.address, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid HTTP listen address \"", options_.address, "\": ", ec.message()));
      }
      endpoint = tcp::endpoint(addr, options_.port);
    }
    acceptor_ = std::make_unique<tcp::acceptor>(accept_strand_);
    if (auto st = OpenAcceptor(endpoint); !st.ok()) {
      if (!options_.address.empty()) return st;
      // No IPv6 on this host: fall back to IPv4 any.
      acceptor_ = std::make_unique<tcp::acceptor>(accept_strand_);
      RETURN_IF_ERROR(OpenAcceptor(tcp::endpoint(tcp::v4(), options_.port)));
    }
    bound_port = acceptor_->local_endpoint().port();
    asio::co_spawn(accept_strand_, Accept(), asio::detached);
    int io_threads = options_.io_threads > 0
                         ? options_.io_threads
                         : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int i = 0; i < io_threads; ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
    return absl::OkStatus();
  }

  void Shutdown(absl::Duration grace) {
    if (shutting_down_.exchange(true)) return;
    asio::post(accept_strand_, [this] {
      boost::system::error_code ec;
      if (acceptor_)
        acceptor_->close(ec);
    });
    // Close idle keep-alive connections; busy ones close after their current response.
    CloseConnections(/*only_idle=*/true);
    absl::Time deadline = absl::Now() + grace;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, absl::ToChronoTime(deadline), [this] { return connections_set_.empty(); });
      if (!connections_set_.empty()) {
        NORN_LOG(Warn)
            .Msg("graceful shutdown period expired; closing remaining HTTP connections")
            .Kv("connections", static_cast<int64_t>(connections_set_.size()));
      }
    }
    CloseConnections(/*only_idle=*/false);
    ioc_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
    handler_pool_.join();
    // Sessions the io_context never finished: cut their handles loose so application threads
    // holding them never post to a dead io_context.
    std::vector<std::weak_ptr<WebSocketConnection>> websockets;
    {
      std::lock_guard lock(mu_);
      websockets.swap(websockets_);
    }
    for (auto& w : websockets) {
      if (auto ws = w.lock()) ws->ServerDetach();
    }
  }

  int64_t InFlight() const { return inflight_total_.load(); }

 private:
  absl::Status OpenAcceptor(const tcp::endpoint& endpoint) {
    boost::system::error_code ec;
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec && endpoint.protocol() == tcp::v6()) acceptor_->set_option(asio::ip::v6_only(false), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("cannot listen for HTTP on ",
                                                 endpoint.address().to_string(), ":",
                                                 endpoint.port(), ": ", ec.message()));
    }
    return absl::OkStatus();
  }

  void CloseConnections(bool only_idle) {
    std::vector<std::shared_ptr<Connection>> targets;
    {
      std::lock_guard lock(mu_);
      for (const auto& c : connections_set_) targets.push_back(c);
    }
    for (auto& c : targets) {
      asio::post(c->stream.get_executor(), [c, only_idle] {
        if (c->ws != nullptr && only_idle) {
          c->ws->Close(kWsCloseGoingAway, "server shutting down");
          return;
        }
        if (only_idle && !c->idle) return;
        boost::system::error_code ec;
        c->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        c->stream.socket().close(ec);
      });
    }
  }

  asio::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket(asio::make_strand(ioc_));
      co_await acceptor_->async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (shutting_down_.load() || ec == asio::error::operation_aborted) co_return;
        NORN_LOG(Warn).Msg("HTTP accept failed").Kv("err", ec.message());
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      auto conn = std::make_shared<Connection>(std::move(socket));
      {
        std::lock_guard lock(mu_);
        connections_set_.insert(conn);
      }
      connections_.Inc();
      asio::co_spawn(conn->stream.get_executor(), Serve(conn), asio::detached);
    }
  }

  // Writes a response on `conn`; returns false when the connection must be dropped.
  asio::awaitable<bool> Write(Connection& conn, bhttp::response<bhttp::string_body>& res) {
    boost::system::error_code ec;
    res.prepare_payload();
    conn.stream.expires_after(ToChrono(options_.write_timeout));
    co_await bhttp::async_write(conn.stream, res, asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  static bhttp::response<bhttp::string_body> MakeResponse(int code, unsigned version,
                                                          std::string body,
                                                          std::string_view content_type) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(code), version};
    res.set(bhttp::field::content_type,
            boost::beast::string_view(content_type.data(), content_type.size()));
    res.body() = std::move(body);
    return res;
  }

  asio::awaitable<void> Serve(std::shared_ptr<Connection> conn) {
    beast::flat_buffer buffer;
    // Beast reads at most the buffer's free capacity per receive (no less than 512 bytes), and
    // the body parser empties the buffer after each one: a buffer sized for the headers read a
    // 1 MB push body in ~2,000 receives, each with its epoll wake-up and timer update.
    buffer.reserve(kReadBufferBytes);
    bool first = true;
    for (;;) {
      boost::system::error_code ec;
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(options_.max_header_bytes);
      parser.body_limit(options_.max_request_body_bytes);
      conn->idle = true;
      if (shutting_down_.load()) break;
      conn->stream.expires_after(ToChrono(first ? options_.read_timeout : options_.idle_timeout));
      co_await bhttp::async_read_header(conn->stream, buffer, parser,
                                        asio::redirect_error(asio::use_awaitable, ec));
      first = false;
      if (ec == bhttp::error::body_limit) {  // Content-Length over the limit.
        co_await WriteTooLarge(*conn, parser.get().version());
        break;
      }
      if (ec) {
        if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
            ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
            ec == asio::error::eof || ec == asio::error::bad_descriptor) {
          break;
        }
        // A malformed request line or header: answer 400 and close, as Go's server does.
        auto res = MakeResponse(ec == bhttp::error::header_limit ? 431 : 400, 11,
                                absl::StrCat(ec == bhttp::error::header_limit
                                                 ? "431 Request Header Fields Too Large"
                                                 : "400 Bad Request",
                                             ": ", ec.message(), "\n"),
                                "text/plain; charset=utf-8");
        res.keep_alive(false);
        co_await Write(*conn, res);
        break;
      }
      conn->idle = false;
      const auto& header = parser.get();
      unsigned version = header.version();

      auto content_length = parser.content_length();
      if (content_length && *content_length > options_.max_request_body_bytes) {
        co_await WriteTooLarge(*conn, version);
        break;
      }
      if (absl::EqualsIgnoreCase(BV(header[bhttp::field::expect]), "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
        conn->stream.expires_after(ToChrono(options_.write_timeout));
        co_await bhttp::async_write(conn->stream, cont, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
      }
      conn->stream.expires_after(ToChrono(options_.read_timeout));
      co_await bhttp::async_read(conn->stream, buffer, parser,
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec == bhttp::error::body_limit) {
        co_await WriteTooLarge(*conn, version);
        break;
      }
      if (ec) {
        if (ec == beast::error::timeout || ec == bhttp::error::partial_message ||
            ec == asio::error::eof || ec == asio::error::connection_reset ||
            ec == asio::error::operation_aborted) {
          break;
        }
        auto res = MakeResponse(400, version, absl::StrCat("400 Bad Request: ", ec.message(), "\n"),
                                "text/plain; charset=utf-8");
        res.keep_alive(false);
        co_await Write(*conn, res);
        break;
      }
      bool keep_alive = parser.get().keep_alive();
      auto raw = parser.release();
      WebSocketOpen upgrade;
      auto res = co_await Handle(raw, conn->stream.socket(), &upgrade);
      if (upgrade) {
        co_await ServeWebSocket(conn, raw, std::move(upgrade));
        break;
      }
      res.keep_alive(keep_alive && !shutting_down_.load());
      const bool written = co_await Write(*conn, res);
      GiveSpareBody(std::move(res.body()));  // for the next answer to render into
      if (!written)
        break;
      if (!res.keep_alive()) break;
    }
    boost::system::error_code ec;
    conn->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    conn->stream.socket().close(ec);
    connections_.Dec();
    std::lock_guard lock(mu_);
    connections_set_.erase(conn);
    if (connections_set_.empty()) cv_.notify_all();
  }

  // Completes the WebSocket handshake on `conn`, hands the connection to `open`, then writes
  // what the application queues until either side closes. Returns when the session is over
  // (the caller closes the socket).
  asio::awaitable<void> ServeWebSocket(std::shared_ptr<Connection> conn,
                                       bhttp::request<bhttp::string_body>& req,
                                       WebSocketOpen open) {
    namespace ws = beast::websocket;
    auto s = std::make_shared<WsSession>(conn);
    conn->idle = false;
    conn->stream.expires_never();  // The WebSocket's own timeouts and the watchdog apply.
    ws::stream_base::timeout timeouts;
    timeouts.handshake_timeout = std::chrono::seconds(10);  // Also bounds the close handshake.
    timeouts.idle_timeout = ws::stream_base::none();
    timeouts.keep_alive_pings = false;
    s->ws.set_option(timeouts);
    s->ws.read_message_max(1 << 20);
    boost::system::error_code ec;
    co_await s->ws.async_accept(req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;

    auto mailbox = std::make_shared<WebSocketConnection>();
    conn->ws = mailbox;
    {
      std::lock_guard lock(mu_);
      std::erase_if(websockets_, [](const auto& w) { return w.expired(); });
      websockets_.push_back(mailbox);
    }
    auto ex = conn->stream.get_executor();
    std::weak_ptr<WsSession> weak = s;
    mailbox->ServerAttach([weak, ex] {
      asio::post(ex, [weak] {
        if (auto session = weak.lock()) session->wake.cancel();
      });
    });
    if (shutting_down_.load()) mailbox->Close(kWsCloseGoingAway, "server shutting down");
    try {
      open(mailbox);
    } catch (const std::exception& e) {
      NORN_LOG(Error).Msg("WebSocket open callback threw").Kv("err", e.what());
      mailbox->Close(kWsCloseInternalError, "internal error");
    }
    open = nullptr;
    asio::co_spawn(ex, WsRead(s), asio::detached);
    asio::co_spawn(ex, WsWatchdog(s), asio::detached);

    std::deque<std::string> out;
    bool failed = false;
    while (!s->reader_done && !failed) {
      std::optional<WebSocketConnection::CloseRequest> close;
      mailbox->ServerTake(&out, &close);
      if (!out.empty()) {
        while (!out.empty()) {
          std::string msg = std::move(out.front());
          out.pop_front();
          s->ws.text(true);
          s->write_pending = true;
          s->write_started = std::chrono::steady_clock::now();
          co_await s->ws.async_write(asio::buffer(msg),
                                     asio::redirect_error(asio::use_awaitable, ec));
          s->write_pending = false;
          mailbox->ServerWritten(msg.size());
          if (ec) {
            failed = true;
            break;
          }
        }
        continue;  // More may have been queued meanwhile; a close goes after them.
      }
      if (close.has_value()) {
        s->write_pending = true;
        s->write_started = std::chrono::steady_clock::now();
        s->close_reason = MakeCloseReason(close->code, close->reason);
        co_await s->ws.async_close(s->close_reason,
                                   asio::redirect_error(asio::use_awaitable, ec));
        s->write_pending = false;
        break;
      }
      s->wake.expires_at(asio::steady_timer::time_point::max());
      co_await s->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    mailbox->ServerDetach();
    s->finished = true;
    s->watchdog.cancel();
    if (!s->reader_done) {
      conn->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      conn->stream.socket().close(ec);
    }
    while (!s->reader_done) {  // The reader holds the stream; let it finish first.
      s->wake.expires_after(std::chrono::seconds(1));
      co_await s->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  // Reads and discards incoming messages (Beast answers pings and the peer's close) until the
  // connection ends, then wakes the writer.
  static asio::awaitable<void> WsRead(std::shared_ptr<WsSession> s) {
    for (;;) {
      boost::system::error_code ec;
      co_await s->ws.async_read(s->read_buffer, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      s->read_buffer.consume(s->read_buffer.size());
    }
    s->reader_done = true;
    s->wake.cancel();
  }

  // Closes the socket when one write has been blocked longer than websocket_write_timeout.
  asio::awaitable<void> WsWatchdog(std::shared_ptr<WsSession> s) {
    const auto limit = ToChrono(options_.websocket_write_timeout);
    const auto tick = std::clamp<std::chrono::steady_clock::duration>(
        limit / 4, std::chrono::milliseconds(10), std::chrono::seconds(1));
    while (!s->finished) {
      boost::system::error_code ec;
      s->watchdog.expires_after(tick);
      co_await s->watchdog.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (s->finished) break;
      if (s->write_pending && std::chrono::steady_clock::now() - s->write_started > limit) {
        NORN_LOG(Warn)
            .Msg("closing WebSocket: the client has not read for too long")
            .Kv("timeout", options_.websocket_write_timeout);
        s->conn->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        s->conn->stream.socket().close(ec);
        break;
      }
    }
  }

  asio::awaitable<void> WriteTooLarge(Connection& conn, unsigned version) {
    auto res = MakeResponse(413, version,
                            absl::StrCat("request body too large: the limit is ",
                                         options_.max_request_body_bytes,
                                         " bytes (server.http_server_max_request_body_bytes)\n"),
                            "text/plain; charset=utf-8");
    res.keep_alive(false);
    co_await Write(conn, res);
  }

  // Serves a request; for a WebSocket route whose handler accepted the upgrade, sets *upgrade
  // instead (the returned response is then unused).
  asio::awaitable<bhttp::response<bhttp::string_body>> Handle(
      bhttp::request<bhttp::string_body>& raw, tcp::socket& socket, WebSocketOpen* upgrade) {
    absl::Time start = absl::Now();
    HttpRequest req;
    HttpResponse resp;
    req.method_name = std::string(raw.method_string());
    req.method = ParseMethod(req.method_name);
    req.target = std::string(raw.target());
    boost::system::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    if (!ec) req.remote_address = absl::StrCat(remote.address().to_string(), ":", remote.port());
    for (const auto& field : raw) {
      std::string name = absl::AsciiStrToLower(BV(field.name_string()));
      auto [it, inserted] = req.headers.try_emplace(name, std::string(field.value()));
      if (!inserted) absl::StrAppend(&it->second, ", ", BV(field.value()));
    }
    req.body = std::move(raw.body());
    const Route* route = nullptr;
    WebSocketOpen open;
    std::string route_name = "other";
    size_t request_size = req.body.size();

    absl::Status prep = Prepare(req);
    if (!prep.ok()) {
      resp.Error(HttpStatusFromStatus(prep) == 429 ? 413 : HttpStatusFromStatus(prep),
                 SV(prep.message()));
    } else {
      Router::Match match = router_.Find(req.method, req.path, &req.path_params);
      switch (match.outcome) {
        case Router::Outcome::kNotFound:
          resp.Text(404, "404 page not found\n");
          break;
        case Router::Outcome::kMethodNotAllowed:
          resp.Text(405, "405 method not allowed\n");
          resp.SetHeader("Allow", match.allow);
          break;
        case Router::Outcome::kFound:
          route = match.route;
          route_name = route->name;
          break;
      }
    }
    if (route != nullptr) {
      auto& inflight = inflight_.WithLabels({req.method_name, route_name});
      inflight.Inc();
      inflight_total_.fetch_add(1);
      co_await RunOn(handler_pool_, [&] {
        try {
          if (route->ws_handler) {
            open = route->ws_handler(req, resp);
          } else {
            route->handler(req, resp);
          }
        } catch (const std::bad_alloc&) {
          throw;
        } catch (const std::exception& e) {
          NORN_LOG(Error).Msg("HTTP handler threw").Kv("route", route_name).Kv("err", e.what());
          resp = HttpResponse();
          resp.Error(500, absl::StrCat("internal error: ", e.what()));
        } catch (...) {
          NORN_LOG(Error).Msg("HTTP handler threw").Kv("route", route_name);
          resp = HttpResponse();
          resp.Error(500, "internal error");
        }
      });
      inflight_total_.fetch_sub(1);
      inflight.Dec();
    }
    if (open) {
      if (beast::websocket::is_upgrade(raw)) {
        *upgrade = std::move(open);
        request_duration_.WithLabels({req.method_name, route_name, "101", "true"})
            .Observe(absl::ToDoubleSeconds(absl::Now() - start));
        co_return bhttp::response<bhttp::string_body>{};
      }
      open = nullptr;  // Releases what the handler set up for the connection.
      resp = HttpResponse();
      resp.Error(400,
                 "websocket: the client is not using the websocket protocol: 'upgrade' token "
                 "not found in 'Connection' header");
    }

    auto res = MakeResponse(resp.status, raw.version(), std::move(resp.body), resp.content_type);
    for (auto& [k, v] : resp.headers) res.set(k, v);
    if (req.method == Method::kHead) {
      res.content_length(res.body().size());
      res.body().clear();
    }
    double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    std::string code = absl::StrCat(resp.status);
    request_duration_.WithLabels({req.method_name, route_name, code, "false"}).Observe(seconds);
    request_bytes_.WithLabels({req.method_name, route_name}).Observe(static_cast<double>(request_size));
    response_bytes_.WithLabels({req.method_name, route_name})
        .Observe(static_cast<double>(res.body().size()));
    NORN_LOG(Debug)
        .Msg("request")
        .Kv("method", req.method_name)
        .Kv("uri", req.target)
        .Kv("status", resp.status)
        .Kv("duration", absl::Now() - start)
        .Kv("remote", req.remote_address);
    co_return res;
  }

  // Splits the target into path and query, decodes the body and parses parameters.
  absl::Status Prepare(HttpRequest& req) {
    std::string_view target = req.target;
    size_t q = target.find('?');
    std::string_view raw_path = target.substr(0, q);
    if (!UrlDecode(raw_path, &req.path, false)) {
      return absl::InvalidArgumentError("invalid URL escape in request path");
    }
    if (q != std::string_view::npos) {
      if (auto st = ParseQueryString(target.substr(q + 1), &req.params); !st.ok()) return st;
    }
    std::string_view encoding = req.Header("content-encoding");
    if (absl::EqualsIgnoreCase(AV(encoding), "gzip") ||
        absl::EqualsIgnoreCase(AV(encoding), "deflate") ||
        absl::EqualsIgnoreCase(AV(encoding), "x-gzip")) {
      auto inflated = Inflate(req.body, options_.max_request_body_bytes);
      if (!inflated.ok()) return inflated.status();
      req.body = *std::move(inflated);
      req.headers.erase("content-encoding");
    }
    std::string_view content_type = req.Header("content-type");
    if (req.method != Method::kGet &&
        absl::StartsWithIgnoreCase(AV(content_type), "application/x-www-form-urlencoded")) {
      if (auto st = ParseQueryString(req.body, &req.params); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

  ServerOptions options_;
  Router& router_;
  asio::io_context ioc_;
  asio::thread_pool handler_pool_;
  // The acceptor is not thread-safe and ioc_ runs on several threads: the accept loop and the
  // close at shutdown both run on this strand, so a close never races an async_accept.
  asio::strand<asio::io_context::executor_type> accept_strand_ = asio::make_strand(ioc_);
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<int64_t> inflight_total_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  absl::flat_hash_set<std::shared_ptr<Connection>> connections_set_;  // Guarded by mu_.
  std::vector<std::weak_ptr<WebSocketConnection>> websockets_;         // Guarded by mu_.

  metrics::HistogramFamily& request_duration_;
  metrics::GaugeFamily& inflight_;
  metrics::HistogramFamily& request_bytes_;
  metrics::HistogramFamily& response_bytes_;
  metrics::Gauge& connections_;
};

HttpServer::HttpServer(ServerOptions options, metrics::Registry& registry)
    : impl_(std::make_unique<Impl>(std::move(options), registry, router_)) {}

HttpServer::~HttpServer() { Shutdown(absl::ZeroDuration()); }

absl::Status HttpServer::Start() { return impl_->Start(bound_port_); }

void HttpServer::Shutdown(absl::Duration grace) { impl_->Shutdown(grace); }

int64_t HttpServer::InFlightRequests() const { return impl_->InFlight(); }

}  // namespace norn::http
