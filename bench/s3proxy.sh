#!/usr/bin/env bash
# Runs a standalone S3Proxy 4.1.0 (org.gaul:s3proxy from Maven Central) on 127.0.0.1 only, storing objects
# as plain files under a directory, until interrupted. Used by bench/run-s3.sh; also handy by hand:
#
#   bench/s3proxy.sh                       # prints "endpoint http://127.0.0.1:PORT" once it answers
#
# Environment (all optional):
#   S3PROXY_PORT        port on 127.0.0.1 (default: a free one)
#   S3PROXY_DIR         where buckets live, one directory each (default: bench/work-s3/s3proxy-data)
#   S3PROXY_ACCESS_KEY  identity clients sign with (default: bench-access)
#   S3PROXY_SECRET_KEY  its secret (default: bench-secret-0123456789)
#   S3PROXY_JAVA_OPTS   JVM options of the server (default: -Xmx1g)
#
# The class path comes from bench/s3proxy/pom.xml (resolved once with ./mvnw, cached in its target/).
# S3Proxy's jar has no Main-Class: the entry point is org.gaul.s3proxy.Main --properties FILE, which reads
# s3proxy.* (endpoint, authorization, identity, credential) and jclouds.* (provider, filesystem.basedir;
# 4.x keeps the jclouds.* names but no longer uses jclouds: "filesystem" is its own FilesystemNio2BlobStore).
# The server is stopped when this script exits, however it exits.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here="$root/bench/s3proxy"
data_dir="${S3PROXY_DIR:-$root/bench/work-s3/s3proxy-data}"
access_key="${S3PROXY_ACCESS_KEY:-bench-access}"
secret_key="${S3PROXY_SECRET_KEY:-bench-secret-0123456789}"
port="${S3PROXY_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"

classpath_file="$here/target/classpath.txt"
if [ ! -s "$classpath_file" ] || [ "$here/pom.xml" -nt "$classpath_file" ]; then
  (cd "$root" && ./mvnw -q -B -f bench/s3proxy/pom.xml dependency:build-classpath \
      -Dmdep.outputFile=target/classpath.txt 1>&2)
fi

mkdir -p "$data_dir"
props="$(mktemp "${TMPDIR:-/tmp}/s3proxy.XXXXXX.properties")"
chmod 600 "$props"
cat > "$props" <<EOF
s3proxy.endpoint=http://127.0.0.1:$port
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$access_key
s3proxy.credential=$secret_key
s3proxy.ignore-unknown-headers=true
jclouds.provider=filesystem-nio2
jclouds.filesystem.basedir=$data_dir
EOF

pid=
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -f "$props"
}
trap stop EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# shellcheck disable=SC2086 # S3PROXY_JAVA_OPTS is a list of JVM options
java ${S3PROXY_JAVA_OPTS:--Xmx1g} -Dlogback.configurationFile="$here/logback.xml" \
  -cp "$(cat "$classpath_file")" org.gaul.s3proxy.Main --properties "$props" &
pid=$!

# Ready when it answers HTTP at all (an anonymous request gets 403 AccessDenied).
for _ in $(seq 1 300); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "s3proxy.sh: S3Proxy exited during start-up" >&2
    exit 1
  fi
  code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" || true)"
  if [ "$code" != "000" ] && [ -n "$code" ]; then
    echo "endpoint http://127.0.0.1:$port"
    echo "pid $pid"
    wait "$pid"
    exit $?
  fi
  sleep 0.1
done
echo "s3proxy.sh: S3Proxy did not answer on 127.0.0.1:$port within 30 s" >&2
exit 1
