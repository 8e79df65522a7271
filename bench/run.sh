#!/usr/bin/env bash
# Benchmark POST /updates against a minimal-server ceiling, in one run.
# Usage: bench/run.sh [DEVICES]   (default 1000000). Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${1:-1000000}
DUR=${DUR:-15s}
CONN=${CONN:-64}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p updraft-server --bin updraft-server --example bench_seed --example bench_ceiling
T=target/release
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== seeding $DEVICES devices"
/usr/bin/time -f "seed: %e s, %M KB max RSS" $T/examples/bench_seed "sqlite://$work/updraft.db" "$DEVICES"

RUST_LOG=warn UPDRAFT_BOOTSTRAP_API_KEY=bench_admin_key_0123456789abcdef \
  $T/updraft-server serve --listen 127.0.0.1:8090 --data-dir "$work" >"$work/server.log" 2>&1 &
SERVER=$!
$T/examples/bench_ceiling 127.0.0.1:8091 &
CEIL=$!
sleep 2
curl -sf -XPOST 127.0.0.1:8090/updates -d "{\"app_id\":\"com.bench.app\",\"device_id\":\"00000000-0000-4000-8000-000000000001\",\"platform\":\"ios\",\"version_name\":\"builtin\",\"version_build\":\"1.0.0\",\"plugin_version\":\"8.51.14\"}"; echo

max_rps() { awk '/Requests\/sec/ {print int($2)}'; }
run() { # name port delay
  DELAY_MS=$3 DEVICES=$DEVICES wrk -t2 -c"$CONN" -d"$DUR" --latency -s bench/updates.lua "http://127.0.0.1:$2" >"$work/$1.txt"
  echo "--- $1"; grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors" "$work/$1.txt" || true
}
echo "== maximum rate (wrk -t2 -c$CONN -d$DUR)"
run ceiling-max 8091 0
run updraft-max 8090 0
C_MAX=$(max_rps <"$work/ceiling-max.txt"); U_MAX=$(max_rps <"$work/updraft-max.txt")
# Half load: each connection waits so the total rate is about half of updraft's maximum.
DELAY=$(( CONN * 1000 / (U_MAX / 2) ))
echo "== half load (per-connection delay ${DELAY} ms, target ~$((U_MAX / 2)) req/s)"
run updraft-half 8090 "$DELAY"
run ceiling-half 8091 "$DELAY"
RSS=$(awk '/VmHWM/ {print $2}' /proc/$SERVER/status)
echo "== summary"
echo "updraft max: $U_MAX req/s; ceiling max: $C_MAX req/s; ratio: $(awk "BEGIN {printf \"%.2f\", $U_MAX/$C_MAX}")"
echo "updraft server peak RSS: $((RSS / 1024)) MB"
# The server logs skipped last-seen rows sparsely (1, 2, 4, … then every 100,000): the last count
# logged is a lower bound.
SKIPPED=$(sed 's/\x1b\[[0-9;]*m//g' "$work/server.log" | grep -o 'skipped=[0-9]*' | tail -1 | cut -d= -f2)
echo "device rows skipped because the write queue was full: at least ${SKIPPED:-0}"
