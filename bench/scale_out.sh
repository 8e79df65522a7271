#!/usr/bin/env bash
# Scale-out figures (issue #16), in one run on this machine:
#  1. POST /updates on PostgreSQL with DEVICES known devices: the ceiling
#     (bench_ceiling), one node, then two nodes on the same database (two wrk
#     processes, one per node), with the CPU each used per request (the
#     nodes' and PostgreSQL's, from /proc);
#  2. GET of a 5 MiB bundle: streamed from local disk, streamed from an
#     S3-compatible bucket (Garage, started here), answered with a 302 to a
#     presigned URL, and that URL served by the bucket itself, with the CPU
#     per download of the node and of Garage;
#  3. (METRICS=1, the default) release metrics over 10,000,000 events on
#     PostgreSQL: bench_metrics of updraft-store-sql.
# Needs wrk (installed if missing), garage (cargo install garage --version
# 2.5.0 --locked) and PostgreSQL at PG (postgres://postgres@127.0.0.1:5432).
# Knobs: DEVICES (1000000), DUR (10s), CONN (64), SIZE_MB (5), METRICS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-1000000}
DUR=${DUR:-10s}
CONN=${CONN:-64}
SIZE_MB=${SIZE_MB:-5}
METRICS=${METRICS:-1}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v garage >/dev/null || { echo "garage is missing: cargo install garage --version 2.5.0 --locked" >&2; exit 1; }
cargo build --release -q -p updraft-server --bin updraft-server --example bench_seed --example bench_ceiling
T=target/release
KEY=bench_admin_key_0123456789abcdef
DB=updraft_bench_$$
work=$(mktemp -d)
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
TCK=$(getconf CLK_TCK)
secs=${DUR%s}
ticks() { # CPU ticks of the given pids (and their children)
  local t=0 p
  for p in "$@"; do
    for q in "$p" $(pgrep -P "$p" || true); do
      [ -r /proc/"$q"/stat ] && t=$((t + $(awk '{print $14 + $15}' /proc/"$q"/stat)))
    done
  done
  echo "$t"
}
pg_pids() { pgrep -u postgres postgres | tr '\n' ' '; }
rps() { awk '/Requests\/sec/ {print int($2)}' "$1"; }
serve() { # name port data-dir extra env...
  local name=$1 port=$2 dir=$3; shift 3
  env RUST_LOG=warn UPDRAFT_BOOTSTRAP_API_KEY=$KEY "$@" \
    $T/updraft-server serve --listen 127.0.0.1:"$port" --data-dir "$dir" >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do curl -sf 127.0.0.1:"$port"/health >/dev/null && return; sleep 0.1; done
  echo "$name did not start:" >&2; cat "$work/$name.log" >&2; exit 1
}

echo "== 1. POST /updates on PostgreSQL, $DEVICES devices"
psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null
/usr/bin/time -f "seed: %e s" $T/examples/bench_seed "$PG/$DB" "$DEVICES"
serve node1 8190 "$work/n1" UPDRAFT_DATABASE_URL="$PG/$DB"
N1=${pids[-1]}
serve node2 8191 "$work/n2" UPDRAFT_DATABASE_URL="$PG/$DB"
N2=${pids[-1]}
$T/examples/bench_ceiling 127.0.0.1:8192 & pids+=($!)
CEIL=${pids[-1]}
sleep 1
run_wrk() { # out port threads conns
  DEVICES=$DEVICES wrk -t"$3" -c"$4" -d"$DUR" -s bench/updates.lua "http://127.0.0.1:$2" >"$1"
}
c0=$(ticks "$CEIL"); run_wrk "$work/ceil.txt" 8192 2 "$CONN"; c1=$(ticks "$CEIL")
C=$(rps "$work/ceil.txt")
echo "ceiling: $C req/s, $(awk "BEGIN {printf \"%.1f\", ($c1 - $c0) / $TCK / ($C * $secs) * 1e6}") µs CPU/req"
# Warm both nodes' device filters and PostgreSQL's cache once.
run_wrk "$work/warm.txt" 8190 2 "$CONN"
PGP=$(pg_pids)
a0=$(ticks "$N1"); p0=$(ticks $PGP)
run_wrk "$work/one.txt" 8190 2 "$CONN"
a1=$(ticks "$N1"); p1=$(ticks $PGP)
O=$(rps "$work/one.txt")
echo "one node: $O req/s ($(awk "BEGIN {printf \"%.2f\", $O / $C}") of the ceiling); CPU per request: node $(awk "BEGIN {printf \"%.1f\", ($a1 - $a0) / $TCK / ($O * $secs) * 1e6}") µs, PostgreSQL $(awk "BEGIN {printf \"%.1f\", ($p1 - $p0) / $TCK / ($O * $secs) * 1e6}") µs"
grep -q Non-2xx "$work/one.txt" && echo "  (non-2xx replies!)"
a0=$(ticks "$N1" "$N2"); p0=$(ticks $PGP)
run_wrk "$work/two1.txt" 8190 1 $((CONN / 2)) &
w1=$!
run_wrk "$work/two2.txt" 8191 1 $((CONN / 2))
wait "$w1"
a1=$(ticks "$N1" "$N2"); p1=$(ticks $PGP)
TW=$(( $(rps "$work/two1.txt") + $(rps "$work/two2.txt") ))
echo "two nodes: $TW req/s ($(awk "BEGIN {printf \"%.2f\", $TW / $C}") of the ceiling); CPU per request: nodes $(awk "BEGIN {printf \"%.1f\", ($a1 - $a0) / $TCK / ($TW * $secs) * 1e6}") µs, PostgreSQL $(awk "BEGIN {printf \"%.1f\", ($p1 - $p0) / $TCK / ($TW * $secs) * 1e6}") µs"
grep -q Non-2xx "$work/two1.txt" "$work/two2.txt" && echo "  (non-2xx replies!)"
kill "$N1" "$N2" "$CEIL"; wait "$N1" "$N2" "$CEIL" 2>/dev/null || true

