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

# ---- 1. the host's authorize on an empty store, and what each answer leaves behind ---------
data_a="$work/host-a"
key_a=$(new_key "$data_a")
start_host "$data_a"
sleep 1 # let start-up allocations settle before reading the idle size
rss_idle=$(rss_kb "$host_pid")
plugins_loaded=$(curl -s "$host_url/metrics" | awk '/^connector_plugins\{state="loaded"\}/ {print $2}')
db_before=$(db_bytes "$data_a")
rows_before=$(db_rows "$data_a")
# One answer by hand: its size is the floor's body size, and it proves the setup works.
body_bytes=$(curl -s -o "$work/authorize.json" -w '%{size_download}' -X POST "$host_url$authorize_path" \
  -H "Authorization: Bearer $key_a" -H 'Content-Type: application/json' -d "$authorize_body")
grep -q '"connection_id"' "$work/authorize.json" || die "authorize failed: $(cat "$work/authorize.json")"
authorize_run host-warm "$WARMUP" "$host_url" "$key_a"
cpu_a=$(cpu_ticks "$host_pid")
authorize_run host-empty "$DURATION" "$host_url" "$key_a"
cpu_host=$(($(cpu_ticks "$host_pid") - cpu_a))
rows_after=$(settled_rows "$data_a")
db_after=$(db_bytes "$data_a")
rss_after=$(rss_kb "$host_pid")
answered_200=$((1 + $(res host-warm ok) + $(res host-empty ok)))
flows_made=$((rows_after - rows_before))

# Each answer really recorded: after SIGTERM and a restart, a connection answered during
# the run is there, and the table holds a row for every 200 wrk saw (plus at most the
# requests still in flight when each wrk run stopped, answered to a closed socket).
stop_pid "$host_pid"
start_host "$data_a"
sample_id=$(res host-empty sample)
restart_status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key_a" \
  "$host_url/v1/organizations/$ORG/knowledge/connectors/connections/$sample_id")
stop_pid "$host_pid"
rows_restarted=$(db_rows "$data_a")

# ---- 2. the same with SEED more stored connections ------------------------------------------
# Seeded while the host is stopped, straight into the real table: every column, in the shape
# of a flow the host itself started (a template row), with ids of the host's shape
# (oauth/ids.hpp: milliseconds, one per flow from a day ago on, then 80 random bits) and
# random state hashes; the store picks the row keys, as it does for the host. Each verifier is
# an envelope of the template's key (crypto/sealer.hpp) with random ciphertext, as the host's
# own are: a serving host checks every stored envelope's key at start.
seed_started=$(date +%s.%N)
sqlite3 "$data_a/connector-host.sqlite3" >/dev/null <<SQL
PRAGMA synchronous = OFF;
PRAGMA cache_size = -131072;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $SEED),
     t AS (SELECT * FROM connections WHERE status = 'pending' LIMIT 1),
     k AS (SELECT CAST(strftime('%s', 'now') AS INTEGER) * 1000 - 86400000 AS base)
INSERT INTO connections (id, organization_id, slug, source_definition_id, workspace_id,
                         state_hash, redirect_url, redirect_uri, sealed_code_verifier, flow_options_json, status,
                         error_code, error_description, sealed_credentials, granted_scopes, token_expires_at,
                         account_id, account_name, source_id, created_at, expires_at, updated_at, version,
                         target_source_id, oauth_app_scope, plugin_build, state_names_connection)
SELECT printf('conn_%012x%s', k.base + n.i, lower(hex(randomblob(10)))), t.organization_id, t.slug,
       t.source_definition_id, t.workspace_id, lower(hex(randomblob(32))), t.redirect_url, t.redirect_uri,
       CAST(x'01' || substr(t.sealed_code_verifier, 2, 4) || randomblob(length(t.sealed_code_verifier) - 5) AS BLOB),
       t.flow_options_json, t.status, t.error_code, t.error_description,
       t.sealed_credentials, t.granted_scopes, t.token_expires_at, t.account_id, t.account_name, t.source_id,
       t.created_at, t.expires_at, t.updated_at, t.version, t.target_source_id, t.oauth_app_scope, t.plugin_build,
       t.state_names_connection
