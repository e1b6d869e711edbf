#!/usr/bin/env bash
# selftest.sh [WORK_DIR] — end-to-end check of the test peers with curl, openssl and node only.
# Makes the test CA into WORK_DIR (default /tmp/peer-test), starts provider-double.js and
# oidc-server.js (both flavours), runs the flows by hand and checks the quirks. Exit 0 = all good.
# Needs `npm ci` (or `npm install`) to have been run in tests/peers for the oidc-server part.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
W=${1:-/tmp/peer-test}
mkdir -p "$W"
"$HERE/../tls/make-test-ca.sh" "$W"
cd "$W"

C=(curl -sS --cacert "$W/ca.pem" --max-time 10)
PIDFILE="$W/selftest.pids"
: >"$PIDFILE"
cleanup() { while read -r p; do kill "$p" 2>/dev/null || true; done <"$PIDFILE"; }
trap cleanup EXIT

FAILS=0
check() { # check NAME EXPECTED ACTUAL
  if [ "$2" == "$3" ]; then echo "ok   - $1"; else echo "FAIL - $1: expected [$2] got [$3]"; FAILS=$((FAILS + 1)); fi
}
jget() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=process.argv[1].split(".").reduce((o,k)=>o==null?o:o[k],JSON.parse(s));console.log(v===undefined?"<undefined>":typeof v==="object"?JSON.stringify(v):v)})' "$1"; }
fget() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=new URLSearchParams(s).get(process.argv[1]);console.log(v===null?"<null>":v)})' "$1"; }
qget() { node -e 'const v=new URL(process.argv[1]).searchParams.get(process.argv[2]);console.log(v===null?"<null>":v)' "$1" "$2"; }
start() { # start OUTFILE CMD... -> waits for the first stdout line
  local out=$1; shift
  : >"$out"
  "$@" >"$out" 2>"$out.err" &
  echo $! >>"$PIDFILE" # start runs in $(...): remember the pid in a file, not a variable
  for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.1; done
  [ -s "$out" ] || { echo "peer did not start: $*"; cat "$out.err"; exit 1; }
  head -1 "$out"
}

# PKCE pair (RFC 7636): 32 random octets, base64url; S256 challenge with openssl
V=$(openssl rand 32 | basenc --base64url | tr -d '=')
CH=$(printf %s "$V" | openssl dgst -sha256 -binary | basenc --base64url | tr -d '=')
check "RFC 7636 appendix B vector" "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" \
  "$(printf %s dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk | openssl dgst -sha256 -binary | basenc --base64url | tr -d '=')"

CID=test-client-id; CSEC=test-client-secret; RURI=https://127.0.0.1:9/cb
RURI_ENC=https%3A%2F%2F127.0.0.1%3A9%2Fcb

######## provider-double.js ########
LINE=$(start pd.out node "$HERE/provider-double.js" --cert "$W/server.pem" --key "$W/server-key.pem" --port 0)
echo "provider-double: $LINE"
B=https://127.0.0.1:$(echo "$LINE" | jget port)

# TLS: host-name verification and chain verification (the peer serves server.pem)
check "curl verifies against the test CA" 0 "$("${C[@]}" -o /dev/null "$B/__control/health"; echo $?)"

