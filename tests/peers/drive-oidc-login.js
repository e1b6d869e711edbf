#!/usr/bin/env node
// drive-oidc-login.js — plays the user in a browser against oidc-server.js (oidc-provider@8 with
// devInteractions), using plain HTTPS requests: follows redirects by hand, keeps cookies (with
// their Path), submits the login form (prompt=login&login=<login>&password=<password>) and then
// the consent form (prompt=consent). Prints ONE line to stdout: the final redirect Location, which
// points at the client's redirect_uri with code, state and iss (or error=... on refusal).
//
// Form field names come from oidc-provider 8.x lib/views/login.js and lib/views/interaction.js
// (hidden "prompt", text "login", password "password"; consent: hidden "prompt"=consent), which
// POST to the same /interaction/<uid> URL (lib/helpers/initialize_app.js, lib/actions/interaction.js).
//
// Usage:
//   node drive-oidc-login.js AUTHORIZATION_URL CA_FILE [--login user1] [--password pw] [--verbose]
//   node drive-oidc-login.js --url AUTHORIZATION_URL --ca CA_FILE [...]
// Exit status: 0 with the Location printed; 1 on any failure (reason on stderr).

import https from 'node:https';
import fs from 'node:fs';

function usage(msg) {
  if (msg) process.stderr.write(`drive-oidc-login: ${msg}\n`);
  process.stderr.write('usage: drive-oidc-login.js AUTHORIZATION_URL CA_FILE [--login user1] [--password pw] [--verbose]\n');
  process.exit(2);
}

const opts = { url: undefined, ca: undefined, login: 'user1', password: 'pw', verbose: false, maxSteps: 20 };
{
  const argv = process.argv.slice(2);
  const positional = [];
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const value = () => {
      if (eq > 0) return a.slice(eq + 1);
      i += 1;
      if (i >= argv.length) usage(`${flag} needs a value`);
      return argv[i];
    };
    switch (flag) {
      case '--url': opts.url = value(); break;
      case '--ca': case '--cacert': opts.ca = value(); break;
      case '--login': opts.login = value(); break;
      case '--password': opts.password = value(); break;
      case '--verbose': opts.verbose = true; break;
      case '-h': case '--help': usage(); break;
      default:
        if (flag.startsWith('--')) usage(`unknown option ${flag}`);
        positional.push(a);
    }
  }
  if (!opts.url) opts.url = positional.shift();
  if (!opts.ca) opts.ca = positional.shift();
  if (positional.length) usage('too many arguments');
  if (!opts.url || !opts.ca) usage('the authorization URL and the CA file are required');
}

const fail = (msg) => {
  process.stderr.write(`drive-oidc-login: ${msg}\n`);
  process.exit(1);
};
const diag = (msg) => { if (opts.verbose) process.stderr.write(`drive-oidc-login: ${msg}\n`); };

let ca;
try {
  ca = fs.readFileSync(opts.ca);
} catch (e) {
  fail(`cannot read CA file: ${e.message}`);
}

let start;
try {
  start = new URL(opts.url);
} catch {
  fail('the authorization URL is not a URL');
}
if (start.protocol !== 'https:') fail('the authorization URL must be https');
const providerOrigin = start.origin;

// ---- a small cookie jar: name -> {value, path}; Domain is ignored (single host) ----
const jar = new Map();
function storeCookies(setCookie, requestPath) {
  for (const line of setCookie || []) {
    const parts = line.split(';').map((s) => s.trim());
    const [nv, ...attrs] = parts;
    const eq = nv.indexOf('=');
    if (eq <= 0) continue;
    const name = nv.slice(0, eq);
    const value = nv.slice(eq + 1);
    let path = requestPath.replace(/\/[^/]*$/, '') || '/';
    let expired = false;
    for (const a of attrs) {
      const [k, ...v] = a.split('=');
      const key = k.toLowerCase();
      const val = v.join('=');
      if (key === 'path' && val.startsWith('/')) path = val;
      if (key === 'max-age' && Number(val) <= 0) expired = true;
      if (key === 'expires' && Date.parse(val) <= Date.now()) expired = true;
    }
    const id = `${name}\u0000${path}`;
    if (expired) jar.delete(id);
    else jar.set(id, { name, value, path });
  }
}
function cookieHeader(path) {
  const matches = [...jar.values()].filter((c) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`));
  matches.sort((a, b) => b.path.length - a.path.length);
  return matches.map((c) => `${c.name}=${c.value}`).join('; ');
}

function request(method, url, body) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers = { Accept: 'text/html', 'User-Agent': 'drive-oidc-login' };
    const cookies = cookieHeader(u.pathname);
    if (cookies) headers.Cookie = cookies;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const req = https.request({
      method,
      host: u.hostname,
      port: u.port || 443,
      path: `${u.pathname}${u.search}`,
      headers,
      ca,
      servername: /^[\d.]+$|:/.test(u.hostname) ? undefined : u.hostname,
      timeout: 10_000,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        storeCookies(res.headers['set-cookie'], u.pathname);
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

const unescapeHtml = (s) => s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'")
  .replace(/&#x2F;/gi, '/').replace(/&lt;/g, '<').replace(/&gt;/g, '>');

// Finds the devInteractions form (the one carrying a hidden "prompt" input) and its action URL.
function findPromptForm(html) {
  const forms = html.match(/<form\b[\s\S]*?<\/form>/gi) || [];
  for (const f of forms) {
    const prompt = /<input[^>]*name="prompt"[^>]*value="([^"]*)"/i.exec(f) || /<input[^>]*value="([^"]*)"[^>]*name="prompt"/i.exec(f);
    const action = /<form\b[^>]*action="([^"]*)"/i.exec(f);
    if (prompt && action) return { prompt: unescapeHtml(prompt[1]), action: unescapeHtml(action[1]) };
  }
  return null;
}

let url = start.toString();
let method = 'GET';
let body;
for (let step = 0; step < opts.maxSteps; step += 1) {
  let res;
  try {
    res = await request(method, url, body);
  } catch (e) {
    fail(`${method} ${new URL(url).pathname}: ${e.message}`);
  }
  diag(`${method} ${new URL(url).pathname} -> ${res.status}`);

  if (res.status >= 300 && res.status < 400) {
    const loc = res.headers.location;
    if (!loc) fail(`redirect ${res.status} without Location`);
    const next = new URL(loc, url);
    if (next.origin !== providerOrigin) {
      process.stdout.write(`${next.toString()}\n`);
      process.exit(0);
    }
    url = next.toString();
    method = 'GET';
    body = undefined;
    continue;
  }

  if (res.status === 200) {
    const form = findPromptForm(res.body);
    if (!form) fail(`page at ${new URL(url).pathname} has no login/consent form`);
    const fields = new URLSearchParams();
    fields.set('prompt', form.prompt);
    if (form.prompt === 'login') {
      fields.set('login', opts.login);
      fields.set('password', opts.password);
    } else if (form.prompt !== 'consent') {
      fail(`unexpected prompt "${form.prompt}"`);
    }
    diag(`submitting prompt=${form.prompt}`);
    url = new URL(form.action, url).toString();
    if (new URL(url).origin !== providerOrigin) fail('form action points away from the provider');
    method = 'POST';
    body = fields.toString();
    continue;
  }

  const text = res.body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300);
  fail(`unexpected HTTP ${res.status} at ${new URL(url).pathname}: ${text}`);
}
fail(`no redirect to the client after ${opts.maxSteps} steps`);
