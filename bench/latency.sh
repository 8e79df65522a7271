#!/usr/bin/env bash
# `POST /updates` latency at a fixed request rate (open loop), Updraft against
# the bare-hyper ceiling at the same rate. wrk's per-connection delay (run.sh)
# is a closed loop: a slow reply delays the next request, which hides queueing
# (coordinated omission). oha sends at RATE whatever the replies do and, with
# --latency-correction, counts each request from when it should have been
# sent. Bodies are the real 8.x plugin request of LINES random devices among
# the DEVICES seeded, one per line (oha -Z). Prints p50 / p99 / p99.9, the rate
# reached and the server's CPU per request, for each target in interleaved
# rounds. Knobs: RATE (20000), DUR (10s), ROUNDS (2), CONN (64), DEVICES
# (1000000), LINES (200000), BIN (target/release/updraft-server).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-20000}
DUR=${DUR:-10s}
ROUNDS=${ROUNDS:-2}
CONN=${CONN:-64}
DEVICES=${DEVICES:-1000000}
LINES=${LINES:-200000}
BIN=${BIN:-target/release/updraft-server}
command -v oha >/dev/null || cargo install oha --locked --version 1.16.0
cargo build --release -q -p updraft-server --bin updraft-server --example bench_seed --example bench_ceiling
T=target/release
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/data"
$T/examples/bench_seed "sqlite://$work/data/updraft.db" "$DEVICES" >/dev/null
python3 - "$work/bodies.txt" "$LINES" "$DEVICES" <<'PY'
import random, sys
path, lines, devices = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as f:
    for _ in range(lines):
        i = random.randrange(devices)
        platform = ("android", "ios")[i % 2]
        f.write(
            '{"app_id":"com.bench.app","device_id":"00000000-0000-4000-8000-%012d","platform":"%s",'
            '"version_name":"builtin","version_build":"1.0.0","version_code":"1","version_os":"14",'
            '"plugin_version":"8.51.14","is_emulator":false,"is_prod":true,"custom_id":"","defaultChannel":""}\n'
            % (i, platform)
        )
PY
$T/examples/bench_ceiling 127.0.0.1:8091 & pids+=($!)
RUST_LOG=warn "$BIN" serve --listen 127.0.0.1:8092 --data-dir "$work/data" >"$work/server.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do curl -sf 127.0.0.1:8092/health >/dev/null && break; sleep 0.1; done
names=(ceiling updraft)
TCK=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' /proc/"$1"/stat; }
for r in $(seq "$ROUNDS"); do
  for k in 0 1; do
    c0=$(cpu "${pids[$k]}")
    oha -z "$DUR" -q "$RATE" --latency-correction -c "$CONN" --no-tui --output-format json \
      -m POST -H "content-type: application/json" -Z "$work/bodies.txt" \
      "http://127.0.0.1:$((8091 + k))/updates" >"$work/oha.json"
    c1=$(cpu "${pids[$k]}")
    python3 - "$work/oha.json" "${names[$k]}" "$r" "$((c1 - c0))" "$TCK" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
name, rnd, ticks, tck = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
s, p = d["summary"], d["latencyPercentiles"]
codes = d.get("statusCodeDistribution", {})
n = sum(codes.values())
ok = sum(v for k, v in codes.items() if k.startswith("2"))
ms = lambda q: p[q] * 1000
print(f"round {rnd} {name:8}: {s['requestsPerSec']:9.0f} req/s  p50 {ms('p50'):6.2f} ms  p99 {ms('p99'):6.2f} ms  "
      f"p99.9 {ms('p99.9'):6.2f} ms  {ticks / tck * 1e6 / max(n, 1):5.1f} us CPU/req  {ok}/{n} 2xx")
PY
  done
done
echo "peak RSS: updraft $(awk '/VmHWM/ {print int($2 / 1024)}' /proc/"${pids[1]}"/status) MB"
