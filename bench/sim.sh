#!/usr/bin/env bash
# A simulated fleet against a release server, in one run: N devices (default
# 10000) from one updraft-sim process, each checking twice; a share never
# confirms (rolls back), a share gets corrupted downloads, a share has its
# transfer cut and resumes. Reports the sim's summary, its wall time and peak
# RSS, and the server's peak RSS.
# Usage: bench/sim.sh [DEVICES] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${1:-10000}
CONC=${2:-256}
cargo build --release -q -p updraft-server --bin updraft-server -p updraft-device --bin updraft-sim
T=target/release
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
KEY=sim_admin_key_0123456789abcdef
RUST_LOG=warn UPDRAFT_BOOTSTRAP_API_KEY=$KEY \
  $T/updraft-server serve --listen 127.0.0.1:8092 --data-dir "$work/server" >"$work/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 50); do curl -sf 127.0.0.1:8092/health >/dev/null && break; sleep 0.2; done
B=http://127.0.0.1:8092/api/v1
curl -sf -XPOST $B/apps -H "Authorization: Bearer $KEY" -d '{"app_id":"com.sim.app"}' >/dev/null
curl -sf -XPOST $B/apps/com.sim.app/channels -H "Authorization: Bearer $KEY" -d '{"name":"production","public":true}' >/dev/null
mkdir -p "$work/web/js"
echo '<html>sim 1.0.1</html>' >"$work/web/index.html"
head -c 200000 /dev/urandom | base64 >"$work/web/js/app.js"   # ~270 KB, a realistic small bundle
(cd "$work/web" && python3 -c "
import zipfile,os
with zipfile.ZipFile('../bundle.zip','w',zipfile.ZIP_DEFLATED) as z:
    for root,_,files in os.walk('.'):
        for f in files: z.write(os.path.join(root,f))
")
curl -sf -XPOST "$B/apps/com.sim.app/bundles?version=1.0.1&channel=production" \
  -H "Authorization: Bearer $KEY" --data-binary @"$work/bundle.zip" >/dev/null
echo "== $DEVICES devices, concurrency $CONC, bundle $(stat -c %s "$work/bundle.zip") bytes"
/usr/bin/time -f "sim: %e s wall, %M KB max RSS" $T/updraft-sim --server http://127.0.0.1:8092 --app com.sim.app \
  -n "$DEVICES" --dir "$work/fleet" --rounds 2 --concurrency "$CONC" --native 1.0.0,1.0.1 \
  --never-confirm 0.05 --corrupt 0.01 --interrupt 0.02 --app-ready-timeout-ms 500 --json
echo "server peak RSS: $(( $(awk '/VmHWM/ {print $2}' /proc/$SERVER/status) / 1024 )) MB"
