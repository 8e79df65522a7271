#!/usr/bin/env bash
# `POST /updates` with an active rollout on the channel against the same
# server without one: two databases seeded alike (BENCH_ROLLOUT=PERCENT adds a
# rollout of 1.0.98 on `production`), one updraft-server binary started on
# each, the ceiling beside them, driven in interleaved rounds. Prints each
# round's req/s, ratio to the ceiling and CPU per request, then the rollout's
# ratio over the plain one. Knobs: ROUNDS (3), DUR (8s), DEVICES (1000000),
# PERCENT (50), BIN (target/release/updraft-server). Needs wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-8s}
DEVICES=${DEVICES:-1000000}
PERCENT=${PERCENT:-50}
BIN=${BIN:-target/release/updraft-server}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p updraft-server --bin updraft-server --example bench_seed --example bench_ceiling
T=target/release
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/plain" "$work/rollout"
$T/examples/bench_seed "sqlite://$work/plain/updraft.db" "$DEVICES" >/dev/null
BENCH_ROLLOUT=$PERCENT $T/examples/bench_seed "sqlite://$work/rollout/updraft.db" "$DEVICES" >/dev/null
$T/examples/bench_ceiling 127.0.0.1:8091 & pids+=($!)
RUST_LOG=warn "$BIN" serve --listen 127.0.0.1:8092 --data-dir "$work/plain" >"$work/plain.log" 2>&1 & pids+=($!)
RUST_LOG=warn "$BIN" serve --listen 127.0.0.1:8093 --data-dir "$work/rollout" >"$work/rollout.log" 2>&1 & pids+=($!)
sleep 3
names=(ceiling plain rollout)
cpu() { awk '{print $14 + $15}' /proc/"$1"/stat; }
TCK=$(getconf CLK_TCK)
sum_plain=0; sum_rollout=0
for r in $(seq "$ROUNDS"); do
  line="round $r:"
  for k in 0 1 2; do
    c0=$(cpu "${pids[$k]}")
    DEVICES=$DEVICES wrk -t2 -c64 -d"$DUR" -s bench/updates.lua "http://127.0.0.1:$((8091 + k))" >"$work/w.txt"
    c1=$(cpu "${pids[$k]}")
    n=$(awk '/requests in/ {print $1}' "$work/w.txt")
    rps=$(awk '/Requests\/sec/ {print int($2)}' "$work/w.txt")
    [ "$k" = 0 ] && base=$rps
    ratio=$(awk "BEGIN {printf \"%.3f\", $rps / $base}")
    [ "$k" = 1 ] && sum_plain=$(awk "BEGIN {print $sum_plain + $ratio}")
    [ "$k" = 2 ] && sum_rollout=$(awk "BEGIN {print $sum_rollout + $ratio}")
    line="$line  ${names[$k]}=$rps ($ratio, $(awk "BEGIN {printf \"%.1f\", ($c1 - $c0) / $TCK * 1e6 / $n}") us/req)"
    if grep -q Non-2xx "$work/w.txt"; then line="$line [non-2xx!]"; fi
  done
  echo "$line"
done
echo "rollout ratio / plain ratio, mean over rounds: $(awk "BEGIN {printf \"%.3f\", $sum_rollout / $sum_plain}") (target: at least 0.90)"
for k in 1 2; do
  echo "${names[$k]} peak RSS $(awk '/VmHWM/ {print int($2 / 1024)}' /proc/"${pids[$k]}"/status) MB"
done
