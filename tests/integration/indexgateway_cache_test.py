"""The index gateway as its own process and the chunk caches, against the real binary.

IndexGatewayTest: process A (-target=all) pushes and flushes into a filesystem store, then
stops; process B (-target=index-gateway) serves that store's index over gRPC; process C
(-target=querier, own empty path_prefix, same store) is pointed at B with
storage_config.tsdb_shipper.index_gateway_client.server_address. C's ingester is empty and C
never opens an index file itself, so every answer about A's data comes through B. Stopping B
makes C's index reads fail with a 5xx.

ChunkCacheTest: a real memcached as chunk_store_config.chunk_cache_config, with
querier.query_store_only so every query reads chunks from the store: the second identical query
hits memcached (its own `stats` and Norn's loki_cache_* metrics agree), the cache survives a
Norn restart, and a dead memcached is a miss, not an error. The embedded cache of the
no-config-file defaults gives hits on repeated store queries too.

Exits 77 (skipped) without /usr/bin/memcached."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testutil"))
from norn import Norn, free_port  # noqa: E402
from push import json_push  # noqa: E402

MEMCACHED = "/usr/bin/memcached"
QUERY_TIMEOUT_S = 10  # C's limits_config.query_timeout

# Recent data (so no reject_old_samples concerns), whole seconds.
NOW_S = int(time.time())
T0 = (NOW_S - 1200) * 10**9
START = str((NOW_S - 3600) * 10**9)
END = str((NOW_S + 60) * 10**9)

STREAMS = 4
PER_STREAM = 50  # 200 lines in all


def lines_for(i):
    """The entries of stream i: (ts, line) with distinct, checkable text."""
    level = "error" if i % 2 else "info"
    return [(T0 + (j * STREAMS + i) * 10**9, f"gw stream=s{i} n={j} level={level}")
            for j in range(PER_STREAM)]


def all_streams():
    return [({"app": "gw", "stream": f"s{i}", "level": "error" if i % 2 else "info"},
             lines_for(i)) for i in range(STREAMS)]


def parse_metrics(text):
    """Prometheus text -> [(name, {labels}, value)]."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name, rest = line.split("{", 1)
            lbl_text, _, value = rest.rpartition("}")
            labels = {}
            for part in _split_labels(lbl_text):
                k, _, v = part.partition("=")
                labels[k.strip()] = v.strip().strip('"')
        else:
            name, _, value = line.partition(" ")
            labels = {}
        try:
            out.append((name.strip(), labels, float(value.split()[0])))
        except (ValueError, IndexError):
            pass
    return out


def _split_labels(s):
    parts, cur, quoted, esc = [], "", False, False
    for ch in s:
        if esc:
            cur += ch
            esc = False
        elif ch == "\\":
            cur += ch
            esc = True
        elif ch == '"':
            cur += ch
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def metric(n, metric_name, **labels):
    """Sum of every sample of `metric_name` whose labels include `labels`; None if none."""
    status, body, _ = n.get("/metrics")
    assert status == 200, body
    found = [v for (mn, ml, v) in parse_metrics(body.decode())
             if mn == metric_name and all(ml.get(k) == w for k, w in labels.items())]
    return sum(found) if found else None


def push_all(n):
    body = json_push(all_streams())
    status, text, _ = n.request("POST", "/loki/api/v1/push", body=body,
                                headers={"Content-Type": "application/json"})
    assert status == 204, (status, text)


def get_json(n, path, params, timeout=30):
    status, body, _ = n.get(path + "?" + urllib.parse.urlencode(params, doseq=True),
                            timeout=timeout)
    assert status == 200, (path, params, status, body)
    return json.loads(body)


def query_lines(n, query='{app="gw"}'):
    data = get_json(n, "/loki/api/v1/query_range", {
        "query": query, "start": START, "end": END, "limit": "1000",
        "direction": "forward"})["data"]
    assert data["resultType"] == "streams", data
    return sorted((int(ts), line) for s in data["result"] for ts, line in s["values"])


def expected_lines():
    return sorted(e for i in range(STREAMS) for e in lines_for(i))


def config(path_prefix, store, extra=""):
    return (f"auth_enabled: false\n"
            f"common:\n  path_prefix: {path_prefix}\n"
            f"storage_config:\n  filesystem:\n    directory: {store}\n" + extra)


class IndexGatewayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="norn-igw-")
        cls.store = os.path.join(cls.root, "store")
        procs = []
        try:
            a = Norn(config=config(f"{cls.root}/a", cls.store), workdir=_mk(cls.root, "wa"))
            procs.append(a)
            a.start()
            push_all(a)
            status, body, _ = a.request("POST", "/flush")
            assert status == 204, (status, body)
            assert a.stop() == 0, a.stderr()

            cls.b = Norn(config=config(f"{cls.root}/b", cls.store), workdir=_mk(cls.root, "wb"),
                         args=["-target=index-gateway"])
            procs.append(cls.b)
            cls.b.start()
            gw = ("  tsdb_shipper:\n    index_gateway_client:\n"
                  f"      server_address: 127.0.0.1:{cls.b.grpc_port}\n"
                  f"limits_config:\n  query_timeout: {QUERY_TIMEOUT_S}s\n")
            cls.c = Norn(config=config(f"{cls.root}/c", cls.store) + gw,
                         workdir=_mk(cls.root, "wc"), args=["-target=querier"])
            procs.append(cls.c)
            cls.c.start()
        except BaseException:
            for p in procs:
                p.__exit__(None, None, None)
            raise
        cls.procs = procs

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.__exit__(None, None, None)
        shutil.rmtree(cls.root, ignore_errors=True)

    def test_1_gateway_alone_is_ready(self):
        status, body, _ = self.b.get("/ready")
        self.assertEqual(status, 200, body)
        # Only the gateway (and its internal dependencies) runs in B: no push route.
        status, _, _ = self.b.request("POST", "/loki/api/v1/push", body=b"{}",
                                      headers={"Content-Type": "application/json"})
        self.assertEqual(status, 404)
        # The querier resolved its config key (not a silently ignored one).
        with open(self.c.config_path) as f:
            self.assertIn(f"server_address: 127.0.0.1:{self.b.grpc_port}", f.read())

    def test_2_metadata_through_gateway(self):
        c = self.c
        names = get_json(c, "/loki/api/v1/labels", {"start": START, "end": END})["data"]
        self.assertEqual(sorted(names), ["app", "level", "stream"])
        values = get_json(c, "/loki/api/v1/label/stream/values",
                          {"start": START, "end": END})["data"]
        self.assertEqual(values, [f"s{i}" for i in range(STREAMS)])
        values = get_json(c, "/loki/api/v1/label/stream/values",
                          {"start": START, "end": END, "query": '{level="error"}'})["data"]
        self.assertEqual(values, ["s1", "s3"])
        series = get_json(c, "/loki/api/v1/series",
                          {"match[]": '{app="gw"}', "start": START, "end": END})["data"]
        self.assertEqual(sorted(s["stream"] for s in series), [f"s{i}" for i in range(STREAMS)])
        stats = get_json(c, "/loki/api/v1/index/stats",
                         {"query": '{app="gw"}', "start": START, "end": END})
        self.assertEqual(stats["streams"], STREAMS, stats)
        self.assertEqual(stats["entries"], STREAMS * PER_STREAM, stats)
        self.assertEqual(stats["chunks"], STREAMS, stats)  # one flushed chunk per stream

    def test_2b_index_stats_bytes_are_line_bytes(self):
        # Loki's index keeps a chunk's size KB-rounded (round(line bytes / 1024) << 10); Norn's
        # keeps the exact sum of line bytes (docs/api.md), so /index/stats and volume are exact.
        stats = get_json(self.c, "/loki/api/v1/index/stats",
                         {"query": '{app="gw"}', "start": START, "end": END})
        raw = sum(sum(len(l) for _, l in lines_for(i)) for i in range(STREAMS))
        self.assertEqual(stats["bytes"], raw, stats)

    def test_3_queries_through_gateway(self):
        c = self.c
        self.assertEqual(query_lines(c), expected_lines())
        self.assertEqual(len(query_lines(c, '{app="gw", level="error"}')), 2 * PER_STREAM)
        data = get_json(c, "/loki/api/v1/query_range", {
            "query": 'sum by (stream) (count_over_time({app="gw"}[1h]))',
            "start": START, "end": END, "step": "60"})["data"]
        self.assertEqual(data["resultType"], "matrix")
        got = {s["metric"]["stream"]: max(int(v) for _, v in s["values"])
               for s in data["result"]}
        self.assertEqual(got, {f"s{i}": PER_STREAM for i in range(STREAMS)})

    def test_4_index_files_read_by_gateway_only(self):
        # Queries ran above (numbered tests run in order); run one more to be independent.
        query_lines(self.c)
        on_b = metric(self.b, "norn_index_gateway_files_downloaded_total")
        on_c = metric(self.c, "norn_index_gateway_files_downloaded_total")
        self.assertIsNotNone(on_b, "B does not expose norn_index_gateway_files_downloaded_total")
        self.assertGreater(on_b, 0)
        self.assertIn(on_c, (None, 0.0))
        # C has no index files of its own on disk either.
        self.assertEqual(_files_under(f"{self.root}/c/tsdb-shipper-cache"), [])

    def test_5_gateway_down_is_5xx(self):
        self.assertEqual(self.b.stop(), 0, self.b.stderr())
        # Two requests at once, both needing the index: a label query (no query timeout applies
        # to it) and a log query, which C's limits_config.query_timeout (QUERY_TIMEOUT_S) bounds.
        results = {}

        def run(key, path, params):
            t = time.monotonic()
            try:
                status, body, _ = self.c.get(path + "?" + urllib.parse.urlencode(params),
                                             timeout=90)
                results[key] = (status, body[:200], time.monotonic() - t)
            except OSError as e:
                results[key] = (None, repr(e), time.monotonic() - t)

        threads = [
            threading.Thread(target=run, args=("labels", "/loki/api/v1/labels",
                                               {"start": START, "end": END})),
            threading.Thread(target=run, args=("query_range", "/loki/api/v1/query_range",
                                               {"query": '{app="gw"}', "start": START,
                                                "end": END, "limit": "10"})),
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for key, (status, body, elapsed) in sorted(results.items()):
            sys.stderr.write(f"\n[gateway down] {key} -> {status} after {elapsed:.1f}s: "
                             f"{body!r}")
        sys.stderr.write("\n")
        self.assertIsNone(self.c.proc.poll(), "the querier died")
        status, body, elapsed = results["labels"]
        self.assertIsNotNone(status, f"labels: no answer after {elapsed:.1f}s: {body}")
        self.assertGreaterEqual(status, 500, body)
        self.assertLess(elapsed, 70, f"labels with the gateway down took {elapsed:.1f}s")
        status, body, elapsed = results["query_range"]
        self.assertIsNotNone(status, f"query_range: no answer after {elapsed:.1f}s: {body}")
        self.assertGreaterEqual(status, 500, body)
        self.assertLess(elapsed, QUERY_TIMEOUT_S + 5,
                        f"query_range with the gateway down took {elapsed:.1f}s, beyond "
                        f"limits_config.query_timeout={QUERY_TIMEOUT_S}s")


def _mk(root, name):
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    return d


def _files_under(d):
    out = []
    for dirpath, _, files in os.walk(d):
        out += [os.path.join(dirpath, f) for f in files]
    return out


class Memcached:
    """A real memcached on a free loopback port, stopped by its PID."""

    def __init__(self):
        self.port = free_port()
        args = [MEMCACHED, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "64"]
        if os.geteuid() == 0:
            args += ["-u", "root"]  # memcached refuses to run as root otherwise
        self.proc = subprocess.Popen(args,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                self.stats()
                return
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise
                time.sleep(0.05)

    def stats(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(b"stats\r\n")
            buf = b""
            while not buf.endswith(b"END\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("memcached closed the connection")
                buf += chunk
        out = {}
        for line in buf.decode().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "STAT":
                out[parts[1]] = parts[2]
        return {k: int(v) for k, v in out.items() if v.isdigit()}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def _mc(st):
    return {k: st[k] for k in ("cmd_get", "get_hits", "get_misses", "cmd_set", "curr_items")}


class ChunkCacheTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="norn-cache-")

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def test_memcached_chunk_cache(self):
        mc = Memcached()
        try:
            self._memcached(mc)
        finally:
            mc.stop()

    def _memcached(self, mc):
        cfg = config(f"{self.root}/data", f"{self.root}/store",
                     "chunk_store_config:\n  chunk_cache_config:\n    memcached_client:\n"
                     f"      addresses: 127.0.0.1:{mc.port}\n"
                     "querier:\n  query_store_only: true\n")
        work = _mk(self.root, "w")
        with Norn(config=cfg, workdir=work) as n:
            n.start()
            push_all(n)
            self.assertEqual(n.request("POST", "/flush")[0], 204)
            s0 = mc.stats()
            self.assertEqual(query_lines(n), expected_lines())
            s1 = mc.stats()
            # The first read of the flushed chunks: asked memcached, then stored them there.
            self.assertGreater(s1["cmd_get"], s0["cmd_get"], (s0, s1))
            self.assertGreater(s1["curr_items"], 0, s1)
            hits1 = metric(n, "loki_cache_hits", name="chunks") or 0
            fetched1 = metric(n, "loki_cache_fetched_keys", name="chunks") or 0
            self.assertGreater(fetched1, 0)

            self.assertEqual(query_lines(n), expected_lines())
            s2 = mc.stats()
            self.assertGreater(s2["get_hits"], s1["get_hits"], (s1, s2))
            self.assertGreaterEqual(s2["get_hits"] - s1["get_hits"], s1["curr_items"] // 2,
                                    (s1, s2))
            hits2 = metric(n, "loki_cache_hits", name="chunks")
            sys.stderr.write(f"\n[memcached] after flush {_mc(s0)}; query 1 {_mc(s1)}; "
                             f"query 2 {_mc(s2)}; loki_cache_hits {hits1} -> {hits2}\n")
            self.assertGreater(hits2, hits1)
            self.assertEqual(hits2 - hits1, s2["get_hits"] - s1["get_hits"])
            self.assertGreater(metric(n, "loki_cache_fetched_keys", name="chunks"), fetched1)
            self.assertEqual(n.stop(), 0, n.stderr())

        # A new process over the same store: memcached still has the chunks.
        with Norn(config=cfg, workdir=work) as n:
            n.start()
            s3 = mc.stats()
            self.assertEqual(query_lines(n), expected_lines())
            s4 = mc.stats()
            self.assertGreater(s4["get_hits"], s3["get_hits"], (s3, s4))
            self.assertGreater(metric(n, "loki_cache_hits", name="chunks"), 0)

            # memcached gone: every fetch is a miss, the answer is still right, and fast.
            mc.stop()
            t = time.monotonic()
            self.assertEqual(query_lines(n), expected_lines())
            elapsed = time.monotonic() - t
            self.assertLess(elapsed, 5, f"query with memcached down took {elapsed:.1f}s")
            failures = metric(n, "norn_memcache_client_failures_total", name="chunks")
            self.assertGreater(failures or 0, 0)
            self.assertEqual(n.stop(), 0, n.stderr())

    def test_no_chunk_cache_over_the_filesystem_by_default(self):
        # No config file: the single-binary defaults store chunks on the filesystem, whose
        # files the page cache keeps; no embedded chunk cache copies them (docs/caching.md).
        with Norn(workdir=_mk(self.root, "d"), args=["-querier.query-store-only=true"]) as n:
            n.start()
            push_all(n)
            self.assertEqual(n.request("POST", "/flush")[0], 204)
            self.assertEqual(query_lines(n), expected_lines())
            self.assertEqual(query_lines(n), expected_lines())
            self.assertIn(metric(n, "loki_cache_fetched_keys", name="chunks"), (None, 0))
            self.assertIn(metric(n, "loki_embeddedcache_entries", cache="chunks"), (None, 0))
            self.assertEqual(n.stop(), 0, n.stderr())

    def test_embedded_chunk_cache(self):
        # The single-binary defaults with the embedded chunk cache asked for by its flag.
        with Norn(workdir=_mk(self.root, "e"),
                  args=["-querier.query-store-only=true",
                        "-store.chunks-cache.embedded-cache.enabled=true"]) as n:
            n.start()
            push_all(n)
            self.assertEqual(n.request("POST", "/flush")[0], 204)
            self.assertEqual(query_lines(n), expected_lines())
            hits1 = metric(n, "loki_cache_hits", name="chunks") or 0
            fetched1 = metric(n, "loki_cache_fetched_keys", name="chunks")
            self.assertGreater(fetched1 or 0, 0, "no chunk cache fetches on a store query")
            self.assertGreater(metric(n, "loki_embeddedcache_entries", cache="chunks") or 0, 0)
            self.assertEqual(query_lines(n), expected_lines())
            hits2 = metric(n, "loki_cache_hits", name="chunks")
            fetched2 = metric(n, "loki_cache_fetched_keys", name="chunks")
            self.assertGreater(hits2, hits1)
            # Every chunk of the second query came from the cache.
            self.assertEqual(hits2 - hits1, fetched2 - fetched1)
            self.assertEqual(n.stop(), 0, n.stderr())


if __name__ == "__main__":
    if not os.path.exists(MEMCACHED):
        print(f"{MEMCACHED} not found; skipping", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
