#!/usr/bin/env bash
# Makes (or changes) a sample PowDB data directory with the project's test fixture, which writes the
# format exactly as PowDB does (pages, LSNs, CRCs, WAL, catalog, indexes).
#   bench/make-sample-db.sh create DIR SIZE_MIB [TABLES] [SEED]
#   bench/make-sample-db.sh update DIR PERCENT [SEED]      (changes PERCENT% of the pages, checkpoints)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tests_jar="$root/agent/target/agent-0.1.0-SNAPSHOT-tests.jar"
cli_jar="$root/cli/target/powdb-backup.jar"
if [ ! -f "$tests_jar" ] || [ ! -f "$cli_jar" ]; then
  (cd "$root" && ./mvnw -q -B -DskipTests package 1>&2)
fi
exec java -cp "$tests_jar:$cli_jar" io.powdb.backup.testing.SampleDatabase "$@"
