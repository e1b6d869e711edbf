#!/usr/bin/env bash
# bench/run.sh — the benchmark of issue 7, in one run on one machine (see bench/README.md).
# Builds Release into build-release, then drives, with the same wrk settings:
#   the host's authorize (empty store, then SEED stored connections), the floor (bench_floor),
#   grant on Express (bench/grant), the host's provider callback with the code exchange
#   against the provider double, and that double alone; then memory and start-up time; then
#   (bench/postgres.sh) authorize and access-token on PostgreSQL with one and two replicas
#   beside SQLite, PostgreSQL's CPU counted (BENCH_POSTGRES=0 leaves that part out).
# Prints one Markdown report (table, ratios, PASS/MISS) and writes it to bench/results/latest.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

if [ "${BENCH_QUICK:-0}" = 1 ]; then
  quick_duration=3s quick_seed=50000 quick_flows=2000 quick_starts=5 quick_warmup=1s quick_rounds=1
else
  quick_duration=10s quick_seed=1000000 quick_flows=10000 quick_starts=10 quick_warmup=2s quick_rounds=5
fi
DURATION=${BENCH_DURATION:-$quick_duration}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
SEED=${BENCH_SEED_ROWS:-$quick_seed}
FLOWS=${BENCH_FLOWS:-$quick_flows}
STARTS=${BENCH_STARTS:-$quick_starts}
WARMUP=${BENCH_WARMUP:-$quick_warmup}
ROUNDS=${BENCH_ROUNDS:-$quick_rounds}
FLOW_CAP=${BENCH_FLOW_CAP:-300s} # the longest a replay may run; it normally ends when all are sent
ORG=org_bench
REDIRECT=https://app.example.com/callback

# ---- build (its output on stderr: stdout is the report alone) ------------------------------
# shellcheck source=bench/build.sh
source "$here/build.sh"
bench_build bench_floor
floor_bin="$build/bench/bench_floor"

# ---- processes: every one started here is stopped on exit, by its pid ---------------------
work=$(mktemp -d /tmp/connector-bench.XXXXXX)
started=()
cleanup() {
  local pid
  for pid in "${started[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${started[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  done
  [ "${BENCH_KEEP:-0}" = 1 ] && echo "bench: work files kept in $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "bench: $*" >&2; exit 1; }
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system, every thread, in clock ticks
# Arithmetic and comparisons on decimals, which bash cannot do.
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
holds() { awk "BEGIN { exit !($1) }"; }
verdict() { if holds "$1"; then echo PASS; else echo MISS; fi; }
check() { if holds "$1"; then echo OK; else echo FAILED; fi; }

# Started processes print {"port":N} on stdout (floor, grant, double); wait for that line.
port_from() {
  local file=$1 pid=$2
  for _ in $(seq 200); do
    grep -q '"port"' "$file" 2>/dev/null && { sed -n 's/.*"port": *\([0-9]*\).*/\1/p' "$file" | head -n1; return; }
    kill -0 "$pid" 2>/dev/null || die "process $pid exited before listening (see $file)"
    sleep 0.05
  done
  die "no port from process $pid"
}

# The load comes from one organization as fast as it can: the per-organization rate limit
# and pending-flow cap (docs/security.md) are off, or they would be what is measured.
# The host logs at warning level (per-request info logging costs throughput), so there is no
# "listening" line to wait for: it gets a free port and is ready when /readyz answers 200.
export CONNECTOR_ENCRYPTION_KEYS_FILE="$work/encryption.keys" CONNECTOR_LOG_LEVEL=warning \
  CONNECTOR_ALLOWED_REDIRECTS=$REDIRECT \
  CONNECTOR_GITHUB_CLIENT_ID=test-client-id CONNECTOR_GITHUB_CLIENT_SECRET=test-client-secret \
  CONNECTOR_GOOGLE_SHEETS_CLIENT_ID=test-client-id CONNECTOR_GOOGLE_SHEETS_CLIENT_SECRET=test-client-secret \
  CONNECTOR_AUTHORIZE_RATE_PER_MINUTE=0 CONNECTOR_MAX_PENDING_FLOWS=0
host_pid='' host_url=''
start_host() { # DATA_DIR [VAR=value …]
  local data=$1 port; shift
  port=$(free_port)
  env "$@" "$host_bin" serve --listen "127.0.0.1:$port" --data-dir "$data" --plugins-dir "$plugins" \
    >>"$work/host.log" 2>&1 &
  host_pid=$! host_url="http://127.0.0.1:$port"
  started+=("$host_pid")
  for _ in $(seq 400); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$host_url/readyz")" = 200 ] && return
    kill -0 "$host_pid" 2>/dev/null || die "the host exited during start-up (see $work/host.log)"
    sleep 0.05
  done
  die "the host was not ready within 20 s"
}
stop_pid() { # and forget it, so that cleanup never signals a pid the system has reused
  local pid kept=()
  kill -TERM "$1"
  wait "$1" || true
  for pid in "${started[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
  started=("${kept[@]}")
}
new_key() { "$host_bin" keys create --org "$ORG" --data-dir "$1" | tail -n 1; }
db_rows() { sqlite3 -cmd '.timeout 5000' "$1/connector-host.sqlite3" 'SELECT count(*) FROM connections'; }
# When wrk stops, the host still finishes the requests wrk had in flight: count once it is done.
settled_rows() {
  local now last=-1
  while now=$(db_rows "$1") && [ "$now" != "$last" ]; do last=$now; sleep 0.3; done
  echo "$now"
}
# Database bytes once the WAL is folded in: what the flows really occupy.
db_bytes() {
  sqlite3 -cmd '.timeout 5000' "$1/connector-host.sqlite3" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
  sqlite3 -cmd '.timeout 5000' "$1/connector-host.sqlite3" \
    'SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()'
}

