#!/usr/bin/env bash
# Side-by-side benchmark on S3: powdb-backup against `rclone copy` and restic, all talking to the same
# S3Proxy (bench/s3proxy.sh, filesystem store under bench/work-s3/) on 127.0.0.1, on the same sample
# database in the same run. Prints a Markdown table (also saved to bench/work-s3/results.md).
#
#   bench/run-s3.sh [SIZE_MIB]        default 1024 (a 1 GiB database: 4 tables of 256 MiB)
#
#   BENCH_JFR=1 bench/run-s3.sh ...   also records a JFR profile of each powdb-backup run (and of S3Proxy)
#                                     into bench/work-s3/*.jfr; profiling costs time, so do not publish
#                                     the timings of such a run. Summarise with bench/jfr-top.py FILE.jfr.
#
# Installs restic, rclone and time from Debian when missing. S3Proxy is the server in every row and shares
# the machine's cores with the client being measured: compare the ratios, not the absolute MiB/s.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$root/bench/lib.sh"
size_mib="${1:-1024}"
work="$root/bench/work-s3"
export JAVA_OPTS="${JAVA_OPTS:--Xmx256m}"

bench_install_missing restic rclone curl time
bench_build
bench_fresh_dir "$work"
# Run a private copy of the jar, so a rebuild of the tree during the run cannot change it underneath us.
cp "$root/cli/target/powdb-backup.jar" "$work/powdb-backup.jar"
bench_sample_db "$size_mib"

# --- S3Proxy on 127.0.0.1, stopped whatever happens to this script. ---
access_key=bench-access
secret_key=bench-secret-0123456789
proxy_script_pid=
server_pid=
stop_s3proxy() {
  if [ -n "$proxy_script_pid" ]; then
    kill "$proxy_script_pid" 2>/dev/null || true
    wait "$proxy_script_pid" 2>/dev/null || true
  fi
  # Belt and braces: the server itself, should the wrapper have died first.
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
  fi
}
trap stop_s3proxy EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
s3proxy_java_opts="-Xmx1g"
if [ -n "${BENCH_JFR:-}" ]; then
  s3proxy_java_opts="$s3proxy_java_opts -Xlog:jfr+startup=error -XX:StartFlightRecording=filename=$work/s3proxy.jfr,settings=profile"
fi
S3PROXY_DIR="$work/s3proxy-data" S3PROXY_ACCESS_KEY="$access_key" S3PROXY_SECRET_KEY="$secret_key" \
  S3PROXY_JAVA_OPTS="$s3proxy_java_opts" "$root/bench/s3proxy.sh" >"$work/s3proxy.out" 2>"$work/s3proxy.log" &
proxy_script_pid=$!
for _ in $(seq 1 600); do
  grep -q '^pid ' "$work/s3proxy.out" 2>/dev/null && break
  kill -0 "$proxy_script_pid" 2>/dev/null || { cat "$work/s3proxy.log" >&2; echo "S3Proxy did not start" >&2; exit 1; }
  sleep 0.1
done
endpoint="$(awk '$1 == "endpoint" {print $2}' "$work/s3proxy.out")"
server_pid="$(awk '$1 == "pid" {print $2}' "$work/s3proxy.out")"
[ -n "$endpoint" ] && [ -n "$server_pid" ] || { cat "$work/s3proxy.log" >&2; echo "S3Proxy did not start" >&2; exit 1; }
echo "S3Proxy at $endpoint (pid $server_pid)" >&2

# --- The three clients, configured for that endpoint only. ---
# AWS_CA_BUNDLE (set on some machines) makes rclone 1.60 fail with LoadCustomCABundleError even for
# plain http; nothing here uses TLS.
unset AWS_CA_BUNDLE
export AWS_ACCESS_KEY_ID="$access_key" AWS_SECRET_ACCESS_KEY="$secret_key" AWS_EC2_METADATA_DISABLED=true
export POWDB_BACKUP_S3_ENDPOINT="$endpoint" POWDB_BACKUP_S3_REGION=us-east-1 POWDB_BACKUP_S3_PATH_STYLE=true
export RCLONE_CONFIG_S3BENCH_TYPE=s3 RCLONE_CONFIG_S3BENCH_PROVIDER=Other RCLONE_CONFIG_S3BENCH_ENDPOINT="$endpoint" \
  RCLONE_CONFIG_S3BENCH_ACCESS_KEY_ID="$access_key" RCLONE_CONFIG_S3BENCH_SECRET_ACCESS_KEY="$secret_key" \
  RCLONE_CONFIG_S3BENCH_REGION=us-east-1 RCLONE_CONFIG_S3BENCH_FORCE_PATH_STYLE=true RCLONE_CONFIG=/dev/null
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY="s3:$endpoint/bench/restic"
ours_repo="s3://bench/ours"

