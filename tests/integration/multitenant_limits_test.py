"""Multi-tenant reads (`X-Scope-OrgID: a|b` with the `__tenant_id__` label) and Loki's query
limits with their messages: max_query_length, max_streams_matchers_per_query,
max_chunks_per_query, max_query_lookback."""

import json
import os
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testutil"))
from norn import Norn  # noqa: E402
from push import json_push  # noqa: E402

T0 = 1704067200 * 10**9  # 2024-01-01T00:00:00Z


class MultiTenantLimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.n = Norn(config="")
        with open(cls.n.config_path, "w") as f:
            f.write(f"auth_enabled: true\ncommon:\n  path_prefix: {cls.n.workdir}/data\n"
                    "limits_config:\n  reject_old_samples: false\n"
                    "  max_query_length: 2h\n"
                    "  max_streams_matchers_per_query: 2\n"
                    "querier:\n  query_ingesters_within: 0\n"
                    "  multi_tenant_queries_enabled: true\n")
        cls.n.start()
        for tenant, app in (("a", "web"), ("b", "db"), ("c", "secret")):
            body = json_push([({"app": app, "env": "prod"},
                               [(T0 + i * 10**9, f"{tenant} line {i}") for i in range(5)])])
            status, text, _ = cls.n.request("POST", "/loki/api/v1/push", body=body, headers={
                "Content-Type": "application/json", "X-Scope-OrgID": tenant})
            assert status == 204, text

    @classmethod
    def tearDownClass(cls):
        assert cls.n.stop() == 0
        cls.n.__exit__(None, None, None)

    def get(self, path, params, tenant):
        status, body, _ = self.n.get(path + "?" + urllib.parse.urlencode(params),
                                     headers={"X-Scope-OrgID": tenant})
        return status, body

    def query(self, q, tenant, **extra):
        params = {"query": q, "start": str(T0), "end": str(T0 + 3600 * 10**9), "limit": "100"}
        params.update(extra)
        return self.get("/loki/api/v1/query_range", params, tenant)

    def test_two_tenants_get_tenant_label(self):
        status, body = self.query('{env="prod"}', "a|b")
        self.assertEqual(status, 200, body)
        streams = json.loads(body)["data"]["result"]
        got = sorted((s["stream"]["__tenant_id__"], s["stream"]["app"], len(s["values"]))
                     for s in streams)
        self.assertEqual(got, [("a", "web", 5), ("b", "db", 5)])

    def test_tenant_matcher_selects_tenants(self):
        status, body = self.query('{env="prod", __tenant_id__="b"}', "a|b")
        self.assertEqual(status, 200, body)
        streams = json.loads(body)["data"]["result"]
        self.assertEqual([s["stream"]["__tenant_id__"] for s in streams], ["b"])
        status, body = self.query('sum by (__tenant_id__) (count_over_time({env="prod"}[1h]))',
                                  "a|b", step="3600")
        self.assertEqual(status, 200, body)
        result = json.loads(body)["data"]["result"]
        self.assertEqual(sorted(r["metric"]["__tenant_id__"] for r in result), ["a", "b"])

    def test_single_tenant_has_no_tenant_label(self):
        status, body = self.query('{env="prod"}', "a")
        self.assertEqual(status, 200, body)
        streams = json.loads(body)["data"]["result"]
        self.assertEqual([s["stream"] for s in streams], [{"app": "web", "env": "prod"}])

    def test_tenant_never_sees_unlisted_tenant(self):
        status, body = self.query('{app="secret"}', "a|b")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["data"]["result"], [])

    def test_metadata_union(self):
        rng = {"start": str(T0), "end": str(T0 + 3600 * 10**9)}
        status, body = self.get("/loki/api/v1/labels", rng, "a|b")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["data"], ["__tenant_id__", "app", "env"])
        status, body = self.get("/loki/api/v1/label/app/values", rng, "a|b")
        self.assertEqual(json.loads(body)["data"], ["db", "web"])
        status, body = self.get("/loki/api/v1/label/__tenant_id__/values", rng, "b|a")
        self.assertEqual(json.loads(body)["data"], ["a", "b"])
        status, body = self.get("/loki/api/v1/series", dict(rng, **{"match[]": '{env="prod"}'}),
                                "a|b")
        self.assertEqual(status, 200)
        self.assertEqual(sorted(s["__tenant_id__"] for s in json.loads(body)["data"]), ["a", "b"])

    def test_max_query_length(self):
        status, body = self.get("/loki/api/v1/query_range", {
            "query": '{env="prod"}', "start": str(T0), "end": str(T0 + 3 * 3600 * 10**9)}, "a")
        self.assertEqual(status, 400)
        self.assertIn(b"the query time range exceeds the limit (query length: 3h0m0s, "
                      b"limit: 2h0m0s)", body)

    def test_max_streams_matchers(self):
        status, body = self.query('{env="prod", app="web", app!="x"}', "a")
        self.assertEqual(status, 400)
        self.assertIn(b"max streams matchers per query exceeded, matchers-count > limit (3 > 2)",
                      body)


class MultiTenantDisabledTest(unittest.TestCase):
    def test_pipe_is_refused_without_the_option(self):
        with Norn(config="") as n:
            with open(n.config_path, "w") as f:
                f.write(f"auth_enabled: true\ncommon:\n  path_prefix: {n.workdir}/data\n")
            n.start()
            status, body, _ = n.get("/loki/api/v1/labels", headers={"X-Scope-OrgID": "a|b"})
            self.assertEqual(status, 400)
            self.assertIn(b"multiple org IDs present", body)
            self.assertEqual(n.stop(), 0)


if __name__ == "__main__":
    unittest.main()
