#!/bin/sh
# jvirtio's initiator against SPDK's own (bdev_virtio in bdevperf), on the same SPDK vhost
# controllers, one after the other, N rounds each; prints the IOPS and p99.9 latency of both and
# their ratios.
#
#   docker/side-by-side.sh [--rounds N] [--time SECONDS] [--image IMAGE] [--keep-logs DIR] [--java-target]
#
# Defaults: 3 rounds of 10 s for each workload — 4 KiB randread at QD1 and QD32, 4 KiB randwrite
# at QD32, 64 KiB read at QD8 (SBS_WORKLOADS="pattern io_size qd" lines to choose others) — on a
# blk and a scsi controller (malloc bdevs of 64 MiB, 512-byte blocks). Both tools measure latency
# from submit to completion into a histogram (bdevperf's bdev-layer histogram, printed with -l;
# jvirtio's HdrHistogram). jvirtio perf runs each job 1 s unmeasured first (--warmup, fio's
# ramp_time) so the JIT has compiled the I/O path; bdevperf, compiled ahead of time, needs none. The image is jvirtio/spdk for today's
# inputs (docker/build.sh spdk builds it when missing), or --image / $JVIRTIO_SPDK_IMAGE.
#
# Cores: vhost (the target) polls core 0 inside the container; bdevperf runs on core 1 (-m 0x2)
# and jvirtio perf is pinned to core 1 with taskset, so both initiators get the same one core and
# never run at once. Order alternates each round (bdevperf first, then jvirtio first). Each
# initiator attaches with its own request queue of 256 entries, hugepage memory on both sides.
#
# --java-target adds a third column: jvirtio perf against jvirtio's own Java target (./jvirtio target,
# queue threads polling on core 0 with -m 0x1; RAM disks of the same size and block size), with the
# SPDK container paused meanwhile (its reactor spins on core 0 too), and the ratio jvirtio-on-Java-
# target / jvirtio-on-SPDK-target: how far the Java target is from being what users measure.
#
# Needs root (hugetlbfs, the engine), Docker, python3 and 2 or more cores. The IOPS ratio is
# jvirtio / bdevperf of the median round: above 1 means jvirtio did more I/O per second.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
rounds=3
seconds=10
image=${JVIRTIO_SPDK_IMAGE-}
keep=""
java_target=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --time) seconds=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --keep-logs) keep=$2; shift 2 ;;
    --java-target) java_target=1; shift ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "side-by-side.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$rounds$seconds" in *[!0-9]*) echo "side-by-side.sh: --rounds and --time take whole numbers" >&2; exit 2 ;; esac
