#!/usr/bin/env bash
# fetch-kernel.sh [CACHE_DIR] — download Debian's current amd64 kernel
# package and unpack it into CACHE_DIR/<package>/ without installing it (the
# host's /boot and /lib/modules are never touched). Idempotent: an already
# unpacked version is reused. Prints the unpacked directory; inside it,
# boot/vmlinuz-<kver> and lib/modules/<kver>/ are what `hafw build --kernel
# --modules` take. CACHE_DIR defaults to .cache/kernel of the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${1:-.cache/kernel}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"

# Resolve the metapackage linux-image-amd64 to the versioned image package.
pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
if [ -z "$pkg" ]; then
  echo "fetch-kernel: linux-image-amd64 unknown to apt; running apt-get update" >&2
  apt-get update -qq >&2
  pkg="$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
fi
[ -n "$pkg" ] || { echo "fetch-kernel: cannot resolve linux-image-amd64" >&2; exit 1; }

dest="$cache/$pkg"
if [ -f "$dest/.complete" ]; then
  echo "$dest"
  exit 0
fi

work="$(mktemp -d "$cache/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT
( cd "$work" && apt-get download -q "$pkg" >&2 )
deb="$(ls "$work"/*.deb)"
mkdir "$work/root"
dpkg-deb -x "$deb" "$work/root"
sha256sum "$deb" | awk '{print $1}' > "$work/root/.deb-sha256"
basename "$deb" > "$work/root/.deb-name"
touch "$work/root/.complete"
rm -rf "$dest"
mv "$work/root" "$dest"
echo "$dest"
