#!/usr/bin/env node
// The benchmark's popular alternative: the grant OAuth proxy on Express, sessions in
// express-session's default MemoryStore. GET /connect/github makes a state and a PKCE
// verifier, keeps them in a new session and redirects to GitHub's consent URL: the same
// work as the host's authorize, minus durability.
//
//   node server.js [--port 0]     prints {"port":N} on stdout when listening
'use strict';

const express = require('express');
const session = require('express-session');
const grant = require('grant').express();

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;

const app = express();
// saveUninitialized/resave spelled out to silence express-session's deprecation notices;
// grant writes to the session anyway, so every request stores one.
app.use(session({ secret: 'bench-grant-secret', resave: false, saveUninitialized: false }));

const server = app.listen(port, '127.0.0.1', () => {
  const bound = server.address().port;
  app.use(grant({
    defaults: {
      origin: `http://127.0.0.1:${bound}`,
      transport: 'session',
      state: true,
      pkce: true,
    },
    github: {
      key: 'test-client-id',
      secret: 'test-client-secret',
      scope: ['repo', 'read:org'],
      callback: '/done',
    },
  }));
  process.stdout.write(`${JSON.stringify({ port: bound })}\n`);
});
// wrk keeps connections open: Node's default 5 s keep-alive timeout is fine, headers too.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