rclone mkdir s3bench:bench
restic init >/dev/null

# Warm the server up, untimed: a fresh S3Proxy JVM compiles its hot paths during its first few hundred MiB,
# which would otherwise slow whichever row runs first. Each client writes and reads a small database, so
# every server path they use (multipart, aws-chunked uploads with checksums, ranged GETs) is warm.
"$root/bench/make-sample-db.sh" create warmup-db 64 4 9 >/dev/null
rclone copy warmup-db s3bench:bench/warmup-rclone && rclone copy s3bench:bench/warmup-rclone warmup-rclone
# shellcheck disable=SC2086 # JAVA_OPTS is a list of JVM options
java $JAVA_OPTS -jar "$work/powdb-backup.jar" backup --data-dir warmup-db --repo s3://bench/warmup-ours --json \
  >/dev/null 2>"$work/warmup.err" || { cat "$work/warmup.err" >&2; exit 1; }
# shellcheck disable=SC2086
java $JAVA_OPTS -jar "$work/powdb-backup.jar" restore --repo s3://bench/warmup-ours --target warmup-ours --json \
  >/dev/null 2>"$work/warmup.err" || { cat "$work/warmup.err" >&2; exit 1; }
restic -r "s3:$endpoint/bench/warmup-restic" init >/dev/null
restic -r "s3:$endpoint/bench/warmup-restic" backup --no-cache warmup-db >/dev/null
restic -r "s3:$endpoint/bench/warmup-restic" restore --no-cache latest --target warmup-restic >/dev/null
rm -rf warmup-db warmup-rclone warmup-ours warmup-restic

# Other work on the machine skews every row: note the load before and after (published runs had < 0.5).
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
clk_tck=$(getconf CLK_TCK)
# CPU seconds S3Proxy has used so far (user + system).
server_cpu() {
  awk -v t="$clk_tck" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$server_pid/stat"
}
results="$work/results.tsv"
: > "$results"
# run NAME COMMAND...: times a command; records seconds, peak RSS (MiB), its CPU seconds and S3Proxy's.
run() {
  local name="$1"; shift
  sync
  local before after
  before=$(server_cpu)
  /usr/bin/time -f "%e %M %U %S" -o "$work/time.out" "$@" >"$work/$name.log" 2>"$work/$name.err" \
    || { echo "FAILED: $name: $*" >&2; cat "$work/$name.log" "$work/$name.err" >&2; exit 1; }
  after=$(server_cpu)
  read -r secs rss_kb user sys < "$work/time.out"
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$secs" "$((rss_kb / 1024))" \
    "$(python3 -c "print(f'{$user + $sys:.2f}')")" "$(python3 -c "print(f'{$after - $before:.2f}')")" >> "$results"
}
# ours NAME ARGS...: a timed powdb-backup run (with a JFR recording under BENCH_JFR=1).
ours() {
  local name="$1"; shift
  local opts="$JAVA_OPTS"
  if [ -n "${BENCH_JFR:-}" ]; then
    opts="$opts -Xlog:jfr+startup=error -XX:StartFlightRecording=filename=$work/$name.jfr,settings=profile"
  fi
  # shellcheck disable=SC2086 # opts is a list of JVM options
  run "$name" java $opts -jar "$work/powdb-backup.jar" "$@"
}

# Full backups of the whole database.
run rclone_full rclone copy -v data s3bench:bench/rclone
ours ours_full backup --data-dir data --repo "$ours_repo" --json
run restic_full restic backup --no-cache data

