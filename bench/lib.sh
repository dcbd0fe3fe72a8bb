# shellcheck shell=bash
# Sourced by bench/run.sh, bench/run-s3.sh and bench/memory.sh: the setup they share. Expects $root (the
# repository) to be set.

# bench_install_missing TOOL...: installs from Debian the tools that are missing ("time" is /usr/bin/time,
# not the shell keyword); anything else is looked up on the PATH under its package's name.
bench_install_missing() {
  local need=() tool
  for tool in "$@"; do
    if [ "$tool" = time ]; then
      [ -x /usr/bin/time ] || need+=(time)
    else
      command -v "$tool" >/dev/null || need+=("$tool")
    fi
  done
  if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

# bench_build: builds the jar ./powdb-backup runs, quietly (the benchmark's output stays clean).
bench_build() {
  (cd "${root:?}" && ./mvnw -q -B -DskipTests package 1>&2)
}

# bench_fresh_dir DIR: DIR, emptied, as the working directory.
bench_fresh_dir() {
  rm -rf "$1"
  mkdir -p "$1"
  cd "$1" || return
}

# bench_sample_db SIZE_MIB: a sample database of 4 tables in ./data; sets data_bytes to its size.
bench_sample_db() {
  "${root:?}/bench/make-sample-db.sh" create data "$1" 4 >/dev/null
  data_bytes=$(du -sb data | cut -f1)
  export data_bytes
}
