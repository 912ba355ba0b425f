"""Query API behaviour beyond the recorded conformance answers: format_query, Loki's limit
errors, queries spanning data in the store and data still in the ingester, and tenant
isolation on reads."""

import json
import os
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testutil"))
from norn import Norn  # noqa: E402
from push import json_push  # noqa: E402

T0 = 1704067200 * 10**9


def store_only_config(n, ingester_yaml):
    """Writes a config for `n` whose queries read only the store (as after a restart)."""
    with open(n.config_path, "w") as f:
        f.write(f"auth_enabled: false\ncommon:\n  path_prefix: {n.workdir}/data\n"
                f"ingester:\n{ingester_yaml}"
                "limits_config:\n  reject_old_samples: false\n"
                "querier:\n  query_ingesters_within: 0\n  query_store_only: true\n")


def push_and_flush(test, n, job, lines):
    """Pushes `lines` of stream {job=...} to `n` as JSON, then flushes them to the store."""
    status, text, _ = n.request("POST", "/loki/api/v1/push",
                                body=json_push([({"job": job}, lines)]),
                                headers={"Content-Type": "application/json"})
    test.assertEqual(status, 204, text)
    test.assertEqual(n.request("POST", "/flush")[0], 204)


class QueryApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.n = Norn(config="")
        with open(cls.n.config_path, "w") as f:
            f.write(f"auth_enabled: true\ncommon:\n  path_prefix: {cls.n.workdir}/data\n"
                    "limits_config:\n  reject_old_samples: false\n"
                    "  max_entries_limit_per_query: 50\n"
                    # The data is from 2024: ask the ingester whatever the age, as Loki needs.
                    "querier:\n  query_ingesters_within: 0\n")
        cls.n.start()

    @classmethod
    def tearDownClass(cls):
        assert cls.n.stop() == 0
        cls.n.__exit__(None, None, None)

    def get(self, path, params, tenant="a"):
        return self.n.get(path + "?" + urllib.parse.urlencode(params),
                          headers={"X-Scope-OrgID": tenant})

    def push(self, tenant, lines, job="q"):
        body = json_push([({"job": job}, lines)])
        status, text, _ = self.n.request("POST", "/loki/api/v1/push", body=body, headers={
            "Content-Type": "application/json", "X-Scope-OrgID": tenant})
        self.assertEqual(status, 204, text)

    def test_format_query(self):
        status, body, _ = self.n.get("/loki/api/v1/format_query?" + urllib.parse.urlencode(
            {"query": 'sum by(job)(rate({job="x"}|="a"[5m]))'}))
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["data"],
                         'sum by (job)(rate({job="x"} |= "a"[5m]))')
        status, _, _ = self.n.get("/loki/api/v1/format_query?query=%7Bjob%3D")
        self.assertEqual(status, 400)

    def test_limit_over_max_entries_is_400(self):
        status, body, _ = self.get("/loki/api/v1/query_range", {
            "query": '{job="q"}', "start": "2024-01-01T00:00:00Z",
            "end": "2024-01-01T01:00:00Z", "limit": "51"})
        self.assertEqual(status, 400)
        self.assertIn(b"max entries limit per query exceeded, limit > max_entries_limit (51 > 50)",
                      body)

    def test_store_and_ingester_together_and_tenants_isolated(self):
        self.push("a", [(T0 + i * 10**9, f"flushed {i}") for i in range(5)], job="span")
        self.assertEqual(self.n.request("POST", "/flush")[0], 204)
        self.push("a", [(T0 + (10 + i) * 10**9, f"recent {i}") for i in range(5)], job="span")
        self.push("b", [(T0, "tenant b only")], job="span")
        status, body, _ = self.get("/loki/api/v1/query_range", {
            "query": '{job="span"}', "start": "2024-01-01T00:00:00Z",
            "end": "2024-01-01T01:00:00Z", "direction": "forward", "limit": "20"})
        self.assertEqual(status, 200, body)
        values = json.loads(body)["data"]["result"][0]["values"]
        self.assertEqual([v[1] for v in values],
                         [f"flushed {i}" for i in range(5)] + [f"recent {i}" for i in range(5)])
        # Loki's stats object with the ingester/store split.
        stats = json.loads(body)["data"]["stats"]
        self.assertEqual(stats["summary"]["totalLinesProcessed"], 10)
        self.assertEqual(stats["ingester"]["totalReached"], 1)
        self.assertEqual(stats["ingester"]["totalLinesSent"], 5)
        self.assertEqual(stats["ingester"]["store"]["chunk"]["decompressedLines"], 5)
        store = stats["querier"]["store"]
        self.assertEqual(store["totalChunksRef"], 1)
        self.assertEqual(store["chunk"]["decompressedLines"], 5)
        self.assertGreater(store["chunk"]["compressedBytes"], 0)
        self.assertEqual(store["totalChunksDownloaded"] + stats["cache"]["chunk"]["entriesFound"], 1)
        status, body, _ = self.get("/loki/api/v1/query", {
            "query": 'count_over_time({job="span"}[1h])', "time": "2024-01-01T00:30:00Z"})
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["data"]["result"][0]["value"][1], "10")
        status, body, _ = self.get("/loki/api/v1/query_range", {
            "query": '{job="span"}', "start": "2024-01-01T00:00:00Z",
            "end": "2024-01-01T01:00:00Z", "limit": "20"}, tenant="b")
        self.assertEqual(status, 200, body)
        lines = [v[1] for r in json.loads(body)["data"]["result"] for v in r["values"]]
        self.assertEqual(lines, ["tenant b only"])
        status, _, _ = self.n.get("/loki/api/v1/query_range?query=%7Bjob%3D%22span%22%7D")
        self.assertEqual(status, 401)


