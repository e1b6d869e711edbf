#!/usr/bin/env node
// provider-double.js — a test double that behaves like Google's and GitHub's OAuth endpoints,
// quirks included (see /work/shared/reference/providers.md and tests/peers/README.md).
//
// No npm dependencies: node's https module only. Serves TLS on 127.0.0.1 and prints exactly
// one line of JSON to stdout when listening: {"port": N}. Nothing is written to stdout after
// that line; diagnostics (never secrets) go to stderr, and only with --verbose.
//
// Usage:
//   node provider-double.js --cert server.pem --key server-key.pem [--port 0] [--host 127.0.0.1]
//        [--issuer https://accounts.google.com] [--client-id test-client-id]
//        [--client-secret test-client-secret] [--github-expiring] [--verbose] [--exit-on-stdin-eof]
//   node provider-double.js server.pem server-key.pem [port]      (positional form)

import https from 'node:https';
import crypto from 'node:crypto';
import fs from 'node:fs';

// ---------------------------------------------------------------------------------------------
// arguments
// ---------------------------------------------------------------------------------------------

function usage(msg) {
  if (msg) process.stderr.write(`provider-double: ${msg}\n`);
  process.stderr.write('usage: provider-double.js --cert CERT.pem --key KEY.pem [--port N] [--host 127.0.0.1]\n'
    + '         [--issuer URL] [--client-id ID] [--client-secret SECRET] [--github-expiring]\n'
    + '         [--verbose] [--exit-on-stdin-eof]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    cert: undefined,
    key: undefined,
    port: 0,
    host: '127.0.0.1',
    issuer: 'https://accounts.google.com',
    clientId: 'test-client-id',
    clientSecret: 'test-client-secret',
    githubExpiring: false,
    verbose: false,
    exitOnStdinEof: false,
  };
  const positional = [];
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      i += 1;
      if (i >= argv.length) usage(`${flag} needs a value`);
      return argv[i];
    };
    switch (flag) {
      case '--cert': opts.cert = value(); break;
      case '--key': opts.key = value(); break;
      case '--port': opts.port = Number(value()); break;
      case '--host': opts.host = value(); break;
      case '--issuer': opts.issuer = value(); break;
      case '--client-id': opts.clientId = value(); break;
      case '--client-secret': opts.clientSecret = value(); break;
      case '--github-expiring': opts.githubExpiring = true; break;
      case '--verbose': opts.verbose = true; break;
      case '--exit-on-stdin-eof': opts.exitOnStdinEof = true; break;
      case '-h': case '--help': usage(); break;
      default:
        if (flag.startsWith('--')) usage(`unknown option ${flag}`);
        positional.push(a);
    }
  }
  if (positional.length > 0 && opts.cert === undefined) opts.cert = positional.shift();
  if (positional.length > 0 && opts.key === undefined) opts.key = positional.shift();
  if (positional.length > 0) opts.port = Number(positional.shift());
  if (positional.length > 0) usage('too many arguments');
  if (!opts.cert || !opts.key) usage('--cert and --key are required');
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage('bad --port');
  return opts;
}

const OPTS = parseArgs(process.argv.slice(2));

function diag(msg) {
  if (OPTS.verbose) process.stderr.write(`provider-double: ${msg}\n`);
}

// ---------------------------------------------------------------------------------------------
// constants (texts as the real providers send them; providers.md)
// ---------------------------------------------------------------------------------------------

const GOOGLE_ACCESS_EXPIRES_IN = 3599;
const GITHUB_EXPIRING_EXPIRES_IN = 28800;
const GITHUB_REFRESH_EXPIRES_IN = 15811200;
const CODE_TTL_S = 600; // both providers: codes live 10 minutes

const GH_DOCS = 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors';
const GH_ERRORS = {
  incorrect_client_credentials: {
    error_description: 'The client_id and/or client_secret passed are incorrect.',
    error_uri: `${GH_DOCS}/#incorrect-client-credentials`,
  },
  redirect_uri_mismatch: {
    error_description: 'The redirect_uri MUST match the registered callback URL for this application.',
    error_uri: `${GH_DOCS}/#redirect-uri-mismatch2`,
  },
  bad_verification_code: {
    error_description: 'The code passed is incorrect or expired.',
    error_uri: `${GH_DOCS}/#bad-verification-code`,
  },
  bad_refresh_token: {
    error_description: 'The refresh token passed is incorrect or expired.',
    error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors',
  },
  unsupported_grant_type: {
    error_description: 'The grant type is not supported.',
    error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors',
  },
};
const GH_AUTHZ_ERROR_URI = 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors';

const HTML_403 = '<!DOCTYPE html>\n<html lang=en><meta charset=utf-8><title>Error 403 (Forbidden)!!1</title>'
  + '<p><b>403.</b> <ins>That\u2019s an error.</ins><p>We\'re sorry, but you do not have access to this page. '
  + '<ins>That\u2019s all we know.</ins>\n';
const HTML_502 = '<!DOCTYPE html>\n<html lang=en><meta charset=utf-8><title>Error 502 (Server Error)!!1</title>'
  + '<p><b>502.</b> <ins>That\u2019s an error.</ins><p>The server encountered a temporary error and could not '
  + 'complete your request.<p>Please try again in 30 seconds. <ins>That\u2019s all we know.</ins>\n';

