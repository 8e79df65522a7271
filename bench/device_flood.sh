#!/usr/bin/env bash
# /updates tail latency while unauthenticated clients flood the server with
# device-scoped writes for random device ids (issue #9 item 3), for one or
# more server builds in the same run. FLOOD=channel (default): old plugins
# self-assigning a channel on /channel_self; FLOOD=fail: /stats batches of 200
# `update_fail` (rollback) reports.
# Usage: [FLOOD=fail] bench/device_flood.sh [SERVER_BINARY ...]   (default: this tree's release build)
# Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-15s}
RATE_DELAY_MS=${RATE_DELAY_MS:-4}   # per connection: 32 connections → about 8,000 checks/s
command -v wrk >/dev/null && command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk sqlite3; }
cargo build --release -q -p updraft-server --bin updraft-server --example bench_seed
T=target/release
servers=("$@")
[ ${#servers[@]} -gt 0 ] || servers=("$T/updraft-server")
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
$T/examples/bench_seed "sqlite://$work/seed.db" 100000 >/dev/null

p99() { awk '/ 99%/ {print $2}' "$1"; }
for i in "${!servers[@]}"; do
  bin=${servers[$i]}; d="$work/s$i"; port=$((8093 + i)); mkdir -p "$d"
  # A consistent copy (the seed's last writes may still be in its WAL file).
  sqlite3 "$work/seed.db" "VACUUM INTO '$d/updraft.db'"
  RUST_LOG=warn "$bin" serve --listen 127.0.0.1:$port --data-dir "$d" >"$d.log" 2>&1 &
  pid=$!
  sleep 2
  checks() { DELAY_MS=$RATE_DELAY_MS DEVICES=100000 wrk -t1 -c32 -d"$DUR" --latency -s bench/updates.lua "http://127.0.0.1:$port" >"$1"; }
  DUR_SAVED=$DUR; DUR=3s; checks "$d.warmup"; DUR=$DUR_SAVED   # warm caches first
  checks "$d.alone"
  wrk -t1 -c4 -d"$DUR" -s "bench/${FLOOD:-channel}_flood.lua" "http://127.0.0.1:$port" >"$d.flood" &
  checks "$d.flooded"
  wait $!
  overrides=$(sqlite3 "$d/updraft.db" "select (select count(*) from device_overrides) || ' overrides, ' || (select count(*) from device_failures) || ' blocks'" 2>/dev/null || echo "?")
  echo "== $bin"
  non2xx() { awk '/Non-2xx/ {print $5}' "$1"; }
  echo "   /updates alone:   $(awk '/Requests\/sec/ {print int($2)}' "$d.alone") req/s, p99 $(p99 "$d.alone") ($(non2xx "$d.alone") non-2xx)"
  echo "   /updates flooded: $(awk '/Requests\/sec/ {print int($2)}' "$d.flooded") req/s, p99 $(p99 "$d.flooded") ($(non2xx "$d.flooded") non-2xx)"
  echo "   ${FLOOD:-channel} flood: $(awk '/Requests\/sec/ {print int($2)}' "$d.flood") req/s ($(awk '/Non-2xx/ {print $5}' "$d.flood") non-2xx); rows after: $overrides"
  grep -m3 -iE 'error|warn' "$d.log" || true
  kill $pid; wait $pid 2>/dev/null || true
done
