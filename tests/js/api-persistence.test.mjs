// node:test suite for stores kept in a Node directory (SPEC.md "Persistence", "Schema version", "Bad input,
// faults and security"; docs/FORMAT.md for the files): what survives close/open, migrations, outdated
// (read-only) stores, one open store per directory, and damaged journals.
// Run: node --test tests/js/
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, SyncoreError } from '../../js/index.mjs';
import { checkError, mem, push, rejectsWith, sleep, syncAll, tick } from './helpers.mjs';

const dirs = [];
function tempDir() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'syncore-api-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const open = (dir, options = {}) => openStore({ name: 'persisted', directory: dir, ...options });

/** Every file of the directory with its bytes (hex), to prove that nothing was written. */
function dirBytes(dir) {
  const out = {};
  for (const f of fs.readdirSync(dir).sort()) out[f] = fs.readFileSync(path.join(dir, f)).toString('hex');
  return out;
}

function journals(dir) {
  return fs.readdirSync(dir).filter((f) => /^journal-\d+\.log$/.test(f)).sort();
}

function dump(store, names) {
  return JSON.stringify({
    hash: store.replication.stateHash(),
    vector: store.replication.vector(),
    docs: names.map((n) => store.collection(n).find({ orderBy: 'id' })),
    conflicts: store.conflicts.list(),
    snapshots: store.snapshots.list(),
  });
}

