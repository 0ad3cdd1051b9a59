#!/usr/bin/env bash
# Runs the Spillway chaos harness (io.spillway.bench.chaos.ChaosMain) from the repository.
#
#   bench/run-chaos.sh --small          # the CI-sized scenario, about 2 minutes
#   bench/run-chaos.sh --medium         # 100,000 jobs, 4 faults of every kind, then the no-persistence scenarios (plain, write-ahead), then cluster, then sentinel
#   bench/run-chaos.sh --large          # 1,000,000 jobs, 30 faults of every kind (about an hour), then no-persistence (plain, write-ahead), then cluster, then sentinel
#   bench/run-chaos.sh --scenario cluster   # Redis Cluster, 3 masters with a replica each: 6,000 jobs, 2 faults of every
#                                           # cluster kind (master kill, kill until failover, hang, client kill, workers, producers), about 2 minutes
#   bench/run-chaos.sh --scenario sentinel  # Redis Sentinel, a master with 2 replicas and 3 sentinels: 6,000 jobs, 2 faults of every
#                                           # sentinel kind (the cluster's, SENTINEL FAILOVER, replica kill, sentinel kill), about 3 minutes
#   bench/run-chaos.sh --scenario medium --seed 42 --jobs 50000   # any ChaosMain options (--help lists them)
#
# Builds the reactor (never installs), runs ChaosMain with the Chronicle JVM flags of the root pom, and
# exits with ChaosMain's code: 0 all passed, 1 a job was lost, 2 bad arguments.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

args=()
case "${1:-}" in
  --small)  shift; args=(--scenario small) ;;
  --medium) shift; args=(--scenario medium,nopersist,nopersist-wa,cluster,sentinel) ;;
  --large)  shift; args=(--scenario large,nopersist,nopersist-wa,cluster,sentinel) ;;
esac
args+=("$@")

cp_file="$root/bench/target/chaos.classpath"
if [[ -z "${SKIP_BUILD:-}" || ! -f "$cp_file" ]]; then
  mvn -B -q -pl bench -am package dependency:build-classpath -DskipTests \
      -Dmdep.outputFile=target/chaos.classpath -Dmdep.includeScope=runtime >&2
fi
flags="$(sed -n 's:.*<chronicle.jvm.flags>\(.*\)</chronicle.jvm.flags>.*:\1:p' "$root/pom.xml")"
if java -version 2>&1 | grep -qE 'version "(2[4-9]|[3-9][0-9])'; then
  flags="$flags --sun-misc-unsafe-memory-access=allow"
fi
# shellcheck disable=SC2086
exec java $flags -Xmx2g -XX:+UseSerialGC \
  -cp "$root/bench/target/classes:$(cat "$cp_file")" \
  io.spillway.bench.chaos.ChaosMain --dir "$root/bench/target/chaos/run-$(date +%Y%m%d-%H%M%S)" "${args[@]}"