const TOKEN_BEHAVIOURS = new Set(['normal', 'timeout', 'http500', 'html403', 'html502', 'github200error',
  'truncated-json', 'truncated-body']);

// ---------------------------------------------------------------------------------------------
// state
// ---------------------------------------------------------------------------------------------

function initialConfig() {
  return {
    clients: [{ client_id: OPTS.clientId, client_secret: OPTS.clientSecret, redirect_uris: [] }],
    issuer: OPTS.issuer,
    github_expiring: OPTS.githubExpiring,
    google_expires_in: GOOGLE_ACCESS_EXPIRES_IN,
    github_expires_in: GITHUB_EXPIRING_EXPIRES_IN,
    github_refresh_token_expires_in: GITHUB_REFRESH_EXPIRES_IN,
    github_user: { login: 'octocat', id: 1 }, // who GET /user says signed in (/__control/github-user)
    code_ttl_s: CODE_TTL_S,
    grant: { drop: [], add: [] },
  };
}

function initialBehaviour() {
  return { token: 'normal', delay_ms: 0, times: null };
}

function initialStats() {
  const flavour = () => ({
    authorize_calls: 0,
    token_calls: { total: 0, authorization_code: 0, refresh_token: 0, other: 0 },
    refresh_calls: 0,
    revokes: 0,
    user_calls: 0,
    user_calls_ok: 0,
  });
  return {
    google: flavour(),
    github: flavour(),
    token_calls: { total: 0, authorization_code: 0, refresh_token: 0, other: 0 },
    refresh_calls: 0,
    revokes: 0,
    user_calls: 0,
    authorize_calls: 0,
    token_responses: {}, // outcome -> count, e.g. "ok", "invalid_grant", "behaviour:timeout"
    in_flight_token_requests: 0,
    max_in_flight_token_requests: 0,
    revoked_tokens: [],
    last_authorize_query: null,
    last_token_request: null,
  };
}

let config = initialConfig();
let behaviour = initialBehaviour();
let stats = initialStats();
let codes = new Map(); // code -> {...}
let tokens = new Map(); // token -> { kind, flavour, client_id, scope[], expires_at, alive, dead_reason, grant_id }
let grants = new Map(); // grant_id -> Set(token)
let googleConsented = new Map(); // client_id -> Set(scope) granted before (include_granted_scopes, prompt quirk)
const hanging = new Set(); // responses held open by the "timeout" behaviour

function resetAll() {
  config = initialConfig();
  behaviour = initialBehaviour();
  stats = initialStats();
  codes = new Map();
  tokens = new Map();
  grants = new Map();
  googleConsented = new Map();
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function randomAlnum(n) {
  // rejection sampling: uniform over [A-Za-z0-9]
  let out = '';
  while (out.length < n) {
    const buf = crypto.randomBytes(n * 2);
    for (const b of buf) {
      if (b < 248 && out.length < n) out += ALNUM[b % 62];
    }
  }
  return out;
}
const randomB64u = (bytes) => crypto.randomBytes(bytes).toString('base64url');

const newGoogleCode = () => `4/0A${randomB64u(54)}`; // contains '/', sent as %2F (observed)
const newGoogleAccess = () => `ya29.${randomB64u(120)}`;
const newGoogleRefresh = () => `1//0${randomB64u(72)}`;
const newGithubCode = () => crypto.randomBytes(10).toString('hex');
const newGho = () => `gho_${randomAlnum(36)}`;
const newGhu = () => `ghu_${randomAlnum(36)}`;
const newGhr = () => `ghr_${randomAlnum(76)}`;

function safeEqual(a, b) {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb) && a.length === b.length;
}

function findClient(clientId) {
  return config.clients.find((c) => c.client_id === clientId);
}

function clientOk(clientId, clientSecret) {
  const c = findClient(clientId);
  return !!c && safeEqual(c.client_secret, clientSecret ?? '');
}

function basicAuth(req) {
  const h = req.headers.authorization || '';
  const m = /^Basic\s+(.+)$/i.exec(h);
  if (!m) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return null;
  // RFC 6749 §2.3.1: both parts are form-urlencoded before base64
  const dec = (s) => { try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch { return s; } };
  return { id: dec(decoded.slice(0, i)), secret: dec(decoded.slice(i + 1)) };
}

function bearer(req) {
  const h = req.headers.authorization || '';
  const m = /^(?:Bearer|token)\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : null;
}

function pkceMatches(verifier, challenge, method) {
  if (!challenge) return verifier === undefined || verifier === null || verifier === '' ? true : false;
  if (typeof verifier !== 'string' || !/^[A-Za-z0-9\-._~]{43,128}$/.test(verifier)) return false;
  if ((method || 'plain') === 'S256') {
    return crypto.createHash('sha256').update(verifier, 'ascii').digest('base64url') === challenge;
  }
  if (method === 'plain' || method === undefined) return verifier === challenge;
  return false;
}

function applyGrantPolicy(scopes) {
  let out = scopes.filter((s) => !config.grant.drop.includes(s));
  for (const s of config.grant.add) if (!out.includes(s)) out.push(s);
  out = out.filter((s) => s !== '');
  return out;
}

