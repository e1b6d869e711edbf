#!/usr/bin/env bash
# The SDK as a product, end to end, the way a third party meets it:
#   1. build the SDK as a project of its own (cmake -S sdk, the host's dependencies made
#      unfindable), run its own tests, install it into a fresh prefix (then move the prefix, to
#      prove the package is relocatable); the host build's "sdk" component installs the same;
#   2. configure and build examples/hello-oauth from that prefix alone, and run its unit tests
#      (GoogleTest + the SDK's fake host);
#   3. put the plugin it made, and nothing else, into a plugins folder, start the real
#      connector-host on it and run a whole flow for slug "example-oauth" against a real
#      authorization server (tests/peers/oidc-server.js): consent played by drive-oidc-login.js,
#      the provider-facing callback, the source created from the connection, then check,
#      refresh and revoke through the host's API.
# Everything listens on 127.0.0.1 only.
#
# Usage: sdk_package_test.sh BUILD_DIR HOST_BINARY SOURCE_DIR TLS_DIR CMAKE CTEST GENERATOR
set -euo pipefail
build_dir=$1 host_binary=$2 source_dir=$3 tls_dir=$4 cmake=$5 ctest=$6 generator=$7

work=$(mktemp -d "${TMPDIR:-/tmp}/connector-sdk-test.XXXXXX")
cleanup() {
  for pid in "${host_pid:-}" "${server_pid:-}"; do
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "--- $*"; }
fail() {
  echo "FAIL: $*"
  for log in host.log oidc-server.err; do
    [ -s "$work/$log" ] && { echo "--- $log"; tail -n 60 "$work/$log"; }
  done
  exit 1
}
# json FIELD.PATH < document: one value as text ("" when absent); objects come out as JSON.
json() {
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    let v; try { v = JSON.parse(s); } catch { v = undefined; }
    for (const k of process.argv[1].split(".")) v = v == null ? undefined : v[k];
    process.stdout.write(v == null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v)); });' "$1"
}

# ---- 1. The SDK on its own: its project, its tests, its install ---------------------------------
# Configured from sdk/ alone with the host's dependencies made unfindable: it must need none of them.
step "building the SDK alone (cmake -S sdk) and running its own tests"
sdk_build="$work/sdk-build"
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
no_host_dependencies=()
for package in Boost OpenSSL SQLite3 PostgreSQL prometheus-cpp PkgConfig; do
  no_host_dependencies+=("-DCMAKE_DISABLE_FIND_PACKAGE_$package=ON")
done
"$cmake" -S "$source_dir/sdk" -B "$sdk_build" -G "$generator" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCONNECTOR_SDK_BUILD_TESTS=ON -DCONNECTOR_SDK_WARNINGS_AS_ERRORS=ON "${no_host_dependencies[@]}" \
  "${launcher[@]}" >"$work/sdk-configure.log" 2>&1 || {
  cat "$work/sdk-configure.log"
  fail "configuring the SDK alone failed"
}
"$cmake" --build "$sdk_build" >"$work/sdk-build.log" 2>&1 || {
  tail -n 80 "$work/sdk-build.log"
  fail "building the SDK's tests failed"
}
"$ctest" --test-dir "$sdk_build" --output-on-failure >"$work/sdk-tests.log" 2>&1 || {
  tail -n 80 "$work/sdk-tests.log"
  fail "the SDK's own tests failed"
}
grep -E "tests passed|tests failed" "$work/sdk-tests.log"
"$cmake" --install "$sdk_build" --prefix "$work/stage" >"$work/install.log" || {
  cat "$work/install.log"
  fail "cmake --install of the SDK alone failed"
}
# The host's build installs the very same package as its "sdk" component.
"$cmake" --install "$build_dir" --component sdk --prefix "$work/from-host" >/dev/null || fail "cmake --install failed"
diff <(cd "$work/stage" && find . -type f | sort) <(cd "$work/from-host" && find . -type f | sort) ||
  fail "the SDK alone and the host's sdk component install different files"