# --- Google code flow ---
SC='https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fspreadsheets.readonly+https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fdrive.readonly'
LOC=$("${C[@]}" -o /dev/null -w '%{redirect_url}' "$B/o/oauth2/v2/auth?client_id=$CID&redirect_uri=$RURI_ENC&response_type=code&scope=$SC&access_type=offline&state=gs1&include_granted_scopes=true&prompt=consent&code_challenge=$CH&code_challenge_method=S256")
check "google consent: state" gs1 "$(qget "$LOC" state)"
check "google consent: iss" https://accounts.google.com "$(qget "$LOC" iss)"
check "google consent: authuser" 0 "$(qget "$LOC" authuser)"
check "google consent: prompt" consent "$(qget "$LOC" prompt)"
case "$LOC" in *code=4%2F0A*) check "google code contains %2F" yes yes ;; *) check "google code contains %2F" yes no ;; esac
CODE=$(qget "$LOC" code)
tok() { "${C[@]}" -X POST "$B/token" "$@"; }
R=$(tok -d grant_type=authorization_code --data-urlencode "code=$CODE" -d client_id=$CID -d client_secret=wrong --data-urlencode redirect_uri=$RURI -d code_verifier=$V -w '\n%{http_code}')
check "google bad client -> 401" 401 "$(echo "$R" | tail -1)"
check "google bad client error" invalid_client "$(echo "$R" | sed '$d' | jget error)"
R=$(tok -d grant_type=authorization_code --data-urlencode "code=$CODE" -d client_id=$CID -d client_secret=$CSEC --data-urlencode redirect_uri=$RURI -d code_verifier=$V -w '\n%{http_code}')
check "google code grant 200" 200 "$(echo "$R" | tail -1)"
GJ=$(echo "$R" | sed '$d')
check "google expires_in" 3599 "$(echo "$GJ" | jget expires_in)"
check "google token_type" Bearer "$(echo "$GJ" | jget token_type)"
check "google scope space-delimited" "https://www.googleapis.com/auth/spreadsheets.readonly https://www.googleapis.com/auth/drive.readonly" "$(echo "$GJ" | jget scope)"
GAT=$(echo "$GJ" | jget access_token); GRT=$(echo "$GJ" | jget refresh_token)
check "google access token prefix" ya29. "${GAT:0:5}"
check "google refresh token prefix" 1// "${GRT:0:3}"
R=$(tok -d grant_type=authorization_code --data-urlencode "code=$CODE" -d client_id=$CID -d client_secret=$CSEC --data-urlencode redirect_uri=$RURI -d code_verifier=$V -w '\n%{http_code}')
check "google code reuse -> 400 invalid_grant" "400 invalid_grant" "$(echo "$R" | tail -1) $(echo "$R" | sed '$d' | jget error)"
# wrong verifier / wrong redirect_uri
LOC=$("${C[@]}" -o /dev/null -w '%{redirect_url}' "$B/o/oauth2/v2/auth?client_id=$CID&redirect_uri=$RURI_ENC&response_type=code&scope=$SC&access_type=offline&state=gs2&prompt=consent&code_challenge=$CH&code_challenge_method=S256")
R=$(tok -d grant_type=authorization_code --data-urlencode "code=$(qget "$LOC" code)" -d client_id=$CID -d client_secret=$CSEC --data-urlencode redirect_uri=$RURI -d code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk -w '\n%{http_code}')
check "google wrong PKCE verifier -> 400 Bad Request" "400 Bad Request" "$(echo "$R" | tail -1) $(echo "$R" | sed '$d' | jget error_description)"
# refresh: no refresh_token in the answer
R=$(tok -d grant_type=refresh_token --data-urlencode "refresh_token=$GRT" -d client_id=$CID -d client_secret=$CSEC -w '\n%{http_code}')
check "google refresh 200" 200 "$(echo "$R" | tail -1)"
check "google refresh has no refresh_token" "<undefined>" "$(echo "$R" | sed '$d' | jget refresh_token)"
check "google about with token" 1234 "$("${C[@]}" "$B/drive/v3/about?fields=user" -H "Authorization: Bearer $GAT" | jget user.permissionId)"
check "google revoke 200" 200 "$("${C[@]}" -o /dev/null -w '%{http_code}' -X POST "$B/revoke" --data-urlencode "token=$GAT")"
check "google revoke again 400" 400 "$("${C[@]}" -o /dev/null -w '%{http_code}' -X POST "$B/revoke" --data-urlencode "token=$GAT")"
R=$(tok -d grant_type=refresh_token --data-urlencode "refresh_token=$GRT" -d client_id=$CID -d client_secret=$CSEC -w '\n%{http_code}')
check "google refresh after revoke -> expired or revoked" "400 Token has been expired or revoked." "$(echo "$R" | tail -1) $(echo "$R" | sed '$d' | jget error_description)"
check "google about after revoke 401" 401 "$("${C[@]}" -o /dev/null -w '%{http_code}' "$B/drive/v3/about?fields=user" -H "Authorization: Bearer $GAT")"
LOC=$("${C[@]}" -o /dev/null -w '%{redirect_url}' "$B/o/oauth2/v2/auth?client_id=$CID&redirect_uri=$RURI_ENC&response_type=code&scope=$SC&state=gs3&login_hint=deny")
check "google deny" "access_denied gs3 <null>" "$(qget "$LOC" error) $(qget "$LOC" state) $(qget "$LOC" code)"
"${C[@]}" -X POST "$B/__control/issuer" -d '{"issuer":"https://evil.example"}' >/dev/null
LOC=$("${C[@]}" -o /dev/null -w '%{redirect_url}' "$B/o/oauth2/v2/auth?client_id=$CID&redirect_uri=$RURI_ENC&response_type=code&scope=$SC&state=gs4")
check "control issuer changes iss" https://evil.example "$(qget "$LOC" iss)"

