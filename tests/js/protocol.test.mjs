// node:test suite for js/protocol.mjs: sync-protocol frames (docs/PROTOCOL.md) encoded and decoded by the
// core, and the change-set helpers (clock skew, row counts). Run: node --test tests/js/
// Randomized parts take SYNCORE_SEED (printed on failure).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadCore } from '../../js/core.mjs';
import { SyncoreError } from '../../js/index.mjs';
import {
  PROTOCOL_VERSION, changeSetInfo, checkClockSkew, decodeFrame, encodeFrame,
} from '../../js/protocol.mjs';
import { mem, seeded, throwsWith } from './helpers.mjs';

// ------------------------------------------------------------------------------------------ helpers
// A minimal MessagePack writer, for hand-made bad frames only (the package itself never builds frames).
function mp(v) {
  const out = [];
  const str = (s) => {
    const b = new TextEncoder().encode(s);
    if (b.length < 32) out.push(0xa0 | b.length);
    else out.push(0xd9, b.length);
    out.push(...b);
  };
  const put = (x) => {
    if (x === null) out.push(0xc0);
    else if (x === true || x === false) out.push(x ? 0xc3 : 0xc2);
    else if (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < 128) out.push(x);
    else if (typeof x === 'number' && Number.isInteger(x) && x < 0 && x >= -32) out.push(x & 0xff);
    else if (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffffffff) out.push(0xce, x >>> 24, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff);
    else if (typeof x === 'string') str(x);
    else if (x instanceof Uint8Array) out.push(0xc4, x.length, ...x);
    else if (Array.isArray(x)) {
      out.push(0x90 | x.length);
      x.forEach(put);
    } else {
      const keys = Object.keys(x);
      out.push(0x80 | keys.length);
      for (const k of keys) {
        str(k);
        put(x[k]);
      }
    }
  };
  put(v);
  return new Uint8Array(out);
}

const SITE = '0123456789abcdef0123456789abcdef';
const SITE_BIN = Uint8Array.from(SITE.match(/../g), (h) => parseInt(h, 16));

function decodeError(message) {
  return { type: SyncoreError, code: 'DECODE', message };
}

// ------------------------------------------------------------------------------------------ fixtures
let m;
let store;
let changes; // the store's whole state as one change set (3 documents in 2 collections)

before(async () => {
  m = await loadCore();
  store = await mem({ collections: { notes: {}, tasks: {} } });
  await store.collection('notes').put({ id: 'n1', title: 'first', tags: ['a', 'b'] });
  await store.collection('notes').put({ id: 'n2', title: 'second ✓', n: 2 });
  await store.collection('tasks').put({ id: 't1', done: false });
  const batches = store.replication.changesSince({});
  assert.equal(batches.length, 1);
  changes = batches[0];
});

after(async () => {
  await store?.close();
});

