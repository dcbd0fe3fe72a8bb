#!/usr/bin/env bash
# JMH micro-benchmarks of the agent's hot paths (benchmarks/ module): BLAKE3 (ours on one thread, ours
# with the hashing pool, commons-codec), the per-page work of a heap scan, and the chunked AES-256-GCM
# encryption of objects (EncryptionBenchmark). Prints MB/s per benchmark.
#
#   bench/jmh.sh [JMH ARGS...]        e.g. bench/jmh.sh Blake3Benchmark.oursParallel -p size=67108864
#
# Short settings by default (1 fork, 2 warm-up and 3 measured iterations); JMH arguments given here come
# after them and override them. Raw results: bench/work/jmh.json. JAVA_OPTS go to the benchmark JVM
# (e.g. JAVA_OPTS=-Dpowdb.hash.threads=1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$root/bench/work"
mkdir -p "$work"

# Offline first (the usual case once dependencies are in ~/.m2), online if something is missing.
(cd "$root" && { ./mvnw -q -B -o -pl benchmarks -am package -DskipTests 1>&2 2>/dev/null \
  || ./mvnw -q -B -pl benchmarks -am package -DskipTests 1>&2; })

jvm_args=()
if [ -n "${JAVA_OPTS:-}" ]; then
  # shellcheck disable=SC2206
  jvm_args=(-jvmArgsAppend "$JAVA_OPTS")
fi
java -jar "$root/benchmarks/target/benchmarks.jar" -f 1 -wi 2 -i 3 -w 3s -r 5s \
  -rf json -rff "$work/jmh.json" "${jvm_args[@]}" "$@"

python3 - "$work/jmh.json" <<'PY'
import json, sys
rows = []
for r in json.load(open(sys.argv[1])):
    params = r.get("params", {})
    size = int(params.get("size", 0))
    m = r["primaryMetric"]
    if m["scoreUnit"] != "ops/s" or not size:
        continue
    mbs = m["score"] * size / 1e6
    err = (m.get("scoreError") or 0) * size / 1e6
    name = r["benchmark"].rsplit(".", 2)
    rows.append((name[-2], name[-1], size, mbs, err))
print()
print(f"{'benchmark':<20} {'method':<28} {'size':>12} {'MB/s':>10} {'± (99.9%)':>10}")
for cls, method, size, mbs, err in rows:
    print(f"{cls:<20} {method:<28} {size:>12} {mbs:>10.0f} {err:>10.0f}")
PY
