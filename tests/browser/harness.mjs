// Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by playwright-core (no
// browser download), pages served by a plain node:http server on 127.0.0.1 (TOOLCHAIN.md section 3).
// Everything started here is stopped by stop(); every wait is bounded.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript', '.js': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json', '.map': 'application/json',
};
export const CHROMIUM = process.env.SYNCORE_CHROMIUM || '/usr/bin/chromium';

/** Serves `roots` (url prefix -> directory) on 127.0.0.1; resolves to {url, close}. */
export function serve(roots) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let file = null;
    for (const [prefix, dir] of Object.entries(roots)) {
      if (url.pathname.startsWith(prefix)) {
        const rel = decodeURIComponent(url.pathname.slice(prefix.length));
        const p = path.resolve(dir, '.' + path.posix.normalize('/' + rel));
        if (p.startsWith(path.resolve(dir))) file = p;
        break;
      }
    }
    if (!file || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

/** A fresh browser profile; `restart()` closes the browser and opens it again on the same profile. */
export async function launch() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncore-chromium-'));
  const open = () => chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
  const b = { context: await open() };
  b.restart = async () => {
    await b.context.close();
    b.context = await open();
  };
  b.stop = async () => {
    await b.context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return b;
}

/** Opens a page at url and waits for window.ready (set by the page once the package is imported). */
export async function openPage(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(new Error(m.text()));
  });
  page.errors = errors;
  await page.goto(url, { timeout: 30_000 });
  await page.waitForFunction(() => window.ready === true || window.loadError, null, { timeout: 30_000 });
  const loadError = await page.evaluate(() => window.loadError && String(window.loadError));
  if (loadError) throw new Error(`page failed to load the package: ${loadError}`);
  return page;
}