FROM n, t, k;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
seed_seconds=$(calc "$(date +%s.%N) - $seed_started" 1)
rows_seeded=$(db_rows "$data_a")
# The count of stored secrets by sealing key that serve makes at start and on SIGHUP
# (`encryption status` runs the same count), over the seeded store.
key_scan_started=$(date +%s.%N)
"$host_bin" encryption status --data-dir "$data_a" >/dev/null
key_scan_seconds=$(calc "$(date +%s.%N) - $key_scan_started" 2)
start_host "$data_a"
authorize_run host-big-warm "$WARMUP" "$host_url" "$key_a"
authorize_run host-big "$DURATION" "$host_url" "$key_a"
stop_pid "$host_pid"

# ---- 3. the floor: HTTP alone, same request, same answer size ------------------------------
# The host's default I/O threads (host/config/host_config.cpp: 2 per core, at least 2).
io_threads=$(( $(nproc) * 2 > 2 ? $(nproc) * 2 : 2 ))
start_floor() {
  "$floor_bin" --listen 127.0.0.1:0 --threads "$io_threads" --body-bytes "$body_bytes" >"$work/floor.out" 2>&1 &
  floor_pid=$!
  started+=("$floor_pid")
  floor_url="http://127.0.0.1:$(port_from "$work/floor.out" "$floor_pid")"
}
start_floor
authorize_run floor-warm "$WARMUP" "$floor_url" "$key_a"
cpu_a=$(cpu_ticks "$floor_pid")
authorize_run floor "$DURATION" "$floor_url" "$key_a"
cpu_floor=$(($(cpu_ticks "$floor_pid") - cpu_a))
stop_pid "$floor_pid"

# ---- 4. the alternative: grant on Express, sessions in MemoryStore -------------------------
start_grant() { # a new process each time: its MemoryStore starts empty
  node "$here/grant/server.js" --port 0 >"$work/grant.out" 2>&1 &
  grant_pid=$!
  started+=("$grant_pid")
  grant_url="http://127.0.0.1:$(port_from "$work/grant.out" "$grant_pid")"
}
start_grant
grant_location=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$grant_url/connect/github")
case "$grant_location" in
  "302 https://github.com/login/oauth/authorize?"*state=*code_challenge=*) ;;
  *) die "grant did not redirect to GitHub with state and PKCE: $grant_location" ;;
esac
grant_run() {
  BENCH_METHOD=GET BENCH_OK_STATUS=302 BENCH_OK_NEEDLE=code_challenge= \
    run_wrk "$1" "$2" fixed.lua "$grant_url/connect/github"
}
grant_run grant-warm "$WARMUP"
cpu_a=$(cpu_ticks "$grant_pid")
grant_run grant "$DURATION"
cpu_grant=$(($(cpu_ticks "$grant_pid") - cpu_a))
rss_grant=$(rss_kb "$grant_pid")
stop_pid "$grant_pid"

# ---- 4b. further rounds of the three steady-state runs, for medians ------------------------
# The machine is shared: a single run of each target can land in a busy or a quiet moment,
# and the ratios would carry that. Each further round runs the host (a fresh, empty store),
# the floor and grant again, one after another; the report gives the medians over rounds.
for round in $(seq 2 "$ROUNDS"); do
  data_r="$work/host-round-$round"
  key_r=$(new_key "$data_r")
  start_host "$data_r"
  authorize_run "host-empty-warm-$round" "$WARMUP" "$host_url" "$key_r"
  authorize_run "host-empty-$round" "$DURATION" "$host_url" "$key_r"
  stop_pid "$host_pid"
  start_floor
  authorize_run "floor-warm-$round" "$WARMUP" "$floor_url" "$key_r"
  authorize_run "floor-$round" "$DURATION" "$floor_url" "$key_r"
  stop_pid "$floor_pid"
  start_grant
  grant_run "grant-warm-$round" "$WARMUP"
  grant_run "grant-$round" "$DURATION"
  stop_pid "$grant_pid"
done

# ---- 5. the whole flow: provider callback + code exchange against the provider double ------
tls="$work/tls"
"$root/tests/tls/make-test-ca.sh" "$tls" >/dev/null
node "$root/tests/peers/provider-double.js" --cert "$tls/server.pem" --key "$tls/server-key.pem" --port 0 \
  >"$work/double.out" 2>"$work/double.err" &
