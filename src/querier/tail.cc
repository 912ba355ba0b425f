#include "querier/tail.h"

#include <algorithm>
#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"
#include "ingester/ingester.h"
#include "ingester/tailer.h"
#include "logql/engine/engine.h"
#include "logql/engine/http_params.h"
#include "logql/engine/json_writer.h"
#include "logql/engine/pipeline_builder.h"
#include "logql/engine/source.h"
#include "logql/log/pipeline.h"
#include "logql/syntax/parser.h"
#include "querier/entry_source.h"
#include "querier/querier.h"
#include "server/http/tenant.h"
#include "server/http/websocket.h"
#include "validation/validator.h"

namespace norn::querier {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using http::WebSocketConnection;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kDefaultSince = 3600 * kSecond;
constexpr int64_t kMaxDelayForSeconds = 5;
constexpr uint32_t kDefaultLimit = 100;
// Loki's querier tailer: entries per response, responses buffered towards the client,
// dropped entries remembered for the next response.
constexpr size_t kMaxEntriesPerFrame = 100;
constexpr size_t kMaxBufferedFrames = 10;
constexpr size_t kMaxDroppedReported = 1000;

struct TailParams {
  std::string query;
  std::vector<logql::syntax::Matcher> matchers;
  std::vector<logql::syntax::Stage> pipeline;
  int64_t start_ns = 0;
  uint32_t limit = kDefaultLimit;
  int64_t delay_ns = 0;
  bool legacy = false;
};

// Go's strconv.ParseInt message, as Loki's parseInt returns it.
absl::StatusOr<int64_t> ParseGoInt(std::string_view v, int64_t fallback) {
  if (v.empty()) return fallback;
  int64_t out = 0;
  if (!absl::SimpleAtoi(AV(v), &out) || v.front() == ' ' || v.back() == ' ') {
    return absl::InvalidArgumentError(
        absl::StrCat("strconv.ParseInt: parsing \"", AV(v), "\": invalid syntax"));
  }
  return out;
}

absl::StatusOr<TailParams> ParseTailParams(const HttpRequest& req, int64_t now_ns,
                                           int max_entries_limit) {
  TailParams p;
  p.query = std::string(req.Param("query"));
  ASSIGN_OR_RETURN(int64_t limit, ParseGoInt(req.Param("limit"), kDefaultLimit));
  if (limit <= 0) return absl::InvalidArgumentError("limit must be a positive value");
  ASSIGN_OR_RETURN(p.start_ns,
                   logql_engine::ParseLokiTimestamp(req.Param("start"), now_ns - kDefaultSince));
  ASSIGN_OR_RETURN(int64_t delay, ParseGoInt(req.Param("delay_for"), 0));
  if (delay > kMaxDelayForSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("delay_for can't be greater than ", kMaxDelayForSeconds));
  }
  p.delay_ns = std::max<int64_t>(delay, 0) * kSecond;
  ASSIGN_OR_RETURN(auto expr, logql::syntax::ParseLogSelector(p.query));
  if (max_entries_limit > 0 && limit > max_entries_limit) {
    return absl::InvalidArgumentError(
        absl::StrCat("max entries limit per query exceeded, limit > max_entries_limit (", limit,
                     " > ", max_entries_limit, ")"));
  }
  p.limit = static_cast<uint32_t>(std::min<int64_t>(limit, UINT32_MAX));
  p.matchers = std::move(expr.matchers);
  p.pipeline = std::move(expr.pipeline);
  return p;
}

// One entry waiting to be sent, after the pipeline.
struct Pending {
  int64_t ts = 0;
  uint64_t seq = 0;  // Arrival order, for equal timestamps.
  std::shared_ptr<const Labels> labels;
  std::string line;
};
struct PendingLater {
  bool operator()(const Pending& a, const Pending& b) const {
    return a.ts != b.ts ? a.ts > b.ts : a.seq > b.seq;
  }
};

struct Dropped {
  std::shared_ptr<const Labels> labels;
  int64_t ts = 0;
};

void AppendLabelsObject(std::string* out, const Labels& labels) {
  out->push_back('{');
  bool first = true;
  for (const Label& l : labels) {
    if (!first) out->push_back(',');
    first = false;
    logql_engine::AppendGoJsonString(out, l.name);
    out->push_back(':');
    logql_engine::AppendGoJsonString(out, l.value);
  }
  out->push_back('}');
}

