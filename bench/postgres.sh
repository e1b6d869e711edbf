# bench/postgres.sh — sourced by bench/run.sh (section 7): the host on PostgreSQL beside the
# host on SQLite, with the same wrk settings. Runs authorize and POST sources/{id}/access-token
# on SQLite, on PostgreSQL with one replica, and on PostgreSQL with two replicas (wrk's
# threads split over both, bench/wrk/split.lua); then access-token again with PG_SEED more
# stored sources. PostgreSQL's own CPU time (every server process) is counted beside the
# host's. postgres_report prints its part of the report.
#
# Uses run.sh's helpers (start_host, stop_pid, run_wrk, res, calc, …) and its variables.

PG_SEED=${BENCH_PG_SEED_SOURCES:-$([ "${BENCH_QUICK:-0}" = 1 ] && echo 50000 || echo 1000000)}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pg_bin/initdb" ] || die "PostgreSQL is not installed (scripts/install-deps.sh --bench)"

# ---- a PostgreSQL server of its own, on a free port; as root, run as the postgres user -------
# Its own folder: the postgres user cannot enter the run's private work folder.
pg_dir=$(mktemp -d /tmp/connector-bench-postgres.XXXXXX)
pg_port=$(free_port)
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres "$pg_dir"; fi
pg_as "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust --no-sync >"$work/initdb.log" 2>&1 ||
  die "initdb failed: $(tail -n 5 "$work/initdb.log")"
pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1" start >/dev/null || die "PostgreSQL did not start"
pg_stop() {
  pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap 'pg_stop; cleanup' EXIT
psql_admin() { psql -h 127.0.0.1 -p "$pg_port" -U postgres -qAtX "$@"; }
postmaster_pid=$(head -n 1 "$pg_dir/data/postmaster.pid")
# Every server process's user + system ticks (the postmaster and its children).
pg_ticks() {
  local pid sum=0
  for pid in "$postmaster_pid" $(pgrep -P "$postmaster_pid"); do
    sum=$((sum + $(cpu_ticks "$pid" 2>/dev/null || echo 0)))
  done
  echo "$sum"
}
# A database of its own per configuration, owned by a role that is no superuser.
psql_admin -c "CREATE ROLE bench LOGIN PASSWORD 'bench'"
pg_database() { # NAME: makes it and prints its URL
  psql_admin -c "CREATE DATABASE $1 OWNER bench"
  echo "postgresql://bench:bench@127.0.0.1:$pg_port/$1"
}

# ---- helpers -------------------------------------------------------------------------------
token_path() { echo "/v1/organizations/$ORG/knowledge/connectors/sources/$1/access-token"; }
# A workspace and a source holding an access token, through the API: prints the source id.
make_token_source() { # URL KEY
  local workspace
  workspace=$(curl -sf -X POST "$1/v1/organizations/$ORG/knowledge/connectors/workspaces" \
    -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d '{"name":"bench"}' |
    sed 's/.*"workspace_id":"\([^"]*\)".*/\1/')
  curl -sf -X POST "$1/v1/organizations/$ORG/knowledge/connectors/sources" \
    -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    -d "{\"name\":\"bench\",\"source_definition_id\":\"ef69ef6e-aa7f-4af1-a01d-ef775033524e\",\"workspace_id\":\"$workspace\",\"configuration\":{\"credentials\":{\"auth_type\":\"access_token\",\"access_token\":\"ghp_bench0123456789\"}}}" |
    sed 's/.*"source_id":"\([^"]*\)".*/\1/'
}
token_run() { # NAME DURATION URL KEY SOURCE_ID
  BENCH_METHOD=POST BENCH_BODY='{}' BENCH_OK_STATUS=200 BENCH_OK_NEEDLE=access_token \
    run_wrk "$1" "$2" fixed.lua "$3$(token_path "$5")" -H "Authorization: Bearer $4" -H 'Content-Type: application/json'
}
# The same two requests with wrk's threads split over the replicas in BENCH_TARGETS.
split_authorize_run() { # NAME DURATION URL KEY
  BENCH_METHOD=POST BENCH_BODY="$authorize_body" BENCH_OK_STATUS=200 BENCH_OK_NEEDLE=connection_id \
    run_wrk "$1" "$2" split.lua "$3$authorize_path" -H "Authorization: Bearer $4" -H 'Content-Type: application/json'
}
split_token_run() { # NAME DURATION URL KEY SOURCE_ID
  BENCH_METHOD=POST BENCH_BODY='{}' BENCH_OK_STATUS=200 BENCH_OK_NEEDLE=access_token \
    run_wrk "$1" "$2" split.lua "$3$(token_path "$5")" -H "Authorization: Bearer $4" -H 'Content-Type: application/json'
}
# measured NAME RUN-FUNCTION ARGS…: a warm-up, then the run, with the CPU of the hosts in
# $measured_pids and of PostgreSQL; leaves NAME.cpu_host and NAME.cpu_pg (ticks).
measured() {
  local name=$1 run=$2 pid host_before=0 host_after=0 pg_before pg_after; shift 2
  "$run" "$name-warm" "$WARMUP" "$@"
  for pid in $measured_pids; do host_before=$((host_before + $(cpu_ticks "$pid"))); done
  pg_before=$(pg_ticks)
  "$run" "$name" "$DURATION" "$@"
  for pid in $measured_pids; do host_after=$((host_after + $(cpu_ticks "$pid"))); done
  pg_after=$(pg_ticks)
  echo $((host_after - host_before)) >"$work/$name.cpu_host"
  echo $((pg_after - pg_before)) >"$work/$name.cpu_pg"
}
key_with_tokens() { "$host_bin" keys create --org "$ORG" --permissions "sources credentials:read" "$@" | tail -n 1; }

# one_replica NAME DATA_DIR [DATABASE_URL]: one host, on SQLite or on the database; its
# authorize and access-token runs as NAME-authorize and NAME-token. Leaves its key and source
# in one_key and one_source.
one_replica() {
  local name=$1 data=$2 url=${3:-}
  one_key=$(key_with_tokens --data-dir "$data" ${url:+--database "$url"})
  start_host "$data" ${url:+CONNECTOR_DATABASE_URL="$url"}
  one_source=$(make_token_source "$host_url" "$one_key")
  measured_pids=$host_pid
  measured "$name-authorize" authorize_run "$host_url" "$one_key"
  measured "$name-token" token_run "$host_url" "$one_key" "$one_source"
  stop_pid "$host_pid"
}

# ---- SQLite, then PostgreSQL, one replica each ----------------------------------------------
one_replica sqlite "$work/host-sqlite-token"
url_1=$(pg_database bench_one)
data_p="$work/host-pg-one"
one_replica pg1 "$data_p" "$url_1"
key_p=$one_key source_p=$one_source

# ---- PostgreSQL, two replicas on one database and one key file --------------------------------
# (Every host of the run reads one key file: CONNECTOR_ENCRYPTION_KEYS_FILE, set by run.sh.)
url_2=$(pg_database bench_two)
key_2=$(key_with_tokens --data-dir "$work/host-pg-a" --database "$url_2")
start_host "$work/host-pg-a" CONNECTOR_DATABASE_URL="$url_2"
replica_a_pid=$host_pid replica_a_url=$host_url
start_host "$work/host-pg-b" CONNECTOR_DATABASE_URL="$url_2"
replica_b_pid=$host_pid
source_2=$(make_token_source "$replica_a_url" "$key_2")
export BENCH_TARGETS="${replica_a_url#http://} ${host_url#http://}"
measured_pids="$replica_a_pid $replica_b_pid"
measured pg2-authorize split_authorize_run "$replica_a_url" "$key_2"
measured pg2-token split_token_run "$replica_a_url" "$key_2" "$source_2"
unset BENCH_TARGETS
stop_pid "$replica_a_pid"
stop_pid "$replica_b_pid"

# ---- PostgreSQL with PG_SEED more stored sources: the same access-token ---------------------
# Copies of the measured source with ids of the host's shape, straight into the table (the
# host stopped); only the measured one is asked for.
columns=$(psql_admin -d bench_one -c \
  "SELECT string_agg(column_name, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'sources'")
copies=$(echo "$columns" | sed "s/^id, /'src_' || lpad(to_hex(g), 32, '0'), /")
[ "$copies" != "$columns" ] || die "the sources table does not start with id"
seed_started=$(date +%s.%N)
psql_admin -d bench_one -c "INSERT INTO sources ($columns) SELECT $copies FROM sources, generate_series(1, $PG_SEED) g WHERE id = '$source_p'; ANALYZE sources"
pg_seed_seconds=$(calc "$(date +%s.%N) - $seed_started" 1)
sources_stored=$(psql_admin -d bench_one -c "SELECT count(*) FROM sources")
pg_key_scan_started=$(date +%s.%N)
"$host_bin" encryption status --database "$url_1" >/dev/null
pg_key_scan_seconds=$(calc "$(date +%s.%N) - $pg_key_scan_started" 2)
start_host "$data_p" CONNECTOR_DATABASE_URL="$url_1"
measured_pids=$host_pid
measured pg1-token-big token_run "$host_url" "$key_p" "$source_p"
stop_pid "$host_pid"
pg_stop

# ---- its part of the report (run.sh calls postgres_report inside its report) --------------------
postgres_report() {
  cpu_per() { calc "($(cat "$work/$1.cpu_$2") * $tick_us) / $(res "$1" requests)" 1; }
  pg_row() { # LABEL NAME
    echo "| $1 | $(rps "$2") | $(ms "$2" p50_us) | $(ms "$2" p99_us) | $(res "$2" ok) | $(($(res "$2" bad) + $(res "$2" err_connect) + $(res "$2" err_read) + $(res "$2" err_write) + $(res "$2" err_timeout))) | $(cpu_per "$2" host) | $(cpu_per "$2" pg) |"
  }
  ratio() { calc "$(res "$1" rps) / $(res "$2" rps)"; }
  authorize_pg=$(ratio pg1-authorize sqlite-authorize)
  token_pg=$(ratio pg1-token sqlite-token)
  {
    echo
    echo "## PostgreSQL beside SQLite"
    echo
    echo "One run each, right after one another, with the same wrk settings; two replicas share one database and one key file, wrk's $THREADS threads split over them. CPU µs per answer: the host processes', and every PostgreSQL server process's, user + system time over the measured run."
    echo
    echo "| target | req/s | p50 ms | p99 ms | ok answers | other answers / socket errors | host CPU µs | PostgreSQL CPU µs |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    pg_row "SQLite: POST sources/authorize" sqlite-authorize
    pg_row "SQLite: POST sources/{id}/access-token" sqlite-token
    pg_row "PostgreSQL, 1 replica: authorize" pg1-authorize
    pg_row "PostgreSQL, 1 replica: access-token" pg1-token
    pg_row "PostgreSQL, 2 replicas: authorize" pg2-authorize
    pg_row "PostgreSQL, 2 replicas: access-token" pg2-token
    pg_row "PostgreSQL, 1 replica: access-token, $sources_stored stored sources" pg1-token-big
    echo
    echo "| measure | value | target | |"
    echo "| --- | ---: | --- | --- |"
    echo "| authorize PostgreSQL / SQLite, 1 replica | ${authorize_pg}× | ≥ 0.5× | $(verdict "$authorize_pg >= 0.5") |"
    echo "| access-token PostgreSQL / SQLite, 1 replica | ${token_pg}× | ≥ 0.8× | $(verdict "$token_pg >= 0.8") |"
    echo "| authorize, 2 replicas / 1 | $(ratio pg2-authorize pg1-authorize)× | | |"
    echo "| access-token, 2 replicas / 1 | $(ratio pg2-token pg1-token)× | | |"
    echo "| access-token with $sources_stored stored sources / 1 | $(ratio pg1-token-big pg1-token)× | | |"
    echo
    echo "- Seeding $PG_SEED sources into PostgreSQL (one INSERT … SELECT): $pg_seed_seconds s."
    echo "- Counting the stored secrets by sealing key (\`encryption status\`, the count serve makes at start and on SIGHUP) over $sources_stored sources: $pg_key_scan_seconds s."
  }
}
