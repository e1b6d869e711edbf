#!/usr/bin/env node
// validate-definitions.js — checks provider definitions against the SDK's published JSON Schema
// (sdk/schema/provider-definition.schema.json) with Ajv, a validator independent of the engine.
//
// Usage: node validate-definitions.js SCHEMA.json DEFINITION.json...
//        node validate-definitions.js --expect-invalid SCHEMA.json DEFINITION.json...
// Prints one line per file ("ok: FILE" or "invalid: FILE: PATH MESSAGE") and exits 0 when every
// file came out as expected, 1 otherwise, 2 on bad usage.
import fs from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';

const args = process.argv.slice(2);
const expectInvalid = args[0] === '--expect-invalid';
if (expectInvalid) args.shift();
if (args.length < 2) {
  process.stderr.write('usage: validate-definitions.js [--expect-invalid] SCHEMA.json DEFINITION.json...\n');
  process.exit(2);
}
const [schemaFile, ...files] = args;
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaFile, 'utf8')));

let asExpected = true;
for (const file of files) {
  let valid = false;
  let why = '';
  try {
    valid = validate(JSON.parse(fs.readFileSync(file, 'utf8')));
    if (!valid) why = validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
  } catch (error) {
    why = `not JSON: ${error.message}`;
  }
  process.stdout.write(valid ? `ok: ${file}\n` : `invalid: ${file}: ${why}\n`);
  if (valid === expectInvalid) asExpected = false;
}
process.exit(asExpected ? 0 : 1);