// Builds one frame. Consecutive entries with the same labels share a stream object.
std::string RenderFrame(std::span<const Pending> entries, std::span<const Dropped> dropped,
                        bool legacy) {
  std::string out;
  size_t bytes = 64;
  for (const auto& e : entries) bytes += e.line.size() + 48;
  out.reserve(bytes);
  if (legacy) {
    out += "{\"streams\":[";
    for (size_t i = 0; i < entries.size();) {
      if (i > 0) out.push_back(',');
      out += "{\"labels\":";
      logql_engine::AppendGoJsonString(&out, entries[i].labels->ToString());
      out += ",\"entries\":[";
      size_t j = i;
      for (; j < entries.size() && *entries[j].labels == *entries[i].labels; ++j) {
        if (j > i) out.push_back(',');
        out += "{\"ts\":\"";
        out += validation::FormatTimestamp(entries[j].ts);
        out += "\",\"line\":";
        logql_engine::AppendGoJsonString(&out, entries[j].line);
        out.push_back('}');
      }
      out += "]}";
      i = j;
    }
    out += "],\"dropped_entries\":";
    if (dropped.empty()) {
      out += "null";
    } else {
      out.push_back('[');
      for (size_t i = 0; i < dropped.size(); ++i) {
        if (i > 0) out.push_back(',');
        out += "{\"Timestamp\":\"";
        out += validation::FormatTimestamp(dropped[i].ts);
        out += "\",\"Labels\":";
        logql_engine::AppendGoJsonString(&out, dropped[i].labels->ToString());
        out.push_back('}');
      }
      out.push_back(']');
    }
    out.push_back('}');
    return out;
  }
  out.push_back('{');
  if (!entries.empty()) {
    out += "\"streams\":[";
    for (size_t i = 0; i < entries.size();) {
      if (i > 0) out.push_back(',');
      out += "{\"stream\":";
      AppendLabelsObject(&out, *entries[i].labels);
      out += ",\"values\":[";
      size_t j = i;
      for (; j < entries.size() && *entries[j].labels == *entries[i].labels; ++j) {
        if (j > i) out.push_back(',');
        absl::StrAppend(&out, "[\"", entries[j].ts, "\",");
        logql_engine::AppendGoJsonString(&out, entries[j].line);
        out.push_back(']');
      }
      out += "]}";
      i = j;
    }
    out.push_back(']');
  }
  if (!dropped.empty()) {
    if (!entries.empty()) out.push_back(',');
    out += "\"dropped_entries\":[";
    for (size_t i = 0; i < dropped.size(); ++i) {
      if (i > 0) out.push_back(',');
      out += "{\"labels\":";
      AppendLabelsObject(&out, *dropped[i].labels);
      absl::StrAppend(&out, ",\"timestamp\":\"", dropped[i].ts, "\"}");
    }
    out.push_back(']');
  }
  out.push_back('}');
  return out;
}

// One tail request after the upgrade: backlog, then live entries, on its own thread.
class TailSession {
 public:
  TailSession(Querier* q, std::string tenant, TailParams params,
              std::shared_ptr<ingester::Tailer> tailer)
      : q_(q), tenant_(std::move(tenant)), p_(std::move(params)), tailer_(std::move(tailer)) {}

  ~TailSession() { tailer_->Close(); }

  void Run(std::stop_token stop, const std::shared_ptr<WebSocketConnection>& conn) {
    NORN_LOG(Info).Msg("starting to tail logs").Kv("tenant", tenant_).Kv("query", p_.query);
    absl::Status st = RunLoop(stop, *conn);
    tailer_->Close();
    if (!st.ok()) {
      conn->Close(http::kWsCloseInternalError, std::string(SV(st.message())));
    } else if (!conn->closed()) {
      conn->Close(http::kWsCloseGoingAway, "tail ended: the server is shutting down");
    }
    NORN_LOG(Info).Msg("ended tailing logs").Kv("tenant", tenant_).Kv("query", p_.query);
  }