// ------------------------------------------------------------------------------------------ round trips
describe('encodeFrame / decodeFrame round trips', () => {
  test('the protocol version matches the core', () => {
    const msg = decodeFrame(m, encodeFrame(m, { t: 'hello', site: SITE, have: {} }));
    assert.equal(msg.v, PROTOCOL_VERSION);
  });

  test('every frame type comes back as it went in', () => {
    const have = store.replication.vector();
    assert.ok(Object.keys(have).length === 2, 'the fixture has a vector for both collections');
    const frames = [
      { t: 'hello', v: PROTOCOL_VERSION, site: store.siteId, schema: 3, have, collections: ['notes', 'tasks'], token: 'secret.jwt.token' },
      { t: 'hello', v: PROTOCOL_VERSION, site: SITE, schema: 0, have: {}, collections: [], token: '' },
      { t: 'hello', v: 7, site: SITE, schema: 4294967295, have: {}, collections: [], token: '' }, // another version: decoded, left to the relay
      { t: 'changes', batch: 1, data: changes },
      { t: 'changes', batch: Number.MAX_SAFE_INTEGER, data: changes },
      { t: 'ack', batch: 0 },
      { t: 'ack', batch: 42 },
      { t: 'end', have },
      { t: 'end', have: {} },
      { t: 'presence', site: SITE, state: { cursor: { x: 1.5, y: -2 }, name: 'Zoë', sel: [1, 2, null], on: true } },
      { t: 'presence', site: store.siteId, state: null },
      { t: 'presence', site: SITE, state: 'typing' },
      { t: 'error', code: 'unauthorized', message: 'token expired', fatal: true, batch: 0 },
      { t: 'error', code: 'too-large', message: 'batch 3 is over the limit', fatal: false, batch: 3 },
    ];
    for (const f of frames) {
      const bytes = encodeFrame(m, f);
      assert.ok(bytes instanceof Uint8Array && bytes.length > 0);
      assert.deepEqual(decodeFrame(m, bytes), f, `frame ${JSON.stringify({ ...f, data: undefined })}`);
    }
  });

  test('absent optional fields get their defaults', () => {
    const cases = [
      [{ t: 'hello', site: SITE, have: {} }, { t: 'hello', v: PROTOCOL_VERSION, site: SITE, schema: 0, have: {}, collections: [], token: '' }],
      [{ t: 'error', code: 'x', message: 'y' }, { t: 'error', code: 'x', message: 'y', fatal: false, batch: 0 }],
      [{ t: 'hello', site: SITE, have: {}, token: undefined, collections: undefined }, { t: 'hello', v: PROTOCOL_VERSION, site: SITE, schema: 0, have: {}, collections: [], token: '' }],
    ];
    for (const [sent, got] of cases) assert.deepEqual(decodeFrame(m, encodeFrame(m, sent)), got);
  });

  test('a changes frame carries a store\'s change set byte for byte, and it applies', async () => {
    const msg = decodeFrame(m, encodeFrame(m, { t: 'changes', batch: 9, data: changes }));
    assert.ok(msg.data instanceof Uint8Array);
    assert.deepEqual(Buffer.from(msg.data), Buffer.from(changes));
    const other = await mem({ collections: { notes: {}, tasks: {} } });
    try {
      const r = await other.replication.apply(msg.data);
      assert.ok(r.rowsApplied > 0);
      assert.equal(other.replication.stateHash(), store.replication.stateHash());
    } finally {
      await other.close();
    }
  });

  test('a single put\'s change set travels too', async () => {
    const s = await mem();
    try {
      await s.collection('c').put({ id: 'x', v: 1 });
      const [bytes] = s.replication.changesSince({});
      const msg = decodeFrame(m, encodeFrame(m, { t: 'changes', batch: 1, data: bytes }));
      assert.deepEqual(Buffer.from(msg.data), Buffer.from(bytes));
      const info = changeSetInfo(m, msg.data);
      assert.deepEqual(info, { ...changeSetInfo(m, bytes), collections: { c: info.rows }, docs: 1, largestDoc: 'c/x' });
      // about the document's JSON length ({"id":"x","v":1} is 16 characters)
      assert.ok(info.largestDocBytes >= 12 && info.largestDocBytes <= 32, `largestDocBytes ${info.largestDocBytes}`);
    } finally {
      await s.close();
    }
  });

  test('the hello site and have use the same hex / vector shapes as the store', () => {
    const have = store.replication.vector();
    const msg = decodeFrame(m, encodeFrame(m, { t: 'end', have }));
    assert.deepEqual(msg.have, have);
    assert.deepEqual(store.replication.changesSince(msg.have), []);
  });
});

