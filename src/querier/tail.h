// Loki's live tail: `GET /loki/api/v1/tail` and the legacy `GET /api/prom/tail`, WebSocket
// endpoints that first send the last `limit` entries matching a log query since `start`
// (forward order) and then every new matching entry as it is pushed, through the query's full
// pipeline (filters, parsers, label_format, line_format, ...).
//
// Parameters, as Loki: `query` (a log query; a metric query is a 400), `limit` (default 100,
// positive, at most max_entries_limit_per_query), `start` (default now - 1h), `delay_for`
// (seconds, default 0, at most 5: an entry is sent once now > its timestamp + delay_for, in
// timestamp order). Errors are answered before the upgrade with HTTP 400 (401 without a tenant
// when auth is enabled), including "max concurrent tail requests limit exceeded, count > limit
// (N > L)" at the tenant's max_concurrent_tail_requests. (Loki 2.7 reports that one, and
// other errors found after its upgrade, in a close frame instead.)
//
// Frames are JSON text messages of at most 100 entries:
//   v1:     {"streams":[{"stream":{"a":"b"},"values":[["<ns>","line"],...]}],
//            "dropped_entries":[{"labels":{"a":"b"},"timestamp":"<ns>"}]}   (both omitted if empty)
//   legacy: {"streams":[{"labels":"{a=\"b\"}","entries":[{"ts":"<RFC3339Nano>","line":"..."}]}],
//            "dropped_entries":null | [{"Timestamp":"<RFC3339Nano>","Labels":"{a=\"b\"}"}]}
// A client that reads slower than entries arrive loses entries rather than slowing pushes down:
// with 10 frames already waiting for the socket, new frames are dropped and reported (up to
// 1000) in the next frame's dropped_entries; a client that reads nothing for
// server.websocket_write_timeout is disconnected. A tail ends when the client closes, when the
// ingester stops (close 1001) or at server shutdown (close 1001).
//
// Each tail runs on its own thread, owned by the routes (joined when the router is destroyed,
// after the HTTP server stopped). The Querier and its Ingester must outlive the router.
#pragma once

#include <string_view>

#include "querier/query_api.h"
#include "server/http/router.h"

namespace norn::querier {

class Querier;

// Registers `<prefix>/loki/api/v1/tail` and `<prefix>/api/prom/tail`. Tails read live entries
// from q->ingester()'s tail registry and the backlog through the LogQL engine over `q`.
// `limits` gives max_entries_limit_per_query and max_concurrent_tail_requests per tenant.
void RegisterTailRoutes(http::Router& router, std::string_view prefix, Querier* q,
                        bool auth_enabled, LimitsProvider limits);

}  // namespace norn::querier
