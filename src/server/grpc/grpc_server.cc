#include "server/grpc/grpc_server.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace norn::grpcserver {

GrpcServer::GrpcServer(GrpcServerOptions options) : options_(std::move(options)) {}

GrpcServer::~GrpcServer() { Shutdown(absl::ZeroDuration()); }

void GrpcServer::RegisterService(grpc::Service* service) { services_.push_back(service); }

absl::Status GrpcServer::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  std::string host = options_.address.empty() ? "[::]" : options_.address;
  if (host.find(':') != std::string::npos && host.front() != '[') host = absl::StrCat("[", host, "]");
  int selected_port = 0;
  builder.AddListeningPort(absl::StrCat(host, ":", options_.port),
                           grpc::InsecureServerCredentials(), &selected_port);
  builder.SetMaxReceiveMessageSize(options_.max_recv_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_send_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams);
  // gRPC sets SO_REUSEPORT by default, which lets a second process bind the same port and
  // silently share its traffic; a busy port must be a startup error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  for (grpc::Service* s : services_) builder.RegisterService(s);
  fallback_ = std::make_unique<grpc::CallbackGenericService>();
  builder.RegisterCallbackGenericService(fallback_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || selected_port == 0) {
    server_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen for gRPC on ", host, ":", options_.port,
                     " (address in use or not available)"));
  }
  bound_port_ = static_cast<uint16_t>(selected_port);
  SetServing(false);
  return absl::OkStatus();
}

void GrpcServer::SetServing(bool serving) {
  if (server_ == nullptr) return;
  if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(serving);
}

void GrpcServer::Shutdown(absl::Duration grace) {
  if (server_ == nullptr || shut_down_) return;
  shut_down_ = true;
  SetServing(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
}

}  // namespace norn::grpcserver
