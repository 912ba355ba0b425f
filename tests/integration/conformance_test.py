"""Conformance through the HTTP API: the recorded answers of Grafana Loki v2.7.7 (the cases in
tests/conformance/cases) must come back from a freshly started build/norn, first while the data
is in the ingester, then after POST /flush and a restart (data read from the store only).

This is the project's own runner (comparison rules of tests/conformance/README.md): status by
class; streams as sets keyed by label set with entries in order; matrix/vector/scalar keyed by
labels with exact timestamps and values within 1e-9 (NaN equals NaN); label/series lists as
sets; index stats by shape. Prints `N passed, M failed` per phase and exits non-zero on any
failure."""

import json
import math
import os
import sys
import shutil
import tempfile
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testutil"))
from norn import Norn, free_port  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONF = os.path.join(REPO, "tests", "conformance")
sys.path.insert(0, CONF)
import gen_dataset  # noqa: E402


def load_cases():
    d = os.path.join(CONF, "cases")
    cases = []
    for name in sorted(os.listdir(d)):
        if name.endswith(".json"):
            with open(os.path.join(d, name)) as f:
                cases.append(json.load(f))
    return cases


def push_dataset(n):
    batch, count = [], 0
    for s in gen_dataset.streams():
        for i in range(0, len(s["values"]), 1500):
            batch.append({"stream": s["stream"], "values": s["values"][i:i + 1500]})
            count += len(s["values"][i:i + 1500])
            if count >= 1500:
                send(n, batch)
                batch, count = [], 0
    if batch:
        send(n, batch)


def send(n, batch):
    body = json.dumps({"streams": batch}, ensure_ascii=False).encode()
    status, text, _ = n.request("POST", "/loki/api/v1/push", body=body,
                                headers={"Content-Type": "application/json"})
    assert status == 204, (status, text[:300])


def do_request(n, case):
    method = case.get("method") or ("POST" if case["endpoint"].endswith("/push") else "GET")
    params = case.get("params") or {}
    pairs = []
    for k, v in params.items():
        for item in (v if isinstance(v, list) else [v]):
            pairs.append((k, item))
    path = case["endpoint"] + ("?" + urllib.parse.urlencode(pairs) if pairs else "")
    headers = dict(case.get("headers") or {})
    body = None
    if "body_raw" in case:
        body = case["body_raw"].encode()
    elif "body" in case:
        body = json.dumps(case["body"], ensure_ascii=False).encode()
    if body is not None and not any(h.lower() == "content-type" for h in headers):
        headers["Content-Type"] = "application/json"
    status, data, _ = n.request(method, path, body=body, headers=headers)
    return status, data.decode(errors="replace")


def same_float(a, b):
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= max(1e-12, 1e-9 * max(abs(a), abs(b)))


def key(labels):
    return tuple(sorted((labels or {}).items()))


def compare_query(want, got):
    if want.get("resultType") != got.get("resultType"):
        return f"resultType {got.get('resultType')} != {want.get('resultType')}"
    rt = want["resultType"]
    if rt == "scalar":
        w, g = want["result"], got["result"]
        return None if w[0] == g[0] and same_float(w[1], g[1]) else f"scalar {g} != {w}"
    field = "stream" if rt == "streams" else "metric"
    wmap = {key(r.get(field)): r for r in want["result"] or []}
    gmap = {key(r.get(field)): r for r in got["result"] or []}
    if set(wmap) != set(gmap):
        return f"label sets differ: missing {sorted(set(wmap) - set(gmap))[:3]}, " \
               f"extra {sorted(set(gmap) - set(wmap))[:3]}"
    for k, w in wmap.items():
        g = gmap[k]
        if rt == "streams":
            if w["values"] != g["values"]:
                return f"entries of {dict(k)} differ"
        elif rt == "matrix":
            if len(w["values"]) != len(g["values"]):
                return f"{len(g['values'])} points != {len(w['values'])} for {dict(k)}"
            for (wt, wv), (gt, gv) in zip(w["values"], g["values"]):
                if wt != gt or not same_float(wv, gv):
                    return f"point ({gt}, {gv}) != ({wt}, {wv}) for {dict(k)}"
        else:
            (wt, wv), (gt, gv) = w["value"], g["value"]
            if wt != gt or not same_float(wv, gv):
                return f"sample ({gt}, {gv}) != ({wt}, {wv}) for {dict(k)}"
    return None


def check(case, status, text):
    want_status = case["expected_status"]
    if status // 100 != want_status // 100:
        client_error_as_500 = want_status == 500 and status // 100 in (4, 5)
        if not client_error_as_500:
            return f"HTTP {status}, want {want_status}: {text[:200]}"
    if want_status // 100 != 2 or case["endpoint"].endswith("/push"):
        return None
    body = json.loads(text)
    want = case.get("expected")
    if case.get("compare") == "shape":
        ok = all(isinstance(body.get(f), (int, float)) for f in ("streams", "chunks", "entries",
                                                                  "bytes"))
        return None if ok else f"shape: {body}"
    ep = case["endpoint"]
    if ep.endswith("/query") or ep.endswith("/query_range"):
        return compare_query(want, body["data"])
    got = body.get("data") or []
    if ep.endswith("/series"):
        return None if sorted(map(key, got)) == sorted(map(key, want or [])) else \
            f"series differ: {len(got)} vs {len(want or [])}"
    return None if sorted(set(got)) == sorted(set(want or [])) else f"{got} != {want}"


def run_cases(n, cases, phase):
    passed, failed = 0, 0
    for case in cases:
        if phase == "store" and case["endpoint"].endswith("/push"):
            continue  # Push cases never add data; run them once.
        status, text = do_request(n, case)
        problem = check(case, status, text)
        if problem:
            failed += 1
            print(f"FAIL [{phase}] {case['name']}: {problem}")
        else:
            passed += 1
    print(f"{phase}: {passed} passed, {failed} failed")
    return passed, failed


def main():
    cases = load_cases()
    http_port, grpc_port = free_port(), free_port()
    workdir = tempfile.mkdtemp(prefix="norn-conformance-")
    n = Norn(http_port=http_port, grpc_port=grpc_port, config="", workdir=workdir)
    with open(os.path.join(CONF, "server-config.yaml")) as f:
        base = f.read()
    with open(n.config_path, "w") as f:
        f.write(base + f"\ncommon:\n  path_prefix: {workdir}/data\n")
    total_pass = total_fail = 0
    with n:
        n.start()
        push_dataset(n)
        p, f = run_cases(n, cases, "memory")
        total_pass += p
        total_fail += f
        status, _, _ = n.request("POST", "/flush")
        assert status == 204
        assert n.stop() == 0, n.stderr()
    m = Norn(http_port=http_port, grpc_port=grpc_port, workdir=workdir)
    m.args = [a for a in n.args]
    with m:
        m.start()
        p, f = run_cases(m, cases, "store")
        total_pass += p
        total_fail += f
        assert m.stop() == 0
    if total_fail == 0:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{total_pass} passed, {total_fail} failed")
    return 1 if total_fail else 0


if __name__ == "__main__":
    sys.exit(main())
