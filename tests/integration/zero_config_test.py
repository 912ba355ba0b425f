"""`norn` with no flags and no config file: single-binary mode on :3100 (HTTP) and :9095 (gRPC)
with data under ./data. Uses the fixed default ports, so ctest runs it alone (RESOURCE_LOCK)."""

import os
import shutil
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testutil"))
from norn import Norn  # noqa: E402


def port_busy(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class ZeroConfigTest(unittest.TestCase):
    def test_defaults(self):
        if port_busy(3100) or port_busy(9095):
            self.fail("ports 3100/9095 are taken by another process; cannot test the defaults")
        tmp = tempfile.mkdtemp(prefix="norn-zero-")
        with Norn(workdir=tmp, http_port=3100, grpc_port=9095, add_ports=False) as n:
            n.start()
            status, body, _ = n.get("/config")
            self.assertEqual(status, 200)
            text = body.decode()
            self.assertIn("auth_enabled: false", text)
            self.assertIn("path_prefix: data", text)
            self.assertIn("store: inmemory", text)
            self.assertTrue(port_busy(9095), "gRPC port 9095 not listening")
            self.assertEqual(n.stop(), 0)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