describe('a directory store survives close and open', () => {
  test('documents, counters, deletes, transactions, site id, sync vector and state hash survive', async () => {
    const dir = tempDir();
    let s = await open(dir);
    assert.equal(s.openReport.created, true);
    const site = s.siteId;
    const c = s.collection('cards');
    await c.put({ id: 'a', title: 'A', nested: { list: [1, 'two', null] } });
    await c.put({ id: 'b', title: 'B' });
    await c.put({ id: 'gone', title: 'deleted later' });
    await c.update('a', { done: true });
    await c.increment('b', 'votes', 3);
    await c.delete('gone');
    await s.transaction((tx) => {
      tx.collection('cards').put({ id: 'tx', v: 1 });
      tx.collection('other').put({ id: 'o' });
    });
    await s.collection('other').put(JSON.parse('{"id":"p","__proto__":{"x":1}}'));
    assert.equal(s.status.persisted, true, 'a directory store writes through');
    await s.flush();
    const before = dump(s, ['cards', 'other']);
    await s.close();

    s = await open(dir);
    try {
      assert.equal(s.openReport.created, false);
      assert.equal(s.openReport.damaged, false);
      assert.ok(s.openReport.records > 0);
      assert.equal(s.siteId, site, 'the site id is persisted');
      assert.equal(dump(s, ['cards', 'other']), before);
      assert.deepEqual(s.collection('cards').get('a'), { id: 'a', title: 'A', nested: { list: [1, 'two', null] }, done: true });
      assert.equal(s.collection('cards').get('b').votes, 3);
      assert.equal(s.collection('cards').get('gone'), null);
      assert.equal(s.collection('cards').count(), 3);
      assert.deepEqual(Object.getOwnPropertyDescriptor(s.collection('other').get('p'), '__proto__').value, { x: 1 });
      assert.equal({}.x, undefined);
      // the counter keeps counting from the stored total
      await s.collection('cards').increment('b', 'votes');
      assert.equal(s.collection('cards').get('b').votes, 4);
    } finally {
      await s.close();
    }
  });

  test('failed calls leave the files byte for byte unchanged', async () => {
    const dir = tempDir();
    const s = await open(dir, { collections: { cards: { conflicts: 'manual' } } });
    try {
      await s.collection('cards').put({ id: 'a', n: 1 });
      const bytes = dirBytes(dir);
      await rejectsWith(() => s.collection('cards').put({ id: 'x', v: NaN }), { type: TypeError });
      await rejectsWith(() => s.collection('cards').update('missing', { v: 1 }), { type: SyncoreError, code: 'NOT_FOUND' });
      await rejectsWith(() => s.collection('cards').increment('a', 'n', Infinity), { type: RangeError });
      await rejectsWith(() => s.replication.apply(new Uint8Array([9, 9, 9])), { type: SyncoreError, code: 'DECODE' });
      await rejectsWith(() => s.transaction((tx) => {
        tx.collection('cards').put({ id: 'half' });
        throw new Error('half way');
      }), { type: Error, message: /half way/ });
      await rejectsWith(() => s.transaction((tx) => {
        tx.collection('cards').put({ id: 'half' });
        tx.collection('cards').put({ id: 'huge', s: 'x'.repeat(1_100_000) });
      }), { type: RangeError, code: 'LIMIT_EXCEEDED' });
      await rejectsWith(() => s.conflicts.resolve('0000000000000000', 'keep_local'), { type: SyncoreError, code: 'NOT_FOUND' });
      await rejectsWith(() => s.snapshots.restore('0000000000000000'), { type: SyncoreError, code: 'NOT_FOUND' });
      assert.deepEqual(dirBytes(dir), bytes);
    } finally {
      await s.close();
    }
  });

  test('conflict records, dismissals, resolutions and snapshots survive', async () => {
    const dir = tempDir();
    const collections = { cards: { conflicts: 'manual' } };
    let s = await open(dir, { collections });
    const peer = await mem({ collections });
    try {
      await s.collection('cards').put({ id: 'c1', title: 'base', body: 'base', tags: [] });
      await syncAll(s, peer);
      await s.collection('cards').update('c1', { title: 'mine', body: 'mine', tags: ['s'] });
      await sleep(2);
      await peer.collection('cards').update('c1', { title: 'theirs', body: 'theirs', tags: ['p'] });
      await syncAll(s, peer);
      const records = s.conflicts.list();
      assert.deepEqual(records.map((r) => r.field).sort(), ['body', 'tags', 'title']);
      const byField = Object.fromEntries(records.map((r) => [r.field, r]));
      await s.conflicts.dismiss(byField.body.id);
      const snap = await s.snapshots.create('with conflicts', { author: 'ada' });
      await s.collection('cards').put({ id: 'c2', after: 'snapshot' });
      const before = dump(s, ['cards']);
      await s.close();

      s = await open(dir, { collections });
      assert.equal(dump(s, ['cards']), before);
      assert.deepEqual(s.conflicts.list().map((r) => r.field).sort(), ['tags', 'title'], 'the dismissal survived');
      assert.deepEqual(s.conflicts.get(byField.title.id), byField.title);
      assert.deepEqual(s.snapshots.list(), [snap]);

      // resolve after reopening, close, open again: resolution and cleared record survive
      await s.conflicts.resolve(byField.title.id, 'keep_local');
      await s.conflicts.resolve(byField.tags.id, 'merge');
      await s.close();
      s = await open(dir, { collections });
      assert.deepEqual(s.conflicts.list(), []);
      const doc = s.collection('cards').get('c1');
      assert.equal(doc.title, 'mine');
      assert.deepEqual([...doc.tags].sort(), ['p', 's']);

      // the persisted resolutions clear the peer's records; the dismissal was local, so 'body' stays there
      await syncAll(s, peer);
      assert.deepEqual(peer.conflicts.list().map((r) => r.field), ['body']);
      assert.deepEqual(peer.collection('cards').get('c1'), doc);

      // a stored snapshot can be restored after reopening
      await s.snapshots.restore(snap.id);
      assert.equal(s.collection('cards').get('c2'), null);
      assert.equal(s.collection('cards').get('c1').title, 'theirs');
      await syncAll(s, peer);
      assert.equal(s.replication.stateHash(), peer.replication.stateHash());
      assert.equal(peer.collection('cards').get('c2'), null);
    } finally {
      await s.close();
      await peer.close();
    }
  });

  test('collection policies are stored: a manual collection stays manual when reopened without declaring it', async () => {
    const dir = tempDir();
    let s = await open(dir, { collections: { cards: { conflicts: 'manual' } } });
    await s.collection('cards').put({ id: 'x', f: 0 });
    await s.close();
    s = await open(dir);
    const peer = await mem();
    try {
      await syncAll(s, peer);
      await s.collection('cards').update('x', { f: 1 });
      await sleep(2);
      await peer.collection('cards').update('x', { f: 2 });
      await syncAll(s, peer);
      assert.equal(s.conflicts.list().length, 1, 'the stored manual policy still records conflicts');
    } finally {
      await s.close();
      await peer.close();
    }
  });

  test('custom records left from an earlier session get their answer when the store opens again', async () => {
    const dir = tempDir();
    let answer;
    const collections = { cards: { conflicts: 'custom', resolve: () => answer } };
    let s = await open(dir, { collections });
    const peer = await mem({ collections: { cards: { conflicts: 'manual' } } });
    try {
      await s.collection('cards').put({ id: 'x', f: 'base' });
      await syncAll(s, peer);
      await s.collection('cards').update('x', { f: 'mine' });
      await sleep(2);
      await peer.collection('cards').update('x', { f: 'theirs' });
      answer = undefined; // left open
      await syncAll(s, peer);
      assert.equal(s.conflicts.list().length, 1);
      await s.close();

      answer = 'decided later';
      s = await open(dir, { collections });
      assert.deepEqual(s.conflicts.list(), []);
      assert.equal(s.collection('cards').get('x').f, 'decided later');
    } finally {
      await s.close();
      await peer.close();
    }
  });

  test('a store opened again after many writes has the same state hash and syncs incrementally', async () => {
    const dir = tempDir();
    let s = await open(dir);
    const peer = await mem();
    try {
      for (let i = 0; i < 300; i++) await s.collection('bulk').put({ id: `d${i}`, i, text: `document ${i}` });
      for (let i = 0; i < 300; i += 3) await s.collection('bulk').update(`d${i}`, { edited: true });
      await syncAll(s, peer);
      const hash = s.replication.stateHash();
      await s.close();
      s = await open(dir);
      assert.equal(s.replication.stateHash(), hash);
      assert.equal(s.collection('bulk').count(), 300);
      assert.deepEqual(s.replication.vector(), peer.replication.vector());
      await s.collection('bulk').put({ id: 'new' });
      const batches = s.replication.changesSince(peer.replication.vector());
      let rows = 0;
      for (const b of batches) rows += (await peer.replication.apply(b)).rowsApplied;
      assert.ok(rows > 0 && rows < 10, `only the new write is shipped (rows: ${rows})`);
      assert.equal(peer.replication.stateHash(), s.replication.stateHash());
    } finally {
      await s.close();
      await peer.close();
    }
  });
});

