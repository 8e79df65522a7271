#!/usr/bin/env bash
# Interleaved A/B of server builds against the ceiling, on one seeded database.
# Usage: bench/ab.sh BIN [BIN...]   (each BIN an updraft-server binary, or a script that execs one)
# Each round drives the ceiling, then every BIN in turn (wrk -t2 -c64, DUR each), and prints
# req/s, the ratio to that round's ceiling, and server CPU time per request (µs), which is
# steadier than req/s on a shared machine. Knobs: ROUNDS (3), DUR (8s), DEVICES (1000000),
# BENCH_SEEN_RECENTLY=1 for the steady-state seed, SEED_BIN to seed with another build's
# bench_seed (an older binary refuses a database migrated past what it knows). Needs wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/ab.sh BIN [BIN...]" >&2; exit 2; }
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-8s}
DEVICES=${DEVICES:-1000000}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p updraft-server --example bench_seed --example bench_ceiling
T=target/release
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/seed"
${SEED_BIN:-$T/examples/bench_seed} "sqlite://$work/seed/updraft.db" "$DEVICES" >/dev/null
ports=(8091); names=(ceiling)
$T/examples/bench_ceiling 127.0.0.1:8091 & pids+=($!)
i=0
for b in "$@"; do
  i=$((i + 1)); d="$work/run$i"; mkdir -p "$d"; cp "$work"/seed/* "$d"/
  RUST_LOG=warn "$b" serve --listen 127.0.0.1:$((8091 + i)) --data-dir "$d" >"$d.log" 2>&1 & pids+=($!)
  ports+=($((8091 + i))); names+=("$(basename "$b")")
done
sleep 3
cpu() { awk '{print $14 + $15}' /proc/"$1"/stat; }
TCK=$(getconf CLK_TCK)
for r in $(seq "$ROUNDS"); do
  line="round $r:"
  for k in "${!ports[@]}"; do
    c0=$(cpu "${pids[$k]}")
    DEVICES=$DEVICES wrk -t2 -c64 -d"$DUR" -s bench/updates.lua "http://127.0.0.1:${ports[$k]}" >"$work/w.txt"
    c1=$(cpu "${pids[$k]}")
    n=$(awk '/requests in/ {print $1}' "$work/w.txt")
    rps=$(awk '/Requests\/sec/ {print int($2)}' "$work/w.txt")
    [ "$k" = 0 ] && base=$rps
    line="$line  ${names[$k]}=$rps ($(awk "BEGIN {printf \"%.2f\", $rps / $base}"), $(awk "BEGIN {printf \"%.1f\", ($c1 - $c0) / $TCK * 1e6 / $n}") us/req)"
    if grep -q Non-2xx "$work/w.txt"; then line="$line [non-2xx!]"; fi
  done
  echo "$line"
done
for k in "${!ports[@]}"; do
  echo "${names[$k]} peak RSS $(awk '/VmHWM/ {print int($2 / 1024)}' /proc/"${pids[$k]}"/status) MB"
done
