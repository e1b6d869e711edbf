#!/usr/bin/env node
// Prepares one-shot requests for bench/wrk/replay.lua, so that wrk measures only the step
// under test and never a preparation step.
//
//   prepare.js flows --host http://127.0.0.1:P --org ORG --key KEY --ca ca.pem --count N --out FILE
//       N flows started on the host (POST …/sources/authorize for github), each taken through
//       the provider double's consent (GET authorization_url → 302 back to the host's callback);
//       writes the callback paths (/v1/oauth/callback?code=…&state=…), one a line.
//   prepare.js codes --provider https://127.0.0.1:P --ca ca.pem --redirect-uri URI --count N --out FILE
//       N authorization codes from the double, each written as the token-request body the
//       github plugin sends (same fields, same PKCE verifier for all).
//   prepare.js token --provider https://127.0.0.1:P --ca ca.pem
//       prints one live GitHub access token (for timing the double's GET /user alone).
//
// Options: --concurrency C (default 32). Keep-alive agents, C requests in flight.
// Prints one JSON line with the count and the time taken; exits 1 at the first failure.
'use strict';

const http = require('node:http');
const https = require('node:https');
const crypto = require('node:crypto');
const fs = require('node:fs');

const [mode, ...rest] = process.argv.slice(2);
const opts = {};
for (let i = 0; i < rest.length; i += 2) opts[rest[i].replace(/^--/, '')] = rest[i + 1];
const count = Number(opts.count || 0);
const concurrency = Number(opts.concurrency || 32);

function fail(message) {
  process.stderr.write(`prepare.js: ${message}\n`);
  process.exit(1);
}

// One request, whole answer in memory (these answers are small).
function call(agent, url, { method = 'GET', headers = {}, body } = {}) {
  const u = new URL(url);
  const client = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(u, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body); else req.end();
  });
}

// Runs make(i) for i in [0, n) with `concurrency` in flight; results in order.
async function pool(n, make) {
  const out = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await make(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}

const b64u = (buf) => buf.toString('base64url');
const verifier = b64u(crypto.randomBytes(32));
const challenge = b64u(crypto.createHash('sha256').update(verifier).digest());
const clientId = opts['client-id'] || 'test-client-id';
const clientSecret = opts['client-secret'] || 'test-client-secret';

function httpsAgent() {
  return new https.Agent({ keepAlive: true, maxSockets: concurrency, ca: fs.readFileSync(opts.ca) });
}

// The double's consent step: authorize URL → 302 to redirect_uri with code and state.
async function consent(agent, url) {
  const answer = await call(agent, url);
  if (answer.status !== 302 || !answer.headers.location) {
    fail(`consent at the provider answered ${answer.status}: ${answer.body.slice(0, 200)}`);
  }
  return new URL(answer.headers.location);
}

async function prepareFlows() {
  const hostAgent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const providerAgent = httpsAgent();
  const authorize = `${opts.host}/v1/organizations/${opts.org}/knowledge/connectors/sources/authorize`;
  const body = JSON.stringify({ slug: 'github', redirect_url: 'https://app.example.com/callback' });
  return pool(count, async () => {
    const started = await call(hostAgent, authorize, {
      method: 'POST',
      headers: { Authorization: `Bearer ${opts.key}`, 'Content-Type': 'application/json' },
      body,
    });
    if (started.status !== 200) fail(`authorize answered ${started.status}: ${started.body.slice(0, 300)}`);
    const back = await consent(providerAgent, JSON.parse(started.body).authorization_url);
    if (`${back.origin}` !== opts.host || !back.searchParams.get('code')) {
      fail(`the provider did not send the browser back to the host: ${back}`);
    }
    return back.pathname + back.search;
  });
}

function consentUrl(i) {
  const u = new URL('/login/oauth/authorize', opts.provider);
  u.search = new URLSearchParams({
    client_id: clientId, redirect_uri: opts['redirect-uri'], scope: 'repo', state: `bench-${i}`,
    code_challenge: challenge, code_challenge_method: 'S256',
  }).toString();
  return u;
}

async function prepareCodes() {
  const agent = httpsAgent();
  return pool(count, async (i) => {
    const code = (await consent(agent, consentUrl(i))).searchParams.get('code');
    if (!code) fail('the provider gave no code');
    return new URLSearchParams({
      client_id: clientId, client_secret: clientSecret, code, redirect_uri: opts['redirect-uri'], code_verifier: verifier,
    }).toString();
  });
}

async function oneToken() {
  const agent = httpsAgent();
  opts['redirect-uri'] = opts['redirect-uri'] || 'https://127.0.0.1:9/cb';
  const code = (await consent(agent, consentUrl(0))).searchParams.get('code');
  const answer = await call(agent, new URL('/login/oauth/access_token', opts.provider), {
    method: 'POST',
    headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: clientId, client_secret: clientSecret, code, code_verifier: verifier,
      redirect_uri: opts['redirect-uri'] }).toString(),
  });
  const token = JSON.parse(answer.body).access_token;
  if (!token) fail(`no access token: ${answer.body}`);
  process.stdout.write(`${token}\n`);
  agent.destroy();
}

async function main() {
  if (mode === 'token') return oneToken();
  const started = process.hrtime.bigint();
  let lines;
  if (mode === 'flows') lines = await prepareFlows();
  else if (mode === 'codes') lines = await prepareCodes();
  else fail('usage: prepare.js flows|codes|token --count N --out FILE …');
  fs.writeFileSync(opts.out, `${lines.join('\n')}\n`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify({ mode, count: lines.length, seconds: Number(seconds.toFixed(2)) })}\n`);
  process.exit(0); // keep-alive sockets would hold the process open
}

main().catch((error) => fail(error.stack || String(error)));
