#!/usr/bin/env bash
# A first hour against a running server, through whatever stands in front of it:
# create an app and a public channel, upload a bundle onto it, ask /updates as a
# phone would, send a /stats event, and download the offered bundle from the URL
# the server gave. Prints that URL. Used by packaging/systemd/check.sh and
# packaging/proxy/check.sh; works against a real deployment too (it creates the
# app smoke.updraft.check; delete it afterwards with DELETE /api/v1/apps/smoke.updraft.check).
#
# usage: packaging/smoke.sh BASE_URL ADMIN_KEY [EXPECTED_BUNDLE_URL_PREFIX]
# Extra curl options (e.g. --cacert, --resolve) come from $SMOKE_CURL_OPTS.
set -euo pipefail
base=${1:?usage: $0 BASE_URL ADMIN_KEY [EXPECTED_BUNDLE_URL_PREFIX]}
key=${2:?usage: $0 BASE_URL ADMIN_KEY [EXPECTED_BUNDLE_URL_PREFIX]}
expect=${3:-}
app=smoke.updraft.check
version=1.0.$(date +%s%N)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2206 # options are words
opts=(-sS --fail-with-body --max-time 30 ${SMOKE_CURL_OPTS:-})
api() { curl "${opts[@]}" -H "Authorization: Bearer $key" "$@"; }

# Over 1 MiB (nginx's default body limit), so a proxy's upload size setting is tested too.
python3 - "$work/bundle.zip" <<'EOF'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("index.html", "<!doctype html><title>smoke</title>")
    z.writestr("assets/app.bin", os.urandom(3 * 1024 * 1024))
EOF

curl "${opts[@]}" "$base/health" >/dev/null
if ! api "$base/api/v1/apps/$app" >/dev/null 2>&1; then
  api -X POST "$base/api/v1/apps" -H 'Content-Type: application/json' -d "{\"app_id\":\"$app\"}" >/dev/null
  api -X POST "$base/api/v1/apps/$app/channels" -H 'Content-Type: application/json' \
    -d '{"name":"production","public":true}' >/dev/null
fi
api -X POST "$base/api/v1/apps/$app/bundles?version=$version&channel=production" \
  -H 'Content-Type: application/zip' --data-binary "@$work/bundle.zip" >/dev/null

device='{"app_id":"'$app'","device_id":"00000000-0000-4000-8000-00000000c0de","platform":"android",
  "version_name":"builtin","version_build":"1.0.0","version_code":"1","version_os":"14",
  "plugin_version":"8.51.14","is_emulator":false,"is_prod":true,"custom_id":"","defaultChannel":""}'
curl "${opts[@]}" -X POST "$base/updates" -H 'Content-Type: application/json' -d "$device" >"$work/offer.json"
url=$(python3 -c '
import json, sys
offer = json.load(open(sys.argv[1]))
if "url" not in offer:
    sys.exit("no update offered: %s" % offer)
print(offer["url"])' "$work/offer.json")
curl "${opts[@]}" -X POST "$base/stats" -H 'Content-Type: application/json' \
  -d "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(action="download_complete", version_name=sys.argv[2]); print(json.dumps(d))' "$device" "$version")" >/dev/null

if [ -n "$expect" ] && [[ $url != "$expect"* ]]; then
  echo "smoke: the offered bundle URL is $url, not under $expect" >&2
  exit 1
fi
curl "${opts[@]}" -o "$work/download.zip" "$url"
cmp -s "$work/bundle.zip" "$work/download.zip" || { echo "smoke: the downloaded bundle differs from the upload" >&2; exit 1; }
echo "$url"
