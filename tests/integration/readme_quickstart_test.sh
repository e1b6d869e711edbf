#!/usr/bin/env bash
# Runs the README's quick start as written: the curl commands are taken from README.md, with
# the host's address in place of 127.0.0.1:8080 and the connection id filled in. Google is
# played by the TLS provider double. Usage: readme_quickstart_test.sh HOST_BINARY PLUGINS_DIR SOURCE_DIR TLS_DIR
set -euo pipefail
host_binary=$1 plugins_dir=$2 source_dir=$3 tls_dir=$4
work=$(mktemp -d)
cleanup() { kill "${host_pid:-}" "${double_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- host log"; cat "$work/host.log" || true; exit 1; }

bash "$source_dir/tests/tls/make-test-ca.sh" "$tls_dir" >/dev/null
node "$source_dir/tests/peers/provider-double.js" --cert "$tls_dir/server.pem" --key "$tls_dir/server-key.pem" \
  --port 0 >"$work/double.out" 2>"$work/double.err" &
double_pid=$!
for _ in $(seq 100); do grep -q port "$work/double.out" 2>/dev/null && break; sleep 0.1; done
double="https://127.0.0.1:$(sed 's/.*"port":\([0-9]*\).*/\1/' "$work/double.out")"

cd "$work"
CONNECTOR_GOOGLE_SHEETS_CLIENT_ID=test-client-id CONNECTOR_GOOGLE_SHEETS_CLIENT_SECRET=test-client-secret \
CONNECTOR_GOOGLE_SHEETS_AUTH_URI="$double/o/oauth2/v2/auth" CONNECTOR_GOOGLE_SHEETS_TOKEN_URI="$double/token" \
CONNECTOR_CA_FILE="$tls_dir/ca.pem" CONNECTOR_ALLOWED_REDIRECTS=https://app.example.com/callback \
  "$host_binary" serve --listen 127.0.0.1:0 --data-dir data --plugins-dir "$plugins_dir" 2>"$work/host.log" &
host_pid=$!
for _ in $(seq 100); do grep -q '"listening"' "$work/host.log" 2>/dev/null && break; sleep 0.1; done
url=$(grep '"listening"' "$work/host.log" | sed 's/.*"url":"\([^"]*\)".*/\1/')
[ -n "$url" ] || fail "the host did not start"

# The README's commands, as written there, with only the address (and binary path) changed.
readme_block() { # the README's command starting at the line holding $1: up to a line that ends neither in '\'
                # nor inside a single-quoted string
  awk -v start="$1" 'found || index($0, start) {
      found = 1; print; quotes += gsub(/\047/, "&")
      if ($0 !~ /\\$/ && quotes % 2 == 0) exit }' "$source_dir/README.md" |
    sed "s#http://127.0.0.1:8080#$url#g"
}
key_line=$(grep -F 'ACCESS_TOKEN=$(build-release/host/connector-host keys create' "$source_dir/README.md")
eval "${key_line//build-release\/host\/connector-host/$host_binary}"
[ -n "$ACCESS_TOKEN" ] || fail "no key"

authorize=$(eval "$(readme_block 'curl -X POST "http://127.0.0.1:8080/v1/organizations/org_xyz789/knowledge/connectors/sources/authorize"') -s")
echo "authorize: $authorize"
connection=$(echo "$authorize" | sed -n 's/.*"connection_id":"\([^"]*\)".*/\1/p')
consent=$(echo "$authorize" | sed -n 's/.*"authorization_url":"\([^"]*\)".*/\1/p')
[ -n "$connection" ] && [ -n "$consent" ] || fail "authorize did not answer as documented"

# The user consents: the double redirects to the host, the host to the client.
callback=$(curl -s --cacert "$tls_dir/ca.pem" -o /dev/null -w '%{redirect_url}' "$consent")
client=$(curl -s -o /dev/null -w '%{redirect_url}' "$callback")
echo "client redirect: $client"
case "$client" in https://app.example.com/callback\?connection_id=$connection\&status=success*) ;; *) fail "not sent on to the client";; esac

eval "$(readme_block 'WS=$(curl -s -X POST "http://127.0.0.1:8080/v1/organizations/org_xyz789/knowledge/connectors/workspaces"')"
[ -n "$WS" ] || fail "no workspace"
source_json=$(eval "$(readme_block 'curl -X POST "http://127.0.0.1:8080/v1/organizations/org_xyz789/knowledge/connectors/sources/oauth/callback"' |
  sed "s/conn_…/$connection/") -s")
echo "source: $source_json"
echo "$source_json" | grep -q '"source_type":"google-sheets"' || fail "no source created"
echo "$source_json" | grep -q '"status":"active"' || fail "source not active"
echo "README quick start: 1 passed, 0 failed"
