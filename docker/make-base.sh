#!/bin/sh
# Makes the local base image (default local/debian:bookworm) with debootstrap + docker import, for
# machines that reach Debian's mirror but no image registry. Does nothing when the image exists.
#   docker/make-base.sh [IMAGE]
set -eu
image=${1:-local/debian:bookworm}
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "make-base: $image exists"
  exit 0
fi
command -v debootstrap >/dev/null 2>&1 || { echo "make-base: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "make-base: no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list" >&2; exit 1; }
rootfs=$(mktemp -d /tmp/jvirtio-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
start=$(date +%s)
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"
# apt's downloaded .debs and lists are about 80 MB of the 199 MB rootfs: left out of the image.
tar -C "$rootfs" --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*' \
    --exclude='./var/cache/apt/*.bin' -c . | docker import - "$image" >/dev/null
echo "make-base: made $image from $mirror in $(( $(date +%s) - start )) s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%d MB", $1/1000000}'))"