 private:
  absl::Status RunLoop(std::stop_token stop, WebSocketConnection& conn) {
    ASSIGN_OR_RETURN(auto stages, logql_engine::BuildStages(p_.pipeline));
    logql_log::Pipeline pipeline(std::move(stages));
    RETURN_IF_ERROR(Backlog(stop));

    std::vector<ingester::TailBatch> batches;
    std::vector<ingester::TailDropped> dropped;
    while (!stop.stop_requested() && !conn.closed()) {
      absl::Duration wait = absl::Milliseconds(200);
      const int64_t now = absl::GetCurrentTimeNanos();
      if (!pending_.empty()) {
        int64_t due_in = pending_.top().ts + p_.delay_ns - now;
        wait = std::clamp(absl::Nanoseconds(due_in), absl::Milliseconds(1), wait);
      }
      batches.clear();
      dropped.clear();
      bool open = tailer_->Wait(wait, &batches, &dropped);
      for (const auto& d : dropped) AddDropped(d.labels, d.timestamp_ns);
      for (const auto& b : batches) {
        logql_log::StreamPipeline* sp = pipeline.ForStream(*b.labels);
        for (const Entry& e : b.entries) {
          std::string_view line;
          if (!sp->Process(e.timestamp_ns, e.line, e.structured_metadata, &line)) continue;
          std::shared_ptr<const Labels> labels =
              InternLabels(sp->builder().Hash(), sp->builder().CachedLabels());
          if (!backlog_keys_.empty() && backlog_keys_.erase(Key(*labels, e.timestamp_ns, line))) {
            continue;  // Pushed between the subscription and the backlog query: sent already.
          }
          pending_.push(Pending{e.timestamp_ns, seq_++, std::move(labels), std::string(line)});
        }
      }
      if (!Flush(conn)) break;
      if (!open) break;  // The ingester stopped.
    }
    return absl::OkStatus();
  }

  // The last `limit` entries since `start` (Loki: a backward query, sent forward).
  absl::Status Backlog(std::stop_token stop) {
    std::atomic<bool> cancelled{false};
    std::stop_callback on_stop(stop, [&cancelled] { cancelled = true; });
    logql_engine::LogQuery q;
    q.query = p_.query;
    q.start_ns = p_.start_ns;
    q.end_ns = absl::GetCurrentTimeNanos();
    q.direction = logql_engine::Direction::kBackward;
    q.limit = p_.limit;
    q.cancelled = &cancelled;
    if (q.end_ns <= q.start_ns) return absl::OkStatus();
    logql_engine::EngineOptions opts;
    opts.max_entries_limit_per_query = 0;  // Checked before the upgrade.
    logql_engine::Engine engine(opts);
    TenantEntrySource source(q_, tenant_);
    auto result = engine.Query(q, source);
    if (!result.ok()) {
      if (result.status().code() == absl::StatusCode::kCancelled) return absl::OkStatus();
      return result.status();
    }
    for (auto& s : result->streams) {
      auto labels = InternLabels(s.labels.Hash(), s.labels);
      for (auto& e : s.entries) {
        backlog_keys_.insert(Key(*labels, e.ts_ns, e.line));
        pending_.push(Pending{e.ts_ns, seq_++, labels, std::move(e.line)});
      }
    }
    return absl::OkStatus();
  }

  // Sends every entry that is due (now > ts + delay_for) in frames; false once the
  // connection is gone.
  bool Flush(WebSocketConnection& conn) {
    const int64_t now = absl::GetCurrentTimeNanos();
    std::vector<Pending> frame;
    for (;;) {
      frame.clear();
      while (!pending_.empty() && frame.size() < kMaxEntriesPerFrame &&
             now > pending_.top().ts + p_.delay_ns) {
        // Moving the line out of the top is safe: pop() only compares ts and seq.
        frame.push_back(std::move(const_cast<Pending&>(pending_.top())));
        pending_.pop();
      }
      if (frame.empty()) return true;
      if (conn.queued_messages() >= kMaxBufferedFrames) {
        // The client reads slower than entries come: drop, and say so in the next frame.
        for (const auto& e : frame) AddDropped(e.labels, e.ts);
        continue;
      }
      if (!conn.SendText(RenderFrame(frame, dropped_, p_.legacy))) return false;
      dropped_.clear();
    }
  }

  void AddDropped(const std::shared_ptr<const Labels>& labels, int64_t ts) {
    if (dropped_.size() < kMaxDroppedReported) dropped_.push_back({labels, ts});
  }

  // Output label sets shared by the entries that carry them; the cache is bounded.
  std::shared_ptr<const Labels> InternLabels(Fingerprint h, const Labels& labels) {
    auto it = labels_.find(h);
    if (it != labels_.end() && *it->second == labels) return it->second;
    if (labels_.size() >= 4096) labels_.clear();
    auto sp = std::make_shared<const Labels>(labels);
    labels_[h] = sp;
    return sp;
  }

  static std::string Key(const Labels& labels, int64_t ts, std::string_view line) {
    return absl::StrCat(labels.Hash(), "/", ts, "/", AV(line));
  }

