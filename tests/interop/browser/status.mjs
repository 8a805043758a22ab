// The browser half of tests/interop/test_status_browser.py: Debian's chromium, driven by
// playwright-core, loads feedgate's status page (GET /) as an operator would, with HTTP Basic
// credentials, with JavaScript on or off, at a given viewport width.
//
// Usage: node status.mjs [CHROMIUM_PATH]. Protocol: one JSON object a line. On start it prints
// {"ready": true, "browser": VERSION}; then for each command {"id", "cmd", ...} read from stdin it
// prints {"id", "ok": true, ...result} or {"id", "ok": false, "error"}. Commands:
//   open       {url, width, js, user, password}  a new context (fresh profile), load url;
//                                                {status}
//   dom        {}                  what the page shows: {live, feeds, consumers, upstreams,
//                                  subscribers, scrollWidth, clientWidth, console}
//   waitText   {selector, text}    wait until the element's text equals `text` (no reload)
//   screenshot {path}              a full-page PNG
//   quit       {}

import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const browser = await chromium.launch({
  executablePath: process.argv[2] || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
let context = null;
let page = null;
const consoleLines = [];

// Read in the page: every row by its data-* attributes, every field cell by data-field.
function readPage() {
  const fields = (tr) => Object.fromEntries([...tr.querySelectorAll('[data-field]')]
    .map((td) => [td.dataset.field, td.textContent.trim()]));
  const rows = (sel, key) => [...document.querySelectorAll(sel)].map((tr) => ({
    key: tr.dataset[key], feed: tr.closest('table').dataset.feed || null,
    dataState: tr.dataset.state || null, furthest: tr.classList.contains('furthest'),
    badge: (tr.querySelector('th .badge') || {}).textContent || null,
    meter: tr.querySelector('meter') ? Number(tr.querySelector('meter').value) : null,
    ...fields(tr),
  }));
  return {
    live: document.documentElement.dataset.live || null,
    title: document.title,
    feeds: rows('tr[data-feed]', 'feed'),
    consumers: rows('tr[data-consumer]', 'consumer'),
    upstreams: rows('tr[data-upstream]', 'upstream'),
    subscribers: rows('tr[data-subscriber]', 'subscriber'),
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
  };
}

const commands = {
  async open({ url, width, js, user, password }) {
    if (context) await context.close();
    context = await browser.newContext({
      viewport: { width, height: 900 },
      javaScriptEnabled: js,
      httpCredentials: user ? { username: user, password } : undefined,
    });
    page = await context.newPage();
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    const res = await page.goto(url);
    return { status: res.status() };
  },
  async dom() {
    return { ...(await page.evaluate(readPage)), console: consoleLines };
  },
  async waitText({ selector, text }) {
    await page.waitForFunction(([s, t]) => {
      const el = document.querySelector(s);
      return el && el.textContent.trim() === t;
    }, [selector, text], { timeout: 15000 });
    return {};
  },
  async screenshot({ path }) {
    await page.screenshot({ path, fullPage: true });
    return {};
  },
  async quit() {
    return {};
  },
};

const send = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
send({ ready: true, browser: browser.version() });
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const { id, cmd, ...args } = JSON.parse(line);
  try {
    if (!(cmd in commands)) throw new Error(`unknown command ${cmd}`);
    send({ id, ok: true, ...(await commands[cmd](args)) });
  } catch (e) {
    send({ id, ok: false, error: String(e && e.stack || e) });
  }
  if (cmd === 'quit') break;
}
await browser.close();
process.exit(0); // stdin may still hold the event loop open