mv "$work/stage" "$work/sdk"
prefix="$work/sdk"
for file in include/connector/abi.h include/connector/provider.hpp include/connector/plugin.hpp \
  include/connector/testing/fake_host.hpp share/cmake/ConnectorSDK/ConnectorSDKConfig.cmake \
  share/cmake/ConnectorSDK/ConnectorSDKConfigVersion.cmake share/cmake/ConnectorSDK/ConnectorSDKTargets.cmake \
  share/cmake/ConnectorSDK/ConnectorPlugin.cmake share/cmake/ConnectorSDK/plugin-exports.map \
  share/connector-sdk/provider-definition.schema.json; do
  [ -f "$prefix/$file" ] || fail "the installed SDK lacks $file"
done
# The component is the SDK only: no host, no plugins, no libraries of the host.
extra=$(cd "$prefix" && find . -type f ! -path './include/connector/*' ! -path './share/cmake/ConnectorSDK/*' \
  ! -path './share/connector-sdk/*')
[ -z "$extra" ] || fail "the sdk component installed more than the SDK: $extra"
if grep -rlF -e "$source_dir" -e "$build_dir" -e "$work/stage" "$prefix"; then
  fail "the installed package points into the source tree, the build tree or its install stage"
fi

# ---- 2. Build the example against the installed package only ---------------------------------
step "building examples/hello-oauth against $prefix"
example_build="$work/hello-oauth-build"
"$cmake" -S "$source_dir/examples/hello-oauth" -B "$example_build" -G "$generator" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DHELLO_OAUTH_WARNINGS_AS_ERRORS=ON \
  "${launcher[@]}" >"$work/configure.log" 2>&1 || {
  cat "$work/configure.log"
  fail "configuring the example failed"
}
found=$(sed -n 's/^ConnectorSDK_DIR:PATH=//p' "$example_build/CMakeCache.txt")
[ "$found" = "$prefix/share/cmake/ConnectorSDK" ] || fail "the example found the SDK at '$found', not in $prefix"
if grep -rqF "$source_dir/sdk" "$example_build" --include='*.ninja' --include='Makefile' --include='*.make' \
  --include='flags.make' --include='CMakeCache.txt'; then
  fail "the example's build refers to the SDK's source tree"
fi
"$cmake" --build "$example_build" >"$work/build.log" 2>&1 || {
  tail -n 80 "$work/build.log"
  fail "building the example failed"
}

step "running the example's unit tests"
"$ctest" --test-dir "$example_build" --output-on-failure >"$work/unit.log" 2>&1 || {
  cat "$work/unit.log"
  fail "the example's unit tests failed"
}
grep -E "tests passed|tests failed" "$work/unit.log"

step "packaging the example, and a new plugin made from the SDK's template"
"$cmake" --build "$example_build" --target package >"$work/package.log" 2>&1 || { cat "$work/package.log"; fail "cpack failed"; }
"$cmake" -E tar tf "$example_build"/example-oauth-*-Linux-*.zip | grep -qx '[^/]*/plugins/example-oauth.so' ||
  fail "the example's package holds no plugins/example-oauth.so"
"$cmake" -DSLUG=acme-crm -DNAME="Acme CRM" -DDESTINATION="$work/acme-crm" \
  -P "$prefix/share/cmake/ConnectorSDK/new-plugin.cmake" >/dev/null || fail "new-plugin.cmake failed"
if grep -rqi "example-oauth\|1b0674dd" "$work/acme-crm"; then fail "the new plugin still names the template's slug or id"; fi
"$cmake" -S "$work/acme-crm" -B "$work/acme-crm-build" -G "$generator" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DACME_CRM_WARNINGS_AS_ERRORS=ON "${launcher[@]}" >/dev/null 2>&1 ||
  fail "configuring the new plugin failed"
"$cmake" --build "$work/acme-crm-build" >"$work/acme-build.log" 2>&1 || { tail -n 40 "$work/acme-build.log"; fail "building the new plugin failed"; }
"$ctest" --test-dir "$work/acme-crm-build" >"$work/acme-tests.log" 2>&1 || { cat "$work/acme-tests.log"; fail "the new plugin's tests failed"; }
grep -E "tests passed" "$work/acme-tests.log"
[ -f "$work/acme-crm-build/plugins/acme-crm.so" ] || fail "the new plugin built no acme-crm.so"

module=$(find "$example_build/plugins" -maxdepth 1 -type f -name 'example-oauth.*' | head -n 1)
[ -n "$module" ] || fail "the example built no example-oauth module in $example_build/plugins"
if command -v nm >/dev/null; then
  "$cmake" -DNM=nm -DMODULE="$module" -P "$source_dir/tests/abi/check_exports.cmake" || fail "wrong exports"
