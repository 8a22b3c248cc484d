// The relay and live sync in Node: a real relay (createRelay) on 127.0.0.1, real WebSockets (ws), real
// data directories; clients are stores opened with { relay, channel, token }.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { openStore } from '../../js/index.mjs';
import { loadCore } from '../../js/core.mjs';
import { decodeFrame, encodeFrame } from '../../js/protocol.mjs';
import { createRelay, roleFor } from '../../js/relay/relay.mjs';
import { seeded, signToken, sleep, startRelayProcess, until, withTimeout } from '../js/helpers.mjs';

const SECRET = 'test-secret-of-the-relay-tests';
const key = new TextEncoder().encode(SECRET);
const tmp = (name) => fs.mkdtempSync(path.join(os.tmpdir(), `syncore-${name}-`));

const token = (claims, { secret = key, exp = '1h' } = {}) => signToken(secret, claims, { exp });

/** The syncore-relay command in a child process on a free port; resolves to {child, port}. */
const relayProcess = (dir) => startRelayProcess(['--port', '0', '--data', dir, '--auth-secret', SECRET]);

let relay;
let url;
const opened = [];
async function client(name, extra = {}) {
  const s = await openStore({ name, storage: 'memory', relay: url, channel: 'board', token: await token({}), ...extra });
  s.on('error', () => {}); // asserted where it matters
  opened.push(s);
  return s;
}

/** A raw protocol connection: sends frames, collects decoded replies. */
async function raw(channel = 'board', base = url) {
  const m = await loadCore();
  const ws = new WebSocket(`${base}/v1/ws?channel=${encodeURIComponent(channel)}`);
  const frames = [];
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('message', (d) => frames.push(decodeFrame(m, new Uint8Array(d))));
  await new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  return {
    ws, frames, closed, m,
    send: (msg) => ws.send(encodeFrame(m, msg)),
    hello: async (tok, extra = {}) => ws.send(encodeFrame(m, { t: 'hello', site: '0123456789abcdef0123456789abcdef', have: {}, token: tok, ...extra })),
  };
}

