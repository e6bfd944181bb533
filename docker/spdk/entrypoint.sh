#!/bin/sh
# Starts SPDK's vhost target, applies the JSON-RPC calls given at run time, and says "ready" once
# every controller socket exists.
#
#   docker run ... IMAGE                     vhost with VHOST_ARGS, then the calls in SPDK_RPC_CONFIG
#   docker run ... IMAGE bdevperf ...        any other command in the image (bdevperf, rpc.py, sh)
#
# SPDK_RPC_CONFIG: a file path or the JSON text itself, a list of {"method": ..., "params": ...}
#   (SPDK's JSON-RPC calls, e.g. bdev_malloc_create, vhost_create_blk_controller,
#   vhost_create_scsi_controller, vhost_scsi_controller_add_target), applied in order.
# VHOST_ARGS: vhost's command line; default "-S /var/tmp -m 0x1 -s 256".
# Readiness: the line "jvirtio-spdk: ready" on stdout and the file /var/tmp/.jvirtio-spdk-ready.
set -eu

if [ "$#" -gt 0 ]; then
  exec "$@"
fi

sock_dir=/var/tmp
rpc_sock=$sock_dir/spdk.sock
rm -f "$sock_dir/.jvirtio-spdk-ready"
# shellcheck disable=SC2086
vhost ${VHOST_ARGS:--S $sock_dir -m 0x1 -s 256} -r "$rpc_sock" &
vhost_pid=$!
trap 'kill -TERM "$vhost_pid" 2>/dev/null; wait "$vhost_pid"; exit 0' TERM INT

i=0
until [ -S "$rpc_sock" ]; do
  if ! kill -0 "$vhost_pid" 2>/dev/null; then
    echo "jvirtio-spdk: vhost exited before its RPC socket $rpc_sock appeared" >&2
    exit 1
  fi
  i=$((i + 1))
  if [ "$i" -gt 600 ]; then
    echo "jvirtio-spdk: vhost's RPC socket $rpc_sock did not appear within 60 s" >&2
    exit 1
  fi
  sleep 0.1
done

if [ -n "${SPDK_RPC_CONFIG-}" ]; then
  if ! python3 /opt/spdk/apply-rpc.py "$rpc_sock" "$sock_dir" "$SPDK_RPC_CONFIG"; then
    echo "jvirtio-spdk: applying SPDK_RPC_CONFIG failed; stopping vhost" >&2
    kill -TERM "$vhost_pid" 2>/dev/null || true
    wait "$vhost_pid" || true
    exit 1
  fi
fi
touch "$sock_dir/.jvirtio-spdk-ready"
echo "jvirtio-spdk: ready"
wait "$vhost_pid"
