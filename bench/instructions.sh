#!/usr/bin/env bash
# bench/instructions.sh — machine instructions per authorize, and where they go.
# Runs the Release host under callgrind (every thread, user space), warms it up, then counts
# only a measured wrk run of POST …/sources/authorize and divides by the requests answered.
# Instruction counts move by a few percent between runs (with the size of the store's commit
# batches), where time on a shared machine moves by tens: this is how a change to the request
# path is judged before bench/run.sh.
# Prints the total per request and the largest inclusive costs per request; the callgrind
# file stays in the work folder for callgrind_annotate.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
DURATION=${BENCH_DURATION:-8s}
TOP=${BENCH_TOP:-25}
ORG=org_bench
REDIRECT=https://app.example.com/callback

# shellcheck source=bench/build.sh
source "$here/build.sh"
bench_build

work=$(mktemp -d /tmp/connector-instructions.XXXXXX)
host_pid=''
cleanup() {
  if [ -n "$host_pid" ] && kill -0 "$host_pid" 2>/dev/null; then
    kill -TERM "$host_pid" 2>/dev/null || true
    wait "$host_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
die() { echo "instructions: $*" >&2; exit 1; }

export CONNECTOR_KEY_FILE="$work/encryption.keys" CONNECTOR_LOG_LEVEL=warning \
  CONNECTOR_ALLOWED_REDIRECTS=$REDIRECT \
  CONNECTOR_GITHUB_CLIENT_ID=test-client-id CONNECTOR_GITHUB_CLIENT_SECRET=test-client-secret \
  CONNECTOR_AUTHORIZE_RATE_PER_MINUTE=0 CONNECTOR_MAX_PENDING_FLOWS=0
key=$("$host_bin" keys create --org "$ORG" --data-dir "$work/data" | tail -n 1)
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
url="http://127.0.0.1:$port"
valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
  "$host_bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data" --plugins-dir "$plugins" \
  >"$work/host.log" 2>&1 &
host_pid=$!
for _ in $(seq 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" = 200 ] && break
  kill -0 "$host_pid" 2>/dev/null || die "the host exited during start-up (see $work/host.log)"
  sleep 0.1
done

# One connection per wrk thread's share of 8: enough to batch commits as under load, few
# enough for the slowed-down host to answer without timeouts.
authorize() { # DURATION
  BENCH_LUA_DIR="$here/wrk" BENCH_METHOD=POST BENCH_OK_STATUS=200 BENCH_OK_NEEDLE=connection_id \
    BENCH_BODY="{\"slug\":\"github\",\"redirect_url\":\"$REDIRECT\"}" \
    wrk -t1 -c8 -d"$1" --timeout 10s -s "$here/wrk/fixed.lua" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' "$url/v1/organizations/$ORG/knowledge/connectors/sources/authorize"
}
authorize 3s >/dev/null
# The system's CAs load once, on the ca-warm-up thread, after start-up; under callgrind that
# takes seconds, and it is no part of an authorize: the count starts once that thread is gone.
for _ in $(seq 1200); do
  grep -qx 'ca-warm-up' /proc/"$host_pid"/task/*/comm 2>/dev/null || break
  sleep 0.1
done
callgrind_control -z "$host_pid" >/dev/null
authorize "$DURATION" >"$work/wrk.out"
callgrind_control -d "$host_pid" >/dev/null
result=$(grep '^BENCH_RESULT' "$work/wrk.out" | tail -n 1)
requests=$(echo "$result" | sed -n 's/.* ok=\([0-9]*\).*/\1/p')
[ -n "$requests" ] && [ "$requests" -gt 0 ] || die "no answered requests: $(tail -n 5 "$work/wrk.out")"
dump=$(ls "$work"/callgrind.out.* | head -n 1)

total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
echo "# Instructions per authorize"
echo
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) · tree $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?') · callgrind, every thread, user space · $requests answers 200 in $DURATION"
echo
echo "**$((total / requests)) instructions per authorize.** Largest inclusive costs (per authorize):"
echo
echo '```'
callgrind_annotate --inclusive=yes --threshold=100 "$dump" 2>/dev/null |
  awk -v n="$requests" '
    /^ *[0-9,]+ \(/ && !/PROGRAM TOTALS/ {
      count = $1; gsub(",", "", count)
      name = $0; sub(/^ *[0-9,]+ \( *[0-9.]+%\) +/, "", name); sub(/^\?\?\?:/, "", name)
      sub(/ \[[^]]*\]$/, "", name) # the object file
      if (name ~ /^(connector::|sqlite3_step|SHA256|EVP_|boost::beast::http::(async_write|detail::read_op))/ && !seen[name]++)
        printf "%9d  %s\n", count / n, substr(name, 1, 110)
    }' | head -n "$TOP"
echo '```'
echo
echo "callgrind file: $dump"
