#!/usr/bin/env bash
# Delta updates on a real release series: consecutive published versions of
# an npm package that is itself a web app (default swagger-ui-dist: an
# index.html with its JS, CSS and source maps, ~12 MB), laid out as bundles,
# plus one minimal change (one line appended to the largest JS file of the
# last version). For each update, from `updraft bundle diff --json`: bytes of
# the whole zip, of the manifest delta (what the stock plugin downloads), of
# the patches (what updraft-device downloads), the time to build and to apply
# the patches; and as references, bsdiff and `zstd --patch-from` (level 19,
# long mode) run directly on each changed file (added files counted as their
# Brotli stream in every column). Apply time is compared with downloading the
# whole zip at 10 Mbit/s.
# Knobs: PKG (swagger-ui-dist), VERSIONS (the last 5 published), BIN
# (target/release/updraft). Needs the npm registry; installs bsdiff and zstd
# (Debian) when missing. Tarballs are kept in bench/.cache/.
set -euo pipefail
cd "$(dirname "$0")/.."
PKG=${PKG:-swagger-ui-dist}
BIN=${BIN:-target/release/updraft}
missing=()
command -v bsdiff >/dev/null || missing+=(bsdiff)
command -v zstd >/dev/null || missing+=(zstd)
if [ ${#missing[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; fi
[ "$BIN" != target/release/updraft ] || cargo build --release -q --locked -p updraft-cli --bin updraft
if [ -z "${VERSIONS:-}" ]; then
  VERSIONS=$(npm view "$PKG" versions --json | python3 -c '
import json, re, sys
v = [x for x in json.load(sys.stdin) if re.fullmatch(r"\d+\.\d+\.\d+", x)]
print(" ".join(v[-5:]))')
fi
cache=bench/.cache/delta/$PKG
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prev=
for v in $VERSIONS; do
  if [ ! -d "$cache/$v" ]; then
    (cd "$work" && npm pack -q "$PKG@$v" >/dev/null)
    mkdir -p "$cache/$v.tmp" && tar xzf "$work"/*.tgz -C "$cache/$v.tmp" && rm "$work"/*.tgz
    mv "$cache/$v.tmp/package" "$cache/$v" && rm -rf "$cache/$v.tmp"
  fi
  [ -n "$prev" ] && echo "$prev $v" >>"$work/pairs"
  prev=$v
done
# The minimal change: one line appended to the largest JS file.
rm -rf "$work/minimal" && cp -r "$cache/$prev" "$work/minimal"
big=$(cd "$work/minimal" && find . -name '*.js' -printf '%s %P\n' | sort -n | tail -1 | cut -d' ' -f2)
echo "console.log('one more line');" >>"$work/minimal/$big"
echo "$prev minimal" >>"$work/pairs"

echo "| update | zip | manifest delta | patches | bsdiff | zstd --patch-from | patches / zip | build | apply | zip at 10 Mbit/s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
while read -r a b; do
  from=$cache/$a
  to=$cache/$b
  [ "$b" = minimal ] && to=$work/minimal
  "$BIN" --json bundle diff "$from" "$to" >"$work/diff.json"
  python3 - "$work/diff.json" "$from" "$to" "$a → $b" <<'PY'
import json, os, subprocess, sys, tempfile
d = json.load(open(sys.argv[1]))
src, dst, label = sys.argv[2], sys.argv[3], sys.argv[4]
ref = {"bsdiff": 0, "zstd": 0}
with tempfile.TemporaryDirectory() as t:
    for f in d["download"]:
        name = f["file_name"][:-3] if f["brotli"] else f["file_name"]
        if f["status"] != "changed":
            for k in ref:
                ref[k] += f["download_bytes"]
            continue
        old, new = os.path.join(src, name), os.path.join(dst, name)
        subprocess.run(["bsdiff", old, new, t + "/p.bsd"], check=True)
        subprocess.run(["zstd", "-q", "-f", "--ultra", "-19", "--long=27",
                        "--patch-from=" + old, new, "-o", t + "/p.zst"],
                       check=True, stderr=subprocess.DEVNULL)
        ref["bsdiff"] += os.path.getsize(t + "/p.bsd")
        ref["zstd"] += os.path.getsize(t + "/p.zst")
kib = lambda n: f"{n / 1024:,.1f} KiB"
zip_ = d["zip_bytes"]
pct = lambda n: f"{100 * n / zip_:.1f} %"
at10 = zip_ * 8 / 10e6 * 1000
print(f"| {label} | {kib(zip_)} | {kib(d['manifest_bytes'])} ({pct(d['manifest_bytes'])}) "
      f"| {kib(d['patch_bytes'])} | {kib(ref['bsdiff'])} | {kib(ref['zstd'])} "
      f"| {pct(d['patch_bytes'])} | {d['patch_build_ms']} ms | {d['patch_apply_ms']} ms "
      f"| {at10:,.0f} ms |")
PY
done <"$work/pairs"
