"""Push API integration tests against the real binary: every body format, Loki's rejections and
statuses, tenants, rate limits, and what reaches the store after /flush (read back with
norn-tool, the way the querier reads it)."""

import gzip
import json
import os
import subprocess
import sys
import textwrap
import unittest
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testutil"))
from norn import Norn  # noqa: E402
from push import encode_push_request, json_push, snappy_literal  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.environ.get("NORN_TOOL") or os.path.join(REPO, "build", "norn-tool")
T0 = 1704067200 * 10**9  # 2024-01-01T00:00:00Z

BASE_CONFIG = textwrap.dedent("""\
    auth_enabled: {auth}
    common:
      path_prefix: {prefix}
    limits_config:
      reject_old_samples: false
    {extra}
    """)


def conformance_cases():
    for d in (os.path.join(REPO, "tests", "conformance", "cases"),
              os.path.join(REPO, "..", "shared", "conformance", "cases")):
        if os.path.isdir(d):
            return d
    return None


def start(tmp_auth=False, extra=""):
    n = Norn(config="")  # placeholder to get a workdir
    cfg = BASE_CONFIG.format(auth=str(tmp_auth).lower(), prefix=os.path.join(n.workdir, "data"),
                             extra=extra)
    with open(n.config_path, "w") as f:
        f.write(cfg)
    return n.start()


def dump(n, tenant="fake"):
    out = subprocess.run([TOOL, "dump", os.path.join(n.workdir, "data", "chunks"), tenant],
                         capture_output=True, check=True).stdout.decode()
    return [json.loads(l) for l in out.splitlines() if l]


class PushFormatsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.n = start()

    @classmethod
    def tearDownClass(cls):
        assert cls.n.stop() == 0
        cls.n.__exit__(None, None, None)

    def push(self, body, headers):
        return self.n.request("POST", "/loki/api/v1/push", body=body, headers=headers)

    def test_formats_reach_the_store(self):
        j = json_push([({"job": "json"}, [(T0, "plain json")])])
        self.assertEqual(self.push(j, {"Content-Type": "application/json"})[0], 204)
        self.assertEqual(self.push(gzip.compress(json_push([({"job": "gz"}, [(T0, "gzip json")])])),
                                   {"Content-Type": "application/json",
                                    "Content-Encoding": "gzip"})[0], 204)
        self.assertEqual(self.push(zlib.compress(json_push([({"job": "df"}, [(T0, "deflate")])])),
                                   {"Content-Type": "application/json",
                                    "Content-Encoding": "deflate"})[0], 204)
        pb = snappy_literal(encode_push_request(
            [('{job="proto", app="x"}', [(T0 + 5, "from protobuf", {"trace_id": "abc"})])]))
        self.assertEqual(self.push(pb, {"Content-Type": "application/x-protobuf"})[0], 204)
        # Content-Type absent means protobuf, as in Loki; snappy encoding header is a no-op.
        pb2 = snappy_literal(encode_push_request([('{job="proto2"}', [(T0, "no ctype")])]))
        self.assertEqual(self.push(pb2, {"Content-Encoding": "snappy"})[0], 204)
        legacy = json.dumps({"streams": [{"labels": '{job="legacy"}', "entries": [
            {"ts": "2024-01-01T00:00:01Z", "line": "legacy form"}]}]}).encode()
        self.assertEqual(self.push(legacy, {"Content-Type": "application/json"})[0], 204)
        otlp = json.dumps({"resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}]},
            "scopeLogs": [{"logRecords": [{"timeUnixNano": str(T0 + 7),
                                           "body": {"stringValue": "otlp line"},
                                           "severityText": "INFO"}]}]}]}).encode()
        status, body, _ = self.n.request("POST", "/otlp/v1/logs", body=otlp,
                                          headers={"Content-Type": "application/json"})
        self.assertEqual(status, 204, body)
        self.assertEqual(self.n.request("POST", "/flush")[0], 204)
        got = {(e["stream"], e["line"]) for e in dump(self.n)}
        for want in [('{job="json"}', "plain json"), ('{job="gz"}', "gzip json"),
                     ('{job="df"}', "deflate"), ('{app="x", job="proto"}', "from protobuf"),
                     ('{job="proto2"}', "no ctype"), ('{job="legacy"}', "legacy form"),
                     ('{service_name="cart"}', "otlp line")]:
            self.assertIn(want, got)

    def test_known_label_strings_after_their_stream_left_memory(self):
        # The distributor remembers a label string it accepted and stops parsing it; once
        # /flush has released the stream, the next push with that string makes the ingester
        # create the stream again from the text alone.
        text = '{job="again", app="y", team=""}'

        def push(ts, line):
            pb = snappy_literal(encode_push_request([(text, [(ts, line)])]))
            self.assertEqual(self.push(pb, {"Content-Type": "application/x-protobuf"})[0], 204)

        def streams_created():
            _, metrics, _ = self.n.get("/metrics")
            for line in metrics.decode().splitlines():
                if line.startswith("loki_ingester_streams_created_total "):
                    return float(line.split()[1])
            self.fail("no loki_ingester_streams_created_total")

        push(T0 + 1, "before the flush")
        push(T0 + 2, "known string, same stream")
        self.assertEqual(self.n.request("POST", "/flush")[0], 204)
        created = streams_created()
        push(T0 + 3, "after the flush")
        self.assertEqual(streams_created(), created + 1)
        self.assertEqual(self.n.request("POST", "/flush")[0], 204)
        lines = sorted(e["line"] for e in dump(self.n) if e["stream"] == '{app="y", job="again"}')
        self.assertEqual(lines, ["after the flush", "before the flush", "known string, same stream"])

    def test_unsupported_encoding(self):
        status, body, _ = self.push(b"{}", {"Content-Type": "application/json",
                                            "Content-Encoding": "br"})
        self.assertEqual(status, 400)
        self.assertIn(b"br", body)

    def test_partial_batch_keeps_good_entries(self):
        body = json_push([({"job": "partial"}, [(T0, "good one"), (4102444800 * 10**9, "too new")]),
                          ({}, [(T0, "no labels")])])
        status, text, _ = self.push(body, {"Content-Type": "application/json"})
        self.assertEqual(status, 400)
        self.assertIn(b"has timestamp too new: 2100-01-01T00:00:00Z", text)
        self.assertIn(b"error at least one label pair is required per stream", text)
        self.assertEqual(self.n.request("POST", "/flush")[0], 204)
        lines = {e["line"] for e in dump(self.n) if e["stream"] == '{job="partial"}'}
        self.assertEqual(lines, {"good one"})
        _, metrics, _ = self.n.get("/metrics")
        self.assertIn(b'loki_discarded_samples_total{reason="too_far_in_future",tenant="fake"}',
                      metrics)
        self.assertIn(b'loki_distributor_lines_received_total{tenant="fake"}', metrics)

    def test_conformance_push_cases(self):
        d = conformance_cases()
        if d is None:
            self.skipTest("conformance cases not found")
        ran = 0
        for name in sorted(os.listdir(d)):
            if not name.startswith("push_"):
                continue
            with open(os.path.join(d, name)) as f:
                case = json.load(f)
            body = case["body_raw"].encode() if "body_raw" in case else json.dumps(
                case["body"]).encode()
            headers = {"Content-Type": "application/json"}
            headers.update(case.get("headers") or {})
            status, text, _ = self.push(body, headers)
            self.assertEqual(status // 100, case["expected_status"] // 100,
                             f"{name}: {status} {text[:200]}")
            ran += 1
        self.assertGreaterEqual(ran, 10)


