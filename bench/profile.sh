#!/usr/bin/env bash
# Where `POST /updates` spends the server's CPU: seeds DEVICES devices, drives
# the release server at its maximum rate with wrk (bench/updates.lua) and
# samples it with `perf record -e cpu-clock` (a software clock: works where
# hardware counters are not exposed). Prints the share of samples per thread
# kind (HTTP workers, the SQLite writer's worker, ...) and the top symbols of
# each, plus the peak RSS. Knobs: DEVICES (1000000), DUR (12), CONN (64),
# SEEN_RECENTLY=1 (steady state: rows already as the requests carry them),
# BIN (target/release/updraft-server), TOP (25).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-1000000}
DUR=${DUR:-12}
CONN=${CONN:-64}
TOP=${TOP:-25}
BIN=${BIN:-target/release/updraft-server}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf; }
cargo build --release -q -p updraft-server --bin updraft-server --example bench_seed
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/data"
BENCH_SEEN_RECENTLY=${SEEN_RECENTLY:-} target/release/examples/bench_seed \
  "sqlite://$work/data/updraft.db" "$DEVICES" >/dev/null
RUST_LOG=warn "$BIN" serve --listen 127.0.0.1:8093 --data-dir "$work/data" >"$work/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sf 127.0.0.1:8093/health >/dev/null && break; sleep 0.1; done
perf record -q -e cpu-clock -F "${FREQ:-1999}" ${PERF_ARGS:-} -p "$SERVER" -o "$work/perf.data" -- sleep "$((DUR + 1))" \
  >/dev/null 2>&1 &
PERF=$!
DEVICES=$DEVICES wrk -t2 -c"$CONN" -d"${DUR}s" -s bench/updates.lua http://127.0.0.1:8093 |
  grep -E "Requests/sec|Non-2xx" || true
wait "$PERF" || true
echo "peak RSS: $(awk '/VmHWM/ {print int($2 / 1024)}' /proc/$SERVER/status) MB"
echo "== samples per thread"
perf report -i "$work/perf.data" --stdio --sort comm 2>/dev/null | grep -E '^ +[0-9]' | head -10
[ -n "${KEEP:-}" ] && cp "$work/perf.data" "$KEEP"
for comm in tokio-rt-worker sqlx-sqlite-wor; do
  echo "== top symbols in $comm"
  perf report -i "$work/perf.data" --stdio --comms "$comm" --sort sym 2>/dev/null |
    grep -E '^ +[0-9]' | head -"$TOP"
done
