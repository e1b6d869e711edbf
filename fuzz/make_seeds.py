#!/usr/bin/env python3
"""Writes the committed seed inputs of fuzz/corpus/ (run from anywhere; needs python3-cryptography
for the sealed envelopes). Each target's input format is described at the top of its .cpp."""
import base64
import os
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "chk_FuzzFuzzFuzzFuzzFuzzFuzzFuzzFuzzFuzzFuzzFuz"  # support/fuzz_host.hpp, kApiKey
PREFIX = "/v1/organizations/org_fuzz/knowledge/connectors"
SHEETS_DEFINITION = "71607ba1-c0ac-4799-8049-7f4b90dd50f7"
GITHUB_DEFINITION = "ef69ef6e-aa7f-4af1-a01d-ef775033524e"
# fuzz_sealer_open.cpp's ring and associated data.
SEALING_KEYS = {1: b"fuzz-sealing-key-one-0123456789a", 7: b"fuzz-sealing-key-seven-456789abc"}
ASSOCIATED_DATA = [b"source:src_fuzz:credentials", b"connection:conn_fuzz:verifier", b""]


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data.encode() if isinstance(data, str) else data)


def request(method, target, body=None, key=True, content_type="application/json"):
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1:8080"]
    if key:
        lines.append(f"Authorization: Bearer {KEY}")
    if body is not None:
        lines += [f"Content-Type: {content_type}", f"Content-Length: {len(body.encode())}"]
    return "\r\n".join(lines) + "\r\n\r\n" + (body or "")


def http_requests():
    t = "fuzz_http_request"
    write(t, "healthz", request("GET", "/healthz", key=False))
    write(t, "authorize", request("POST", PREFIX + "/sources/authorize",
                                  '{"slug":"github","redirect_url":"https://app.example.com/callback"}'))
    write(t, "native-oauth", request("POST", PREFIX + "/sources/oauth",
                                     '{"source_definition_id":"' + SHEETS_DEFINITION + '","workspace_id":"ws_1",'
                                     '"redirect_url":"https://app.example.com/callback","o_auth_input_configuration":'
                                     '{"scopes":["https://www.googleapis.com/auth/drive.readonly"],"prompt":"consent"}}'))
    write(t, "pipelined-workspaces",
          request("POST", PREFIX + "/workspaces", '{"name":"Finance"}') +
          request("GET", PREFIX + "/workspaces?limit=5&after=ws_0") +
          request("GET", PREFIX + "/sources?workspace_id=ws_1", key=False))
    write(t, "chunked", "POST " + PREFIX + "/workspaces HTTP/1.1\r\nHost: h\r\nX-API-Key: " + KEY +
          "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
          "5\r\n{\"nam\r\nb\r\ne\":\"Sales\"}\r\n0\r\n\r\n")
    write(t, "callback", request("GET", "/v1/oauth/callback?state=abc&code=def&iss=https%3A%2F%2Faccounts.google.com",
                                 key=False))
    write(t, "oauth-credentials", request("PUT", PREFIX + "/workspaces/ws_1/oauth-credentials",
                                          '{"actor_type":"workspace","name":"github",'
                                          '"configuration":{"client_id":"a","client_secret":"b"}}'))
    write(t, "definitions-spec", request("GET", PREFIX + "/source-definitions/" + GITHUB_DEFINITION + "/spec") +
          request("DELETE", PREFIX + "/workspaces/ws_%31?cascade=true"))


def callback_queries():
    t = "fuzz_callback_query"
    write(t, "google-code", "state={state}&code=4%2F0Ab&iss=https%3A%2F%2Faccounts.google.com&scope=openid")
    write(t, "github-error", "{github}&state={state}&error=access_denied&error_description=The+user+denied")
    write(t, "unknown-state", "state=st_unknown&code=abc")
    write(t, "no-iss", "state={state}&code=abc")


def json_bodies():
    t = "fuzz_json_body"
    write(t, "authorize", b"\x01limit=10&after=ws_1\n" +
          b'{"slug":"github","redirect_url":"https://app.example.com/callback"}')
    write(t, "problems", b"\x02cascade=maybe&limit=0\n" +
          b'{"slug":7,"name":"","o_auth_input_configuration":[1],"cascade":"yes","extra":null}')
    write(t, "nested", b"\x01\n" + b'{"o_auth_input_configuration":{"a":[[[{"b":"\\u00e9\\ud83d\\ude00"}]]]}}')


def schemas():
    t = "fuzz_schema_validator"  # 0-3: github options, github settings, sheets options, sheets settings; 4: fuzzed
    write(t, "github-options", b'\x00{"scopes":["repo","read:org"],"login":"octocat","prompt":"select_account"}')
    write(t, "sheets-options", b'\x02{"scopes":["https://www.googleapis.com/auth/drive.readonly"],'
                               b'"login_hint":"a@b.example","prompt":"consent"}')
    write(t, "sheets-settings", b'\x03{"client_id":"x.apps.googleusercontent.com","client_secret":"s",'
                                b'"token_uri":"https://oauth2.googleapis.com/token"}')
    write(t, "fuzzed-schema",
          b'\x04{"type":"object","required":["a"],"additionalProperties":{"type":"integer","minimum":0,"maximum":9},'
          b'"properties":{"a":{"type":"string","pattern":"^(a|b)+$","maxLength":8},'
          b'"l":{"type":"array","items":{"enum":[1,"x",null]},"minItems":1,"maxItems":3},"c":{"const":{"k":[true]}}}}'
          b'\x00{"a":"abba","l":[1,"x"],"c":{"k":[true]},"z":3}')


