#!/usr/bin/env bash
# Checks the reverse proxy configurations of docs/deploy.md against a running server:
# packaging/nginx/updraft.conf and packaging/caddy/Caddyfile, each put in front of
# updraft-server with a self-signed certificate for updates.example.com, on 127.0.0.1
# ports chosen here (the configs' own ports and paths are rewritten for the test, nothing
# else). Through each: a first hour (packaging/smoke.sh, with a 3 MiB upload), and the
# bundle URL in /updates replies must be https://updates.example.com/files/..., also
# when the client sends its own X-Forwarded-Host. The server runs without a public URL
# and trusts 127.0.0.1 as a proxy, so the URL comes from the proxy's headers.
# Needs nginx and/or caddy (a missing one is skipped, both missing fails), openssl,
# curl and python3.
#
# usage: packaging/proxy/check.sh [DIR-WITH-updraft-server]   (default target/debug)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(cd "${1:-$root/target/debug}" && pwd)/updraft-server
[ -x "$bin" ] || { echo "error: no updraft-server binary at $bin" >&2; exit 1; }

work=$(mktemp -d)
chmod 0711 "$work" # nginx's workers run as nobody
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_for() { for _ in $(seq 1 100); do curl -s -o /dev/null "$@" && return 0; sleep 0.1; done; return 1; }

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=updates.example.com \
  -addext subjectAltName=DNS:updates.example.com \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

key=upd_proxy_check_0123456789abcdef
server_port=$(free_port)
UPDRAFT_DATA_DIR="$work/data" UPDRAFT_LISTEN="127.0.0.1:$server_port" UPDRAFT_BOOTSTRAP_API_KEY="$key" \
  UPDRAFT_TRUSTED_PROXIES=127.0.0.1/32 "$bin" serve >"$work/server.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$server_port/health" || { cat "$work/server.log" >&2; exit 1; }

# A first hour and a spoofing client, through the proxy listening on $1.
through_proxy() {
  local name=$1 port=$2
  export SMOKE_CURL_OPTS="--cacert $work/cert.pem --connect-to updates.example.com:443:127.0.0.1:$port"
  # shellcheck disable=SC2086 # options are words
  wait_for $SMOKE_CURL_OPTS https://updates.example.com/health || { echo "$name does not answer" >&2; return 1; }
  local url
  # (set -e does not apply in a function called before ||: every failure returns by hand)
  url=$("$root/packaging/smoke.sh" https://updates.example.com "$key" https://updates.example.com/files/) || return 1
  echo "$name: bundle offered at $url, downloaded through $name"
  local device='{"app_id":"smoke.updraft.check","device_id":"00000000-0000-4000-8000-00000000beef","platform":"ios",
    "version_name":"builtin","version_build":"1.0.0","version_code":"1","version_os":"17",
    "plugin_version":"8.51.14","is_emulator":false,"is_prod":true,"custom_id":"","defaultChannel":""}'
  # shellcheck disable=SC2086 # options are words
  url=$(curl -sS --fail $SMOKE_CURL_OPTS -X POST https://updates.example.com/updates \
    -H 'Content-Type: application/json' -H 'X-Forwarded-Host: attacker.example' \
    -H 'X-Forwarded-Proto: http' -d "$device" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("url",""))') || return 1
  case "$url" in
    https://updates.example.com/files/*) echo "$name: a client's own X-Forwarded-Host is ignored" ;;
    *) echo "$name: with a client's X-Forwarded-Host the bundle URL became '$url'" >&2; return 1 ;;
  esac
  # A Host header with a port of the client's choosing must not reach the URL either.
  # shellcheck disable=SC2086 # options are words
  url=$(curl -sS --fail $SMOKE_CURL_OPTS -X POST https://updates.example.com/updates \
    -H 'Content-Type: application/json' -H 'Host: updates.example.com:31337' \
    -d "$device" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("url",""))') || return 1
  case "$url" in
    https://updates.example.com/files/*) echo "$name: a client's Host port is ignored" ;;
    *) echo "$name: with a client's Host port the bundle URL became '$url'" >&2; return 1 ;;
  esac
}

checked=0
if command -v nginx >/dev/null; then
  echo "-- nginx ($(nginx -v 2>&1 | sed 's/.*: //'))"
  port=$(free_port)
  sed -e "s#server 127.0.0.1:8080;#server 127.0.0.1:$server_port;#" \
    -e "s#listen 443 ssl;#listen 127.0.0.1:$port ssl;#" -e "s#listen 80;#listen 127.0.0.1:$(free_port);#" \
    -e '/listen \[::\]/d' \
    -e "s#/etc/letsencrypt/live/updates.example.com/fullchain.pem#$work/cert.pem#" \
    -e "s#/etc/letsencrypt/live/updates.example.com/privkey.pem#$work/key.pem#" \
    "$root/packaging/nginx/updraft.conf" >"$work/updraft.conf"
  mkdir -p "$work/nginx/logs"
  cat >"$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events {}
http {
    access_log $work/nginx/logs/access.log;
    include $work/updraft.conf;
}
EOF
  nginx -p "$work/nginx" -c "$work/nginx.conf" -t -q
  nginx -p "$work/nginx" -c "$work/nginx.conf" -g 'daemon off;' &
  pids+=($!)
  through_proxy nginx "$port" || { cat "$work/nginx/logs/error.log" >&2; exit 1; }
  checked=$((checked + 1))
fi

if command -v caddy >/dev/null; then
  echo "-- caddy ($(caddy version | cut -d' ' -f1))"
  port=$(free_port)
  {
    cat <<EOF
{
	admin off
	auto_https disable_redirects
	default_bind 127.0.0.1
	http_port $(free_port)
	https_port $port
	storage file_system $work/caddy
}
EOF
    sed -e "s#reverse_proxy 127.0.0.1:8080#reverse_proxy 127.0.0.1:$server_port#" \
      -e "s#^updates.example.com {#updates.example.com {\n\ttls $work/cert.pem $work/key.pem#" \
      "$root/packaging/caddy/Caddyfile"
  } >"$work/Caddyfile"
  HOME="$work" XDG_DATA_HOME="$work/caddy" XDG_CONFIG_HOME="$work/caddy" \
    caddy run --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
  pids+=($!)
  through_proxy caddy "$port" || { cat "$work/caddy.log" >&2; exit 1; }
  checked=$((checked + 1))
fi

[ "$checked" -gt 0 ] || { echo "error: neither nginx nor caddy is installed" >&2; exit 1; }
echo "proxy check passed ($checked proxies)"
