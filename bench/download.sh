#!/usr/bin/env bash
# `GET /files/<sha>.zip` against nginx `sendfile` on the same file: one
# uploaded bundle (a stored zip of SIZE_MB of random bytes, so nothing
# compresses it), served by updraft-server and by nginx-light (Debian;
# installed if missing) from the server's own blob directory, driven by wrk in
# interleaved rounds (nginx, then Updraft, each round). Prints each round's
# throughput, the CPU each server used (cores, from /proc/PID/stat) and
# Updraft's ratio to nginx, then the mean ratio. Knobs: ROUNDS (3), DUR (8s),
# CONN (8), SIZE_MB (5), BIN (target/release/updraft-server).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-8s}
CONN=${CONN:-8}
SIZE_MB=${SIZE_MB:-5}
BIN=${BIN:-target/release/updraft-server}
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ "$BIN" != target/release/updraft-server ] || cargo build --release -q -p updraft-server --bin updraft-server

work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
KEY=bench_admin_key_0123456789abcdef
RUST_LOG=warn UPDRAFT_BOOTSTRAP_API_KEY=$KEY "$BIN" serve --listen 127.0.0.1:8094 \
  --data-dir "$work/data" >"$work/server.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do curl -sf 127.0.0.1:8094/health >/dev/null && break; sleep 0.1; done
python3 - "$work/bundle.zip" "$SIZE_MB" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
    z.writestr("index.html", "<html></html>")
    z.writestr("app.bin", os.urandom(int(sys.argv[2]) * 1024 * 1024))
PY
api() { curl -sf -H "Authorization: Bearer $KEY" "$@"; }
api -X POST 127.0.0.1:8094/api/v1/apps -d '{"app_id":"com.bench.app"}' >/dev/null
sha=$(api -X POST "127.0.0.1:8094/api/v1/apps/com.bench.app/bundles?version=1.0.0" \
  --data-binary "@$work/bundle.zip" | python3 -c 'import json, sys; print(json.load(sys.stdin)["bundle"]["blob_sha256"])')
size=$(stat -c %s "$work/data/blobs/bundles/$sha.zip")

# nginx serves the same file under the same path, as a CDN origin would.
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:8095;
    location /files/ { alias $work/data/blobs/bundles/; default_type application/zip; }
  }
}
EOF
"$NGINX" -c "$work/nginx/nginx.conf" -p "$work/nginx" & pids+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "127.0.0.1:8095/files/$sha.zip" && break; sleep 0.1; done
cmp <(curl -sf "127.0.0.1:8094/files/$sha.zip") <(curl -sf "127.0.0.1:8095/files/$sha.zip")

TCK=$(getconf CLK_TCK)
# CPU ticks of a process and its children (nginx's workers).
ticks() {
  local t=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    t=$((t + $(awk '{print $14 + $15}' /proc/"$p"/stat)))
  done
  echo "$t"
}
secs=${DUR%s}
names=(nginx updraft)
ports=(8095 8094)
sum=0
for r in $(seq "$ROUNDS"); do
  line="round $r:"
  for k in 0 1; do
    c0=$(ticks "${pids[$((1 - k))]}")
    wrk -t2 -c"$CONN" -d"$DUR" "http://127.0.0.1:${ports[$k]}/files/$sha.zip" >"$work/w.txt"
    c1=$(ticks "${pids[$((1 - k))]}")
    n=$(awk '/requests in/ {print $1}' "$work/w.txt")
    mib=$(awk "BEGIN {printf \"%.0f\", $n * $size / 1048576 / $secs}")
    cores=$(awk "BEGIN {printf \"%.2f\", ($c1 - $c0) / $TCK / $secs}")
    [ "$k" = 0 ] && base=$mib
    if grep -q Non-2xx "$work/w.txt"; then line="$line [non-2xx!]"; fi
    line="$line  ${names[$k]}=${mib} MiB/s (${cores} cores)"
  done
  ratio=$(awk "BEGIN {printf \"%.3f\", $mib / $base}")
  sum=$(awk "BEGIN {print $sum + $ratio}")
  echo "$line  ratio=$ratio"
done
echo "updraft / nginx sendfile throughput, mean over rounds: $(awk "BEGIN {printf \"%.3f\", $sum / $ROUNDS}") (target: at least 0.8)"
echo "updraft peak RSS $(awk '/VmHWM/ {print int($2 / 1024)}' /proc/"${pids[0]}"/status) MB"
