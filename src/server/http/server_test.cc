#include "server/http/server.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "common/metrics.h"
#include "server/http/body_decoder.h"

namespace norn::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions opts = {}) {
    opts.address = "127.0.0.1";
    opts.port = 0;
    opts.io_threads = 2;
    server_ = std::make_unique<HttpServer>(opts, registry_);
    Router& r = server_->router();
    r.Handle({Method::kGet, Method::kPost}, "/echo", [](HttpRequest& req, HttpResponse& resp) {
      resp.Text(200, std::string(req.Param("q")) + "|" + req.body);
    });
    r.Handle({Method::kGet}, "/items/{id}", [](HttpRequest& req, HttpResponse& resp) {
      resp.Json(200, "{\"id\":\"" + std::string(req.PathParam("id")) + "\"}");
    });
    r.Handle({Method::kGet}, "/throw",
             [](HttpRequest&, HttpResponse&) { throw std::runtime_error("kaboom"); });
    r.Handle({Method::kGet}, "/slow", [this](HttpRequest&, HttpResponse& resp) {
      slow_started_ = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      resp.Text(200, "done");
    });
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_NE(server_->port(), 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(1));
  }

  tcp::socket Connect() {
    tcp::socket s(ioc_);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    return s;
  }

  bhttp::response<bhttp::string_body> Send(tcp::socket& s, bhttp::request<bhttp::string_body> req) {
    req.set(bhttp::field::host, "localhost");
    req.prepare_payload();
    bhttp::write(s, req);
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(s, buf, res);
    return res;
  }

  bhttp::response<bhttp::string_body> Get(std::string target) {
    auto s = Connect();
    return Send(s, bhttp::request<bhttp::string_body>(bhttp::verb::get, target, 11));
  }

  // Sends raw bytes and returns everything the server answers until it closes.
  std::string Raw(const std::string& bytes) {
    auto s = Connect();
    asio::write(s, asio::buffer(bytes));
    std::string out;
    boost::system::error_code ec;
    char buf[4096];
    for (;;) {
      size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) break;
      out.append(buf, n);
    }
    return out;
  }

  metrics::Registry registry_;
  asio::io_context ioc_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<bool> slow_started_{false};
};

TEST_F(HttpServerTest, QueryParamsAndPathParams) {
  StartServer();
  auto res = Get("/echo?q=hello%20world");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "hello world|");
  res = Get("/items/42");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "{\"id\":\"42\"}");
  EXPECT_EQ(res[bhttp::field::content_type], "application/json; charset=utf-8");
}

TEST_F(HttpServerTest, NotFoundAndMethodNotAllowedLikeLoki) {
  StartServer();
  auto res = Get("/nope");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(res.body(), "404 page not found\n");
  auto s = Connect();
  res = Send(s, bhttp::request<bhttp::string_body>(bhttp::verb::delete_, "/items/1", 11));
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_EQ(res[bhttp::field::allow], "GET");
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer();
  auto s = Connect();
  for (int i = 0; i < 20; ++i) {
    bhttp::request<bhttp::string_body> req(bhttp::verb::post, "/echo?q=" + std::to_string(i), 11);
    req.body() = "body";
    auto res = Send(s, std::move(req));
    ASSERT_EQ(res.result_int(), 200);
    EXPECT_EQ(res.body(), std::to_string(i) + "|body");
    EXPECT_TRUE(res.keep_alive());
  }
}

TEST_F(HttpServerTest, FormEncodedPostBodyIsParsed) {
  StartServer();
  auto s = Connect();
  bhttp::request<bhttp::string_body> req(bhttp::verb::post, "/echo", 11);
  req.set(bhttp::field::content_type, "application/x-www-form-urlencoded");
  req.body() = "q=from+form";
  auto res = Send(s, std::move(req));
  EXPECT_EQ(res.body(), "from form|q=from+form");
}

TEST_F(HttpServerTest, GzipBodyIsDecoded) {
  StartServer();
  auto s = Connect();
  bhttp::request<bhttp::string_body> req(bhttp::verb::post, "/echo", 11);
  req.set(bhttp::field::content_encoding, "gzip");
  req.body() = GzipCompress(std::string(10000, 'x'));
  auto res = Send(s, std::move(req));
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "|" + std::string(10000, 'x'));

  bhttp::request<bhttp::string_body> bad(bhttp::verb::post, "/echo", 11);
  bad.set(bhttp::field::content_encoding, "gzip");
  bad.body() = "not gzip at all";
  res = Send(s, std::move(bad));
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_NE(res.body().find("cannot decompress"), std::string::npos) << res.body();
}

TEST_F(HttpServerTest, OversizeBodyGets413) {
  ServerOptions opts;
  opts.max_request_body_bytes = 1000;
  StartServer(opts);
  auto s = Connect();
  bhttp::request<bhttp::string_body> req(bhttp::verb::post, "/echo", 11);
  req.body() = std::string(5000, 'a');
  auto res = Send(s, std::move(req));
  EXPECT_EQ(res.result_int(), 413);
  // A small gzip body that expands past the limit is refused too.
  auto s2 = Connect();
  bhttp::request<bhttp::string_body> bomb(bhttp::verb::post, "/echo", 11);
  bomb.set(bhttp::field::content_encoding, "gzip");
  bomb.body() = GzipCompress(std::string(100000, 'a'));
  ASSERT_LT(bomb.body().size(), 1000u);
  res = Send(s2, std::move(bomb));
  EXPECT_EQ(res.result_int(), 413);
}

TEST_F(HttpServerTest, MalformedRequestGets400) {
  StartServer();
  std::string out = Raw("GARBAGE\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
}

TEST_F(HttpServerTest, HandlerExceptionBecomes500) {
  StartServer();
  auto res = Get("/throw");
  EXPECT_EQ(res.result_int(), 500);
  EXPECT_NE(res.body().find("kaboom"), std::string::npos);
  // The server keeps serving.
  EXPECT_EQ(Get("/echo?q=1").result_int(), 200);
}

TEST_F(HttpServerTest, RecordsRequestMetrics) {
  StartServer();
  Get("/items/7");
  std::string text = registry_.Render();
  EXPECT_NE(text.find("loki_request_duration_seconds_count{method=\"GET\",route=\"items_id\","
                      "status_code=\"200\",ws=\"false\"} 1"),
            std::string::npos)
      << text;
}

TEST_F(HttpServerTest, ShutdownLetsInFlightRequestFinish) {
  StartServer();
  auto s = Connect();
  bhttp::request<bhttp::string_body> req(bhttp::verb::get, "/slow", 11);
  req.set(bhttp::field::host, "localhost");
  bhttp::write(s, req);
  while (!slow_started_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto idle = Connect();  // An idle keep-alive connection is closed at shutdown.
  auto t0 = std::chrono::steady_clock::now();
  std::thread stopper([&] { server_->Shutdown(absl::Seconds(5)); });
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(s, buf, res);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "done");
  EXPECT_FALSE(res.keep_alive());
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
  char c;
  boost::system::error_code ec;
  idle.read_some(asio::buffer(&c, 1), ec);
  EXPECT_TRUE(ec);  // Closed by the server.
}

}  // namespace
}  // namespace norn::http