echo "== 2. GET of a ${SIZE_MB} MiB bundle: local disk, bucket streamed, bucket redirected"
g=$work/garage
mkdir -p "$g"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPC=$(free_port); S3=$(free_port); ADMIN=$(free_port)
cat >"$g/garage.toml" <<EOF
metadata_dir = "$g/meta"
data_dir = "$g/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$RPC"
rpc_public_addr = "127.0.0.1:$RPC"
rpc_secret = "$(openssl rand -hex 32)"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$S3"
root_domain = ".s3.garage.localhost"
[admin]
api_bind_addr = "127.0.0.1:$ADMIN"
EOF
garage -c "$g/garage.toml" server >"$g/log" 2>&1 & pids+=($!)
GP=${pids[-1]}
ga() { garage -c "$g/garage.toml" "$@"; }
for _ in $(seq 300); do node=$(ga node id -q 2>/dev/null) && break; sleep 0.1; done
node=${node%%@*}
for _ in $(seq 300); do ga layout assign -z dc1 -c 1G "$node" >/dev/null 2>&1 && break; sleep 0.1; done
ga layout apply --version 1 >/dev/null
ga bucket create bundles >/dev/null
keyinfo=$(ga key create bench)
KID=$(awk -F': *' '/Key ID/ {print $2; exit}' <<<"$keyinfo")
KSECRET=$(awk -F': *' '/Secret key/ {print $2; exit}' <<<"$keyinfo")
ga bucket allow --read --write --owner bundles --key bench >/dev/null
s3env=(UPDRAFT_S3_BUCKET=bundles UPDRAFT_S3_ENDPOINT=http://127.0.0.1:$S3 UPDRAFT_S3_REGION=garage
  UPDRAFT_S3_ACCESS_KEY_ID=$KID UPDRAFT_S3_SECRET_ACCESS_KEY=$KSECRET)
serve local 8193 "$work/l"
L=${pids[-1]}
serve bucket 8194 "$work/b" "${s3env[@]}"
B=${pids[-1]}
serve presign 8195 "$work/p" "${s3env[@]}" UPDRAFT_S3_PRESIGN_SECS=900
P=${pids[-1]}
python3 - "$work/bundle.zip" "$SIZE_MB" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
    z.writestr("index.html", "<html></html>")
    z.writestr("app.bin", os.urandom(int(sys.argv[2]) * 1024 * 1024))
PY
size=$(stat -c %s "$work/bundle.zip")
up() { # port: creates the app and uploads the bundle; prints its sha
  curl -sf -H "Authorization: Bearer $KEY" -X POST 127.0.0.1:"$1"/api/v1/apps -d '{"app_id":"com.bench.app"}' >/dev/null
  curl -sf -H "Authorization: Bearer $KEY" -X POST "127.0.0.1:$1/api/v1/apps/com.bench.app/bundles?version=1.0.0" \
    --data-binary "@$work/bundle.zip" | python3 -c 'import json, sys; print(json.load(sys.stdin)["bundle"]["blob_sha256"])'
}
sha=$(up 8193); up 8194 >/dev/null; up 8195 >/dev/null
cmp <(curl -sf 127.0.0.1:8193/files/$sha.zip) "$work/bundle.zip"
cmp <(curl -sf 127.0.0.1:8194/files/$sha.zip) "$work/bundle.zip"
cmp <(curl -sfL 127.0.0.1:8195/files/$sha.zip) "$work/bundle.zip"
signed=$(curl -s -o /dev/null -w '%{redirect_url}' 127.0.0.1:8195/files/$sha.zip)
dl() { # name url pid-of-node [pid-of-garage]
  local c0 g0 c1 g1 n
  c0=$(ticks "$3"); g0=$(ticks "$GP")
  wrk -t2 -c8 -d"$DUR" "$2" >"$work/$1.txt"
  c1=$(ticks "$3"); g1=$(ticks "$GP")
  n=$(awk '/requests in/ {print $1}' "$work/$1.txt")
  local body=$size; [ "$1" = redirect ] && body=0
  printf '%-22s %8s downloads/s %8s MiB/s  node %7.1f µs CPU/download  garage %8.1f µs CPU/download%s\n' \
    "$1" "$(awk "BEGIN {printf \"%.0f\", $n / $secs}")" "$(awk "BEGIN {printf \"%.0f\", $n * $body / 1048576 / $secs}")" \
    "$(awk "BEGIN {print ($c1 - $c0) / $TCK / $n * 1e6}")" "$(awk "BEGIN {print ($g1 - $g0) / $TCK / $n * 1e6}")" \
    "$(grep -q Non-2xx "$work/$1.txt" && [ "$1" != redirect ] && echo '  (non-2xx!)' || true)"
}
dl local-stream "http://127.0.0.1:8193/files/$sha.zip" "$L"
dl bucket-stream "http://127.0.0.1:8194/files/$sha.zip" "$B"
dl redirect "http://127.0.0.1:8195/files/$sha.zip" "$P"
dl bucket-direct "$signed" "$P"

if [ "$METRICS" = 1 ]; then
  echo "== 3. release metrics over 10,000,000 events on PostgreSQL"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo build --release -q -p updraft-store-sql --example bench_metrics
  UPDRAFT_TEST_POSTGRES_URL="$PG/postgres" BENCH_SQLITE=0 BENCH_RUNS=${BENCH_RUNS:-5} $T/examples/bench_metrics
fi