[ "$(nproc)" -ge 2 ] || { echo "side-by-side.sh: needs 2 cores (target on core 0, initiator on core 1); this machine has $(nproc)" >&2; exit 1; }
command -v docker >/dev/null || { echo "side-by-side.sh: docker not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "side-by-side.sh: python3 not found" >&2; exit 1; }

if [ -z "$image" ]; then
  image=$("$here/build.sh" --print-tag spdk)
  docker image inspect "$image" >/dev/null 2>&1 || "$here/build.sh" spdk >&2
fi
docker image inspect "$image" >/dev/null 2>&1 || { echo "side-by-side.sh: image $image not in the engine" >&2; exit 1; }

# Hugepages: vhost (-s 256) and bdevperf (-s 256) take 128 pages each, jvirtio perf its memory domain.
if ! grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
  mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages
fi
if [ "$(cat /proc/sys/vm/nr_hugepages)" -lt 1024 ]; then
  echo 1024 > /proc/sys/vm/nr_hugepages
fi

work=$(mktemp -d /tmp/jvirtio-sbs.XXXXXX)
name=jvirtio-sbs-$$
jt_pid=""
cleanup() {
  [ -z "$jt_pid" ] || kill "$jt_pid" 2>/dev/null || true
  docker rm -f "$name" >/dev/null 2>&1 || true
  if [ -n "$keep" ]; then mkdir -p "$keep" && cp "$work"/*.log "$keep"/ 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

cat > "$work/rpc.json" <<'EOF'
[{"method": "bdev_malloc_create", "params": {"name": "Malloc0", "num_blocks": 131072, "block_size": 512}},
 {"method": "vhost_create_blk_controller", "params": {"ctrlr": "vhost.blk0", "dev_name": "Malloc0"}},
 {"method": "bdev_malloc_create", "params": {"name": "Malloc1", "num_blocks": 131072, "block_size": 512}},
 {"method": "vhost_create_scsi_controller", "params": {"ctrlr": "vhost.scsi0"}},
 {"method": "vhost_scsi_controller_add_target", "params": {"ctrlr": "vhost.scsi0", "scsi_target_num": 0, "bdev_name": "Malloc1"}}]
EOF
# One attach config per initiator and device type: the same controller, seen from inside the
# container (bdevperf) and from the host (jvirtio). bdevperf's app thread takes a queue of its
# own besides the job's, so it is given two; jvirtio's one job uses one.
attach_config() { # FILE DIR TYPE SOCKET QUEUES
  cat > "$1" <<EOF
{"subsystems": [{"subsystem": "bdev", "config": [{"method": "bdev_virtio_attach_controller",
  "params": {"name": "Virtio${3}0", "trtype": "user", "traddr": "$2/$4", "dev_type": "$(echo "$3" | tr 'A-Z' 'a-z')", "vq_count": $5, "vq_size": 256}}]}]}
EOF
}
attach_config "$work/bdevperf-blk.json" /var/tmp Blk vhost.blk0 2
attach_config "$work/bdevperf-scsi.json" /var/tmp Scsi vhost.scsi0 2
attach_config "$work/jvirtio-blk.json" "$work" Blk vhost.blk0 1
attach_config "$work/jvirtio-scsi.json" "$work" Scsi vhost.scsi0 1

docker run -d --name "$name" --cap-add SYS_NICE --network none -v /dev/hugepages:/dev/hugepages -v "$work:/var/tmp" \
  -e SPDK_RPC_CONFIG=/var/tmp/rpc.json -e VHOST_ARGS="-S /var/tmp -m 0x1 -s 256" "$image" >/dev/null
i=0
until [ -f "$work/.jvirtio-spdk-ready" ]; do
  i=$((i + 1))
  if [ "$i" -gt 300 ] || [ "$(docker inspect -f '{{.State.Running}}' "$name")" != true ]; then
    docker logs "$name" >&2 || true
    echo "side-by-side.sh: the SPDK container did not become ready" >&2
    exit 1
  fi
  sleep 0.2
done

# The jvirtio command line is built once, before any measurement.
"$repo/jvirtio" --help >/dev/null || { echo "side-by-side.sh: could not build ./jvirtio" >&2; exit 1; }

if [ -n "$java_target" ]; then
  JVIRTIO_JAVA_OPTS="-XX:MaxDirectMemorySize=1g" "$repo/jvirtio" target -m 0x1 \
    --blk ram:64M,bs=512 --socket "$work/java.blk0" --scsi ram:64M,bs=512 --socket "$work/java.scsi0" > "$work/java-target.log" 2>&1 &
  jt_pid=$!
  i=0
  until [ -S "$work/java.blk0" ] && [ -S "$work/java.scsi0" ]; do
    i=$((i + 1)); [ "$i" -lt 300 ] && kill -0 "$jt_pid" 2>/dev/null || { cat "$work/java-target.log" >&2; echo "side-by-side.sh: the Java target did not start" >&2; exit 1; }
    sleep 0.2
  done
  for t in blk scsi; do
    sed "s|$work/vhost.${t}0|$work/java.${t}0|" "$work/jvirtio-$t.json" > "$work/jvirtio-java-$t.json"
  done
fi

# WORKLOADS: "pattern io_size qd" triples; bdevperf's -w names, which jvirtio perf takes too.
workloads=${SBS_WORKLOADS:-"randread 4096 1
randread 4096 32
randwrite 4096 32
read 65536 8"}

bdevperf_run() { # TYPE PATTERN SIZE QD LOG -> "IOPS P99.9_US"
  docker exec "$name" bdevperf -r /var/tmp/bdevperf.sock -m 0x2 -s 256 -g --json "/var/tmp/bdevperf-$1.json" \
    -q "$4" -o "$3" -w "$2" -t "$seconds" -l > "$5" 2>&1 || { cat "$5" >&2; echo "side-by-side.sh: bdevperf failed" >&2; exit 1; }
  # bdevperf's live counter ends its lines with CR; the summary line is "Total : IOPS MiB/s ...";
  # -l adds the latency summary of the job's histogram: " 99.90000% :    12.345us"
  v=$(tr '\r' '\n' < "$5" | awk '$1 == "Total" { print $3 }')
  p=$(tr '\r' '\n' < "$5" | awk '$1 == "99.90000%" { sub("us", "", $3); print $3; exit }')
  case "$v" in
    ''|*[!0-9.]*) cat "$5" >&2; echo "side-by-side.sh: no IOPS in bdevperf's output ($5)" >&2; exit 1 ;;
  esac
  echo "$v ${p:-nan}"
}
jvirtio_run() { # TYPE PATTERN SIZE QD LOG -> "IOPS P99.9_US"
  taskset -c 1 "$repo/jvirtio" perf --json "$work/jvirtio-$1.json" -q "$4" -o "$3" -w "$2" \
    -t "$seconds" --output json > "$5" 2> "$5.err" || { cat "$5" "$5.err" >&2; echo "side-by-side.sh: jvirtio perf failed" >&2; exit 1; }
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(sum(x["iops"] for x in r), max(x["latency_us"]["p99_9"] for x in r))' "$5"
}

echo "SPDK 26.01 vhost and bdevperf: $image"
echo "$rounds round(s) of $seconds s each per workload; vhost on core 0, the initiator on core 1"
results=$work/results.tsv
: > "$results"
for type in blk scsi; do
  echo "$workloads" | while read -r pattern size qd; do
    [ -n "$pattern" ] || continue
    r=1
    while [ "$r" -le "$rounds" ]; do
      log=$work/$type-$pattern-$size-$qd-$r
      if [ $((r % 2)) -eq 1 ]; then
        b=$(bdevperf_run "$type" "$pattern" "$size" "$qd" "$log.bdevperf.log")
        j=$(jvirtio_run "$type" "$pattern" "$size" "$qd" "$log.jvirtio.log")
      else
        j=$(jvirtio_run "$type" "$pattern" "$size" "$qd" "$log.jvirtio.log")
        b=$(bdevperf_run "$type" "$pattern" "$size" "$qd" "$log.bdevperf.log")
      fi
      jt="nan nan"
      if [ -n "$java_target" ]; then
        docker pause "$name" >/dev/null
        jt=$(jvirtio_run "java-$type" "$pattern" "$size" "$qd" "$log.java.log")
        docker unpause "$name" >/dev/null
      fi
      set -- $b $j $jt
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$type" "$pattern" "$size" "$qd" "$r" "$1" "$2" "$3" "$4" "$5" >> "$results"
      printf '  %-4s %-9s %6s QD%-2s round %d: bdevperf %10.0f IOPS p99.9 %8s us   jvirtio %10.0f IOPS p99.9 %8s us' \
        "$type" "$pattern" "$size" "$qd" "$r" "$1" "$2" "$3" "$4"
      [ -z "$java_target" ] || printf '   jvirtio on the Java target %10.0f IOPS' "$5"
      echo
      r=$((r + 1))
    done
  done
done

python3 - "$results" <<'EOF'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
def size(b):
    b = int(b)
    return f"{b >> 10}K" if b % 1024 == 0 else f"{b}B"
print()
java = any(r[9] != "nan" for r in rows)
print(f"{'workload':<26} {'bdevperf IOPS':>14} {'jvirtio IOPS':>14} {'IOPS ratio':>11} {'bdevperf p99.9':>15} {'jvirtio p99.9':>14} {'p99.9 ratio':>12}"
      + (f" {'on Java tgt':>14} {'Java/SPDK':>9}" if java else ""))
for key in dict.fromkeys(tuple(r[:4]) for r in rows):
    mine = [r for r in rows if tuple(r[:4]) == key]
    b = statistics.median(float(r[5]) for r in mine)
    j = statistics.median(float(r[7]) for r in mine)
    bl = statistics.median(float(r[6]) for r in mine)
    jl = statistics.median(float(r[8]) for r in mine)
    name = f"{key[0]} {key[1]} {size(key[2])} QD{key[3]}"
    jt = statistics.median(float(r[9]) for r in mine)
    extra = "" if jt != jt else f" {jt:>14,.0f} {jt / j:>9.2f}"
    print(f"{name:<26} {b:>14,.0f} {j:>14,.0f} {j / b:>11.2f} {bl:>12.2f} us {jl:>11.2f} us {jl / bl:>12.2f}{extra}")
print("(median of the rounds; IOPS ratio = jvirtio / bdevperf, above 1 = jvirtio faster;")
print(" p99.9 ratio = jvirtio / bdevperf, below 1 = jvirtio's tail shorter" + ("; Java/SPDK = jvirtio on the Java target / jvirtio on SPDK's)" if java else ")"))
EOF
