#!/usr/bin/env bash
# The dashboard's pages at 1,000,000 devices (issue #17): how long the app
# overview, a channel's page and a device search take, against the API calls
# they are made of, measured in the same run.
#
# Seeds a fresh PostgreSQL database with bench_seed (DEVICES devices seen
# just now, each with release rows of production's bundle in the last 24 h,
# and, unless ROLLOUT is empty, an active rollout of 1.0.98 to ROLLOUT %),
# starts a release server on it,
# signs in like a browser (a session cookie), then GETs each page RUNS times
# one after another and prints the median and the slowest, in ms.
# Needs PostgreSQL at PG (postgres://postgres@127.0.0.1:5432).
# Knobs: DEVICES (1000000), RUNS (20), ROLLOUT (10; empty: none, so the
# overview measures production's own bundle on every device).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-1000000}
RUNS=${RUNS:-20}
ROLLOUT=${ROLLOUT-10}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
cargo build --release -q -p updraft-server --bin updraft-server --example bench_seed
T=target/release
KEY=bench_admin_key_0123456789abcdef
APP=com.bench.app
DB=updraft_bench_ui_$$
PORT=8193
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null
env BENCH_SEEN_RECENTLY=1 BENCH_RELEASE=1 ${ROLLOUT:+BENCH_ROLLOUT=$ROLLOUT} \
  /usr/bin/time -f "seed: %e s" $T/examples/bench_seed "$PG/$DB" "$DEVICES"
psql "$PG/$DB" -qc "VACUUM ANALYZE" >/dev/null
env RUST_LOG=warn UPDRAFT_BOOTSTRAP_API_KEY=$KEY UPDRAFT_DATABASE_URL="$PG/$DB" \
  $T/updraft-server serve --listen 127.0.0.1:$PORT --data-dir "$work/data" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 300); do curl -sf 127.0.0.1:$PORT/health >/dev/null && break; sleep 0.1; done
B=http://127.0.0.1:$PORT
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$work/jar" -H 'sec-fetch-site: same-origin' \
  --data-urlencode "key=$KEY" "$B/ui/signin")
[ "$code" = 303 ] || { echo "sign-in failed: $code" >&2; cat "$work/server.log" >&2; exit 1; }

# name path [curl args...]: RUNS GETs, the median and the slowest (ms).
measure() {
  local name=$1 path=$2; shift 2
  local times=()
  for _ in $(seq "$RUNS"); do
    out=$(curl -s -o "$work/body" -w '%{http_code} %{time_total}' "$@" "$B$path")
    [ "${out%% *}" = 200 ] || { echo "$name: HTTP ${out%% *}" >&2; head -c 400 "$work/body" >&2; exit 1; }
    times+=("${out#* }")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v n="$name" '
    { t[NR] = $1 * 1000 }
    END { printf "%-44s median %7.1f ms   max %7.1f ms\n", n, t[int((NR + 1) / 2)], t[NR] }'
}
api=(-H "authorization: Bearer $KEY")
ui=(-b "$work/jar")
echo "== $DEVICES devices on PostgreSQL, rollout: ${ROLLOUT:-none}, $RUNS requests each, one at a time"
measure "API: channels (baseline)" "/api/v1/apps/$APP/channels" "${api[@]}"
measure "API: metrics of production (24 h)" "/api/v1/apps/$APP/metrics?channel=production" "${api[@]}"
[ -n "$ROLLOUT" ] && measure "API: rollout status of production" "/api/v1/apps/$APP/channels/production/rollout" "${api[@]}"
measure "page: the app overview" "/ui/apps/$APP" "${ui[@]}"
grep -o 'data-stat="offered">[0-9]*' "$work/body" | sed 's/.*>/  devices offered in 24 h per channel card: /'
measure "page: channel production" "/ui/apps/$APP/channels/production" "${ui[@]}"
measure "page: devices, id prefix search" "/ui/apps/$APP/devices?q=00000000-0000-4000-8000-00000099" "${ui[@]}"
measure "page: devices, no match (whole scan)" "/ui/apps/$APP/devices?q=zzz-no-such-device" "${ui[@]}"
measure "page: one device with its explain trace" "/ui/apps/$APP/devices/00000000-0000-4000-8000-000000123456" "${ui[@]}"