fi

# ---- 3. The real host with only that plugin ----------------------------------------------------
mkdir "$work/plugins"
cp "$module" "$work/plugins/"
"$host_binary" plugins --plugins-dir "$work/plugins" >"$work/plugins.txt"
cat "$work/plugins.txt"
grep -q "example-oauth" "$work/plugins.txt" || fail "the host does not list the example plugin"
if grep -q "refused" "$work/plugins.txt"; then fail "the host refused a plugin"; fi

bash "$source_dir/tests/tls/make-test-ca.sh" "$tls_dir" >/dev/null
client_redirect=https://app.example.com/callback
client_id=sdk-example-client client_secret=sdk-example-secret

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# The server must know the host's callback when it starts and the host the server's issuer, so
# the host's port is chosen first. Another program may take it in between: then try again.
start_both() {
  for _ in 1 2 3; do
    port=$(free_port)
    : >"$work/oidc-server.out"
    node "$source_dir/tests/peers/oidc-server.js" --cert "$tls_dir/server.pem" --key "$tls_dir/server-key.pem" \
      --flavour github --port 0 --client-id "$client_id" --client-secret "$client_secret" \
      --redirect-uri "http://127.0.0.1:$port/v1/oauth/callback" >"$work/oidc-server.out" 2>"$work/oidc-server.err" &
    server_pid=$!
    for _ in $(seq 300); do grep -q '"issuer"' "$work/oidc-server.out" && break; sleep 0.1; done
    issuer=$(json issuer <"$work/oidc-server.out")
    [ -n "$issuer" ] || fail "oidc-server.js did not start"

    : >"$work/host.log"
    CONNECTOR_EXAMPLE_OAUTH_CLIENT_ID=$client_id CONNECTOR_EXAMPLE_OAUTH_CLIENT_SECRET=$client_secret \
      CONNECTOR_EXAMPLE_OAUTH_AUTHORIZE_URL="$issuer/login/oauth/authorize" \
      CONNECTOR_EXAMPLE_OAUTH_TOKEN_URL="$issuer/login/oauth/access_token" \
      CONNECTOR_EXAMPLE_OAUTH_USERINFO_URL="$issuer/user" \
      CONNECTOR_EXAMPLE_OAUTH_REVOKE_URL="$issuer/login/oauth/revoke" \
      CONNECTOR_EXAMPLE_OAUTH_ISSUER="$issuer" CONNECTOR_EXAMPLE_OAUTH_SCOPES="openid read:user" \
      CONNECTOR_CA_FILE="$tls_dir/ca.pem" CONNECTOR_ALLOWED_REDIRECTS=$client_redirect \
      CONNECTOR_TOKEN_REFRESH_SCAN_SECONDS=0 \
      "$host_binary" serve --listen "127.0.0.1:$port" --data-dir "$work/data" --plugins-dir "$work/plugins" \
      2>"$work/host.log" &
    host_pid=$!
    for _ in $(seq 200); do
      grep -q '"listening"' "$work/host.log" && return 0
      kill -0 "$host_pid" 2>/dev/null || break
      sleep 0.1
    done
    grep -qi "in use" "$work/host.log" || fail "the host did not start"
    kill "$server_pid" "$host_pid" 2>/dev/null || true
    wait "$server_pid" "$host_pid" 2>/dev/null || true
    host_pid='' server_pid=''
  done
  fail "no free port for the host after 3 attempts"
}
step "starting oidc-server.js and connector-host"
start_both
host_url="http://127.0.0.1:$port"
api="$host_url/v1/organizations/org_sdk_example/knowledge/connectors"
echo "host $host_url, authorization server $issuer"

key=$("$host_binary" keys create --org org_sdk_example --permissions "sources credentials:read" \
  --data-dir "$work/data" | tail -n 1)
[ -n "$key" ] || fail "no API key"
# call METHOD URL [JSON]: prints the body; the status goes to $work/status, headers to $work/headers.
call() {
  curl -sS -X "$1" "$2" -H "Authorization: Bearer $key" -H "Content-Type: application/json" ${3:+-d "$3"} \
    -D "$work/headers" -o "$work/body" -w '%{http_code}' >"$work/status"
  cat "$work/body"
}
status() { cat "$work/status"; }

