"""Grafana Logs Drilldown metadata APIs: /index/volume, /index/volume_range, /detected_labels,
/detected_fields and /detected_field/<name>/values. Each answer is checked while the data is in
the ingester, again after POST /flush (chunks both in memory and in the store: counted once)
and after a restart (store), plus tenant isolation and 400s for bad parameters."""

import json
import os
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testutil"))
from norn import Norn, free_port  # noqa: E402
from push import json_push  # noqa: E402

S = 10**9
T0 = 1704067200 * S  # 2024-01-01T00:00:00Z
END = T0 + 3600 * S

API = {"app": "api", "env": "prod", "job": "drill", "shard": "1"}
WEB_PROD = {"app": "web", "env": "prod", "job": "drill", "shard": "2"}
WEB_DEV = {"app": "web", "env": "dev", "job": "drill", "shard": "3"}
OTHER = {"app": "other", "job": "drill"}

DATA_A = [
    (API, [
        (T0 + 5 * S, "level=info msg=hello duration=15ms status=200 size=1KB ok=true",
         {"trace_id": "t1"}),
        (T0 + 6 * S, "level=warn msg=slow duration=1.5s status=500 size=2KB ok=false",
         {"trace_id": "t2"}),
        (T0 + 65 * S, "level=info msg=bye duration=3ms status=200 size=3KB ok=true",
         {"trace_id": "t3"}),
    ]),
    (WEB_PROD, [
        (T0 + 7 * S, '{"user":"u1","latency":1.5,"req":{"path":"/a"}}'),
        (T0 + 8 * S, '{"user":"u2","latency":2.25,"req":{"path":"/b"}}'),
    ]),
    (WEB_DEV, [
        (T0 + 9 * S, '{"user":"u1","latency":3.5,"level":"debug"}'),
    ]),
]
DATA_B = [(OTHER, [(T0 + 5 * S, "tenant b line x=1")])]

ALL_FIELDS = {
    "trace_id": ("string", 3, None),
    "level": ("string", 3, ["json", "logfmt"]),
    "msg": ("string", 3, ["logfmt"]),
    "duration": ("duration", 3, ["logfmt"]),
    "status": ("int", 2, ["logfmt"]),
    "size": ("bytes", 3, ["logfmt"]),
    "ok": ("boolean", 2, ["logfmt"]),
    "user": ("string", 2, ["json"]),
    "latency": ("float", 3, ["json"]),
    "req_path": ("string", 2, ["json"]),
}


def key(labels):
    return tuple(sorted(labels.items()))


def raw_bytes(entries):
    # An open head chunk counts line plus structured metadata bytes.
    total = 0
    for e in entries:
        total += len(e[1].encode())
        if len(e) > 2:
            total += sum(len(k) + len(v) for k, v in e[2].items())
    return total


class DrilldownTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.http_port, cls.grpc_port = free_port(), free_port()
        cls.n = Norn(config="", http_port=cls.http_port, grpc_port=cls.grpc_port)
        with open(cls.n.config_path, "w") as f:
            f.write(f"auth_enabled: true\ncommon:\n  path_prefix: {cls.n.workdir}/data\n"
                    "limits_config:\n  reject_old_samples: false\n"
                    "  max_entries_limit_per_query: 150\n"
                    "querier:\n  query_ingesters_within: 0\n")
        cls.n.start()

    @classmethod
    def tearDownClass(cls):
        cls.n.stop()
        cls.n.__exit__(None, None, None)

    # --- helpers ---------------------------------------------------------------------------

    def get(self, path, params, tenant="a", expect=200):
        status, body, _ = self.n.get(path + "?" + urllib.parse.urlencode(params),
                                     headers={"X-Scope-OrgID": tenant} if tenant else {})
        self.assertEqual(status, expect, body)
        return json.loads(body) if expect == 200 else body.decode()

    def push(self, tenant, streams):
        status, text, _ = self.n.request("POST", "/loki/api/v1/push", body=json_push(streams),
                                         headers={"Content-Type": "application/json",
                                                  "X-Scope-OrgID": tenant})
        self.assertEqual(status, 204, text)

    def stats_bytes(self, labels, tenant="a"):
        sel = "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
        return self.get("/loki/api/v1/index/stats",
                        {"query": sel, "start": T0, "end": END}, tenant)["bytes"]

    def volume(self, params, tenant="a", range_=False):
        p = {"start": T0, "end": END}
        p.update(params)
        path = "/loki/api/v1/index/volume_range" if range_ else "/loki/api/v1/index/volume"
        body = self.get(path, p, tenant)
        self.assertEqual(body["status"], "success")
        return body["data"]

    def fields(self, params, tenant="a"):
        p = {"query": '{job="drill"}', "start": T0, "end": END}
        p.update(params)
        return self.get("/loki/api/v1/detected_fields", p, tenant)

    # --- checks, run in every phase --------------------------------------------------------

    def check_all(self, phase, sizes_a, size_b):
        with self.subTest(phase=phase):
            self.check_volume(sizes_a, size_b)
            self.check_volume_range(sizes_a)
            self.check_detected_labels()
            self.check_detected_fields()

    def check_volume(self, sz, size_b):
        api, prod, dev = sz[key(API)], sz[key(WEB_PROD)], sz[key(WEB_DEV)]
        total = api + prod + dev
        ts = END // S

        def vec(entries):
            return {"resultType": "vector",
                    "result": [{"metric": m, "value": [ts, str(v)]} for m, v in entries]}

        # Default: group by the selector's label names.
        self.assertEqual(self.volume({"query": '{job="drill"}'}), vec([({"job": "drill"},
                                                                          total)]))
        by_app = sorted([({"app": "api"}, api), ({"app": "web"}, prod + dev)],
                        key=lambda e: (-e[1], e[0]["app"]))
        self.assertEqual(self.volume({"query": '{app=~".+"}'}), vec(by_app))
        # targetLabels replace the grouping; a target without matcher must be present.
        by_env = sorted([({"env": "prod"}, api + prod), ({"env": "dev"}, dev)],
                        key=lambda e: (-e[1], e[0]["env"]))
        self.assertEqual(self.volume({"query": '{job="drill"}', "targetLabels": "env"}),
                         vec(by_env))
        self.assertEqual(self.volume({"query": '{job="drill"}', "targetLabels": "env",
                                      "limit": "1"}), vec(by_env[:1]))
        # `{}` matches everything and keeps every label of each stream.
        per_stream = sorted([(API, api), (WEB_PROD, prod), (WEB_DEV, dev)],
                            key=lambda e: (-e[1], json.dumps(e[0])))
        got = self.volume({"query": "{}"})
        self.assertEqual(sorted((json.dumps(r["metric"], sort_keys=True), r["value"][1])
                                for r in got["result"]),
                         sorted((json.dumps(m, sort_keys=True), str(v)) for m, v in per_stream))
        self.assertEqual([int(r["value"][1]) for r in got["result"]],
                         sorted([api, prod, dev], reverse=True))
        # aggregateBy=labels: one entry per label name, value "".
        labels_all = sorted([({"app": ""}, total), ({"env": ""}, total), ({"job": ""}, total),
                             ({"shard": ""}, total)], key=lambda e: (-e[1], list(e[0])[0]))
        self.assertEqual(self.volume({"query": "{}", "aggregateBy": "labels"}), vec(labels_all))
        self.assertEqual(self.volume({"query": '{app="web"}', "aggregateBy": "labels"}),
                         vec([({"app": ""}, prod + dev)]))
        # Nothing matches: an empty vector.
        self.assertEqual(self.volume({"query": '{app="nope"}'}), vec([]))
        # Tenant b sees only its stream.
        self.assertEqual(self.volume({"query": '{job="drill"}'}, tenant="b"),
                         vec([({"job": "drill"}, size_b)]))

    def check_volume_range(self, sz):
        api, prod, dev = sz[key(API)], sz[key(WEB_PROD)], sz[key(WEB_DEV)]
        # Buckets [T0, T0+59.999s] and [T0+60s, T0+120s]; the api chunk (5s..65s) overlaps
        # both and counts whole in each.
        got = self.volume({"query": '{job="drill"}', "targetLabels": "app", "step": "60s",
                           "end": T0 + 120 * S}, range_=True)
        b1, b2 = 1704067259.999, 1704067320
        want = sorted([({"app": "api"}, [[b1, str(api)], [b2, str(api)]]),
                       ({"app": "web"}, [[b1, str(prod + dev)]])],
                      key=lambda e: (-int(e[1][0][1]), e[0]["app"]))
        self.assertEqual(got, {"resultType": "matrix",
                               "result": [{"metric": m, "values": v} for m, v in want]})
        # A single bucket per series gives a vector, as Loki does.
        got = self.volume({"query": '{app="web"}', "step": "60s", "end": T0 + 120 * S},
                          range_=True)
        self.assertEqual(got, {"resultType": "vector", "result": [
            {"metric": {"app": "web"}, "value": [b1, str(prod + dev)]}]})

    def check_detected_labels(self):
        base = {"start": T0, "end": END}
        # shard's values (1, 2, 3) are all numeric IDs: not offered.
        self.assertEqual(self.get("/loki/api/v1/detected_labels", base),
                         {"detectedLabels": [{"label": "app", "cardinality": 2},
                                             {"label": "env", "cardinality": 2},
                                             {"label": "job", "cardinality": 1}]})
        self.assertEqual(self.get("/loki/api/v1/detected_labels",
                                  dict(base, query='{app="web"}')),
                         {"detectedLabels": [{"label": "app", "cardinality": 1},
                                             {"label": "env", "cardinality": 2},
                                             {"label": "job", "cardinality": 1}]})
        self.assertEqual(self.get("/loki/api/v1/detected_labels", base, tenant="b"),
                         {"detectedLabels": [{"label": "app", "cardinality": 1},
                                             {"label": "job", "cardinality": 1}]})

    def norm_fields(self, body):
        out = {}
        for f in body["fields"]:
            parsers = sorted(f["parsers"]) if f["parsers"] is not None else None
            out[f["label"]] = (f["type"], f["cardinality"], parsers)
        return out

    def check_detected_fields(self):
        body = self.fields({})
        self.assertEqual(body["limit"], 1000)
        self.assertEqual([f["label"] for f in body["fields"]], sorted(ALL_FIELDS))
        self.assertEqual(self.norm_fields(body), ALL_FIELDS)
        # The newest 2 lines only: api at 65s (logfmt + metadata) and web dev at 9s (json).
        got = self.norm_fields(self.fields({"line_limit": "2"}))
        self.assertEqual(got["level"], ("string", 2, ["json", "logfmt"]))
        self.assertEqual(got["trace_id"], ("string", 1, None))
        self.assertEqual(got["latency"], ("float", 1, ["json"]))
        self.assertNotIn("req_path", got)
        # A query with its own parser and filter: fields of the one matching line.
        got = self.norm_fields(self.fields({"query": '{job="drill"} | logfmt | status="500"'}))
        self.assertEqual(got, {"trace_id": ("string", 1, None),
                               "level": ("string", 1, ["logfmt"]),
                               "msg": ("string", 1, ["logfmt"]),
                               "duration": ("duration", 1, ["logfmt"]),
                               "status": ("int", 1, ["logfmt"]),
                               "size": ("bytes", 1, ["logfmt"]),
                               "ok": ("boolean", 1, ["logfmt"])})
        got = self.norm_fields(self.fields({"query": '{job="drill"} |= "u2"'}))
        self.assertEqual(got, {"user": ("string", 1, ["json"]),
                               "latency": ("float", 1, ["json"]),
                               "req_path": ("string", 1, ["json"])})
        body = self.fields({"limit": "2"})
        self.assertEqual((len(body["fields"]), body["limit"]), (2, 2))
        body = self.fields({"field_limit": "3"})
        self.assertEqual((len(body["fields"]), body["limit"]), (3, 3))
        # Values of one field.
        p = {"query": '{job="drill"}', "start": T0, "end": END}
        self.assertEqual(self.get("/loki/api/v1/detected_field/level/values", p),
                         {"values": ["debug", "info", "warn"], "limit": 1000})
        self.assertEqual(self.get("/loki/api/v1/detected_field/trace_id/values", p),
                         {"values": ["t1", "t2", "t3"], "limit": 1000})
        self.assertEqual(self.get("/loki/api/v1/detected_field/req_path/values",
                                  dict(p, limit="1")), {"values": ["/a"], "limit": 1})
        self.assertEqual(self.get("/loki/api/v1/detected_field/nope/values", p),
                         {"values": [], "limit": 1000})
        # Tenant b: only its own line.
        self.assertEqual(self.norm_fields(self.fields({}, tenant="b")),
                         {"x": ("int", 1, ["logfmt"])})
        self.assertEqual(self.get("/loki/api/v1/detected_field/x/values", p, tenant="b"),
                         {"values": ["1"], "limit": 1000})

    # --- the test ----------------------------------------------------------------------------

    def test_drilldown(self):
        self.push("a", DATA_A)
        self.push("b", DATA_B)
        mem_a = {key(l): raw_bytes(e) for l, e in DATA_A}
        self.check_all("memory", mem_a, raw_bytes(DATA_B[0][1]))
        self.check_bad_params()

        self.assertEqual(self.n.request("POST", "/flush")[0], 204)
        # The index now names every chunk; chunks still held in memory must not count twice.
        stored_a = {key(l): self.stats_bytes(l) for l, _ in DATA_A}
        self.assertTrue(all(v > 0 for v in stored_a.values()), stored_a)
        stored_b = self.stats_bytes(OTHER, tenant="b")
        self.check_all("flushed", stored_a, stored_b)

        self.assertEqual(self.n.stop(), 0, self.n.stderr())
        m = Norn(http_port=self.http_port, grpc_port=self.grpc_port, workdir=self.n.workdir)
        m.args = list(self.n.args)
        m.start()
        type(self).n = m
        self.n = m
        self.check_all("restarted", stored_a, stored_b)

    def check_bad_params(self):
        vol = "/loki/api/v1/index/volume"
        base = {"start": T0, "end": END}
        self.get(vol, base, expect=400)  # no query
        self.get(vol, dict(base, query="{job="), expect=400)
        self.assertIn("invalid aggregation option",
                      self.get(vol, dict(base, query='{job="drill"}', aggregateBy="x"),
                               expect=400))
        self.assertIn("limit must be a positive value",
                      self.get(vol, dict(base, query='{job="drill"}', limit="-1"), expect=400))
        self.get(vol, dict(base, query='{job="drill"}', start=END, end=T0), expect=400)
        self.get("/loki/api/v1/index/volume_range",
                 dict(base, query='{job="drill"}', step="0"), expect=400)
        self.get("/loki/api/v1/index/volume_range",
                 dict(base, query='{job="drill"}', step="abc"), expect=400)
        self.get("/loki/api/v1/detected_labels", dict(base, query="{app="), expect=400)
        df = "/loki/api/v1/detected_fields"
        self.get(df, base, expect=400)  # no query
        self.get(df, dict(base, query='sum(rate({job="drill"}[1m]))'), expect=400)
        self.get(df, dict(base, query='{job="drill"}', line_limit="0"), expect=400)
        self.get(df, dict(base, query='{job="drill"}', limit="x"), expect=400)
        self.assertIn("max entries limit per query exceeded",
                      self.get(df, dict(base, query='{job="drill"}', line_limit="151"),
                               expect=400))
        self.get("/loki/api/v1/detected_field/level/values",
                 dict(base, query="{job"), expect=400)
        # No tenant with auth enabled.
        self.get(vol, dict(base, query='{job="drill"}'), tenant=None, expect=401)


if __name__ == "__main__":
    unittest.main()
