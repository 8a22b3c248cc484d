// node:test suite for the public JS API of syncore (js/index.d.ts, SPEC.md "JavaScript API" and "Bad input,
// faults and security"), in-memory stores only. Persistence across close/open: api-persistence.test.mjs.
// Run: node --test tests/js/     Randomized parts take SYNCORE_SEED (printed on failure).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, SyncoreError } from '../../js/index.mjs';
import {
  checkError, mem, push, rejectsWith, seeded, sleep, syncAll, throwsWith, tick, withStores,
} from './helpers.mjs';

// ------------------------------------------------------------------------------------------ helpers
const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

/** Everything observable about a store's data, as one string. */
function fingerprint(store, names) {
  return JSON.stringify({
    hash: store.replication.stateHash(),
    vector: store.replication.vector(),
    docs: names.map((n) => [n, store.collection(n).count(), store.collection(n).find()]),
    conflicts: store.conflicts.list(),
    snapshots: store.snapshots.list(),
  });
}

function nest(levels, leaf = 1, wrap = (v) => ({ a: v })) {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = wrap(v);
  return v;
}

const ids = (docs) => docs.map((d) => d.id);

// Two replicas of a 'manual' collection with one concurrent write to `field` each: returns the stores.
async function conflictPair(collections = { cards: { conflicts: 'manual' }, notes: {} }, field = 'title') {
  const a = await mem({ collections });
  const b = await mem({ collections });
  await a.collection('cards').put({ id: 'c1', [field]: 'base', other: 0 });
  await syncAll(a, b);
  await a.collection('cards').update('c1', { [field]: 'from-a' });
  await sleep(2); // b's write gets the later clock, so b's value wins on both
  await b.collection('cards').update('c1', { [field]: 'from-b' });
  return [a, b];
}

