#!/usr/bin/env bash
# The server's memory at 1,000,000 devices: seeds DEVICES devices, starts the
# release server and drives `POST /updates` (bench/updates.lua, random seeded
# devices, each check an update offer) in ROUNDS runs of DUR seconds, then
# prints the RSS at start and, after each run, the peak (VmHWM) and current
# RSS and how many device rows the server skipped because its write queue was
# full. DELAY_MS (4) is wrk's per-connection pause: with CONN (64) connections
# that is a steady rate the writer keeps up with (about 12,500 checks/s here);
# DELAY_MS=0 is the maximum rate, where it falls behind. Extra server settings
# go through the environment (UPDRAFT_SEEN_CACHE=0 bench/memory.sh). At the
# end it prints what the RSS is made of (heap, mapped files, shared memory).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-1000000}
ROUNDS=${ROUNDS:-4}
DUR=${DUR:-20}
CONN=${CONN:-64}
DELAY_MS=${DELAY_MS:-4}
BIN=${BIN:-target/release/updraft-server}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p updraft-server --bin updraft-server --example bench_seed
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/data"
target/release/examples/bench_seed "sqlite://$work/data/updraft.db" "$DEVICES" >/dev/null
RUST_LOG=warn "$BIN" serve --listen 127.0.0.1:8096 --data-dir "$work/data" >"$work/server.log" 2>&1 &
S=$!
for _ in $(seq 100); do curl -sf 127.0.0.1:8096/health >/dev/null && break; sleep 0.1; done
mb() { awk -v k="$1:" '$1 == k {print int($2 / 1024)}' /proc/$S/status; }
echo "at start: $(mb VmRSS) MB"
for r in $(seq "$ROUNDS"); do
  rate=$(DELAY_MS=$DELAY_MS DEVICES=$DEVICES wrk -t2 -c"$CONN" -d"${DUR}s" -s bench/updates.lua \
    http://127.0.0.1:8096 | awk '/Requests\/sec/ {print int($2)}')
  # The server logs skipped rows sparingly (1, 2, 4, ... then every 100,000): a lower bound.
  skipped=$(sed 's/\x1b\[[0-9;]*m//g' "$work/server.log" | grep -o 'skipped=[0-9]*' | tail -1 | cut -d= -f2 || true)
  echo "run $r: $rate checks/s; peak $(mb VmHWM) MB, now $(mb VmRSS) MB; rows skipped: at least ${skipped:-0}"
done
# What the RSS is made of: the heap (both allocators: mimalloc for Rust, the
# C library's malloc for SQLite), mapped files (the binary, libraries) and
# shared memory (SQLite's WAL index).
echo "now: heap $(mb RssAnon) MB, files $(mb RssFile) MB, shared $(mb RssShmem) MB"
