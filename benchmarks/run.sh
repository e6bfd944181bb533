#!/bin/sh
# Runs jvirtio's JMH benchmarks (see docs/benchmarks.md). Builds benchmarks/target/benchmarks.jar on
# first use or when sources changed, then runs JMH's main on JDK 25+ (found as ./jvirtio finds it).
# Every argument goes to JMH, e.g.:
#   benchmarks/run.sh -prof gc                        # all benchmarks, allocation per op
#   benchmarks/run.sh 'Blk.*read4k$' -f 1 -wi 2 -i 3  # a regex, fewer iterations
#   benchmarks/run.sh -bm avgt -tu ns                 # ns/op instead of ops/s
#   benchmarks/run.sh -l                              # list them
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)

java_feature() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }
jdk=""
if [ -n "${JAVA_HOME-}" ] && [ -x "$JAVA_HOME/bin/java" ] && [ "$(java_feature "$JAVA_HOME")" -ge 25 ] 2>/dev/null; then
  jdk=$JAVA_HOME
else
  for d in $(find /usr/lib/jvm -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort -rV); do
    if [ -x "$d/bin/java" ] && [ "$(java_feature "$d")" -ge 25 ] 2>/dev/null; then jdk=$d; break; fi
  done
fi
if [ -z "$jdk" ]; then
  echo "benchmarks/run.sh: needs a JDK 25 or newer (set JAVA_HOME, or install one under /usr/lib/jvm)" >&2
  exit 1
fi

jar="$here/benchmarks/target/benchmarks.jar"
if [ ! -f "$jar" ] || [ -n "$(find "$here" -path "$here/*/src/main/*" -newer "$jar" -print -quit 2>/dev/null)" ] \
   || [ "$here/pom.xml" -nt "$jar" ] || [ "$here/benchmarks/pom.xml" -nt "$jar" ]; then
  echo "benchmarks/run.sh: building (./mvnw -B -q -pl benchmarks -am package -DskipTests) ..." >&2
  (cd "$here" && JAVA_HOME="$jdk" ./mvnw -B -q -pl benchmarks -am package -DskipTests) >&2
fi

# the forks' JVM options are in each benchmark's @Fork; these are for the JMH host JVM
exec "$jdk/bin/java" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -jar "$jar" "$@"
