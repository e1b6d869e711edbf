#!/usr/bin/env node
// oidc-server.js — a REAL OAuth 2.0 / OpenID Connect authorization server (oidc-provider@8)
// over HTTPS on 127.0.0.1, wearing GitHub-like or Google-like endpoint paths.
// See tests/peers/README.md.
//
// Usage:
//   node oidc-server.js --cert server.pem --key server-key.pem --flavour github|google|gitlab
//        [--port 0] [--host 127.0.0.1] [--client-id test-client-id] [--client-secret test-client-secret]
//        [--redirect-uri URL]... [--scopes "extra scopes"] [--access-token-ttl 3600]
//        [--rotate-refresh-tokens] [--token-extra NAME=VALUE]... [--callback-parameter NAME=VALUE]...
//        [--verbose] [--exit-on-stdin-eof]
//
// --token-extra adds a member to every token answer that carries tokens (Salesforce's
// instance_url); --callback-parameter adds a parameter to every redirect that carries a code
// (QuickBooks' realmId): the quirks a provider definition keeps as the grant's metadata.
//
// Prints exactly one line to stdout when ready: {"port": N, "issuer": "https://127.0.0.1:N"}.
// Everything oidc-provider itself prints (its console.info NOTICEs included) goes to stderr.

import https from 'node:https';
import crypto from 'node:crypto';
import fs from 'node:fs';

// oidc-provider writes NOTICEs with console.info (stdout). Our stdout carries exactly one line,
// so every console output is sent to stderr, before oidc-provider is even loaded.
const toStderr = (...a) => console.error(...a); // eslint-disable-line no-console
console.log = toStderr; // eslint-disable-line no-console
console.info = toStderr; // eslint-disable-line no-console
console.debug = toStderr; // eslint-disable-line no-console

function usage(msg) {
  if (msg) process.stderr.write(`oidc-server: ${msg}\n`);
  process.stderr.write('usage: oidc-server.js --cert CERT.pem --key KEY.pem --flavour github|google|gitlab [--port N]\n'
    + '         [--host 127.0.0.1] [--client-id ID] [--client-secret SECRET] [--redirect-uri URL]...\n'
    + '         [--scopes "extra scopes"] [--access-token-ttl SECONDS] [--rotate-refresh-tokens]\n'
    + '         [--strict-client-auth] [--token-extra NAME=VALUE]... [--callback-parameter NAME=VALUE]...\n'
    + '         [--verbose] [--exit-on-stdin-eof]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    cert: undefined,
    key: undefined,
    flavour: undefined,
    port: 0,
    host: '127.0.0.1',
    clientId: 'test-client-id',
    clientSecret: 'test-client-secret',
    redirectUris: [],
    extraScopes: [],
    accessTokenTtl: 3600,
    rotateRefreshTokens: false,
    strictClientAuth: false,
    tokenExtras: [],
    callbackParameters: [],
    verbose: false,
    exitOnStdinEof: false,
  };
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
      case '--cert': o.cert = value(); break;
      case '--key': o.key = value(); break;
      case '--flavour': case '--flavor': o.flavour = value(); break;
      case '--port': o.port = Number(value()); break;
      case '--host': o.host = value(); break;
      case '--client-id': o.clientId = value(); break;
      case '--client-secret': o.clientSecret = value(); break;
      case '--redirect-uri': case '--redirect-uris':
        o.redirectUris.push(...value().split(/[\s,]+/).filter(Boolean)); break;
      case '--scopes': o.extraScopes.push(...value().split(/[\s,]+/).filter(Boolean)); break;
      case '--access-token-ttl': o.accessTokenTtl = Number(value()); break;
      case '--rotate-refresh-tokens': o.rotateRefreshTokens = true; break;
      case '--strict-client-auth': o.strictClientAuth = true; break;
      case '--token-extra': case '--callback-parameter': {
        const pair = value();
        const at = pair.indexOf('=');
        if (at <= 0) usage(`${flag} takes NAME=VALUE`);
        (flag === '--token-extra' ? o.tokenExtras : o.callbackParameters).push([pair.slice(0, at), pair.slice(at + 1)]);
        break;
      }
      case '--verbose': o.verbose = true; break;
      case '--exit-on-stdin-eof': o.exitOnStdinEof = true; break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  if (!o.cert || !o.key) usage('--cert and --key are required');
  if (!['github', 'google', 'gitlab'].includes(o.flavour)) usage('--flavour must be github, google or gitlab');
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) usage('bad --port');
  if (!Number.isInteger(o.accessTokenTtl) || o.accessTokenTtl <= 0) usage('bad --access-token-ttl');
  if (o.redirectUris.length === 0) usage('at least one --redirect-uri is required');
  return o;
}

