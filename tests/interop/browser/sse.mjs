// The browser half of tests/interop/test_sse_browser.py: Debian's chromium, driven by
// playwright-core, opens a test page whose script reads a feedgate stream with the browser's own
// EventSource and records what it dispatches. The page is served by this driver (page.route) at
// ORIGIN/sse-test.html, ORIGIN being the test's proxy in front of feedgate, so the stream is
// same-origin and goes to the real server; the route is removed once the page has loaded, so
// nothing of the stream (nor a reconnect) is intercepted.
//
// Usage: node sse.mjs [CHROMIUM_PATH]. Protocol: one JSON object a line. On start it prints
// {"ready": true, "browser": VERSION}; then for each command {"id", "cmd", ...} read from stdin it
// prints {"id", "ok": true, ...result} or {"id", "ok": false, "error"}. Commands:
//   open  {origin, stream}  load the page and start `new EventSource(stream)`
//   state {}                {events: [{type, lastEventId, data}], opens: [{at}],
//                            errors: [{at, readyState}], readyState, url, console: [line]}
//   quit  {}                close the browser and exit
// chromium.launch() gives the browser a fresh, empty profile directory of its own.

import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const PAGE_PATH = '/sse-test.html';
const PAGE = `<!doctype html>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>feedgate SSE</title>
<script>
  const record = { events: [], opens: [], errors: [] };
  let source = null;
  window.startStream = (url) => {
    source = new EventSource(url);
    source.addEventListener('open', () => record.opens.push({ at: Date.now() }));
    source.addEventListener('error', () => record.errors.push({ at: Date.now(), readyState: source.readyState }));
    // 'message' is the type of an event without an "event:" line, 'reset' feedgate's "your
    // position is of another epoch": both recorded, so a test sees any that arrive.
    for (const type of ['add', 'update', 'delete', 'reset', 'message']) {
      source.addEventListener(type, (e) => record.events.push({ type: e.type, lastEventId: e.lastEventId, data: e.data }));
    }
  };
  window.sseState = () => ({ ...record, readyState: source && source.readyState, url: source && source.url });
</script>
`;

const browser = await chromium.launch({
  executablePath: process.argv[2] || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = await (await browser.newContext()).newPage();
const consoleLines = [];
page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));

const commands = {
  async open({ origin, stream }) {
    const url = origin + PAGE_PATH;
    await page.route(url, (route) => route.fulfill({ contentType: 'text/html; charset=utf-8', body: PAGE }));
    await page.goto(url);
    await page.unroute(url);
    await page.evaluate((s) => window.startStream(s), stream);
    return {};
  },
  async state() {
    return { ...(await page.evaluate(() => window.sseState())), console: consoleLines };
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
