#!/usr/bin/env bash
# make-test-ca.sh OUT_DIR
#
# Creates a throw-away TLS test PKI for the test peers (tests/peers/) with the openssl CLI:
#
#   ca.pem / ca-key.pem                  test root CA (EC P-256, 30 days)
#   server.pem / server-key.pem          signed by the CA, SAN IP:127.0.0.1, IP:::1, DNS:localhost
#   wrong-host.pem / wrong-host-key.pem  signed by the CA, SAN DNS:wrong.example only
#                                        (a client that verifies host names must refuse it on 127.0.0.1)
#   untrusted.pem / untrusted-key.pem    self-signed, SAN IP:127.0.0.1, DNS:localhost, NOT from the CA
#                                        (a client that verifies the chain must refuse it)
#
# All keys are EC P-256 with mode 0600; certificates are valid for 30 days.
# Idempotent: when every file exists, every certificate is still valid for at least another
# hour and the CA-signed ones verify against ca.pem, nothing is done. Otherwise the whole set
# is regenerated (in a temporary directory, then moved into place) so the files always match.
# Concurrent runs on one OUT_DIR are serialised with flock.
set -euo pipefail

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi

OUT_DIR=$1
DAYS=30
MIN_REMAINING_SECONDS=3600
FILES="ca.pem ca-key.pem server.pem server-key.pem wrong-host.pem wrong-host-key.pem untrusted.pem untrusted-key.pem"

command -v openssl >/dev/null || { echo "make-test-ca.sh: openssl not found" >&2; exit 1; }

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)

all_valid() {
  local f
  for f in $FILES; do
    [ -s "$OUT_DIR/$f" ] || return 1
  done
  for f in ca.pem server.pem wrong-host.pem untrusted.pem; do
    openssl x509 -in "$OUT_DIR/$f" -noout -checkend "$MIN_REMAINING_SECONDS" >/dev/null 2>&1 || return 1
  done
  openssl verify -CAfile "$OUT_DIR/ca.pem" "$OUT_DIR/server.pem" "$OUT_DIR/wrong-host.pem" >/dev/null 2>&1 || return 1
  # each key must belong to its certificate
  for f in ca server wrong-host untrusted; do
    [ "$(openssl x509 -in "$OUT_DIR/$f.pem" -noout -pubkey 2>/dev/null)" = \
      "$(openssl pkey -in "$OUT_DIR/$f-key.pem" -pubout 2>/dev/null)" ] || return 1
  done
  return 0
}

generate() {
  local tmp=$1

  # --- keys (created under umask 077, so never world-readable, not even briefly) ---
  local k
  for k in ca server wrong-host untrusted; do
    (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
      -pkeyopt ec_param_enc:named_curve -out "$tmp/$k-key.pem" 2>/dev/null)
    chmod 0600 "$tmp/$k-key.pem"
  done

  # --- extension sections ---
  cat >"$tmp/ext.cnf" <<'EOF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
[ v3_wrong_host ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
subjectAltName = DNS:wrong.example
[ v3_untrusted ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
EOF

  # --- root CA (self-signed) ---
  openssl req -new -x509 -config "$tmp/ext.cnf" -extensions v3_ca \
    -key "$tmp/ca-key.pem" -sha256 -days "$DAYS" \
    -set_serial "0x$(openssl rand -hex 16)" \
    -subj "/O=OAuth host tests/CN=OAuth host test root CA" \
    -out "$tmp/ca.pem" 2>/dev/null

  # --- leaf certificates signed by the CA ---
  local name section cn
  for name in server wrong-host; do
    if [ "$name" = server ]; then section=v3_server; cn=localhost; else section=v3_wrong_host; cn=wrong.example; fi
    openssl req -new -config "$tmp/ext.cnf" -key "$tmp/$name-key.pem" \
      -subj "/O=OAuth host tests/CN=$cn" -out "$tmp/$name.csr" 2>/dev/null
    openssl x509 -req -in "$tmp/$name.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca-key.pem" \
      -set_serial "0x$(openssl rand -hex 16)" -sha256 -days "$DAYS" \
      -extfile "$tmp/ext.cnf" -extensions "$section" -out "$tmp/$name.pem" 2>/dev/null
    rm -f "$tmp/$name.csr"
  done

  # --- self-signed certificate that does not chain to the CA ---
  openssl req -new -x509 -config "$tmp/ext.cnf" -extensions v3_untrusted \
    -key "$tmp/untrusted-key.pem" -sha256 -days "$DAYS" \
    -set_serial "0x$(openssl rand -hex 16)" \
    -subj "/O=OAuth host tests/CN=untrusted self-signed" \
    -out "$tmp/untrusted.pem" 2>/dev/null

  rm -f "$tmp/ext.cnf"
  chmod 0644 "$tmp/ca.pem" "$tmp/server.pem" "$tmp/wrong-host.pem" "$tmp/untrusted.pem"

  # sanity checks before publishing anything
  openssl verify -CAfile "$tmp/ca.pem" "$tmp/server.pem" "$tmp/wrong-host.pem" >/dev/null
  if openssl verify -CAfile "$tmp/ca.pem" "$tmp/untrusted.pem" >/dev/null 2>&1; then
    echo "make-test-ca.sh: untrusted.pem unexpectedly verifies against the CA" >&2
    return 1
  fi
}

exec 9>"$OUT_DIR/.make-test-ca.lock"
if command -v flock >/dev/null; then flock 9; fi

if all_valid; then
  exit 0
fi

TMP=$(mktemp -d "$OUT_DIR/.make-test-ca.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
generate "$TMP"

# keys first, then certificates; each mv is atomic within the directory
for f in ca-key.pem server-key.pem wrong-host-key.pem untrusted-key.pem \
         ca.pem server.pem wrong-host.pem untrusted.pem; do
  mv -f "$TMP/$f" "$OUT_DIR/$f"
done
echo "make-test-ca.sh: wrote test PKI to $OUT_DIR" >&2
