"""End-to-end tests of Norn on S3 against moto_server (a local S3 + STS + IAM server): chunks and
index files reach the bucket on /flush, a fresh instance with an empty data dir answers from the
bucket only, nothing acknowledged is lost across an object-store outage, and web-identity (EKS
IRSA) credentials from STS sign the S3 requests. Loopback only. Exits 77 (skipped) without
moto_server or the aws CLI."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testutil"))
from norn import Norn, free_port  # noqa: E402
from push import json_push  # noqa: E402

BUCKET = "norn-test"
TENANT = "fake"  # auth_enabled: false
DAY_NS = 86400 * 10**9
# Recent enough for the default sample-age limits, old enough that every query window is past.
T0 = (int(time.time()) - 1200) * 10**9
AWS_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_PAGER": ""}


def moto_command():
    """argv prefix that runs moto's server, or None."""
    exe = shutil.which("moto_server")
    if exe:
        return [exe]
    try:
        import moto.server  # noqa: F401
        return [sys.executable, "-m", "moto.server"]
    except ImportError:
        return None


def aws_command():
    for c in ("/usr/bin/aws", shutil.which("aws")):
        if c and os.path.exists(c):
            return c
    return None


class Moto:
    """One moto_server process on 127.0.0.1:port, stopped by PID."""

    def __init__(self, port=None, workdir=None):
        self.port = port or free_port()
        self.workdir = workdir or tempfile.mkdtemp(prefix="norn-moto-")
        self.proc = None
        self.log_path = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=30):
        self.log_path = os.path.join(self.workdir, f"moto-{time.time_ns()}.log")
        log = open(self.log_path, "wb")
        env = dict(os.environ)
        env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
        self.proc = subprocess.Popen(moto_command() + ["-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"moto_server exited {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=2):
                    return self
            except urllib.error.HTTPError:
                return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"moto_server not up after {timeout}s:\n{self.log()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except (OSError, TypeError):
            return ""

    def http(self, method, path, body=None, headers=None):
        req = urllib.request.Request(self.endpoint + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def create_bucket(self, name=BUCKET):
        # moto without IAM auth takes an unsigned path-style CreateBucket.
        status, body = self.http("PUT", f"/{name}")
        assert status == 200, (status, body)

    def aws(self, *args, check=True):
        env = dict(os.environ)
        env.update(AWS_ENV)
        env["HOME"] = self.workdir
        p = subprocess.run([aws_command(), "--endpoint-url", self.endpoint] + list(args),
                           capture_output=True, env=env, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} -> {p.returncode}:\n"
                                 f"{p.stderr.decode(errors='replace')}")
        return p.stdout.decode(errors="replace")

    def list_keys(self, bucket=BUCKET):
        """`aws s3 ls --recursive`: {key: size}."""
        out = self.aws("s3", "ls", "--recursive", f"s3://{bucket}")
        keys = {}
        for line in out.splitlines():
            parts = line.split(None, 3)
            if len(parts) == 4:
                keys[parts[3]] = int(parts[2])
        return keys


def config(prefix, moto, static_keys=True, key="test", secret="test"):
    keys = (f"\n    access_key_id: {key}\n    secret_access_key: {secret}" if static_keys else "")
    # Short S3 backoff so a flush against a dead store fails in seconds, not minutes.
    return textwrap.dedent("""\
        auth_enabled: false
        common:
          path_prefix: {prefix}
        schema_config:
          configs:
          - from: 2020-10-24
            store: tsdb
            object_store: s3
            schema: v13
            index: {{prefix: index_, period: 24h}}
        limits_config:
          reject_old_samples: false
        storage_config:
          aws:
            endpoint: 127.0.0.1:{port}
            bucketnames: {bucket}
            region: us-east-1
            s3forcepathstyle: true
            insecure: true
            backoff_config: {{min_period: 50ms, max_period: 200ms, max_retries: 2}}""").format(
        prefix=prefix, port=moto.port, bucket=BUCKET) + keys + "\n"


def start_norn(moto, env=None, static_keys=True, **keys):
    n = Norn(config="", env=env)
    with open(n.config_path, "w") as f:
        f.write(config(os.path.join(n.workdir, "data"), moto, static_keys, **keys))
    return n.start()


def make_lines(tag, streams=3, per_stream=20, offset_ns=0):
    """{app: [(ts, line)]} with unique lines."""
    out = {}
    for s in range(streams):
        app = f"{tag}-app{s}"
        out[app] = [(T0 + offset_ns + j * 1_000_000 + s, f"{tag} {app} line {j} level=info")
                    for j in range(per_stream)]
    return out


def push(n, job, data):
    body = json_push([({"job": job, "app": app}, entries) for app, entries in data.items()])
    return n.request("POST", "/loki/api/v1/push", body=body,
                     headers={"Content-Type": "application/json"})[0]


def get_json(n, path, params):
    status, body, _ = n.get(path + "?" + urllib.parse.urlencode(params, doseq=True))
    assert status == 200, (path, params, status, body[:500])
    return json.loads(body)


WINDOW = {"start": str(T0 - 60 * 10**9), "end": str(T0 + 300 * 10**9)}


def query_lines(n, selector):
    """Every (app, ts, line) a forward query_range log query returns."""
    got = get_json(n, "/loki/api/v1/query_range",
                   dict(WINDOW, query=selector, limit="5000", direction="forward"))
    assert got["status"] == "success" and got["data"]["resultType"] == "streams", got
    return sorted((s["stream"].get("app"), int(ts), line)
                  for s in got["data"]["result"] for ts, line in s["values"])


def expected(*datas):
    return sorted((app, ts, line) for d in datas for app, es in d.items() for ts, line in es)


def metric(text, name):
    """Sum of a metric's samples in a Prometheus text exposition (None when absent)."""
    total = None
    for line in text.splitlines():
        if line.startswith(name) and (len(line) == len(name) or line[len(name)] in " {"):
            total = (total or 0) + float(line.rsplit(" ", 1)[1])
    return total


def metrics(n):
    status, body, _ = n.get("/metrics")
    assert status == 200
    return body.decode()


class S3RoundTripTest(unittest.TestCase):
    """Push, flush, the bucket's contents, and a second instance that only has the bucket."""

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto()
        cls.addClassCleanup(cls.moto.cleanup)
        cls.moto.start().create_bucket()
        cls.n = start_norn(cls.moto)
        cls.addClassCleanup(cls.n.__exit__, None, None, None)
        cls.data = make_lines("rt")
        assert push(cls.n, "s3e2e", cls.data) == 204
        status, body, _ = cls.n.request("POST", "/flush", timeout=120)
        assert status == 204, (status, body, cls.n.stderr()[-3000:])

    def test_query_after_flush_returns_every_line(self):
        self.assertEqual(query_lines(self.n, '{job="s3e2e"}'), expected(self.data))

    def test_bucket_holds_chunks_and_index(self):
        keys = self.moto.list_keys()
        chunks = [k for k in keys if k.startswith(f"{TENANT}/chunks/")]
        day = T0 // DAY_NS
        index = [k for k in keys if k.startswith(f"index/index_{day}/{TENANT}/")]
        # One chunk per stream (3 small streams), at least one index file for the day.
        self.assertEqual(len(chunks), len(self.data), keys)
        self.assertGreaterEqual(len(index), 1, keys)
        for k in chunks:
            self.assertRegex(k, r"^fake/chunks/[0-9a-f]+/[0-9a-f]+-[0-9a-f]+-[0-9a-f]+$")
            self.assertGreater(keys[k], 0)
        # Download one chunk with the aws CLI: a real object with bytes in it.
        dst = os.path.join(self.moto.workdir, "chunk.bin")
        self.moto.aws("s3", "cp", f"s3://{BUCKET}/{chunks[0]}", dst)
        self.assertGreater(os.path.getsize(dst), 0)
        self.assertEqual(os.path.getsize(dst), keys[chunks[0]])

    def test_fresh_instance_answers_from_s3_only(self):
        with start_norn(self.moto) as fresh:
            # A new path_prefix: no WAL, no index cache; only the bucket holds the data.
            self.assertNotEqual(fresh.workdir, self.n.workdir)
            self.assertEqual(query_lines(fresh, '{job="s3e2e"}'), expected(self.data))
            self.assertEqual(query_lines(fresh, '{app="rt-app1"} |= "line 7 "'),
                             [("rt-app1", T0 + 7_000_000 + 1, "rt rt-app1 line 7 level=info")])

            labels = get_json(fresh, "/loki/api/v1/labels", WINDOW)
            self.assertEqual(labels["status"], "success")
            self.assertTrue({"app", "job"} <= set(labels["data"]), labels)
            values = get_json(fresh, "/loki/api/v1/label/app/values", WINDOW)
            self.assertEqual(sorted(values["data"]), sorted(self.data), values)

            series = get_json(fresh, "/loki/api/v1/series",
                              dict(WINDOW, **{"match[]": '{job="s3e2e"}'}))
            self.assertEqual(sorted(series["data"], key=lambda s: s["app"]),
                             [{"app": a, "job": "s3e2e"} for a in sorted(self.data)])

            # Metric query: every step's 1h window covers all 20 lines of each stream.
            start = T0 + 60 * 10**9
            got = get_json(fresh, "/loki/api/v1/query_range", {
                "query": 'sum by (app) (count_over_time({job="s3e2e"}[1h]))',
                "start": str(start), "end": str(start + 120 * 10**9), "step": "60"})
            self.assertEqual(got["data"]["resultType"], "matrix", got)
            by_app = {r["metric"]["app"]: [v for _, v in r["values"]]
                      for r in got["data"]["result"]}
            self.assertEqual(by_app, {a: ["20", "20", "20"] for a in self.data})

            # Nothing came from a local ingester: the fresh instance holds no streams in memory.
            m = metrics(fresh)
            self.assertIn(metric(m, "loki_ingester_memory_streams"), (None, 0.0))

            # No cache is configured, so (as in Loki) an embedded chunk cache is: a query
            # asked before reads nothing from the bucket again.
            self.assertEqual(query_lines(fresh, '{app="rt-app2"}'), expected(
                {"rt-app2": self.data["rt-app2"]}))
            again = get_json(fresh, "/loki/api/v1/query_range",
                             dict(WINDOW, query='{app="rt-app2"}', limit="5000",
                                  direction="forward"))
            st = again["data"]["stats"]
            self.assertEqual(st["querier"]["store"]["totalChunksDownloaded"], 0, st)
            self.assertEqual(st["querier"]["store"]["chunk"]["compressedBytes"], 0, st)
            self.assertGreater(st["cache"]["chunk"]["entriesFound"], 0, st)
            self.assertGreater(metric(metrics(fresh), "loki_cache_hits"), 0)


class S3OutageTest(unittest.TestCase):
    """The store goes away between pushes and comes back empty; every acknowledged line is
    flushed once it is back and a fresh instance reads them all."""

    def test_no_loss_across_store_outage(self):
        moto = Moto()
        self.addCleanup(moto.cleanup)
        moto.start().create_bucket()
        with start_norn(moto) as n:
            self._run(moto, n)

    def _run(self, moto, n):
        before = make_lines("pre", streams=2)
        self.assertEqual(push(n, "outage", before), 204)

        moto.stop()  # store down; nothing of `before` has been flushed yet
        during = make_lines("during", streams=2, offset_ns=10 * 10**9)
        # The WAL acknowledges pushes while the store is down.
        self.assertEqual(push(n, "outage", during), 204)
        # Also into a stream that already has an unflushed chunk.
        extra = {"pre-app0": [(T0 + 20 * 10**9, "pre pre-app0 appended during outage")]}
        self.assertEqual(push(n, "outage", extra), 204)

        failures0 = metric(metrics(n), "loki_ingester_chunks_flush_failures_total") or 0
        t = time.time()
        status, body, _ = n.request("POST", "/flush", timeout=120)
        flush_secs = time.time() - t
        print(f"\n  flush with the store down: {status} after {flush_secs:.1f}s", file=sys.stderr)
        self.assertEqual(status, 500, f"flush with the store down answered {status}: {body!r}")
        self.assertIn(b"flush failed", body)
        m = metrics(n)
        self.assertGreater(metric(m, "loki_ingester_chunks_flush_failures_total") or 0, failures0)
        # The reachability probe runs every 15 s; it must notice the outage within ~20 s.
        deadline = time.time() + 20
        while metric(m, "norn_object_store_reachable") != 0 and time.time() < deadline:
            time.sleep(0.5)
            m = metrics(n)
        self.assertEqual(metric(m, "norn_object_store_reachable"), 0.0,
                         "norn_object_store_reachable did not drop to 0")
        # (Queries fail with 503 meanwhile: the querier lists the store's index too, as Loki's.)

        # The store comes back on the same port, empty (moto keeps everything in memory).
        moto.start()
        moto.create_bucket()
        status, body, _ = n.request("POST", "/flush", timeout=120)
        self.assertEqual(status, 204, (status, body, n.stderr()[-3000:]))
        keys = moto.list_keys()
        self.assertTrue(any(k.startswith(f"{TENANT}/chunks/") for k in keys), keys)
        self.assertTrue(any(k.startswith(f"index/index_{T0 // DAY_NS}/{TENANT}/") for k in keys),
                        keys)
        self.assertEqual(n.stop(), 0)

        with start_norn(moto) as fresh:
            self.assertEqual(query_lines(fresh, '{job="outage"}'), expected(before, during, extra),
                             f"lines lost across the outage (first flush took {flush_secs:.1f}s)")


class S3WebIdentityTest(unittest.TestCase):
    """No static keys: credentials come from STS AssumeRoleWithWebIdentity (EKS IRSA). moto's
    IAM authentication is on while Norn writes, so S3 only accepts PUT/HEAD requests signed with
    the STS-issued session credentials (and session token) of a role allowed to use the bucket.

    moto's signature check rejects any request whose query string holds a '/' (ListObjectsV2
    with prefix=index/..., even when the aws CLI itself signs it), so authentication goes off
    again before Norn lists objects to answer a query."""

    ROLE = "arn:aws:iam::123456789012:role/norn"

    def test_irsa_credentials_sign_s3_requests(self):
        moto = Moto()
        self.addCleanup(moto.cleanup)
        self._run(moto.start())

    def set_auth(self, moto, free_actions):
        status, body = moto.http("POST", "/moto-api/reset-auth", body=free_actions,
                                 headers={"Content-Type": "text/plain"})
        self.assertEqual(status, 200, body)

    def _run(self, moto):
        moto.create_bucket()
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/x"},
            "Action": "sts:AssumeRoleWithWebIdentity"}]})
        allow = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
        moto.aws("iam", "create-role", "--role-name", "norn",
                 "--assume-role-policy-document", trust)
        moto.aws("iam", "put-role-policy", "--role-name", "norn", "--policy-name", "s3",
                 "--policy-document", allow)

        token = os.path.join(moto.workdir, "token")
        with open(token, "w") as f:
            f.write("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bG9raTpub3JuIn0."
                    "c2lnbmF0dXJl")
        env = {"AWS_ROLE_ARN": self.ROLE, "AWS_WEB_IDENTITY_TOKEN_FILE": token,
               "AWS_ENDPOINT_URL_STS": moto.endpoint, "AWS_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true", "AWS_ROLE_SESSION_NAME": "norn-e2e",
               # No other credential source may answer.
               "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
               "AWS_SESSION_TOKEN": None, "AWS_ACCESS_KEY": None, "AWS_SECRET_KEY": None,
               "AWS_PROFILE": None,
               "AWS_SHARED_CREDENTIALS_FILE": os.path.join(moto.workdir, "none"),
               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
               "AWS_CONTAINER_CREDENTIALS_FULL_URI": None, "HOME": moto.workdir}

        # One unauthenticated action left: Norn's unsigned AssumeRoleWithWebIdentity, made before
        # its first S3 request (the start-up reachability HEAD). Everything after is checked.
        log_before = len(moto.log())
        self.set_auth(moto, b"1")
        try:
            with start_norn(moto, env=env, static_keys=False) as n:
                self.assertEqual(metric(metrics(n), "norn_object_store_reachable"), 1.0)
                data = make_lines("irsa", streams=2, per_stream=5)
                self.assertEqual(push(n, "irsa", data), 204)
                status, body, _ = n.request("POST", "/flush", timeout=120)
                self.assertEqual(status, 204, (status, body, n.stderr()[-3000:]))
                # Not vacuous: a PUT signed with other keys is refused right now.
                src = os.path.join(moto.workdir, "probe.txt")
                with open(src, "w") as f:
                    f.write("x")
                out = subprocess.run(
                    [aws_command(), "--endpoint-url", moto.endpoint, "s3", "cp", src,
                     f"s3://{BUCKET}/probe.txt"], capture_output=True,
                    env=dict(os.environ, HOME=moto.workdir, **AWS_ENV), timeout=60)
                self.assertNotEqual(out.returncode, 0, out)
                self.assertIn(b"InvalidAccessKeyId", out.stderr)

                self.set_auth(moto, b"inf")
                self.assertEqual(query_lines(n, '{job="irsa"}'), expected(data))
                self.assertEqual(n.stop(), 0)
        finally:
            self.set_auth(moto, b"inf")

        # Norn's AssumeRoleWithWebIdentity (the only POST / after IAM setup).
        self.assertRegex(moto.log()[log_before:], r'"POST / HTTP/1\.1" 200')
        keys = moto.list_keys()
        self.assertEqual(len([k for k in keys if k.startswith(f"{TENANT}/chunks/")]), 2, keys)
        self.assertTrue(any(k.startswith(f"index/index_{T0 // DAY_NS}/{TENANT}/") for k in keys),
                        keys)
        self.assertNotIn("probe.txt", keys)


def main():
    if moto_command() is None:
        print("SKIP: moto_server not found (pip install 'moto[server]')", file=sys.stderr)
        return 77
    if aws_command() is None:
        print("SKIP: the aws CLI is not installed", file=sys.stderr)
        return 77
    prog = unittest.main(exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
