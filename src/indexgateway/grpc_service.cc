#include "indexgateway/grpc_service.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"

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

v1::LabelMatcher::Type ToProto(index::Matcher::Type t) {
  switch (t) {
    case index::Matcher::Type::kEq: return v1::LabelMatcher::EQ;
    case index::Matcher::Type::kNeq: return v1::LabelMatcher::NEQ;
    case index::Matcher::Type::kRe: return v1::LabelMatcher::RE;
    case index::Matcher::Type::kNre: return v1::LabelMatcher::NRE;
  }
  return v1::LabelMatcher::EQ;
}

index::Matcher::Type FromProto(v1::LabelMatcher::Type t) {
  switch (t) {
    case v1::LabelMatcher::NEQ: return index::Matcher::Type::kNeq;
    case v1::LabelMatcher::RE: return index::Matcher::Type::kRe;
    case v1::LabelMatcher::NRE: return index::Matcher::Type::kNre;
    default: return index::Matcher::Type::kEq;
  }
}

void FillQuery(v1::IndexQuery* q, std::string_view tenant,
               std::span<const index::Matcher> matchers, int64_t from_ns, int64_t through_ns) {
  q->set_tenant(std::string(tenant));
  q->set_from_ns(from_ns);
  q->set_through_ns(through_ns);
  for (const auto& m : matchers) {
    auto* pm = q->add_matchers();
    pm->set_type(ToProto(m.type()));
    pm->set_name(m.name());
    pm->set_value(m.value());
  }
}

absl::StatusOr<std::vector<index::Matcher>> DecodeMatchers(const v1::IndexQuery& q) {
  if (q.tenant().empty()) return absl::InvalidArgumentError("no tenant in index request");
  std::vector<index::Matcher> out;
  out.reserve(q.matchers_size());
  for (const auto& pm : q.matchers()) {
    ASSIGN_OR_RETURN(auto m, index::Matcher::Create(FromProto(pm.type()), pm.name(), pm.value()));
    out.push_back(std::move(m));
  }
  return out;
}

void EncodeSeries(const Labels& labels, Fingerprint fp, v1::Series* s) {
  s->set_fingerprint(fp);
  for (const Label& l : labels) {
    auto* p = s->add_labels();
    p->set_name(l.name);
    p->set_value(l.value);
  }
}

Labels DecodeLabels(const v1::Series& s) {
  std::vector<Label> pairs;
  pairs.reserve(s.labels_size());
  for (const auto& p : s.labels()) pairs.push_back(Label{p.name(), p.value()});
  return Labels(std::move(pairs));
}

}  // namespace

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
    for (const auto& ref : s.chunks) {
      auto* r = out->add_chunks();
      r->set_from_ns(ref.from_ns);
      r->set_through_ns(ref.through_ns);
      r->set_checksum(ref.checksum);
      r->set_size_bytes(ref.size_bytes);
      r->set_entries(ref.entries);
      r->set_uncompressed_bytes(ref.uncompressed_bytes);
    }
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
  // Wait for a gateway that is starting (or restarting) instead of failing at once.
  ctx.set_wait_for_ready(true);
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
    for (const auto& s : batch.series()) {
      index::SeriesChunks sc;
      sc.labels = DecodeLabels(s);
      sc.fingerprint = s.fingerprint();
      sc.chunks.reserve(s.chunks_size());
      for (const auto& r : s.chunks()) {
        sc.chunks.push_back(index::ChunkRef{r.from_ns(), r.through_ns(), r.checksum(),
                                            r.size_bytes(), r.entries(), r.uncompressed_bytes()});
      }
      out.push_back(std::move(sc));
    }
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