describe('schemaVersion and migrate', () => {
  test('migrate runs once when schemaVersion grows, in one transaction, and not again on the next open', async () => {
    const dir = tempDir();
    let s = await open(dir, { schemaVersion: 1 });
    await s.collection('cards').put({ id: 'a', title: 'Old' });
    await s.collection('cards').put({ id: 'b', title: 'Older' });
    await s.close();

    const runs = [];
    const migrate = (tx, { from, to, store }) => {
      runs.push({ from, to });
      for (const d of store.collection('cards').find()) tx.collection('cards').update(d.id, { name: d.title, v: to });
      assert.equal(tx.collection('cards').get('a').name, 'Old', 'tx sees its own writes');
    };
    s = await open(dir, { schemaVersion: 2, migrate });
    assert.deepEqual(runs, [{ from: 1, to: 2 }]);
    assert.deepEqual(s.collection('cards').get('a'), { id: 'a', title: 'Old', name: 'Old', v: 2 });
    await s.close();

    s = await open(dir, { schemaVersion: 2, migrate });
    assert.deepEqual(runs, [{ from: 1, to: 2 }], 'not run again at the same version');
    assert.equal(s.collection('cards').get('b').name, 'Older', 'the migration was persisted');
    await s.close();

    s = await open(dir, { schemaVersion: 5, migrate: async (tx, info) => { await sleep(1); migrate(tx, info); } });
    assert.deepEqual(runs, [{ from: 1, to: 2 }, { from: 2, to: 5 }]);
    assert.equal(s.collection('cards').get('a').v, 5);
    await s.close();

    s = await open(dir, { schemaVersion: 5 });
    assert.equal(s.collection('cards').get('a').v, 5);
    await s.close();
  });

  test('a migration that fails writes nothing, keeps the old version, releases the directory, and runs again next time', async () => {
    const dir = tempDir();
    let s = await open(dir, { schemaVersion: 1 });
    await s.collection('cards').put({ id: 'a', n: 1 });
    await s.close();
    const bytes = dirBytes(dir);

    const boom = new Error('migration failed');
    await assert.rejects(
      open(dir, { schemaVersion: 2, migrate: async (tx) => { tx.collection('cards').update('a', { n: 2 }); await sleep(1); throw boom; } }),
      (err) => err === boom,
    );
    assert.deepEqual(dirBytes(dir), bytes, 'nothing written');

    const runs = [];
    s = await open(dir, { schemaVersion: 2, migrate: (tx, info) => { runs.push(info.from); tx.collection('cards').update('a', { n: 2 }); } });
    try {
      assert.deepEqual(runs, [1], 'runs again from the old version');
      assert.equal(s.collection('cards').get('a').n, 2);
    } finally {
      await s.close();
    }
  });

  test('schemaVersion survives without a migrate hook; opening without schemaVersion later is an older app', async () => {
    const dir = tempDir();
    let s = await open(dir, { schemaVersion: 3 });
    await s.close();
    s = await open(dir, { schemaVersion: 3, migrate: () => assert.fail('must not run at the same version') });
    await s.collection('c').put({ id: 'x' });
    await s.close();
    s = await open(dir); // schemaVersion 0 < 3
    try {
      await rejectsWith(() => s.collection('c').put({ id: 'y' }), { type: SyncoreError, code: 'READ_ONLY' });
    } finally {
      await s.close();
    }
  });
});