// ------------------------------------------------------------------------------------------ openStore
describe('openStore', () => {
  test('opens an in-memory store with a name, a site id, a status and an open report', async () => {
    const s = await openStore({ name: 'board' });
    try {
      assert.equal(s.name, 'board');
      assert.match(s.siteId, HEX32);
      assert.equal(s.replication.siteId(), s.siteId);
      assert.deepEqual(
        { connected: s.status.connected, synced: s.status.synced, pending: s.status.pending, lastSyncAt: s.status.lastSyncAt, error: s.status.error },
        { connected: false, synced: false, pending: 0, lastSyncAt: null, error: null },
      );
      assert.equal(typeof s.status.persisted, 'boolean');
      assert.equal(s.openReport.created, true);
      assert.equal(s.openReport.damaged, false);
      assert.equal(s.collection('anything').count(), 0);
    } finally {
      await s.close();
    }
  });

  test('every store is its own replica: distinct site ids, no shared data, same name twice in memory is fine', async () => {
    const a = await openStore({ name: 'same', storage: 'memory' });
    const b = await openStore({ name: 'same', storage: 'memory' });
    try {
      assert.notEqual(a.siteId, b.siteId);
      await a.collection('c').put({ id: 'x' });
      assert.equal(b.collection('c').get('x'), null);
      assert.equal(a.collection('c').count(), 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('declared collections: collection(name) of an undeclared name throws a TypeError naming it', async () => {
    const s = await mem({ collections: { cards: { conflicts: 'manual' }, columns: {} } });
    try {
      assert.equal(s.collection('cards').name, 'cards');
      assert.equal(s.collection('columns').name, 'columns');
      assert.equal(s.collection('cards'), s.collection('cards'), 'the same Collection object each time');
      throwsWith(() => s.collection('card'), { type: TypeError, message: /unknown collection 'card'.*cards, columns/ });
    } finally {
      await s.close();
    }
  });

  test('without declared collections any valid name works', async () => {
    await withStores(1, async (s) => {
      await s.collection('a').put({ id: '1' });
      await s.collection('b').put({ id: '1' });
      assert.equal(s.collection('a').count(), 1);
      assert.equal(s.collection('b').count(), 1);
      assert.equal(s.collection('c').count(), 0);
    });
  });

  const badOptions = [
    ['no options', undefined, TypeError, /options must be an object, got undefined/],
    ['options not an object', 'board', TypeError, /options must be an object, got a string/],
    ['no name', {}, TypeError, /'name' must be a non-empty string.*got undefined/],
    ['empty name', { name: '' }, TypeError, /'name' must be a non-empty string/],
    ['numeric name', { name: 7 }, TypeError, /'name'.*got a number/],
    ['name with a lone surrogate', { name: 'x\uD800' }, TypeError, /'name' has a lone surrogate/],
    ['collections as an array', { name: 'x', collections: ['cards'] }, TypeError, /'collections' must be an object/],
    ['collection configured with a string', { name: 'x', collections: { cards: 'manual' } }, TypeError, /collection 'cards' must be configured with an object/],
    ['unknown policy', { name: 'x', collections: { cards: { conflicts: 'fifo' } } }, TypeError, /collection 'cards' has unknown conflict policy 'fifo'/],
    ['custom policy without resolve', { name: 'x', collections: { cards: { conflicts: 'custom' } } }, TypeError, /'cards' \(custom conflicts\) needs resolve/],
    ['custom policy, resolve not a function', { name: 'x', collections: { cards: { conflicts: 'custom', resolve: 'x' } } }, TypeError, /needs resolve.*must be a function, got a string/],
    ['resolve on an lww collection', { name: 'x', collections: { cards: { resolve: () => 1 } } }, TypeError, /'resolve' is only for conflicts: 'custom'/],
    ['schemaVersion -1', { name: 'x', schemaVersion: -1 }, RangeError, /'schemaVersion' must be an integer.*-1/],
    ['schemaVersion 1.5', { name: 'x', schemaVersion: 1.5 }, RangeError, /'schemaVersion'.*1\.5/],
    ['schemaVersion NaN', { name: 'x', schemaVersion: NaN }, RangeError, /'schemaVersion'.*NaN/],
    ['schemaVersion Infinity', { name: 'x', schemaVersion: Infinity }, RangeError, /'schemaVersion'.*Infinity/],
    ['schemaVersion as a string', { name: 'x', schemaVersion: '2' }, RangeError, /'schemaVersion'.*string/],
    ['schemaVersion 2^32', { name: 'x', schemaVersion: 2 ** 32 }, RangeError, /'schemaVersion'.*4294967296/],
    ['migrate not a function', { name: 'x', migrate: 'v2' }, TypeError, /'migrate' must be a function, got a string/],
    ['unknown storage', { name: 'x', storage: 'cloud' }, TypeError, /unknown storage 'cloud'/],
    ['storage directory without a directory', { name: 'x', storage: 'directory' }, TypeError, /'directory' must be a non-empty path/],
    ['empty directory', { name: 'x', directory: '' }, TypeError, /'directory' must be a non-empty path/],
    ['numeric directory', { name: 'x', directory: 42 }, TypeError, /'directory' must be a non-empty path/],
  ];
  for (const [label, options, type, message] of badOptions) {
    test(`bad option: ${label} -> ${type.name}`, async () => {
      await rejectsWith(() => openStore(options), { type, message });
    });
  }

  test("storage 'indexeddb' outside a browser fails with SyncoreError STORAGE", async () => {
    await rejectsWith(() => openStore({ name: 'x', storage: 'indexeddb' }), { type: SyncoreError, code: 'STORAGE', message: /IndexedDB/ });
  });

  test('schemaVersion 0, an explicit integer and 2^32-1 are accepted', async () => {
    for (const schemaVersion of [0, 3, 2 ** 32 - 1]) {
      const s = await mem({ schemaVersion });
      await s.close();
    }
  });

  test('migrate runs in one transaction with {from, to, store} when schemaVersion grows from a new store', async () => {
    const seen = [];
    const s = await mem({
      schemaVersion: 2,
      migrate: (tx, info) => {
        seen.push({ from: info.from, to: info.to, isStore: typeof info.store.collection === 'function' });
        tx.collection('cards').put({ id: 'seed', v: 1 });
      },
    });
    try {
      assert.deepEqual(seen, [{ from: 0, to: 2, isStore: true }]);
      assert.deepEqual(s.collection('cards').get('seed'), { id: 'seed', v: 1 });
    } finally {
      await s.close();
    }
  });

  test('a migration that throws makes openStore reject with its error and writes nothing', async () => {
    const boom = new Error('migration failed');
    await assert.rejects(
      mem({ schemaVersion: 1, migrate: (tx) => { tx.collection('cards').put({ id: 'half' }); throw boom; } }),
      (err) => err === boom,
    );
  });
});

// ------------------------------------------------------------------------------------------ documents
describe('documents: put / get / update / delete / increment / count', () => {
  let s;
  before(async () => {
    s = await mem({ collections: { cards: {}, notes: {} } });
  });
  after(async () => {
    await s.close();
  });

  test('put then get round-trips every kind of JSON value exactly', async () => {
    const doc = {
      id: 'all',
      str: 'héllo ✓ 😀 \u0000 "quoted" \\ \n',
      empty: '',
      int: 42,
      neg: -7,
      float: 1.5,
      tiny: 1e-7,
      huge: 1.7976931348623157e308,
      maxSafe: Number.MAX_SAFE_INTEGER,
      zero: 0,
      t: true,
      f: false,
      nil: null,
      arr: [1, 'two', null, false, [3, [4]], { k: 'v' }],
      emptyArr: [],
      obj: { nested: { deeper: { deepest: [1, 2, 3] } }, '': 'empty key', 'with space': 1, 'ünï': 2 },
      emptyObj: {},
    };
    await s.collection('cards').put(doc);
    assert.deepEqual(s.collection('cards').get('all'), doc);
    assert.equal(s.collection('notes').get('all'), null, 'collections are separate');
  });

  test('get of a missing id is null; get returns a fresh copy each time', async () => {
    assert.equal(s.collection('cards').get('missing'), null);
    await s.collection('cards').put({ id: 'copy', list: [1] });
    const d1 = s.collection('cards').get('copy');
    d1.list.push(2);
    d1.extra = true;
    assert.deepEqual(s.collection('cards').get('copy'), { id: 'copy', list: [1] });
  });

  test('the stored document is a snapshot of the argument, not a live reference', async () => {
    const doc = { id: 'snap', v: 1, o: { a: 1 } };
    await s.collection('cards').put(doc);
    doc.v = 2;
    doc.o.a = 2;
    assert.deepEqual(s.collection('cards').get('snap'), { id: 'snap', v: 1, o: { a: 1 } });
  });

  test('put replaces the whole document (fields it lacks are removed)', async () => {
    const c = s.collection('cards');
    await c.put({ id: 'r', a: 1, b: 2 });
    await c.put({ id: 'r', b: 3, c: 4 });
    assert.deepEqual(c.get('r'), { id: 'r', b: 3, c: 4 });
  });

  test('update writes only the given top-level fields', async () => {
    const c = s.collection('cards');
    await c.put({ id: 'u', a: 1, b: { x: 1, y: 2 }, keep: 'k' });
    await c.update('u', { a: 2, b: { x: 9 }, added: [1] });
    assert.deepEqual(c.get('u'), { id: 'u', a: 2, b: { x: 9 }, keep: 'k', added: [1] });
    await c.update('u', {});
    assert.deepEqual(c.get('u'), { id: 'u', a: 2, b: { x: 9 }, keep: 'k', added: [1] });
  });

  test('update of a missing document rejects with SyncoreError NOT_FOUND and creates nothing', async () => {
    const c = s.collection('cards');
    const n = c.count();
    await rejectsWith(() => c.update('ghost', { a: 1 }), { type: SyncoreError, code: 'NOT_FOUND', message: /ghost/ });
    assert.equal(c.get('ghost'), null);
    assert.equal(c.count(), n);
  });

  test('delete resolves to whether the document existed; count follows; a later put brings it back', async () => {
    const c = s.collection('notes');
    const before0 = c.count();
    await c.put({ id: 'd', v: 1 });
    assert.equal(c.count(), before0 + 1);
    assert.equal(await c.delete('d'), true);
    assert.equal(c.get('d'), null);
    assert.equal(c.count(), before0);
    assert.equal(await c.delete('d'), false, 'already deleted');
    assert.equal(await c.delete('never-existed'), false);
    await c.put({ id: 'd', v: 2 });
    assert.deepEqual(c.get('d'), { id: 'd', v: 2 });
    assert.equal(c.count(), before0 + 1);
    await rejectsWith(() => c.update('never-existed', { v: 1 }), { type: SyncoreError, code: 'NOT_FOUND' });
  });

  test('update of a deleted document is NOT_FOUND', async () => {
    const c = s.collection('notes');
    await c.put({ id: 'gone', v: 1 });
    await c.delete('gone');
    await rejectsWith(() => c.update('gone', { v: 2 }), { type: SyncoreError, code: 'NOT_FOUND' });
    assert.equal(c.get('gone'), null);
  });

  test('increment: default 1, any finite by (negative, fractional), creates the field at 0', async () => {
    const c = s.collection('cards');
    await c.put({ id: 'k', title: 'x' });
    await c.increment('k', 'votes');
    assert.equal(c.get('k').votes, 1);
    await c.increment('k', 'votes', 5);
    assert.equal(c.get('k').votes, 6);
    await c.increment('k', 'votes', -2.5);
    assert.equal(c.get('k').votes, 3.5);
    await c.increment('k', 'votes', 0);
    assert.equal(c.get('k').votes, 3.5);
    assert.equal(c.get('k').title, 'x');
  });

  test('increment of a missing document is NOT_FOUND; of a string field a TypeError; of id a TypeError', async () => {
    const c = s.collection('cards');
    await c.put({ id: 'k2', title: 'text', n: 1 });
    await rejectsWith(() => c.increment('nope', 'n'), { type: SyncoreError, code: 'NOT_FOUND', message: /nope/ });
    await rejectsWith(() => c.increment('k2', 'title'), { type: TypeError, message: /'title'.*string, not a number/ });
    await rejectsWith(() => c.increment('k2', 'id'), { type: TypeError, message: /'id' is not a counter/ });
    assert.deepEqual(c.get('k2'), { id: 'k2', title: 'text', n: 1 });
  });

  test('put after increment overwrites the counter with a plain value', async () => {
    const c = s.collection('cards');
    await c.put({ id: 'k3' });
    await c.increment('k3', 'v', 2);
    await c.put({ id: 'k3', v: 'now text' });
    assert.deepEqual(c.get('k3'), { id: 'k3', v: 'now text' });
  });

  test('limits enforced by the core: a document over 1 MiB is a RangeError LIMIT_EXCEEDED, a long id a TypeError', async () => {
    const c = s.collection('cards');
    const h = s.replication.stateHash();
    await rejectsWith(() => c.put({ id: 'big', s: 'x'.repeat(1_100_000) }), { type: RangeError, code: 'LIMIT_EXCEEDED', message: /'big' is larger than the limit/ });
    await rejectsWith(() => c.put({ id: 'i'.repeat(2000), v: 1 }), { type: TypeError, message: /id is longer than/ });
    assert.equal(c.get('big'), null);
    assert.equal(s.replication.stateHash(), h);
  });

  test('64 levels of nesting (the document included) are accepted, 65 are not', async () => {
    const c = s.collection('cards');
    await c.put({ id: 'deep-ok', v: nest(62) });
    assert.deepEqual(c.get('deep-ok'), { id: 'deep-ok', v: nest(62) });
    await c.put({ id: 'deep-ok-arr', v: nest(62, 1, (x) => [x]) });
    assert.deepEqual(c.get('deep-ok-arr').v, nest(62, 1, (x) => [x]));
    await rejectsWith(() => c.put({ id: 'deep-bad', v: nest(64) }), { type: RangeError, message: /nests deeper than 64 levels/ });
    assert.equal(c.get('deep-bad'), null);
  });
});

// ------------------------------------------------------------------------------------------ find
describe('find: where / orderBy / limit', () => {
  let s;
  let c;
  const docs = [
    { id: 'a', n: 3, s: 'pear', g: 1, tags: ['x'] },
    { id: 'b', n: 1, s: 'apple', g: 2, o: { k: 1 } },
    { id: 'c', n: 2, s: 'fig', g: 1 },
    { id: 'd', n: 4, s: 'kiwi', g: 2 },
    { id: 'e', n: 5, s: 'date', g: 1, flag: true },
  ];
  before(async () => {
    s = await mem();
    c = s.collection('fruit');
    for (const d of docs) await c.put(d);
    await s.collection('other').put({ id: 'z', n: 3, g: 1 });
  });
  after(async () => {
    await s.close();
  });

  const sorted = (a) => [...a].sort();
  const cases = [
    ['no query', undefined, ['a', 'b', 'c', 'd', 'e']],
    ['empty query', {}, ['a', 'b', 'c', 'd', 'e']],
    ['plain equality', { where: { g: 1 } }, ['a', 'c', 'e']],
    ['plain equality on a string', { where: { s: 'fig' } }, ['c']],
    ['plain equality on a boolean', { where: { flag: true } }, ['e']],
    ['plain equality on an array', { where: { tags: ['x'] } }, ['a']],
    ['plain equality on an object', { where: { o: { k: 1 } } }, ['b']],
    ['equality on id', { where: { id: 'd' } }, ['d']],
    ['two fields (and)', { where: { g: 1, s: 'pear' } }, ['a']],
    ['$eq', { where: { g: { $eq: 2 } } }, ['b', 'd']],
    ['$ne', { where: { g: { $ne: 2 } } }, ['a', 'c', 'e']],
    ['$gt', { where: { n: { $gt: 3 } } }, ['d', 'e']],
    ['$gte', { where: { n: { $gte: 3 } } }, ['a', 'd', 'e']],
    ['$lt', { where: { n: { $lt: 3 } } }, ['b', 'c']],
    ['$lte', { where: { n: { $lte: 3 } } }, ['a', 'b', 'c']],
    ['$gt and $lt together', { where: { n: { $gt: 1, $lt: 5 } } }, ['a', 'c', 'd']],
    ['$gt on strings', { where: { s: { $gt: 'fig' } } }, ['a', 'd']],
    ['$in', { where: { s: { $in: ['fig', 'kiwi', 'mango'] } } }, ['c', 'd']],
    ['$in with an empty array', { where: { s: { $in: [] } } }, []],
    ['operator and plain field', { where: { g: 1, n: { $lt: 5 } } }, ['a', 'c']],
    ['no match', { where: { g: 3 } }, []],
  ];
  for (const [label, query, expected] of cases) {
    test(`where: ${label}`, () => {
      const got = c.find(query);
      assert.deepEqual(sorted(ids(got)), expected);
      for (const d of got) assert.deepEqual(d, docs.find((x) => x.id === d.id), 'whole documents are returned');
    });
  }

  test('orderBy a field name sorts ascending', () => {
    assert.deepEqual(ids(c.find({ orderBy: 'n' })), ['b', 'c', 'a', 'd', 'e']);
    assert.deepEqual(ids(c.find({ orderBy: 's' })), ['b', 'e', 'c', 'd', 'a']);
  });

  test('orderBy {field: asc|desc}', () => {
    assert.deepEqual(ids(c.find({ orderBy: { n: 'asc' } })), ['b', 'c', 'a', 'd', 'e']);
    assert.deepEqual(ids(c.find({ orderBy: { n: 'desc' } })), ['e', 'd', 'a', 'c', 'b']);
    assert.deepEqual(ids(c.find({ orderBy: { id: 'desc' } })), ['e', 'd', 'c', 'b', 'a']);
  });

  test('orderBy an array: later keys break ties', () => {
    assert.deepEqual(ids(c.find({ orderBy: ['g', { n: 'desc' }] })), ['e', 'a', 'c', 'd', 'b']);
    assert.deepEqual(ids(c.find({ orderBy: [{ g: 'desc' }, 's'] })), ['b', 'd', 'e', 'c', 'a']);
  });

  test('limit, with where and orderBy; limit 0 means no limit or nothing (never more than all)', () => {
    assert.deepEqual(ids(c.find({ orderBy: 'n', limit: 2 })), ['b', 'c']);
    assert.deepEqual(ids(c.find({ where: { g: 1 }, orderBy: { n: 'desc' }, limit: 2 })), ['e', 'a']);
    assert.deepEqual(ids(c.find({ orderBy: 'n', limit: 100 })), ['b', 'c', 'a', 'd', 'e']);
    assert.equal(c.find({ orderBy: 'n', limit: 1 }).length, 1);
    assert.ok([0, 5].includes(c.find({ limit: 0 }).length), 'limit 0: no limit or nothing, never a partial result');
  });

  test('find only sees its own collection; count matches', () => {
    assert.equal(c.count(), 5);
    assert.equal(s.collection('other').count(), 1);
    assert.deepEqual(ids(s.collection('other').find({ where: { n: 3 } })), ['z']);
    assert.deepEqual(ids(c.find({ where: { id: 'z' } })), []);
  });

  test('find results are fresh copies', () => {
    const [first] = c.find({ where: { id: 'a' } });
    first.tags.push('mutated');
    assert.deepEqual(c.get('a').tags, ['x']);
  });
});

// ------------------------------------------------------------------------------------------ subscribe
describe('subscribe (live queries)', () => {
  test('fires at once with the current result, again on a change, not when the result is unchanged, never after unsubscribe', async () => {
    await withStores(1, async (s) => {
      const c = s.collection('tasks');
      await c.put({ id: 't1', done: false, n: 2 });
      const calls = [];
      const off = c.subscribe({ where: { done: false }, orderBy: 'n' }, (docs) => calls.push(ids(docs)));
      assert.deepEqual(calls, [['t1']], 'called synchronously with the current result');

      await c.put({ id: 't2', done: false, n: 1 });
      await tick();
      assert.deepEqual(calls, [['t1'], ['t2', 't1']]);

      await c.put({ id: 't3', done: true, n: 0 }); // not matched
      await s.collection('other').put({ id: 't9', done: false }); // another collection
      await c.put({ id: 't1', done: false, n: 2 }); // same content written again
      await tick();
      assert.deepEqual(calls, [['t1'], ['t2', 't1']], 'unchanged result: no call');

      await c.update('t1', { done: true });
      await tick();
      assert.deepEqual(calls, [['t1'], ['t2', 't1'], ['t2']]);

      await c.update('t2', { n: 7 }); // a field of a matched document changed: result changed
      await tick();
      assert.equal(calls.length, 4);

      off();
      await c.update('t2', { done: true });
      await c.put({ id: 't4', done: false });
      await tick();
      assert.equal(calls.length, 4, 'no call after unsubscribe');
      off(); // twice is harmless
    });
  });

  test('subscribe(fn) watches the whole collection and receives full documents', async () => {
    await withStores(1, async (s) => {
      const c = s.collection('all');
      const calls = [];
      const off = c.subscribe((docs) => calls.push(docs));
      assert.deepEqual(calls, [[]]);
      await c.put({ id: 'x', v: 1 });
      await tick();
      assert.deepEqual(calls.at(-1), [{ id: 'x', v: 1 }]);
      await c.delete('x');
      await tick();
      assert.deepEqual(calls.at(-1), []);
      assert.equal(calls.length, 3);
      off();
    });
  });

  test('several writes in one turn give one call with the final result; limit applies', async () => {
    await withStores(1, async (s) => {
      const c = s.collection('x');
      const calls = [];
      c.subscribe({ orderBy: { n: 'desc' }, limit: 2 }, (docs) => calls.push(ids(docs)));
      await Promise.all([c.put({ id: 'a', n: 1 }), c.put({ id: 'b', n: 2 }), c.put({ id: 'c', n: 3 })]);
      await tick();
      assert.deepEqual(calls, [[], ['c', 'b']], 'one call for the three writes');
      await c.put({ id: 'd', n: 0 }); // below the limit: result unchanged
      await tick();
      const n = calls.length;
      await c.put({ id: 'e', n: -1 });
      await tick();
      assert.equal(calls.length, n);
    });
  });

  test('fires on remote changes applied through replication', async () => {
    await withStores(2, async (a, b) => {
      const calls = [];
      b.collection('c').subscribe({ where: { shared: true } }, (docs) => calls.push(ids(docs)));
      await a.collection('c').put({ id: 'r1', shared: true });
      await a.collection('c').put({ id: 'r2', shared: false });
      await push(a, b);
      await tick();
      assert.deepEqual(calls, [[], ['r1']]);
    });
  });

  test('a callback that throws is reported on the error event and does not stop other subscribers', async () => {
    await withStores(1, async (s) => {
      const c = s.collection('x');
      const errors = [];
      s.on('error', (e) => errors.push(e));
      let first = true;
      const boom = new Error('subscriber failed');
      c.subscribe(() => {
        if (first) { first = false; return; }
        throw boom;
      });
      const other = [];
      c.subscribe((docs) => other.push(docs.length));
      await c.put({ id: 'a' });
      await tick();
      assert.deepEqual(errors, [boom]);
      assert.deepEqual(other, [0, 1]);
    });
  });

  test('bad arguments: callback not a function, unknown query key', async () => {
    await withStores(1, async (s) => {
      const c = s.collection('x');
      throwsWith(() => c.subscribe({}, 'fn'), { type: TypeError, message: /subscribe: the callback must be a function, got a string/ });
      throwsWith(() => c.subscribe({ wher: {} }, () => {}), { type: TypeError, message: /unknown query key 'wher'/ });
      throwsWith(() => c.subscribe(42, () => {}), { type: TypeError, message: /query must be an object/ });
    });
  });

  test('an unknown query operator makes subscribe throw a TypeError (as find does) and registers nothing', async () => {
    await withStores(1, async (s) => {
      const c = s.collection('x');
      const calls = [];
      const errors = [];
      s.on('error', (e) => errors.push(e));
      throwsWith(() => c.find({ where: { n: { $regex: 'a' } } }), { type: TypeError, message: /unknown query operator '\$regex'/ });
      throwsWith(
        () => c.subscribe({ where: { n: { $regex: 'a' } } }, (docs) => calls.push(docs)),
        { type: TypeError, message: /unknown query operator '\$regex'/ },
      );
      throwsWith(
        () => c.subscribe({ orderBy: { n: 'sideways' } }, (docs) => calls.push(docs)),
        { type: TypeError, message: /direction/ },
      );
      await c.put({ id: 'a', n: 1 });
      await tick();
      assert.deepEqual(calls, []);
      assert.deepEqual(errors, [], 'a bad query is the caller\'s error, not an error event on every write');
    });
  });
});

// ------------------------------------------------------------------------------------------ transactions
describe('store.transaction', () => {
  let s;
  const names = ['cards', 'notes'];
  before(async () => {
    s = await mem({ collections: { cards: {}, notes: {} } });
    await s.collection('cards').put({ id: 'existing', n: 1 });
  });
  after(async () => {
    await s.close();
  });

  test('commits every write together and resolves to the function result', async () => {
    const changes = [];
    const off = s.on('change', (e) => changes.push(e));
    const result = await s.transaction((tx) => {
      const cards = tx.collection('cards');
      cards.put({ id: 'tx1', title: 'a' });
      cards.update('existing', { n: 2 });
      cards.increment('existing', 'votes', 3);
      tx.collection('notes').put({ id: 'n1' });
      return { ok: 42 };
    });
    off();
    assert.deepEqual(result, { ok: 42 });
    assert.deepEqual(s.collection('cards').get('tx1'), { id: 'tx1', title: 'a' });
    assert.deepEqual(s.collection('cards').get('existing'), { id: 'existing', n: 2, votes: 3 });
    assert.deepEqual(s.collection('notes').get('n1'), { id: 'n1' });
    assert.deepEqual(
      changes.map((e) => [e.collection, [...e.ids].sort(), e.source]).sort(),
      [['cards', ['existing', 'tx1'], 'local'], ['notes', ['n1'], 'local']],
    );
  });

  test('an async function: its awaited result is returned', async () => {
    const r = await s.transaction(async (tx) => {
      await sleep(1);
      tx.collection('notes').put({ id: 'async1' });
      return 'done';
    });
    assert.equal(r, 'done');
    assert.deepEqual(s.collection('notes').get('async1'), { id: 'async1' });
  });

  test('tx.collection(x).get sees the transaction\'s own writes; the store does not until commit', async () => {
    const seen = {};
    await s.transaction((tx) => {
      const c = tx.collection('cards');
      seen.before = c.get('tx-own');
      c.put({ id: 'tx-own', a: 1 });
      seen.afterPut = c.get('tx-own');
      seen.storeDuring = s.collection('cards').get('tx-own');
      c.update('tx-own', { b: 2 });
      c.increment('tx-own', 'k', 5);
      seen.afterUpdate = c.get('tx-own');
      seen.existing = c.get('existing');
      c.delete('existing');
      seen.afterDelete = c.get('existing');
      seen.storeExisting = s.collection('cards').get('existing');
      const copy = c.get('tx-own');
      copy.a = 'mutated';
      seen.notMutated = c.get('tx-own').a;
    });
    assert.equal(seen.before, null);
    assert.deepEqual(seen.afterPut, { id: 'tx-own', a: 1 });
    assert.equal(seen.storeDuring, null);
    assert.deepEqual(seen.afterUpdate, { id: 'tx-own', a: 1, b: 2, k: 5 });
    assert.deepEqual(seen.existing, { id: 'existing', n: 2, votes: 3 });
    assert.equal(seen.afterDelete, null);
    assert.deepEqual(seen.storeExisting, { id: 'existing', n: 2, votes: 3 });
    assert.equal(seen.notMutated, 1);
    assert.deepEqual(s.collection('cards').get('tx-own'), { id: 'tx-own', a: 1, b: 2, k: 5 });
    assert.equal(s.collection('cards').get('existing'), null);
    await s.collection('cards').put({ id: 'existing', n: 1 });
  });

  test('a function that throws half way writes nothing and rejects with its error', async () => {
    const fp = fingerprint(s, names);
    const boom = new Error('half way');
    await assert.rejects(
      s.transaction((tx) => {
        tx.collection('cards').put({ id: 'half1' });
        tx.collection('cards').update('existing', { n: 100 });
        throw boom;
      }),
      (err) => err === boom,
    );
    assert.equal(fingerprint(s, names), fp);
    assert.equal(s.collection('cards').get('half1'), null);
  });

  test('an async function that rejects after awaiting writes nothing', async () => {
    const fp = fingerprint(s, names);
    await assert.rejects(
      s.transaction(async (tx) => {
        tx.collection('notes').put({ id: 'async-half' });
        await sleep(2);
        tx.collection('cards').delete('existing');
        throw new RangeError('later');
      }),
      RangeError,
    );
    assert.equal(fingerprint(s, names), fp);
  });

  test('a bad value inside the transaction rejects with a TypeError and writes nothing', async () => {
    const fp = fingerprint(s, names);
    await rejectsWith(
      () => s.transaction((tx) => {
        tx.collection('cards').put({ id: 'ok-part' });
        tx.collection('cards').put({ id: 'bad-part', v: NaN });
      }),
      { type: TypeError, message: /document\.v is NaN/ },
    );
    assert.equal(fingerprint(s, names), fp);
  });

  test('a failure inside the core (document over the size limit) undoes the earlier writes of the transaction', async () => {
    const fp = fingerprint(s, names);
    await rejectsWith(
      () => s.transaction((tx) => {
        tx.collection('cards').put({ id: 'small' });
        tx.collection('cards').update('existing', { n: 5 });
        tx.collection('cards').put({ id: 'huge', s: 'x'.repeat(1_100_000) });
      }),
      { type: RangeError, code: 'LIMIT_EXCEEDED' },
    );
    assert.equal(fingerprint(s, names), fp);
    assert.equal(s.collection('cards').get('small'), null);
  });

  test('tx update / increment of a missing document is NOT_FOUND', async () => {
    const fp = fingerprint(s, names);
    await rejectsWith(() => s.transaction((tx) => tx.collection('cards').update('nope', { a: 1 })), { type: SyncoreError, code: 'NOT_FOUND', message: /nope/ });
    await rejectsWith(() => s.transaction((tx) => tx.collection('cards').increment('nope', 'a')), { type: SyncoreError, code: 'NOT_FOUND' });
    assert.equal(fingerprint(s, names), fp);
  });

  test('the tx object cannot be used after the transaction ended', async () => {
    let saved;
    await s.transaction((tx) => { saved = tx.collection('cards'); });
    throwsWith(() => saved.put({ id: 'late' }), { type: SyncoreError, code: 'CLOSED', message: /already ended/ });
    assert.equal(s.collection('cards').get('late'), null);
  });

  test('bad arguments: not a function, undeclared collection', async () => {
    await rejectsWith(() => s.transaction('nope'), { type: TypeError, message: /transaction: the argument must be a function, got a string/ });
    await rejectsWith(() => s.transaction((tx) => tx.collection('undeclared')), { type: TypeError, message: /unknown collection 'undeclared'/ });
  });

  test('a transaction with no writes resolves and changes nothing', async () => {
    const fp = fingerprint(s, names);
    assert.equal(await s.transaction(() => undefined), undefined);
    assert.equal(fingerprint(s, names), fp);
  });
});

// ------------------------------------------------------------------------------------------ status and events
describe('status and store.on', () => {
  test('status is a copy with the documented fields; a memory store reports persisted false after a write', async () => {
    await withStores(1, async (s) => {
      const st = s.status;
      assert.deepEqual(Object.keys(st).sort(), ['connected', 'error', 'lastSyncAt', 'pending', 'persisted', 'synced']);
      st.connected = true;
      assert.equal(s.status.connected, false, 'status returns a copy');
      assert.equal(s.status.persisted, true, 'nothing written yet');
      const events = [];
      const off = s.on('status', (x) => events.push(x));
      await s.collection('c').put({ id: 'a' });
      assert.equal(s.status.persisted, false, 'memory only: a write is not durable');
      assert.equal(events.length, 1);
      assert.equal(events[0].persisted, false);
      off();
      await s.flush(); // resolves even though memory never becomes durable
    });
  });

  test("'status' unsubscribe: a removed listener is not called, another one still is", async () => {
    await withStores(1, async (s) => {
      const kept = [];
      const removed = [];
      s.on('status', (x) => kept.push(x));
      const off = s.on('status', (x) => removed.push(x));
      off();
      await s.collection('c').put({ id: 'a' });
      assert.equal(kept.length, 1);
      assert.equal(removed.length, 0);
    });
  });

  test("'change' gives {collection, ids, source}; unsubscribe stops it; listeners are independent", async () => {
    await withStores(1, async (s) => {
      const a = [];
      const b = [];
      const offA = s.on('change', (e) => a.push(e));
      s.on('change', (e) => b.push(e));
      await s.collection('c').put({ id: 'x' });
      await s.collection('c').update('x', { v: 1 });
      await s.collection('c').delete('x');
      await s.collection('c').delete('x'); // nothing changed: no event
      assert.deepEqual(a, [
        { collection: 'c', ids: ['x'], source: 'local' },
        { collection: 'c', ids: ['x'], source: 'local' },
        { collection: 'c', ids: ['x'], source: 'local' },
      ]);
      offA();
      await s.collection('c').put({ id: 'y' });
      assert.equal(a.length, 3);
      assert.equal(b.length, 4);
    });
  });

  test("'change' from replication.apply has source 'remote'", async () => {
    await withStores(2, async (a, b) => {
      const events = [];
      b.on('change', (e) => events.push(e));
      await a.collection('c').put({ id: 'x' });
      await a.collection('d').put({ id: 'y' });
      await push(a, b);
      assert.deepEqual(events.map((e) => [e.collection, e.ids, e.source]).sort(), [['c', ['x'], 'remote'], ['d', ['y'], 'remote']]);
    });
  });

  test("a listener that throws is reported on 'error'; the write itself succeeds", async () => {
    await withStores(1, async (s) => {
      const errors = [];
      const offErr = s.on('error', (e) => errors.push(e));
      const boom = new Error('listener broke');
      const off = s.on('change', () => { throw boom; });
      await s.collection('c').put({ id: 'x' });
      assert.deepEqual(errors, [boom]);
      assert.deepEqual(s.collection('c').get('x'), { id: 'x' });
      offErr();
      const errors2 = [];
      s.on('error', (e) => errors2.push(e));
      await s.collection('c').put({ id: 'y' });
      assert.equal(errors.length, 1, 'the removed error listener is not called');
      assert.deepEqual(errors2, [boom]);
      off();
    });
  });

  test("'conflict' delivers the new records; its unsubscribe stops it", async () => {
    const [a, b] = await conflictPair();
    try {
      const got = [];
      const off = a.on('conflict', (records) => got.push(records));
      await push(b, a);
      assert.equal(got.length, 1);
      assert.equal(got[0].length, 1);
      const [r] = got[0];
      assert.equal(r.collection, 'cards');
      assert.equal(r.doc, 'c1');
      assert.equal(r.field, 'title');
      assert.deepEqual(r, a.conflicts.get(r.id));
      off();
      // a second conflict: the removed listener must not hear it
      await a.collection('cards').update('c1', { other: 1 });
      await b.collection('cards').update('c1', { other: 2 });
      await push(b, a);
      assert.equal(got.length, 1);
      assert.equal(a.conflicts.list().length, 2);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('bad arguments: unknown event, listener not a function', async () => {
    await withStores(1, async (s) => {
      throwsWith(() => s.on('changes', () => {}), { type: TypeError, message: /unknown event 'changes'/ });
      throwsWith(() => s.on('Change', () => {}), { type: TypeError, message: /unknown event 'Change'/ });
      throwsWith(() => s.on(undefined, () => {}), { type: TypeError, message: /unknown event/ });
      throwsWith(() => s.on('change'), { type: TypeError, message: /listener must be a function, got undefined/ });
      throwsWith(() => s.on('error', {}), { type: TypeError, message: /listener must be a function, got an object/ });
      for (const ev of ['change', 'status', 'conflict', 'error', 'outdated']) {
        assert.equal(typeof s.on(ev, () => {}), 'function', `on('${ev}') returns the unsubscribe function`);
      }
    });
  });
});

// ------------------------------------------------------------------------------------------ replication
describe('replication between two in-memory stores', () => {
  test('vector, changesSince, apply: the replicas converge to equal state hashes and documents', async () => {
    await withStores(2, async (a, b) => {
      assert.deepEqual(a.replication.vector(), {});
      await a.collection('c').put({ id: '1', v: 'a' });
      await b.collection('c').put({ id: '2', v: 'b' });
      await b.collection('d').put({ id: '3' });
      const va = a.replication.vector();
      assert.deepEqual(Object.keys(va), ['c']);
      assert.deepEqual(Object.keys(va.c), [a.siteId]);
      assert.ok(Number.isInteger(va.c[a.siteId]) && va.c[a.siteId] > 0);
      assert.notEqual(a.replication.stateHash(), b.replication.stateHash());
      assert.match(a.replication.stateHash(), HEX16);

      const batches = a.replication.changesSince(b.replication.vector());
      assert.ok(Array.isArray(batches) && batches.length >= 1);
      for (const x of batches) assert.ok(x instanceof Uint8Array);
      await syncAll(a, b);
      assert.equal(a.replication.stateHash(), b.replication.stateHash());
      assert.deepEqual(a.collection('c').find(), b.collection('c').find());
      assert.deepEqual(b.collection('c').get('1'), { id: '1', v: 'a' });
      assert.deepEqual(a.collection('d').get('3'), { id: '3' });
      assert.deepEqual(a.replication.vector(), b.replication.vector());
      // in sync: nothing left to send
      const more = a.replication.changesSince(b.replication.vector());
      let rows = 0;
      for (const x of more) rows += (await b.replication.apply(x)).rowsApplied;
      assert.equal(rows, 0);
    });
  });

  test('applying a batch twice changes nothing the second time', async () => {
    await withStores(2, async (a, b) => {
      await a.collection('c').put({ id: '1', n: 1 });
      await a.collection('c').increment('1', 'n', 2);
      const [batch] = a.replication.changesSince({});
      const r1 = await b.replication.apply(batch);
      assert.ok(r1.rowsApplied > 0);
      assert.deepEqual(r1.changed, [['c', '1']]);
      const h = b.replication.stateHash();
      const r2 = await b.replication.apply(batch);
      assert.deepEqual(r2, { changed: [], newConflicts: [], clearedConflicts: [], rowsApplied: 0, raised: [] });
      assert.equal(b.replication.stateHash(), h);
      assert.equal(b.collection('c').get('1').n, 3);
    });
  });

  test('maxBatchBytes splits into several batches; collections filters', async () => {
    const a = await mem();
    const b = await mem();
    const c = await mem();
    try {
      for (let i = 0; i < 20; i++) await a.collection('big').put({ id: `d${i}`, text: 'x'.repeat(100) });
      await a.collection('small').put({ id: 's' });
      const batches = a.replication.changesSince({}, { maxBatchBytes: 300 });
      assert.ok(batches.length > 1, `expected several batches, got ${batches.length}`);
      for (const x of batches) await b.replication.apply(x);
      assert.equal(b.replication.stateHash(), a.replication.stateHash());

      for (const x of a.replication.changesSince({}, { collections: ['small'] })) await c.replication.apply(x);
      assert.equal(c.collection('small').count(), 1);
      assert.equal(c.collection('big').count(), 0);
      assert.deepEqual(a.replication.changesSince({}, { collections: ['none-such'] }), []);
    } finally {
      await a.close();
      await b.close();
      await c.close();
    }
  });

  test('encodeState applied to a fresh store reproduces the state', async () => {
    await withStores(2, async (a, b) => {
      await a.collection('c').put({ id: '1', v: [1, 2] });
      await a.collection('c').put({ id: '2' });
      await a.collection('c').delete('2');
      const state = a.replication.encodeState();
      assert.ok(state instanceof Uint8Array && state.length > 0);
      await b.replication.apply(state);
      assert.equal(b.replication.stateHash(), a.replication.stateHash());
      assert.deepEqual(b.collection('c').find(), [{ id: '1', v: [1, 2] }]);
    });
  });

  test('lww (default): concurrent writes to one field converge on the later write, no conflict records', async () => {
    await withStores(2, async (a, b) => {
      await a.collection('c').put({ id: 'x', f: 'base' });
      await syncAll(a, b);
      await a.collection('c').update('x', { f: 'a' });
      await sleep(2);
      await b.collection('c').update('x', { f: 'b' });
      await syncAll(a, b);
      assert.equal(a.replication.stateHash(), b.replication.stateHash());
      assert.equal(a.collection('c').get('x').f, 'b');
      assert.equal(b.collection('c').get('x').f, 'b');
      assert.deepEqual(a.conflicts.list(), []);
      assert.deepEqual(b.conflicts.list(), []);
    });
  });

  test('concurrent writes to different fields of one document both survive', async () => {
    await withStores(2, async (a, b) => {
      await a.collection('c').put({ id: 'x', f: 0, g: 0 });
      await syncAll(a, b);
      await a.collection('c').update('x', { f: 1 });
      await b.collection('c').update('x', { g: 2 });
      await syncAll(a, b);
      assert.deepEqual(a.collection('c').get('x'), { id: 'x', f: 1, g: 2 });
      assert.equal(a.replication.stateHash(), b.replication.stateHash());
    });
  });

  test('concurrent increments add up', async () => {
    await withStores(2, async (a, b) => {
      await a.collection('c').put({ id: 'k', votes: 1 });
      await syncAll(a, b);
      await a.collection('c').increment('k', 'votes', 2);
      await b.collection('c').increment('k', 'votes', 3);
      await b.collection('c').increment('k', 'votes');
      await syncAll(a, b);
      assert.equal(a.collection('c').get('k').votes, 7);
      assert.equal(b.collection('c').get('k').votes, 7);
      assert.equal(a.replication.stateHash(), b.replication.stateHash());
    });
  });

  test('a delete beats a concurrent edit; writing the document after seeing the delete brings it back', async () => {
    await withStores(2, async (a, b) => {
      await a.collection('c').put({ id: 'x', v: 1 });
      await syncAll(a, b);
      await a.collection('c').delete('x');
      await sleep(2);
      await b.collection('c').update('x', { v: 2 }); // later clock, still loses to the delete
      await syncAll(a, b);
      assert.equal(a.collection('c').get('x'), null);
      assert.equal(b.collection('c').get('x'), null);
      assert.equal(a.replication.stateHash(), b.replication.stateHash());
      await b.collection('c').put({ id: 'x', v: 3 });
      await syncAll(a, b);
      assert.deepEqual(a.collection('c').get('x'), { id: 'x', v: 3 });
    });
  });

  test("manual: same field written on both replicas -> equal hashes, a record on each, winner agreed", async () => {
    const [a, b] = await conflictPair();
    try {
      const eventsA = [];
      const eventsB = [];
      a.on('conflict', (r) => eventsA.push(r));
      b.on('conflict', (r) => eventsB.push(r));
      await syncAll(a, b);
      assert.equal(a.replication.stateHash(), b.replication.stateHash());
      assert.equal(a.collection('cards').get('c1').title, 'from-b');
      assert.equal(b.collection('cards').get('c1').title, 'from-b');

      const [ra] = a.conflicts.list();
      const [rb] = b.conflicts.list();
      assert.equal(a.conflicts.list().length, 1);
      assert.equal(b.conflicts.list().length, 1);
      // a's value lost: a must hold the record (SPEC); here both replicas see the concurrency.
      assert.match(ra.id, /\S/);
      assert.equal(ra.collection, 'cards');
      assert.equal(ra.doc, 'c1');
      assert.equal(ra.field, 'title');
      assert.equal(ra.local.value, 'from-a');
      assert.equal(ra.remote.value, 'from-b');
      assert.equal(ra.winner, 'remote');
      assert.equal(ra.local.stamp.site, a.siteId);
      assert.equal(ra.remote.stamp.site, b.siteId);
      assert.equal(ra.local.absent, false);
      assert.equal(rb.local.value, 'from-b');
      assert.equal(rb.remote.value, 'from-a');
      assert.equal(rb.winner, 'local');
      assert.deepEqual(a.conflicts.get(ra.id), ra);
      assert.equal(a.conflicts.get('0000000000000000'), null);
      assert.deepEqual(eventsA.flat().map((r) => r.id), [ra.id]);
      assert.deepEqual(eventsB.flat().map((r) => r.id), [rb.id]);
      // the other collection (lww) in the same stores keeps no records
      await a.collection('notes').put({ id: 'n', v: 1 });
      await syncAll(a, b);
      await a.collection('notes').update('n', { v: 2 });
      await b.collection('notes').update('n', { v: 3 });
      await syncAll(a, b);
      assert.equal(a.conflicts.list().length, 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  const modes = [
    ['keep_local', 'from-a'],
    ['keep_remote', 'from-b'],
    [{ value: { chosen: true } }, { chosen: true }],
  ];
  for (const [mode, expected] of modes) {
    test(`conflicts.resolve(${JSON.stringify(mode)}) writes a new change that clears the record on both replicas`, async () => {
      const [a, b] = await conflictPair();
      try {
        await syncAll(a, b);
        const [r] = a.conflicts.list();
        const changes = [];
        a.on('change', (e) => changes.push(e));
        await a.conflicts.resolve(r.id, mode);
        assert.deepEqual(a.collection('cards').get('c1').title, expected);
        assert.deepEqual(a.conflicts.list(), []);
        assert.equal(a.conflicts.get(r.id), null);
        assert.deepEqual(changes.map((e) => [e.collection, e.ids]), [['cards', ['c1']]]);
        assert.equal(b.conflicts.list().length, 1);
        const cleared = [];
        for (const x of a.replication.changesSince(b.replication.vector())) cleared.push(...(await b.replication.apply(x)).clearedConflicts);
        assert.equal(cleared.length, 1);
        assert.deepEqual(b.conflicts.list(), []);
        await syncAll(a, b);
        assert.deepEqual(b.collection('cards').get('c1').title, expected);
        assert.equal(a.replication.stateHash(), b.replication.stateHash());
      } finally {
        await a.close();
        await b.close();
      }
    });
  }

  test("conflicts.resolve('merge'): objects merged key by key, arrays unioned", async () => {
    const collections = { cards: { conflicts: 'manual' } };
    const a = await mem({ collections });
    const b = await mem({ collections });
    try {
      await a.collection('cards').put({ id: 'm', tags: ['x'], meta: { p: 0 } });
      await syncAll(a, b);
      await a.collection('cards').update('m', { tags: ['x', 'a'], meta: { p: 1, q: 1 } });
      await sleep(2);
      await b.collection('cards').update('m', { tags: ['x', 'b'], meta: { p: 0, r: 2 } });
      await syncAll(a, b);
      const byField = Object.fromEntries(a.conflicts.list().map((r) => [r.field, r]));
      assert.deepEqual(Object.keys(byField).sort(), ['meta', 'tags']);
      await a.conflicts.resolve(byField.tags.id, 'merge');
      await a.conflicts.resolve(byField.meta.id, 'merge');
      const doc = a.collection('cards').get('m');
      assert.deepEqual([...doc.tags].sort(), ['a', 'b', 'x']);
      assert.equal(doc.tags.length, 3, 'union, no duplicates');
      assert.equal(doc.meta.q, 1);
      assert.equal(doc.meta.r, 2);
      assert.ok([0, 1].includes(doc.meta.p));
      assert.deepEqual(a.conflicts.list(), []);
      await syncAll(a, b);
      assert.deepEqual(b.collection('cards').get('m'), doc);
      assert.deepEqual(b.conflicts.list(), []);
      assert.equal(a.replication.stateHash(), b.replication.stateHash());
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('conflicts.dismiss drops the record here only, without writing anything', async () => {
    const [a, b] = await conflictPair();
    try {
      await syncAll(a, b);
      const [r] = a.conflicts.list();
      const h = a.replication.stateHash();
      const v = JSON.stringify(a.replication.vector());
      const changes = [];
      a.on('change', (e) => changes.push(e));
      await a.conflicts.dismiss(r.id);
      assert.deepEqual(a.conflicts.list(), []);
      assert.equal(a.replication.stateHash(), h);
      assert.equal(JSON.stringify(a.replication.vector()), v);
      assert.deepEqual(changes, []);
      await syncAll(a, b);
      assert.equal(b.conflicts.list().length, 1, 'the peer keeps its record');
      await rejectsWith(() => a.conflicts.dismiss(r.id), { type: SyncoreError, code: 'NOT_FOUND' });
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("custom policy: the resolve function's answer is written as a new change and syncs", async () => {
    const calls = [];
    const resolve = (c) => {
      calls.push(c);
      return `${c.local.value}+${c.remote.value}`;
    };
    const collections = { cards: { conflicts: 'custom', resolve } };
    const [a, b] = await conflictPair(collections);
    try {
      await syncAll(a, b);
      assert.ok(calls.length >= 1, 'resolve was called');
      const c0 = calls[0];
      assert.equal(c0.collection, 'cards');
      assert.equal(c0.doc, 'c1');
      assert.equal(c0.field, 'title');
      assert.deepEqual([c0.local.value, c0.remote.value].sort(), ['from-a', 'from-b']);
      const title = a.collection('cards').get('c1').title;
      assert.ok(title === 'from-a+from-b' || title === 'from-b+from-a', `got ${title}`);
      assert.equal(b.collection('cards').get('c1').title, title);
      assert.deepEqual(a.conflicts.list(), []);
      assert.deepEqual(b.conflicts.list(), []);
      assert.equal(a.replication.stateHash(), b.replication.stateHash());
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('custom policy: an async resolve is awaited; undefined leaves the record for conflicts.resolve', async () => {
    let answer;
    const resolve = async () => {
      await sleep(1);
      return answer;
    };
    const collections = { cards: { conflicts: 'custom', resolve } };
    const [a, b] = await conflictPair(collections);
    try {
      const errors = [];
      a.on('error', (e) => errors.push(e));
      b.on('error', (e) => errors.push(e));
      answer = undefined;
      await syncAll(a, b);
      assert.deepEqual(errors, [], 'undefined is a valid answer (leave it), not an error');
      assert.equal(a.conflicts.list().length, 1);
      assert.equal(a.collection('cards').get('c1').title, 'from-b', 'LWW winner until resolved');
      const [r] = a.conflicts.list();
      await a.conflicts.resolve(r.id, 'keep_local');
      assert.equal(a.collection('cards').get('c1').title, 'from-a');

      answer = 'async answer';
      await a.collection('cards').update('c1', { other: 'a' });
      await b.collection('cards').update('c1', { other: 'b' });
      await syncAll(a, b);
      assert.equal(a.collection('cards').get('c1').other, 'async answer');
      assert.equal(b.collection('cards').get('c1').other, 'async answer');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("custom policy: a resolve that throws or answers a non-JSON value is reported on 'error', the record stays", async () => {
    let mode = 'throw';
    const boom = new Error('resolver failed');
    const resolve = () => {
      if (mode === 'throw') throw boom;
      return NaN;
    };
    const collections = { cards: { conflicts: 'custom', resolve } };
    const [a, b] = await conflictPair(collections);
    try {
      const errors = [];
      a.on('error', (e) => errors.push(e));
      b.on('error', (e) => errors.push(e));
      await syncAll(a, b);
      assert.ok(errors.length >= 1 && errors.every((e) => e === boom));
      assert.equal(a.conflicts.list().length, 1);

      mode = 'nan';
      errors.length = 0;
      await a.collection('cards').update('c1', { other: 1 });
      await sleep(2); // b wins again: a's value lost, so a must hold a record (SPEC)
      await b.collection('cards').update('c1', { other: 2 });
      await syncAll(a, b);
      assert.ok(errors.length >= 1);
      for (const e of errors) checkError(e, { type: TypeError, message: /NaN/ });
      assert.equal(a.conflicts.list().length, 2);
      assert.equal(a.replication.stateHash(), b.replication.stateHash());
    } finally {
      await a.close();
      await b.close();
    }
  });
});

// ------------------------------------------------------------------------------------------ snapshots
describe('snapshots', () => {
  test('create returns its info, list shows it, restore brings the documents back as a new change that syncs', async () => {
    await withStores(2, async (a, b) => {
      const c = a.collection('c');
      await c.put({ id: '1', v: 1 });
      await c.put({ id: '2', v: 2 });
      await a.collection('other').put({ id: 'o' });
      const t0 = Date.now();
      const info = await a.snapshots.create('before import', { author: 'ada' });
      assert.equal(info.label, 'before import');
      assert.equal(info.author, 'ada');
      assert.equal(info.docCount, 3);
      assert.ok(info.bytes > 0);
      assert.ok(typeof info.id === 'string' && info.id.length > 0);
      assert.ok(Math.abs(info.createdAt - t0) < 60_000, 'createdAt is a ms timestamp of now');
      assert.deepEqual(a.snapshots.list(), [info]);
      const plain = await a.snapshots.create('no author');
      assert.equal(plain.author, '');
      assert.deepEqual(a.snapshots.list().map((x) => x.id), [info.id, plain.id]);

      const docsBefore = c.find();
      await c.put({ id: '3', v: 3 });
      await c.update('1', { v: 100 });
      await c.delete('2');
      await a.collection('other').delete('o');
      await syncAll(a, b);

      const changes = [];
      a.on('change', (e) => changes.push(e));
      await a.snapshots.restore(info.id);
      assert.deepEqual(c.find(), docsBefore);
      assert.deepEqual(a.collection('other').find(), [{ id: 'o' }]);
      assert.ok(changes.length >= 1);
      assert.equal(b.collection('c').get('3').v, 3);
      await syncAll(a, b);
      assert.deepEqual(b.collection('c').find(), docsBefore);
      assert.equal(a.replication.stateHash(), b.replication.stateHash());
      assert.equal(b.snapshots.list().length, 0, 'snapshots are local to the store');
    });
  });

  test('a restore can itself be undone by restoring a later snapshot', async () => {
    await withStores(1, async (s) => {
      const c = s.collection('c');
      await c.put({ id: '1', v: 'old' });
      const old = await s.snapshots.create('old');
      await c.put({ id: '1', v: 'new' });
      const nu = await s.snapshots.create('new');
      await s.snapshots.restore(old.id);
      assert.equal(c.get('1').v, 'old');
      await s.snapshots.restore(nu.id);
      assert.equal(c.get('1').v, 'new');
    });
  });
});

// ------------------------------------------------------------------------------------------ bad input
describe('bad input: the right error, a message that names the problem, nothing written', () => {
  let s;
  let peer;
  let conflictId;
  let snapshotId;
  const names = ['cards', 'notes'];
  const changeEvents = [];
  before(async () => {
    const collections = { cards: { conflicts: 'manual' }, notes: {} };
    [s, peer] = await conflictPair(collections);
    await syncAll(s, peer);
    conflictId = s.conflicts.list()[0].id;
    await s.collection('cards').put({ id: 'a', title: 'text', n: 1 });
    await s.collection('notes').put({ id: 'n', body: 'x' });
    snapshotId = (await s.snapshots.create('snap')).id;
    s.on('change', (e) => changeEvents.push(e));
  });
  after(async () => {
    await s.close();
    await peer.close();
  });

  class Point {
    constructor() {
      this.x = 1;
    }
  }
  const circular = { id: 'circ', v: 1 };
  circular.self = circular;
  const circularArr = [];
  circularArr.push(circularArr);
  // eslint-disable-next-line no-sparse-arrays
  const sparse = [1, , 3];

  const cards = () => s.collection('cards');
  const withOwn = (o, key, value) => Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true });
  /** [label, 'async'|'sync', call, {type, code?, message}] */
  const cases = () => [
    // put: the document itself
    ['put(undefined)', 'async', () => cards().put(undefined), { type: TypeError, message: /cards\.put: the document must be a plain object, got undefined/ }],
    ['put(null)', 'async', () => cards().put(null), { type: TypeError, message: /plain object, got null/ }],
    ['put(string)', 'async', () => cards().put('{"id":"a"}'), { type: TypeError, message: /plain object, got a string/ }],
    ['put(number)', 'async', () => cards().put(5), { type: TypeError, message: /plain object, got a number/ }],
    ['put(array)', 'async', () => cards().put([{ id: 'a' }]), { type: TypeError, message: /plain object, got an array/ }],
    ['put(Map)', 'async', () => cards().put(new Map([['id', 'm']])), { type: TypeError, message: /plain object, got a Map/ }],
    ['put(Date)', 'async', () => cards().put(new Date()), { type: TypeError, message: /plain object, got a Date/ }],
    ['put(class instance)', 'async', () => cards().put(Object.assign(new Point(), { id: 'p' })), { type: TypeError, message: /plain object, got a Point/ }],
    ['put(function)', 'async', () => cards().put(() => ({ id: 'f' })), { type: TypeError, message: /plain object, got a function/ }],
    ['put without id', 'async', () => cards().put({ title: 'x' }), { type: TypeError, message: /has no 'id'/ }],
    ['put with id undefined', 'async', () => cards().put({ id: undefined, title: 'x' }), { type: TypeError, message: /has no 'id'/ }],
    ['put with numeric id', 'async', () => cards().put({ id: 7 }), { type: TypeError, message: /id must be a non-empty string, got a number/ }],
    ['put with empty id', 'async', () => cards().put({ id: '' }), { type: TypeError, message: /id must be a non-empty string.*empty/ }],
    ['put with null id', 'async', () => cards().put({ id: null }), { type: TypeError, message: /id must be a non-empty string, got null/ }],
    ['put with id containing a lone surrogate', 'async', () => cards().put({ id: 'a\uD800' }), { type: TypeError, message: /lone surrogate/ }],
    // put: values inside the document
    ['function value', 'async', () => cards().put({ id: 'v', f() {} }), { type: TypeError, message: /document\.f is a function, which is not a JSON value/ }],
    ['NaN', 'async', () => cards().put({ id: 'v', n: NaN }), { type: TypeError, message: /document\.n is NaN/ }],
    ['Infinity', 'async', () => cards().put({ id: 'v', n: Infinity }), { type: TypeError, message: /document\.n is Infinity/ }],
    ['-Infinity nested', 'async', () => cards().put({ id: 'v', o: { list: [1, -Infinity] } }), { type: TypeError, message: /document\.o\.list\[1\] is -Infinity/ }],
    ['undefined value', 'async', () => cards().put({ id: 'v', u: undefined }), { type: TypeError, message: /document\.u is undefined/ }],
    ['undefined in an array', 'async', () => cards().put({ id: 'v', a: [1, undefined] }), { type: TypeError, message: /document\.a\[1\] is undefined/ }],
    ['Date value', 'async', () => cards().put({ id: 'v', when: new Date(0) }), { type: TypeError, message: /document\.when is a Date, not a plain object.*toISOString/ }],
    ['Map value', 'async', () => cards().put({ id: 'v', m: new Map() }), { type: TypeError, message: /document\.m is a Map, not a plain object/ }],
    ['Set value', 'async', () => cards().put({ id: 'v', m: new Set([1]) }), { type: TypeError, message: /document\.m is a Set/ }],
    ['class instance value', 'async', () => cards().put({ id: 'v', p: new Point() }), { type: TypeError, message: /document\.p is a Point, not a plain object/ }],
    ['typed array value', 'async', () => cards().put({ id: 'v', b: new Uint8Array(2) }), { type: TypeError, message: /document\.b is a Uint8Array/ }],
    ['boxed number', 'async', () => cards().put({ id: 'v', b: Object(1) }), { type: TypeError, message: /document\.b is a Number/ }],
    ['BigInt', 'async', () => cards().put({ id: 'v', b: 10n }), { type: TypeError, message: /document\.b is a bigint/ }],
    ['Symbol', 'async', () => cards().put({ id: 'v', s: Symbol('x') }), { type: TypeError, message: /document\.s is a symbol/ }],
    ['sparse array', 'async', () => cards().put({ id: 'v', a: sparse }), { type: TypeError, message: /document\.a\[1\] is a hole in a sparse array/ }],
    ['new Array(3)', 'async', () => cards().put({ id: 'v', a: new Array(3) }), { type: TypeError, message: /document\.a\[0\] is a hole/ }],
    ['65 levels of objects', 'async', () => cards().put({ id: 'v', d: nest(64) }), { type: RangeError, message: /nests deeper than 64 levels/ }],
    ['100 levels of arrays', 'async', () => cards().put({ id: 'v', d: nest(100, 1, (x) => [x]) }), { type: RangeError, message: /nests deeper than 64 levels/ }],
    ['circular object', 'async', () => cards().put(circular), { type: RangeError, message: /document\.self.*refers to itself/ }],
    ['circular array', 'async', () => cards().put({ id: 'v', a: circularArr }), { type: RangeError, message: /refers to itself/ }],
    ['lone high surrogate in a value', 'async', () => cards().put({ id: 'v', s: 'ab\uD83D' }), { type: TypeError, message: /document\.s is a string with a lone surrogate/ }],
    ['lone low surrogate in a value', 'async', () => cards().put({ id: 'v', s: '\uDE00ab' }), { type: TypeError, message: /lone surrogate/ }],
    ['reversed surrogate pair', 'async', () => cards().put({ id: 'v', s: '\uDE00\uD83D' }), { type: TypeError, message: /lone surrogate/ }],
    ['NaN under an own __proto__ key', 'async', () => cards().put(withOwn({ id: 'v' }, '__proto__', { n: NaN })), { type: TypeError, message: /document\.__proto__\.n is NaN/ }],
    ['function under an own constructor key', 'async', () => cards().put(withOwn({ id: 'v' }, 'constructor', () => 1)), { type: TypeError, message: /document\.constructor is a function/ }],
    ['lone surrogate in a key', 'async', () => cards().put({ id: 'v', ['k\uD800']: 1 }), { type: TypeError, message: /key with a lone surrogate/ }],
    ['document over 1 MiB', 'async', () => cards().put({ id: 'v', s: 'x'.repeat(1_100_000) }), { type: RangeError, code: 'LIMIT_EXCEEDED', message: /larger than the limit/ }],
    // update
    ['update(id, null)', 'async', () => cards().update('a', null), { type: TypeError, message: /cards\.update: fields must be a plain object, got null/ }],
    ['update(id, array)', 'async', () => cards().update('a', [1]), { type: TypeError, message: /fields must be a plain object, got an array/ }],
    ['update(id, Date)', 'async', () => cards().update('a', new Date()), { type: TypeError, message: /fields must be a plain object, got a Date/ }],
    ['update changing id', 'async', () => cards().update('a', { id: 'b' }), { type: TypeError, message: /'id' cannot be changed/ }],
    ['update with NaN', 'async', () => cards().update('a', { n: NaN }), { type: TypeError, message: /fields\.n is NaN/ }],
    ['update with undefined', 'async', () => cards().update('a', { n: undefined }), { type: TypeError, message: /fields\.n is undefined/ }],
    ['update with a function', 'async', () => cards().update('a', { n: () => 1 }), { type: TypeError, message: /fields\.n is a function/ }],
    ['update with numeric id', 'async', () => cards().update(1, { n: 1 }), { type: TypeError, message: /cards\.update: the id must be a non-empty string, got a number/ }],
    ['update with empty id', 'async', () => cards().update('', { n: 1 }), { type: TypeError, message: /update: the id/ }],
    ['update of a missing doc', 'async', () => cards().update('missing', { n: 1 }), { type: SyncoreError, code: 'NOT_FOUND', message: /no document 'missing' in collection 'cards'/ }],
    // delete
    ['delete(undefined)', 'async', () => cards().delete(undefined), { type: TypeError, message: /cards\.delete: the id must be a non-empty string, got undefined/ }],
    ['delete(object)', 'async', () => cards().delete({ id: 'a' }), { type: TypeError, message: /delete: the id.*got an object/ }],
    // increment
    ['increment by NaN', 'async', () => cards().increment('a', 'n', NaN), { type: RangeError, message: /increment: by must be a finite number, got NaN/ }],
    ['increment by Infinity', 'async', () => cards().increment('a', 'n', Infinity), { type: RangeError, message: /by must be a finite number, got Infinity/ }],
    ['increment by a string', 'async', () => cards().increment('a', 'n', '2'), { type: TypeError, message: /by must be a number, got a string/ }],
    ['increment of id', 'async', () => cards().increment('a', 'id'), { type: TypeError, message: /'id' is not a counter/ }],
    ['increment with empty field', 'async', () => cards().increment('a', ''), { type: TypeError, message: /increment: the field must be a non-empty string/ }],
    ['increment with numeric field', 'async', () => cards().increment('a', 3), { type: TypeError, message: /the field.*got a number/ }],
    ['increment of a string field', 'async', () => cards().increment('a', 'title'), { type: TypeError, message: /field 'title' of 'a' holds a string, not a number/ }],
    ['increment of a missing doc', 'async', () => cards().increment('missing', 'n'), { type: SyncoreError, code: 'NOT_FOUND', message: /missing/ }],
    // get / find / count
    ['get(number)', 'sync', () => cards().get(1), { type: TypeError, message: /cards\.get: the id must be a non-empty string, got a number/ }],
    ['get(empty)', 'sync', () => cards().get(''), { type: TypeError, message: /get: the id/ }],
    ['find(number)', 'sync', () => cards().find(3), { type: TypeError, message: /cards\.find: the query must be an object/ }],
    ['find(array)', 'sync', () => cards().find([]), { type: TypeError, message: /query must be an object.*got an array/ }],
    ['find unknown query key', 'sync', () => cards().find({ filter: {} }), { type: TypeError, message: /unknown query key 'filter'/ }],
    ['find unknown operator', 'sync', () => cards().find({ where: { n: { $regex: 'x' } } }), { type: TypeError, message: /unknown query operator '\$regex'/ }],
    ['find $in with a non-array', 'sync', () => cards().find({ where: { n: { $in: 1 } } }), { type: TypeError, message: /\$in on 'n' needs an array/ }],
    ['find where not an object', 'sync', () => cards().find({ where: 'n = 1' }), { type: TypeError, message: /'where' must be an object/ }],
    ['find operators mixed with keys', 'sync', () => cards().find({ where: { n: { $gt: 1, x: 1 } } }), { type: TypeError, message: /mixes operators and plain keys/ }],
    ['find bad orderBy direction', 'sync', () => cards().find({ orderBy: { n: 'up' } }), { type: TypeError, message: /direction of 'n' must be 'asc' or 'desc'/ }],
    ['find orderBy number', 'sync', () => cards().find({ orderBy: 5 }), { type: TypeError, message: /orderBy must be/ }],
    ['find negative limit', 'sync', () => cards().find({ limit: -1 }), { type: TypeError, message: /'limit' must be a non-negative integer/ }],
    ['find fractional limit', 'sync', () => cards().find({ limit: 2.5 }), { type: TypeError, message: /'limit' must be a non-negative integer/ }],
    ['find NaN in where', 'sync', () => cards().find({ where: { n: NaN } }), { type: TypeError, message: /query\.where\.n is NaN/ }],
    ['find undefined in where', 'sync', () => cards().find({ where: { n: undefined } }), { type: TypeError, message: /query\.where\.n is undefined/ }],
    // collection names
    ['collection(undeclared)', 'sync', () => s.collection('cardz'), { type: TypeError, message: /unknown collection 'cardz' \(declared: cards, notes\)/ }],
    ['collection(empty)', 'sync', () => s.collection(''), { type: TypeError, message: /collection name must be a non-empty string/ }],
    ['collection(number)', 'sync', () => s.collection(1), { type: TypeError, message: /collection name.*got a number/ }],
    ['collection(201 chars)', 'sync', () => s.collection('x'.repeat(201)), { type: TypeError, message: /at most 200 characters/ }],
    ['collection(lone surrogate)', 'sync', () => s.collection('c\uDC00'), { type: TypeError, message: /collection name has a lone surrogate/ }],
    // transaction / on / subscribe
    ['transaction(non-function)', 'async', () => s.transaction({}), { type: TypeError, message: /transaction: the argument must be a function, got an object/ }],
    ['transaction with a bad doc', 'async', () => s.transaction((tx) => { tx.collection('cards').put({ id: 't1' }); tx.collection('cards').put({ id: 't2', d: new Date() }); }), { type: TypeError, message: /document\.d is a Date/ }],
    ['transaction on undeclared collection', 'async', () => s.transaction((tx) => { tx.collection('notes').put({ id: 't3' }); tx.collection('nope'); }), { type: TypeError, message: /unknown collection 'nope'/ }],
    ['on(unknown event)', 'sync', () => s.on('update', () => {}), { type: TypeError, message: /store\.on: unknown event 'update' \(expected change, status, conflict, conflicts, outdated, error, presence\)/ }],
    ['on(event, non-function)', 'sync', () => s.on('change', null), { type: TypeError, message: /listener must be a function, got null/ }],
    ['subscribe(non-function)', 'sync', () => cards().subscribe({}, null), { type: TypeError, message: /callback must be a function, got null/ }],
    // conflicts
    ['conflicts.get(number)', 'sync', () => s.conflicts.get(5), { type: TypeError, message: /conflicts\.get: the conflict id must be a non-empty string/ }],
    ['resolve unknown mode', 'async', () => s.conflicts.resolve(conflictId, 'keep_both'), { type: TypeError, message: /conflicts\.resolve: unknown mode 'keep_both'/ }],
    ['resolve mode typo', 'async', () => s.conflicts.resolve(conflictId, 'keepLocal'), { type: TypeError, message: /unknown mode 'keepLocal'/ }],
    ['resolve number mode', 'async', () => s.conflicts.resolve(conflictId, 1), { type: TypeError, message: /resolution must be 'keep_local', 'keep_remote', 'merge' or \{value\}, got a number/ }],
    ['resolve object without value', 'async', () => s.conflicts.resolve(conflictId, { val: 1 }), { type: TypeError, message: /resolution must be.*got an object/ }],
    ['resolve missing mode', 'async', () => s.conflicts.resolve(conflictId), { type: TypeError, message: /resolution must be.*got undefined/ }],
    ['resolve {value: NaN}', 'async', () => s.conflicts.resolve(conflictId, { value: NaN }), { type: TypeError, message: /conflicts\.resolve: value is NaN/ }],
    ['resolve {value: undefined}', 'async', () => s.conflicts.resolve(conflictId, { value: undefined }), { type: TypeError, message: /value is undefined/ }],
    ['resolve {value: Map}', 'async', () => s.conflicts.resolve(conflictId, { value: new Map() }), { type: TypeError, message: /value is a Map/ }],
    ['resolve unknown id', 'async', () => s.conflicts.resolve('0123456789abcdef', 'keep_local'), { type: SyncoreError, code: 'NOT_FOUND', message: /no conflict '0123456789abcdef'/ }],
    ['resolve numeric id', 'async', () => s.conflicts.resolve(5, 'keep_local'), { type: TypeError, message: /conflicts\.resolve: the conflict id/ }],
    ['dismiss unknown id', 'async', () => s.conflicts.dismiss('0123456789abcdef'), { type: SyncoreError, code: 'NOT_FOUND', message: /no conflict/ }],
    ['dismiss numeric id', 'async', () => s.conflicts.dismiss(5), { type: TypeError, message: /conflicts\.dismiss: the conflict id/ }],
    // snapshots
    ['snapshots.create empty label', 'async', () => s.snapshots.create(''), { type: TypeError, message: /snapshots\.create: the label must be a non-empty string/ }],
    ['snapshots.create numeric label', 'async', () => s.snapshots.create(5), { type: TypeError, message: /the label.*got a number/ }],
    ['snapshots.create numeric author', 'async', () => s.snapshots.create('x', { author: 5 }), { type: TypeError, message: /author must be a string/ }],
    ['snapshots.restore unknown id', 'async', () => s.snapshots.restore('ffffffffffffffff'), { type: SyncoreError, code: 'NOT_FOUND', message: /no snapshot 'ffffffffffffffff'/ }],
    ['snapshots.restore numeric id', 'async', () => s.snapshots.restore(5), { type: TypeError, message: /snapshots\.restore: the snapshot id/ }],
    // replication
    ['apply(string)', 'async', () => s.replication.apply('bytes'), { type: TypeError, message: /replication\.apply: expected a Uint8Array, got a string/ }],
    ['apply(array)', 'async', () => s.replication.apply([1, 2, 3]), { type: TypeError, message: /expected a Uint8Array, got an array/ }],
    ['apply(ArrayBuffer)', 'async', () => s.replication.apply(new ArrayBuffer(4)), { type: TypeError, message: /expected a Uint8Array/ }],
    ['apply(garbage)', 'async', () => s.replication.apply(new Uint8Array([1, 2, 3])), { type: SyncoreError, code: 'DECODE' }],
    ['apply(empty)', 'async', () => s.replication.apply(new Uint8Array(0)), { type: SyncoreError, code: 'DECODE', message: /truncated/ }],
    ['apply(truncated batch)', 'async', () => s.replication.apply(peer.replication.encodeState().subarray(0, 20)), { type: SyncoreError, code: 'DECODE' }],
    ['changesSince(array)', 'sync', () => s.replication.changesSince([]), { type: TypeError, message: /changesSince: the vector must be an object/ }],
    ['changesSince bad site', 'sync', () => s.replication.changesSince({ cards: { zz: 1 } }), { type: TypeError, message: /site id must be 32 hex digits, got 'zz'/ }],
    ['changesSince negative seq', 'sync', () => s.replication.changesSince({ cards: { [s.siteId]: -1 } }), { type: TypeError, message: /must be a non-negative integer/ }],
    ['changesSince entry not an object', 'sync', () => s.replication.changesSince({ cards: 3 }), { type: TypeError, message: /entry 'cards' must be an object/ }],
    ['changesSince collections string', 'sync', () => s.replication.changesSince({}, { collections: 'cards' }), { type: TypeError, message: /collections must be an array/ }],
    ['changesSince collections of numbers', 'sync', () => s.replication.changesSince({}, { collections: [1] }), { type: TypeError, message: /collections must be an array of names/ }],
    ['changesSince maxBatchBytes NaN', 'sync', () => s.replication.changesSince({}, { maxBatchBytes: NaN }), { type: RangeError, message: /maxBatchBytes must be a finite number, got NaN/ }],
    ['changesSince maxBatchBytes negative', 'sync', () => s.replication.changesSince({}, { maxBatchBytes: -1 }), { type: RangeError, message: /maxBatchBytes must be >= 0/ }],
    ['changesSince maxBatchBytes string', 'sync', () => s.replication.changesSince({}, { maxBatchBytes: '10' }), { type: TypeError, message: /maxBatchBytes must be a number/ }],
  ];

  test('each bad call fails as documented and leaves data, conflicts, snapshots and events untouched', async () => {
    const list = cases();
    assert.ok(list.length > 100);
    const failures = [];
    for (const [label, kind, call, expected] of list) {
      const fp = fingerprint(s, names);
      const eventsBefore = changeEvents.length;
      try {
        if (kind === 'async') await rejectsWith(call, expected);
        else throwsWith(call, expected);
        assert.equal(fingerprint(s, names), fp, 'something was written');
        assert.equal(changeEvents.length, eventsBefore, 'a change event was emitted');
      } catch (err) {
        failures.push(`${label}: ${err.message}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(s.conflicts.get(conflictId), 'the conflict record is still there');
    assert.deepEqual(s.snapshots.list().map((x) => x.id), [snapshotId]);
  });

  test('the store works normally after all those failures', async () => {
    await cards().put({ id: 'after', v: 1 });
    assert.deepEqual(cards().get('after'), { id: 'after', v: 1 });
    await s.conflicts.resolve(conflictId, 'keep_local');
    await syncAll(s, peer);
    assert.equal(s.replication.stateHash(), peer.replication.stateHash());
    assert.deepEqual(peer.conflicts.list(), []);
  });
});

// ------------------------------------------------------------------------------------------ __proto__ and constructor
describe('__proto__ and constructor keys are plain data', () => {
  const protoNames = () => Object.getOwnPropertyNames(Object.prototype).sort().join();
  let protoBefore;
  before(() => {
    protoBefore = protoNames();
  });
  const untouched = () => {
    assert.equal(protoNames(), protoBefore, 'Object.prototype gained or lost properties');
    assert.equal({}.polluted, undefined);
    assert.equal({}.x, undefined);
    assert.equal(Object.prototype.polluted, undefined);
    assert.equal(typeof {}.constructor, 'function');
    assert.equal({}.constructor, Object);
  };
  const own = (o, k) => Object.getOwnPropertyDescriptor(o, k)?.value;

  test('JSON.parse documents with __proto__ and constructor are stored and read back as own data', async () => {
    await withStores(1, async (s) => {
      const c = s.collection('c');
      const doc = JSON.parse('{"id":"p","__proto__":{"polluted":true,"x":1},"constructor":{"prototype":{"polluted":true}},"nested":{"__proto__":{"polluted":1}}}');
      await c.put(doc);
      const back = c.get('p');
      assert.equal(Object.getPrototypeOf(back), Object.prototype);
      assert.deepEqual(Object.keys(back).sort(), ['__proto__', 'constructor', 'id', 'nested']);
      assert.deepEqual(own(back, '__proto__'), { polluted: true, x: 1 });
      assert.deepEqual(own(back, 'constructor'), { prototype: { polluted: true } });
      assert.deepEqual(own(back.nested, '__proto__'), { polluted: 1 });
      assert.equal(back.polluted, undefined, 'the __proto__ value did not become the prototype');
      assert.equal(back.x, undefined);
      assert.deepEqual(back, doc);
      untouched();

      // find, where on the key, update of the key
      const [found] = c.find({ where: JSON.parse('{"__proto__":{"polluted":true,"x":1}}') });
      assert.equal(found?.id, 'p');
      assert.equal(Object.getPrototypeOf(found), Object.prototype);
      await c.update('p', JSON.parse('{"__proto__":{"y":2},"constructor":"just a string"}'));
      const upd = c.get('p');
      assert.deepEqual(own(upd, '__proto__'), { y: 2 });
      assert.equal(own(upd, 'constructor'), 'just a string');
      assert.equal(Object.getPrototypeOf(upd), Object.prototype);
      assert.deepEqual(c.find({ orderBy: '__proto__' }).map((d) => d.id), ['p']);
      untouched();
    });
  });

  test('keys created with Object.defineProperty, in a transaction, a live query and a replica', async () => {
    await withStores(2, async (a, b) => {
      const doc = { id: 'q' };
      Object.defineProperty(doc, '__proto__', { value: { polluted: 'yes' }, enumerable: true, configurable: true, writable: true });
      Object.defineProperty(doc, 'constructor', { value: { name: 'Evil' }, enumerable: true, configurable: true, writable: true });
      assert.equal(Object.getPrototypeOf(doc), Object.prototype);
      const live = [];
      a.collection('c').subscribe((docs) => live.push(docs));
      const seen = await a.transaction((tx) => {
        tx.collection('c').put(doc);
        return tx.collection('c').get('q');
      });
      assert.deepEqual(own(seen, '__proto__'), { polluted: 'yes' }, 'tx.get');
      assert.equal(Object.getPrototypeOf(seen), Object.prototype);
      await tick();
      const [fromLive] = live.at(-1);
      assert.deepEqual(own(fromLive, '__proto__'), { polluted: 'yes' }, 'subscribe');
      assert.deepEqual(own(fromLive, 'constructor'), { name: 'Evil' });
      assert.equal(fromLive.polluted, undefined);

      await syncAll(a, b);
      const remote = b.collection('c').get('q');
      assert.deepEqual(own(remote, '__proto__'), { polluted: 'yes' }, 'replicated');
      assert.equal(Object.getPrototypeOf(remote), Object.prototype);
      assert.equal(remote.polluted, undefined);
      untouched();
    });
  });

  test("collections and ids named '__proto__' / 'constructor' / 'hasOwnProperty' are ordinary", async () => {
    await withStores(1, async (s) => {
      for (const name of ['__proto__', 'constructor', 'hasOwnProperty', 'toString']) {
        await s.collection(name).put({ id: name, v: name });
        await s.collection('plain').put({ id: name, v: name });
      }
      for (const name of ['__proto__', 'constructor', 'hasOwnProperty', 'toString']) {
        assert.deepEqual(s.collection(name).get(name), { id: name, v: name });
        assert.equal(s.collection(name).count(), 1);
        assert.deepEqual(s.collection('plain').get(name), { id: name, v: name });
      }
      assert.equal(s.collection('plain').count(), 4);
      assert.equal(s.collection('other').get('__proto__'), null);
      assert.equal(s.collection('other').get('constructor'), null);
      await s.collection('plain').increment('__proto__', '__proto__', 2);
      assert.equal(own(s.collection('plain').get('__proto__'), '__proto__'), 2);
      untouched();
    });
  });

  test('a __proto__ field in conflict records, resolutions and snapshots stays data', async () => {
    const collections = { cards: { conflicts: 'manual' } };
    const a = await mem({ collections });
    const b = await mem({ collections });
    try {
      await a.collection('cards').put(JSON.parse('{"id":"x","__proto__":{"a":1}}'));
      await syncAll(a, b);
      const snap = await a.snapshots.create('proto');
      await a.collection('cards').update('x', JSON.parse('{"__proto__":{"a":2,"polluted":true}}'));
      await sleep(2);
      await b.collection('cards').update('x', JSON.parse('{"__proto__":{"b":3}}'));
      await syncAll(a, b);
      const [r] = a.conflicts.list();
      assert.equal(r.field, '__proto__');
      assert.deepEqual(r.local.value, { a: 2, polluted: true });
      assert.deepEqual(r.remote.value, { b: 3 });
      await a.conflicts.resolve(r.id, 'merge');
      const merged = own(a.collection('cards').get('x'), '__proto__');
      assert.equal(merged.b, 3);
      assert.equal(merged.polluted, true);
      untouched();
      await a.snapshots.restore(snap.id);
      assert.deepEqual(own(a.collection('cards').get('x'), '__proto__'), { a: 1 });
      await syncAll(a, b);
      assert.deepEqual(own(b.collection('cards').get('x'), '__proto__'), { a: 1 });
      assert.equal(a.replication.stateHash(), b.replication.stateHash());
      untouched();
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('an object whose real prototype was replaced is refused, not flattened', async () => {
    await withStores(1, async (s) => {
      await rejectsWith(() => s.collection('c').put({ id: 'lit', __proto__: { evil: 1 } }), { type: TypeError, message: /plain object/ });
      await rejectsWith(() => s.collection('c').put({ id: 'v', inner: Object.create({ evil: 1 }) }), { type: TypeError, message: /document\.inner.*not a plain object/ });
      assert.equal(s.collection('c').count(), 0);
      // objects without a prototype are plain data
      await s.collection('c').put(Object.assign(Object.create(null), { id: 'np', v: 1 }));
      assert.deepEqual(s.collection('c').get('np'), { id: 'np', v: 1 });
      untouched();
    });
  });
});

// ------------------------------------------------------------------------------------------ failures that reach the core
describe('many failures inside the WebAssembly core', () => {
  test('1,000 failing calls of each kind in a row, then the module and the store are healthy', async () => {
    await seeded(1, async (rnd) => {
      const a = await mem({ collections: { c: { conflicts: 'manual' } } });
      const b = await mem({ collections: { c: { conflicts: 'manual' } } });
      try {
        const c = a.collection('c');
        for (let i = 0; i < 10; i++) await c.put({ id: `d${i}`, n: i, pad: 'y'.repeat(200) });
        const fp = fingerprint(a, ['c']);
        const N = 1000;
        for (let i = 0; i < N; i++) {
          await rejectsWith(() => c.update(`missing-${i}`, { n: i }), { type: SyncoreError, code: 'NOT_FOUND' });
        }
        for (let i = 0; i < N; i++) {
          const bytes = new Uint8Array(1 + Math.floor(rnd() * 64));
          for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rnd() * 256);
          await rejectsWith(() => a.replication.apply(bytes), { type: SyncoreError, code: 'DECODE' });
        }
        for (let i = 0; i < N; i++) {
          await rejectsWith(() => c.increment(`missing-${i}`, 'n'), { type: SyncoreError, code: 'NOT_FOUND' });
          throwsWith(() => c.find({ where: { n: { $nope: i } } }), { type: TypeError, message: /unknown query operator/ });
        }
        for (let i = 0; i < 10; i++) {
          // a transaction that fails inside the core after a successful first operation (1 MiB strings: a few suffice)
          await rejectsWith(
            () => a.transaction((tx) => {
              tx.collection('c').put({ id: `tx-${i}` });
              tx.collection('c').put({ id: 'huge', s: 'z'.repeat(1_048_577) });
            }),
            { type: RangeError, code: 'LIMIT_EXCEEDED' },
          );
        }
        assert.equal(fingerprint(a, ['c']), fp, 'failed calls wrote something');
        // working calls afterwards
        await c.put({ id: 'after', v: 'ok' });
        await c.increment('d1', 'n', 10);
        assert.deepEqual(c.get('after'), { id: 'after', v: 'ok' });
        assert.equal(c.get('d1').n, 11);
        assert.equal(c.count(), 11);
        assert.deepEqual(c.find({ where: { n: { $gte: 9 } }, orderBy: 'n' }).map((d) => d.id), ['d9', 'd1']);
        await syncAll(a, b);
        assert.equal(a.replication.stateHash(), b.replication.stateHash());
        assert.deepEqual(b.collection('c').find(), c.find());
        // a brand-new store on the same module works too
        const fresh = await mem();
        await fresh.collection('z').put({ id: 'z' });
        assert.equal(fresh.collection('z').count(), 1);
        await fresh.close();
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
});

// ------------------------------------------------------------------------------------------ close
describe('close', () => {
  async function closedStore() {
    const [a, b] = await conflictPair();
    await syncAll(a, b);
    const conflictId = a.conflicts.list()[0].id;
    const snapshotId = (await a.snapshots.create('s')).id;
    const batch = b.replication.changesSince({})[0];
    const c = a.collection('cards');
    await a.close();
    await b.close();
    return { a, c, conflictId, snapshotId, batch };
  }

  test('close resolves, twice is harmless, and every write afterwards rejects with SyncoreError CLOSED', async () => {
    const { a, c, conflictId, snapshotId, batch } = await closedStore();
    await a.close();
    const closed = { type: SyncoreError, code: 'CLOSED', message: /closed/ };
    await rejectsWith(() => c.put({ id: 'z' }), closed);
    await rejectsWith(() => c.update('c1', { v: 1 }), closed);
    await rejectsWith(() => c.delete('c1'), closed);
    await rejectsWith(() => c.increment('c1', 'n'), closed);
    await rejectsWith(() => a.transaction(() => 1), closed);
    await rejectsWith(() => a.conflicts.resolve(conflictId, 'keep_local'), closed);
    await rejectsWith(() => a.conflicts.dismiss(conflictId), closed);
    await rejectsWith(() => a.snapshots.create('after'), closed);
    await rejectsWith(() => a.snapshots.restore(snapshotId), closed);
    await rejectsWith(() => a.replication.apply(batch), closed);
  });

  test('every read afterwards throws (an Error that says the store is closed)', async () => {
    const { a, c, conflictId } = await closedStore();
    const reads = {
      get: () => c.get('c1'),
      find: () => c.find(),
      count: () => c.count(),
      siteId: () => a.siteId,
      'conflicts.list': () => a.conflicts.list(),
      'conflicts.get': () => a.conflicts.get(conflictId),
      'snapshots.list': () => a.snapshots.list(),
      'replication.siteId': () => a.replication.siteId(),
      'replication.vector': () => a.replication.vector(),
      'replication.changesSince': () => a.replication.changesSince({}),
      'replication.stateHash': () => a.replication.stateHash(),
      'replication.encodeState': () => a.replication.encodeState(),
    };
    for (const [name, read] of Object.entries(reads)) {
      assert.throws(read, (err) => err instanceof Error && /closed/.test(err.message), `${name} after close`);
    }
  });

  test('reads after close throw the same SyncoreError CLOSED as writes (not a TypeError for a bad argument)', async () => {
    const { a, c } = await closedStore();
    const closed = { type: SyncoreError, code: 'CLOSED', message: /closed/ };
    throwsWith(() => c.get('c1'), closed);
    throwsWith(() => c.find(), closed);
    throwsWith(() => c.count(), closed);
    throwsWith(() => a.conflicts.list(), closed);
    throwsWith(() => a.snapshots.list(), closed);
    throwsWith(() => a.replication.stateHash(), closed);
  });

  test('subscribe after close throws instead of silently registering a dead subscription', async () => {
    const { a, c } = await closedStore();
    const calls = [];
    const errors = [];
    a.on('error', (e) => errors.push(e));
    assert.throws(() => c.subscribe((docs) => calls.push(docs)), (err) => err instanceof Error && /closed/.test(err.message));
    assert.deepEqual(calls, []);
  });

  test('flush after close resolves; a closed store stops live queries', async () => {
    const s = await mem();
    const calls = [];
    s.collection('c').subscribe((d) => calls.push(d));
    const p = s.collection('c').put({ id: 'x' }); // refresh is queued, then the store closes
    await s.close();
    await p;
    await tick();
    await s.flush();
    assert.deepEqual(calls, [[]], 'only the first call, made by subscribe itself');
  });
});

// ------------------------------------------------------------------------------------------ randomized
describe('randomized (seeded)', () => {
  function randomJson(rnd, depth = 0) {
    const r = rnd();
    if (depth > 4 || r < 0.45) {
      const k = Math.floor(rnd() * 7);
      if (k === 0) return null;
      if (k === 1) return rnd() < 0.5;
      if (k === 2) return Math.floor(rnd() * 2_000_001) - 1_000_000;
      if (k === 3) return (rnd() - 0.5) * 10 ** Math.floor(rnd() * 20 - 10);
      if (k === 4) return randomString(rnd);
      if (k === 5) return Number.MAX_SAFE_INTEGER - Math.floor(rnd() * 100);
      return '';
    }
    if (r < 0.7) return Array.from({ length: Math.floor(rnd() * 5) }, () => randomJson(rnd, depth + 1));
    const o = {};
    const n = Math.floor(rnd() * 5);
    for (let i = 0; i < n; i++) {
      const key = rnd() < 0.15 ? ['__proto__', 'constructor', 'id', '', 'toString'][Math.floor(rnd() * 5)] : randomString(rnd);
      Object.defineProperty(o, key, { value: randomJson(rnd, depth + 1), enumerable: true, configurable: true, writable: true });
    }
    return o;
  }
  function randomString(rnd) {
    const alphabet = ['a', 'b', 'Z', ' ', 'é', 'ß', '✓', '😀', '\u0000', '"', '\\', '\n', '中', '\u{10FFFF}'];
    let s = '';
    const n = Math.floor(rnd() * 8);
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    return s;
  }

  test('random JSON documents round-trip exactly through put/get, find and replication', async () => {
    await seeded(2, async (rnd) => {
      await withStores(2, async (a, b) => {
        const expected = new Map();
        for (let i = 0; i < 150; i++) {
          const doc = randomJson(rnd);
          const d = doc && typeof doc === 'object' && !Array.isArray(doc) ? doc : { v: doc };
          Object.defineProperty(d, 'id', { value: `doc-${i}-${randomString(rnd)}`, enumerable: true, configurable: true, writable: true });
          await a.collection('r').put(d);
          expected.set(d.id, JSON.parse(JSON.stringify(d)));
          assert.deepEqual(a.collection('r').get(d.id), expected.get(d.id));
        }
        await syncAll(a, b);
        for (const [id, d] of expected) assert.deepEqual(b.collection('r').get(id), d, `replica copy of ${JSON.stringify(id)}`);
        assert.equal(b.collection('r').count(), expected.size);
        assert.equal(a.replication.stateHash(), b.replication.stateHash());
        assert.equal(Object.prototype.polluted, undefined);
      });
    });
  });

  test('three replicas with random writes and random partial syncs converge (hashes, documents, counters)', async () => {
    await seeded(3, async (rnd) => {
      const collections = { m: { conflicts: 'manual' }, l: {}, k: {} };
      const stores = [await mem({ collections }), await mem({ collections }), await mem({ collections })];
      try {
        await stores[0].collection('k').put({ id: 'counter', total: 0 });
        await syncAll(...stores);
        let incremented = 0;
        const pick = (arr) => arr[Math.floor(rnd() * arr.length)];
        for (let step = 0; step < 300; step++) {
          const s = pick(stores);
          const coll = s.collection(pick(['m', 'l']));
          const id = `d${Math.floor(rnd() * 6)}`;
          const op = rnd();
          if (op < 0.3) await coll.put({ id, a: Math.floor(rnd() * 100), b: randomString(rnd) });
          else if (op < 0.55) {
            if (coll.get(id)) await coll.update(id, { [pick(['a', 'b', 'c'])]: Math.floor(rnd() * 100) });
          } else if (op < 0.65) await coll.delete(id);
          else if (op < 0.8) {
            const by = Math.floor(rnd() * 10) - 3;
            await s.collection('k').increment('counter', 'total', by);
            incremented += by;
          } else {
            const [x, y] = [pick(stores), pick(stores)];
            if (x !== y) await push(x, y);
          }
          if (rnd() < 0.03) await sleep(1);
        }
        await syncAll(...stores);
        const hashes = stores.map((s) => s.replication.stateHash());
        assert.equal(new Set(hashes).size, 1, `state hashes differ: ${hashes}`);
        for (const name of ['m', 'l', 'k']) {
          const docs = stores.map((s) => JSON.stringify(s.collection(name).find({ orderBy: 'id' })));
          assert.equal(new Set(docs).size, 1, `collection ${name} differs`);
        }
        for (const s of stores) assert.equal(s.collection('k').get('counter').total, incremented);
        for (const s of stores) for (const r of s.conflicts.list()) assert.equal(r.collection, 'm', 'records only in the manual collection');
        // resolving every record everywhere and syncing leaves no records and equal hashes
        for (const s of stores) for (const r of s.conflicts.list()) if (s.conflicts.get(r.id)) await s.conflicts.resolve(r.id, 'keep_remote');
        await syncAll(...stores);
        assert.equal(new Set(stores.map((s) => s.replication.stateHash())).size, 1);
      } finally {
        for (const s of stores) await s.close();
      }
    });
  });
});