double_pid=$!
started+=("$double_pid")
double_url="https://127.0.0.1:$(port_from "$work/double.out" "$double_pid")"
data_c="$work/host-c"
key_c=$(new_key "$data_c")
start_host "$data_c" CONNECTOR_GITHUB_BASE_URL="$double_url" CONNECTOR_GITHUB_API_URL="$double_url" \
  CONNECTOR_CA_FILE="$tls/ca.pem"
prepared=$(node "$here/flows/prepare.js" flows --host "$host_url" --org "$ORG" --key "$key_c" --ca "$tls/ca.pem" \
  --count "$FLOWS" --concurrency 32 --out "$work/callbacks.txt")
echo "bench: prepared $prepared" >&2
# replay_run NAME FILE URL [wrk options…]: every line once, at the same concurrency.
replay_run() {
  local name=$1 file=$2 url=$3; shift 3
  mkdir -p "$work/markers-$name"
  BENCH_REPLAY_FILE=$file BENCH_REPLAY_THREADS=$THREADS BENCH_REPLAY_CONNECTIONS=$CONNS BENCH_REPLAY_MARKERS="$work/markers-$name" \
    run_wrk "$name" "$FLOW_CAP" replay.lua "$url" "$@"
}
BENCH_REPLAY_METHOD=GET BENCH_OK_STATUS=302 BENCH_OK_NEEDLE=status=success \
  replay_run callback "$work/callbacks.txt" "$host_url"
