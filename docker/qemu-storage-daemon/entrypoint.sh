#!/bin/sh
# Exports one vhost-user-blk device with qemu-storage-daemon and says "jvirtio-qsd: ready" once its
# socket listens.
#   IMAGE --file PATH | --null SIZE_BYTES   the store: a raw image file (created at --size when
#                                           missing) or null-co (reads zeroes)
#         [--size BYTES] [--socket PATH] [--num-queues N] [--read-only] [--logical-block-size N]
#   IMAGE sh ...                            any command that is not an option runs as it is
# Defaults: --socket /var/tmp/vhost.blk0, --num-queues 1.
set -eu
case "${1-}" in
  ""|-*) ;;
  *) exec "$@" ;;
esac

file="" null="" size="" socket=/var/tmp/vhost.blk0 queues=1 writable=on lbs=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --file) file=$2; shift 2 ;;
    --null) null=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --socket) socket=$2; shift 2 ;;
    --num-queues) queues=$2; shift 2 ;;
    --read-only) writable=off; shift ;;
    --logical-block-size) lbs=$2; shift 2 ;;
    *) echo "jvirtio-qsd: unknown option '$1'" >&2; exit 2 ;;
  esac
done
# QEMU's option syntax doubles a comma inside a value.
esc() { printf '%s' "$1" | sed 's/,/,,/g'; }
if [ -n "$file" ]; then
  if [ ! -e "$file" ]; then
    [ -n "$size" ] || { echo "jvirtio-qsd: $file does not exist and no --size was given" >&2; exit 2; }
    truncate -s "$size" "$file"
  fi
  blockdev="driver=file,node-name=disk0,discard=unmap,filename=$(esc "$file")"
elif [ -n "$null" ]; then
  blockdev="driver=null-co,node-name=disk0,size=$null,read-zeroes=on"
else
  echo "jvirtio-qsd: give --file PATH or --null SIZE_BYTES" >&2
  exit 2
fi
export_opts="type=vhost-user-blk,id=exp0,node-name=disk0,addr.type=unix,addr.path=$(esc "$socket"),writable=$writable,num-queues=$queues"
[ -z "$lbs" ] || export_opts="$export_opts,logical-block-size=$lbs"
rm -f "$socket"
qemu-storage-daemon --blockdev "$blockdev" --export "$export_opts" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 0' TERM INT
i=0
until [ -S "$socket" ]; do
  if ! kill -0 "$pid" 2>/dev/null; then wait "$pid" || exit $?; exit 1; fi
  i=$((i + 1)); [ "$i" -le 300 ] || { echo "jvirtio-qsd: $socket did not appear within 30 s" >&2; exit 1; }
  sleep 0.1
done
echo "jvirtio-qsd: ready"
wait "$pid"
