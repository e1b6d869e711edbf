#!/usr/bin/env node
// drive-browser-consent.js — plays the user in a real Chromium: opens an authorization URL, signs
// in and consents on oidc-server.js's pages (oidc-provider's devInteractions login and consent
// forms) by typing and clicking like a person, and follows whatever redirects the browser is given
// until it arrives at the client's redirect URL. Prints ONE line of JSON to stdout:
// {"final_url": "...", "pages": [...pages shown...], "navigations": [...every URL the browser
// requested for the page, each redirect included...], "body": "...text of the final page..."}.
//
// It does not start the browser: it attaches to one already running (started by the test, which
// owns the process and stops it), through the DevTools endpoint Chromium prints at start-up.
//
// Usage:
//   node drive-browser-consent.js --browser ws://127.0.0.1:PORT/devtools/browser/ID \
//        --url AUTHORIZATION_URL --until URL_PREFIX [--login user1] [--password pw] [--timeout-ms 30000]
// Exit status: 0 when the browser reached URL_PREFIX; 1 otherwise (reason on stderr).

import puppeteer from 'puppeteer-core';

function usage(msg) {
  if (msg) process.stderr.write(`drive-browser-consent: ${msg}\n`);
  process.stderr.write('usage: drive-browser-consent.js --browser WS_URL --url AUTHORIZATION_URL --until URL_PREFIX\n'
    + '         [--login user1] [--password pw] [--timeout-ms 30000]\n');
  process.exit(2);
}

const opts = { browser: undefined, url: undefined, until: undefined, login: 'user1', password: 'pw', timeoutMs: 30000 };
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = () => {
      i += 1;
      if (i >= argv.length) usage(`${flag} needs a value`);
      return argv[i];
    };
    switch (flag) {
      case '--browser': opts.browser = value(); break;
      case '--url': opts.url = value(); break;
      case '--until': opts.until = value(); break;
      case '--login': opts.login = value(); break;
      case '--password': opts.password = value(); break;
      case '--timeout-ms': opts.timeoutMs = Number(value()); break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${flag}`);
    }
  }
  if (!opts.browser || !opts.url || !opts.until) usage('--browser, --url and --until are required');
  if (!Number.isInteger(opts.timeoutMs) || opts.timeoutMs <= 0) usage('bad --timeout-ms');
}

const fail = (msg) => {
  process.stderr.write(`drive-browser-consent: ${msg}\n`);
  process.exit(1);
};

const browser = await puppeteer.connect({ browserWSEndpoint: opts.browser, defaultViewport: { width: 1000, height: 800 } });
const pages = [];
const navigations = [];
let result;
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(opts.timeoutMs);
  page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) pages.push(frame.url()); });
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) navigations.push(request.url());
  });

  // A certificate the browser does not trust, or any other network failure, ends here with
  // Chromium's own error (net::ERR_CERT_AUTHORITY_INVALID, ...).
  await page.goto(opts.url, { waitUntil: 'load' });

  // Each page is either the login form, the consent form, or (at the end) the client's page.
  // Bounded: the provider's flow is login then consent; anything more is a failure.
  for (let round = 0; round < 6 && !page.url().startsWith(opts.until); round += 1) {
    const login = await page.$('form input[name="login"]');
    const consent = await page.$('form input[name="prompt"][value="consent"]');
    if (login) {
      await page.type('form input[name="login"]', opts.login, { delay: 5 });
      await page.type('form input[name="password"]', opts.password, { delay: 5 });
    } else if (!consent) {
      fail(`an unexpected page at ${page.url()}: ${(await page.evaluate(() => document.body?.innerText ?? '')).slice(0, 500)}`);
    }
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.click('form button[type="submit"]'),
    ]);
  }
  if (!page.url().startsWith(opts.until)) fail(`the browser stopped at ${page.url()} (went: ${navigations.join(' -> ')})`);
  result = {
    final_url: page.url(),
    pages,
    navigations,
    body: await page.evaluate(() => document.body?.innerText ?? ''),
  };
  await page.close();
} catch (e) {
  fail(`${e.message} (went: ${navigations.join(' -> ')})`);
} finally {
  // The test owns the browser process: detach, never close it.
  await browser.disconnect();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
