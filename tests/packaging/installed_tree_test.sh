#!/usr/bin/env bash
# The installed tree works on its own: `cmake --install` of the host, plugins and service
# components into a temporary prefix; the installed binary finds its plugins beside itself
# (no --plugins-dir), accepts the installed sample configuration, serves, and stops cleanly.
#   installed_tree_test.sh BUILD_DIR CMAKE
set -euo pipefail
build=$1
cmake=$2
. "$(dirname "$0")/host_process.sh"
# The two native plugins and one per catalogue definition (plugins/catalogue/*.json).
catalogue=("$(dirname "$0")"/../../plugins/catalogue/*.json)
plugin_count=$((2 + ${#catalogue[@]}))

prefix=$work/prefix
for component in host plugins service; do
  "$cmake" --install "$build" --prefix "$prefix" --component "$component" > /dev/null
done
test -x "$prefix/bin/connector-host"
test -f "$prefix/lib/connector-host/plugins/github.so"
test -f "$prefix/lib/connector-host/plugins/google-sheets.so"
test -f "$prefix/lib/connector-host/plugins/gitlab.json" # the catalogue's (plugins/catalogue)
test -f "$prefix/lib/systemd/system/connector-host.service"
sample=$prefix/share/connector-host/connector-host.example.json
test -f "$sample"

# The sample, as an operator would adapt it: a free port, a data folder of its own.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s#\"listen\": \"127.0.0.1:8080\"#\"listen\": \"127.0.0.1:$port\"#" \
    -e "s#\"data_dir\": \"/var/lib/connector-host\"#\"data_dir\": \"$work/data\"#" "$sample" > "$work/connector-host.json"

start_host "$prefix/bin/connector-host" serve --config "$work/connector-host.json"
grep -q "\"plugins_dir\":\"$prefix/lib/connector-host/plugins\"" "$work/host.log" || {
  echo "the installed host did not find its plugins beside itself"; cat "$work/host.log"; exit 1; }

key=$("$prefix/bin/connector-host" keys create --org org_installed --permissions "sources admin" \
      --config "$work/connector-host.json" | tail -n 1)
plugins=$(curl -sf "http://127.0.0.1:$port/v1/admin/plugins" -H "Authorization: Bearer $key")
echo "$plugins" | grep -q '"slug":"github"' || { echo "$plugins"; exit 1; }
echo "$plugins" | grep -q '"slug":"google-sheets"' || { echo "$plugins"; exit 1; }
echo "$plugins" | grep -q '"slug":"gitlab"' || { echo "$plugins"; exit 1; }
# The sample names a GitHub client id but no secret: installed, not configured, and saying so.
answer=$(curl -s -X POST "http://127.0.0.1:$port/v1/organizations/org_installed/knowledge/connectors/sources/authorize" \
  -H "Authorization: Bearer $key" -H "Content-Type: application/json" \
  -d '{"slug": "github", "redirect_url": "https://app.example.com/callback"}')
echo "$answer" | grep -q '"code":"CONNECTOR_NOT_CONFIGURED"' || { echo "$answer"; exit 1; }
# Read whole before grep -q: a pipe into grep -q can cut curl off (SIGPIPE) under pipefail.
metrics=$(curl -sf "http://127.0.0.1:$port/metrics")
echo "$metrics" | grep -q "^connector_plugins{state=\"loaded\"} $plugin_count\$" || { echo "$metrics"; exit 1; }

stop_host
grep -q '"message":"stopped"' "$work/host.log"

# A misspelt setting is refused rather than ignored.
echo '{"listne": "127.0.0.1:1"}' > "$work/bad.json"
if "$prefix/bin/connector-host" serve --config "$work/bad.json" 2> "$work/bad.log"; then
  echo "a misspelt setting was accepted"; exit 1
fi
grep -q 'unknown setting' "$work/bad.log" || { cat "$work/bad.log"; exit 1; }
echo "installed tree: ok"
