#include "server/grpc/grpc_server.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "proto/health.grpc.pb.h"

namespace norn::grpcserver {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

HealthCheckResponse::ServingStatus Check(uint16_t port, grpc::Status* status) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  auto stub = Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HealthCheckRequest req;
  HealthCheckResponse resp;
  *status = stub->Check(&ctx, req, &resp);
  return resp.status();
}

TEST(GrpcServerTest, HealthFollowsServingStateAndUnknownMethodsAreUnimplemented) {
  GrpcServerOptions opts;
  opts.address = "127.0.0.1";
  opts.port = 0;
  GrpcServer server(opts);
  ASSERT_TRUE(server.Start().ok());
  ASSERT_NE(server.port(), 0);
  grpc::Status st;
  EXPECT_EQ(Check(server.port(), &st), HealthCheckResponse::NOT_SERVING);
  EXPECT_TRUE(st.ok()) << st.error_message();
  server.SetServing(true);
  EXPECT_EQ(Check(server.port(), &st), HealthCheckResponse::SERVING);

  // A method nobody registered answers UNIMPLEMENTED rather than hanging.
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server.port()),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice empty_slice("");
  grpc::ByteBuffer request(&empty_slice, 1), response;
  grpc::Status call_status;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  generic.UnaryCall(&ctx, "/logproto.Pusher/Push", grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) {
                      std::lock_guard l(mu);
                      call_status = s;
                      done = true;
                      cv.notify_one();
                    });
  std::unique_lock l(mu);
  cv.wait(l, [&] { return done; });
  EXPECT_EQ(call_status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  l.unlock();

  server.Shutdown(absl::Seconds(1));
  EXPECT_NE(Check(server.port(), &st), HealthCheckResponse::SERVING);
  EXPECT_FALSE(st.ok());
}

TEST(GrpcServerTest, BusyPortIsAStartupError) {
  GrpcServerOptions opts;
  opts.address = "127.0.0.1";
  opts.port = 0;
  GrpcServer first(opts);
  ASSERT_TRUE(first.Start().ok());
  opts.port = first.port();
  GrpcServer second(opts);
  absl::Status st = second.Start();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace norn::grpcserver