class TenantsAndLimitsTest(unittest.TestCase):
    def test_auth_and_isolation(self):
        n = start(tmp_auth=True)
        try:
            body = json_push([({"job": "t"}, [(T0, "secret of a")])])
            status, text, _ = n.request("POST", "/loki/api/v1/push", body=body,
                                        headers={"Content-Type": "application/json"})
            self.assertEqual((status, text), (401, b"no org id\n"))
            for tenant, line in (("team-a", "secret of a"), ("team-b", "secret of b")):
                body = json_push([({"job": "t"}, [(T0, line)])])
                status, _, _ = n.request("POST", "/loki/api/v1/push", body=body,
                                         headers={"Content-Type": "application/json",
                                                  "X-Scope-OrgID": tenant})
                self.assertEqual(status, 204)
            status, _, _ = n.request("POST", "/loki/api/v1/push", body=body,
                                     headers={"Content-Type": "application/json",
                                              "X-Scope-OrgID": "bad/tenant"})
            self.assertEqual(status, 400)
            self.assertEqual(n.request("POST", "/flush")[0], 204)
            self.assertEqual([e["line"] for e in dump(n, "team-a")], ["secret of a"])
            self.assertEqual([e["line"] for e in dump(n, "team-b")], ["secret of b"])
            self.assertEqual(dump(n, "fake"), [])
        finally:
            n.stop()
            n.__exit__(None, None, None)

    def test_rate_limit_429(self):
        n = start(extra="  ingestion_rate_mb: 0.001\n  ingestion_burst_size_mb: 0.001\n")
        try:
            body = json_push([({"job": "r"}, [(T0 + i, "x" * 500) for i in range(10)])])
            status, text, _ = n.request("POST", "/loki/api/v1/push", body=body,
                                        headers={"Content-Type": "application/json"})
            self.assertEqual(status, 429)
            self.assertIn(b"Ingestion rate limit exceeded for user fake", text)
        finally:
            n.stop()
            n.__exit__(None, None, None)


if __name__ == "__main__":
    unittest.main(verbosity=2)
