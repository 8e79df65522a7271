#!/usr/bin/env bash
# Checks packaging/systemd/updraft-server.service without booting systemd:
#  1. `systemd-analyze verify` in a scratch root holding the unit, the binary and
#     the environment file (no warnings allowed);
#  2. `systemd-analyze security --offline` prints the exposure score;
#  3. the server, run under strace through a first hour (packaging/smoke.sh), a
#     `migrate`, an `admin create-key` and a SIGTERM, makes no system call that the
#     unit's SystemCallFilter= denies.
# Needs systemd-analyze (package systemd), strace, setpriv, curl and python3; run as root.
#
# usage: packaging/systemd/check.sh [DIR-WITH-updraft-server]   (default target/debug)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(cd "${1:-$root/target/debug}" && pwd)/updraft-server
unit="$here/updraft-server.service"
[ -x "$bin" ] || { echo "error: no updraft-server binary at $bin" >&2; exit 1; }
for tool in systemd-analyze strace curl python3; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "-- systemd-analyze verify"
sd="$work/root"
mkdir -p "$sd/usr/local/bin" "$sd/etc/systemd/system" "$sd/etc/updraft" "$sd/usr/lib/systemd"
cp -a /lib/systemd/system "$sd/usr/lib/systemd/"
cp "$bin" "$sd/usr/local/bin/updraft-server"
cp "$unit" "$sd/etc/systemd/system/"
cp "$here/server.env.example" "$sd/etc/updraft/server.env"
systemd-analyze verify --root="$sd" updraft-server.service >"$work/verify.log" 2>&1 || true
if [ -s "$work/verify.log" ]; then
  cat "$work/verify.log" >&2
  echo "systemd check FAILED: systemd-analyze verify complained" >&2
  exit 1
fi

echo "-- systemd-analyze security"
systemd-analyze security --offline=yes --root="$sd" updraft-server.service 2>&1 | tail -n 1

echo "-- system calls of a first hour against the unit's SystemCallFilter="
# What the unit allows: the allow lists, less the deny lists (lines starting with ~).
allowed=$(
  python3 - "$unit" <<'EOF'
import re, subprocess, sys
allow, deny = set(), set()
def expand(item):
    if not item.startswith("@"):
        return {item}
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", item],
                         check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines()[1:]:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        names |= expand(line)
    return names
for line in open(sys.argv[1]):
    m = re.match(r"SystemCallFilter=(~?)(.*)", line.strip())
    if not m:
        continue
    names = set().union(*(expand(i) for i in m.group(2).split()))
    (deny if m.group(1) else allow).update(names)
print("\n".join(sorted(allow - deny)))
EOF
)
# As an unprivileged user, as under the unit's User= (SQLite, for one, calls fchown
# only as root).
run_as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
trace=(strace -f -qq)
data="$work/data"
chmod 0711 "$work"
mkdir -p "$data" "$work/traces"
chown 65534:65534 "$data" "$work/traces"
key=upd_systemd_check_0123456789abcdef
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
export UPDRAFT_DATA_DIR="$data" UPDRAFT_LISTEN="127.0.0.1:$port" UPDRAFT_BOOTSTRAP_API_KEY="$key"
"${run_as[@]}" "${trace[@]}" -o "$work/traces/migrate" "$bin" migrate >/dev/null
"${run_as[@]}" "${trace[@]}" -o "$work/traces/serve" "$bin" serve >"$work/serve.log" 2>&1 &
tracer=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
server_pid=$(pgrep -P "$tracer")
"$root/packaging/smoke.sh" "http://127.0.0.1:$port" "$key" "http://127.0.0.1:$port/files/" >/dev/null
"${run_as[@]}" "${trace[@]}" -o "$work/traces/admin" "$bin" admin create-key --name check >/dev/null 2>&1
kill -TERM "$server_pid"
timeout 60 tail --pid="$server_pid" -f /dev/null
server_pid=
wait "$tracer" || true
cat "$work"/traces/* |
  sed -n 's/^[0-9]* *\([a-z_0-9]*\)(.*/\1/p' | sort -u >"$work/used"
denied=$(comm -23 "$work/used" <(echo "$allowed"))
if [ -n "$denied" ]; then
  echo "systemd check FAILED: the server made system calls the unit's filter denies:" >&2
  echo "$denied" >&2
  exit 1
fi
echo "$(wc -l <"$work/used") distinct system calls, all allowed"
echo "systemd unit check passed"
