#!/usr/bin/env bash
# bench/compare.sh — authorize throughput of this tree against another build, in alternating
# rounds on one machine, so that a change's cost is read against the same noise.
#
#   bench/compare.sh OTHER_DIR [rounds]
#
# OTHER_DIR holds another Release build's `connector-host` and its `plugins/` folder (e.g. a
# copy of build-release/host/connector-host and build-release/plugins taken before a change).
# Each round runs `wrk -t2 -c64` for BENCH_DURATION (10s) against a fresh host of each build,
# this tree first on odd rounds and second on even ones, and prints both req/s and the host's
# CPU time per answer (steadier than req/s on a shared machine); the last line gives the
# medians and their ratios.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
other=${1:?usage: bench/compare.sh OTHER_DIR [rounds]}
rounds=${2:-6}
DURATION=${BENCH_DURATION:-10s}
ORG=org_bench
REDIRECT=https://app.example.com/callback
[ -x "$other/connector-host" ] && [ -d "$other/plugins" ] || { echo "compare: $other needs connector-host and plugins/" >&2; exit 2; }

# shellcheck source=bench/build.sh
source "$here/build.sh"
bench_build

work=$(mktemp -d /tmp/connector-compare.XXXXXX)
host_pid=''
cleanup() {
  if [ -n "$host_pid" ] && kill -0 "$host_pid" 2>/dev/null; then kill -TERM "$host_pid"; wait "$host_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# As in bench/run.sh: one organization as fast as it can, so the rate limit and the
# pending-flow cap are off.
export CONNECTOR_LOG_LEVEL=warning CONNECTOR_ALLOWED_REDIRECTS=$REDIRECT \
  CONNECTOR_GITHUB_CLIENT_ID=test-client-id CONNECTOR_GITHUB_CLIENT_SECRET=test-client-secret \
  CONNECTOR_AUTHORIZE_RATE_PER_MINUTE=0 CONNECTOR_MAX_PENDING_FLOWS=0

# one_round BINARY PLUGINS: prints the req/s of one measured wrk run on a fresh data folder.
one_round() {
  local binary=$1 plugin_dir=$2 data port key
  data=$(mktemp -d "$work/data.XXXXXX")
  export CONNECTOR_KEY_FILE="$data/encryption.keys"
  key=$("$binary" keys create --org "$ORG" --data-dir "$data" | tail -n 1)
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  "$binary" serve --listen "127.0.0.1:$port" --data-dir "$data" --plugins-dir "$plugin_dir" 2>>"$work/host.log" &
  host_pid=$!
  for _ in $(seq 400); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && break
    sleep 0.05
  done
  local url="http://127.0.0.1:$port/v1/organizations/$ORG/knowledge/connectors/sources/authorize"
  local body="{\"slug\":\"github\",\"redirect_url\":\"$REDIRECT\"}"
  local -a wrk_args=(-t2 -c64 -s "$here/wrk/fixed.lua" "$url" -H "Authorization: Bearer $key"
                     -H 'Content-Type: application/json')
  export BENCH_LUA_DIR="$here/wrk" BENCH_METHOD=POST BENCH_BODY=$body BENCH_OK_STATUS=200 BENCH_OK_NEEDLE=connection_id
  wrk -d2s "${wrk_args[@]}" >/dev/null # warm-up
  local ticks_before result ticks
  ticks_before=$(awk '{print $14 + $15}' "/proc/$host_pid/stat")
  result=$(wrk -d"$DURATION" "${wrk_args[@]}")
  ticks=$(($(awk '{print $14 + $15}' "/proc/$host_pid/stat") - ticks_before))
  # req/s, then the host's CPU time (user + system, every thread) per answer in microseconds
  awk -v ticks="$ticks" -v hz="$(getconf CLK_TCK)" '
    /requests in/ { requests = $1 }
    /^Requests\/sec:/ { rps = $2 }
    END { printf "%.0f %.1f\n", rps, ticks / hz * 1e6 / requests }' <<<"$result"
  kill -TERM "$host_pid"
  wait "$host_pid" || true
  host_pid=''
  rm -rf "$data"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

this_rps=() other_rps=() this_cpu=() other_cpu=()
for round in $(seq "$rounds"); do
  if [ $((round % 2)) = 1 ]; then
    read -r a a_cpu < <(one_round "$host_bin" "$plugins"); read -r b b_cpu < <(one_round "$other/connector-host" "$other/plugins")
  else
    read -r b b_cpu < <(one_round "$other/connector-host" "$other/plugins"); read -r a a_cpu < <(one_round "$host_bin" "$plugins")
  fi
  this_rps+=("$a") other_rps+=("$b") this_cpu+=("$a_cpu") other_cpu+=("$b_cpu")
  echo "round $round: this tree $a req/s ($a_cpu µs CPU an answer), other $b req/s ($b_cpu µs)"
done
median_of() { printf '%s\n' "$@" | median; }
mine=$(median_of "${this_rps[@]}") theirs=$(median_of "${other_rps[@]}")
mine_cpu=$(median_of "${this_cpu[@]}") theirs_cpu=$(median_of "${other_cpu[@]}")
echo "medians over $rounds rounds: this tree $mine req/s and $mine_cpu µs CPU an answer," \
  "other $theirs req/s and $theirs_cpu µs; throughput ratio $(awk "BEGIN { printf \"%.3f\", $mine / $theirs }")," \
  "CPU ratio $(awk "BEGIN { printf \"%.3f\", $mine_cpu / $theirs_cpu }")"