const OPTS = parseArgs(process.argv.slice(2));

const FLAVOURS = {
  github: {
    authorization: '/login/oauth/authorize',
    token: '/login/oauth/access_token',
    revocation: '/login/oauth/revoke',
  },
  google: {
    authorization: '/o/oauth2/v2/auth',
    token: '/token',
    revocation: '/revoke',
  },
  gitlab: {
    authorization: '/oauth/authorize',
    token: '/oauth/token',
    revocation: '/oauth/revoke',
  },
};
const ROUTES = FLAVOURS[OPTS.flavour];

const SCOPES = [
  'openid', 'offline_access',
  // GitHub (the Airbyte GitHub connector's list plus common ones)
  'repo', 'read:org', 'read:repo_hook', 'read:user', 'read:project', 'read:discussion', 'workflow',
  'gist', 'user', 'user:email',
  // GitLab
  'read_api', 'read_user',
  // Google Sheets / Drive
  'https://www.googleapis.com/auth/spreadsheets.readonly',
  'https://www.googleapis.com/auth/spreadsheets',
  'https://www.googleapis.com/auth/drive.readonly',
  'https://www.googleapis.com/auth/drive.file',
  'https://www.googleapis.com/auth/drive',
  ...OPTS.extraScopes,
];

let tls;
try {
  tls = { cert: fs.readFileSync(OPTS.cert), key: fs.readFileSync(OPTS.key) };
} catch (e) {
  process.stderr.write(`oidc-server: cannot read cert/key: ${e.message}\n`);
  process.exit(1);
}

const { default: Provider } = await import('oidc-provider');

function newStats() {
  return {
    token_calls: { total: 0, authorization_code: 0, refresh_token: 0, other: 0 },
    token_errors: 0,
    client_auth: { basic: 0, post: 0, none: 0 },
    refresh_calls: 0,
    user_calls: 0,
    user_queries: [], // the query of each user call, in order
    authorize_calls: 0,
  };
}
let stats = newStats();

// a signing key made at start-up (silences the "development keys" warning; ID tokens are RS256)
function signingJwks() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { keys: [{ ...jwk, kid: `test-${crypto.randomBytes(4).toString('hex')}`, use: 'sig', alg: 'RS256' }] };
}

const server = https.createServer({ ...tls, keepAliveTimeout: 30_000 });
server.on('error', (e) => {
  process.stderr.write(`oidc-server: ${e.message}\n`);
  process.exit(1);
});

