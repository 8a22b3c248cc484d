#!/usr/bin/env node
// The demo's server (npm start): the relay on its embedded default storage (a data directory) with real
// HS256 auth, and beside it a small HTTP server for the app: its static files, the syncore package
// (js/ and dist/, as a web app would get them from a bundler or a CDN), and a development sign-in that
// signs real tokens for the name you type. Tokens go through the relay's own verification, like any
// production token; only the sign-in is for development (anyone can be anyone).
//
//   node demo/server.mjs [--port 8080] [--relay-port 8787] [--host 127.0.0.1] [--data ./relay-data]
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { createRelay } from '../js/relay/relay.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
export const DEMO_TENANT = 'demo';
const TOKEN_HOURS = 12;
const USER_RE = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,39}$/u;
const ROLES = new Set(['editor', 'viewer']);
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json',
  '.webmanifest': 'application/manifest+json', '.svg': 'image/svg+xml', '.png': 'image/png',
};
// url prefix -> directory; nothing outside these is served
const ROOTS = [
  ['/pkg/js/', path.join(ROOT, 'js')],
  ['/pkg/dist/', path.join(ROOT, 'dist')],
  ['/', path.join(HERE, 'public')],
];

/** The secret tokens are signed with: kept in the data directory, so sign-ins survive a restart. */
function devSecret(dataDir) {
  const file = path.join(dataDir, 'demo-dev-secret');
  try {
    const s = fs.readFileSync(file, 'utf8').trim();
    if (s.length >= 32) return s;
  } catch {
    // first start
  }
  const s = crypto.randomBytes(32).toString('hex');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, `${s}\n`, { mode: 0o600 });
  return s;
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function readJson(req, limit = 4096) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) throw new Error(`request body over ${limit} bytes`);
  }
  return JSON.parse(body || '{}');
}

function serveStatic(req, res) {
  const url = new URL(req.url, 'http://demo');
  let pathname;
  try {
    pathname = decodeURIComponent(url.pathname);
  } catch {
    // a malformed escape (/%E0%A4%A) would otherwise throw out of the request handler and stop the server
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end('bad request: malformed URL\n');
    return;
  }
  if (pathname === '/' || pathname === '/index.html') pathname = '/index.html';
  for (const [prefix, dir] of ROOTS) {
    if (!pathname.startsWith(prefix)) continue;
    const file = path.resolve(dir, `.${path.posix.normalize(`/${pathname.slice(prefix.length)}`)}`);
    if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) break;
    // the service worker keeps the app shell for offline use; the network is always asked first
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    fs.createReadStream(file).pipe(res);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
}

/**
 * Starts the relay and the demo's HTTP server. Resolves to {url, relayUrl, relay, stop()}.
 * options: {host, port, relayPort, data, log}
 */
export async function startDemo(options = {}) {
  const host = options.host ?? '127.0.0.1';
  const data = path.resolve(options.data ?? 'relay-data');
  const log = options.log ?? ((m) => process.stderr.write(`syncore-demo: ${m}\n`));
  if (!fs.existsSync(path.join(ROOT, 'dist', 'syncore-core.wasm'))) {
    throw new Error('dist/syncore-core.wasm is missing: build the module first (npm run build)');
  }
  const secret = devSecret(data);
  const key = new TextEncoder().encode(secret);
  const relay = createRelay({ host, port: options.relayPort ?? 8787, data, authSecret: secret, log: (m) => log(`relay: ${m}`) });
  const { port: relayPort } = await relay.start();
  const relayUrl = `ws://${host}:${relayPort}`;

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://demo');
    if (url.pathname === '/api/config' && req.method === 'GET') {
      json(res, 200, { relay: relayUrl, tenant: DEMO_TENANT });
      return;
    }
    if (url.pathname === '/api/dev-token' && req.method === 'POST') {
      readJson(req).then(async (body) => {
        const user = typeof body.user === 'string' ? body.user.trim() : '';
        const role = body.role ?? 'editor';
        if (!USER_RE.test(user)) {
          json(res, 400, { error: 'a name of 1 to 40 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit' });
          return;
        }
        if (!ROLES.has(role)) {
          json(res, 400, { error: "role must be 'editor' or 'viewer'" });
          return;
        }
        const exp = Math.floor(Date.now() / 1000) + TOKEN_HOURS * 3600;
        const token = await new SignJWT({ tenant: DEMO_TENANT, channels: { '*': role }, name: user })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject(user)
          .setIssuedAt()
          .setExpirationTime(exp)
          .sign(key);
        json(res, 200, { token, user, role, relay: relayUrl, expiresAt: exp * 1000 });
      }, (err) => json(res, 400, { error: `bad request: ${err.message}` }));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(res, 405, { error: 'method not allowed' });
      return;
    }
    serveStatic(req, res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = `http://${host}:${server.address().port}/`;
  return {
    url,
    relayUrl,
    relay,
    async stop() {
      await new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections?.();
      });
      await relay.stop();
    },
  };
}

function parse(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const next = () => inline ?? argv[++i];
    if (flag === '--port') out.port = Number(next());
    else if (flag === '--relay-port') out.relayPort = Number(next());
    else if (flag === '--host') out.host = next();
    else if (flag === '--data') out.data = next();
    else if (flag === '--help' || flag === '-h') out.help = true;
    else throw new Error(`unknown flag ${flag} (see --help)`);
  }
  for (const k of ['port', 'relayPort']) {
    if (out[k] !== undefined && !(Number.isInteger(out[k]) && out[k] >= 0 && out[k] < 65536)) throw new Error(`--${k === 'port' ? 'port' : 'relay-port'} needs a port number`);
  }
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let opts;
  try {
    opts = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`syncore-demo: ${err.message}\n`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write('node demo/server.mjs [--port 8080] [--relay-port 8787] [--host 127.0.0.1] [--data ./relay-data]\n');
    process.exit(0);
  }
  let demo;
  try {
    demo = await startDemo(opts);
  } catch (err) {
    process.stderr.write(`syncore-demo: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`\n  syncore demo: open ${demo.url}\n  relay: ${demo.relayUrl} (data in ${path.resolve(opts.data ?? 'relay-data')})\n\n`);
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, async () => {
      await demo.stop();
      process.exit(0);
    });
  }
}
