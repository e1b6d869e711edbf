#!/usr/bin/env node
// Start-up time of the host: from spawning `connector-host serve` to its first 200 from
// /readyz, polled every millisecond on a fresh connection. A fresh data folder each run (a new
// database: migrations and all), the same key file, every plugin in --plugins loaded.
// The host's environment (provider settings, key file, log level) is inherited.
//
//   startup-time.js --host BIN --plugins DIR --work DIR [--runs 10]
//
// Prints one JSON line: {"runs":[ms,…],"median_ms":…}.
'use strict';

const { spawn } = require('node:child_process');
const http = require('node:http');
const net = require('node:net');
const fs = require('node:fs');
const path = require('node:path');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const bin = opt('host');
const plugins = opt('plugins');
const work = opt('work');
const runs = Number(opt('runs', '10'));

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function readyOnce(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
  });
}

async function oneRun(index) {
  const port = await freePort();
  const dataDir = path.join(work, `start-${index}`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  const started = process.hrtime.bigint();
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--plugins-dir', plugins],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  let exited = false;
  child.on('exit', () => { exited = true; });
  for (;;) {
    if (exited) throw new Error(`the host exited during start-up:\n${stderr}`);
    if (await readyOnce(port)) break;
    if (Number(process.hrtime.bigint() - started) > 20e9) throw new Error('the host was not ready within 20 s');
    await new Promise((r) => setTimeout(r, 1));
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const gone = new Promise((r) => (exited ? r() : child.on('exit', r)));
  child.kill('SIGTERM');
  await gone;
  fs.rmSync(dataDir, { recursive: true, force: true });
  return ms;
}

async function main() {
  const times = [];
  for (let i = 0; i < runs; i += 1) times.push(await oneRun(i));
  const sorted = [...times].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  process.stdout.write(`${JSON.stringify({ runs: times.map((t) => Number(t.toFixed(1))), median_ms: Number(median.toFixed(1)) })}\n`);
}

main().catch((error) => {
  process.stderr.write(`startup-time.js: ${error.message}\n`);
  process.exit(1);
});