server.listen({ port: OPTS.port, host: OPTS.host }, () => {
  const { port } = server.address();
  const issuer = `https://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: [{
      client_id: OPTS.clientId,
      client_secret: OPTS.clientSecret,
      redirect_uris: OPTS.redirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    }],
    pkce: { required: () => true, methods: ['S256'] },
    scopes: SCOPES,
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
    },
    routes: ROUTES,
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    ...(OPTS.rotateRefreshTokens ? { rotateRefreshToken: true } : {}),
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    jwks: signingJwks(),
    ttl: {
      // explicit numbers (seconds) also silence oidc-provider's "default ttl function" NOTICEs
      AccessToken: OPTS.accessTokenTtl,
      AuthorizationCode: 600, // 10 minutes, like GitHub's and Google's codes
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
      Interaction: 3600,
    },
    findAccount: async (ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: id }),
    }),
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html><head><title>oops</title></head><body><pre>${
        String(out.error).replace(/[<>&]/g, '')}: ${String(out.error_description || '').replace(/[<>&]/g, '')}</pre></body></html>`;
    },
  });
  provider.use(async (ctx, next) => {
    // ---- control API ----
    if (ctx.path === '/__control/stats' && ctx.method === 'GET') {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { ...stats, flavour: OPTS.flavour, issuer };
      return;
    }
    if (ctx.path === '/__control/reset' && ctx.method === 'POST') {
      stats = newStats();
      ctx.body = { ok: true };
      return;
    }

    // ---- GitHub-like GET /user (and a Google-like Drive "about") ----
    const isUser = ctx.method === 'GET' && (ctx.path === '/user' || ctx.path === '/api/v3/user');
    const isAbout = ctx.method === 'GET' && ctx.path === '/drive/v3/about';
    const isGitlabUser = ctx.method === 'GET' && ctx.path === '/api/v4/user';
    if (isUser || isAbout || isGitlabUser) {
      stats.user_calls += 1;
      stats.user_queries.push(ctx.querystring);
      const m = /^(?:Bearer|token)\s+(\S+)\s*$/i.exec(ctx.get('authorization') || '');
      const at = m ? await provider.AccessToken.find(m[1]) : undefined;
      if (!at || at.isExpired) {
        ctx.status = 401;
        ctx.body = { message: 'Bad credentials' };
        return;
      }
      ctx.set('X-OAuth-Scopes', (at.scope || '').split(' ').filter(Boolean).join(', '));
      if (isGitlabUser) ctx.body = { id: 42, username: at.accountId };
      else if (isUser) ctx.body = { login: at.accountId, id: 42 };
      else ctx.body = { user: { permissionId: '42', emailAddress: `${at.accountId}@example.com` } };
      return;
    }

    const isToken = ctx.method === 'POST' && ctx.path === ROUTES.token;
    if (isToken) {
      const basic = /^Basic\s/i.test(ctx.get('authorization') || '');
      ctx.state.basicAuth = basic;
      if (basic && OPTS.strictClientAuth) {
        // oidc-provider itself accepts client_secret_basic for a client_secret_post client;
        // --strict-client-auth refuses it, as the registered method says
        stats.token_calls.total += 1;
        stats.token_calls.other += 1;
        stats.token_errors += 1;
        stats.client_auth.basic += 1;
        ctx.status = 401;
        ctx.set('Cache-Control', 'no-store');
        ctx.body = {
          error: 'invalid_client',
          error_description: 'client authentication failed (client_secret_basic used; registered method is client_secret_post)',
        };
        return;
      }
    }
    if (ctx.method === 'GET' && ctx.path === ROUTES.authorization) stats.authorize_calls += 1;
    if (OPTS.verbose) process.stderr.write(`oidc-server: ${ctx.method} ${ctx.path}\n`);
    await next();
    if (isToken && ctx.status === 200 && ctx.body && ctx.body.access_token) {
      for (const [name, value] of OPTS.tokenExtras) ctx.body[name] = value;
    }
    const location = ctx.response.get('location');
    if (OPTS.callbackParameters.length > 0 && location && /[?&]code=/.test(location)) {
      const url = new URL(location);
      for (const [name, value] of OPTS.callbackParameters) url.searchParams.append(name, value);
      ctx.set('location', url.toString());
    }
    if (isToken) {
      const gt = ctx.oidc?.params?.grant_type;
      const kind = gt === 'authorization_code' || gt === 'refresh_token' ? gt : 'other';
      stats.token_calls.total += 1;
      stats.token_calls[kind] += 1;
      if (kind === 'refresh_token') stats.refresh_calls += 1;
      if (ctx.status >= 400) stats.token_errors += 1;
      if (ctx.state.basicAuth) stats.client_auth.basic += 1;
      else if (ctx.oidc?.params?.client_secret) stats.client_auth.post += 1;
      else stats.client_auth.none += 1;
    }
  });

  if (OPTS.verbose) {
    provider.on('server_error', (ctx, err) => process.stderr.write(`oidc-server: server_error ${err.message}\n`));
    provider.on('grant.error', (ctx, err) => process.stderr.write(`oidc-server: grant.error ${err.message} ${err.error_description || ''}\n`));
    provider.on('authorization.error', (ctx, err) => process.stderr.write(`oidc-server: authorization.error ${err.message} ${err.error_description || ''}\n`));
  }

  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ port, issuer })}\n`);
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
