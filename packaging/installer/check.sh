#!/usr/bin/env bash
# Checks cargo-dist's shell installers against locally built archives instead of a GitHub
# release: serves DISTRIB_DIR on 127.0.0.1 and runs updraft-cli-installer.sh (per user,
# into a throwaway HOME) and updraft-server-installer.sh (system-wide style, into a given
# directory, PATH untouched) with <APP>_DOWNLOAD_URL pointing there, runs the installed
# binaries, and checks that an installer refuses an archive whose checksum is wrong.
#
# DISTRIB_DIR must come from one run that built the host's archives and the installers,
# so the installers carry the archives' checksums:
#   dist build --artifacts=all --target x86_64-unknown-linux-gnu     # then target/distrib
#
# usage: packaging/installer/check.sh DISTRIB_DIR
set -euo pipefail
dist=$(cd "${1:?usage: $0 DISTRIB_DIR}" && pwd)
for f in updraft-cli-installer.sh updraft-server-installer.sh; do
  [ -f "$dist/$f" ] || { echo "error: $dist has no $f (dist build --artifacts=all)" >&2; exit 1; }
done
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "installer check FAILED: $*" >&2; exit 1; }
serve() { # DIR: serves it on 127.0.0.1 and sets $url (not in a subshell: the server's pid is kept)
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$1" >/dev/null 2>&1 &
  pids+=($!)
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 50); do curl -s -o /dev/null "$url/" && break; sleep 0.1; done
}
# A clean environment: no PATH entries or variables of the machine's own.
clean_env=(env -i PATH=/usr/bin:/bin SHELL=/bin/sh)
serve "$dist"
base=$url

echo "-- updraft-cli-installer.sh, per user"
mkdir -p "$work/home"
"${clean_env[@]}" HOME="$work/home" UPDRAFT_CLI_DOWNLOAD_URL="$base" sh "$dist/updraft-cli-installer.sh" >"$work/cli.log" 2>&1 ||
  { cat "$work/cli.log" >&2; fail "the CLI installer failed"; }
grep -q 'no checksums to verify' "$work/cli.log" && fail "the installer carries no checksums (build it with --artifacts=all)"
"$work/home/.local/bin/updraft" --version

echo "-- updraft-server-installer.sh into a directory of our choice, PATH left alone"
mkdir -p "$work/home2" "$work/sbin"
"${clean_env[@]}" HOME="$work/home2" UPDRAFT_SERVER_DOWNLOAD_URL="$base" UPDRAFT_SERVER_INSTALL_DIR="$work/sbin" \
  UPDRAFT_SERVER_NO_MODIFY_PATH=1 sh "$dist/updraft-server-installer.sh" >"$work/server.log" 2>&1 ||
  { cat "$work/server.log" >&2; fail "the server installer failed"; }
"$work/sbin/updraft-server" --version
if grep -rqs 'sbin' "$work/home2/.profile" "$work/home2/.bashrc" "$work/home2/.zshrc"; then
  fail "the server installer changed the shell profile despite UPDRAFT_SERVER_NO_MODIFY_PATH=1"
fi

echo "-- a damaged archive is refused"
mkdir -p "$work/bad" "$work/home3"
for f in "$dist"/updraft-cli-*.tar.xz; do head -c 100000 "$f" >"$work/bad/$(basename "$f")"; done
serve "$work/bad"
bad=$url
if "${clean_env[@]}" HOME="$work/home3" UPDRAFT_CLI_DOWNLOAD_URL="$bad" sh "$dist/updraft-cli-installer.sh" >"$work/bad.log" 2>&1; then
  fail "the installer accepted a damaged archive"
fi
grep -q 'checksum mismatch' "$work/bad.log" || { cat "$work/bad.log" >&2; fail "no checksum error for a damaged archive"; }
[ ! -e "$work/home3/.local/bin/updraft" ] || fail "a damaged archive was installed"
echo "installer check passed"
