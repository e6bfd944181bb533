#!/bin/sh
# jvirtio perf in each completion mode against the Java target, with the CPU of both processes:
# the target's queue threads polling pinned to CPU 0 (-m 0x1) or waiting for kicks; perf pinned to
# CPU 1; 4 KiB randread at QD1 and QD32 for 3 s each (after perf's 1 s warm-up), then 1,000 IOPS
# (--rate) polling and in interrupt mode. Needs 2 CPUs. Usage: benchmarks/completion-modes.sh
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
sock=$(mktemp -u /tmp/jvirtio-modes.XXXXXX.sock)
cd "$repo"
for tmode in poll kick; do
  rm -f "$sock"
  if [ "$tmode" = poll ]; then ./jvirtio target -m 0x1 --socket "$sock" --blk ram:256M,queues=1 > /dev/null 2>&1 &
  else taskset -c 0 ./jvirtio target --socket "$sock" --blk ram:256M,queues=1 > /dev/null 2>&1 & fi
  tp=$!
  i=0; until [ -S "$sock" ]; do i=$((i + 1)); [ "$i" -lt 300 ] || { echo "the target did not start" >&2; exit 1; }; sleep 0.2; done
  for cm in polling interrupt adaptive; do
    echo "== target $tmode, completion $cm"
    taskset -c 1 ./jvirtio perf --socket "$sock" --target-pid "$tp" -w randread -o 4096 -q 1,32 -t 3 --completion "$cm"
  done
  for cm in polling interrupt; do
    echo "== target $tmode, completion $cm, --rate 1000"
    taskset -c 1 ./jvirtio perf --socket "$sock" --target-pid "$tp" -w randread -o 4096 -q 1 -t 3 --rate 1000 --completion "$cm"
  done
  kill "$tp"; wait "$tp" 2>/dev/null || true
done
rm -f "$sock"
