#!/usr/bin/env bash
# The SDK's published JSON Schema for provider definitions (sdk/schema/) agrees with the engine:
# every catalogue definition passes both Ajv (an independent validator) and
# `connector-host providers lint`; a valid definition with one rule broken fails both.
# Usage: definition_schema_test.sh SOURCE_DIR CONNECTOR_HOST
set -euo pipefail
source_dir=$1
host=$2
schema="$source_dir/sdk/schema/provider-definition.schema.json"
validate="$source_dir/tests/peers/validate-definitions.js"
work=$(mktemp -d /tmp/connector-schema.XXXXXX)
trap 'rm -rf "$work"' EXIT

node "$validate" "$schema" "$source_dir"/plugins/catalogue/*.json >"$work/catalogue.log" ||
  { cat "$work/catalogue.log"; echo "FAIL: a catalogue definition does not match the schema"; exit 1; }
echo "catalogue: $(grep -c '^ok' "$work/catalogue.log") definitions match the schema"

# One broken rule each, on the catalogue's GitLab definition.
node --input-type=module - "$source_dir/plugins/catalogue/gitlab.json" "$work" <<'JS'
import fs from 'node:fs';
const [file, out] = process.argv.slice(2);
const breaks = {
  'unknown-member': (d) => { d.token.client_auth = 'client_secret_post'; },
  'plain-http': (d) => { d.token.url = 'http://gitlab.example/oauth/token'; },
  'slug': (d) => { d.slug = 'Git Lab'; },
  'bearer-with-token': (d) => { d.revocation = { url: '{base_url}/oauth/revoke', style: 'bearer', token: 'refresh_token' }; },
  'metadata-default': (d) => { d.variables.realm = { from: 'callback', parameter: 'realmId', kind: 'token', default: '1' }; },
  'callback-own-parameter': (d) => { d.variables.realm = { from: 'callback', parameter: 'state', kind: 'token' }; },
  'engine-parameter': (d) => { d.authorization.parameters = { redirect_uri: 'https://x.example' }; },
  'reserved-header': (d) => { d.check.headers = { 'content-TYPE': 'text/plain' }; },
  'body-with-get': (d) => { d.check.body = '{}'; },
  'lifetime': (d) => { d.token.default_expires_in = 5; },
  'space-in-url': (d) => { d.token.url = '{base_url}/oauth token'; },
  'origin-runs-on': (d) => { d.token.url = '{base_url}&oauth/token'; },
};
for (const [name, change] of Object.entries(breaks)) {
  const definition = JSON.parse(fs.readFileSync(file, 'utf8'));
  change(definition);
  fs.writeFileSync(`${out}/${name}.json`, JSON.stringify(definition));
}
JS
broken=("$work"/*-*.json "$work"/slug.json "$work"/lifetime.json)
node "$validate" --expect-invalid "$schema" "${broken[@]}" >"$work/broken.log" ||
  { cat "$work/broken.log"; echo "FAIL: the schema accepts a broken definition"; exit 1; }
for definition in "${broken[@]}"; do
  if "$host" providers lint "$definition" >/dev/null 2>&1; then
    echo "FAIL: the engine accepts $(basename "$definition"), which the schema refuses"
    exit 1
  fi
done
echo "broken: ${#broken[@]} definitions refused by both the schema and the engine"