describe('relay', () => {
  before(async () => {
    relay = createRelay({ port: 0, data: tmp('relay'), authSecret: SECRET, idleMs: 200, log: () => {} });
    const { port } = await relay.start();
    url = `ws://127.0.0.1:${port}`;
  });
  after(async () => {
    for (const s of opened) await s.close().catch(() => {});
    await relay.stop();
  });

  test('roleFor: exact channel, then the longest prefix*', () => {
    assert.equal(roleFor({ 'team-*': 'viewer', 'team-4*': 'editor', 'team-42': 'owner' }, 'team-42'), 'owner');
    assert.equal(roleFor({ 'team-*': 'viewer', 'team-4*': 'editor' }, 'team-43'), 'editor');
    assert.equal(roleFor({ 'team-*': 'viewer' }, 'team-9'), 'viewer');
    assert.equal(roleFor({ 'team-*': 'viewer' }, 'other'), null);
    assert.equal(roleFor({ board: 'admin' }, 'board'), null, 'unknown roles grant nothing');
  });

  test('openStore: bad relay options are refused by name, before anything opens', async () => {
    const bad = [
      [{ relay: 'http//nope', channel: 'c' }, /'relay' must be a ws:\/\/, wss:\/\/, http:\/\/ or https:\/\/ URL/],
      [{ relay: 42, channel: 'c' }, /'relay' must be/],
      [{ relay: url }, /'channel'/],
      [{ relay: url, channel: '' }, /'channel'/],
      [{ relay: url, channel: 'c', token: 7 }, /'token' must be a string or a function/],
      [{ channel: 'c' }, /'channel' and 'token' need 'relay'/],
      [{ relay: url, channel: 'c', heartbeatMs: 1 }, /'heartbeatMs' must be a number of ms >= 10/],
    ];
    for (const [extra, message] of bad) {
      await assert.rejects(() => openStore({ name: 'bad-opts', storage: 'memory', ...extra }), (e) => (e instanceof TypeError || e instanceof RangeError) && message.test(e.message), JSON.stringify(extra));
    }
    const s = await openStore({ name: 'no-relay-sync', storage: 'memory' });
    await assert.rejects(() => s.sync(), (e) => e.code === 'NO_RELAY');
    await s.close();
  });

  test('two clients converge after concurrent offline edits', async () => {
    const a = await client('a1');
    const b = await client('b1');
    await withTimeout(Promise.all([a.sync(), b.sync()]), 10_000, 'first sync');
    await a.collection('cards').put({ id: 'c1', title: 'from a', votes: 0 });
    await until(() => b.collection('cards').get('c1'), 'b to receive c1');
    a.disconnect();
    b.disconnect();
    await a.collection('cards').update('c1', { title: 'a offline' });
    await b.collection('cards').update('c1', { done: true });
    await a.collection('cards').increment('c1', 'votes', 2);
    await b.collection('cards').increment('c1', 'votes', 3);
    await b.collection('cards').put({ id: 'c2', title: 'b offline' });
    assert.ok(a.status.pending > 0 && b.status.pending > 0, 'offline edits are pending');
    assert.equal(a.status.connected, false);
    a.connect();
    b.connect();
    await withTimeout(Promise.all([a.sync(), b.sync()]), 10_000, 'sync after reconnect');
    await until(() => a.replication.stateHash() === b.replication.stateHash(), 'equal state hashes');
    const c1 = a.collection('cards').get('c1');
    assert.deepEqual(c1, b.collection('cards').get('c1'));
    assert.equal(c1.title, 'a offline');
    assert.equal(c1.done, true);
    assert.equal(c1.votes, 5, 'concurrent increments add up');
    assert.equal(a.collection('cards').get('c2').title, 'b offline');
    assert.deepEqual({ ...a.status, lastSyncAt: 0 }, { ...a.status, lastSyncAt: 0, connected: true, synced: true, pending: 0 });
  });

  test("connect: false opens offline; 'conflicts' follows the open records; conflict stamps carry a time; disconnect() clears presence", async () => {
    await assert.rejects(client('bad-connect', { connect: 'no' }), /'connect' must be a boolean/);
    await assert.rejects(openStore({ name: 'no-dir', storage: 'memory', fsync: true }), /'fsync' is a boolean for a store in a 'directory'/);
    const a = await client('cf-a', { channel: 'cf', collections: { cards: { conflicts: 'manual' } } });
    const b = await client('cf-b', { channel: 'cf', collections: { cards: { conflicts: 'manual' } }, connect: false });
    await sleep(300);
    assert.equal(b.status.connected, false, 'connect: false: no connection until connect()');
    assert.equal(relay.channels.get('acme/cf').subs.size, 1, 'the relay sees one subscriber');
    b.connect();
    await withTimeout(Promise.all([a.sync(), b.sync()]), 10_000, 'first sync');
    await a.collection('cards').put({ id: 'k', title: 'start' });
    await until(() => b.collection('cards').get('k'), 'b has k');
    // presence: a disconnect forgets the members, and says so
    a.presence.set({ name: 'Ada' });
    await until(() => b.presence.list().length === 1, 'b sees Ada');
    const seen = [];
    b.on('presence', (list) => seen.push(list));
    b.disconnect();
    assert.deepEqual(seen.at(-1), [], "disconnect() emits 'presence' with nobody");
    a.disconnect();
    const t0 = Date.now();
    await a.collection('cards').update('k', { title: 'by a' });
    await b.collection('cards').update('k', { title: 'by b' });
    const lists = { a: [], b: [] };
    a.on('conflicts', (l) => lists.a.push(l));
    b.on('conflicts', (l) => lists.b.push(l));
    a.connect();
    b.connect();
    await withTimeout(Promise.all([a.sync(), b.sync()]), 10_000, 'sync after the offline edits');
    await until(() => a.conflicts.list().length + b.conflicts.list().length > 0, 'a conflict record');
    const [loser, other] = a.conflicts.list().length ? ['a', b] : ['b', a];
    const store = loser === 'a' ? a : b;
    assert.equal(lists[loser].at(-1).length, 1, "'conflicts' carried the new record");
    const rec = store.conflicts.list()[0];
    for (const side of [rec.local, rec.remote]) {
      assert.ok(Math.abs(side.stamp.time - t0) < 60_000, `a stamp's time is when it was written (${side.stamp.time} vs ${t0})`);
    }
    await store.conflicts.resolve(rec.id, 'keep_local');
    assert.deepEqual(lists[loser].at(-1), [], "'conflicts' after a resolution here: none left");
    await withTimeout(Promise.all([a.sync(), b.sync()]), 10_000, 'sync of the resolution');
    await until(() => other.replication.stateHash() === store.replication.stateHash(), 'converged');
    assert.equal(other.conflicts.list().length, 0);
  });

  test('five clients, seeded random writes while connected and offline, converge', async () => {
    await seeded(401, async (rnd) => {
      const cs = [];
      for (let i = 0; i < 5; i++) cs.push(await client(`five-${i}`, { channel: 'five' }));
      await withTimeout(Promise.all(cs.map((c) => c.sync())), 10_000, 'first sync of five');
      for (let round = 0; round < 4; round++) {
        const off = cs.filter(() => rnd() < 0.4);
        for (const c of off) c.disconnect();
        for (let k = 0; k < 40; k++) {
          const c = cs[Math.floor(rnd() * cs.length)];
          const id = `d${Math.floor(rnd() * 15)}`;
          const col = c.collection('items');
          const r = rnd();
          // update and increment need the document: a relay batch may delete it between get and write
          // (a race a real app has too), so NOT_FOUND is an allowed answer there
          const exists = async (fn) => {
            try {
              await fn();
            } catch (e) {
              assert.equal(e.code, 'NOT_FOUND');
            }
          };
          if (r < 0.4 || !col.get(id)) await col.put({ id, n: Math.floor(rnd() * 100), by: c.name });
          else if (r < 0.6) await exists(() => col.update(id, { n: Math.floor(rnd() * 100) }));
          else if (r < 0.8) await exists(() => col.increment(id, 'count', 1));
          else await col.delete(id);
        }
        for (const c of off) c.connect();
      }
      await withTimeout(Promise.all(cs.map((c) => c.sync())), 15_000, 'sync of five');
      await until(() => new Set(cs.map((c) => c.replication.stateHash())).size === 1, 'five equal hashes');
      // the sync client's mirror of each store's vector (read at each hello, then kept from applies and
      // commits) is the vector, after writes on a live connection too
      for (const c of cs) await c.collection('items').put({ id: `last-${c.name}`, by: c.name });
      await withTimeout(Promise.all(cs.map((c) => c.sync())), 15_000, 'sync of the last writes');
      await until(() => cs.every((c) => c.collection('items').count() === cs[0].collection('items').count()), 'the last writes everywhere');
      for (const c of cs) assert.deepEqual(c._sync._mine(), c.replication.vector(), `${c.name}: mirrored vector`);
    });
  });

  test('a client with another collection filter gets only its collections, and back-fills a new one', async () => {
    const w = await client('writer-cols', { channel: 'cols' });
    await w.sync();
    await w.transaction((tx) => {
      tx.collection('cards').put({ id: 'k1', title: 'card' });
      tx.collection('notes').put({ id: 'n1', text: 'note' });
    });
    await w.sync();
    const r = await client('reader-cols', { channel: 'cols', collections: { cards: {} } });
    await r.sync();
    assert.deepEqual(r.collection('cards').get('k1'), { id: 'k1', title: 'card' });
    assert.equal(r.replication.vector().notes, undefined, 'notes are not synced to a cards-only client');
    await w.transaction((tx) => {
      tx.collection('cards').put({ id: 'k2', title: 'card 2' });
      tx.collection('notes').put({ id: 'n2', text: 'note 2' });
    });
    await until(() => r.collection('cards').get('k2'), 'live cards to the filtered client');
    assert.equal(r.replication.vector().notes, undefined);
    await r.close();
    // the same replica, opened again by an app that now also syncs notes, back-fills them
    const r2 = await client('reader-cols-2', { channel: 'cols', collections: { cards: {}, notes: {} } });
    await r2.sync();
    assert.equal(r2.collection('notes').count(), 2);
  });

  test('the relay restarts from its data directory: nothing acknowledged is lost', async () => {
    const dir = tmp('restart');
    let r1 = createRelay({ port: 0, data: dir, authSecret: SECRET, log: () => {} });
    const { port } = await r1.start();
    const u = `ws://127.0.0.1:${port}`;
    const a = await client('restart-a', { relay: u, channel: 'persist' });
    await a.sync();
    for (let i = 0; i < 50; i++) await a.collection('cards').put({ id: `p${i}`, i });
    await withTimeout(a.sync(), 10_000, 'acks before the restart');
    await r1.stop();
    await until(() => !a.status.connected, 'client sees the relay gone');
    r1 = createRelay({ port, data: dir, authSecret: SECRET, log: () => {} });
    await r1.start();
    const b = await client('restart-b', { relay: u, channel: 'persist' });
    await withTimeout(b.sync(), 10_000, 'sync from the restarted relay');
    assert.equal(b.collection('cards').count(), 50);
    await until(() => a.status.connected && a.status.synced, 'a reconnects by itself', 15_000);
    await a.close();
    await b.close();
    await r1.stop();
  });

  test('kill -9 of a relay process: every acknowledged batch is in its data directory', async () => {
    const dir = tmp('kill');
    const { child, port } = await relayProcess(dir);
    const u = `ws://127.0.0.1:${port}`;
    const a = await client('kill-a', { relay: u, channel: 'k' });
    await a.sync();
    let acked = 0;
    let killed = false;
    let onKill;
    const kill = new Promise((resolve) => (onKill = resolve));
    const writes = (async () => {
      for (let i = 0; i < 400; i++) {
        await a.collection('cards').put({ id: `k${i}`, i });
        if (i % 10 === 9 && !killed) {
          await Promise.race([a.sync(), kill]); // every write so far acknowledged (or the relay is gone)
          if (!killed) acked = i + 1;
        }
      }
    })();
    await until(() => acked >= 100, '100 acknowledged writes');
    killed = true;
    onKill();
    const ackedAtKill = acked;
    child.kill('SIGKILL');
    await writes;
    await a.close();
    const r2 = createRelay({ port: 0, data: dir, authSecret: SECRET, log: () => {} });
    const { port: p2 } = await r2.start();
    const b = await client('kill-b', { relay: `ws://127.0.0.1:${p2}`, channel: 'k' });
    await withTimeout(b.sync(), 10_000, 'sync after kill -9');
    for (let i = 0; i < ackedAtKill; i++) assert.ok(b.collection('cards').get(`k${i}`), `acknowledged k${i} survived kill -9`);
    await b.close();
    await r2.stop();
  });

  test('auth: no token, forged signature, expired, no grant, wrong tenant', async () => {
    const cases = [
      ['no token', '', 'unauthorized'],
      ['forged', await token({}, { secret: new TextEncoder().encode('not the secret') }), 'unauthorized'],
      ['expired', await token({}, { exp: Math.floor(Date.now() / 1000) - 60 }), 'token-expired'],
      ['no grant on the channel', await token({ channels: { 'other-*': 'owner' } }), 'forbidden-channel'],
      ['no tenant claim', await token({ tenant: undefined }), 'unauthorized'],
    ];
    for (const [what, tok, code] of cases) {
      const c = await raw();
      await c.hello(tok);
      const closeCode = await withTimeout(c.closed, 5000, `close for ${what}`);
      assert.equal(c.frames.length, 1, `${what}: one error frame`);
      assert.equal(c.frames[0].t, 'error', what);
      assert.equal(c.frames[0].code, code, what);
      assert.equal(c.frames[0].fatal, true, what);
      assert.equal(closeCode, 1008, what);
    }
    // tenants are apart: acme's writes never reach globex's channel of the same name
    const acme = await client('acme-w', { channel: 'shared-name' });
    await acme.collection('cards').put({ id: 'secret', title: 'acme only' });
    await acme.sync();
    const globex = await client('globex-r', { channel: 'shared-name', token: await token({ tenant: 'globex' }) });
    await globex.sync();
    assert.equal(globex.collection('cards').get('secret'), null);
  });

  test('a viewer reads but its writes are refused: nothing applied, nothing fanned out', async () => {
    const editor = await client('ed', { channel: 'view' });
    await editor.collection('cards').put({ id: 'v1', title: 'by editor' });
    await editor.sync();
    const viewer = await client('viewer', { channel: 'view', token: await token({ channels: { view: 'viewer' } }) });
    const errors = [];
    viewer.on('error', (e) => errors.push(e));
    await viewer.sync();
    assert.equal(viewer.collection('cards').get('v1').title, 'by editor');
    await viewer.collection('cards').put({ id: 'v2', title: 'by viewer' });
    await until(() => errors.length > 0, 'the refusal');
    assert.equal(errors[0].relayCode, 'forbidden');
    await sleep(100);
    assert.equal(editor.collection('cards').get('v2'), null, 'not fanned out');
    const check = await client('ed-check', { channel: 'view' });
    await check.sync();
    assert.equal(check.collection('cards').get('v2'), null, 'not stored by the relay');
    assert.equal(viewer.status.synced, false, 'the refused write stays pending');
  });

  test('expiry is enforced on an open connection, and the token provider is asked again', async () => {
    let calls = 0;
    const s = await client('expiring', {
      channel: 'exp',
      token: async () => {
        calls++;
        return token({}, { exp: Math.floor(Date.now() / 1000) + (calls === 1 ? 1 : 3600) });
      },
    });
    await s.sync();
    await until(() => calls >= 2 && s.status.connected && s.status.synced, 'reconnected with a fresh token', 10_000);
  });

  test('hostile input: junk, truncated and wrong-shaped frames, oversize, floods; the relay keeps serving', async () => {
    const good = await client('steady', { channel: 'hostile' });
    await good.sync();
    const m = await loadCore();
    const validChanges = await good.collection('cards').put({ id: 'template' }).then(() => good.replication.changesSince({})[0]);
    await seeded(402, async (rnd) => {
      for (let i = 0; i < 30; i++) {
        const c = await raw('hostile');
        const kind = i % 5;
        if (kind === 0) c.ws.send(Uint8Array.from({ length: 1 + Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)));
        else if (kind === 1) c.ws.send(encodeFrame(m, { t: 'hello', site: '0123456789abcdef0123456789abcdef', have: {}, token: 'x' }).subarray(0, 5 + Math.floor(rnd() * 10)));
        else if (kind === 2) c.ws.send('{"t":"hello"}');
        else if (kind === 3) c.send({ t: 'ack', batch: 1 }); // not a hello first
        else {
          await c.hello(await token({}));
          // a change set's version header, then junk: the frame is well formed, its change set is not
          const junk = Uint8Array.from({ length: 64 }, () => Math.floor(rnd() * 256));
          junk.set(validChanges.subarray(0, 2));
          c.send({ t: 'changes', batch: 7, data: junk });
          await until(() => c.frames.some((f) => f.t === 'error'), 'bad change set refused');
          const err = c.frames.find((f) => f.t === 'error');
          assert.equal(err.code, 'bad-changes');
          assert.equal(err.batch, 7);
          c.ws.close();
          continue;
        }
        const code = await withTimeout(c.closed, 5000, `close after hostile frame ${kind}`);
        assert.ok(code === 1002 || code === 1008, `closed with a protocol code, got ${code}`);
        assert.equal(c.frames.at(-1)?.t, 'error');
      }
    });
    // over the frame limit: refused by name (a relay with a small limit)
    const small = createRelay({ port: 0, data: tmp('small'), authSecret: SECRET, limits: { frameBytes: 2048, changesPerBatch: 5 }, log: () => {} });
    const { port } = await small.start();
    const lim = `ws://127.0.0.1:${port}`;
    // a batch whose frame is over the frame limit, then one with more rows than the batch limit
    const big = await openStore({ name: 'big', storage: 'memory' });
    await big.collection('cards').put({ id: 'big', text: 'x'.repeat(4000) });
    const many = await openStore({ name: 'many', storage: 'memory' });
    await many.transaction((tx) => {
      for (let i = 0; i < 10; i++) tx.collection('cards').put({ id: `m${i}` });
    });
    for (const [store, code] of [[big, 'limit-frame-bytes'], [many, 'limit-changes-per-batch']]) {
      const c = await raw('lim', lim);
      await c.hello(await token({}));
      await until(() => c.frames.some((f) => f.t === 'end'), 'end');
      c.send({ t: 'changes', batch: 3, data: store.replication.changesSince({})[0] });
      await until(() => c.frames.some((f) => f.t === 'error'), code);
      assert.equal(c.frames.find((f) => f.t === 'error').code, code);
      c.ws.close();
    }
    await big.close();
    await many.close();
    await small.stop();
    // the steady client still syncs through the main relay
    await good.collection('cards').put({ id: 'after', ok: true });
    await withTimeout(good.sync(), 5000, 'steady client still served');
    const metrics = await (await fetch(`${url.replace('ws:', 'http:')}/metrics`)).text();
    assert.match(metrics, /syncore_rejected_frames_total\{reason="protocol"\} \d+/);
    assert.match(metrics, /syncore_connections \d+/);
    const health = await (await fetch(`${url.replace('ws:', 'http:')}/healthz`)).json();
    assert.equal(health.ok, true);
  });

  test('presence: set, listed by the others, gone when a member leaves; never stored', async () => {
    const a = await client('pres-a', { channel: 'pres' });
    const b = await client('pres-b', { channel: 'pres' });
    await Promise.all([a.sync(), b.sync()]);
    const seen = [];
    b.on('presence', (list) => seen.push(list));
    a.presence.set({ name: 'Ada', cursor: 3 });
    await until(() => b.presence.list().length === 1, 'b sees a');
    assert.deepEqual(b.presence.list(), [{ site: a.siteId, state: { name: 'Ada', cursor: 3 } }]);
    assert.ok(seen.length >= 1);
    // a member joining later gets the current presence of the others
    const c = await client('pres-c', { channel: 'pres' });
    await c.sync();
    await until(() => c.presence.list().some((p) => p.site === a.siteId), 'c sees a');
    // a disconnect removes a from everyone's list; a reconnection announces it again
    a.disconnect();
    await until(() => b.presence.list().length === 0 && c.presence.list().length === 0, 'a gone');
    a.connect();
    await until(() => b.presence.list().length === 1, 'a back');
    assert.throws(() => a.presence.set({ bad: () => 1 }), /presence state/);
    const local = await openStore({ name: 'no-relay', storage: 'memory' });
    assert.throws(() => local.presence.set({}), (e) => e.code === 'NO_RELAY');
    assert.deepEqual(local.presence.list(), []);
    await local.close();
    // presence is not data: nothing of it in the channel's store
    const check = await client('pres-check', { channel: 'pres' });
    await check.sync();
    assert.deepEqual(check.replication.vector(), {});
  });

  test('heartbeat: a relay that stops answering is detected and the client reconnects', async () => {
    const { WebSocketServer } = await import('ws');
    let connections = 0;
    const silent = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    silent.on('connection', () => {
      connections++; // accepts, never answers
    });
    await new Promise((r) => silent.once('listening', r));
    const s = await client('silent', { relay: `ws://127.0.0.1:${silent.address().port}`, channel: 'x', heartbeatMs: 100 });
    await until(() => connections >= 2, 'a reconnection after silence', 5000);
    assert.equal(s.status.synced, false, 'a relay that never answers never makes the store synced');
    await s.close();
    for (const c of silent.clients) c.terminate();
    await new Promise((r) => silent.close(r));
  });

  test('status.pending survives a reload while the relay is away (Node directory store)', async () => {
    const dir = tmp('pending');
    const r = createRelay({ port: 0, data: tmp('pending-relay'), authSecret: SECRET, log: () => {} });
    const { port } = await r.start();
    const opts = { name: 'pend', storage: 'directory', directory: dir, channel: 'pend', relay: `ws://127.0.0.1:${port}` };
    const s1 = await client('pend-1', opts);
    await s1.sync();
    await s1.collection('cards').put({ id: 'p0' });
    await s1.sync();
    assert.equal(s1.status.pending, 0);
    s1.disconnect();
    await s1.collection('cards').put({ id: 'p1' });
    await s1.collection('cards').update('p1', { title: 'offline' });
    const pending = s1.status.pending;
    assert.ok(pending >= 2, `pending ${pending}`);
    await s1.close();
    await r.stop();
    // reopened while the relay is down: the same count, before any connection
    const s2 = await client('pend-2', opts);
    assert.equal(s2.status.pending, pending);
    assert.equal(s2.status.connected, false);
    await s2.close();
    // the relay is back: sent, acknowledged, zero
    const r2 = createRelay({ port, data: r.dataDir, authSecret: SECRET, log: () => {} });
    await r2.start();
    const s3 = await client('pend-3', opts);
    await withTimeout(s3.sync(), 10_000, 'sync after reload');
    assert.equal(s3.status.pending, 0);
    assert.equal(s3.collection('cards').get('p1').title, 'offline');
    await s3.close();
    await r2.stop();
  });

  test('outdated: a client older than the channel schema receives but cannot write', async () => {
    const newer = await client('schema-new', { channel: 'schema', schemaVersion: 2 });
    await newer.collection('cards').put({ id: 's1', v: 2 });
    await newer.sync();
    const old = await client('schema-old', { channel: 'schema', schemaVersion: 1 });
    const events = [];
    old.on('outdated', (e) => events.push(e));
    await until(() => events.length === 1, 'outdated event');
    assert.equal(events[0].relay, true);
    assert.equal(old.outdated, true);
    await until(() => old.collection('cards').get('s1'), 'the older client still receives');
    await assert.rejects(() => old.collection('cards').put({ id: 's2' }), (e) => e.code === 'READ_ONLY');
  });

  test('rate limit: a flood is refused by name, nothing of a refused batch applied, others served, then it drains', async () => {
    const small = createRelay({ port: 0, data: tmp('rate'), authSecret: SECRET, limits: { changesPerSecond: 200, changesPerBatch: 100 }, log: () => {} });
    const { port } = await small.start();
    const u = `ws://127.0.0.1:${port}`;
    const flooder = await client('flooder', { relay: u, channel: 'flood' });
    const errors = [];
    flooder.on('error', (e) => errors.push(e));
    await flooder.sync();
    // 150 writes of 2 rows each at once, against a bucket of 100 rows refilling at 200 a second
    await Promise.all(Array.from({ length: 150 }, (_, i) => flooder.collection('cards').put({ id: `f${i}`, n: i })));
    await until(() => errors.some((e) => e.relayCode === 'limit-rate'), 'limit-rate refusal');
    const other = await client('calm', { relay: u, channel: 'flood' });
    await withTimeout(other.sync(), 5000, 'the relay serves others during a flood');
    const n = other.collection('cards').count();
    assert.ok(n < 150, `refused batches were not applied (the relay holds ${n} of 150)`);
    // the client sends the refused rows again by itself, within the rate, in batches the relay accepts
    await withTimeout(flooder.sync(), 20_000, 'the flood drains');
    await until(() => other.collection('cards').count() === 150, 'all 150 arrive');
    assert.equal(flooder.status.pending, 0);
    await small.stop();
  });

  test('SIGTERM: the relay process finishes, persists and closes sockets with 1001', async () => {
    const dir = tmp('sigterm');
    const { child, port } = await relayProcess(dir);
    const c = await raw('term', `ws://127.0.0.1:${port}`);
    await c.hello(await token({}));
    await until(() => c.frames.some((f) => f.t === 'end'), 'end');
    const s = await client('term-writer', { relay: `ws://127.0.0.1:${port}`, channel: 'term' });
    for (let i = 0; i < 20; i++) await s.collection('cards').put({ id: `t${i}` });
    await withTimeout(s.sync(), 5000, 'acked before SIGTERM');
    const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));
    child.kill('SIGTERM');
    const code = await withTimeout(c.closed, 5000, 'socket closed by SIGTERM');
    assert.equal(code, 1001);
    assert.deepEqual(await withTimeout(exited, 5000, 'process exit'), { code: 0, sig: null });
    await s.close();
    const r2 = createRelay({ port: 0, data: dir, authSecret: SECRET, log: () => {} });
    const { port: p2 } = await r2.start();
    const b = await client('term-reader', { relay: `ws://127.0.0.1:${p2}`, channel: 'term' });
    await b.sync();
    assert.equal(b.collection('cards').count(), 20);
    await b.close();
    await r2.stop();
  });

  test('HTTP fallback: a client whose WebSocket is blocked syncs live through POST + Server-Sent Events', async () => {
    // a network that lets no WebSocket through: every attempt fails before it opens
    let attempts = 0;
    class Blocked {
      constructor() {
        attempts++;
        this.readyState = 0;
        setTimeout(() => {
          this.readyState = 3;
          this.onerror?.({});
          this.onclose?.({ code: 1006 });
        }, 5);
      }

      send() {}

      close() {}
    }
    const ws = await client('ws-side', { channel: 'fallback' });
    await ws.collection('cards').put({ id: 'before', title: 'written before the http client came' });
    await ws.sync();
    const h = await client('http-side', { channel: 'fallback', WebSocket: Blocked });
    await withTimeout(h.sync(), 15_000, 'sync over the HTTP fallback');
    assert.ok(attempts >= 2, `gave WebSocket ${attempts} tries first`);
    assert.equal(h.status.connected, true);
    assert.equal(h.collection('cards').get('before').title, 'written before the http client came');
    // live both ways
    await h.collection('cards').put({ id: 'from-http', n: 1 });
    await until(() => ws.collection('cards').get('from-http'), 'the http client\'s write reaches the ws client');
    await ws.collection('cards').put({ id: 'from-ws', n: 2 });
    await until(() => h.collection('cards').get('from-ws'), 'the ws client\'s write arrives live over SSE');
    await withTimeout(h.sync(), 5000, 'acknowledged over HTTP');
    assert.equal(h.status.pending, 0);
    await until(() => h.replication.stateHash() === ws.replication.stateHash(), 'equal hashes');
    // the same relay state: a forced-http client and a token the relay refuses
    const forced = await client('http-forced', { channel: 'fallback', transport: 'http' });
    await forced.sync();
    assert.equal(forced.collection('cards').count(), 3);
    const errors = [];
    const refused = await client('http-refused', { channel: 'fallback', transport: 'http', token: await token({ channels: { other: 'owner' } }) });
    refused.on('error', (e) => errors.push(e));
    await until(() => errors.some((e) => e.relayCode === 'forbidden-channel'), 'refused over HTTP');
    await refused.close();
    // the rate limit holds across requests: each POST is stateless, the bucket follows the client's site
    const slow = createRelay({ port: 0, data: tmp('http-rate'), authSecret: SECRET, limits: { changesPerSecond: 20, changesPerBatch: 20 }, log: () => {} });
    const { port: sp } = await slow.start();
    const m = await loadCore();
    const src = await openStore({ name: 'http-rate-src', storage: 'memory' });
    await src.transaction((tx) => {
      for (let i = 0; i < 14; i++) tx.collection('cards').put({ id: `r${i}` }); // 14 rows
    });
    const data = src.replication.changesSince({})[0];
    const post = async (batch) => {
      const frames = [encodeFrame(m, { t: 'hello', site: src.siteId, have: {}, token: await token({}) }), encodeFrame(m, { t: 'changes', batch, data })];
      const body = Buffer.concat(frames.flatMap((f) => [Buffer.from([f.length >>> 24, (f.length >>> 16) & 255, (f.length >>> 8) & 255, f.length & 255]), Buffer.from(f)]));
      const answer = new Uint8Array(await (await fetch(`http://127.0.0.1:${sp}/v1/sync?channel=r`, { method: 'POST', body })).arrayBuffer());
      const out = [];
      for (let i = 0; i < answer.length; i += 4 + new DataView(answer.buffer, i).getUint32(0)) {
        out.push(decodeFrame(m, answer.subarray(i + 4, i + 4 + new DataView(answer.buffer, i).getUint32(0))));
      }
      return out;
    };
    assert.ok((await post(1)).some((f) => f.t === 'ack' && f.batch === 1), 'the first request is within the rate');
    const second = await post(2);
    assert.equal(second.find((f) => f.t === 'error')?.code, 'limit-rate', 'the second, within the same second, is over it');
    await src.close();
    await slow.stop();
    // a malformed request body is answered with an error frame, and the relay stays up
    const res = await fetch(`${url.replace('ws:', 'http:')}/v1/sync?channel=fallback`, { method: 'POST', body: new Uint8Array([0, 0, 0, 9, 1, 2]) });
    assert.equal(res.status, 200);
    const answer = new Uint8Array(await res.arrayBuffer());
    assert.equal(decodeFrame(m, answer.subarray(4)).code, 'protocol');
  });

  test('document size limit: a batch carrying a document over the limit is refused, nothing of it applied', async () => {
    const small = createRelay({ port: 0, data: tmp('docsize'), authSecret: SECRET, limits: { documentBytes: 2000 }, log: () => {} });
    const { port } = await small.start();
    const u = `ws://127.0.0.1:${port}`;
    const w = await client('docsize-w', { relay: u, channel: 'd' });
    const errors = [];
    w.on('error', (e) => errors.push(e));
    await w.sync();
    await w.transaction((tx) => {
      tx.collection('cards').put({ id: 'ok', text: 'small' });
      tx.collection('cards').put({ id: 'huge', text: 'x'.repeat(3000) });
    });
    await until(() => errors.some((e) => e.relayCode === 'limit-document-bytes'), 'refused for document size');
    assert.match(errors.find((e) => e.relayCode === 'limit-document-bytes').message, /cards\/huge/);
    const r = await client('docsize-r', { relay: u, channel: 'd' });
    await r.sync();
    assert.equal(r.collection('cards').get('ok'), null, 'the whole batch was refused (it was one transaction)');
    assert.equal(w.status.synced, false);
    await small.stop();
  });

  test('JWKS: tokens signed by a key of the set are accepted, others refused', async () => {
    const { generateKeyPair, exportJWK } = await import('jose');
    const good = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(good.publicKey)), kid: 'k1', alg: 'ES256' };
    const file = path.join(tmp('jwks'), 'jwks.json');
    fs.writeFileSync(file, JSON.stringify({ keys: [jwk] }));
    const r = createRelay({ port: 0, data: tmp('jwks-data'), jwks: file, log: () => {} });
    const { port } = await r.start();
    const sign = (key) => new SignJWT({ tenant: 'acme', channels: { '*': 'editor' } })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setSubject('ada').setExpirationTime('1h').sign(key);
    const ok = await client('jwks-ok', { relay: `ws://127.0.0.1:${port}`, channel: 'j', token: await sign(good.privateKey) });
    await withTimeout(ok.sync(), 5000, 'sync with a JWKS token');
    const errors = [];
    const bad = await client('jwks-bad', { relay: `ws://127.0.0.1:${port}`, channel: 'j', token: await sign(other.privateKey) });
    bad.on('error', (e) => errors.push(e));
    await until(() => errors.some((e) => e.relayCode === 'unauthorized'), 'a token of another key refused');
    await bad.close();
    await ok.close();
    await r.stop();
  });

  test('a client offline for long catches up, and a socket cut mid-catch-up resumes without loss', async () => {
    const w = await client('long-w', { channel: 'long' });
    await w.sync();
    const reader = await client('long-r', { channel: 'long' });
    await reader.sync();
    reader.disconnect();
    for (let t = 0; t < 10; t++) {
      await w.transaction((tx) => {
        for (let i = 0; i < 3000; i++) tx.collection('cards').put({ id: `L${t}-${i}`, title: `card ${t} ${i} ${'pad'.repeat(20)}`, n: i });
      });
    }
    await withTimeout(w.sync(), 20_000, 'the writer uploads 30,000 documents');
    // the reader comes back; its catch-up (several batches) is cut twice by the relay, mid-stream
    let cuts = 0;
    reader.connect();
    await until(() => reader.collection('cards').count() > 0, 'the catch-up has started', 10_000);
    const atCut = reader.collection('cards').count();
    for (const c of relay.conns) {
      if (c.channel?.name === 'long' && c.ws.readyState === 1 && cuts < 2) {
        c.ws.terminate();
        cuts++;
      }
    }
    await withTimeout(reader.sync(), 30_000, 'the catch-up resumes after the cut');
    assert.equal(reader.collection('cards').count(), 30_000);
    assert.equal(reader.replication.stateHash(), w.replication.stateHash());
    assert.ok(cuts >= 1);
    assert.ok(atCut < 30_000, `the cut came mid-stream (the reader had ${atCut} documents)`);
  });

  test('peers in sync exchange no more change frames; an idle channel is closed and opened again on demand', async () => {
    const a = await client('idle-a', { channel: 'idle' });
    const b = await client('idle-b', { channel: 'idle' });
    await a.collection('cards').put({ id: 'i1' });
    await Promise.all([a.sync(), b.sync()]);
    await until(() => b.collection('cards').get('i1'), 'b has i1');
    const out = () => relay.stats().counters.syncore_changes_out_total ?? 0;
    const before = out();
    await sleep(300);
    a.disconnect();
    a.connect(); // a reconnection of a replica in sync: hello, end, and no changes either way
    await a.sync();
    await sleep(100);
    assert.equal(out(), before, 'no change frames between peers in sync');
    assert.ok(relay.channels.has('acme/idle'));
    await a.close();
    await b.close();
    await until(() => !relay.channels.has('acme/idle'), 'the idle channel is closed (idleMs 200)', 5000);
    const c = await client('idle-c', { channel: 'idle' });
    await c.sync();
    assert.ok(c.collection('cards').get('i1'), 'opened again from the data directory');
  });

  test('a batch is fsynced to the disk before its ack, and a compacted state file too (NODEFS has no fsync of its own)', async () => {
    const s = await client('fsync-w', { channel: 'fsync' });
    await s.sync();
    const real = fs.fsyncSync;
    const synced = []; // the paths of the files fsynced (Linux: /proc/self/fd)
    fs.fsyncSync = (fd) => {
      synced.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
      return real(fd);
    };
    try {
      await s.collection('cards').put({ id: 'durable' });
      await s.sync(); // resolves on the ack
      assert.ok(synced.some((p) => /\/fsync\/journal-\d+\.log$/.test(p)), `the channel's journal was fsynced before the ack (${synced})`);
      synced.length = 0;
      // a compaction writes the state file (temporary file, fsync, rename) and starts a new segment
      const ch = relay.channels.get('acme/fsync');
      ch.store._core.call('compact');
      assert.ok(synced.some((p) => /\/fsync\/syncore\.state/.test(p)), `the new state file was fsynced (${synced})`);
      synced.length = 0;
      await s.collection('cards').put({ id: 'after-compaction' });
      await s.sync();
      assert.ok(synced.some((p) => /\/fsync$/.test(p)), `the directory was fsynced after the rename and the new segment (${synced})`);
    } finally {
      fs.fsyncSync = real;
    }
  });

  test('server-side writes reach subscribers', async () => {
    const s = await client('server-side', { channel: 'backend' });
    await s.sync();
    await relay.channel('backend', { tenant: 'acme' }).collection('cards').put({ id: 'import-1', title: 'from a webhook' });
    await until(() => s.collection('cards').get('import-1'), 'the server-side write');
  });
});