# 1% of the pages change; then an incremental for us, a second snapshot for restic, and rclone copying
# what changed (every heap file changed somewhere, so it uploads those whole).
"$root/bench/make-sample-db.sh" update data 1 >/dev/null
ours ours_incr backup --data-dir data --repo "$ours_repo" --json
run restic_incr restic backup --no-cache data
run rclone_incr rclone copy -v data s3bench:bench/rclone
changed_bytes=$(python3 -c "import json;d=json.load(open('$work/ours_incr.log'));print(d['pages_changed']*4096)")
uploaded_incr=$(python3 -c "import json;d=json.load(open('$work/ours_incr.log'));print(d['bytes_uploaded'])")

# Restores of the latest state (full + 1 incremental for us).
ours ours_restore restore --repo "$ours_repo" --target ours-restored --json
run rclone_restore rclone copy -v s3bench:bench/rclone rclone-restored
run restic_restore restic restore --no-cache latest --target restic-restored
diff -r data ours-restored >/dev/null || { echo "powdb-backup's restored copy differs from the source" >&2; exit 1; }
# The other tools' copies are checked too, so that every row restored the same bytes.
diff -r data rclone-restored >/dev/null || { echo "rclone's restored copy differs from the source" >&2; exit 1; }
# restic 0.14 restores below the snapshot's common base directory (restic-restored/data); older ones
# recreate the whole absolute path.
restic_copy=restic-restored/data
[ -d "$restic_copy" ] || restic_copy="restic-restored$work/data"
diff -r data "$restic_copy" >/dev/null || { echo "restic's restored copy differs from the source" >&2; exit 1; }

stored() { du -sb "$work/s3proxy-data/bench/$1" | cut -f1; }
server_rss_mib=$(awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$server_pid/status")
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$results" "$data_bytes" "$changed_bytes" "$uploaded_incr" "$(stored ours)" "$(stored rclone)" \
  "$(stored restic)" "$server_rss_mib" "$(nproc)" "$load_before" "$load_after" <<'PY' | tee "$work/results.md"
import sys
rows = {}
for line in open(sys.argv[1]):
    name, secs, rss, cpu, server_cpu = line.rstrip("\n").split("\t")
    rows[name] = (float(secs), int(rss), float(cpu), float(server_cpu))
data, changed, uploaded = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
stored_ours, stored_rclone, stored_restic = (int(v) / 2**20 for v in sys.argv[5:8])
server_rss, cores = int(sys.argv[8]), int(sys.argv[9])
load_before, load_after = sys.argv[10], sys.argv[11]
mib = data / 2**20
def line(label, name, *vs):
    secs, rss, cpu, server_cpu = rows[name]
    cells = [label, f"{secs:.2f}", f"{mib / max(secs, 1e-3):.0f}", str(rss), f"{cpu:.1f}", f"{server_cpu:.1f}"]
    cells += [f"{rows[v][0] / max(secs, 1e-3):.2f}x" if v else "" for v in vs]
    print("| " + " | ".join(cells) + " |")
print(f"Database: {mib:.0f} MiB in 4 heaps; incremental: 1% of pages changed ({changed / 2**20:.1f} MiB of pages), "
      f"{uploaded / 2**20:.1f} MiB uploaded after zstd ({uploaded / max(changed, 1):.2f}x the changed bytes).")
print(f"Stored in the bucket after both backups: powdb-backup {stored_ours:.0f} MiB, rclone {stored_rclone:.0f} MiB "
      f"(latest copy only), restic {stored_restic:.0f} MiB. S3Proxy peak RSS {server_rss} MiB; {cores} cores shared "
      f"by S3Proxy and the client; load average {load_before} before, {load_after} after.")
print()
print("| operation | seconds | MiB/s of database | peak RSS MiB | client CPU s | S3Proxy CPU s | speed vs rclone | speed vs restic |")
print("|---|---|---|---|---|---|---|---|")
line("rclone copy (full)", "rclone_full", None, None)
line("restic backup (first)", "restic_full", None, None)
line("**powdb-backup full**", "ours_full", "rclone_full", "restic_full")
line("rclone copy (again, 1% changed: changed files whole)", "rclone_incr", None, None)
line("restic backup (second, 1% changed)", "restic_incr", None, None)
line("**powdb-backup incremental (1% changed)**", "ours_incr", "rclone_incr", "restic_incr")
line("rclone copy (restore)", "rclone_restore", None, None)
line("restic restore", "restic_restore", None, None)
line("**powdb-backup restore (full + 1 incremental)**", "ours_restore", "rclone_restore", "restic_restore")
PY
