// Helpers shared by the node:test files of the package (tests/js/*.test.mjs).
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { openStore } from '../../js/index.mjs';

export const tick = () => new Promise((resolve) => setImmediate(resolve));
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Seed of the randomized tests: SYNCORE_SEED (a number, or any text), else random. */
export const SEED = (() => {
  const env = process.env.SYNCORE_SEED;
  if (env === undefined || env === '') return (Math.random() * 2 ** 32) >>> 0;
  if (/^\d+$/.test(env)) return Number(env) >>> 0;
  let h = 2166136261; // FNV-1a of a non-numeric seed
  for (const ch of env) h = Math.imul(h ^ ch.codePointAt(0), 16777619) >>> 0;
  return h;
})();

/** mulberry32: small seeded PRNG, returns floats in [0, 1). */
export function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs fn(rnd) with a PRNG seeded from SEED (+ salt); a failure names the seed to reproduce it. */
export async function seeded(salt, fn) {
  const seed = (SEED + salt) >>> 0;
  try {
    await fn(prng(seed));
  } catch (err) {
    const note = `[reproduce with SYNCORE_SEED=${SEED}]`;
    console.error(`seeded test failed ${note}`);
    if (err && typeof err === 'object') {
      try {
        err.message = `${err.message} ${note}`;
      } catch { /* read-only message */ }
    }
    throw err;
  }
}

let storeCounter = 0;
/** A fresh in-memory store. */
export function mem(options = {}) {
  return openStore({ name: `mem-${++storeCounter}`, storage: 'memory', ...options });
}

/** Runs fn(...stores) with `count` fresh in-memory stores, closed afterwards whatever happens. */
export async function withStores(count, fn, options = {}) {
  const stores = [];
  try {
    for (let i = 0; i < count; i++) stores.push(await mem(options));
    return await fn(...stores);
  } finally {
    for (const s of stores) await s.close();
  }
}

/** Ships what `to` lacks from `from`; returns the rows applied. */
export async function push(from, to) {
  let rows = 0;
  for (const batch of from.replication.changesSince(to.replication.vector())) {
    rows += (await to.replication.apply(batch)).rowsApplied;
  }
  return rows;
}

/** Exchanges changes between every pair until nothing moves (custom resolutions may need a 2nd round). */
export async function syncAll(...stores) {
  for (let round = 0; round < 6; round++) {
    let moved = 0;
    for (const x of stores) for (const y of stores) if (x !== y) moved += await push(x, y);
    if (moved === 0) return;
  }
  throw new Error('replicas did not stop exchanging changes after 6 rounds');
}

export function checkError(err, { type, code, message }) {
  assert.ok(err instanceof Error, `expected an Error, got ${String(err)}`);
  assert.equal(err.constructor, type, `expected a ${type.name}, got ${err.constructor.name} (${err.code}): ${err.message}`);
  if (code !== undefined) assert.equal(err.code, code, `wrong code for: ${err.message}`);
  if (message !== undefined) assert.match(err.message, message);
  return true;
}

/** fn() must return a promise (never throw synchronously) that rejects with the expected error. */
export async function rejectsWith(fn, expected) {
  let p;
  try {
    p = fn();
  } catch (err) {
    assert.fail(`threw synchronously instead of returning a rejected promise: ${err?.constructor?.name}: ${err?.message}`);
  }
  assert.ok(p && typeof p.then === 'function', 'expected a promise');
  await assert.rejects(p, (err) => checkError(err, expected));
}

export function throwsWith(fn, expected) {
  assert.throws(fn, (err) => checkError(err, expected));
}

/** Polls fn() (sync or async) until it is true; throws naming `what` after ms. */
export async function until(fn, what, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** p, or an error naming `what` after ms. */
export async function withTimeout(p, ms, what) {
  let t;
  const timeout = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}

/** An HS256 relay token signed with `secret`: tenant acme, editor on every channel, subject ada, unless
 *  `claims` says otherwise. */
export function signToken(secret, claims = {}, { exp = '1h' } = {}) {
  return new SignJWT({ tenant: 'acme', channels: { '*': 'editor' }, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub ?? 'ada')
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);
}

const RELAY_CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'js', 'relay', 'cli.mjs');

/** The syncore-relay command with `args` in a child process (stdout and stderr piped). */
export function forkRelay(args) {
  return fork(RELAY_CLI, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
}

/** forkRelay(args), resolved to {child, port} once it prints the port it listens on (pass --port 0). */
export async function startRelayProcess(args, ms = 15_000) {
  const child = forkRelay(args);
  const port = await withTimeout(new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`relay exited ${code}`)));
  }), ms, 'relay process start');
  return { child, port };
}
