"""Integration tests for the foundation: the real `norn` binary, its flags, config errors,
admin endpoints, limits, keep-alive concurrency and graceful shutdown."""

import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testutil"))
from norn import Norn, free_port, run_norn  # noqa: E402


class CommandLineTest(unittest.TestCase):
    def test_version(self):
        code, out, _ = run_norn(["-version"])
        self.assertEqual(code, 0)
        self.assertRegex(out, r"^norn, version \d+\.\d+\.\d+ \(branch: .+, revision: .+\)")

    def test_help_lists_flags(self):
        code, out, _ = run_norn(["-help"])
        self.assertEqual(code, 0)
        for flag in ("-config.file", "-target", "-server.http-listen-port", "-log.level"):
            self.assertIn(flag, out)

    def test_unknown_flag(self):
        code, _, err = run_norn(["-no.such-flag=1"])
        self.assertNotEqual(code, 0)
        self.assertIn("no.such-flag", err)

    def test_unknown_target_lists_valid_ones(self):
        with Norn(args=["-target=ingestor"]) as n:
            n.start(wait_ready=False)
            code = n.wait(30)
            self.assertNotEqual(code, 0)
            err = n.stderr()
            self.assertIn("unrecognised module name: ingestor", err)
            self.assertIn("distributor", err)
            self.assertIn("query-frontend", err)

    def test_not_implemented_target_is_a_startup_error(self):
        with Norn(args=["-target=ruler"]) as n:
            n.start(wait_ready=False)
            self.assertNotEqual(n.wait(30), 0)
            self.assertIn("not implemented yet", n.stderr())


class BadConfigTest(unittest.TestCase):
    def run_with(self, yaml_text, extra=()):
        with Norn(config=yaml_text, args=list(extra)) as n:
            n.start(wait_ready=False)
            code = n.wait(30)
            return code, n.stderr()

    def test_unknown_key_named_with_line(self):
        code, err = self.run_with(textwrap.dedent("""\
            auth_enabled: false
            server:
              http_listen_port: 3100
              no_such_key: 1
            """))
        self.assertNotEqual(code, 0)
        self.assertIn("server.no_such_key", err)
        self.assertIn(":4:", err)

    def test_wrong_type_named(self):
        code, err = self.run_with("server:\n  http_listen_port: abc\n")
        self.assertNotEqual(code, 0)
        self.assertIn("server.http_listen_port", err)
        self.assertIn(":2:", err)

    def test_invalid_value(self):
        code, err = self.run_with("server:\n  log_level: loud\n")
        self.assertNotEqual(code, 0)
        self.assertIn("log_level", err)

    def test_missing_file(self):
        code, _, err = run_norn(["-config.file=/nonexistent/norn.yaml"])
        self.assertNotEqual(code, 0)
        self.assertIn("/nonexistent/norn.yaml", err)


