#include "indexgateway/grpc_service.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"
#include "indexgateway/proto_convert.h"

namespace norn::indexgateway {
namespace {

// Series per ChunkRefs message: ~100 bytes of labels and ~30 bytes per ref keep a batch far
// below gRPC's default 4 MiB limit for ordinary streams.
constexpr size_t kSeriesPerBatch = 1000;

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

absl::Status FromGrpc(const grpc::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  auto code = static_cast<absl::StatusCode>(s.error_code());
  // A gateway that cannot be reached is worth retrying, whatever gRPC called it.
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) code = absl::StatusCode::kUnavailable;
  return absl::Status(code, absl::StrCat("index gateway ", AV(what), ": ", s.error_message()));
}

}  // namespace

using internal::DecodeLabels;
using internal::DecodeMatchers;
using internal::DecodeSeriesChunks;
using internal::EncodeChunkRefs;
using internal::EncodeSeries;
using internal::FillQuery;

grpc::Status IndexGatewayService::LabelNames(grpc::ServerContext*,
                                             const v1::LabelNamesRequest* req,
                                             v1::StringsResponse* resp) {
  auto matchers = DecodeMatchers(req->query());
  if (!matchers.ok()) return ToGrpc(matchers.status());
  auto names = index_->LabelNames(req->query().tenant(), *matchers, req->query().from_ns(),
                                  req->query().through_ns());
  if (!names.ok()) return ToGrpc(names.status());
  for (auto& n : *names) resp->add_values(std::move(n));
  return grpc::Status::OK;
}

grpc::Status IndexGatewayService::LabelValues(grpc::ServerContext*,
                                              const v1::LabelValuesRequest* req,
                                              v1::StringsResponse* resp) {
  auto matchers = DecodeMatchers(req->query());
  if (!matchers.ok()) return ToGrpc(matchers.status());
  auto values = index_->LabelValues(req->query().tenant(), req->name(), *matchers,
                                    req->query().from_ns(), req->query().through_ns());
  if (!values.ok()) return ToGrpc(values.status());
  for (auto& v : *values) resp->add_values(std::move(v));
  return grpc::Status::OK;
}

grpc::Status IndexGatewayService::Series(grpc::ServerContext*, const v1::SeriesRequest* req,
                                         v1::SeriesResponse* resp) {
  auto matchers = DecodeMatchers(req->query());
  if (!matchers.ok()) return ToGrpc(matchers.status());
  auto series = index_->Series(req->query().tenant(), *matchers, req->query().from_ns(),
                               req->query().through_ns());
  if (!series.ok()) return ToGrpc(series.status());
  for (const auto& s : *series) EncodeSeries(s.labels, s.fingerprint, resp->add_series());
  return grpc::Status::OK;
}

grpc::Status IndexGatewayService::ChunkRefs(grpc::ServerContext* ctx,
                                            const v1::ChunkRefsRequest* req,
                                            grpc::ServerWriter<v1::SeriesResponse>* writer) {
  auto matchers = DecodeMatchers(req->query());
  if (!matchers.ok()) return ToGrpc(matchers.status());
  auto series = index_->ChunkRefs(req->query().tenant(), *matchers, req->query().from_ns(),
                                  req->query().through_ns());
  if (!series.ok()) return ToGrpc(series.status());
  v1::SeriesResponse batch;
  for (const auto& s : *series) {
    v1::Series* out = batch.add_series();
    EncodeSeries(s.labels, s.fingerprint, out);
    EncodeChunkRefs(s.chunks, out);
    if (static_cast<size_t>(batch.series_size()) >= kSeriesPerBatch) {
      if (ctx->IsCancelled() || !writer->Write(batch)) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      }
      batch.Clear();
    }
  }
  if (batch.series_size() > 0 && !writer->Write(batch)) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  }
  return grpc::Status::OK;
}

grpc::Status IndexGatewayService::Stats(grpc::ServerContext*, const v1::StatsRequest* req,
                                        v1::StatsResponse* resp) {
  auto matchers = DecodeMatchers(req->query());
  if (!matchers.ok()) return ToGrpc(matchers.status());
  auto stats = index_->Stats(req->query().tenant(), *matchers, req->query().from_ns(),
                             req->query().through_ns());
  if (!stats.ok()) return ToGrpc(stats.status());
  resp->set_streams(stats->streams);
  resp->set_chunks(stats->chunks);
  resp->set_entries(stats->entries);
  resp->set_bytes(stats->bytes);
  return grpc::Status::OK;
}

