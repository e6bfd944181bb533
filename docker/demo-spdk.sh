#!/bin/sh
# The demo against SPDK's vhost target in a container: SPDK 26.01 serves a virtio-blk controller
# (malloc bdev, 512-byte blocks) and a virtio-scsi controller with two targets (512- and 4096-byte
# malloc bdevs); jvirtio attaches both through an SPDK JSON config, prints bdev_get_bdevs, runs 5 s
# of verify (write, read back, compare) on every bdev, and prints save_config.
#
#   docker/demo-spdk.sh [--image IMAGE]
#
# Needs root (hugetlbfs, the engine) and Docker. The image is jvirtio/spdk for today's inputs
# (docker/build.sh spdk builds it when missing: about 5 minutes), or --image / $JVIRTIO_SPDK_IMAGE.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
image=${JVIRTIO_SPDK_IMAGE-}
[ "${1-}" = --image ] && image=$2
command -v docker >/dev/null || { echo "demo-spdk: docker not found (see docker/README.md)" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "demo-spdk: no Docker engine answers (start dockerd, see docker/README.md)" >&2; exit 1; }
if [ -z "$image" ]; then
  image=$("$here/build.sh" --print-tag spdk)
  docker image inspect "$image" >/dev/null 2>&1 || "$here/build.sh" spdk
fi
if ! grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
  mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages
fi
[ "$(cat /proc/sys/vm/nr_hugepages)" -ge 512 ] || echo 512 > /proc/sys/vm/nr_hugepages

work=$(mktemp -d /tmp/jvirtio-demo-spdk.XXXXXX)
name=jvirtio-demo-spdk-$$
trap 'docker rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT INT TERM
cat > "$work/rpc.json" <<'JSON'
[{"method": "bdev_malloc_create", "params": {"name": "Malloc0", "num_blocks": 131072, "block_size": 512}},
 {"method": "vhost_create_blk_controller", "params": {"ctrlr": "vhost.blk0", "dev_name": "Malloc0"}},
 {"method": "bdev_malloc_create", "params": {"name": "Malloc1", "num_blocks": 131072, "block_size": 512}},
 {"method": "bdev_malloc_create", "params": {"name": "Malloc2", "num_blocks": 16384, "block_size": 4096}},
 {"method": "vhost_create_scsi_controller", "params": {"ctrlr": "vhost.scsi0"}},
 {"method": "vhost_scsi_controller_add_target", "params": {"ctrlr": "vhost.scsi0", "scsi_target_num": 0, "bdev_name": "Malloc1"}},
 {"method": "vhost_scsi_controller_add_target", "params": {"ctrlr": "vhost.scsi0", "scsi_target_num": 1, "bdev_name": "Malloc2"}}]
JSON
cat > "$work/bdev.json" <<JSON
{"subsystems": [{"subsystem": "bdev", "config": [
  {"method": "bdev_virtio_attach_controller",
   "params": {"name": "VirtioBlk0", "trtype": "user", "traddr": "$work/vhost.blk0", "dev_type": "blk", "vq_count": 1, "vq_size": 256}},
  {"method": "bdev_virtio_attach_controller",
   "params": {"name": "VirtioScsi0", "trtype": "user", "traddr": "$work/vhost.scsi0", "dev_type": "scsi", "vq_count": 2, "vq_size": 256}}]}]}
JSON
docker run -d --name "$name" --cap-add SYS_NICE --network none -v /dev/hugepages:/dev/hugepages -v "$work:/var/tmp" \
  -e SPDK_RPC_CONFIG=/var/tmp/rpc.json "$image" >/dev/null
i=0
until [ -f "$work/.jvirtio-spdk-ready" ]; do
  i=$((i + 1))
  if [ "$i" -gt 300 ] || [ "$(docker inspect -f '{{.State.Running}}' "$name")" != true ]; then
    docker logs "$name" >&2 || true
    echo "demo-spdk: the SPDK container did not become ready" >&2
    exit 1
  fi
  sleep 0.2
done
echo "demo-spdk: SPDK vhost ($image) serves $work/vhost.blk0 and $work/vhost.scsi0"
echo "== bdev_get_bdevs"
"$repo/jvirtio" bdevs --json "$work/bdev.json"
echo "== verify: write, read back, compare on every bdev"
"$repo/jvirtio" perf --json "$work/bdev.json" --hugepages require -w verify -q 8 -o 4096 -t 5
echo "== save_config"
"$repo/jvirtio" save-config --json "$work/bdev.json"
echo "demo-spdk: ok"
