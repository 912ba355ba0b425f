"""Norn on s3rver (a Node.js fake S3; it knows the access key S3RVER, and checks the key id but
not the SigV4 signature itself):
push, /flush, the bucket's objects, and a fresh instance with an empty data dir answering from
the bucket only. A second S3 implementation besides moto (s3rver's own XML, listing and
on-disk layout). Loopback
only. s3rver comes from $S3RVER_BIN or tests/clients/node_modules/.bin/s3rver; exits 77
(skipped) without it."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "testutil"))
sys.path.insert(0, HERE)
from norn import free_port  # noqa: E402
from s3_e2e_test import (BUCKET, DAY_NS, T0, TENANT, expected, get_json, make_lines,  # noqa: E402
                         push, query_lines, start_norn, WINDOW)

REPO = os.path.dirname(os.path.dirname(HERE))
KEY = "S3RVER"  # s3rver's built-in access key id and secret


def s3rver_binary():
    for c in (os.environ.get("S3RVER_BIN"),
              os.path.join(REPO, "tests", "clients", "node_modules", ".bin", "s3rver")):
        if c and os.path.exists(c):
            return c
    return None


class S3rver:
    def __init__(self):
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="norn-s3rver-")
        os.makedirs(os.path.join(self.workdir, "data"))
        self.log_path = os.path.join(self.workdir, "s3rver.log")
        self.proc = None

    def start(self, timeout=30):
        log = open(self.log_path, "wb")
        # --configure-bucket creates the bucket at start-up; no vhost: path style only.
        self.proc = subprocess.Popen(
            [s3rver_binary(), "-d", os.path.join(self.workdir, "data"), "-a", "127.0.0.1",
             "-p", str(self.port), "--no-vhost-buckets", "--configure-bucket", BUCKET],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"s3rver exited {self.proc.returncode}:\n{self.log()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2).close()
                return self
            except urllib.error.HTTPError:
                return self  # answers (403 without a signature)
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"s3rver not up after {timeout}s:\n{self.log()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def keys(self):
        """{key: size} of the bucket's objects, from s3rver's on-disk layout."""
        root = os.path.join(self.workdir, "data", BUCKET)
        out = {}
        for d, _, files in os.walk(root):
            for f in files:
                if f.endswith("._S3rver_object"):
                    path = os.path.join(d, f)
                    out[os.path.relpath(path, root)[:-len("._S3rver_object")]] = \
                        os.path.getsize(path)
        return out


class S3rverTest(unittest.TestCase):
    def test_round_trip(self):
        store = S3rver().start()
        try:
            with start_norn(store, key=KEY, secret=KEY) as n:
                data = make_lines("s3rver")
                self.assertEqual(push(n, "s3rver", data), 204)
                status, body, _ = n.request("POST", "/flush", timeout=120)
                self.assertEqual(status, 204, (status, body, n.stderr()[-3000:]))
                self.assertEqual(n.stop(), 0)
            keys = store.keys()
            chunks = [k for k in keys if k.startswith(f"{TENANT}/chunks/")]
            self.assertEqual(len(chunks), len(data), keys)
            self.assertTrue(all(keys[k] > 0 for k in chunks), keys)
            self.assertTrue(any(k.startswith(f"index/index_{T0 // DAY_NS}/{TENANT}/")
                                for k in keys), keys)
            with start_norn(store, key=KEY, secret=KEY) as fresh:
                self.assertEqual(query_lines(fresh, '{job="s3rver"}'), expected(data))
                values = get_json(fresh, "/loki/api/v1/label/app/values", WINDOW)
                self.assertEqual(sorted(values["data"]), sorted(data))
            # An unknown key id is refused and the flush reports it (s3rver 3.7 does not verify
            # SigV4 signatures, only the key id).
            with start_norn(store, key="UNKNOWN", secret=KEY) as bad:
                self.assertEqual(push(bad, "s3rver", make_lines("bad", streams=1)), 204)
                status, body, _ = bad.request("POST", "/flush", timeout=120)
                self.assertEqual(status, 500, body)
                self.assertIn(b"InvalidAccessKeyId", body)
        finally:
            store.stop()


def main():
    if s3rver_binary() is None:
        print("SKIP: s3rver not found (npm install s3rver in tests/clients, or set S3RVER_BIN)",
              file=sys.stderr)
        return 77
    prog = unittest.main(exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
