#include "querier/patterns_api.h"

#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/strings.h"
#include "logql/engine/http_params.h"
#include "logql/syntax/ast.h"
#include "logql/syntax/parser.h"
#include "common/log_level.h"
#include "pattern/patterns.h"
#include "querier/entry_source.h"
#include "querier/params.h"
#include "server/http/tenant.h"

namespace norn::querier {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using http::Method;

void WriteError(const absl::Status& st, HttpResponse& resp) {
  resp.Error(http::HttpStatusFromStatus(st), SV(st.message()));
}

// Feeds every selected entry to its stream's Drain clusters. The level of an entry is its
// `detected_level` structured metadata, else the stream's `detected_level` or `level` label,
// else what the line itself says (as Loki's distributor would have detected it).
class PatternSink : public logql_engine::EntrySink {
 public:
  bool Push(const Labels& stream, std::span<const logql_engine::EntryRef> entries) override {
    auto& slot = streams_[stream.Hash()];
    if (slot == nullptr) slot = std::make_unique<pattern::PatternStream>();
    std::string_view stream_level = stream.Get("detected_level");
    if (stream_level.empty()) stream_level = stream.Get("level");
    for (const auto& e : entries) {
      std::string_view level = stream_level;
      for (const Label& m : e.structured_metadata) {
        if (m.name == "detected_level") {
          level = m.value;
          break;
        }
      }
      if (level.empty()) level = DetectLogLevel(e.line);
      slot->Push(e.ts_ns, e.line, level);
    }
    return true;
  }
  const std::map<Fingerprint, std::unique_ptr<pattern::PatternStream>>& streams() const {
    return streams_;
  }

 private:
  std::map<Fingerprint, std::unique_ptr<pattern::PatternStream>> streams_;
};

void Serve(HttpRequest& req, HttpResponse& resp, Querier* q, bool auth_enabled) {
  auto tenant = http::TenantFromRequest(req, auth_enabled);
  if (!tenant.ok()) return WriteError(tenant.status(), resp);
  auto range = ParseRange(req, absl::GetCurrentTimeNanos());
  if (!range.ok()) return WriteError(range.status(), resp);
  if (range->end_ns <= range->start_ns) {
    return resp.Error(400, "end timestamp must not be before or equal to start time");
  }
  std::string_view query = req.Param("query");
  if (query.empty()) return resp.Error(400, "query parameter is required");
  // A stream selector only, as Loki's patterns API takes (a pipeline would be ignored).
  auto matchers = logql::syntax::ParseMatchers(query);
  if (!matchers.ok()) return WriteError(matchers.status(), resp);
  pattern::PatternQuery pq;
  pq.start_ns = range->start_ns;
  pq.end_ns = range->end_ns;
  if (req.HasParam("step") && !req.Param("step").empty()) {
    auto step = logql_engine::ParseSecondsOrDuration(req.Param("step"));
    if (!step.ok()) return WriteError(step.status(), resp);
    if (*step <= 0) {
      return resp.Error(400, "zero or negative query resolution step widths are not accepted. "
                             "Try a positive integer");
    }
    pq.step_ns = *step;
  }
  absl::Status valid = pattern::ValidatePatternStep(
      pq.start_ns, pq.end_ns, pq.step_ns > 0 ? pq.step_ns : pattern::EffectivePatternStepNs(pq));
  if (!valid.ok()) return WriteError(valid, resp);

  logql_engine::SelectParams params;
  params.matchers = *std::move(matchers);
  params.start_ns = range->start_ns;
  params.end_ns = range->end_ns;
  params.direction = logql_engine::Direction::kForward;
  PatternSink sink;
  TenantEntrySource source(q, *tenant);
  absl::Status st = source.SelectLogs(params, sink);
  if (!st.ok()) return WriteError(st, resp);
  pattern::PatternMerger merger(pq);
  for (const auto& [fp, stream] : sink.streams()) merger.AddStream(*stream);
  resp.Json(200, pattern::RenderPatternsJson(merger.Finish()));
}

}  // namespace

void RegisterPatternRoutes(http::Router& router, const std::string& prefix, Querier* q,
                           bool auth_enabled) {
  router.Handle({Method::kGet, Method::kPost}, absl::StrCat(prefix, "/loki/api/v1/patterns"),
                [q, auth_enabled](HttpRequest& req, HttpResponse& resp) {
                  Serve(req, resp, q, auth_enabled);
                });
}

}  // namespace norn::querier