class RunningServerTest(unittest.TestCase):
    """One server for the read-only endpoint checks."""

    @classmethod
    def setUpClass(cls):
        cfg = textwrap.dedent("""\
            auth_enabled: false
            server:
              http_server_max_request_body_bytes: 4096
            common:
              path_prefix: ${NORN_TEST_PREFIX:-unset}
            storage_config:
              aws:
                access_key_id: AKIAEXAMPLE
                secret_access_key: super-secret-value
            """)
        cls.tmp = tempfile.mkdtemp(prefix="norn-it-")
        cls.norn = Norn(config=cfg, args=["-config.expand-env=true"],
                        env={"NORN_TEST_PREFIX": os.path.join(cls.tmp, "data")})
        cls.norn.start()

    @classmethod
    def tearDownClass(cls):
        code = cls.norn.stop()
        cls.norn.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, f"norn exited {code}"

    def test_ready(self):
        status, body, _ = self.norn.get("/ready")
        self.assertEqual((status, body), (200, b"ready\n"))

    def test_metrics_pass_promtool(self):
        # Make a request first so the request histograms have samples.
        self.norn.get("/ready")
        status, body, headers = self.norn.get("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        text = body.decode()
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_open_fds", "process_start_time_seconds", "loki_build_info",
                     "loki_request_duration_seconds_bucket", "loki_inflight_requests"):
            self.assertIn(name, text)
        self.assertIn('route="ready"', text)
        promtool = shutil.which("promtool")
        if not promtool:
            self.skipTest("promtool not installed")
        p = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())

    def test_config_endpoint_expands_env_and_masks_secrets(self):
        status, body, _ = self.norn.get("/config")
        self.assertEqual(status, 200)
        text = body.decode()
        self.assertIn(os.path.join(self.tmp, "data"), text)
        self.assertNotIn("super-secret-value", text)
        self.assertIn("********", text)
        self.assertIn(f"http_listen_port: {self.norn.http_port}", text)

    def test_config_modes(self):
        _, diff, _ = self.norn.get("/config?mode=diff")
        diff = diff.decode()
        self.assertIn("auth_enabled: false", diff)
        self.assertNotIn("grpc_server_max_concurrent_streams", diff)
        _, defaults, _ = self.norn.get("/config?mode=defaults")
        self.assertIn("http_listen_port: 3100", defaults.decode())
        self.assertIn("auth_enabled: true", defaults.decode())
        status, _, _ = self.norn.get("/config?mode=bogus")
        self.assertEqual(status, 400)

    def test_services(self):
        status, body, _ = self.norn.get("/services")
        self.assertEqual(status, 200)
        text = body.decode()
        self.assertIn("server => Running", text)
        self.assertIn("runtime-config => Running", text)
        self.assertIn("ruler => Not implemented", text)

    def test_buildinfo_shape(self):
        status, body, headers = self.norn.get("/loki/api/v1/status/buildinfo")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("application/json"))
        info = json.loads(body)
        self.assertEqual(set(info), {"version", "revision", "branch", "buildUser", "buildDate",
                                     "goVersion"})

    def test_log_level(self):
        status, body, _ = self.norn.get("/log_level")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"message": "Current log level is info"})
        status, body, _ = self.norn.request(
            "POST", "/log_level", body="log_level=debug",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((status, json.loads(body)), (200, {"message": "Log level set to debug"}))
        # At debug, requests are logged.
        self.norn.get("/ready")
        time.sleep(0.2)
        self.assertIn('msg=request method=GET uri=/ready status=200', self.norn.stderr())
        status, _, _ = self.norn.request("POST", "/log_level?log_level=info")
        self.assertEqual(status, 200)
        status, body, _ = self.norn.request("POST", "/log_level?log_level=chatty")
        self.assertEqual(status, 400)

    def test_not_found_and_method_not_allowed(self):
        status, body, _ = self.norn.get("/no/such/path")
        self.assertEqual((status, body), (404, b"404 page not found\n"))
        status, _, headers = self.norn.request("DELETE", "/ready")
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("Allow"), "GET")

    def test_oversize_body_gets_413(self):
        status, body, _ = self.norn.request("POST", "/log_level", body=b"x" * 5000)
        self.assertEqual(status, 413)
        self.assertIn(b"http_server_max_request_body_bytes", body)
        # The server is fine afterwards.
        self.assertEqual(self.norn.get("/ready")[0], 200)

    def test_malformed_request_gets_400(self):
        with socket.create_connection(("127.0.0.1", self.norn.http_port), timeout=5) as s:
            s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            data = s.recv(1024)
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data)

    def test_200_concurrent_keepalive_connections(self):
        conns = 200
        per_conn = 5
        barrier = threading.Barrier(conns)

        def client(_):
            c = http.client.HTTPConnection("127.0.0.1", self.norn.http_port, timeout=30)
            c.connect()
            barrier.wait()  # all 200 connections open at once
            ok = 0
            for _ in range(per_conn):
                c.request("GET", "/ready")
                r = c.getresponse()
                r.read()
                ok += r.status == 200
            c.close()
            return ok

        with concurrent.futures.ThreadPoolExecutor(max_workers=conns) as pool:
            results = list(pool.map(client, range(conns)))
        self.assertEqual(sum(results), conns * per_conn)