step "authorize"
started=$(call POST "$api/sources/authorize" '{"slug": "example-oauth", "redirect_url": "'$client_redirect'"}')
[ "$(status)" = 200 ] || fail "sources/authorize answered $(status): $started"
connection=$(json connection_id <<<"$started")
consent=$(json authorization_url <<<"$started")
case "$consent" in "$issuer/login/oauth/authorize?"*) ;; *) fail "consent URL not at the server: $consent" ;; esac
case "$consent" in *code_challenge_method=S256*) ;; *) fail "no PKCE S256 in $consent" ;; esac

step "the user signs in and consents"
callback=$(node "$source_dir/tests/peers/drive-oidc-login.js" "$consent" "$tls_dir/ca.pem") || fail "login driver failed"
case "$callback" in "$host_url/v1/oauth/callback?"*code=*) ;; *) fail "the server did not send the user back: $callback" ;; esac
case "$callback" in *iss=*) ;; *) fail "no RFC 9207 iss on the callback: $callback" ;; esac

step "callback"
back=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "$callback")
case "$back" in
"302 $client_redirect?connection_id=$connection&status=success"*) ;;
*) fail "the callback did not complete the connection: $back" ;;
esac

step "create the source"
workspace=$(call POST "$api/workspaces" '{"name": "SDK example"}' | json workspace_id)
[ -n "$workspace" ] || fail "no workspace"
source_json=$(call POST "$api/sources/oauth/callback" '{"connection_id": "'"$connection"'", "workspace_id": "'"$workspace"'",
  "source_definition_id": "1b0674dd-6a5b-44a8-93e8-2d91896c4c0c", "source_name": "Hello OAuth"}')
echo "source: $source_json"
[ "$(status)" = 200 ] || fail "sources/oauth/callback answered $(status)"
[ "$(json source_type <<<"$source_json")" = example-oauth ] || fail "wrong source type"
[ "$(json status <<<"$source_json")" = active ] || fail "the source is not active"
# The account comes from the plugin's second step, the userinfo call (oidc-server.js: the login typed, id 42).
[ "$(json configuration.account_id <<<"$source_json")" = 42 ] || fail "no account id from the userinfo step"
[ "$(json configuration.account_name <<<"$source_json")" = user1 ] || fail "no account name from the userinfo step"
source_id=$(json source_id <<<"$source_json")

step "check, refresh, revoke"
tested=$(call POST "$api/sources/test" '{"source_id": "'"$source_id"'"}')
[ "$(json status <<<"$tested")" = succeeded ] || fail "sources/test: $tested"
first=$(call POST "$api/sources/$source_id/access-token" '{}' | json access_token)
refreshed=$(call POST "$api/sources/$source_id/access-token" '{"force_refresh": true}')
[ "$(json refreshed <<<"$refreshed")" = true ] || fail "no refresh: $refreshed"
second=$(json access_token <<<"$refreshed")
if [ -z "$first" ] || [ -z "$second" ] || [ "$first" = "$second" ]; then fail "the refresh gave no new access token"; fi
call DELETE "$api/sources/$source_id" >/dev/null
[ "$(status)" = 204 ] || fail "deleting the source answered $(status)"
grep -qi '^connector-revocation: revoked' "$work/headers" || fail "not revoked: $(cat "$work/headers")"
dead=$(curl -sS --cacert "$tls_dir/ca.pem" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $second" "$issuer/user")
[ "$dead" = 401 ] || fail "the access token still works after the revocation (HTTP $dead)"

stats=$(curl -sS --cacert "$tls_dir/ca.pem" "$issuer/__control/stats")
echo "authorization server: $stats"
[ "$(json token_calls.authorization_code <<<"$stats")" = 1 ] || fail "expected one code exchange"
[ "$(json token_calls.refresh_token <<<"$stats")" = 1 ] || fail "expected one refresh"
[ "$(json token_errors <<<"$stats")" = 0 ] || fail "the server refused a token request"
[ "$(json user_calls <<<"$stats")" -ge 2 ] || fail "expected the userinfo calls of the exchange and the check"
echo "SDK package and example-oauth: 1 passed, 0 failed"