# The host's own view of the same requests: its latency histogram's sum and count.
callback_server_mean_ms=$(curl -s "$host_url/metrics" | awk '
  /^connector_http_request_duration_seconds_sum\{route="\/v1\/oauth\/callback"\}/ { s = $2 }
  /^connector_http_request_duration_seconds_count\{route="\/v1\/oauth\/callback"\}/ { c = $2 }
  END { if (c > 0) printf "%.2f", s / c * 1000; else print "n/a" }')
stop_pid "$host_pid"

# The double alone, called as the host calls it: a new TLS connection per request
# (the host's HTTPS client sends Connection: close), the token exchange and then GET /user.
node "$here/flows/prepare.js" codes --provider "$double_url" --ca "$tls/ca.pem" --count "$FLOWS" \
  --concurrency 32 --redirect-uri "$host_url/v1/oauth/callback" --out "$work/codes.txt" >/dev/null
BENCH_REPLAY_METHOD=POST BENCH_REPLAY_PATH=/login/oauth/access_token BENCH_OK_STATUS=200 \
  BENCH_OK_NEEDLE=access_token replay_run double-token "$work/codes.txt" "$double_url" \
  -H 'Accept: application/json' -H 'Content-Type: application/x-www-form-urlencoded' -H 'Connection: close'
user_token=$(node "$here/flows/prepare.js" token --provider "$double_url" --ca "$tls/ca.pem")
BENCH_METHOD=GET BENCH_OK_STATUS=200 BENCH_OK_NEEDLE=login run_wrk double-user "$DURATION" fixed.lua \
  "$double_url/user" -H "Authorization: Bearer $user_token" -H 'Accept: application/vnd.github+json' \
  -H 'Connection: close'
stop_pid "$double_pid"

# ---- 6. start-up time ----------------------------------------------------------------------
startup=$(node "$here/flows/startup-time.js" --host "$host_bin" --plugins "$plugins" --work "$work" --runs "$STARTS")
startup_ms=$(echo "$startup" | sed 's/.*"median_ms":\([0-9.]*\).*/\1/')
startup_runs=$(echo "$startup" | sed 's/.*"runs":\[\([^]]*\)\].*/\1/')

# ---- 7. PostgreSQL beside SQLite -----------------------------------------------------------
if [ "${BENCH_POSTGRES:-1}" = 1 ]; then
  # shellcheck source=bench/postgres.sh
  source "$here/postgres.sh"
fi

# ---- report --------------------------------------------------------------------------------
rps() { calc "$(res "$1" rps)" 0; }
# The steady-state targets ran once per round: NAME, NAME-2, NAME-3, …
rounds_of() { local round; echo "$1"; for round in $(seq 2 "$ROUNDS"); do echo "$1-$round"; done; }
median_of() { # the median of the numbers on standard input, one a line
  sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
median() { # NAME KEY: KEY's median over NAME's rounds
  local name; for name in $(rounds_of "$1"); do res "$name" "$2"; done | median_of
}
# Each round runs the host, the floor and grant one after another, so a round's ratio compares
# them at (nearly) the same moment of the shared machine; the verdict takes the median of the
# rounds' ratios. A ratio of medians can pair a quiet moment of one with a busy one of another.
round_ratios() { # NAME OTHER: NAME's req/s over OTHER's, per round, one a line
  local round suffix
  for round in $(seq 1 "$ROUNDS"); do
    suffix=$([ "$round" = 1 ] || echo "-$round")
    echo "$(calc "$(res "$1$suffix" rps) / $(res "$2$suffix" rps)")"
  done
}
total() { # NAME KEY…: the sum of the KEYs over NAME's rounds
  local name key sum=0 name_=$1; shift
  for name in $(rounds_of "$name_"); do for key in "$@"; do sum=$((sum + $(res "$name" "$key"))); done; done
  echo "$sum"
}
per_round() { # NAME KEY [DIVISOR DECIMALS]: each round's value, "a / b / c"
  local name out=''
  for name in $(rounds_of "$1"); do out+="${out:+ / }$(calc "$(res "$name" "$2") / ${3:-1}" "${4:-0}")"; done
  echo "$out"
}
median_row() { # LABEL NAME: medians over the rounds, answers and errors summed
  echo "| $1 | $(calc "$(median "$2" rps)" 0) | $(calc "$(median "$2" p50_us) / 1000" 2) | $(calc "$(median "$2" p99_us) / 1000" 2) | $(total "$2" ok) | $(total "$2" bad err_connect err_read err_write err_timeout) |"
}
row() { # LABEL NAME
  echo "| $1 | $(rps "$2") | $(ms "$2" p50_us) | $(ms "$2" p99_us) | $(res "$2" ok) | $(($(res "$2" bad) + $(res "$2" err_connect) + $(res "$2" err_read) + $(res "$2" err_write) + $(res "$2" err_timeout))) |"
}
host_floor=$(calc "$(round_ratios host-empty floor | median_of)")
host_grant=$(calc "$(round_ratios host-empty grant | median_of)")
# The scale run came right after round 1's empty-store run: compared with that one.
big_empty=$(calc "$(res host-big rps) / $(res host-empty rps)")
host_p99_ms=$(calc "$(median host-empty p99_us) / 1000" 2)
floor_ratios=$(round_ratios host-empty floor | paste -sd/ | sed 's|/| / |g')
grant_ratios=$(round_ratios host-empty grant | paste -sd/ | sed 's|/| / |g')
rss_idle_mb=$(calc "$rss_idle / 1024" 1)
db_per_flow=$(calc "($db_after - $db_before) / $flows_made" 0)
rss_per_flow=$(calc "($rss_after - $rss_idle) * 1024 / $flows_made" 0)
extra_rows=$((rows_restarted - rows_before - answered_200))
callback_sent=$(res callback sent)
# CPU time of the serving process per answer over the measured run: steadier than req/s on a
# shared machine, and what the ratios come down to when wrk and the target share the cores.
tick_us=$(calc "1000000 / $(getconf CLK_TCK)" 3)
cpu_us() { calc "$1 * $tick_us / $(res "$2" requests)" 1; }
report="$work/report.md"
{
  echo "# connector-host benchmark"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) · $(nproc) cores · wrk -t$THREADS -c$CONNS -d$DURATION (after a $WARMUP warm-up) · host: Release, $(res host-empty requests) authorize answers in the main run · load average at start $load_at_start · tree $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')"
  echo
  echo "The first three rows are medians over $ROUNDS alternating rounds (host, floor, grant, then again); ok answers are their sum. The ratios below are the medians of the rounds' own ratios (each round's host against the same round's floor or grant)."
  echo
  echo "| target | req/s | p50 ms | p99 ms | ok answers | other answers / socket errors |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  median_row "host: POST sources/authorize (github), empty store" host-empty
  median_row "floor: bench_floor, fixed ${body_bytes}-byte JSON, same request" floor
  median_row "grant $(node -p 'require(process.argv[1]).version' "$here/grant/node_modules/grant/package.json") + express-session MemoryStore: GET /connect/github" grant
  row "host: POST sources/authorize, $rows_seeded stored connections (after round 1)" host-big
  row "host: GET /v1/oauth/callback, code exchange + GET /user at the double ($callback_sent flows)" callback
  row "provider double alone: POST /login/oauth/access_token, new TLS connection each" double-token
  row "provider double alone: GET /user, new TLS connection each" double-user
  echo
  echo "| measure | value | target | |"
  echo "| --- | ---: | --- | --- |"
  echo "| authorize host / floor | ${host_floor}× | ≥ 0.5× | $(verdict "$host_floor >= 0.5") |"
  echo "| authorize host / grant | ${host_grant}× | ≥ 10× | $(verdict "$host_grant >= 10") |"
  echo "| authorize p99 at $CONNS connections | $host_p99_ms ms | < 5 ms | $(verdict "$host_p99_ms < 5") |"
  echo "| authorize with $rows_seeded stored / empty | ${big_empty}× | ≥ 0.8× | $(verdict "$big_empty >= 0.8") |"
  echo "| idle RSS, $plugins_loaded plugins loaded | $rss_idle_mb MB | < 30 MB | $(verdict "$rss_idle_mb < 30") |"
  echo "| stored bytes per pending flow (DB growth / $flows_made flows) | $db_per_flow B | < 1 KB | $(verdict "$db_per_flow < 1024") |"
  echo "| start-up to first /readyz 200, median of $STARTS | $startup_ms ms | < 100 ms | $(verdict "$startup_ms < 100") |"
  echo
  echo "Checks and other figures:"
  echo
  echo "- Rounds, req/s: host $(per_round host-empty rps); floor $(per_round floor rps); grant $(per_round grant rps). Host / floor per round: $floor_ratios; host / grant: $grant_ratios. p99 ms: host $(per_round host-empty p99_us 1000 2); floor $(per_round floor p99_us 1000 2)."
  echo "- Durability: after SIGTERM and a restart, GET connections/$sample_id → $restart_status ($(check "$restart_status == 200"))."
  echo "- Rows: $((rows_restarted - rows_before)) new rows in \`connections\` after the restart for $answered_200 answers 200 seen by wrk and curl; $extra_rows more rows than answers seen (requests in flight when wrk stopped; at most $((2 * CONNS))): $(check "$extra_rows >= 0 && $extra_rows <= 2 * $CONNS")."
  echo "- CPU per answer (user + system time of the serving process over its measured run in round 1, every thread): host $(cpu_us "$cpu_host" host-empty) µs, floor $(cpu_us "$cpu_floor" floor) µs, grant $(cpu_us "$cpu_grant" grant) µs."
  echo "- RSS growth per pending flow: $rss_per_flow B (idle $rss_idle kB → $rss_after kB after $flows_made flows)."
  echo "- Callback run: $callback_sent of $FLOWS prepared callbacks sent, $(res callback ok) redirected with status=success; the host's /metrics mean for the callback route: $callback_server_mean_ms ms."
  echo "- The double's own time in a callback (its two endpoints alone, p50): $(ms double-token p50_us) + $(ms double-user p50_us) ms of the callback's $(ms callback p50_us) ms; with $CONNS callbacks in flight at $(rps callback)/s, each spends $(calc "$CONNS / $(res callback rps) * 1000" 1) ms in the system (Little's law), mostly waiting for the 2 cores that wrk, the host and the double share."
  echo "- Counting the stored secrets by sealing key (\`encryption status\`, the count serve makes at start and on SIGHUP) over $rows_seeded connections: $key_scan_seconds s."
  echo "- Seeding $SEED rows (sqlite3, recursive CTE): $seed_seconds s. grant's RSS after its run: $(calc "$rss_grant / 1024" 1) MB."
  echo "- Start-up runs (ms): $startup_runs."
  if [ "${BENCH_POSTGRES:-1}" = 1 ]; then postgres_report; fi
} >"$report"
mkdir -p "$here/results"
cp "$report" "$here/results/latest.md"
cat "$report"