function tokenAlive(t) {
  const rec = tokens.get(t);
  if (!rec || !rec.alive) return null;
  if (rec.expires_at !== null && Date.now() >= rec.expires_at) return null;
  return rec;
}

function addToken(token, rec) {
  tokens.set(token, { alive: true, dead_reason: null, ...rec });
  if (!grants.has(rec.grant_id)) grants.set(rec.grant_id, new Set());
  grants.get(rec.grant_id).add(token);
}

function killToken(token, reason) {
  const rec = tokens.get(token);
  if (rec && rec.alive) {
    rec.alive = false;
    rec.dead_reason = reason;
  }
}

function killGrant(grantId, reason) {
  for (const t of grants.get(grantId) || []) killToken(t, reason);
}

function readBody(req, limit = 1024 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseParams(req, body) {
  const ct = (req.headers['content-type'] || '').toLowerCase();
  if (ct.startsWith('application/json')) {
    try {
      const o = JSON.parse(body || '{}');
      const out = {};
      if (o && typeof o === 'object') for (const [k, v] of Object.entries(o)) out[k] = v === null ? undefined : String(v);
      return out;
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(body));
}

function send(res, status, headers, body) {
  if (res.writableEnded || res.destroyed) return;
  const buf = Buffer.from(body ?? '', 'utf8');
  res.writeHead(status, { 'Content-Length': buf.length, ...headers });
  res.end(buf);
}

function sendJson(res, status, obj, extraHeaders = {}, pretty = false) {
  send(res, status, {
    'Content-Type': 'application/json; charset=utf-8',
    ...extraHeaders,
  }, pretty ? `${JSON.stringify(obj, null, 2)}\n` : JSON.stringify(obj));
}

const NO_STORE = { 'Cache-Control': 'no-cache, no-store, max-age=0, must-revalidate', Pragma: 'no-cache' };

function redirect(res, location) {
  send(res, 302, { Location: location, 'Content-Type': 'text/html; charset=UTF-8' },
    `<HTML><HEAD><TITLE>Moved Temporarily</TITLE></HEAD><BODY>Redirecting</BODY></HTML>\n`);
}

function withQuery(base, pairs) {
  const u = new URL(base);
  for (const [k, v] of pairs) if (v !== undefined && v !== null) u.searchParams.append(k, v);
  return u.toString();
}

function htmlError(res, status, text) {
  send(res, status, { 'Content-Type': 'text/html; charset=utf-8' },
    `<!DOCTYPE html><html><head><title>${text}</title></head><body><p>${text}</p></body></html>\n`);
}

function validAbsoluteUrl(s) {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function countOutcome(outcome) {
  stats.token_responses[outcome] = (stats.token_responses[outcome] || 0) + 1;
}

function redact(params) {
  const secret = new Set(['client_secret', 'code', 'code_verifier', 'refresh_token', 'token', 'access_token']);
  const out = {};
  for (const [k, v] of Object.entries(params)) out[k] = secret.has(k) ? (v ? '<present>' : '<empty>') : v;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Google
// ---------------------------------------------------------------------------------------------

function googleAuthorize(req, res, url) {
  stats.google.authorize_calls += 1;
  stats.authorize_calls += 1;
  const q = Object.fromEntries(url.searchParams);
  stats.last_authorize_query = { flavour: 'google', ...q };

  const client = findClient(q.client_id);
  if (!client) return htmlError(res, 401, 'Error 401: invalid_client. The OAuth client was not found.');
  if (!q.redirect_uri || !validAbsoluteUrl(q.redirect_uri)) return htmlError(res, 400, 'Error 400: invalid_request. Missing required parameter: redirect_uri');
  if (client.redirect_uris.length && !client.redirect_uris.includes(q.redirect_uri)) {
    return htmlError(res, 400, 'Error 400: redirect_uri_mismatch');
  }
  if (q.response_type !== 'code') {
    return redirect(res, withQuery(q.redirect_uri, [['error', 'unsupported_response_type'], ['state', q.state]]));
  }
  if (q.login_hint === 'deny') {
    return redirect(res, withQuery(q.redirect_uri, [['error', 'access_denied'], ['state', q.state]]));
  }
  if (!q.scope) return htmlError(res, 400, 'Error 400: invalid_request. Missing required parameter: scope');
  if (q.code_challenge_method && !['S256', 'plain'].includes(q.code_challenge_method)) {
    return htmlError(res, 400, 'Error 400: invalid_request. Invalid code_challenge_method value.');
  }

  const requested = q.scope.split(' ').filter(Boolean);
  const before = googleConsented.get(client.client_id);
  let granted = applyGrantPolicy(requested);
  if (q.include_granted_scopes === 'true' && before) {
    for (const s of before) if (!granted.includes(s)) granted.push(s);
  }
  // Quirk (providers.md, quirk 1): a refresh token only with access_type=offline, and only when
  // the consent screen is shown: the first consent of this client, or prompt=consent.
  const prompts = (q.prompt || '').split(' ');
  const consentShown = !before || prompts.includes('consent');
  const offline = q.access_type === 'offline';
  googleConsented.set(client.client_id, new Set([...(before || []), ...granted]));

  const code = newGoogleCode();
  codes.set(code, {
    flavour: 'google',
    client_id: client.client_id,
    redirect_uri: q.redirect_uri,
    scope: granted,
    challenge: q.code_challenge,
    method: q.code_challenge ? (q.code_challenge_method || 'plain') : undefined,
    issue_refresh: offline && consentShown,
    expires_at: Date.now() + config.code_ttl_s * 1000,
    used: false,
  });
  return redirect(res, withQuery(q.redirect_uri, [
    ['state', q.state],
    ['code', code],
    ['scope', granted.join(' ')],
    ['authuser', '0'],
    ['prompt', consentShown ? 'consent' : 'none'],
    ['iss', config.issuer], // sent although Google does not advertise RFC 9207 support
  ]));
}

function googleTokenError(res, status, error, description) {
  countOutcome(error);
  const body = { error };
  if (description !== undefined) body.error_description = description;
  sendJson(res, status, body, NO_STORE, true);
}

function googleToken(req, res, p) {
  let id = p.client_id;
  let secret = p.client_secret;
  const basic = basicAuth(req);
  if (basic) { id = basic.id; secret = basic.secret; }
  if (!clientOk(id, secret)) {
    return googleTokenError(res, 401, 'invalid_client', 'The OAuth client was not found.');
  }

  if (p.grant_type === 'authorization_code') {
    if (!p.code) return googleTokenError(res, 400, 'invalid_request', 'Missing required parameter: code');
    const c = codes.get(p.code);
    const bad = !c || c.flavour !== 'google' || c.used || Date.now() >= c.expires_at || c.client_id !== id
      || p.redirect_uri !== c.redirect_uri || !pkceMatches(p.code_verifier, c.challenge, c.method);
    if (c && c.flavour === 'google' && c.client_id === id) c.used = true; // a code is burnt by any attempt
    if (bad) return googleTokenError(res, 400, 'invalid_grant', 'Bad Request');

    const grantId = crypto.randomUUID();
    const access = newGoogleAccess();
    const expiresIn = config.google_expires_in;
    addToken(access, {
      kind: 'access', flavour: 'google', client_id: id, scope: c.scope, grant_id: grantId,
      expires_at: Date.now() + expiresIn * 1000,
    });
    const body = { access_token: access, expires_in: expiresIn };
    if (c.issue_refresh) {
      const refresh = newGoogleRefresh();
      addToken(refresh, { kind: 'refresh', flavour: 'google', client_id: id, scope: c.scope, grant_id: grantId, expires_at: null });
      body.refresh_token = refresh;
    }
    body.scope = c.scope.join(' ');
    body.token_type = 'Bearer';
    countOutcome('ok');
    return sendJson(res, 200, body, NO_STORE, true);
  }

  if (p.grant_type === 'refresh_token') {
    if (!p.refresh_token) return googleTokenError(res, 400, 'invalid_request', 'Missing required parameter: refresh_token');
    const r = tokenAlive(p.refresh_token);
    if (!r || r.kind !== 'refresh' || r.flavour !== 'google' || r.client_id !== id) {
      return googleTokenError(res, 400, 'invalid_grant', 'Token has been expired or revoked.');
    }
    const access = newGoogleAccess();
    const expiresIn = config.google_expires_in;
    addToken(access, {
      kind: 'access', flavour: 'google', client_id: id, scope: r.scope, grant_id: r.grant_id,
      expires_at: Date.now() + expiresIn * 1000,
    });
    countOutcome('ok');
    // Quirk: a refresh answer has no refresh_token; the client keeps the stored one.
    return sendJson(res, 200, {
      access_token: access, expires_in: expiresIn, scope: r.scope.join(' '), token_type: 'Bearer',
    }, NO_STORE, true);
  }

  return googleTokenError(res, 400, 'unsupported_grant_type', `Invalid grant_type: ${p.grant_type ?? ''}`);
}

async function googleRevoke(req, res, url) {
  const body = await readBody(req);
  const p = { ...Object.fromEntries(url.searchParams), ...parseParams(req, body) };
  stats.google.revokes += 1;
  stats.revokes += 1;
  const rec = p.token ? tokenAlive(p.token) : null;
  if (!rec || rec.flavour !== 'google') {
    return sendJson(res, 400, { error: 'invalid_token', error_description: 'Token expired or revoked' }, {}, true);
  }
  // Revoking an access token revokes its refresh token too (and the other way round).
  killGrant(rec.grant_id, 'revoked');
  stats.revoked_tokens.push({ flavour: 'google', kind: rec.kind, token: p.token, at: new Date().toISOString() });
  return sendJson(res, 200, {}, {}, true);
}

function googleAbout(req, res) {
  stats.google.user_calls += 1;
  stats.user_calls += 1;
  const t = bearer(req);
  const rec = t ? tokenAlive(t) : null;
  if (!rec || rec.kind !== 'access' || rec.flavour !== 'google') {
    return sendJson(res, 401, {
      error: {
        code: 401,
        message: 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
        errors: [{ message: 'Invalid Credentials', domain: 'global', reason: 'authError', location: 'Authorization', locationType: 'header' }],
        status: 'UNAUTHENTICATED',
      },
    }, { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' }, true);
  }
  stats.google.user_calls_ok += 1;
  return sendJson(res, 200, { user: { permissionId: '1234', emailAddress: 'user@example.com' } }, {}, true);
}

// ---------------------------------------------------------------------------------------------
// GitHub
// ---------------------------------------------------------------------------------------------

function githubAuthorize(req, res, url) {
  stats.github.authorize_calls += 1;
  stats.authorize_calls += 1;
  const q = Object.fromEntries(url.searchParams);
  stats.last_authorize_query = { flavour: 'github', ...q };

  const client = findClient(q.client_id);
  if (!client) return htmlError(res, 404, 'Not Found');
  let redirectUri = q.redirect_uri;
  if (!redirectUri) redirectUri = client.redirect_uris[0];
  if (!redirectUri || !validAbsoluteUrl(redirectUri)) return htmlError(res, 400, 'redirect_uri missing or invalid');
  if (client.redirect_uris.length && !client.redirect_uris.includes(redirectUri)) {
    // GitHub sends the user to the registered callback with the error
    return redirect(res, withQuery(client.redirect_uris[0], [
      ['error', 'redirect_uri_mismatch'],
      ['error_description', GH_ERRORS.redirect_uri_mismatch.error_description],
      ['error_uri', `${GH_AUTHZ_ERROR_URI}/#redirect-uri-mismatch`],
      ['state', q.state],
    ]));
  }
  if (q.login === 'deny') {
    return redirect(res, withQuery(redirectUri, [
      ['error', 'access_denied'],
      ['error_description', 'The user has denied your application access.'],
      ['error_uri', `${GH_AUTHZ_ERROR_URI}/#access-denied`],
      ['state', q.state],
    ]));
  }
  if (q.code_challenge && (q.code_challenge_method || 'plain') !== 'S256') {
    // PKCE: S256 only
    return redirect(res, withQuery(redirectUri, [
      ['error', 'invalid_request'],
      ['error_description', 'code_challenge_method must be S256'],
      ['state', q.state],
    ]));
  }
  const requested = (q.scope || '').split(/[ ,]+/).filter(Boolean);
  const granted = applyGrantPolicy(requested);
  const code = newGithubCode();
  codes.set(code, {
    flavour: 'github',
    client_id: client.client_id,
    redirect_uri: q.redirect_uri, // undefined when it was omitted
    scope: granted,
    challenge: q.code_challenge,
    method: q.code_challenge ? 'S256' : undefined,
    expires_at: Date.now() + config.code_ttl_s * 1000,
    used: false,
  });
  return redirect(res, withQuery(redirectUri, [['code', code], ['state', q.state]]));
}

function wantsJson(req) {
  return (req.headers.accept || '').toLowerCase().includes('application/json');
}

// GitHub answers in the format the Accept header asks for: form-encoded by default.
function githubAnswer(req, res, obj) {
  if (wantsJson(req)) return sendJson(res, 200, obj, NO_STORE);
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) form.append(k, String(v));
  return send(res, 200, { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8', ...NO_STORE }, form.toString());
}

// Quirk: ALL token errors come back with HTTP 200.
function githubError(req, res, error) {
  countOutcome(error);
  return githubAnswer(req, res, { error, ...GH_ERRORS[error] });
}

function githubIssue(clientId, scope, grantId, expiring) {
  if (expiring) {
    const access = newGhu();
    const refresh = newGhr();
    addToken(access, {
      kind: 'access', flavour: 'github', client_id: clientId, scope: [], grant_id: grantId,
      expires_at: Date.now() + config.github_expires_in * 1000, expiring: true,
    });
    addToken(refresh, {
      kind: 'refresh', flavour: 'github', client_id: clientId, scope: [], grant_id: grantId,
      expires_at: Date.now() + config.github_refresh_token_expires_in * 1000, access,
    });
    return {
      access_token: access,
      expires_in: config.github_expires_in,
      refresh_token: refresh,
      refresh_token_expires_in: config.github_refresh_token_expires_in,
      scope: '',
      token_type: 'bearer',
    };
  }
  const access = newGho();
  addToken(access, { kind: 'access', flavour: 'github', client_id: clientId, scope, grant_id: grantId, expires_at: null });
  // Quirk: granted scope comes back comma-separated, token_type lowercase.
  return { access_token: access, scope: scope.join(','), token_type: 'bearer' };
}

function githubToken(req, res, p) {
  let id = p.client_id;
  let secret = p.client_secret;
  const basic = basicAuth(req);
  if (basic) { id = basic.id; secret = basic.secret; }
  if (!clientOk(id, secret)) return githubError(req, res, 'incorrect_client_credentials');

  const grantType = p.grant_type || 'authorization_code';
  if (grantType === 'authorization_code') {
    const c = p.code ? codes.get(p.code) : undefined;
    if (!c || c.flavour !== 'github' || c.client_id !== id || c.used || Date.now() >= c.expires_at) {
      return githubError(req, res, 'bad_verification_code');
    }
    c.used = true; // a code is burnt by any attempt of its client, successful or not
    if (p.redirect_uri !== undefined && c.redirect_uri !== undefined && p.redirect_uri !== c.redirect_uri) {
      return githubError(req, res, 'redirect_uri_mismatch');
    }
    if (p.redirect_uri !== undefined && c.redirect_uri === undefined) {
      const client = findClient(id);
      if (client.redirect_uris.length && !client.redirect_uris.includes(p.redirect_uri)) {
        return githubError(req, res, 'redirect_uri_mismatch');
      }
    }
    if (!pkceMatches(p.code_verifier, c.challenge, c.method)) return githubError(req, res, 'bad_verification_code');
    countOutcome('ok');
    return githubAnswer(req, res, githubIssue(id, c.scope, crypto.randomUUID(), config.github_expiring));
  }

  if (grantType === 'refresh_token') {
    const r = p.refresh_token ? tokenAlive(p.refresh_token) : null;
    if (!r || r.kind !== 'refresh' || r.flavour !== 'github' || r.client_id !== id) {
      return githubError(req, res, 'bad_refresh_token');
    }
    // Quirk: refresh tokens are SINGLE-USE; the old refresh token and the old access token die.
    killToken(p.refresh_token, 'rotated');
    if (r.access) killToken(r.access, 'rotated');
    countOutcome('ok');
    // a refresh always yields a new expiring pair
    return githubAnswer(req, res, githubIssue(id, [], r.grant_id, true));
  }

  return githubError(req, res, 'unsupported_grant_type');
}

function githubUser(req, res) {
  stats.github.user_calls += 1;
  stats.user_calls += 1;
  const t = bearer(req);
  const rec = t ? tokenAlive(t) : null;
  if (!rec || rec.kind !== 'access' || rec.flavour !== 'github') {
    return sendJson(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
  }
  stats.github.user_calls_ok += 1;
  return sendJson(res, 200, { ...config.github_user }, {
    'X-OAuth-Scopes': rec.scope.join(', '),
    'X-Accepted-OAuth-Scopes': '',
    'X-GitHub-Media-Type': 'github.v3; format=json',
  });
}

// DELETE /applications/:client_id/grant  (and .../token): Basic client_id:client_secret,
// JSON body {"access_token": "..."}. /grant revokes every token of the grant, /token only that one.
async function githubAppRevoke(req, res, clientIdFromPath, what) {
  const body = await readBody(req);
  stats.github.revokes += 1;
  stats.revokes += 1;
  const basic = basicAuth(req);
  if (!basic) return sendJson(res, 401, { message: 'Requires authentication', documentation_url: 'https://docs.github.com/rest' });
  if (basic.id !== clientIdFromPath || !clientOk(basic.id, basic.secret)) {
    return sendJson(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
  }
  let accessToken;
  try { accessToken = JSON.parse(body || '{}').access_token; } catch { accessToken = undefined; }
  if (typeof accessToken !== 'string' || !accessToken) {
    return sendJson(res, 422, { message: 'Invalid request.\n\n"access_token" wasn\'t supplied.', documentation_url: 'https://docs.github.com/rest' });
  }
  const rec = tokenAlive(accessToken);
  if (!rec || rec.flavour !== 'github' || rec.kind !== 'access' || rec.client_id !== basic.id) {
    return sendJson(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
  }
  if (what === 'grant') killGrant(rec.grant_id, 'revoked');
  else killToken(accessToken, 'revoked');
  stats.revoked_tokens.push({ flavour: 'github', kind: what, token: accessToken, at: new Date().toISOString() });
  res.writeHead(204);
  return res.end();
}

// ---------------------------------------------------------------------------------------------
// token endpoint dispatcher (behaviours)
// ---------------------------------------------------------------------------------------------

function pickBehaviour() {
  if (behaviour.token === 'normal' && !behaviour.delay_ms) return { token: 'normal', delay_ms: 0 };
  if (behaviour.times !== null) {
    if (behaviour.times <= 0) {
      behaviour = initialBehaviour();
      return { token: 'normal', delay_ms: 0 };
    }
    behaviour.times -= 1;
    const picked = { token: behaviour.token, delay_ms: behaviour.delay_ms };
    if (behaviour.times === 0) behaviour = initialBehaviour();
    return picked;
  }
  return { token: behaviour.token, delay_ms: behaviour.delay_ms };
}

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

async function tokenEndpoint(req, res, flavour) {
  const body = await readBody(req);
  const p = parseParams(req, body);
  const grantType = flavour === 'github' ? (p.grant_type || 'authorization_code') : p.grant_type;
  const kind = grantType === 'authorization_code' || grantType === 'refresh_token' ? grantType : 'other';
  for (const s of [stats, stats[flavour]]) {
    s.token_calls.total += 1;
    s.token_calls[kind] += 1;
    if (kind === 'refresh_token') s.refresh_calls += 1;
  }
  stats.last_token_request = {
    flavour,
    content_type: req.headers['content-type'] || null,
    accept: req.headers.accept || null,
    basic_auth: !!basicAuth(req),
    params: redact(p),
  };
  diag(`${flavour} token request grant_type=${grantType}`);

  const b = pickBehaviour();
  stats.in_flight_token_requests += 1;
  stats.max_in_flight_token_requests = Math.max(stats.max_in_flight_token_requests, stats.in_flight_token_requests);
  const done = () => { stats.in_flight_token_requests -= 1; };
  let finished = false;
  const finish = () => { if (!finished) { finished = true; done(); } };
  res.on('close', finish);

  if (b.delay_ms > 0) {
    await sleep(b.delay_ms);
    if (res.destroyed || res.writableEnded) return undefined;
  }

  switch (b.token) {
    case 'normal':
      return flavour === 'google' ? googleToken(req, res, p) : githubToken(req, res, p);
    case 'timeout':
      countOutcome('behaviour:timeout');
      // Accept the request and never answer; forget it when the client closes the socket.
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return undefined;
    case 'http500':
      countOutcome('behaviour:http500');
      return sendJson(res, 500, { error: 'internal_failure', error_description: 'Backend Error' }, NO_STORE, true);
    case 'html403':
      countOutcome('behaviour:html403');
      return send(res, 403, { 'Content-Type': 'text/html; charset=UTF-8' }, HTML_403);
    case 'html502':
      countOutcome('behaviour:html502');
      return send(res, 502, { 'Content-Type': 'text/html; charset=UTF-8' }, HTML_502);
    case 'github200error':
    {
      countOutcome('behaviour:github200error');
      const error = kind === 'refresh_token' ? 'bad_refresh_token' : 'bad_verification_code';
      const payload = { error, ...GH_ERRORS[error] };
      // GitHub path: format by Accept (form-encoded by default); Google path: JSON, still HTTP 200
      return flavour === 'github' ? githubAnswer(req, res, payload) : sendJson(res, 200, payload, NO_STORE, true);
    }
    case 'truncated-json': {
      // a well-formed HTTP answer whose JSON body is cut off
      countOutcome('behaviour:truncated-json');
      return send(res, 200, { 'Content-Type': 'application/json; charset=utf-8', ...NO_STORE },
        '{\n  "access_token": "ya29.truncated",\n  "expires_in": 35');
    }
    case 'truncated-body': {
      // Content-Length promises more than is sent, then the connection is dropped
      countOutcome('behaviour:truncated-body');
      const partial = '{"access_token": "ya29.trunc';
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': 200 });
      res.write(partial);
      setTimeout(() => res.destroy(), 20);
      return undefined;
    }
    default:
      return sendJson(res, 500, { error: 'unknown behaviour' });
  }
}

// ---------------------------------------------------------------------------------------------
// control API
// ---------------------------------------------------------------------------------------------

async function control(req, res, url) {
  const path = url.pathname.slice('/__control'.length);
  if (req.method === 'GET' && path === '/stats') {
    return sendJson(res, 200, {
      ...stats,
      behaviour,
      config: {
        issuer: config.issuer,
        github_expiring: config.github_expiring,
        google_expires_in: config.google_expires_in,
        github_expires_in: config.github_expires_in,
        code_ttl_s: config.code_ttl_s,
        clients: config.clients.map((c) => ({ client_id: c.client_id, redirect_uris: c.redirect_uris })),
        grant: config.grant,
      },
      live_tokens: [...tokens.values()].filter((t) => t.alive && (t.expires_at === null || Date.now() < t.expires_at)).length,
      hanging_requests: hanging.size,
    }, { 'Cache-Control': 'no-store' });
  }
  if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { ok: true });
  if (req.method !== 'POST') return sendJson(res, 404, { error: 'not_found' });

  const raw = await readBody(req);
  let body = {};
  if (raw.trim()) {
    try {
      body = JSON.parse(raw);
    } catch {
      return sendJson(res, 400, { error: 'bad_json' });
    }
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return sendJson(res, 400, { error: 'bad_json' });
  const bad = (msg) => sendJson(res, 400, { error: 'bad_request', message: msg });

  switch (path) {
    case '/reset':
      if (body.stats_only) {
        const keepInFlight = stats.in_flight_token_requests;
        stats = initialStats();
        stats.in_flight_token_requests = keepInFlight;
      } else {
        const keepInFlight = stats.in_flight_token_requests;
        resetAll();
        stats.in_flight_token_requests = keepInFlight;
      }
      return sendJson(res, 200, { ok: true });
    case '/behaviour': {
      const next = initialBehaviour();
      if (body.token !== undefined) {
        if (!TOKEN_BEHAVIOURS.has(body.token)) return bad(`token must be one of ${[...TOKEN_BEHAVIOURS].join(', ')}`);
        next.token = body.token;
      }
      if (body.delay_ms !== undefined) {
        if (!Number.isInteger(body.delay_ms) || body.delay_ms < 0) return bad('delay_ms must be a non-negative integer');
        next.delay_ms = body.delay_ms;
      }
      if (body.times !== undefined && body.times !== null) {
        if (!Number.isInteger(body.times) || body.times < 0) return bad('times must be a non-negative integer');
        next.times = body.times;
      }
      behaviour = next;
      return sendJson(res, 200, { ok: true, behaviour });
    }
    case '/clients': {
      const list = Array.isArray(body.clients) ? body.clients : [body];
      const next = [];
      for (const c of list) {
        if (!c || typeof c.client_id !== 'string' || typeof c.client_secret !== 'string' || !c.client_id) {
          return bad('client_id and client_secret (strings) are required');
        }
        const uris = c.redirect_uris ?? [];
        if (!Array.isArray(uris) || !uris.every((u) => typeof u === 'string' && validAbsoluteUrl(u))) {
          return bad('redirect_uris must be a list of absolute URLs');
        }
        next.push({ client_id: c.client_id, client_secret: c.client_secret, redirect_uris: uris });
      }
      config.clients = next;
      return sendJson(res, 200, { ok: true, clients: next.map((c) => c.client_id) });
    }
    case '/mode': {
      const numeric = ['google_expires_in', 'github_expires_in', 'github_refresh_token_expires_in', 'code_ttl_s'];
      for (const k of Object.keys(body)) {
        if (k === 'github_expiring') {
          if (typeof body[k] !== 'boolean') return bad('github_expiring must be a boolean');
        } else if (numeric.includes(k)) {
          if (!Number.isInteger(body[k]) || body[k] < 0) return bad(`${k} must be a non-negative integer`);
        } else {
          return bad(`unknown mode key ${k}`);
        }
      }
      Object.assign(config, body);
      return sendJson(res, 200, { ok: true });
    }
    case '/github-user':
      // another GitHub account signs in from now on (account-mismatch tests)
      if (typeof body.login !== 'string' || !Number.isInteger(body.id)) return bad('login (string) and id (integer) are required');
      config.github_user = { login: body.login, id: body.id };
      return sendJson(res, 200, { ok: true, github_user: config.github_user });
    case '/issuer':
      if (typeof body.issuer !== 'string') return bad('issuer must be a string');
      config.issuer = body.issuer;
      return sendJson(res, 200, { ok: true, issuer: config.issuer });
    case '/grant': {
      const drop = body.drop ?? [];
      const add = body.add ?? [];
      if (!Array.isArray(drop) || !Array.isArray(add)) return bad('drop and add must be lists of scopes');
      config.grant = { drop: drop.map(String), add: add.map(String) };
      return sendJson(res, 200, { ok: true, grant: config.grant });
    }
    case '/expire-access-tokens': {
      let n = 0;
      for (const t of tokens.values()) {
        if (t.kind === 'access' && t.alive && (!body.flavour || body.flavour === t.flavour)) {
          t.expires_at = Date.now() - 1;
          n += 1;
        }
      }
      return sendJson(res, 200, { ok: true, expired: n });
    }
    case '/revoke-all': {
      // simulates the user revoking the app at the provider: every token dies
      let n = 0;
      for (const [, t] of tokens) {
        if (t.alive && (!body.flavour || body.flavour === t.flavour)) {
          t.alive = false;
          t.dead_reason = 'revoked-at-provider';
          n += 1;
        }
      }
      return sendJson(res, 200, { ok: true, revoked: n });
    }
    default:
      return sendJson(res, 404, { error: 'not_found' });
  }
}

// ---------------------------------------------------------------------------------------------
// router
// ---------------------------------------------------------------------------------------------

async function route(req, res) {
  const url = new URL(req.url, 'https://127.0.0.1');
  const { pathname } = url;
  const m = req.method;
  diag(`${m} ${pathname}`);

  if (pathname.startsWith('/__control/')) return control(req, res, url);

  // Google
  if (pathname === '/o/oauth2/v2/auth' && m === 'GET') return googleAuthorize(req, res, url);
  if (pathname === '/token' && m === 'POST') return tokenEndpoint(req, res, 'google');
  if ((pathname === '/revoke' || pathname === '/o/oauth2/revoke') && m === 'POST') return googleRevoke(req, res, url);
  if (pathname === '/drive/v3/about' && m === 'GET') return googleAbout(req, res);

  // GitHub (github.com and GitHub Enterprise Server paths)
  if (pathname === '/login/oauth/authorize' && m === 'GET') return githubAuthorize(req, res, url);
  if (pathname === '/login/oauth/access_token' && m === 'POST') return tokenEndpoint(req, res, 'github');
  if ((pathname === '/user' || pathname === '/api/v3/user') && m === 'GET') return githubUser(req, res);
  const appm = /^(?:\/api\/v3)?\/applications\/([^/]+)\/(grant|token)$/.exec(pathname);
  if (appm && m === 'DELETE') return githubAppRevoke(req, res, decodeURIComponent(appm[1]), appm[2]);

  return sendJson(res, 404, { error: 'not_found', path: pathname });
}

// ---------------------------------------------------------------------------------------------
// server
// ---------------------------------------------------------------------------------------------

let tlsOptions;
try {
  tlsOptions = { cert: fs.readFileSync(OPTS.cert), key: fs.readFileSync(OPTS.key) };
} catch (e) {
  process.stderr.write(`provider-double: cannot read cert/key: ${e.message}\n`);
  process.exit(1);
}

const server = https.createServer({
  ...tlsOptions,
  keepAliveTimeout: 30_000,
  requestTimeout: 0, // the "timeout" behaviour holds requests open indefinitely
  headersTimeout: 60_000,
}, (req, res) => {
  route(req, res).catch((e) => {
    process.stderr.write(`provider-double: handler error: ${e && e.message}\n`);
    if (!res.headersSent) sendJson(res, e && e.status ? e.status : 500, { error: 'server_error' });
    else res.destroy();
  });
});
server.maxHeadersCount = 200;
server.on('tlsClientError', (e) => diag(`TLS client error: ${e.code || e.message}`));
server.on('clientError', (e, socket) => { if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'); });

server.listen({ port: OPTS.port, host: OPTS.host, backlog: 1024 }, () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
server.on('error', (e) => {
  process.stderr.write(`provider-double: ${e.message}\n`);
  process.exit(1);
});

function shutdown() {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (OPTS.exitOnStdinEof) {
  process.stdin.on('end', shutdown);
  process.stdin.on('close', shutdown);
  process.stdin.resume();
}
