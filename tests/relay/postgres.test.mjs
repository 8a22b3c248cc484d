// Several relays on one PostgreSQL (createRelay({ postgres }), syncore-relay --postgres): a real, throwaway
// PostgreSQL cluster on 127.0.0.1 started by this file (tests/support/postgres.mjs), real relays (in this
// process, or syncore-relay child processes where one is killed), real WebSockets, stores as clients.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { openStore } from '../../js/index.mjs';
import { createRelay } from '../../js/relay/relay.mjs';
import { MIGRATIONS } from '../../js/relay/postgres.mjs';
import { forkRelay, seeded, signToken, sleep, startRelayProcess, until as waitUntil, withTimeout } from '../js/helpers.mjs';
import { startPostgres } from '../support/postgres.mjs';

const SECRET = 'test-secret-of-the-postgres-tests';

const token = (claims = {}) => signToken(SECRET, claims);
const until = (fn, what, ms = 15_000) => waitUntil(fn, what, ms);

let cluster;
let dbs = 0;
const relays = [];
const stores = [];
const children = [];

/** A fresh database for one test: nothing one test leaves behind reaches another. */
const freshDb = () => cluster.createDatabase(`t${++dbs}`);

async function relayOn(db, extra = {}) {
  const r = createRelay({ port: 0, postgres: db, authSecret: SECRET, idleMs: 500, log: () => {}, ...extra });
  const { port } = await r.start();
  r.url = `ws://127.0.0.1:${port}`;
  relays.push(r);
  return r;
}

/** syncore-relay --postgres in a child process; resolves to {child, url}. */
async function relayProcess(db) {
  const { child, port } = await startRelayProcess(['--port', '0', '--postgres', db, '--auth-secret', SECRET]);
  children.push(child);
  return { child, url: `ws://127.0.0.1:${port}` };
}

async function client(name, relay, extra = {}) {
  const s = await openStore({ name, storage: 'memory', relay, channel: 'board', token: await token(), heartbeatMs: 1000, ...extra });
  s.on('error', () => {}); // asserted where it matters
  stores.push(s);
  return s;
}