describe('an older app on newer data: outdated and read-only', () => {
  async function newerData(collections) {
    const dir = tempDir();
    const s = await open(dir, { schemaVersion: 3, collections });
    await s.collection('cards').put({ id: 'a', title: 'from v3' });
    await s.snapshots.create('v3');
    await s.close();
    return dir;
  }

  test("writes throw SyncoreError READ_ONLY, reads work, and no file changes", async () => {
    const collections = { cards: { conflicts: 'manual' } };
    const dir = await newerData(collections);
    const bytes = dirBytes(dir);
    const s = await open(dir, { schemaVersion: 2, collections, migrate: () => assert.fail('no migration downwards') });
    try {
      assert.deepEqual(s.collection('cards').get('a'), { id: 'a', title: 'from v3' });
      assert.equal(s.collection('cards').count(), 1);
      assert.equal(s.snapshots.list().length, 1);
      const readOnly = { type: SyncoreError, code: 'READ_ONLY', message: /newer schema version/ };
      const c = s.collection('cards');
      await rejectsWith(() => c.put({ id: 'b' }), readOnly);
      await rejectsWith(() => c.update('a', { title: 'x' }), readOnly);
      await rejectsWith(() => c.delete('a'), readOnly);
      await rejectsWith(() => c.increment('a', 'n'), readOnly);
      await rejectsWith(() => s.transaction((tx) => tx.collection('cards').put({ id: 'c' })), readOnly);
      await rejectsWith(() => s.snapshots.create('x'), readOnly);
      await rejectsWith(() => s.snapshots.restore(s.snapshots.list()[0].id), readOnly);
      assert.deepEqual(s.collection('cards').find(), [{ id: 'a', title: 'from v3' }]);
    } finally {
      await s.close();
    }
    assert.deepEqual(dirBytes(dir), bytes, 'an outdated store must not write');
  });

  test("the 'outdated' event {stored, expected} reaches a listener added as soon as openStore resolves", async () => {
    const dir = await newerData();
    const s = await open(dir, { schemaVersion: 1 });
    try {
      const events = [];
      s.on('outdated', (e) => events.push(e));
      await tick();
      await sleep(5);
      assert.deepEqual(events, [{ stored: 3, expected: 1 }]);
    } finally {
      await s.close();
    }
  });

  test('an older app that declares different collection policies still writes nothing', async () => {
    const dir = await newerData({ cards: { conflicts: 'manual' } });
    const bytes = dirBytes(dir);
    const s = await open(dir, { schemaVersion: 2, collections: { cards: {}, extra: { conflicts: 'manual' } } });
    try {
      await rejectsWith(() => s.collection('cards').put({ id: 'b' }), { type: SyncoreError, code: 'READ_ONLY' });
    } finally {
      await s.close();
    }
    assert.deepEqual(dirBytes(dir), bytes, 'the old app wrote its collection configuration over newer data');
  });

  test('once the app is upgraded the store is writable again', async () => {
    const dir = await newerData();
    let s = await open(dir, { schemaVersion: 1 });
    await s.close();
    s = await open(dir, { schemaVersion: 3 });
    try {
      await s.collection('cards').put({ id: 'b' });
      assert.equal(s.collection('cards').count(), 2);
    } finally {
      await s.close();
    }
  });
});

