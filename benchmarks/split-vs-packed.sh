#!/bin/sh
# jvirtio perf on split and on packed rings against the same Java target (its queue threads
# polling pinned to CPU 0; features-off=RING_PACKED for split), perf pinned to CPU 1, 4 KiB
# randread at QD1 and QD32 for 5 s, two rounds alternating. Needs 2 CPUs.
# Usage: benchmarks/split-vs-packed.sh
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
sock=$(mktemp -u /tmp/jvirtio-rings.XXXXXX.sock)
cd "$repo"
for round in 1 2; do
  for ring in split packed; do
    rm -f "$sock"
    extra=""; [ "$ring" = split ] && extra=",features-off=RING_PACKED"
    ./jvirtio target -m 0x1 --socket "$sock" --blk "ram:256M,queues=1$extra" > /dev/null 2>&1 &
    tp=$!
    i=0; until [ -S "$sock" ]; do i=$((i + 1)); [ "$i" -lt 300 ] || { echo "the target did not start" >&2; exit 1; }; sleep 0.2; done
    echo "== round $round, $ring ring"
    taskset -c 1 ./jvirtio perf --socket "$sock" --target-pid "$tp" -w randread -o 4096 -q 1,32 -t 5
    kill "$tp"; wait "$tp" 2>/dev/null || true
  done
done
rm -f "$sock"
