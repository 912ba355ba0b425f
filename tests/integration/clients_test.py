"""Real Loki clients from npm push to Norn unchanged: winston-loki (protobuf + snappy) and
pino-loki (JSON). Skipped (exit 77, reported as skipped by ctest) when Node.js or the npm
packages are not installed; `make deps` installs them into tests/clients/node_modules."""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testutil"))
from norn import Norn  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIENTS = os.path.join(REPO, "tests", "clients")
TOOL = os.environ.get("NORN_TOOL") or os.path.join(REPO, "build", "norn-tool")
SKIP = 77


def main():
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(CLIENTS, "node_modules", "winston-loki")) or \
            not os.path.isdir(os.path.join(CLIENTS, "node_modules", "pino-loki")):
        print("SKIPPED: node or the npm client packages are missing (run make deps)")
        return SKIP
    with Norn(config="") as n:
        with open(n.config_path, "w") as f:
            f.write(f"auth_enabled: false\ncommon:\n  path_prefix: {n.workdir}/data\n")
        n.start()
        for script, count in (("winston_push.js", 25), ("pino_push.js", 25)):
            p = subprocess.run([node, os.path.join(CLIENTS, script), n.url, str(count)],
                               cwd=CLIENTS, capture_output=True, timeout=60)
            assert p.returncode == 0, f"{script}: {p.stdout} {p.stderr}"
        status, _, _ = n.request("POST", "/flush")
        assert status == 204
        out = subprocess.run([TOOL, "dump", os.path.join(n.workdir, "data", "chunks")],
                             capture_output=True, check=True).stdout.decode()
        entries = [json.loads(l) for l in out.splitlines()]
        winston = [e for e in entries if 'app="winston-client"' in e["stream"]]
        pino = [e for e in entries if 'app="pino-client"' in e["stream"]]
        assert len(winston) == 25, f"winston-loki: {len(winston)} of 25 lines stored"
        assert len(pino) == 25, f"pino-loki: {len(pino)} of 25 lines stored"
        assert all(e["line"].startswith("winston line ") for e in winston)
        assert all('"msg":"pino line ' in e["line"] for e in pino)
        assert n.stop() == 0
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
