#!/usr/bin/env bash
# `POST /stats` ingestion: batches of BATCH events (the plugin's shape) from
# random seeded devices, CONN connections at the maximum rate for DUR. Prints
# the requests answered 2xx and 429, the events the server accepted per
# second, and, after the writer has drained, the events stored: a request
# answered 2xx must have stored all of its events and one answered 429 none,
# so stored must equal accepted, plus at most the requests wrk left in flight
# when it stopped (the script fails otherwise). Knobs: DUR
# (10s), CONN (32), BATCH (10), DEVICES (1000000), BIN
# (target/release/updraft-server).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-10s}
CONN=${CONN:-32}
BATCH=${BATCH:-10}
DEVICES=${DEVICES:-1000000}
BIN=${BIN:-target/release/updraft-server}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p updraft-server --bin updraft-server --example bench_seed
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/data"
target/release/examples/bench_seed "sqlite://$work/data/updraft.db" "$DEVICES" >/dev/null
before=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM events").fetchone()[0])' "$work/data/updraft.db")
RUST_LOG=warn "$BIN" serve --listen 127.0.0.1:8097 --data-dir "$work/data" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf 127.0.0.1:8097/health >/dev/null && break; sleep 0.1; done
c0=$(awk '{print $14 + $15}' /proc/$pid/stat)
BATCH=$BATCH DEVICES=$DEVICES wrk -t2 -c"$CONN" -d"$DUR" -s bench/stats.lua http://127.0.0.1:8097 >"$work/w.txt"
c1=$(awk '{print $14 + $15}' /proc/$pid/stat)
n=$(awk '/requests in/ {print $1}' "$work/w.txt")
refused=$(awk '/Non-2xx or 3xx responses/ {print $5}' "$work/w.txt")
refused=${refused:-0}
secs=${DUR%s}
accepted=$(( (n - refused) * BATCH ))
# A clean stop drains the writer's queue into the database.
kill -INT $pid; wait $pid || true; pid=
stored=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM events").fetchone()[0] - int(sys.argv[2]))' "$work/data/updraft.db" "$before")
echo "requests: $n ($((n - refused)) answered 2xx, $refused refused)"
echo "events accepted: $accepted, $(( accepted / secs ))/s; stored after the drain: $stored"
echo "server CPU per accepted event: $(awk "BEGIN {printf \"%.1f\", ($c1 - $c0) / $(getconf CLK_TCK) * 1e6 / ($accepted > 0 ? $accepted : 1)}") us"
# wrk stops with up to CONN requests in flight: the server may have stored
# them while wrk counted no answer. More than that is a 429 that stored events.
extra=$((stored - accepted))
if [ "$extra" -lt 0 ] || [ "$extra" -gt $((CONN * BATCH)) ]; then
  echo "MISMATCH: stored $stored events, accepted $accepted (at most $((CONN * BATCH)) more from requests in flight at the end)" >&2
  exit 1
fi
