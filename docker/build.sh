#!/bin/sh
# Builds jvirtio's target images, each tagged by the content of its inputs, so an image is built
# again only when something it is made from changed.
#
#   docker/build.sh [--base IMAGE] [--print-tag] [--force] TARGET...
#
# TARGET: spdk | qemu-storage-daemon | java-target | all
#   spdk                 SPDK 26.01's vhost, rpc.py and bdevperf, built from the source bundle
#                        (SPDK_BUNDLE, else ../shared/third_party/spdk-v26.01.tar.xz beside the
#                        checkout, else /work/shared/third_party/spdk-v26.01.tar.xz)
#   qemu-storage-daemon  Debian's qemu-storage-daemon exporting vhost-user-blk
#   java-target          jvirtio's own vhost-user target: the built tools jar and its libraries on a
#                        jlink'd JRE of the JDK 25+ that ./jvirtio uses (build the jar first:
#                        ./mvnw -DskipTests package)
# --base IMAGE   the base image (default $JVIRTIO_DOCKER_BASE, else debian:bookworm, else
#                local/debian:bookworm when only that one is in the engine); local/debian:bookworm
#                is made with debootstrap when missing (docker/make-base.sh)
# --print-tag    print each target's image reference for today's inputs; build nothing
# --force        build even when an image with that tag exists
#
# Images are jvirtio/TARGET:CONTENT_TAG, also tagged jvirtio/TARGET:latest. One line per target
# says what happened: "built IMAGE in N s (SIZE)" or "up to date IMAGE (SIZE)".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
base=${JVIRTIO_DOCKER_BASE-}
print_tag=0
force=0
targets=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --base) base=$2; shift 2 ;;
    --base=*) base=${1#--base=}; shift ;;
    --print-tag) print_tag=1; shift ;;
    --force) force=1; shift ;;
    all) targets="$targets spdk qemu-storage-daemon java-target"; shift ;;
    spdk|qemu-storage-daemon|java-target) targets="$targets $1"; shift ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown target or option '$1' (targets: spdk, qemu-storage-daemon, java-target, all)" >&2; exit 2 ;;
  esac
done
[ -n "$targets" ] || { echo "build.sh: name a target: spdk, qemu-storage-daemon, java-target or all" >&2; exit 2; }
if [ -z "$base" ]; then
  # The public debian:bookworm when the engine has it (or can pull it); else the debootstrap base.
  if docker image inspect debian:bookworm >/dev/null 2>&1 || ! docker image inspect local/debian:bookworm >/dev/null 2>&1; then
    base=debian:bookworm
  else
    base=local/debian:bookworm
  fi
fi

sha() { sha256sum | cut -c1-64; }
size_of() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%d MB", $1/1000000}'; }

spdk_bundle() {
  for f in "${SPDK_BUNDLE-}" "$repo/../shared/third_party/spdk-v26.01.tar.xz" /work/shared/third_party/spdk-v26.01.tar.xz; do
    if [ -n "$f" ] && [ -f "$f" ]; then echo "$f"; return 0; fi
  done
  echo "build.sh: the SPDK source bundle spdk-v26.01.tar.xz was not found (set SPDK_BUNDLE, or put it in $repo/../shared/third_party/)" >&2
  return 1
}

# The JDK ./jvirtio and ./mvnw use: JAVA_HOME when it is 25+, else the newest 25+ under /usr/lib/jvm.
java_feature() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }
find_jdk() {
  if [ -n "${JAVA_HOME-}" ] && [ -x "$JAVA_HOME/bin/jlink" ] && [ "$(java_feature "$JAVA_HOME")" -ge 25 ] 2>/dev/null; then echo "$JAVA_HOME"; return 0; fi
  for d in $(find /usr/lib/jvm -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort -rV); do
    if [ -x "$d/bin/jlink" ] && [ "$(java_feature "$d")" -ge 25 ] 2>/dev/null; then echo "$d"; return 0; fi
  done
  echo "build.sh: java-target needs a JDK 25+ with jlink (JAVA_HOME, or under /usr/lib/jvm)" >&2
  return 1
}

tools_jar="$repo/tools/target/tools-0.1.0-SNAPSHOT.jar"
tools_lib="$repo/tools/target/lib"

# What an image is made of, as text: its docker/ directory, the base image, and its extra inputs.
inputs_of() {
  t=$1
  (cd "$here/$t" && find . -type f | LC_ALL=C sort | xargs sha256sum)
  echo "base $base $(docker image inspect -f '{{.Id}}' "$base" 2>/dev/null || echo absent)"
  case "$t" in
    spdk) echo "bundle $(sha < "$(spdk_bundle)")" ;;
    java-target)
      [ -f "$tools_jar" ] && [ -d "$tools_lib" ] || { echo "build.sh: $tools_jar or $tools_lib is missing: run ./mvnw -DskipTests package first" >&2; return 1; }
      jdk=$(find_jdk)
      echo "jdk $("$jdk/bin/java" -version 2>&1 | tr '\n' ' ')"
      # The jars are reproducible (project.build.outputTimestamp), so their bytes are their content.
      (cd "$repo/tools/target" && sha256sum "$(basename "$tools_jar")" && cd lib && ls | LC_ALL=C sort | xargs sha256sum) ;;
  esac
}

tag_of() { inputs_of "$1" | sha | cut -c1-12; }

context_for() {
  t=$1 ctx=$2
  cp -r "$here/$t/." "$ctx/"
  case "$t" in
    spdk) cp "$(spdk_bundle)" "$ctx/" ;;
    java-target)
      jdk=$(find_jdk)
      # A small runtime with what jvirtio's target uses (FFM is in java.base).
      "$jdk/bin/jlink" --add-modules java.base,java.logging,java.management,jdk.unsupported,java.naming \
        --strip-debug --no-header-files --no-man-pages --compress=zip-6 --output "$ctx/jre"
      mkdir -p "$ctx/lib"
      cp "$tools_jar" "$ctx/lib/"
      cp "$tools_lib"/* "$ctx/lib/" ;;
  esac
}

status=0
for t in $targets; do
  tag=$(tag_of "$t") || { status=1; continue; }
  image="jvirtio/$t:$tag"
  if [ "$print_tag" = 1 ]; then echo "$image"; continue; fi
  if [ "$force" = 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
    docker tag "$image" "jvirtio/$t:latest"
    echo "build.sh: up to date $image ($(size_of "$image"))"
    continue
  fi
  if ! docker image inspect "$base" >/dev/null 2>&1; then
    case "$base" in
      local/*) "$here/make-base.sh" "$base" ;;
      *) echo "build.sh: base image $base is not here; docker build will try to pull it (use --base local/debian:bookworm where no registry is reachable)" >&2 ;;
    esac
  fi
  ctx=$(mktemp -d /tmp/jvirtio-docker-ctx.XXXXXX)
  start=$(date +%s)
  log="/tmp/jvirtio-docker-build-$t.log"
  if context_for "$t" "$ctx" && DOCKER_BUILDKIT=0 docker build --network host --build-arg "BASE=$base" \
       --label "io.jvirtio.inputs=$tag" -t "$image" -t "jvirtio/$t:latest" "$ctx" >"$log" 2>&1; then
    echo "build.sh: built $image in $(( $(date +%s) - start )) s ($(size_of "$image")); log $log"
  else
    echo "build.sh: building $image failed after $(( $(date +%s) - start )) s; the last lines of $log:" >&2
    tail -25 "$log" >&2
    status=1
  fi
  rm -rf "$ctx"
done
exit $status
