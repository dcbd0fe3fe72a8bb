#!/usr/bin/env bash
# Memory check: backs up and restores a database with one very large heap under a small Java heap
# limit, and prints the peak RSS of each. The large heap is a sparse file of never-written (all-zero)
# pages, which the agent reads, fingerprints, hashes and stores like any other.
#
#   bench/memory.sh [HEAP_GIB] [XMX]       default 20 GiB with -Xmx64m; needs about 2 x HEAP_GIB free disk
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$root/bench/lib.sh"
gib="${1:-20}"
xmx="${2:-64m}"
work="$root/bench/work-memory"
bench_install_missing time
bench_build
bench_fresh_dir "$work"
"$root/bench/make-sample-db.sh" create data 16 2 >/dev/null
truncate -s "${gib}G" data/big.heap
export JAVA_OPTS="-Xmx$xmx"
measure() {
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o time.out "$@" > "$label.log" 2>&1 || { cat "$label.log"; exit 1; }
  read -r secs rss_kb < time.out
  printf '| %s | %s GiB heap file | -Xmx%s | %.0f s | %d MiB |\n' "$label" "$gib" "$xmx" "$secs" "$((rss_kb / 1024))"
}
echo "| operation | data | JVM heap limit | time | peak RSS |"
echo "|---|---|---|---|---|"
measure "backup (full)" "$root/powdb-backup" backup --data-dir data --repo repo --json
measure "backup (incremental, nothing changed)" "$root/powdb-backup" backup --data-dir data --repo repo --json
rm -rf data/big.heap  # room for the restore
measure "restore" "$root/powdb-backup" restore --repo repo --target restored --json
test "$(stat -c %s restored/big.heap)" -eq $((gib * 1024 * 1024 * 1024))