# quirk 1: no refresh_token without access_type=offline, nor when consent was given before and
# prompt=consent is missing; granted scope may differ from the requested one (/__control/grant)
"${C[@]}" -X POST "$B/__control/reset" -d '{}' >/dev/null
gflow() { # gflow QUERY-SUFFIX -> token JSON
  local loc; loc=$("${C[@]}" -o /dev/null -w '%{redirect_url}' "$B/o/oauth2/v2/auth?client_id=$CID&redirect_uri=$RURI_ENC&response_type=code&scope=$SC&state=q&code_challenge=$CH&code_challenge_method=S256$1")
  tok -d grant_type=authorization_code --data-urlencode "code=$(qget "$loc" code)" -d client_id=$CID -d client_secret=$CSEC --data-urlencode redirect_uri=$RURI -d code_verifier=$V
}
check "google: no access_type=offline -> no refresh_token" "<undefined>" "$(gflow '' | jget refresh_token)"
check "google: offline but consented before, no prompt -> no refresh_token" "<undefined>" "$(gflow '&access_type=offline' | jget refresh_token)"
check "google: offline + prompt=consent -> refresh_token" "1//" "$(gflow '&access_type=offline&prompt=consent' | jget refresh_token | cut -c1-3)"
"${C[@]}" -X POST "$B/__control/grant" -d '{"drop":["https://www.googleapis.com/auth/drive.readonly"]}' >/dev/null
check "google: user unticked a scope -> granted scope differs" "https://www.googleapis.com/auth/spreadsheets.readonly" "$(gflow '&access_type=offline&prompt=consent' | jget scope)"
"${C[@]}" -X POST "$B/__control/reset" -d '{}' >/dev/null
check "reset clears the counters" 0 "$("${C[@]}" "$B/__control/stats" | jget token_calls.total)"
"${C[@]}" -X POST "$B/__control/clients" -d '{"client_id":"other-id","client_secret":"other-secret"}' >/dev/null
check "control clients: old secret refused" 401 "$(tok -d grant_type=refresh_token -d refresh_token=x -d client_id=$CID -d client_secret=$CSEC -o /dev/null -w '%{http_code}')"
check "control clients: new client known" 400 "$(tok -d grant_type=refresh_token -d refresh_token=x -d client_id=other-id -d client_secret=other-secret -o /dev/null -w '%{http_code}')"
"${C[@]}" -X POST "$B/__control/reset" -d '{}' >/dev/null

