#!/usr/bin/env bash
# Runs the libFuzzer targets (built by `make test-fuzz`) for a short time each, seeded with the
# conformance queries (parser) and a few templates (template engine). Fails on any crash, hang
# (-timeout), or memory blow-up (-rss_limit_mb); the crashing input is kept in the work dir.
set -euo pipefail
build="$(cd "${1:?build dir}" && pwd)"
seconds="${2:-30}"
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/norn-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/parser" "$work/template"
# Parser seeds: every query of the conformance cases.
python3 - "$here/tests/conformance/cases" "$work/parser" <<'PY'
import json, os, sys
src, dst = sys.argv[1], sys.argv[2]
n = 0
for name in sorted(os.listdir(src)):
    if not name.endswith(".json"):
        continue
    with open(os.path.join(src, name)) as f:
        case = json.load(f)
    q = case.get("params", {}).get("query")
    if q:
        with open(os.path.join(dst, f"seed{n}"), "w") as out:
            out.write(q)
        n += 1
print(f"fuzz: {n} parser seeds")
PY
cp "$here"/tests/fuzz/template-seeds/* "$work/template/"

# A fixed seed and a fixed number of runs (about `seconds` on CI's machines; max_total_time
# caps slower ones) make a run reproducible: the same commit explores the same inputs.
run() {
  local bin="$1" corpus="$2" runs="$3"
  echo "fuzz: $(basename "$bin"), $runs runs (at most ${seconds}s)"
  (cd "$work" && "$bin" -seed=1 -runs="$runs" -max_total_time="$seconds" -max_len=512 \
     -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" \
     2>"$work/$(basename "$bin").log") || {
    tail -40 "$work/$(basename "$bin").log" >&2
    cp -r "$work" "${TMPDIR:-/tmp}/norn-fuzz-failure" 2>/dev/null || true
    echo "fuzz: $(basename "$bin") FAILED (inputs kept in ${TMPDIR:-/tmp}/norn-fuzz-failure)" >&2
    return 1
  }
  grep -E "stat::number_of_executed_units|Done" "$work/$(basename "$bin").log" | tail -2
}
run "$build/src/logql/syntax/logql_parser_fuzz" parser $((seconds * 10000))
run "$build/src/logql/template/logql_template_fuzz" template $((seconds * 15000))