// ------------------------------------------------------------------------------------------ bad frames
describe('decodeFrame refuses bad input, naming the problem', () => {
  const ack = () => encodeFrame(m, { t: 'ack', batch: 5 });
  const table = [
    ['empty input', () => new Uint8Array(0), /MessagePack|truncated|end of/i],
    ['a number, not a map', () => mp(7), /not a MessagePack map/],
    ['an array, not a map', () => mp([1, 2]), /not a MessagePack map/],
    ['a map without t', () => mp({ batch: 1 }), /without 't'/],
    ['t not a string', () => mp({ t: 5 }), /'t' must be a string/],
    ['unknown t', () => mp({ t: 'bogus', batch: 1 }), /unknown frame type 'bogus'/],
    ['ack without batch', () => mp({ t: 'ack' }), /ack frame without 'batch'/],
    ['ack batch a string', () => mp({ t: 'ack', batch: '1' }), /'batch' must be a non-negative integer/],
    ['ack batch negative', () => mp({ t: 'ack', batch: -1 }), /'batch' must be a non-negative integer/],
    ['changes data a string', () => mp({ t: 'changes', batch: 1, data: 'xx' }), /'data' must be binary/],
    ['changes data not a change set', () => mp({ t: 'changes', batch: 1, data: new Uint8Array([9, 1, 2]) }), /not a change set/],
    ['hello site a string', () => mp({ t: 'hello', v: 1, site: SITE, schema: 0, have: {}, collections: [] }), /'site' must be 16 bytes of binary/],
    ['hello have an array', () => mp({ t: 'hello', v: 1, site: SITE_BIN, schema: 0, have: [], collections: [] }), /'have' must be a map/],
    ['hello collections a string', () => mp({ t: 'hello', v: 1, site: SITE_BIN, schema: 0, have: {}, collections: 'notes' }), /'collections' must be an array/],
    ['hello without collections', () => mp({ t: 'hello', v: 1, site: SITE_BIN, schema: 0, have: {} }), /hello frame without 'collections'/],
    ['presence without state', () => mp({ t: 'presence', site: SITE_BIN }), /presence frame without 'state'/],
    ['error fatal a number', () => mp({ t: 'error', code: 'x', message: 'y', fatal: 1 }), /'fatal' must be a boolean/],
    ['trailing bytes', () => Uint8Array.from([...ack(), 0]), /trailing bytes/],
    ['an unsupported type byte', () => Uint8Array.from([0xc1]), /unsupported MessagePack type byte/],
    ['nesting deeper than 32 levels', () => {
      let state = 1;
      for (let i = 0; i < 40; i++) state = [state];
      return mp({ t: 'presence', site: SITE_BIN, state });
    }, /deeper than 32/],
  ];
  for (const [name, make, message] of table) {
    test(name, () => {
      throwsWith(() => decodeFrame(m, make()), decodeError(message));
    });
  }

  test('every truncation of every frame type', () => {
    const frames = [
      { t: 'hello', site: store.siteId, have: store.replication.vector(), collections: ['notes'], token: 't' },
      { t: 'changes', batch: 300, data: changes },
      { t: 'ack', batch: 70000 },
      { t: 'end', have: store.replication.vector() },
      { t: 'presence', site: SITE, state: { a: [1, 'two'] } },
      { t: 'error', code: 'c', message: 'm', fatal: true, batch: 2 },
    ];
    for (const f of frames) {
      const bytes = encodeFrame(m, f);
      for (let n = 0; n < bytes.length; n++) {
        throwsWith(() => decodeFrame(m, bytes.subarray(0, n)), decodeError(/\S/));
      }
    }
  });

  test('random bytes', () => seeded(11, (rnd) => {
    for (let i = 0; i < 500; i++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256));
      throwsWith(() => decodeFrame(m, bytes), decodeError(/\S/));
    }
  }));

  test('random bytes inside a valid-looking map', () => seeded(12, (rnd) => {
    for (let i = 0; i < 300; i++) {
      const junk = Array.from({ length: 1 + Math.floor(rnd() * 24) }, () => Math.floor(rnd() * 256));
      // {t: "changes", batch: <junk...>}
      const bytes = Uint8Array.from([...mp({ t: 'changes' })].map((b, j) => (j === 0 ? 0x82 : b)).concat([0xa5, ...new TextEncoder().encode('batch'), ...junk]));
      throwsWith(() => decodeFrame(m, bytes), decodeError(/\S/));
    }
  }));

  test('not a Uint8Array', () => {
    for (const bad of [null, undefined, 'text', [1, 2], new ArrayBuffer(2)]) {
      throwsWith(() => decodeFrame(m, bad), { type: TypeError, message: /decodeFrame: expected a Uint8Array/ });
    }
  });
});

