#!/bin/sh
# Runs jvirtio's vhost-user target with the given arguments (those of `jvirtio target`, e.g.
# --socket /var/tmp/blk0 --blk ram:64M --socket /var/tmp/scsi0 --scsi ram:64M,targets=2) and says
# "jvirtio-target: ready" once every --socket path exists.
#   docker run ... IMAGE --help          the target's usage
#   docker run ... IMAGE sh              any command that is not an option runs as it is
set -eu
case "${1-}" in
  ""|-*) ;;
  *) exec "$@" ;;
esac

sockets=""
prev=""
for a in "$@"; do
  [ "$prev" = "--socket" ] && sockets="$sockets $a"
  prev=$a
done

/opt/jvirtio/jre/bin/java --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC ${JAVA_OPTS-} \
  -cp '/opt/jvirtio/lib/*' io.jvirtio.tools.Jvirtio target "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 0' TERM INT

for s in $sockets; do
  i=0
  until [ -S "$s" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" || exit $?
      exit 1
    fi
    i=$((i + 1))
    if [ "$i" -gt 300 ]; then
      echo "jvirtio-target: socket $s did not appear within 30 s" >&2
      exit 1
    fi
    sleep 0.1
  done
done
echo "jvirtio-target: ready"
wait "$pid"