class NeedleReadsTest(unittest.TestCase):
    """A line-filter query reads only the chunk blocks whose token filters may hold the needle."""

    def query(self, n, q):
        """Lines of a log query over the first two hours, and the store's stats for it."""
        status, body, _ = n.get("/loki/api/v1/query_range?" + urllib.parse.urlencode({
            "query": q, "start": "2024-01-01T00:00:00Z", "end": "2024-01-01T02:00:00Z",
            "limit": "5000"}))
        self.assertEqual(status, 200, body)
        data = json.loads(body)["data"]
        found = [v[1] for r in data["result"] for v in r["values"]]
        return found, data["stats"]["querier"]["store"]

    def test_needle_reads_few_blocks(self):
        with Norn(config="") as n:
            store_only_config(n, "  chunk_block_size: 4096\n  chunk_encoding: none\n")
            n.start()
            lines = [(T0 + i * 10**9, f"request {i} path=/api/v1/items/{i * 7919 % 10007} ok")
                     for i in range(3000)]
            lines[1234] = (lines[1234][0], "request 1234 trace=4bf92f3577b34da6a3ce929d0e0e4736")
            push_and_flush(self, n, "needle", lines)

            def query(q):
                found, store = self.query(n, q)
                return found, store["chunk"]["compressedBytes"]

            all_lines, full_bytes = query('{job="needle"}')
            self.assertEqual(len(all_lines), 3000)
            found, needle_bytes = query('{job="needle"} |= "4bf92f3577b34da6a3ce929d0e0e4736"')
            self.assertEqual(found, ["request 1234 trace=4bf92f3577b34da6a3ce929d0e0e4736"])
            # ~50 blocks of 4 KiB: the index tail plus one or two blocks are read, not all.
            self.assertLess(needle_bytes, full_bytes / 3, (needle_bytes, full_bytes))
            none, none_bytes = query('{job="needle"} |= "no-such-needle-anywhere"')
            self.assertEqual(none, [])
            self.assertLess(none_bytes, full_bytes / 3)
            # A chunk smaller than the tail read: the candidate blocks come from that one read.
            small = [(T0 + i * 10**9, f"small {i}") for i in range(20)]
            small[7] = (small[7][0], "small 7 trace=0af7651916cd43dd8448eb211c80319c")
            push_and_flush(self, n, "small", small)
            found, _ = query('{job="small"} |= "0af7651916cd43dd8448eb211c80319c"')
            self.assertEqual(found, ["small 7 trace=0af7651916cd43dd8448eb211c80319c"])
            found, _ = query('{job="small"} |= "small 1"')
            self.assertEqual(sorted(found), ["small 1"] + [f"small {i}" for i in range(10, 20)])
            self.assertEqual(n.stop(), 0)

    def test_needle_in_chunk_whose_index_outgrows_the_tail_read(self):
        # 512-byte blocks: each block's meta and filter make the index ~10% of the object,
        # more than the last sixteenth a needle read fetches first; the rest is read after.
        with Norn(config="") as n:
            store_only_config(n, "  chunk_block_size: 512\n  chunk_encoding: none\n")
            n.start()
            lines = [(T0 + i * 10**8, f"req {i:05d} path=/api/v1/items/{i * 7919 % 10007} ok")
                     for i in range(6000)]
            lines[4321] = (lines[4321][0], "req 04321 trace=4bf92f3577b34da6a3ce929d0e0e4736")
            push_and_flush(self, n, "tiny", lines)

            found, store = self.query(n, '{job="tiny"} |= "4bf92f3577b34da6a3ce929d0e0e4736"')
            self.assertEqual(found, ["req 04321 trace=4bf92f3577b34da6a3ce929d0e0e4736"])
            self.assertEqual(store["totalChunksRef"], 1)
            found, _ = self.query(n, '{job="tiny"} |= "req 0000"')
            self.assertEqual(sorted(found), [f"req {i:05d} path=/api/v1/items/{i * 7919 % 10007} ok"
                                             for i in range(10)])
            found, _ = self.query(n, '{job="tiny"} |= "no-such-needle-anywhere"')
            self.assertEqual(found, [])
            self.assertEqual(n.stop(), 0)


