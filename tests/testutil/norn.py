"""Helpers for tests that run the real `norn` binary: free ports, a temporary working directory,
start/stop by PID, HTTP calls. Standard library only."""

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def norn_binary():
    path = os.environ.get("NORN_BIN") or os.path.join(REPO, "build", "norn")
    if not os.path.exists(path):
        raise SystemExit(f"norn binary not found at {path}; build first or set NORN_BIN")
    return path


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Norn:
    """One norn process. Use as a context manager; the process is killed on exit if still up."""

    def __init__(self, args=(), config=None, env=None, workdir=None, http_port=None,
                 grpc_port=None, add_ports=True):
        self.workdir = workdir or tempfile.mkdtemp(prefix="norn-test-")
        self._own_workdir = workdir is None
        self.http_port = http_port or free_port()
        self.grpc_port = grpc_port or free_port()
        self.args = [norn_binary()]
        if config is not None:
            cfg_path = os.path.join(self.workdir, "config.yaml")
            with open(cfg_path, "w") as f:
                f.write(config)
            self.config_path = cfg_path
            self.args.append(f"-config.file={cfg_path}")
        if add_ports:
            self.args += [f"-server.http-listen-port={self.http_port}",
                          f"-server.grpc-listen-port={self.grpc_port}",
                          "-server.http-listen-address=127.0.0.1",
                          "-server.grpc-listen-address=127.0.0.1"]
        self.args += list(args)
        self.env = dict(os.environ)
        # A value of None removes the variable from the child's environment.
        for k, v in (env or {}).items():
            if v is None:
                self.env.pop(k, None)
            else:
                self.env[k] = v
        self.proc = None
        self.stderr_path = os.path.join(self.workdir, "stderr.log")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, wait_ready=True, timeout=30):
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.args, cwd=self.workdir, env=self.env,
                                     stdout=subprocess.PIPE, stderr=self._stderr)
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"norn exited with {self.proc.returncode}:\n{self.stderr()}")
            try:
                status, body, _ = self.request("GET", "/ready", timeout=2)
                if status == 200:
                    return
                last = (status, body)
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise AssertionError(f"norn not ready after {timeout}s: {last}\n{self.stderr()}")

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def request(self, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, data, dict(resp.getheaders())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait(self, timeout=60):
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_files()
        return self.proc.returncode if self.proc else None

    def _close_files(self):
        if getattr(self, "_stderr", None):
            self._stderr.close()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_files()
        if self._own_workdir and not exc[0]:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return False


def run_norn(args, cwd=None, timeout=30, env=None):
    """Runs norn to completion (for flag/config errors) and returns (code, stdout, stderr)."""
    p = subprocess.run([norn_binary()] + list(args), cwd=cwd or tempfile.gettempdir(),
                       capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