# --- GitHub code flow ---
ghauth() { "${C[@]}" -o /dev/null -w '%{redirect_url}' "$B/login/oauth/authorize?client_id=$CID&redirect_uri=$RURI_ENC&scope=repo+gist&state=$1&code_challenge=$CH&code_challenge_method=S256$2"; }
ghtok() { "${C[@]}" -X POST "$B/login/oauth/access_token" "$@"; }
LOC=$(ghauth hs1 ""); CODE=$(qget "$LOC" code)
check "github consent state" hs1 "$(qget "$LOC" state)"
R=$(ghtok -d client_id=$CID -d client_secret=wrong -d code=$CODE -w '\n%{http_code}')
check "github bad client: HTTP 200" 200 "$(echo "$R" | tail -1)"
check "github bad client: form-encoded error" incorrect_client_credentials "$(echo "$R" | sed '$d' | fget error)"
R=$(ghtok -d client_id=$CID -d client_secret=$CSEC -d code=$CODE --data-urlencode redirect_uri=$RURI -d code_verifier=$V -D hdr.txt -w '\n%{http_code}')
check "github token: form-encoded by default" "application/x-www-form-urlencoded" "$(grep -i '^content-type' hdr.txt | sed 's/.*: //; s/;.*//' | tr -d '\r')"
case "$(echo "$R" | sed '$d')" in *scope=repo%2Cgist*) check "github scope=repo%2Cgist" yes yes ;; *) check "github scope=repo%2Cgist" yes no ;; esac
GHO=$(echo "$R" | sed '$d' | fget access_token)
check "github token prefix" gho_ "${GHO:0:4}"
check "github token_type lowercase" bearer "$(echo "$R" | sed '$d' | fget token_type)"
R=$(ghtok -H 'Accept: application/json' -d client_id=$CID -d client_secret=$CSEC -d code=$CODE -d code_verifier=$V -w '\n%{http_code}')
check "github code reuse: 200 + bad_verification_code (JSON)" "200 bad_verification_code" "$(echo "$R" | tail -1) $(echo "$R" | sed '$d' | jget error)"
LOC=$(ghauth hs2 ""); R=$(ghtok -H 'Accept: application/json' -d client_id=$CID -d client_secret=$CSEC -d code=$(qget "$LOC" code) --data-urlencode redirect_uri=https://127.0.0.1:9/other -d code_verifier=$V)
check "github redirect_uri_mismatch" redirect_uri_mismatch "$(echo "$R" | jget error)"
LOC=$(ghauth hs3 ""); R=$(ghtok -H 'Accept: application/json' -d client_id=$CID -d client_secret=$CSEC -d code=$(qget "$LOC" code) -d code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk)
check "github wrong PKCE verifier" bad_verification_code "$(echo "$R" | jget error)"
"${C[@]}" -D hdr.txt -o body.txt "$B/user" -H "Authorization: Bearer $GHO"
check "github /user" octocat "$(jget login <body.txt)"
check "github X-OAuth-Scopes" "repo, gist" "$(grep -i '^x-oauth-scopes' hdr.txt | sed 's/^[^:]*: //' | tr -d '\r')"
check "github /api/v3/user" 200 "$("${C[@]}" -o /dev/null -w '%{http_code}' "$B/api/v3/user" -H "Authorization: Bearer $GHO")"
check "github /user bad token" "401 Bad credentials" "$("${C[@]}" -o body.txt -w '%{http_code}' "$B/user" -H 'Authorization: Bearer nope') $(jget message <body.txt)"
LOC=$(ghauth hs4 "&login=deny")
check "github deny" "access_denied The user has denied your application access. hs4" "$(qget "$LOC" error) $(qget "$LOC" error_description) $(qget "$LOC" state)"
check "github revoke grant 204" 204 "$("${C[@]}" -o /dev/null -w '%{http_code}' -X DELETE -u $CID:$CSEC "$B/applications/$CID/grant" -d "{\"access_token\":\"$GHO\"}")"
check "github token dead after revoke" 401 "$("${C[@]}" -o /dev/null -w '%{http_code}' "$B/user" -H "Authorization: Bearer $GHO")"

# --- GitHub expiring tokens: single-use refresh ---
"${C[@]}" -X POST "$B/__control/mode" -d '{"github_expiring":true}' >/dev/null
LOC=$(ghauth hs5 ""); R=$(ghtok -H 'Accept: application/json' -d client_id=$CID -d client_secret=$CSEC -d code=$(qget "$LOC" code) -d code_verifier=$V)
check "github app token shape" "ghu_ 28800 ghr_ 15811200 []" "$(echo "$R" | jget access_token | cut -c1-4) $(echo "$R" | jget expires_in) $(echo "$R" | jget refresh_token | cut -c1-4) $(echo "$R" | jget refresh_token_expires_in) [$(echo "$R" | jget scope)]"
A1=$(echo "$R" | jget access_token); R1=$(echo "$R" | jget refresh_token)
R=$(ghtok -d client_id=$CID -d client_secret=$CSEC -d grant_type=refresh_token -d refresh_token=$R1)
A2=$(echo "$R" | fget access_token)
check "github refresh (form) gives new ghu_" ghu_ "${A2:0:4}"
R=$(ghtok -H 'Accept: application/json' -d client_id=$CID -d client_secret=$CSEC -d grant_type=refresh_token -d refresh_token=$R1 -w '\n%{http_code}')
check "github refresh token reuse: 200 bad_refresh_token" "200 bad_refresh_token" "$(echo "$R" | tail -1) $(echo "$R" | sed '$d' | jget error)"
check "github old access token dead after refresh" 401 "$("${C[@]}" -o /dev/null -w '%{http_code}' "$B/user" -H "Authorization: Bearer $A1")"
check "github new access token works" 200 "$("${C[@]}" -o /dev/null -w '%{http_code}' "$B/user" -H "Authorization: Bearer $A2")"

# --- behaviours ---
beh() { "${C[@]}" -X POST "$B/__control/behaviour" -d "$1" >/dev/null; }
RB=(-d grant_type=refresh_token -d refresh_token=x -d client_id=$CID -d client_secret=$CSEC)
beh '{"token":"http500","times":1}'; check "behaviour http500" 500 "$(tok "${RB[@]}" -o /dev/null -w '%{http_code}')"
check "behaviour times=1 then normal" 400 "$(tok "${RB[@]}" -o /dev/null -w '%{http_code}')"
beh '{"token":"html403","times":1}'; check "behaviour html403" "403 text/html" "$(tok "${RB[@]}" -o /dev/null -w '%{http_code} %{content_type}' | sed 's/;.*//')"
beh '{"token":"html502","times":1}'; check "behaviour html502" 502 "$(tok "${RB[@]}" -o /dev/null -w '%{http_code}')"
beh '{"token":"github200error","times":1}'; check "behaviour github200error" "200" "$(ghtok "${RB[@]}" -o body.txt -w '%{http_code}')"
check "behaviour github200error body" bad_refresh_token "$(fget error <body.txt)"
beh '{"token":"truncated-json","times":1}'; tok "${RB[@]}" -o body.txt
check "behaviour truncated-json is not JSON" 1 "$(node -e 'try{JSON.parse(require("fs").readFileSync("body.txt","utf8"));console.log(0)}catch{console.log(1)}')"
beh '{"token":"timeout","times":1}'
check "behaviour timeout (client gives up after 1 s)" 28 "$(tok "${RB[@]}" -m 1 -o /dev/null 2>/dev/null; echo $?)"
sleep 0.2
check "timeout request forgotten after client closed" 0 "$("${C[@]}" "$B/__control/stats" | jget hanging_requests)"
beh '{"token":"normal","delay_ms":400,"times":1}'
T=$(tok "${RB[@]}" -o /dev/null -w '%{time_total}')
check "behaviour delay_ms=400" 1 "$(node -e "console.log(Number('$T')>=0.4?1:0)")"

# --- 200 concurrent refreshes of one single-use GitHub refresh token ---
"${C[@]}" -X POST "$B/__control/reset" -d '{}' >/dev/null
"${C[@]}" -X POST "$B/__control/mode" -d '{"github_expiring":true}' >/dev/null
PORT=$(echo "$LINE" | jget port)
R=$(node --input-type=module -e '
import https from "node:https"; import fs from "node:fs";
const [port, ca] = [Number(process.argv[1]), fs.readFileSync(process.argv[2])];
const agent = new https.Agent({ ca, keepAlive: true, maxSockets: Infinity });
const req = (method, path, body, headers = {}) => new Promise((resolve, reject) => {
  const r = https.request({ host: "127.0.0.1", port, method, path, agent, headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json", ...headers } }, (res) => {
    let d = ""; res.on("data", (c) => { d += c; }); res.on("end", () => resolve({ status: res.statusCode, body: d, headers: res.headers })); });
  r.on("error", reject); r.end(body); });
const a = await req("GET", "/login/oauth/authorize?client_id=test-client-id&redirect_uri=https%3A%2F%2F127.0.0.1%3A9%2Fcb&state=c");
const code = new URL(a.headers.location).searchParams.get("code");
const t = JSON.parse((await req("POST", "/login/oauth/access_token", `client_id=test-client-id&client_secret=test-client-secret&code=${code}`)).body);
await req("POST", "/__control/reset", "{\"stats_only\":true}");
const body = `client_id=test-client-id&client_secret=test-client-secret&grant_type=refresh_token&refresh_token=${t.refresh_token}`;
const rs = await Promise.all(Array.from({ length: 200 }, () => req("POST", "/login/oauth/access_token", body)));
const ok = rs.filter((r) => r.status === 200 && JSON.parse(r.body).access_token).length;
const bad = rs.filter((r) => r.status === 200 && JSON.parse(r.body).error === "bad_refresh_token").length;
const st = JSON.parse((await req("GET", "/__control/stats")).body);
console.log(`${ok} ${bad} ${st.refresh_calls}`); agent.destroy();' "$PORT" "$W/ca.pem")
check "200 concurrent refreshes: 1 wins, 199 bad_refresh_token, 200 counted" "1 199 200" "$R"
check "nothing but the first line on stdout" 1 "$(wc -l <pd.out)"

# --- TLS negative peers: wrong host name, untrusted issuer ---
for CERT in wrong-host untrusted; do
  L=$(start pd-$CERT.out node "$HERE/provider-double.js" --cert "$W/$CERT.pem" --key "$W/$CERT-key.pem")
  P2=$(echo "$L" | jget port)
  check "curl refuses the $CERT certificate (exit 60)" 60 "$("${C[@]}" -o /dev/null "https://127.0.0.1:$P2/__control/health" 2>/dev/null; echo $?)"
  if [ "$CERT" = wrong-host ]; then
    check "wrong-host cert is accepted under its own name (so only the name was wrong)" 0 \
      "$("${C[@]}" -o /dev/null --resolve "wrong.example:$P2:127.0.0.1" "https://wrong.example:$P2/__control/health" 2>/dev/null; echo $?)"
  fi
done

######## oidc-server.js ########
for FLAVOUR in github google; do
  if [ "$FLAVOUR" = github ]; then AP=/login/oauth/authorize; TP=/login/oauth/access_token; SCOPE='repo+read%3Aorg'; else
    AP=/o/oauth2/v2/auth; TP=/token; SCOPE="$SC"; fi
  LINE=$(start os-$FLAVOUR.out node "$HERE/oidc-server.js" --cert "$W/server.pem" --key "$W/server-key.pem" \
    --flavour $FLAVOUR --port 0 --client-id $CID --client-secret $CSEC --redirect-uri $RURI)
  echo "oidc-server ($FLAVOUR): $LINE"
  O=$(echo "$LINE" | jget issuer)
  check "oidc $FLAVOUR discovery endpoints" "$O$AP $O$TP" "$("${C[@]}" "$O/.well-known/openid-configuration" | jget authorization_endpoint) $("${C[@]}" "$O/.well-known/openid-configuration" | jget token_endpoint)"
  LOC=$("${C[@]}" -o /dev/null -w '%{redirect_url}' "$O$AP?client_id=$CID&redirect_uri=$RURI_ENC&response_type=code&scope=$SCOPE&state=o0")
  check "oidc $FLAVOUR requires PKCE" invalid_request "$(qget "$LOC" error)"
  LOC=$(node "$HERE/drive-oidc-login.js" "$O$AP?client_id=$CID&redirect_uri=$RURI_ENC&response_type=code&scope=$SCOPE&state=o1&code_challenge=$CH&code_challenge_method=S256" "$W/ca.pem")
  check "oidc $FLAVOUR login driver lands on redirect_uri" "$RURI" "${LOC%%\?*}"
  check "oidc $FLAVOUR state and iss" "o1 $O" "$(qget "$LOC" state) $(qget "$LOC" iss)"
  R=$("${C[@]}" -X POST "$O$TP" -d grant_type=authorization_code --data-urlencode "code=$(qget "$LOC" code)" -d client_id=$CID -d client_secret=$CSEC --data-urlencode redirect_uri=$RURI -d code_verifier=$V -w '\n%{http_code}')
  check "oidc $FLAVOUR code exchange (client_secret_post + code_verifier)" 200 "$(echo "$R" | tail -1)"
  OAT=$(echo "$R" | sed '$d' | jget access_token); ORT=$(echo "$R" | sed '$d' | jget refresh_token)
  check "oidc $FLAVOUR refresh token issued" 1 "$([ "$ORT" != "<undefined>" ] && echo 1 || echo 0)"
  check "oidc $FLAVOUR GET /user" "user1 42" "$("${C[@]}" "$O/user" -H "Authorization: Bearer $OAT" | jget login) $("${C[@]}" "$O/user" -H "Authorization: Bearer $OAT" | jget id)"
  check "oidc $FLAVOUR GET /user bad token" 401 "$("${C[@]}" -o /dev/null -w '%{http_code}' "$O/user" -H 'Authorization: Bearer nope')"
  R=$("${C[@]}" -X POST "$O$TP" -d grant_type=refresh_token --data-urlencode "refresh_token=$ORT" -d client_id=$CID -d client_secret=$CSEC -w '\n%{http_code}')
  check "oidc $FLAVOUR refresh" 200 "$(echo "$R" | tail -1)"
  check "oidc $FLAVOUR stats" '{"total":2,"authorization_code":1,"refresh_token":1,"other":0}' "$("${C[@]}" "$O/__control/stats" | jget token_calls)"
  check "oidc $FLAVOUR stdout has one line" 1 "$(wc -l <os-$FLAVOUR.out)"
done

echo
if [ "$FAILS" -eq 0 ]; then echo "selftest: all checks passed"; else echo "selftest: $FAILS check(s) FAILED"; exit 1; fi