describe('encodeFrame refuses bad frames, naming the field', () => {
  const table = [
    [{}, /t must be one of hello, changes, ack, end, presence, error/],
    [{ t: 'nope' }, /t must be one of/],
    [{ t: 7 }, /t must be one of/],
    [{ t: 'ack' }, /frame 'ack': batch must be a non-negative integer/],
    [{ t: 'ack', batch: -1 }, /frame 'ack': batch must be a non-negative integer/],
    [{ t: 'ack', batch: 1.5 }, /frame 'ack': batch must be a non-negative integer/],
    [{ t: 'ack', batch: '3' }, /frame 'ack': batch must be a non-negative integer/],
    [{ t: 'changes', batch: 1 }, /frame 'changes' data: expected a Uint8Array/],
    [{ t: 'changes', data: new Uint8Array([1]) }, /frame 'changes': batch must be a non-negative integer/],
    [{ t: 'changes', batch: 1, data: new Uint8Array([9, 9]) }, /frame 'changes': data must be an encoded change set/],
    [{ t: 'changes', batch: 1, data: new Uint8Array(0) }, /frame 'changes': data must be an encoded change set/],
    [{ t: 'hello', have: {} }, /frame 'hello': site must be 32 hex digits/],
    [{ t: 'hello', site: 12, have: {} }, /frame 'hello': site must be 32 hex digits/],
    [{ t: 'hello', site: 'abc', have: {} }, /site id must be 32 hex digits/],
    [{ t: 'hello', site: '0'.repeat(32), have: {} }, /frame 'hello': site must be a site id other than zero/],
    [{ t: 'hello', site: SITE }, /frame 'hello': have must be an object/],
    [{ t: 'hello', site: SITE, have: [] }, /frame 'hello': have must be an object/],
    [{ t: 'hello', site: SITE, have: { notes: { [SITE]: -1 } } }, /sync vector seq for site/],
    [{ t: 'hello', site: SITE, have: {}, v: 'one' }, /frame 'hello': v must be an integer in 0..2\^32-1/],
    [{ t: 'hello', site: SITE, have: {}, schema: 2 ** 32 }, /frame 'hello': schema must be an integer in 0..2\^32-1/],
    [{ t: 'hello', site: SITE, have: {}, collections: 'notes' }, /frame 'hello': collections must be an array of names/],
    [{ t: 'hello', site: SITE, have: {}, collections: [1] }, /frame 'hello': collections must be an array of names/],
    [{ t: 'hello', site: SITE, have: {}, collections: [''] }, /frame 'hello': empty collection name/],
    [{ t: 'hello', site: SITE, have: {}, token: 5 }, /frame 'hello': token must be a string/],
    [{ t: 'end' }, /frame 'end': have must be an object/],
    [{ t: 'presence', state: 1 }, /frame 'presence': site must be 32 hex digits/],
    [{ t: 'presence', site: SITE }, /frame 'presence': state must be present/],
    [{ t: 'error', message: 'm' }, /frame 'error': code must be a string/],
    [{ t: 'error', code: 'x' }, /frame 'error': message must be a string/],
    [{ t: 'error', code: 'x', message: 'm', fatal: 'yes' }, /frame 'error': fatal must be a boolean/],
    [{ t: 'error', code: 'x', message: 'm', batch: -2 }, /frame 'error': batch must be a non-negative integer/],
    [{ t: 'error', code: 'x', message: 'm'.repeat(5000) }, /frame 'error': 'message' is too long/],
    [{ t: 'ack', batch: 1, data: new Uint8Array([1]) }, /frame 'ack' carries no data/],
  ];
  for (const [frame, message] of table) {
    test(JSON.stringify(frame).slice(0, 90), () => {
      throwsWith(() => encodeFrame(m, frame), { type: TypeError, code: 'INVALID_ARGUMENT', message });
    });
  }

  test('a presence state nested too deep for the peer to read is refused at encode', () => {
    let state = 1;
    for (let i = 0; i < 40; i++) state = { a: state };
    throwsWith(() => encodeFrame(m, { t: 'presence', site: SITE, state }), { type: TypeError, message: /frame 'presence'/ });
  });

  test('not an object', () => {
    for (const bad of [null, 'hello', [{ t: 'ack', batch: 1 }]]) {
      throwsWith(() => encodeFrame(m, bad), { type: TypeError, message: /encodeFrame: the frame must be an object/ });
    }
  });
});