# run_wrk NAME DURATION SCRIPT URL [wrk options…]: one wrk run; its result line goes to NAME.result.
# The Lua scripts read their settings from BENCH_* variables set by the caller.
run_wrk() {
  local name=$1 duration=$2 script=$3 url=$4; shift 4
  BENCH_LUA_DIR="$here/wrk" wrk -t"$THREADS" -c"$CONNS" -d"$duration" -s "$here/wrk/$script" "$@" "$url" \
    >"$work/$name.wrk" 2>&1 || die "wrk failed for $name: $(tail -n 5 "$work/$name.wrk")"
  grep '^BENCH_RESULT' "$work/$name.wrk" | tail -n 1 >"$work/$name.result" || die "no result line from wrk for $name"
}
res() { awk -v key="$2" '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) print kv[2] } }' "$work/$1.result"; }
ms() { calc "$(res "$1" "$2") / 1000" 2; }

authorize_path="/v1/organizations/$ORG/knowledge/connectors/sources/authorize"
authorize_body="{\"slug\":\"github\",\"redirect_url\":\"$REDIRECT\"}"
# The same request, byte for byte, to the host and to the floor.
authorize_run() { # NAME DURATION URL KEY
  BENCH_METHOD=POST BENCH_BODY=$authorize_body BENCH_OK_STATUS=200 BENCH_OK_NEEDLE=connection_id \
    BENCH_SAMPLE_PATTERN='"connection_id":"([^"]+)"' \
    run_wrk "$1" "$2" fixed.lua "$3$authorize_path" -H "Authorization: Bearer $4" -H 'Content-Type: application/json'
}

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg) # the machine is shared: say how busy it was
echo "bench: wrk -t$THREADS -c$CONNS -d$DURATION (warm-up $WARMUP); seed $SEED rows; $FLOWS flows; work in $work" >&2

source "$here/postgres.sh"
rps() { calc "$(res "$1" rps)" 0; }
tick_us=$(calc "1000000 / $(getconf CLK_TCK)" 3)
postgres_report
