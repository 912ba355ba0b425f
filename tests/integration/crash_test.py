"""Crash test: push continuously from several connections counting acknowledgements, kill -9
the server at random moments several times (with flushes and checkpoints happening meanwhile),
restart it each time, then flush and prove that every acknowledged line is in the store exactly
once (read back with norn-tool, as the querier will read it)."""

import collections
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import unittest
import http.client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testutil"))
from norn import Norn, free_port  # noqa: E402
from push import encode_push_request, snappy_literal  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.environ.get("NORN_TOOL") or os.path.join(REPO, "build", "norn-tool")
T0 = 1704067200 * 10**9
ROUNDS = int(os.environ.get("NORN_CRASH_ROUNDS", "5"))
WRITERS = 4


class CrashTest(unittest.TestCase):
    def test_no_acknowledged_line_is_lost(self):
        rng = random.Random(int(os.environ.get("NORN_CRASH_SEED", "7")))
        workdir = None
        http_port, grpc_port = free_port(), free_port()
        acked = collections.defaultdict(list)  # stream -> [(ts, line)]
        next_seq = [0] * WRITERS
        for round_no in range(ROUNDS):
            n = Norn(http_port=http_port, grpc_port=grpc_port, workdir=workdir, config="")
            workdir = n.workdir
            with open(n.config_path, "w") as f:
                f.write(textwrap.dedent(f"""\
                    auth_enabled: false
                    common:
                      path_prefix: {workdir}/data
                    ingester:
                      chunk_idle_period: 1s
                      flush_check_period: 500ms
                      chunk_block_size: 4096
                      chunk_target_size: 16384
                      wal:
                        checkpoint_duration: 1s
                    limits_config:
                      reject_old_samples: false
                    """))
            n.start(timeout=60)
            stop = threading.Event()

            def writer(w):
                conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
                stream = f'{{job="crash", writer="{w}"}}'
                while not stop.is_set():
                    batch = []
                    for _ in range(rng.randint(1, 40)):
                        seq = next_seq[w]
                        next_seq[w] += 1
                        batch.append((T0 + seq * 1000 + w, f"w{w} line {seq} " + "x" * (seq % 97)))
                    body = snappy_literal(encode_push_request([(stream, batch)]))
                    try:
                        conn.request("POST", "/loki/api/v1/push", body=body,
                                     headers={"Content-Type": "application/x-protobuf"})
                        resp = conn.getresponse()
                        resp.read()
                    except (OSError, http.client.HTTPException):
                        return  # Server gone: this batch is not acknowledged.
                    if resp.status == 204:
                        acked[stream].extend(batch)
                    elif resp.status != 204:
                        raise AssertionError(f"push failed: {resp.status}")

            threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.5, 2.5))
            n.proc.send_signal(signal.SIGKILL)
            n.proc.wait()
            stop.set()
            for t in threads:
                t.join()
            n._stderr.close()

        # Final start: replay, flush everything, stop cleanly.
        n = Norn(http_port=http_port, grpc_port=grpc_port, workdir=workdir, config="")
        with open(n.config_path, "w") as f:
            f.write(f"auth_enabled: false\ncommon:\n  path_prefix: {workdir}/data\n"
                    "limits_config:\n  reject_old_samples: false\n")
        n.start(timeout=60)
        self.assertEqual(n.request("POST", "/flush")[0], 204)
        self.assertEqual(n.stop(), 0, n.stderr())

        out = subprocess.run([TOOL, "dump", os.path.join(workdir, "data", "chunks")],
                             capture_output=True, check=True).stdout.decode()
        stored = collections.Counter()
        for line in out.splitlines():
            e = json.loads(line)
            stored[(e["stream"], int(e["ts"]), e["line"])] += 1
        total = sum(len(v) for v in acked.values())
        self.assertGreater(total, 100, "too few acknowledged lines to mean anything")
        missing = [(s, ts, l) for s, entries in acked.items() for ts, l in entries
                   if stored[(s, ts, l)] == 0]
        self.assertEqual(missing[:5], [], f"{len(missing)} of {total} acknowledged lines lost")
        dupes = [k for k, c in stored.items() if c > 1]
        self.assertEqual(dupes, [])
        print(f"{ROUNDS} crashes, {total} acknowledged lines, all present once", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