async function query(db, sql, params = []) {
  const c = new pg.Client({ connectionString: db });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** The relay's replica of tenant acme's channel (loaded, as after a connection). */
const replica = (r, name = 'board') => r.channels.get(`acme/${name}`)?.store;

describe('relays on PostgreSQL', () => {
  before(async () => {
    cluster = await startPostgres();
  });
  after(async () => {
    for (const s of stores) await s.close().catch(() => {});
    for (const r of relays) await r.stop().catch(() => {});
    for (const c of children) c.kill('SIGKILL');
    await cluster?.destroy();
  });

  test('a bad or unreachable PostgreSQL URL is a clear error at start', async () => {
    assert.throws(() => createRelay({ postgres: 'mysql://x@127.0.0.1/db', insecureDev: true }), /'postgres' must start with postgres:\/\/ or postgresql:\/\//);
    assert.throws(() => createRelay({ postgres: 'not a url', insecureDev: true }), /'postgres' must be a URL like postgres:\/\//);
    assert.throws(() => createRelay({ postgres: 42, insecureDev: true }), /'postgres' must be a postgres:\/\/ URL string/);
    const refused = createRelay({ port: 0, postgres: 'postgres://postgres:secret@127.0.0.1:1/db', insecureDev: true, log: () => {} });
    await assert.rejects(refused.start(), (err) => {
      assert.match(err.message, /cannot use PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/db: connection refused/);
      assert.doesNotMatch(err.message, /secret/, 'the password is not printed');
      return true;
    });
    const noDb = createRelay({ port: 0, postgres: `postgres://postgres@127.0.0.1:${cluster.port}/no_such_db`, insecureDev: true, log: () => {} });
    await assert.rejects(noDb.start(), /cannot use PostgreSQL at .*no_such_db: database "no_such_db" does not exist/);
    // the command: exit status 1 and the reason, at once
    const child = forkRelay(['--port', '0', '--postgres', 'postgres://x@127.0.0.1:1/db', '--insecure-dev']);
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await withTimeout(new Promise((resolve) => child.on('exit', resolve)), 10_000, 'the relay command exits');
    assert.equal(code, 1);
    assert.match(err, /cannot use PostgreSQL at postgres:\/\/x@127\.0\.0\.1:1\/db: connection refused/);
  });

  test('migrations: applied once, by one relay at a time; a newer schema is refused', async () => {
    const db = await freshDb();
    const [a, b] = await Promise.all([relayOn(db), relayOn(db)]); // both migrate at once: the lock orders them
    const rows = await query(db, 'SELECT version, name FROM syncore_migrations ORDER BY version');
    assert.deepEqual(rows.map((r) => r.version), MIGRATIONS.map((m) => m.version));
    const tables = (await query(db, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'syncore_%' ORDER BY 1")).map((r) => r.tablename);
    assert.deepEqual(tables, ['syncore_batches', 'syncore_channels', 'syncore_checkpoints', 'syncore_migrations']);
    await a.stop();
    await b.stop();
    await query(db, "INSERT INTO syncore_migrations (version, name) VALUES (999, 'from the future')");
    const old = createRelay({ port: 0, postgres: db, insecureDev: true, log: () => {} });
    await assert.rejects(old.start(), /the database's syncore schema is version 999, newer than this relay's 1: upgrade the relay/);
  });

  test('two relays: clients on each converge both ways, live', async () => {
    const db = await freshDb();
    const A = await relayOn(db);
    const B = await relayOn(db);
    const a = await client('two-a', A.url);
    const b = await client('two-b', B.url);
    await Promise.all([a.sync(), b.sync()]);
    // live: a write on A reaches the client of B without any reconnection, and back
    await a.collection('cards').put({ id: 'c1', title: 'from A', votes: 0 });
    await until(() => b.collection('cards').get('c1')?.title === 'from A', 'A -> B');
    await b.collection('cards').update('c1', { title: 'from B' });
    await until(() => a.collection('cards').get('c1')?.title === 'from B', 'B -> A');
    // concurrent: both offline, both edit, counters add up
    a.disconnect();
    b.disconnect();
    await a.collection('cards').update('c1', { notes: 'a' });
    await b.collection('cards').update('c1', { assignee: 'b' });
    await a.collection('cards').increment('c1', 'votes', 2);
    await b.collection('cards').increment('c1', 'votes', 3);
    for (let i = 0; i < 50; i++) await (i % 2 ? a : b).collection('cards').put({ id: `n${i}`, i });
    a.connect();
    b.connect();
    await until(async () => {
      await Promise.all([a.sync(), b.sync()]);
      return a.replication.stateHash() === b.replication.stateHash();
    }, 'a and b converge');
    const card = a.collection('cards').get('c1');
    assert.equal(card.notes, 'a');
    assert.equal(card.assignee, 'b');
    assert.equal(card.votes, 5);
    assert.equal(a.collection('cards').count(), 51);
    // the relays' replicas agree with the clients
    await until(() => replica(A)?.replication.stateHash() === a.replication.stateHash(), 'relay A caught up');
    await until(() => replica(B)?.replication.stateHash() === a.replication.stateHash(), 'relay B caught up');
    // a server-side write on B reaches the client of A
    await B.channel('board', { tenant: 'acme' }).collection('cards').update('c1', { done: true });
    await until(() => a.collection('cards').get('c1')?.done === true, 'server-side write on B -> client on A');
    const metrics = async (r) => (await (await fetch(`${r.url.replace('ws', 'http')}/metrics`)).text());
    assert.match(await metrics(A), /^syncore_postgres_batches_written_total [1-9]\d*$/m);
    assert.match(await metrics(A), /^syncore_postgres_batches_read_total [1-9]\d*$/m, 'A read what B committed');
    assert.match(await metrics(B), /^syncore_postgres_errors_total 0$/m);
  });

  test('group commit: batches that arrive while a commit is in flight are committed together', async () => {
    const db = await freshDb();
    const A = await relayOn(db);
    const B = await relayOn(db);
    const writers = [];
    for (let i = 0; i < 8; i++) writers.push(await client(`gc-${i}`, A.url));
    const reader = await client('gc-r', B.url);
    await Promise.all([...writers.map((w) => w.sync()), reader.sync()]);
    const counters = () => A.stats().counters;
    const commits0 = counters().syncore_postgres_commits_total ?? 0;
    const written0 = counters().syncore_postgres_batches_written_total ?? 0;
    // hold the channel's row lock: the first writer's commit waits, the other seven queue behind it
    const lock = new pg.Client({ connectionString: db });
    await lock.connect();
    await lock.query('BEGIN');
    await lock.query("SELECT head FROM syncore_channels WHERE name = 'board' FOR UPDATE");
    await writers[0].collection('cards').put({ id: 'g0' });
    await until(() => A.channels.get('acme/board').group?.length === 0, 'the first group is committing');
    for (let i = 1; i < 8; i++) await writers[i].collection('cards').put({ id: `g${i}` });
    await until(() => A.channels.get('acme/board').group?.length === 7, 'seven batches waiting together');
    await lock.query('COMMIT');
    await lock.end();
    await withTimeout(Promise.all(writers.map((w) => w.sync())), 10_000, 'every writer acknowledged');
    assert.equal(counters().syncore_postgres_batches_written_total - written0, 8);
    assert.equal(counters().syncore_postgres_commits_total - commits0, 2, 'one commit for the first batch, one for the seven others');
    await until(() => reader.collection('cards').count() === 8, 'the reader on B has all eight');
  });

  test('presence crosses relays: members on A and B see each other, joiners see both, leavers go', async () => {
    const db = await freshDb();
    const A = await relayOn(db, { presenceRefreshMs: 200 });
    const B = await relayOn(db, { presenceRefreshMs: 200 });
    const a = await client('pr-a', A.url);
    const b = await client('pr-b', B.url);
    await Promise.all([a.sync(), b.sync()]);
    a.presence.set({ name: 'Ada' });
    b.presence.set({ name: 'Bo' });
    await until(() => b.presence.list().some((p) => p.state?.name === 'Ada'), 'b (on B) sees Ada (on A)');
    await until(() => a.presence.list().some((p) => p.state?.name === 'Bo'), 'a (on A) sees Bo (on B)');
    // a third member on a third relay that loads the channel now sees both at once
    const C = await relayOn(db, { presenceRefreshMs: 200 });
    const c = await client('pr-c', C.url);
    await c.sync();
    await until(() => c.presence.list().length === 2, 'c (on C) sees Ada and Bo');
    // a member leaving is gone everywhere
    await a.close();
    await until(() => !b.presence.list().some((p) => p.state?.name === 'Ada'), 'Ada left (seen on B)');
    await until(() => !c.presence.list().some((p) => p.state?.name === 'Ada'), 'Ada left (seen on C)');
    // a relay that dies says nothing more: its members are forgotten after three silent periods. Its last
    // announcement is made here by hand, as a relay that is then killed leaves it.
    const [{ id }] = await query(db, "SELECT id::text FROM syncore_channels WHERE name = 'board'");
    const ghost = JSON.stringify({ r: 'a-relay-that-died', s: 'ffffffffffffffffffffffffffffffff', st: { name: 'Ghost' } });
    await query(db, 'SELECT pg_notify($1, $2)', [`syncore_${id}`, `p:${ghost}`]);
    await until(() => b.presence.list().some((p) => p.state?.name === 'Ghost'), 'b sees the ghost');
    await until(() => !b.presence.list().some((p) => p.state?.name === 'Ghost'), 'the ghost is forgotten', 5000);
    c.presence.set({ name: 'Cy' });
    await until(() => b.presence.list().some((p) => p.state?.name === 'Cy'), 'b sees Cy (on C)');
    await sleep(800); // four periods: members whose relays are alive are announced again, and kept
    assert.ok(b.presence.list().some((p) => p.state?.name === 'Cy'), 'a live member on another relay is kept');
    assert.ok(c.presence.list().some((p) => p.state?.name === 'Bo'), 'a live member on another relay is kept');
    b.presence.set({ name: 'B'.repeat(5000) });
    const err = await new Promise((resolve) => b.on('error', (e) => e.relayCode === 'limit-presence-bytes' && resolve(e)));
    assert.match(err.message, /presence state of \d+ bytes \(as JSON\) is over the limit of 4096/);
    assert.ok(c.presence.list().some((p) => p.state?.name === 'Bo'), 'the refused state was not shared');
  });

  test('seeded random writes from clients on three relays converge to equal hashes', async () => {
    await seeded(501, async (rnd) => {
      const db = await freshDb();
      const rs = [await relayOn(db), await relayOn(db), await relayOn(db)];
      const cs = [];
      for (let i = 0; i < 6; i++) cs.push(await client(`rand-${i}`, rs[i % 3].url));
      await withTimeout(Promise.all(cs.map((c) => c.sync())), 10_000, 'first sync');
      // update and increment need the document: a batch from another relay may delete it between get
      // and write (a race a real app has too), so NOT_FOUND is an allowed answer there
      const exists = async (fn) => {
        try {
          await fn();
        } catch (e) {
          assert.equal(e.code, 'NOT_FOUND');
        }
      };
      for (let round = 0; round < 4; round++) {
        const off = cs.filter(() => rnd() < 0.3);
        for (const c of off) c.disconnect();
        for (let k = 0; k < 60; k++) {
          const c = cs[Math.floor(rnd() * cs.length)];
          const col = c.collection(rnd() < 0.7 ? 'cards' : 'notes');
          const id = `d${Math.floor(rnd() * 20)}`;
          const r = rnd();
          if (r < 0.4 || !col.get(id)) await col.put({ id, v: Math.floor(rnd() * 1000), by: c.name });
          else if (r < 0.6) await exists(() => col.update(id, { v: Math.floor(rnd() * 1000) }));
          else if (r < 0.8) await exists(() => col.increment(id, 'n', 1));
          else await col.delete(id);
          if (rnd() < 0.1) await sleep(5);
        }
        for (const c of off) c.connect();
      }
      for (const c of cs) c.connect();
      await until(async () => {
        await Promise.all(cs.map((c) => withTimeout(c.sync(), 10_000, 'sync')));
        return new Set(cs.map((c) => c.replication.stateHash())).size === 1;
      }, 'six clients on three relays converge', 30_000);
      const hash = cs[0].replication.stateHash();
      for (const r of rs) await until(() => replica(r)?.replication.stateHash() === hash, 'every relay holds the same state');
    });
  });

  test('kill -9 of one relay under load: its clients move to the other, nothing acknowledged is lost', async () => {
    const db = await freshDb();
    const A = await relayProcess(db);
    const B = await relayProcess(db);
    const writers = [];
    for (let w = 0; w < 3; w++) writers.push(await client(`kill-w${w}`, [A.url, B.url]));
    const reader = await client('kill-r', [B.url, A.url]);
    await Promise.all([...writers.map((w) => w.sync()), reader.sync()]);
    let killed = false;
    let onKill;
    const kill = new Promise((resolve) => (onKill = resolve));
    const acked = writers.map(() => 0);
    const total = 300;
    const load = writers.map(async (w, n) => {
      for (let i = 0; i < total; i++) {
        await w.collection('cards').put({ id: `w${n}-${i}`, i });
        if (i % 10 === 9 && !killed) {
          await Promise.race([w.sync(), kill]); // all of w's writes so far acknowledged (or A is gone)
          if (!killed) acked[n] = i + 1;
        }
        if (i % 5 === 0) await sleep(2);
      }
    });
    await until(() => acked.every((n) => n >= 50), 'every writer has 50 acknowledged writes on relay A');
    const ackedAtKill = [...acked];
    killed = true;
    onKill();
    A.child.kill('SIGKILL');
    await Promise.all(load);
    // every writer moved to B by itself and resumed where it was: B acknowledges all it wrote
    for (const w of writers) await withTimeout(w.sync(), 20_000, 'a writer syncs through B after A died');
    for (const w of writers) assert.ok(w._sync.url.startsWith(B.url), 'the writer is on B now');
    await until(() => reader.collection('cards').count() === total * writers.length, 'the reader on B has every write', 20_000);
    for (let n = 0; n < writers.length; n++) {
      for (let i = 0; i < ackedAtKill[n]; i++) assert.ok(reader.collection('cards').get(`w${n}-${i}`), `acknowledged w${n}-${i} survived kill -9 of A`);
    }
    // and it is in PostgreSQL, not only in B's memory: a new relay on the database serves it all
    const C = await relayOn(db);
    const fresh = await client('kill-fresh', C.url);
    await withTimeout(fresh.sync(), 20_000, 'a fresh client on a new relay');
    assert.equal(fresh.collection('cards').count(), total * writers.length);
    assert.equal(fresh.replication.stateHash(), writers[0].replication.stateHash());
  });

  test('PostgreSQL restarted mid-run: relays reconnect and recover, nothing is lost, live sync resumes', async () => {
    const db = await freshDb();
    const A = await relayOn(db);
    const B = await relayOn(db);
    const a = await client('pgr-a', [A.url, B.url]);
    const b = await client('pgr-b', [B.url, A.url]);
    await Promise.all([a.sync(), b.sync()]);
    let stop = false;
    const written = { a: 0, b: 0 };
    const load = [[a, 'a'], [b, 'b']].map(async ([s, who]) => {
      while (!stop) {
        await s.collection('cards').put({ id: `${who}${written[who]}`, by: who });
        written[who]++;
        await sleep(10);
      }
    });
    await sleep(300);
    await cluster.restart();
    await sleep(300);
    stop = true;
    await Promise.all(load);
    assert.ok(written.a > 10 && written.b > 10, 'writes went on during the restart');
    await until(async () => {
      await Promise.all([withTimeout(a.sync(), 10_000, 'a syncs'), withTimeout(b.sync(), 10_000, 'b syncs')]);
      return a.replication.stateHash() === b.replication.stateHash();
    }, 'a and b converge after the restart', 40_000);
    assert.equal(a.collection('cards').count(), written.a + written.b);
    // live again across relays (the relays LISTEN again): a write through one reaches the other's client
    const at = a._sync.url.startsWith(A.url) ? 'A' : 'B';
    const bt = b._sync.url.startsWith(A.url) ? 'A' : 'B';
    await a.collection('cards').put({ id: 'after', by: 'a' });
    await until(() => b.collection('cards').get('after'), `a write on ${at} reaches the client on ${bt} live`);
    // every write is in the database: a new relay serves them all
    const C = await relayOn(db);
    const fresh = await client('pgr-fresh', C.url);
    await withTimeout(fresh.sync(), 20_000, 'a fresh client');
    assert.equal(fresh.collection('cards').count(), written.a + written.b + 1);
    assert.equal((await (await fetch(`${A.url.replace('ws', 'http')}/healthz`)).json()).ok, true);
  });

  test('checkpoints: batches are folded into the channel state; a new relay loads checkpoint + batches', async () => {
    const db = await freshDb();
    const A = await relayOn(db, { checkpointBytes: 4096 });
    const B = await relayOn(db, { checkpointBytes: 4096 });
    const a = await client('cp-a', A.url);
    const b = await client('cp-b', B.url);
    for (let i = 0; i < 200; i++) {
      await (i % 3 ? a : b).collection('cards').put({ id: `c${i % 80}`, title: `card ${i} ${'x'.repeat(40)}` });
      if (i % 20 === 19) await Promise.all([a.sync(), b.sync()]);
    }
    await Promise.all([a.sync(), b.sync()]);
    await until(async () => (await query(db, 'SELECT count(*)::int AS n FROM syncore_checkpoints'))[0].n === 1, 'a checkpoint');
    const [{ n: batches }] = await query(db, 'SELECT count(*)::int AS n FROM syncore_batches');
    const [{ head }] = await query(db, 'SELECT head::int AS head FROM syncore_channels');
    assert.ok(head >= 50, `the writes went in as batches with seqs (head ${head})`);
    assert.ok(batches < head / 2, `most batches were folded into the checkpoint (${batches} of ${head} left)`);
    const C = await relayOn(db);
    const c = await client('cp-c', C.url);
    await withTimeout(c.sync(), 10_000, 'a client of a relay that loads checkpoint + batches');
    await until(() => a.replication.stateHash() === b.replication.stateHash(), 'a and b converge');
    assert.equal(c.replication.stateHash(), a.replication.stateHash());
    assert.equal(c.collection('cards').count(), 80);
  });

  test('all relays restarted: the channel comes back from PostgreSQL alone', async () => {
    const db = await freshDb();
    const A = await relayOn(db);
    const a = await client('rs-a', A.url, { schemaVersion: 3 });
    for (let i = 0; i < 20; i++) await a.collection('cards').put({ id: `r${i}`, i });
    await a.sync();
    await a.close();
    await A.stop();
    const B = await relayOn(db);
    const b = await client('rs-b', B.url, { schemaVersion: 3 });
    await withTimeout(b.sync(), 10_000, 'sync with a new relay');
    assert.equal(b.collection('cards').count(), 20);
    // the schema version the first client declared is in the database too: an older app is read-only
    const old = await client('rs-old', B.url, { schemaVersion: 2 });
    const outdated = new Promise((resolve) => old.on('outdated', resolve));
    assert.equal((await withTimeout(outdated, 10_000, 'outdated')).relay, true);
  });
});
