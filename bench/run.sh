#!/usr/bin/env bash
# Side-by-side benchmark on the local filesystem: powdb-backup against cp -r, rclone copy and restic, on
# the same sample database in the same run. Prints a Markdown table (also saved to bench/work/results.md).
#
#   bench/run.sh [SIZE_MIB]        default 1024 (a 1 GiB database: 4 tables of 256 MiB)
#
# Installs restic and rclone from Debian when missing. Caches are warm for every tool alike (the data was
# just written); the figures compare tools, they are not a cold-disk measurement.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$root/bench/lib.sh"
size_mib="${1:-1024}"
work="$root/bench/work"
export JAVA_OPTS="${JAVA_OPTS:--Xmx256m}"

bench_install_missing restic rclone time
bench_build
bench_fresh_dir "$work"
bench_sample_db "$size_mib"

results="$work/results.tsv"
: > "$results"
# run NAME COMMAND...: times a command, records seconds and peak RSS (MiB).
run() {
  local name="$1"; shift
  sync
  /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >"$work/$name.log" 2>&1 || { cat "$work/$name.log"; exit 1; }
  read -r secs rss_kb < "$work/time.out"
  printf '%s\t%s\t%s\n' "$name" "$secs" "$((rss_kb / 1024))" >> "$results"
}
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY="$work/restic-repo"
restic init >/dev/null 2>&1

# Full backup of the whole database.
run cp_full cp -r data cp-copy
run rclone_full rclone copy data rclone-copy
run ours_full "$root/powdb-backup" backup --data-dir data --repo ours-repo --json
run restic_full restic backup --no-cache data
# Where the full backup's time goes: one file at a time, and without compression (separate repositories).
run ours_full_serial "$root/powdb-backup" backup --data-dir data --repo ours-repo-serial --parallelism 1 --json
run ours_full_plain "$root/powdb-backup" backup --data-dir data --repo ours-repo-plain --compression none --json
rm -rf ours-repo-serial ours-repo-plain

# 1% of the pages change, then incremental backups.
"$root/bench/make-sample-db.sh" update data 1 >/dev/null
run ours_incr "$root/powdb-backup" backup --data-dir data --repo ours-repo --json
run restic_incr restic backup --no-cache data
changed_bytes=$(python3 -c "import json;d=json.load(open('$work/ours_incr.log'));print(d['pages_changed']*4096)")
uploaded_incr=$(python3 -c "import json;d=json.load(open('$work/ours_incr.log'));print(d['bytes_uploaded_uncompressed'])")
stored_incr=$(python3 -c "import json;d=json.load(open('$work/ours_incr.log'));print(d['bytes_uploaded'])")

# Restores of the latest state (full + 1 incremental for us).
run cp_restore cp -r cp-copy cp-restored
run ours_restore "$root/powdb-backup" restore --repo ours-repo --target ours-restored --json
run restic_restore restic restore --no-cache latest --target restic-restored
run ours_restore_serial "$root/powdb-backup" restore --repo ours-repo --target ours-restored-serial --parallelism 1 --json
diff -r data ours-restored-serial >/dev/null || { echo "restored copy (one file at a time) differs from the source" >&2; exit 1; }
rm -rf ours-restored-serial
diff -r data ours-restored >/dev/null || { echo "restored copy differs from the source" >&2; exit 1; }

# A chain of 20 increments (1% each), restored, against restoring a full backup alone.
for i in $(seq 1 19); do
  "$root/bench/make-sample-db.sh" update data 1 "$((i + 10))" >/dev/null
  "$root/powdb-backup" backup --data-dir data --repo ours-repo --json >/dev/null
done
run ours_restore_chain21 "$root/powdb-backup" restore --repo ours-repo --target ours-restored-chain --json
diff -r data ours-restored-chain >/dev/null || { echo "restored chain differs from the source" >&2; exit 1; }
"$root/powdb-backup" backup --full --data-dir data --repo ours-repo --json >/dev/null
run ours_restore_full_only "$root/powdb-backup" restore --repo ours-repo --target ours-restored-full --json

python3 - "$results" "$data_bytes" "$changed_bytes" "$uploaded_incr" "$stored_incr" <<'PY' | tee "$work/results.md"
import sys
rows = {}
for line in open(sys.argv[1]):
    name, secs, rss = line.split("\t")
    rows[name] = (float(secs), int(rss))
data, changed, uploaded, stored = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
mib = data / 2**20
def line(label, name, *vs):
    secs, rss = rows[name]
    cells = [label, f"{secs:.2f}", f"{mib / max(secs, 1e-3):.0f}", str(rss)]
    cells += [f"{rows[v][0] / max(secs, 1e-3):.2f}x" if v in rows else "" for v in vs]
    print("| " + " | ".join(cells) + " |")
print(f"Database: {mib:.0f} MiB in 4 heaps; incremental: 1% of pages changed ({changed / 2**20:.1f} MiB of pages), "
      f"{uploaded / 2**20:.1f} MiB uploaded before compression ({uploaded / max(changed, 1):.3f}x the changed bytes), "
      f"{stored / 2**20:.1f} MiB stored after zstd.")
print()
print("| operation | seconds | MiB/s of database | peak RSS MiB | speed vs cp | speed vs restic |")
print("|---|---|---|---|---|---|")
line("cp -r (full copy)", "cp_full")
line("rclone copy (full)", "rclone_full", "cp_full")
line("restic backup (first)", "restic_full", "cp_full")
line("powdb-backup full", "ours_full", "cp_full", "restic_full")
line("powdb-backup full, --parallelism 1", "ours_full_serial", "cp_full", "restic_full")
line("powdb-backup full, --compression none", "ours_full_plain", "cp_full", "restic_full")
line("restic backup (second, 1% changed)", "restic_incr", "cp_full")
line("powdb-backup incremental (1% changed)", "ours_incr", "cp_full", "restic_incr")
line("cp -r (restore copy)", "cp_restore")
line("restic restore", "restic_restore", "cp_restore")
line("powdb-backup restore (full + 1 incremental)", "ours_restore", "cp_restore", "restic_restore")
line("powdb-backup restore (full + 1 incremental), --parallelism 1", "ours_restore_serial", "cp_restore", "restic_restore")
line("powdb-backup restore (full + 20 incrementals)", "ours_restore_chain21", "cp_restore", "restic_restore")
line("powdb-backup restore (full alone)", "ours_restore_full_only", "cp_restore", "restic_restore")
PY
