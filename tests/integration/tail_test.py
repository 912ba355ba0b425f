"""Live tail (/loki/api/v1/tail and /api/prom/tail) against the real binary, with a minimal
standard-library WebSocket client: backlog then live entries in order, the query pipeline,
tenant isolation, Loki's 400s, the per-tenant tailer limit and slow readers that must never
slow pushes down."""

import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testutil"))
from norn import Norn  # noqa: E402
from push import json_push  # noqa: E402

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HandshakeError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body!r}")
        self.status = status
        self.body = body


class WsClient:
    """RFC 6455 client: handshake, masked client frames, unmasked server frames, ping/pong,
    fragmentation and the closing handshake."""

    def __init__(self, port, path, headers=None, timeout=10, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise HandshakeError(0, self.buf)
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode().split("\r\n")
        status = int(status_line.split()[1])
        hdrs = {}
        for h in header_lines:
            k, _, v = h.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if status != 101:
            length = int(hdrs.get("content-length", "0"))
            while len(self.buf) < length:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
            self.sock.close()
            raise HandshakeError(status, self.buf[:length].decode(errors="replace"))
        want = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        assert hdrs.get("sec-websocket-accept") == want, hdrs
        self.close_code = None
        self.close_reason = None
        self.closed = False

    def _read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_frame(self):
        b0, b1 = self._read_exact(2)
        fin, opcode = b0 & 0x80, b0 & 0x0F
        assert not b1 & 0x80, "server frames must not be masked"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_exact(8))[0]
        return bool(fin), opcode, self._read_exact(n)

    def send_frame(self, opcode, payload=b""):
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def recv(self, timeout=10):
        """Next text message (str), or None once the server closed the connection."""
        if self.closed:
            return None
        self.sock.settimeout(timeout)
        message = b""
        while True:
            try:
                fin, opcode, payload = self._read_frame()
            except ConnectionError:
                self.closed = True
                self.sock.close()
                return None
            if opcode == 0x9:  # ping
                self.send_frame(0xA, payload)
                continue
            if opcode == 0xA:  # pong
                continue
            if opcode == 0x8:  # close: answer it and stop
                if len(payload) >= 2:
                    self.close_code = struct.unpack("!H", payload[:2])[0]
                    self.close_reason = payload[2:].decode(errors="replace")
                try:
                    self.send_frame(0x8, payload[:2])
                except OSError:
                    pass
                self.closed = True
                self.sock.close()
                return None
            message += payload
            if fin:
                return message.decode()

    def recv_json(self, timeout=10):
        m = self.recv(timeout)
        return None if m is None else json.loads(m)

    def close(self, code=1000):
        if self.closed:
            return
        try:
            self.send_frame(0x8, struct.pack("!H", code))
            deadline = time.time() + 5
            while not self.closed and time.time() < deadline:
                self.recv(timeout=5)
        except OSError:
            pass
        self.closed = True
        self.sock.close()


def entries_of(frame):
    """[(labels dict, ts, line)] of a v1 frame, in frame order."""
    out = []
    for s in frame.get("streams", []):
        for ts, line in s["values"]:
            out.append((s["stream"], int(ts), line))
    return out


class TailTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.n = Norn(config="")
        with open(cls.n.config_path, "w") as f:
            f.write(f"auth_enabled: true\ncommon:\n  path_prefix: {cls.n.workdir}/data\n"
                    "limits_config:\n  reject_old_samples: false\n"
                    "  max_entries_limit_per_query: 150\n"
                    "  max_concurrent_tail_requests: 3\n")
        cls.n.start()

    @classmethod
    def tearDownClass(cls):
        assert cls.n.stop() == 0, cls.n.stderr()
        cls.n.__exit__(None, None, None)

    def push(self, tenant, labels, entries):
        t0 = time.time()
        status, text, _ = self.n.request("POST", "/loki/api/v1/push",
                                         body=json_push([(labels, entries)]),
                                         headers={"Content-Type": "application/json",
                                                  "X-Scope-OrgID": tenant})
        self.assertEqual(status, 204, text)
        return time.time() - t0

    def tail(self, tenant, params, path="/loki/api/v1/tail", **kw):
        headers = {"X-Scope-OrgID": tenant} if tenant else {}
        return WsClient(self.n.http_port, path + "?" + urllib.parse.urlencode(params),
                        headers=headers, **kw)

    def collect(self, ws, count, timeout=10):
        got = []
        deadline = time.time() + timeout
        while len(got) < count and time.time() < deadline:
            try:
                frame = ws.recv_json(timeout=max(0.1, deadline - time.time()))
            except socket.timeout:
                break
            if frame is None:
                break
            got += entries_of(frame)
        return got

    def test_backlog_then_live_in_order(self):
        now = time.time_ns()
        self.push("a", {"job": "order"},
                  [(now - (10 - i) * 10**9, f"old {i}") for i in range(5)])
        ws = self.tail("a", {"query": '{job="order"}', "limit": "3",
                             "start": str(now - 60 * 10**9)})
        try:
            backlog = self.collect(ws, 3)
            self.assertEqual([e[2] for e in backlog], ["old 2", "old 3", "old 4"])
            self.assertEqual(backlog[0][0], {"job": "order"})
            live_ts = time.time_ns()
            self.push("a", {"job": "order"}, [(live_ts + i, f"live {i}") for i in range(3)])
            self.push("a", {"job": "other"}, [(live_ts, "not tailed")])
            live = self.collect(ws, 3)
            self.assertEqual([e[2] for e in live], ["live 0", "live 1", "live 2"])
            self.assertEqual([e[1] for e in live], [live_ts, live_ts + 1, live_ts + 2])
            # Nothing else arrives (the other stream is not tailed).
            self.push("a", {"job": "order"}, [(time.time_ns(), "marker")])
            self.assertEqual([e[2] for e in self.collect(ws, 1)], ["marker"])
        finally:
            ws.close()

    def test_pipeline_applies(self):
        ws = self.tail("a", {"query": '{job="pipe"} |= "msg" | logfmt | level="error" '
                                      '| line_format "{{.msg}}!"',
                             "start": str(time.time_ns())})
        try:
            ts = time.time_ns()
            self.push("a", {"job": "pipe"}, [(ts, "level=info msg=one"),
                                             (ts + 1, "level=error msg=two"),
                                             (ts + 2, "no match here"),
                                             (ts + 3, "level=error msg=three")])
            got = self.collect(ws, 2)
            self.assertEqual([e[2] for e in got], ["two!", "three!"])
            self.assertEqual(got[0][0], {"job": "pipe", "level": "error", "msg": "two"})
        finally:
            ws.close()

    def test_legacy_endpoint_format(self):
        ws = self.tail("a", {"query": '{job="legacy"}', "start": str(time.time_ns())},
                       path="/api/prom/tail")
        try:
            self.push("a", {"job": "legacy"}, [(time.time_ns(), "now")])
            frame = ws.recv_json()
            self.assertIsNotNone(frame)
            self.assertIn("dropped_entries", frame)
            self.assertIsNone(frame["dropped_entries"])
            s = frame["streams"][0]
            self.assertEqual(s["labels"], '{job="legacy"}')
            self.assertEqual(s["entries"][0]["line"], "now")
            self.assertRegex(s["entries"][0]["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        finally:
            ws.close()

    def test_tenant_isolation(self):
        ws_b = self.tail("b", {"query": '{job="iso"}', "start": str(time.time_ns())})
        try:
            self.push("a", {"job": "iso"}, [(time.time_ns(), "tenant a line")])
            self.push("b", {"job": "iso"}, [(time.time_ns(), "tenant b line")])
            got = self.collect(ws_b, 1)
            self.assertEqual([e[2] for e in got], ["tenant b line"])
            got = self.collect(ws_b, 1, timeout=1)
            self.assertEqual(got, [])
        finally:
            ws_b.close()
        with self.assertRaises(HandshakeError) as cm:
            self.tail(None, {"query": '{job="iso"}'})
        self.assertEqual(cm.exception.status, 401)

    def test_bad_requests_are_400(self):
        cases = [
            ({"query": '{job="x"}', "delay_for": "6"}, "delay_for can't be greater than 5"),
            ({"query": 'count_over_time({job="x"}[1m])'}, ""),
            ({"query": '{job="x"}', "limit": "151"},
             "max entries limit per query exceeded, limit > max_entries_limit (151 > 150)"),
            ({"query": '{job="x"}', "limit": "0"}, "limit must be a positive value"),
            ({"query": '{job="x'}, ""),
        ]
        for params, text in cases:
            with self.subTest(params=params):
                with self.assertRaises(HandshakeError) as cm:
                    self.tail("a", params)
                self.assertEqual(cm.exception.status, 400)
                self.assertIn(text, cm.exception.body)
        # delay_for 5 is fine.
        self.tail("a", {"query": '{job="x"}', "delay_for": "5"}).close()

    def test_delay_for_holds_entries(self):
        ws = self.tail("a", {"query": '{job="delay"}', "delay_for": "2",
                             "start": str(time.time_ns())})
        try:
            t0 = time.time()
            self.push("a", {"job": "delay"}, [(time.time_ns(), "late")])
            got = self.collect(ws, 1, timeout=10)
            self.assertEqual([e[2] for e in got], ["late"])
            self.assertGreaterEqual(time.time() - t0, 1.5)
        finally:
            ws.close()

    def test_concurrent_tailer_limit(self):
        open_ = [self.tail("c", {"query": '{job="lim"}'}) for _ in range(3)]
        try:
            with self.assertRaises(HandshakeError) as cm:
                self.tail("c", {"query": '{job="lim"}'})
            self.assertEqual(cm.exception.status, 400)
            self.assertIn("max concurrent tail requests limit exceeded, count > limit (4 > 3)",
                          cm.exception.body)
            # Another tenant is not affected.
            self.tail("d", {"query": '{job="lim"}'}).close()
            # Closing one frees its slot.
            open_.pop().close()
            deadline = time.time() + 5
            while True:
                try:
                    open_.append(self.tail("c", {"query": '{job="lim"}'}))
                    break
                except HandshakeError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.1)
        finally:
            for ws in open_:
                ws.close()

    def big_burst(self, tenant, job, pushes=40, per_push=100, size=1024):
        """Pushes pushes*per_push lines; returns the slowest push in seconds."""
        slowest = 0
        pad = "x" * size
        for p in range(pushes):
            ts = time.time_ns()
            slowest = max(slowest, self.push(tenant, {"job": job},
                                             [(ts + i, f"{p}-{i} {pad}") for i in range(per_push)]))
        return slowest

    def test_paused_reader_gets_dropped_entries(self):
        ws = self.tail("e", {"query": '{job="slow"}', "start": str(time.time_ns())},
                       rcvbuf=4096)
        try:
            slowest = self.big_burst("e", "slow")
            self.assertLess(slowest, 2.0, "a paused tail reader slowed pushes down")
            # Resume reading: drain; the next frame that gets through carries the report (more
            # entries are pushed whenever the reader has caught up).
            received, dropped = 0, []
            deadline = time.time() + 20
            while time.time() < deadline and not dropped:
                try:
                    frame = ws.recv_json(timeout=1)
                except socket.timeout:
                    self.push("e", {"job": "slow"}, [(time.time_ns(), "after the pause")])
                    continue
                if frame is None:
                    break
                received += len(entries_of(frame))
                dropped += frame.get("dropped_entries", [])
            self.assertTrue(dropped, f"no dropped_entries after {received} entries")
            d = dropped[0]
            self.assertEqual(d["labels"], {"job": "slow"})
            self.assertTrue(d["timestamp"].isdigit())
            self.assertLess(received, 40 * 100)
        finally:
            ws.close()

    def test_reader_that_never_reads_is_disconnected(self):
        ws = self.tail("f", {"query": '{job="stuck"}', "start": str(time.time_ns())},
                       rcvbuf=4096)
        t0 = time.time()
        slowest = self.big_burst("f", "stuck")
        self.assertLess(slowest, 2.0, "a stuck tail reader slowed pushes down")
        # The server gives up on the client after its write timeout (10 s); reading now drains
        # what the kernel buffered and then meets the end of the connection.
        time.sleep(max(0, 12 - (time.time() - t0)))
        slowest = max(slowest, self.big_burst("f", "stuck", pushes=5))
        self.assertLess(slowest, 2.0)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if ws.recv(timeout=5) is None:
                    break
            except socket.timeout:
                self.fail("the stuck tail connection is still open")
        self.assertTrue(ws.closed)
        # The tenant's slot is free again and tails work.
        ws2 = self.tail("f", {"query": '{job="stuck"}', "start": str(time.time_ns())})
        try:
            self.push("f", {"job": "stuck"}, [(time.time_ns(), "fresh")])
            self.assertEqual([e[2] for e in self.collect(ws2, 1)], ["fresh"])
        finally:
            ws2.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