class LinelessCountsTest(unittest.TestCase):
    """count/bytes over a bare selector read no line bytes, yet stay exact: duplicated entries
    in overlapping chunks are still counted once."""

    def test_counts_without_lines_and_with_overlapping_chunks(self):
        with Norn(config="") as n:
            store_only_config(n, "  chunk_block_size: 2048\n")
            n.start()

            # Several entries per timestamp, different lines of equal length among them.
            lines = [(T0 + (i // 3) * 10**9, f"line {i:04d} " + "x" * (i % 17)) for i in range(900)]
            want_bytes = sum(len(l) for _, l in lines)
            # Two time-disjoint chunks.
            push_and_flush(self, n, "disjoint", lines[:450])
            push_and_flush(self, n, "disjoint", lines[450:])
            # Overlapping chunks: entries 300-599 are in both (a chunk only drops duplicates of
            # its own entries; identical chunks would collapse into one index entry).
            push_and_flush(self, n, "twice", lines[:600])
            push_and_flush(self, n, "twice", lines[300:])

            def instant(q):
                status, body, _ = n.get("/loki/api/v1/query?" + urllib.parse.urlencode(
                    {"query": q, "time": "2024-01-01T00:30:00Z"}))
                self.assertEqual(status, 200, body)
                data = json.loads(body)["data"]
                return (float(data["result"][0]["value"][1]),
                        data["stats"]["querier"]["store"])

            for job in ("disjoint", "twice"):
                count, store = instant(f'count_over_time({{job="{job}"}}[1h])')
                self.assertEqual(count, 900, job)
                self.assertEqual(store["totalChunksRef"], 2, job)
                size, _ = instant(f'bytes_over_time({{job="{job}"}}[1h])')
                self.assertEqual(size, want_bytes, job)
                # A line filter needs the bytes and still agrees.
                count, _ = instant(f'count_over_time({{job="{job}"}} |= "line" [1h])')
                self.assertEqual(count, 900, job)
            # Lines a selective filter rejects are dropped by the reader, yet count as processed
            # (Loki's summary counts every line the pipeline looked at).
            status, body, _ = n.get("/loki/api/v1/query?" + urllib.parse.urlencode(
                {"query": 'count_over_time({job="disjoint"} |= "line 00" [1h])',
                 "time": "2024-01-01T00:30:00Z"}))
            self.assertEqual(status, 200, body)
            data = json.loads(body)["data"]
            self.assertEqual(data["result"][0]["value"][1], "100")
            self.assertEqual(data["stats"]["summary"]["totalLinesProcessed"], 900)
            self.assertEqual(data["stats"]["summary"]["totalBytesProcessed"], want_bytes)
            # Disjoint chunks were counted from their entry columns alone; the overlapping ones
            # had their lines decompressed so the copies could be recognised (300 dropped).
            _, store = instant('count_over_time({job="disjoint"}[1h])')
            self.assertEqual(store["chunk"]["decompressedBytes"], 0)
            self.assertEqual(store["chunk"]["decompressedLines"], 900)
            _, store = instant('count_over_time({job="twice"}[1h])')
            self.assertEqual(store["chunk"]["decompressedBytes"],
                             want_bytes + sum(len(l) for _, l in lines[300:600]))
            self.assertEqual(store["chunk"]["totalDuplicates"], 300)
            self.assertEqual(n.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
