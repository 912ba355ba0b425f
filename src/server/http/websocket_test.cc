// HttpServer WebSocket routes against a real Beast WebSocket client over loopback.
#include "server/http/websocket.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>

#include "common/metrics.h"
#include "server/http/server.h"

namespace norn::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

class WebSocketTest : public ::testing::Test {
 protected:
  void StartServer(absl::Duration write_timeout = absl::Seconds(10)) {
    ServerOptions opts;
    opts.address = "127.0.0.1";
    opts.port = 0;
    opts.io_threads = 2;
    opts.websocket_write_timeout = write_timeout;
    server_ = std::make_unique<HttpServer>(opts, registry_);
    // /ws?n=K: refuses without n; sends K messages "m0".."m{K-1}" then keeps the connection.
    server_->router().HandleWebSocket(
        "/ws", [this](HttpRequest& req, HttpResponse& resp) -> WebSocketOpen {
          if (!req.HasParam("n")) {
            resp.Error(400, "missing n");
            return nullptr;
          }
          int n = std::stoi(std::string(req.Param("n")));
          size_t size = req.HasParam("size") ? std::stoul(std::string(req.Param("size"))) : 0;
          return [this, n, size](std::shared_ptr<WebSocketConnection> conn) {
            {
              std::lock_guard lock(mu_);
              conns_.push_back(conn);
            }
            for (int i = 0; i < n; ++i) {
              std::string m = "m" + std::to_string(i);
              if (size > m.size()) m.resize(size, 'x');
              conn->SendText(std::move(m));
            }
          };
        });
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(1));
  }

  std::unique_ptr<websocket::stream<tcp::socket>> Dial(const std::string& target) {
    auto ws = std::make_unique<websocket::stream<tcp::socket>>(ioc_);
    ws->next_layer().connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    ws->handshake("127.0.0.1", target);
    return ws;
  }

  std::shared_ptr<WebSocketConnection> WaitConn(size_t i) {
    for (int k = 0; k < 200; ++k) {
      {
        std::lock_guard lock(mu_);
        if (conns_.size() > i) return conns_[i];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return nullptr;
  }

  static std::string ReadText(websocket::stream<tcp::socket>& ws) {
    beast::flat_buffer buf;
    ws.read(buf);
    EXPECT_TRUE(ws.got_text());
    return beast::buffers_to_string(buf.data());
  }

  metrics::Registry registry_;
  std::unique_ptr<HttpServer> server_;
  asio::io_context ioc_;
  std::mutex mu_;
  std::vector<std::shared_ptr<WebSocketConnection>> conns_;
};

TEST_F(WebSocketTest, MessagesInOrderThenClientCloseEndsConnection) {
  StartServer();
  auto ws = Dial("/ws?n=3");
  EXPECT_EQ(ReadText(*ws), "m0");
  EXPECT_EQ(ReadText(*ws), "m1");
  EXPECT_EQ(ReadText(*ws), "m2");
  auto conn = WaitConn(0);
  ASSERT_NE(conn, nullptr);
  EXPECT_FALSE(conn->closed());
  EXPECT_TRUE(conn->SendText("later"));
  EXPECT_EQ(ReadText(*ws), "later");
  ws->close(websocket::close_code::normal);
  EXPECT_TRUE(conn->WaitClosed(absl::Seconds(5)));
  EXPECT_FALSE(conn->SendText("after close"));
  EXPECT_EQ(conn->queued_messages(), 0u);
}

TEST_F(WebSocketTest, AnswersPing) {
  StartServer();
  auto ws = Dial("/ws?n=0");
  std::atomic<bool> pong{false};
  ws->control_callback([&](websocket::frame_type kind, beast::string_view payload) {
    if (kind == websocket::frame_type::pong && payload == "hi") pong = true;
  });
  ws->ping("hi");
  auto conn = WaitConn(0);
  ASSERT_NE(conn, nullptr);
  // The server answers the ping as soon as it reads it; the message goes out after that.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  conn->SendText("after-ping");  // The read below processes the pong first.
  EXPECT_EQ(ReadText(*ws), "after-ping");
  EXPECT_TRUE(pong.load());
}

TEST_F(WebSocketTest, ServerCloseSendsCloseFrame) {
  StartServer();
  auto ws = Dial("/ws?n=1");
  EXPECT_EQ(ReadText(*ws), "m0");
  auto conn = WaitConn(0);
  ASSERT_NE(conn, nullptr);
  std::string close_payload;
  ws->control_callback([&](websocket::frame_type kind, beast::string_view payload) {
    if (kind == websocket::frame_type::close) close_payload = std::string(payload);
  });
  conn->SendText("bye");
  conn->Close(kWsClosePolicyViolation, "enough");
  EXPECT_EQ(ReadText(*ws), "bye");
  beast::flat_buffer buf;
  beast::error_code ec;
  ws->read(buf, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(ws->reason().code, kWsClosePolicyViolation);
  EXPECT_EQ(close_payload, "enough");
}

TEST_F(WebSocketTest, ShutdownSendsGoingAway) {
  StartServer();
  auto ws = Dial("/ws?n=1");
  EXPECT_EQ(ReadText(*ws), "m0");
  auto conn = WaitConn(0);
  ASSERT_NE(conn, nullptr);
  std::thread stopper([this] { server_->Shutdown(absl::Seconds(5)); });
  beast::flat_buffer buf;
  beast::error_code ec;
  ws->read(buf, ec);  // Beast answers the close frame, finishing the handshake.
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(ws->reason().code, kWsCloseGoingAway);
  stopper.join();
  EXPECT_TRUE(conn->closed());
  EXPECT_FALSE(conn->SendText("x"));  // The server is gone: a no-op, no crash.
}

TEST_F(WebSocketTest, RefusedAndNonUpgradeRequestsGet400) {
  StartServer();
  auto get = [this](const std::string& target, bool upgrade) {
    tcp::socket s(ioc_);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    bhttp::request<bhttp::string_body> req(bhttp::verb::get, target, 11);
    req.set(bhttp::field::host, "localhost");
    if (upgrade) {
      req.set(bhttp::field::connection, "Upgrade");
      req.set(bhttp::field::upgrade, "websocket");
      req.set(bhttp::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
      req.set(bhttp::field::sec_websocket_version, "13");
    }
    bhttp::write(s, req);
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(s, buf, res);
    return res;
  };
  // The handler refuses: a plain HTTP error, no upgrade.
  auto refused = get("/ws", true);
  EXPECT_EQ(refused.result_int(), 400);
  EXPECT_NE(refused.body().find("missing n"), std::string::npos);
  // The handler accepts: 101.
  EXPECT_EQ(get("/ws?n=0", true).result_int(), 101);
  {
    // A plain GET on a WebSocket route.
    tcp::socket s(ioc_);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    bhttp::request<bhttp::string_body> req(bhttp::verb::get, "/ws?n=1", 11);
    req.set(bhttp::field::host, "localhost");
    bhttp::write(s, req);
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(s, buf, res);
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_NE(res.body().find("websocket"), std::string::npos);
  }
  EXPECT_NE(WaitConn(0), nullptr);  // Only the accepted request opened a connection.
  std::lock_guard lock(mu_);
  EXPECT_EQ(conns_.size(), 1u);
}

TEST_F(WebSocketTest, ClientThatStopsReadingIsDisconnected) {
  StartServer(absl::Milliseconds(500));
  auto ws = Dial("/ws?n=0");
  auto conn = WaitConn(0);
  ASSERT_NE(conn, nullptr);
  // Shrink the client's receive buffer and never read: the server's writes block.
  ws->next_layer().set_option(asio::socket_base::receive_buffer_size(4096));
  auto start = std::chrono::steady_clock::now();
  std::string big(256 * 1024, 'x');
  int sent = 0;
  while (!conn->closed() && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    // SendText never blocks the caller, whatever the client does.
    auto t0 = std::chrono::steady_clock::now();
    if (conn->SendText(big)) ++sent;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
    if (conn->queued_messages() > 20) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(conn->closed());
  EXPECT_GT(sent, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace norn::http
