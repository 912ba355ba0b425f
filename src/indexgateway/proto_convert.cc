#include "indexgateway/proto_convert.h"

#include "common/status.h"

namespace norn::indexgateway::internal {
namespace {

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

}  // namespace

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

void EncodeChunkRefs(std::span<const index::ChunkRef> refs, v1::Series* s) {
  for (const auto& ref : refs) {
    auto* r = s->add_chunks();
    r->set_from_ns(ref.from_ns);
    r->set_through_ns(ref.through_ns);
    r->set_checksum(ref.checksum);
    r->set_size_bytes(ref.size_bytes);
    r->set_entries(ref.entries);
    r->set_uncompressed_bytes(ref.uncompressed_bytes);
  }
}

index::SeriesChunks DecodeSeriesChunks(const v1::Series& s) {
  index::SeriesChunks sc;
  sc.labels = DecodeLabels(s);
  sc.fingerprint = s.fingerprint();
  sc.chunks.reserve(s.chunks_size());
  for (const auto& r : s.chunks()) {
    sc.chunks.push_back(index::ChunkRef{r.from_ns(), r.through_ns(), r.checksum(), r.size_bytes(),
                                        r.entries(), r.uncompressed_bytes()});
  }
  return sc;
}

}  // namespace norn::indexgateway::internal
