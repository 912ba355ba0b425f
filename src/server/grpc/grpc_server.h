// GrpcServer: the process's gRPC endpoint (default :9095) with the standard gRPC health checking
// service (grpc.health.v1.Health). Components register their services before Start(); the
// health status turns SERVING when the app says every module is running and NOT_SERVING when
// shutdown begins, so load balancers drain the instance first.
//
// Lifecycle: construct, RegisterService()..., Start(), SetServing(), Shutdown(grace) once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace grpc {
class CallbackGenericService;
class Server;
class Service;
}  // namespace grpc

namespace norn::grpcserver {

struct GrpcServerOptions {
  std::string address;  // "" listens on every interface.
  uint16_t port = 9095;
  int max_recv_message_bytes = 4 << 20;
  int max_send_message_bytes = 4 << 20;
  int max_concurrent_streams = 100;
};

class GrpcServer {
 public:
  explicit GrpcServer(GrpcServerOptions options);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Not owned; must outlive the server. Only before Start().
  void RegisterService(grpc::Service* service);
  [[nodiscard]] absl::Status Start();
  uint16_t port() const { return bound_port_; }
  void SetServing(bool serving);
  // Stops accepting new RPCs and waits up to `grace` for running ones. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  GrpcServerOptions options_;
  std::vector<grpc::Service*> services_;
  // Answers UNIMPLEMENTED for unknown methods. It also makes the server callback-driven even
  // before any component registers a service, which gRPC requires to start at all.
  std::unique_ptr<grpc::CallbackGenericService> fallback_;
  std::unique_ptr<grpc::Server> server_;
  uint16_t bound_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace norn::grpcserver
