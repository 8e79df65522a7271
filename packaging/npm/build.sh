#!/usr/bin/env bash
# Builds the npm packages of the updraft CLI with `npm pack`:
#   @updraft/cli              the launcher (bin/updraft.js) with optionalDependencies on
#   @updraft/cli-<os>-<cpu>   one package per platform, holding the binary (os/cpu fields)
#
# usage: packaging/npm/build.sh VERSION DIR OUT_DIR
#   VERSION  the workspace version (Cargo.toml [workspace.package] version), e.g. 0.1.0
#   DIR      either cargo-dist's archives (updraft-cli-<target>.tar.xz / .zip), one per
#            platform to package, or a directory holding a plain `updraft` binary (for
#            this machine's platform only, e.g. target/debug)
#   OUT_DIR  where the .tgz files go (created)
# With REQUIRE_ALL_PLATFORMS=1 (the release), a platform without an archive is an error.
# Needs node, npm, tar (and xz), and unzip for the Windows archive.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 VERSION DIR-WITH-BINARIES-OR-ARCHIVES OUT-DIR" >&2
  exit 2
fi
version=$1
src=$(cd "$2" && pwd)
mkdir -p "$3"
out=$(cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo_root=$(cd "$here/../.." && pwd)

if ! [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "error: version $version is not semver (MAJOR.MINOR.PATCH[-PRE])" >&2
  exit 2
fi

# npm platform -> os, cpu, Rust targets to take the binary from (first found wins).
# Linux prefers the static musl build: it runs on any distribution, Alpine images included.
platforms=(
  "linux-x64    linux  x64   x86_64-unknown-linux-musl x86_64-unknown-linux-gnu"
  "linux-arm64  linux  arm64 aarch64-unknown-linux-musl aarch64-unknown-linux-gnu"
  "darwin-x64   darwin x64   x86_64-apple-darwin"
  "darwin-arm64 darwin arm64 aarch64-apple-darwin"
  "win32-x64    win32  x64   x86_64-pc-windows-msvc"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Copies the binary for one platform into $2 and prints where it came from;
# returns 1 when there is none, 2 when an archive is broken.
find_binary() {
  local npm_platform=$1 dest=$2 exe=updraft
  shift 2
  [ "${npm_platform%%-*}" = win32 ] && exe=updraft.exe
  local target archive
  for target in "$@"; do
    for archive in "$src/updraft-cli-$target.tar.xz" "$src/updraft-cli-$target.tar.gz" "$src/updraft-cli-$target.zip"; do
      [ -f "$archive" ] || continue
      local unpack="$work/unpack-$target"
      mkdir -p "$unpack"
      case "$archive" in
        *.zip) unzip -q "$archive" -d "$unpack" ;;
        *) tar -xf "$archive" -C "$unpack" ;;
      esac
      local found
      found=$(find "$unpack" -type f -name "$exe" | head -n 1)
      if [ -z "$found" ]; then
        echo "error: $archive has no $exe" >&2
        return 2
      fi
      cp "$found" "$dest/$exe"
      echo "$target ($(basename "$archive"))"
      return 0
    done
  done
  # A plain binary is this machine's own build.
  local host
  host=$(node -p 'process.platform + "-" + process.arch')
  if [ "$npm_platform" = "$host" ] && [ -f "$src/$exe" ]; then
    cp "$src/$exe" "$dest/$exe"
    echo "$src/$exe"
    return 0
  fi
  return 1
}

pack() {
  (cd "$1" && npm pack --silent --pack-destination "$out" >/dev/null)
}

optional_deps=()
built=0
for line in "${platforms[@]}"; do
  read -r npm_platform os cpu targets <<<"$line"
  # shellcheck disable=SC2086 # targets is a list
  set -- $targets
  dir="$work/cli-$npm_platform"
  mkdir -p "$dir/bin"
  from=$(find_binary "$npm_platform" "$dir/bin" "$@") && found=0 || found=$?
  [ "$found" = 2 ] && exit 1
  if [ "$found" != 0 ]; then
    if [ "${REQUIRE_ALL_PLATFORMS:-0}" = 1 ]; then
      echo "error: no updraft binary for $npm_platform in $src (looked for updraft-cli-{$(echo "$targets" | tr ' ' ',')}.tar.xz/.zip)" >&2
      exit 1
    fi
    echo "skipped @updraft/cli-$npm_platform: no binary for it in $src" >&2
    # The launcher still lists it: whoever installs on that platform gets it from the registry.
    optional_deps+=("@updraft/cli-$npm_platform")
    continue
  fi
  chmod 0755 "$dir/bin/"updraft*
  cp "$repo_root/LICENSE" "$dir/LICENSE"
  node - "$dir/package.json" "$version" "$npm_platform" "$os" "$cpu" <<'EOF'
const [file, version, platform, os, cpu] = process.argv.slice(2);
const pkg = {
  name: `@updraft/cli-${platform}`,
  version,
  description: `The updraft CLI binary for ${os} ${cpu}; install @updraft/cli, which picks it.`,
  license: 'Apache-2.0',
  os: [os],
  cpu: [cpu],
  files: ['bin/', 'LICENSE'],
  preferUnplugged: true,
};
require('fs').writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
EOF
  pack "$dir"
  echo "@updraft/cli-$npm_platform $version  <- $from"
  optional_deps+=("@updraft/cli-$npm_platform")
  built=$((built + 1))
done

if [ "$built" = 0 ]; then
  echo "error: no binary found in $src for any platform" >&2
  exit 1
fi

main="$work/cli"
cp -R "$here/cli" "$main"
cp "$repo_root/LICENSE" "$main/LICENSE"
node - "$main/package.json" "$version" "${optional_deps[@]}" <<'EOF'
const [file, version, ...deps] = process.argv.slice(2);
const fs = require('fs');
const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
pkg.version = version;
pkg.optionalDependencies = Object.fromEntries(deps.map((d) => [d, version]));
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
EOF
pack "$main"
echo "@updraft/cli $version"
ls -1 "$out"
