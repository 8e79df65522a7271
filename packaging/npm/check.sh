#!/usr/bin/env bash
# Checks the npm packaging of the CLI without the registry: builds the packages from a
# local `updraft` binary (default target/debug), installs them from the tarballs into a
# throwaway Capacitor-like project with `npm install --offline` and an empty cache, and
# runs the CLI through npx: --version, --help, a usage error, `doctor` against a port
# nothing listens on, the message for a missing platform package, and signal and
# exit-status pass-through.
#
# usage: packaging/npm/check.sh [DIR-WITH-THE-updraft-BINARY]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin_dir=$(cd "${1:-$root/target/debug}" && pwd)

version=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml")
[ -n "$version" ] || { echo "error: no [workspace.package] version in Cargo.toml" >&2; exit 1; }
platform=$(node -p 'process.platform + "-" + process.arch')

work=$(mktemp -d)
cleanup() {
  # A stand-in binary a failed signal check left running.
  if [ -f "$work/fake.pid" ]; then kill -KILL "$(cat "$work/fake.pid")" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "npm check FAILED: $*" >&2; exit 1; }

echo "-- build the packages ($version, $platform) from $bin_dir"
"$here/build.sh" "$version" "$bin_dir" "$work/tarballs"
main_tgz="$work/tarballs/updraft-cli-$version.tgz"
platform_tgz="$work/tarballs/updraft-cli-$platform-$version.tgz"
if [ ! -f "$main_tgz" ] || [ ! -f "$platform_tgz" ]; then
  fail "npm pack did not make $main_tgz and $platform_tgz"
fi
mode=$(tar -tvzf "$platform_tgz" package/bin/updraft | cut -c1-10)
[ "$mode" = "-rwxr-xr-x" ] || fail "the binary in the platform package is $mode, not executable"

echo "-- install them offline into a Capacitor-like project"
app="$work/my-capacitor-app"
mkdir -p "$app/dist"
cat >"$app/package.json" <<EOF
{ "name": "my-capacitor-app", "version": "1.0.0", "private": true }
EOF
cat >"$app/capacitor.config.json" <<EOF
{ "appId": "com.example.app", "appName": "Example", "webDir": "dist" }
EOF
echo '<!doctype html><title>app</title>' >"$app/dist/index.html"
# npx must find the installed launcher, never fetch one.
export HOME="$work/home" npm_config_cache="$work/npm-cache" npm_config_update_notifier=false npm_config_offline=true
mkdir -p "$HOME"
unset UPDRAFT_SERVER UPDRAFT_API_KEY UPDRAFT_BINARY_PATH
(cd "$app" && npm install --offline --no-audit --no-fund --save-dev "$main_tgz" "$platform_tgz") ||
  fail "npm install --offline of the local tarballs"
[ -x "$app/node_modules/@updraft/cli-$platform/bin/updraft" ] || fail "the platform package's binary is not installed executable"

cd "$app"
echo "-- npx updraft --version"
out=$(npx updraft --version)
echo "$out"
[ "$out" = "updraft $version" ] || fail "--version printed '$out', want 'updraft $version'"

echo "-- npx updraft --help"
npx updraft --help >"$work/help.txt" || fail "--help exited $?"
grep -q 'deploy' "$work/help.txt" || fail "--help does not list deploy"

echo "-- a usage error exits 2"
status=0
npx updraft --no-such-flag >/dev/null 2>&1 || status=$?
[ "$status" = 2 ] || fail "an unknown flag exited $status, want 2"

echo "-- npx updraft doctor with no server exits 1 and says the server is down"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
status=0
npx updraft doctor --server "http://127.0.0.1:$port" --api-key upd_check_only --json >"$work/doctor.json" 2>"$work/doctor.err" || status=$?
cat "$work/doctor.json"
[ "$status" = 1 ] || { cat "$work/doctor.err" >&2; fail "doctor without a server exited $status, want 1"; }
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const server = r.checks.find((c) => c.name === "server");
  if (r.ok !== false || !server || server.status !== "fail") process.exit(1);
' "$work/doctor.json" || fail "doctor --json did not report the server check as failed"

echo "-- a signal to the launcher reaches the binary, and its exit status comes back"
cat >"$work/fake-updraft" <<'EOF'
#!/bin/sh
# Stands in for the binary: exits 7 on SIGTERM, or with the status given as $1.
trap 'exit 7' TERM
[ "$1" = wait ] || exit "$1"
echo $$ >"$(dirname "$0")/fake.pid"
echo ready
while :; do sleep 0.1; done
EOF
chmod +x "$work/fake-updraft"
status=0
UPDRAFT_BINARY_PATH="$work/fake-updraft" node node_modules/@updraft/cli/bin/updraft.js 5 || status=$?
[ "$status" = 5 ] || fail "the launcher exited $status for a binary that exited 5"
UPDRAFT_BINARY_PATH="$work/fake-updraft" node node_modules/@updraft/cli/bin/updraft.js wait >"$work/signal.out" &
launcher=$!
for _ in $(seq 1 50); do grep -q ready "$work/signal.out" && break; sleep 0.1; done
kill -TERM "$launcher"
# Should the signal not reach the binary, the launcher would wait for ever: end it.
(sleep 20 && kill -KILL "$launcher") >/dev/null 2>&1 &
watchdog=$!
status=0
wait "$launcher" 2>/dev/null || status=$?
kill "$watchdog" 2>/dev/null || true
[ "$status" = 7 ] || fail "after SIGTERM the launcher exited $status, want the binary's 7"
printf '#!/bin/sh\nkill -KILL $$\n' >"$work/killed-updraft"
chmod +x "$work/killed-updraft"
# (in an inner shell, so this one prints no "Killed" job report)
status=$(UPDRAFT_BINARY_PATH="$work/killed-updraft" bash -c 'node "$1"; echo $?' _ node_modules/@updraft/cli/bin/updraft.js 2>/dev/null)
[ "$status" = 137 ] || fail "a binary killed by SIGKILL gave status $status, want 137"

echo "-- without the platform package (--omit=optional), a clear error"
rm -rf "node_modules/@updraft/cli-$platform"
status=0
npx updraft --version 2>"$work/missing.err" || status=$?
cat "$work/missing.err"
[ "$status" = 1 ] || fail "a missing platform package exited $status, want 1"
grep -q "npm install --save-dev @updraft/cli-$platform@$version" "$work/missing.err" ||
  fail "the error does not say which package to install"

echo "npm packaging check passed"