  Querier* const q_;
  const std::string tenant_;
  const TailParams p_;
  std::shared_ptr<ingester::Tailer> tailer_;
  std::priority_queue<Pending, std::vector<Pending>, PendingLater> pending_;
  uint64_t seq_ = 0;
  std::vector<Dropped> dropped_;
  absl::flat_hash_map<Fingerprint, std::shared_ptr<const Labels>> labels_;
  absl::flat_hash_set<std::string> backlog_keys_;
};

// Owns the tail threads; destroying it stops and joins them.
class TailThreads {
 public:
  ~TailThreads() {
    std::list<Item> items;
    {
      std::lock_guard lock(mu_);
      items.swap(items_);
    }
    for (auto& it : items) it.thread.request_stop();
    items.clear();  // jthread joins.
  }

  void Start(std::shared_ptr<TailSession> session, std::shared_ptr<WebSocketConnection> conn) {
    std::lock_guard lock(mu_);
    // Reap finished tails (their threads have returned or are about to).
    for (auto it = items_.begin(); it != items_.end();) {
      if (it->done->load()) {
        it = items_.erase(it);
      } else {
        ++it;
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    items_.push_back(Item{done, std::jthread([session = std::move(session), conn = std::move(conn),
                                              done](std::stop_token stop) mutable {
                            session->Run(stop, conn);
                            session.reset();  // Unsubscribes before the thread counts as done.
                            conn.reset();
                            done->store(true);
                          })});
  }

 private:
  struct Item {
    std::shared_ptr<std::atomic<bool>> done;
    std::jthread thread;
  };
  std::mutex mu_;
  std::list<Item> items_;  // Guarded by mu_.
};

void WriteError(const absl::Status& st, HttpResponse& resp) {
  resp.Error(http::HttpStatusFromStatus(st), SV(st.message()));
}

http::WebSocketOpen Accept(HttpRequest& req, HttpResponse& resp, Querier* q, bool auth_enabled,
                           const LimitsProvider& limits, bool legacy,
                           const std::shared_ptr<TailThreads>& threads) {
  auto tenant = http::TenantFromRequest(req, auth_enabled);
  if (!tenant.ok()) {
    WriteError(tenant.status(), resp);
    return nullptr;
  }
  auto tenant_limits = limits(*tenant);
  auto params = ParseTailParams(req, absl::GetCurrentTimeNanos(),
                                tenant_limits->max_entries_limit_per_query);
  if (!params.ok()) {
    resp.Error(400, SV(params.status().message()));
    return nullptr;
  }
  params->legacy = legacy;
  // Validate the pipeline now (bad templates are a 400) rather than after the upgrade.
  if (auto stages = logql_engine::BuildStages(params->pipeline); !stages.ok()) {
    resp.Error(400, SV(stages.status().message()));
    return nullptr;
  }
  if (q->ingester() == nullptr) {
    resp.Error(503, "tailing needs an ingester in this process");
    return nullptr;
  }
  // Subscribe before the backlog query so no entry pushed meanwhile is missed.
  auto matchers = params->matchers;
  auto tailer = q->ingester()->tail_registry().Subscribe(
      *tenant,
      [matchers = std::move(matchers)](const Labels& l) {
        return logql_engine::MatchesAll(matchers, l);
      },
      tenant_limits->max_concurrent_tail_requests);
  if (!tailer.ok()) {
    WriteError(tailer.status(), resp);
    return nullptr;
  }
  // Owned by the callback until the connection opens: if the handshake fails, destroying the
  // callback unsubscribes.
  auto session = std::make_shared<TailSession>(q, *std::move(tenant), *std::move(params),
                                               *std::move(tailer));
  return [session, threads](std::shared_ptr<WebSocketConnection> conn) mutable {
    threads->Start(std::move(session), std::move(conn));
  };
}

}  // namespace

void RegisterTailRoutes(http::Router& router, std::string_view prefix, Querier* q,
                        bool auth_enabled, LimitsProvider limits) {
  auto threads = std::make_shared<TailThreads>();
  for (bool legacy : {false, true}) {
    router.HandleWebSocket(
        absl::StrCat(AV(prefix), legacy ? "/api/prom/tail" : "/loki/api/v1/tail"),
        [q, auth_enabled, limits, legacy, threads](HttpRequest& req, HttpResponse& resp) {
          return Accept(req, resp, q, auth_enabled, limits, legacy, threads);
        });
  }
}

}  // namespace norn::querier