absl::StatusOr<std::unique_ptr<RemoteIndexClient>> RemoteIndexClient::Create(
    RemoteIndexOptions options) {
  if (options.server_address.empty()) {
    return absl::InvalidArgumentError(
        "storage_config.tsdb_shipper.index_gateway_client.server_address is empty");
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_recv_message_bytes);
  // dns:/// spreads calls over every address a name resolves to (several gateways).
  args.SetLoadBalancingPolicyName("round_robin");
  auto channel = grpc::CreateCustomChannel(options.server_address,
                                           grpc::InsecureChannelCredentials(), args);
  auto stub = v1::IndexGateway::NewStub(channel);
  return std::unique_ptr<RemoteIndexClient>(
      new RemoteIndexClient(std::move(options), std::move(stub)));
}

void RemoteIndexClient::Prepare(grpc::ClientContext& ctx) const {
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(options_.timeout));
  // No wait_for_ready: with the gateway down a query fails at once (503) instead of hanging
  // until the deadline; clients and the frontend retry.
}

absl::StatusOr<std::vector<std::string>> RemoteIndexClient::LabelNames(
    std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
    int64_t through_ns) {
  v1::LabelNamesRequest req;
  FillQuery(req.mutable_query(), tenant, matchers, from_ns, through_ns);
  v1::StringsResponse resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  RETURN_IF_ERROR(FromGrpc(stub_->LabelNames(&ctx, req, &resp), "LabelNames"));
  return std::vector<std::string>(resp.values().begin(), resp.values().end());
}

absl::StatusOr<std::vector<std::string>> RemoteIndexClient::LabelValues(
    std::string_view tenant, std::string_view name, std::span<const index::Matcher> matchers,
    int64_t from_ns, int64_t through_ns) {
  v1::LabelValuesRequest req;
  FillQuery(req.mutable_query(), tenant, matchers, from_ns, through_ns);
  req.set_name(std::string(name));
  v1::StringsResponse resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  RETURN_IF_ERROR(FromGrpc(stub_->LabelValues(&ctx, req, &resp), "LabelValues"));
  return std::vector<std::string>(resp.values().begin(), resp.values().end());
}

absl::StatusOr<std::vector<index::SeriesInfo>> RemoteIndexClient::Series(
    std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
    int64_t through_ns) {
  v1::SeriesRequest req;
  FillQuery(req.mutable_query(), tenant, matchers, from_ns, through_ns);
  v1::SeriesResponse resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  RETURN_IF_ERROR(FromGrpc(stub_->Series(&ctx, req, &resp), "Series"));
  std::vector<index::SeriesInfo> out;
  out.reserve(resp.series_size());
  for (const auto& s : resp.series()) {
    out.push_back(index::SeriesInfo{DecodeLabels(s), s.fingerprint()});
  }
  return out;
}

absl::StatusOr<std::vector<index::SeriesChunks>> RemoteIndexClient::ChunkRefs(
    std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
    int64_t through_ns) {
  v1::ChunkRefsRequest req;
  FillQuery(req.mutable_query(), tenant, matchers, from_ns, through_ns);
  grpc::ClientContext ctx;
  Prepare(ctx);
  auto reader = stub_->ChunkRefs(&ctx, req);
  std::vector<index::SeriesChunks> out;
  v1::SeriesResponse batch;
  while (reader->Read(&batch)) {
    for (const auto& s : batch.series()) out.push_back(DecodeSeriesChunks(s));
  }
  RETURN_IF_ERROR(FromGrpc(reader->Finish(), "ChunkRefs"));
  return out;
}

absl::StatusOr<index::IndexStats> RemoteIndexClient::Stats(
    std::string_view tenant, std::span<const index::Matcher> matchers, int64_t from_ns,
    int64_t through_ns) {
  v1::StatsRequest req;
  FillQuery(req.mutable_query(), tenant, matchers, from_ns, through_ns);
  v1::StatsResponse resp;
  grpc::ClientContext ctx;
  Prepare(ctx);
  RETURN_IF_ERROR(FromGrpc(stub_->Stats(&ctx, req, &resp), "Stats"));
  return index::IndexStats{resp.streams(), resp.chunks(), resp.entries(), resp.bytes()};
}

}  // namespace norn::indexgateway