def redirects():
    t = "fuzz_redirect_policy"
    for name, url in [("https", "https://app.example.com/callback?x=1"), ("loopback-http", "http://127.0.0.1:3000/cb"),
                      ("ipv6", "http://[::1]:8080/a/../b"),
                      ("encoded", "HTTPS://App.Example.COM:443/%7Euser/./cb?status=1"),
                      ("evil-loopback", "http://127.0.0.1.evil.example/cb")]:
        write(t, name, url)


def plugin_answers():
    t = "fuzz_plugin_answers"  # first byte: bit 0 plugin (github, google-sheets), bits 1-2 operation
    j = b"application/json; charset=utf-8"
    write(t, "github-exchange", b"\x00200 " + j + b'\n{"access_token":"gho_16C7e42F292c6912E7710c838347Ae178B4a",'
          b'"token_type":"bearer","scope":"repo,gist"}\x00200 ' + j + b'\n{"login":"octocat","id":1296269}')
    write(t, "github-app-refresh", b"\x02200 application/x-www-form-urlencoded\naccess_token=ghu_abc&expires_in=28800"
          b"&refresh_token=ghr_def&refresh_token_expires_in=15897600&token_type=bearer&scope=")
    write(t, "github-200-error", b"\x00200 " + j + b'\n{"error":"bad_verification_code",'
          b'"error_description":"The code passed is incorrect or expired."}')
    write(t, "sheets-exchange", b"\x01200 " + j + b'\n{"access_token":"ya29.a0","expires_in":3599,'
          b'"refresh_token":"1//0g","scope":"https://www.googleapis.com/auth/spreadsheets.readonly openid",'
          b'"token_type":"Bearer","id_token":"x.y.z"}\x00200 ' + j +
          b'\n{"user":{"displayName":"A","emailAddress":"a@example.com","permissionId":"123"}}')
    write(t, "sheets-refresh-invalid", b"\x03400 " + j +
          b'\n{"error":"invalid_grant","error_description":"Token has been expired or revoked."}')
    write(t, "sheets-check-html", b"\x07503 text/html\n<html><body>Service Unavailable</body></html>")
    write(t, "github-revoke", b"\x04204 \n")
    write(t, "github-revoke-401", b"\x04401 " + j + b'\n{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}')


def descriptors():
    t = "fuzz_plugin_descriptor"
    valid = ('{"slug":"example-oauth","display_name":"Example","version":"1.2.3",'
             '"documentation_url":"https://example.com/docs","source_definitions":[{"id":"'
             + GITHUB_DEFINITION + '","name":"Example"}],"default_scopes":["read"],"supports_pkce":true,'
             '"supports_refresh":true,"supports_revoke":false,"hosts":["example.com","api.example.com"],'
             '"settings_schema":{"type":"object","required":["client_id"],"properties":{"client_id":{"type":"string"}}},'
             '"flow_options_schema":{"type":"object","properties":{"scopes":{"type":"array","items":{"type":"string"},'
             '"maxItems":5}},"additionalProperties":false}}')
    write(t, "valid", valid)
    write(t, "wrong-type", valid.replace('"supports_pkce":true', '"supports_pkce":"yes"'))
    write(t, "bad-slug", valid.replace('"slug":"example-oauth"', '"slug":"Example_OAuth"'))


def sealed():
    def seal(key_id, plaintext, associated_data, nonce):
        return (b"\x01" + struct.pack(">I", key_id) + nonce +
                AESGCM(SEALING_KEYS[key_id]).encrypt(nonce, plaintext, associated_data))

    t = "fuzz_sealer_open"  # first byte: the associated data
    write(t, "credentials-key7", b"\x00" + seal(7, b'{"access_token":"ya29.a0","refresh_token":"1//0g"}',
                                               ASSOCIATED_DATA[0], bytes(range(12))))
    write(t, "verifier-key1", b"\x01" + seal(1, b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", ASSOCIATED_DATA[1],
                                            bytes(range(12, 24))))
    write(t, "empty-ad-empty-text", b"\x02" + seal(7, b"", ASSOCIATED_DATA[2], bytes(12)))


def key_files():
    def b64(key):
        return base64.b64encode(key).decode()

    t = "fuzz_key_file"
    write(t, "two-keys", "# Sealing keys: <id>:<base64 of 32 bytes>. The highest id seals; all open.\n"
          f"1:{b64(SEALING_KEYS[1])}\n  7 : {b64(SEALING_KEYS[7])}  \n")
    write(t, "bad-length", f"1:{b64(SEALING_KEYS[1][:31])}\n")
    write(t, "duplicate-id", f"4294967295:{b64(SEALING_KEYS[1])}\r\n4294967295:{b64(SEALING_KEYS[7])}\n")


if __name__ == "__main__":
    for make in (http_requests, callback_queries, json_bodies, schemas, redirects, plugin_answers, descriptors, sealed,
                 key_files):
        make()
