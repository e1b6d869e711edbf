#!/usr/bin/env bash
# Runs the README's quick start as written: its four shell blocks are read from README.md and
# run in order, with only the host's address, the client page's port and the binary's path
# replaced. Google is played by the TLS provider double, and the browser by curl following
# the consent URL. Usage: readme_quickstart_test.sh HOST_BINARY PLUGINS_DIR SOURCE_DIR TLS_DIR
set -euo pipefail
host_binary=$1 plugins_dir=$2 source_dir=$3 tls_dir=$4
work=$(mktemp -d)
cleanup() {
  kill "${host_pid:-}" "${double_pid:-}" "${page_pid:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- host log"; cat "$work/host.log" || true; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# quickstart_block N: the Nth ```sh block of the README's "Quick start" section.
quickstart_block() {
  awk -v wanted="$1" '
    /^## / { in_section = ($0 ~ /^## Quick start/) }
    in_section && /^```sh$/ { block++; inside = (block == wanted); next }
    inside && /^```$/ { exit }
    inside { print }' "$source_dir/README.md"
}
page_port=$(free_port)
# The README's text with the test's addresses: the host's, the page's port, the binary.
localized() { sed -e "s#http://127.0.0.1:8080#$url#g" -e "s#127.0.0.1:9000#127.0.0.1:$page_port#g" \
  -e "s#http.server 9000#http.server $page_port#" -e "s#build-release/host/connector-host#$host_binary#g"; }
for n in 1 2 3 4; do [ -n "$(quickstart_block "$n")" ] || fail "the README's quick start has no block $n"; done

# Block 1: the settings as written; the double knows the same OAuth client, and the host is
# started here on a free port (run.sh would build it), with Google's endpoints at the double.
cd "$work"
url=unknown
eval "$(quickstart_block 1 | grep '^export ' | localized)"
[ "$CONNECTOR_ALLOWED_REDIRECTS" = "http://127.0.0.1:$page_port/done" ] || fail "block 1 set no redirect URL"
bash "$source_dir/tests/tls/make-test-ca.sh" "$tls_dir" >/dev/null
node "$source_dir/tests/peers/provider-double.js" --cert "$tls_dir/server.pem" --key "$tls_dir/server-key.pem" \
  --client-id "$CONNECTOR_GOOGLE_SHEETS_CLIENT_ID" --client-secret "$CONNECTOR_GOOGLE_SHEETS_CLIENT_SECRET" \
  --port 0 >"$work/double.out" 2>"$work/double.err" &
double_pid=$!
for _ in $(seq 100); do grep -q port "$work/double.out" 2>/dev/null && break; sleep 0.1; done
double="https://127.0.0.1:$(sed 's/.*"port":\([0-9]*\).*/\1/' "$work/double.out")"
CONNECTOR_GOOGLE_SHEETS_AUTH_URI="$double/o/oauth2/v2/auth" CONNECTOR_GOOGLE_SHEETS_TOKEN_URI="$double/token" \
CONNECTOR_CA_FILE="$tls_dir/ca.pem" \
  "$host_binary" serve --listen 127.0.0.1:0 --data-dir data --plugins-dir "$plugins_dir" 2>"$work/host.log" &
host_pid=$!
for _ in $(seq 100); do grep -q '"listening"' "$work/host.log" 2>/dev/null && break; sleep 0.1; done
url=$(grep '"listening"' "$work/host.log" | sed 's/.*"url":"\([^"]*\)".*/\1/')
[ -n "$url" ] || fail "the host did not start"

# Block 2: the client's page.
eval "$(quickstart_block 2 | localized) >'$work/page.out' 2>'$work/page.log' &"
page_pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$page_port/" && break; sleep 0.1; done

# Block 3: a key, then authorize.
eval "$(quickstart_block 3 | localized)" >"$work/block3.out"
[ -n "$ACCESS_TOKEN" ] || fail "no key"
[ -n "$CONNECTION" ] || fail "no connection id from authorize: $(cat authorize.json)"
consent=$(sed -n 's/.*"authorization_url":"\([^"]*\)".*/\1/p' authorize.json)
[ -n "$consent" ] || fail "authorize did not answer as documented: $(cat authorize.json)"

# The user consents: the double redirects to the host, the host to the client's page.
callback=$(curl -s --cacert "$tls_dir/ca.pem" -o /dev/null -w '%{redirect_url}' "$consent")
client=$(curl -s -o /dev/null -w '%{redirect_url}' "$callback")
curl -s -o /dev/null "$client" || true
for _ in $(seq 50); do grep -q "GET /done" "$work/page.log" && break; sleep 0.1; done
grep -q "GET /done?connection_id=$CONNECTION&status=success" "$work/page.log" ||
  fail "the page did not see the flow end: $(cat "$work/page.log")"

# Block 4: the flow's status, a workspace and the source.
eval "$(quickstart_block 4 | localized)" >"$work/block4.out"
grep -q '"status":"authorized"' "$work/block4.out" || fail "the connection was not authorized: $(cat "$work/block4.out")"
grep -q '"source_type":"google-sheets"' "$work/block4.out" || fail "no source created: $(cat "$work/block4.out")"
grep -q '"status":"active"' "$work/block4.out" || fail "source not active: $(cat "$work/block4.out")"
echo "README quick start: 1 passed, 0 failed"