class FlagsOverrideConfigTest(unittest.TestCase):
    def test_flag_beats_file(self):
        file_port = free_port()
        cfg = f"auth_enabled: false\nserver:\n  http_listen_port: {file_port}\n  log_level: warn\n"
        with Norn(config=cfg, args=["-log.level=debug", "-log.format=json"]) as n:
            n.start()
            self.assertEqual(n.get("/ready")[0], 200)  # on the flag's port, not file_port
            _, body, _ = n.get("/config")
            self.assertIn(f"http_listen_port: {n.http_port}", body.decode())
            self.assertIn("log_level: debug", body.decode())
            self.assertEqual(n.stop(), 0)
            lines = [l for l in n.stderr().splitlines() if l.strip()]
            self.assertTrue(lines)
            for line in lines:
                rec = json.loads(line)  # every line is JSON
                self.assertIn("level", rec)
                self.assertIn("caller", rec)


class RuntimeConfigTest(unittest.TestCase):
    def test_overrides_reload(self):
        tmp = tempfile.mkdtemp(prefix="norn-rt-")
        rt = os.path.join(tmp, "runtime.yaml")
        with open(rt, "w") as f:
            f.write("overrides:\n  tenant-a:\n    max_line_size: 1KB\n")
        cfg = (f"auth_enabled: false\nruntime_config:\n  file: {rt}\n  period: 200ms\n")
        with Norn(config=cfg) as n:
            n.start()
            status, body, _ = n.get("/runtime_config")
            self.assertEqual(status, 200)
            self.assertIn("tenant-a", body.decode())
            with open(rt, "w") as f:
                f.write("overrides:\n  tenant-b:\n    max_line_size: 2KB\n")
            deadline = time.time() + 10
            while time.time() < deadline:
                body = n.get("/runtime_config")[1].decode()
                if "tenant-b" in body:
                    break
                time.sleep(0.1)
            self.assertIn("tenant-b", body)
            self.assertNotIn("tenant-a", body)
            # A broken file keeps the last good overrides.
            with open(rt, "w") as f:
                f.write("overrides:\n  tenant-c:\n    no_such_limit: 1\n")
            time.sleep(1.0)
            body = n.get("/runtime_config")[1].decode()
            self.assertIn("tenant-b", body)
            self.assertIn("no_such_limit", n.stderr())
            self.assertEqual(n.stop(), 0)
        shutil.rmtree(tmp, ignore_errors=True)

    def test_invalid_runtime_config_fails_start(self):
        tmp = tempfile.mkdtemp(prefix="norn-rt-")
        rt = os.path.join(tmp, "runtime.yaml")
        with open(rt, "w") as f:
            f.write("overrides:\n  t:\n    bogus_limit: 3\n")
        with Norn(config=f"auth_enabled: false\nruntime_config:\n  file: {rt}\n") as n:
            n.start(wait_ready=False)
            self.assertNotEqual(n.wait(30), 0)
            self.assertIn("bogus_limit", n.stderr())
        shutil.rmtree(tmp, ignore_errors=True)


class GracefulShutdownTest(unittest.TestCase):
    def test_sigterm_lets_slow_request_finish(self):
        cfg = "auth_enabled: false\nserver:\n  graceful_shutdown_timeout: 10s\n"
        with Norn(config=cfg) as n:
            n.start()
            body = b"log_level=info"
            s = socket.create_connection(("127.0.0.1", n.http_port), timeout=15)
            s.sendall(b"POST /log_level HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            s.sendall(body[:3])  # the request is in flight: headers sent, body trickling
            time.sleep(0.3)
            t0 = time.time()
            n.signal(signal.SIGTERM)
            time.sleep(0.5)
            # Still not ready for new traffic, but our request goes on.
            s.sendall(body[3:])
            data = b""
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            s.close()
            self.assertTrue(data.startswith(b"HTTP/1.1 200"), data)
            self.assertIn(b"Log level set to info", data)
            code = n.wait(15)
            self.assertEqual(code, 0, n.stderr())
            self.assertLess(time.time() - t0, 10)

    def test_sigterm_idle_server_exits_quickly(self):
        with Norn() as n:
            n.start()
            t0 = time.time()
            n.signal(signal.SIGINT)
            self.assertEqual(n.wait(15), 0)
            self.assertLess(time.time() - t0, 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
