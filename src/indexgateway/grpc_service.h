// The index gateway's gRPC face: IndexGatewayService serves an IndexClient (the gateway's
// StoreIndexClient) to remote queriers; RemoteIndexClient is the querier's side. Tenants travel
// in each request (the gateway trusts its queriers, as Loki's does with the org-id header).
//
// Both are thread-safe. ChunkRefs answers are streamed in batches of series so that a large
// tenant's day stays under the message size limit.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "indexgateway/index_client.h"
#include "proto/indexgateway.grpc.pb.h"

namespace norn::indexgateway {

class IndexGatewayService final : public v1::IndexGateway::Service {
 public:
  // `index` is not owned and must outlive the service.
  explicit IndexGatewayService(IndexClient* index) : index_(index) {}

  grpc::Status LabelNames(grpc::ServerContext*, const v1::LabelNamesRequest* req,
                          v1::StringsResponse* resp) override;
  grpc::Status LabelValues(grpc::ServerContext*, const v1::LabelValuesRequest* req,
                           v1::StringsResponse* resp) override;
  grpc::Status Series(grpc::ServerContext*, const v1::SeriesRequest* req,
                      v1::SeriesResponse* resp) override;
  grpc::Status ChunkRefs(grpc::ServerContext*, const v1::ChunkRefsRequest* req,
                         grpc::ServerWriter<v1::SeriesResponse>* writer) override;
  grpc::Status Stats(grpc::ServerContext*, const v1::StatsRequest* req,
                     v1::StatsResponse* resp) override;

 private:
  IndexClient* index_;
};

struct RemoteIndexOptions {
  std::string server_address;  // host:port of the index gateway (or a DNS name with several)
  absl::Duration timeout = absl::Minutes(1);
  int max_recv_message_bytes = 100 << 20;
};

class RemoteIndexClient : public IndexClient {
 public:
  static absl::StatusOr<std::unique_ptr<RemoteIndexClient>> Create(RemoteIndexOptions options);

  absl::StatusOr<std::vector<std::string>> LabelNames(std::string_view tenant,
                                                      std::span<const index::Matcher> matchers,
                                                      int64_t from_ns,
                                                      int64_t through_ns) override;
  absl::StatusOr<std::vector<std::string>> LabelValues(std::string_view tenant,
                                                       std::string_view name,
                                                       std::span<const index::Matcher> matchers,
                                                       int64_t from_ns,
                                                       int64_t through_ns) override;
  absl::StatusOr<std::vector<index::SeriesInfo>> Series(std::string_view tenant,
                                                        std::span<const index::Matcher> matchers,
                                                        int64_t from_ns,
                                                        int64_t through_ns) override;
  absl::StatusOr<std::vector<index::SeriesChunks>> ChunkRefs(
      std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
      int64_t through_ns) override;
  absl::StatusOr<index::IndexStats> Stats(std::string_view tenant,
                                          std::span<const index::Matcher> matchers,
                                          int64_t from_ns, int64_t through_ns) override;

 private:
  RemoteIndexClient(RemoteIndexOptions options, std::unique_ptr<v1::IndexGateway::Stub> stub)
      : options_(std::move(options)), stub_(std::move(stub)) {}
  void Prepare(grpc::ClientContext& ctx) const;

  RemoteIndexOptions options_;
  std::unique_ptr<v1::IndexGateway::Stub> stub_;
};

}  // namespace norn::indexgateway