// ------------------------------------------------------------------------------------------ change sets
describe('checkClockSkew', () => {
  test('refuses a change set stamped an hour ahead with a 60 s limit, accepts it with 2 hours', () => {
    // The store has no injectable clock: its real stamps, seen from an hour in the past.
    const hourAgo = Date.now() - 3600_000;
    throwsWith(() => checkClockSkew(m, changes, hourAgo, 60_000), { type: SyncoreError, code: 'CLOCK_SKEW', message: /ms in the future \(the limit is 60000 ms\)/ });
    assert.equal(checkClockSkew(m, changes, hourAgo, 7200_000), undefined);
    assert.equal(checkClockSkew(m, changes, Date.now(), 60_000), undefined);
  });

  test('bad change sets and bad numbers', () => {
    throwsWith(() => checkClockSkew(m, new Uint8Array([1, 2, 3]), Date.now(), 1000), { type: SyncoreError, code: 'DECODE' });
    throwsWith(() => checkClockSkew(m, changes.subarray(0, changes.length - 1), Date.now(), 1000), { type: SyncoreError, code: 'DECODE' });
    throwsWith(() => checkClockSkew(m, changes, -1, 1000), { type: RangeError, code: 'OUT_OF_RANGE' });
    throwsWith(() => checkClockSkew(m, changes, Date.now(), Infinity), { type: RangeError, code: 'OUT_OF_RANGE' });
    throwsWith(() => checkClockSkew(m, changes, NaN, 1000), { type: RangeError, code: 'OUT_OF_RANGE' });
    throwsWith(() => checkClockSkew(m, changes, '1', 1000), { type: TypeError });
    throwsWith(() => checkClockSkew(m, 'bytes', 1, 1000), { type: TypeError });
  });
});

describe('changeSetInfo', () => {
  test('counts rows per collection and documents', async () => {
    const info = changeSetInfo(m, changes);
    assert.deepEqual(Object.keys(info.collections).sort(), ['notes', 'tasks']);
    assert.equal(info.docs, 3);
    assert.equal(info.collections.notes + info.collections.tasks, info.rows);
    assert.ok(info.collections.notes > info.collections.tasks, 'two notes, one task');
    // every row lands in a fresh replica
    const other = await mem({ collections: { notes: {}, tasks: {} } });
    try {
      assert.equal((await other.replication.apply(changes)).rowsApplied, info.rows);
    } finally {
      await other.close();
    }
  });

  test('the largest document part a change set carries, measured like a local put', async () => {
    const s = await mem();
    try {
      await s.transaction((tx) => {
        tx.collection('c').put({ id: 'small', t: 'x' });
        tx.collection('c').put({ id: 'big', t: 'y'.repeat(5000), tags: ['a', 'b'] });
      });
      const info = changeSetInfo(m, s.replication.changesSince({})[0]);
      assert.equal(info.largestDoc, 'c/big');
      const json = JSON.stringify({ id: 'big', t: 'y'.repeat(5000), tags: ['a', 'b'] }).length;
      assert.ok(Math.abs(info.largestDocBytes - json) < 32, `${info.largestDocBytes} vs JSON ${json}`);
    } finally {
      await s.close();
    }
  });

  test('one more field is one more row', async () => {
    const s = await mem();
    try {
      await s.collection('c').put({ id: 'x', a: 1 });
      const one = changeSetInfo(m, s.replication.changesSince({})[0]);
      await s.collection('c').put({ id: 'y', a: 1, b: 2 });
      const two = changeSetInfo(m, s.replication.changesSince({})[0]);
      assert.equal(one.docs, 1);
      assert.equal(two.docs, 2);
      assert.equal(two.rows, 2 * one.rows + 1);
    } finally {
      await s.close();
    }
  });

  test('refuses bytes that are not a change set', () => {
    for (const bad of [new Uint8Array(0), new Uint8Array([1]), new Uint8Array([99, 0, 0]), changes.subarray(0, 5)]) {
      throwsWith(() => changeSetInfo(m, bad), { type: SyncoreError, code: 'DECODE', message: /\S/ });
    }
    throwsWith(() => changeSetInfo(m, null), { type: TypeError, message: /changeSetInfo: expected a Uint8Array/ });
  });
});
