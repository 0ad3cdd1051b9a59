#!/usr/bin/env bash
# Builds the bench module (reactor build, nothing installed) and runs every side-by-side benchmark in one go on
# one redis-server; writes docs/benchmarks.md and docs/img/bench-*.png.
#
#   bench/run-benchmarks.sh            full run (5 repetitions; 1M-job replay; 10M jobs spooled; ~30-40 min on 2 cores)
#   bench/run-benchmarks.sh --quick    quick run (2 repetitions, smaller counts; ~8 min)
#   any other arguments go to BenchmarkMain: --reps N, --only micro,enqueue,redisbench,e2e,rtt,spool,transitions,replay,outage,memory
#   bench/run-benchmarks.sh --redis7 ...   the same on Debian 12's redis-server 7.0 (fetched by bench/redis-7.sh)
#                                          instead of the embedded 6.2; SPILLWAY_REDIS_SERVER=/path picks any other
#   bench/run-benchmarks.sh --report-only bench/target/bench-results.json   rewrite the report from the last run's raw figures
#
# Needs: JDK 17+, Maven, Node.js 20 + npm (for BullMQ; skipped if missing), optionally redis-benchmark
# (apt-get install -y redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."

COMMAND="bench/run-benchmarks.sh $*"   # as given, --redis7 included: the report's command to reproduce it
ARGS=()
for a in "$@"; do
  if [ "$a" = "--redis7" ]; then
    SPILLWAY_REDIS_SERVER=$(bench/redis-7.sh)
    export SPILLWAY_REDIS_SERVER
  else
    ARGS+=("$a")
  fi
done
set -- "${ARGS[@]}"

mvn -B -q -pl bench -am package -DskipTests dependency:build-classpath \
    -Dmdep.outputFile="$PWD/bench/target/classpath.txt" -Dmdep.includeScope=runtime

if command -v npm >/dev/null 2>&1; then
  if [ ! -d bench/node/node_modules/bullmq ] || [ ! -d bench/node/node_modules/ioredis ]; then
    (cd bench/node && npm ci --no-audit --no-fund >/dev/null)   # the versions of package-lock.json
  fi
else
  echo "npm not found: BullMQ figures will be missing" >&2
fi

# The Chronicle Queue flags, from the root pom's chronicle.jvm.flags property.
FLAGS=$(sed -n 's:.*<chronicle.jvm.flags>\(.*\)</chronicle.jvm.flags>.*:\1:p' pom.xml)
CP="$(cat bench/target/classpath.txt):$PWD/bench/target/classes"

# The heap is committed and pre-faulted at start (-Xms2g -XX:+AlwaysPreTouch, the usual low-latency settings):
# otherwise the first write to each 4 KB page of a heap that G1 is still growing is a page fault, which on this
# kind of VM lands as ~12 us in 1 % of whichever calls refill their allocation buffer (the spool p99 read 12 us
# instead of 1 us). Every system measured shares this JVM.
# BENCH_JVM replaces these heap settings.
BENCH_JVM=${BENCH_JVM:--Xmx2g -Xms2g -XX:+AlwaysPreTouch}
# shellcheck disable=SC2086
exec java $FLAGS $BENCH_JVM -XX:+UseG1GC -Dbench.command="$COMMAND" \
    -cp "$CP" io.spillway.bench.perf.BenchmarkMain "$@"