describe('one open store per directory', () => {
  test('opening the same directory twice throws SyncoreError ALREADY_OPEN; the open store is unaffected', async () => {
    const dir = tempDir();
    const s = await open(dir);
    try {
      await s.collection('c').put({ id: 'a' });
      const already = { type: SyncoreError, code: 'ALREADY_OPEN', message: /already open/ };
      await rejectsWith(() => open(dir), already);
      await rejectsWith(() => openStore({ name: 'other-name', directory: dir }), already);
      await rejectsWith(() => openStore({ name: 'x', directory: `${dir}${path.sep}` }), already);
      await rejectsWith(() => openStore({ name: 'x', directory: path.join(dir, 'sub', '..') }), already);
      await rejectsWith(() => openStore({ name: 'x', storage: 'directory', directory: path.relative(process.cwd(), dir) || '.' }), already);
      await s.collection('c').put({ id: 'b' });
      assert.equal(s.collection('c').count(), 2);
    } finally {
      await s.close();
    }
    const again = await open(dir);
    try {
      assert.equal(again.collection('c').count(), 2, 'after close the directory can be opened');
    } finally {
      await again.close();
    }
  });

  test('two different directories are independent stores', async () => {
    const a = await open(tempDir());
    const b = await open(tempDir());
    try {
      assert.notEqual(a.siteId, b.siteId);
      await a.collection('c').put({ id: 'x' });
      assert.equal(b.collection('c').get('x'), null);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('an open that fails after claiming the directory (its migration throws) releases it', async () => {
    const dir = tempDir();
    await assert.rejects(open(dir, { schemaVersion: 1, migrate: () => { throw new Error('nope'); } }), /nope/);
    const s = await open(dir);
    await s.close();
  });
});

describe('damaged storage', () => {
  async function threeRecords() {
    const dir = tempDir();
    const s = await open(dir);
    await s.collection('c').put({ id: 'first', v: 1 });
    await s.collection('c').put({ id: 'second', v: 2 });
    await s.collection('c').update('first', { v: 10 });
    const hashBeforeLast = s.replication.stateHash();
    await s.collection('c').put({ id: 'last', v: 3 });
    await s.close();
    return { dir, hashBeforeLast };
  }

  function newestJournal(dir) {
    const list = journals(dir);
    assert.ok(list.length >= 1, `no journal in ${fs.readdirSync(dir)}`);
    return path.join(dir, list.at(-1));
  }

  for (const cut of [1, 3, 9]) {
    test(`a journal missing its last ${cut} byte(s) opens with everything before the damage, and reports it`, async () => {
      const { dir, hashBeforeLast } = await threeRecords();
      const file = newestJournal(dir);
      const size = fs.statSync(file).size;
      fs.truncateSync(file, size - cut);
      const s = await open(dir);
      try {
        assert.equal(s.openReport.damaged, true);
        assert.ok(s.openReport.droppedBytes > 0);
        assert.match(s.openReport.message, /journal-\d+\.log/);
        assert.deepEqual(s.collection('c').find({ orderBy: 'id' }), [{ id: 'first', v: 10 }, { id: 'second', v: 2 }]);
        assert.equal(s.collection('c').get('last'), null);
        assert.equal(s.replication.stateHash(), hashBeforeLast);
        // the store is usable, and what it writes now survives the next open
        await s.collection('c').put({ id: 'after', v: 4 });
      } finally {
        await s.close();
      }
      const again = await open(dir);
      try {
        assert.equal(again.openReport.damaged, false, 'the torn tail was cut off once');
        assert.deepEqual(again.collection('c').find({ orderBy: 'id' }).map((d) => d.id), ['after', 'first', 'second']);
      } finally {
        await again.close();
      }
    });
  }

  test('a corrupted byte inside the last journal record (CRC mismatch) is detected the same way', async () => {
    const { dir, hashBeforeLast } = await threeRecords();
    const file = newestJournal(dir);
    const buf = fs.readFileSync(file);
    buf[buf.length - 2] ^= 0xff;
    fs.writeFileSync(file, buf);
    const s = await open(dir);
    try {
      assert.equal(s.openReport.damaged, true);
      assert.equal(s.collection('c').get('last'), null);
      assert.deepEqual(s.collection('c').get('first'), { id: 'first', v: 10 });
      assert.equal(s.replication.stateHash(), hashBeforeLast);
    } finally {
      await s.close();
    }
  });

  test('a damaged state file is set aside and reported; the journal still replays', async () => {
    const { dir } = await threeRecords();
    const stateFile = path.join(dir, 'syncore.state');
    const buf = fs.readFileSync(stateFile);
    buf.fill(0x5a, 0, Math.min(16, buf.length));
    fs.writeFileSync(stateFile, buf);
    const s = await open(dir);
    try {
      assert.equal(s.openReport.damaged, true);
      assert.match(s.openReport.message, /state/);
      assert.deepEqual(s.collection('c').find({ orderBy: 'id' }).map((d) => d.id), ['first', 'last', 'second']);
      assert.ok(fs.readdirSync(dir).some((f) => f.endsWith('.damaged')), 'the damaged file is kept for inspection');
      await s.collection('c').put({ id: 'writable' });
    } finally {
      await s.close();
    }
  });

  test("the damage is also reported on the 'error' event to a listener added as soon as openStore resolves", async () => {
    const { dir } = await threeRecords();
    const file = newestJournal(dir);
    fs.truncateSync(file, fs.statSync(file).size - 3);
    const s = await open(dir);
    try {
      const errors = [];
      s.on('error', (e) => errors.push(e));
      await tick();
      await sleep(5);
      assert.equal(s.openReport.damaged, true);
      assert.equal(errors.length, 1, "the 'error' event fired before anyone could listen");
      checkError(errors[0], { type: SyncoreError, code: 'STORAGE', message: /damaged/ });
    } finally {
      await s.close();
    }
  });
});
