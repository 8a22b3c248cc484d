// browser_bench: syncore's IndexedDB persistence (IDBFS) in headless Chromium, measured through the API.
//
//   1. persisted writes per second: `await tasks.put(smallDoc); await store.flush();` N times (each write
//      durable before the next), against the ceiling of the same page doing one raw IndexedDB `put` of a
//      similar record per readwrite transaction, awaiting `oncomplete` before the next;
//   2. the same loop on a store already holding 1,000 and 100,000 documents (inserted in one transaction,
//      flushed, before timing): ms per persisted write must not grow with the store; plus what the store's
//      IndexedDB database holds (files and bytes, read raw from its FILE_DATA object store);
//   3. reload of a 100,000-document store: page reload, then openStore(...) until it resolves and a
//      find({where: {priority: 4}}) returns (the count is checked).
//
// Usage: node bench/browser_bench.mjs [--quick]
//   Prints a table and writes build-bench/browser.json. Timings never fail the run; a wrong result (a wrong
//   count, a page error, a step that does not finish within its bound) exits 1 with a message.
// Everything runs on 127.0.0.1 (tests/browser/harness.mjs: Debian's chromium via playwright-core); the
// browser, its temporary profile and the server are stopped by this script, also on failure.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, launch, openPage, serve } from '../tests/browser/harness.mjs';

const QUICK = process.argv.includes('--quick');
const WRITES = QUICK ? 50 : 200; // timed persisted writes per loop
const WARMUP = QUICK ? 5 : 10; // untimed persisted writes before each loop
const RELOADS = QUICK ? 1 : 3; // reloads of the 100k store (the median is reported)
const SEGMENT_FILL = 112 * 1024; // bytes in the current journal segment for 2b (a browser store's segments close at 128 KiB)
const SEGMENT_WRITES = QUICK ? 50 : 100; // timed writes on that segment (~150 bytes of journal each)
const ROUNDS = QUICK ? 1 : 3; // interleaved rounds of each write loop (the median round is reported)
const BIG = 100_000;
const SMALL = 1_000;
const SEED = 20240611;
const STEP_LIMIT_MS = 120_000; // any one step in the page
const TOTAL_LIMIT_MS = QUICK ? 240_000 : 420_000; // the whole run
const OUT_DIR = path.join(ROOT, 'build-bench');
const OUT_FILE = path.join(OUT_DIR, 'browser.json');

const runId = `${Date.now().toString(36)}-${process.pid}`;
const unique = (what) => `bench-${what}-${runId}`;

class BenchFailure extends Error {}

function fail(msg) {
  throw new BenchFailure(msg);
}

// ----------------------------------------------------------------------------------------- page code
// Installed in the page (again after a reload) as window.B. Runs in the browser, not in node.
function installPageLib(seed) {
  // mulberry32: a small seeded generator, so the documents are the same on every run.
  function rng(s) {
    return () => {
      s = (s + 0x6d2b79f5) | 0;
      let t = Math.imul(s ^ (s >>> 15), 1 | s);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const pick = (r, a) => a[Math.floor(r() * a.length)];
  const VERBS = ['Fix', 'Review', 'Update', 'Write', 'Test', 'Ship', 'Plan', 'Draft', 'Check', 'Clean', 'Move', 'Add',
    'Drop', 'Tune', 'Audit', 'Merge', 'Port', 'Debug', 'Mock', 'Sort', 'Log', 'Sync', 'File', 'Book'];
  const ADJ = ['flaky', 'slow', 'broken', 'new', 'old', 'shared', 'mobile', 'legacy', 'weekly', 'public', 'draft',
    'stale', 'empty', 'admin', 'guest', 'dark', 'main', 'team', 'local', 'remote', 'paid', 'free', 'beta', 'daily',
    'global', 'last', 'next', 'small', 'large', 'raw', 'async', 'retry'];
  const NOUNS = ['login', 'checkout', 'search', 'billing', 'profile', 'sync', 'export', 'import', 'upload', 'invoice',
    'payment', 'signup', 'sidebar', 'header', 'footer', 'cache', 'queue', 'report', 'email', 'avatar', 'order', 'cart',
    'refund', 'coupon', 'tax', 'audit', 'backup', 'theme', 'font', 'icon', 'menu', 'modal', 'table', 'chart', 'filter',
    'widget', 'token', 'session', 'cookie', 'webhook'];
  const KINDS = ['test', 'page', 'form', 'flow', 'bug', 'docs', 'copy', 'query', 'index', 'job', 'view', 'list',
    'error', 'style', 'API', 'link', 'label', 'field', 'badge', 'button', 'banner', 'layout', 'script', 'check'];
  const NUMBERED = ['invoice', 'ticket', 'order', 'PR', 'issue', 'contract', 'report', 'batch', 'quote', 'refund',
    'survey', 'release'];
  const TAGS = ['bug', 'feature', 'urgent', 'backend', 'frontend', 'design', 'docs', 'ops', 'billing', 'mobile',
    'research', 'chore'];
  const title = (r) => (r() < 0.6
    ? `${pick(r, VERBS)} ${pick(r, ADJ)} ${pick(r, NOUNS)} ${pick(r, KINDS)}`
    : `${pick(r, VERBS)} ${pick(r, NUMBERED)} ${1000 + Math.floor(r() * 9000)}`);
  const doc = (r, id) => {
    const t1 = Math.floor(r() * TAGS.length);
    const t2 = (t1 + 1 + Math.floor(r() * (TAGS.length - 1))) % TAGS.length;
    return { id, title: title(r), done: r() < 0.5, priority: Math.floor(r() * 5), tags: [TAGS[t1], TAGS[t2]] };
  };
  /** n documents doc000001.. (the same for the same n), and how many have priority 4. */
  function makeDocs(n) {
    const r = rng(seed);
    const docs = new Array(n);
    let p4 = 0;
    for (let i = 0; i < n; i++) {
      docs[i] = doc(r, `doc${String(i + 1).padStart(6, '0')}`);
      if (docs[i].priority === 4) p4++;
    }
    return { docs, p4 };
  }
  /** The small documents the timed loops write (ids w<round>-000001.., never in makeDocs). */
  function smallDocs(n, salt, round) {
    const r = rng(seed ^ salt ^ (round * 7919));
    return Array.from({ length: n }, (_, i) => doc(r, `w${round}-${String(i + 1).padStart(6, '0')}`));
  }

  const req = (r) => new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const txDone = (tx) => new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
  });
  const openDb = (name, upgrade) => new Promise((resolve, reject) => {
    const r = indexedDB.open(name);
    r.onupgradeneeded = () => upgrade?.(r.result, r.transaction);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.onblocked = () => reject(new Error(`opening ${name} is blocked`));
  });

  const stats = (times) => {
    const s = [...times].sort((a, b) => a - b);
    const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
    return { total: times.reduce((a, b) => a + b, 0), median: q(0.5), p95: q(0.95), max: s[s.length - 1] };
  };

  /** The ceiling: one put per readwrite transaction, each awaited to oncomplete before the next. */
  async function rawLoop(dbName, n, warmup, round) {
    const db = await openDb(dbName, (d) => d.createObjectStore('records'));
    const docs = smallDocs(n + warmup, 0x5eed, round);
    let durability = null;
    const one = async (d) => {
      const tx = db.transaction('records', 'readwrite');
      durability ??= tx.durability ?? 'unknown';
      tx.objectStore('records').put(d, d.id);
      await txDone(tx);
    };
    for (let i = 0; i < warmup; i++) await one(docs[i]);
    const times = [];
    for (let i = warmup; i < n + warmup; i++) {
      const t0 = performance.now();
      await one(docs[i]);
      times.push(performance.now() - t0);
    }
    const count = await req(db.transaction('records').objectStore('records').count());
    db.close();
    await req(indexedDB.deleteDatabase(dbName)).catch(() => {});
    return { ...stats(times), n, count, durability, bytes: JSON.stringify(docs[0]).length };
  }

  const open = (name) => window.syncore.openStore({ name, collections: { tasks: {} } });

  /** Opens `name`, inserts `preload` documents in one transaction and flushes (timed), returns timings. */
  async function openAndFill(name, preload) {
    const store = await open(name);
    const tasks = store.collection('tasks');
    if (tasks.count() !== 0) throw new Error(`store ${name} is not empty: ${tasks.count()} documents`);
    let insertMs = 0;
    let flushMs = 0;
    let p4 = 0;
    if (preload > 0) {
      const made = makeDocs(preload);
      p4 = made.p4;
      const t0 = performance.now();
      await store.transaction((tx) => {
        const c = tx.collection('tasks');
        for (const d of made.docs) c.put(d);
      });
      const t1 = performance.now();
      await store.flush();
      const t2 = performance.now();
      insertMs = t1 - t0;
      flushMs = t2 - t1;
      if (tasks.count() !== preload) throw new Error(`store ${name}: ${tasks.count()} documents after inserting ${preload}`);
      if (!store.status.persisted) throw new Error(`store ${name}: status.persisted is false right after flush()`);
    }
    window.stores ??= {};
    window.stores[name] = store;
    return { insertMs, flushMs, p4 };
  }

  /** `await put; await flush` n times on the open store `name` (after `warmup` untimed ones). */
  async function apiLoop(name, n, warmup, round) {
    const store = window.stores[name];
    const tasks = store.collection('tasks');
    const before = tasks.count();
    const docs = smallDocs(n + warmup, 0xa11, round);
    for (let i = 0; i < warmup; i++) {
      await tasks.put(docs[i]);
      await store.flush();
    }
    const times = [];
    for (let i = warmup; i < n + warmup; i++) {
      const t0 = performance.now();
      await tasks.put(docs[i]);
      await store.flush();
      times.push(performance.now() - t0);
    }
    const persisted = store.status.persisted;
    const after = tasks.count();
    if (after !== before + n + warmup) throw new Error(`store ${name}: ${after} documents after ${n + warmup} puts on ${before}`);
    if (!persisted) throw new Error(`store ${name}: status.persisted is false right after flush()`);
    return { ...stats(times), n, count: after, bytes: JSON.stringify(docs[0]).length };
  }

  /** The newest journal segment of the store (from its IndexedDB copy): {path, bytes}. */
  async function currentSegment(name) {
    const segs = (await idbfsContents(name)).files.filter((f) => /journal-\d+\.log$/.test(f.path)).sort((a, b) => (a.path < b.path ? -1 : 1));
    return segs[segs.length - 1] ?? { path: '(none)', bytes: 0 };
  }

  /** Small unflushed puts (flushed every `batch`) until the store's current segment holds >= target bytes. */
  async function fillSegment(name, target, batch) {
    const store = window.stores[name];
    const tasks = store.collection('tasks');
    let puts = 0;
    let seg = await currentSegment(name);
    const first = seg.path;
    while (seg.bytes < target) {
      const docs = smallDocs(batch, 0xf111, 1000 + puts);
      for (const d of docs) await tasks.put(d);
      puts += batch;
      await store.flush();
      seg = await currentSegment(name);
      if (seg.path !== first) throw new Error(`the segment rolled over (${first} -> ${seg.path}) before reaching ${target} bytes`);
      if (puts > 100_000) throw new Error(`${puts} puts and the segment holds only ${seg.bytes} bytes`);
    }
    return { puts, segment: seg };
  }

  async function closeStore(name) {
    const store = window.stores[name];
    delete window.stores[name];
    const t0 = performance.now();
    await store.close();
    return performance.now() - t0;
  }

  /** What the store's IndexedDB database (IDBFS: key = path) holds: files, directories, bytes. */
  async function idbfsContents(name) {
    const dbName = `/syncore/${encodeURIComponent(name)}`;
    const known = (await indexedDB.databases()).some((d) => d.name === dbName);
    if (!known) throw new Error(`no IndexedDB database named ${dbName}`);
    const db = await openDb(dbName);
    try {
      if (!db.objectStoreNames.contains('FILE_DATA')) throw new Error(`${dbName} has no FILE_DATA object store`);
      const st = db.transaction('FILE_DATA').objectStore('FILE_DATA');
      const [keys, values] = await Promise.all([req(st.getAllKeys()), req(st.getAll())]);
      const files = [];
      let dirs = 0;
      keys.forEach((k, i) => {
        const v = values[i];
        if (v && v.contents != null) files.push({ path: String(k), bytes: v.contents.byteLength ?? v.contents.length ?? 0 });
        else dirs++;
      });
      return { files, dirs, bytes: files.reduce((a, f) => a + f.bytes, 0) };
    } finally {
      db.close();
    }
  }

  /** After a reload: openStore until it resolves and find({priority: 4}) returns. */
  async function reopenAndFind(name) {
    const t0 = performance.now();
    const store = await open(name);
    const t1 = performance.now();
    const found = store.collection('tasks').find({ where: { priority: 4 } });
    const t2 = performance.now();
    const count = store.collection('tasks').count();
    const wrong = found.filter((d) => d.priority !== 4).length;
    window.stores ??= {};
    window.stores[name] = store;
    return { openMs: t1 - t0, findMs: t2 - t1, totalMs: t2 - t0, found: found.length, wrong, count };
  }

  window.B = { rawLoop, openAndFill, apiLoop, closeStore, idbfsContents, currentSegment, fillSegment, reopenAndFind };
}

// ----------------------------------------------------------------------------------------- node side
const pageErrors = [];

async function withLimit(what, promise, ms = STEP_LIMIT_MS) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new BenchFailure(`${what}: did not finish within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** page.evaluate of window.B[fn](...args), bounded, with page errors turned into failures. */
async function call(page, what, fn, ...args) {
  const t0 = performance.now();
  let result;
  try {
    result = await withLimit(what, page.evaluate(([fn, args]) => window.B[fn](...args), [fn, args]));
  } catch (err) {
    if (err instanceof BenchFailure) throw err;
    fail(`${what}: ${err.message.split('\n')[0]}`);
  }
  if (page.errors.length) fail(`${what}: the page reported ${page.errors.map((e) => e.message).join('; ')}`);
  log(`  ${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return result;
}

const started = performance.now();
function log(msg) {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${msg}\n`);
}

const fmt = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));
const int = (x) => Math.round(x).toLocaleString('en-US');
const kib = (b) => (b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`);

async function main() {
  if (!fs.existsSync(path.join(ROOT, 'dist/syncore-core.wasm'))) {
    fail('dist/syncore-core.wasm is missing: run `npm run build` first');
  }
  const res = { rows: [], notes: [], chart: [] };
  let server;
  let browser;
  const cleanup = async () => {
    await browser?.stop();
    await server?.close();
  };
  const watchdog = setTimeout(async () => {
    console.error(`browser_bench: FAILED: the run did not finish within ${TOTAL_LIMIT_MS / 1000} s`);
    await withLimit('cleanup', cleanup(), 15_000).catch(() => {});
    process.exit(1);
  }, TOTAL_LIMIT_MS);
  try {
    log(`browser_bench${QUICK ? ' --quick' : ''}: ${WRITES} timed persisted writes per loop (+${WARMUP} warm-up)`);
    server = await serve({ '/': ROOT });
    browser = await launch();
    const url = `${server.url}/tests/browser/pages/app.html`;
    const page = await withLimit('opening the page', openPage(browser.context, url));
    const install = () => withLimit('installing the page code', page.evaluate(installPageLib, SEED));
    await install();
    const version = browser.context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent));

    // ---- 1. persisted writes per second vs raw IndexedDB (rounds interleaved: the machine's noise drifts)
    log(`1. persisted writes: syncore put + flush vs raw IndexedDB put per transaction, ${ROUNDS} round(s)`);
    const emptyName = unique('empty');
    await call(page, 'open an empty store', 'openAndFill', emptyName, 0);
    const raws = [];
    const apis = [];
    for (let r = 1; r <= ROUNDS; r++) {
      const raw = await call(page, `raw IndexedDB loop, round ${r}`, 'rawLoop', unique(`raw${r}`), WRITES, WARMUP, r);
      if (raw.count !== WRITES + WARMUP) fail(`raw IndexedDB loop: ${raw.count} records, expected ${WRITES + WARMUP}`);
      raws.push(raw);
      apis.push(await call(page, `put + flush loop, empty store, round ${r}`, 'apiLoop', emptyName, WRITES, WARMUP, r));
    }
    await call(page, 'close', 'closeStore', emptyName);
    const raw = medianRound(raws);
    const api0 = medianRound(apis);
    const ours = (1000 * api0.n) / api0.total;
    const ceiling = (1000 * raw.n) / raw.total;

    // ---- 2. the same loop at 1k and 100k documents (both stores open, rounds interleaved)
    const sized = {};
    for (const n of [SMALL, BIG]) {
      log(`2. a store of ${int(n)} documents`);
      const name = unique(`docs${n}`);
      const fill = await call(page, `insert ${int(n)} docs + flush`, 'openAndFill', name, n);
      const files0 = await call(page, `IDBFS contents after ${int(n)} docs`, 'idbfsContents', name);
      sized[n] = { name, fill, files0, loops: [] };
    }
    log(`2. put + flush at ${int(SMALL)} and ${int(BIG)} documents, ${ROUNDS} round(s)`);
    for (let r = 1; r <= ROUNDS; r++) {
      for (const n of [SMALL, BIG]) {
        sized[n].loops.push(await call(page, `put + flush loop, ${int(n)} docs, round ${r}`, 'apiLoop', sized[n].name, WRITES, WARMUP, r));
      }
    }
    for (const n of [SMALL, BIG]) {
      sized[n].closeMs = await call(page, 'close', 'closeStore', sized[n].name);
      sized[n].files = await call(page, `IDBFS contents of the ${int(n)}-doc store after the loops`, 'idbfsContents', sized[n].name);
      sized[n].loop = medianRound(sized[n].loops);
    }
    const ms1k = sized[SMALL].loop.total / sized[SMALL].loop.n;
    const ms100k = sized[BIG].loop.total / sized[BIG].loop.n;

    // ---- 2b. the write cost over a journal segment's life: IDBFS rewrites the whole current segment on
    // each sync, so a persisted write costs more as the segment fills (up to segmentBytes: 128 KiB in a browser). The
    // loops above run on a fresh segment; this one runs on a segment filled to SEGMENT_FILL.
    log(`2b. put + flush with the current journal segment filled to ${kib(SEGMENT_FILL)}`);
    const segName = unique('segment');
    await call(page, 'open a store', 'openAndFill', segName, SMALL);
    const segFill = await call(page, `fill the journal segment to ${kib(SEGMENT_FILL)}`, 'fillSegment', segName, SEGMENT_FILL, 500);
    const segLoop = await call(page, 'put + flush loop, full segment', 'apiLoop', segName, SEGMENT_WRITES, WARMUP, 1);
    const segAfter = await call(page, 'the segment after the loop', 'currentSegment', segName);
    await call(page, 'close', 'closeStore', segName);
    if (segAfter.path !== segFill.segment.path) log(`  (the segment rolled over during the loop: ${segFill.segment.path} -> ${segAfter.path})`);
    const msFull = segLoop.total / segLoop.n;

    // ---- 3. reload of a 100k store
    log(`3. reload of a store of ${int(BIG)} documents`);
    const reloadName = unique('reload');
    const fillR = await call(page, `insert ${int(BIG)} docs + flush`, 'openAndFill', reloadName, BIG);
    await call(page, 'close', 'closeStore', reloadName);
    const reloads = [];
    for (let i = 0; i < RELOADS; i++) {
      const tNav = performance.now();
      await withLimit('page reload', page.reload({ timeout: 30_000 }));
      await withLimit('page ready after reload', page.waitForFunction(() => window.ready === true || window.loadError, null, { timeout: 30_000 }));
      const navMs = performance.now() - tNav;
      await install();
      const r = await call(page, `openStore + find after reload ${i + 1} (${int(BIG)} docs)`, 'reopenAndFind', reloadName);
      if (r.count !== BIG) fail(`reload ${i + 1}: the store holds ${r.count} documents, expected ${BIG}`);
      if (r.wrong) fail(`reload ${i + 1}: find({priority: 4}) returned ${r.wrong} documents with another priority`);
      if (r.found !== fillR.p4) fail(`reload ${i + 1}: find({priority: 4}) found ${r.found} documents, expected ${fillR.p4}`);
      await call(page, 'close', 'closeStore', reloadName);
      reloads.push({ ...r, navMs });
    }
    const reloadFiles = await call(page, 'IDBFS contents after the reloads', 'idbfsContents', reloadName);
    const byTotal = [...reloads].sort((a, b) => a.totalMs - b.totalMs);
    const reload = byTotal[Math.floor((byTotal.length - 1) / 2)]; // the median run
    const expectP4 = fillR.p4;
    await page.close();

    // ---- report
    const ratio = ours / ceiling;
    const growth = ms100k / ms1k;
    const f1k = sized[SMALL].files;
    const f100k = sized[BIG].files;
    const fileList = (f) => f.files.map((x) => `${x.path.split('/').pop()} ${kib(x.bytes)}`).join(', ');
    res.rows.push(
      ['persisted writes/s (put + flush), empty store', fmt(ours, 0), `raw IndexedDB put: ${fmt(ceiling, 0)}`, fmt(ratio, 2)],
      ['ms per persisted write, median (empty store)', fmt(api0.median, 2), `raw IndexedDB: ${fmt(raw.median, 2)}`, fmt(raw.median / api0.median, 2)],
      [`ms per persisted write (mean), store of ${int(SMALL)} docs`, fmt(ms1k, 2), '', ''],
      [`ms per persisted write (mean), store of ${int(BIG)} docs`, fmt(ms100k, 2), `${int(SMALL)} docs: ${fmt(ms1k, 2)} ms`, fmt(growth, 2)],
      [`ms per persisted write (mean), journal segment at ${kib(segFill.segment.bytes)}`, fmt(msFull, 2), `fresh segment (${int(SMALL)} docs): ${fmt(ms1k, 2)} ms`, fmt(msFull / ms1k, 2)],
      [`IDBFS files / bytes, ${int(SMALL)} docs (after the loop)`, `${f1k.files.length} files, ${kib(f1k.bytes)}`, '', ''],
      [`IDBFS files / bytes, ${int(BIG)} docs (after the loop)`, `${f100k.files.length} files, ${kib(f100k.bytes)}`, '', ''],
      [`insert ${int(BIG)} docs (one transaction) + first flush, ms`, `${fmt(sized[BIG].fill.insertMs, 0)} + ${fmt(sized[BIG].fill.flushMs, 0)}`, '', ''],
      [`reload of a ${int(BIG)}-doc store: openStore + find, ms`, fmt(reload.totalMs, 0),
        `found ${int(reload.found)} docs (priority 4, checked)`, ''],
    );
    res.notes.push(
      `Headless Chromium ${version} (Debian /usr/bin/chromium via playwright-core), pages served on 127.0.0.1; ${WRITES} timed writes per loop after ${WARMUP} untimed ones, ${ROUNDS} interleaved round(s) per loop, the median round reported${QUICK ? ' (--quick)' : ''}. Each timed write is awaited to completion before the next.`,
      `Rounds (writes/s): syncore ${api0.all.map((x) => fmt(x, 0)).join(', ')}; raw IndexedDB ${raw.all.map((x) => fmt(x, 0)).join(', ')}; ${int(SMALL)} docs ${sized[SMALL].loop.all.map((x) => fmt(x, 0)).join(', ')}; ${int(BIG)} docs ${sized[BIG].loop.all.map((x) => fmt(x, 0)).join(', ')}.`,
      `syncore loop: \`await tasks.put(doc); await store.flush();\` per write (one small document of ~${api0.bytes} bytes JSON); store opened with openStore({name, collections: {tasks: {}}}) and the default debounce; a fresh store name per measurement.`,
      `Raw IndexedDB ceiling: in the same page, one put of a similar record (~${raw.bytes} bytes JSON, structured clone) per readwrite transaction, awaiting oncomplete before the next; transaction durability '${raw.durability}' (IDBFS opens its transactions the same way, with no durability option).`,
      `Per-write times, median round (ms; performance.now() is coarse, 0.1 ms): empty store median ${fmt(api0.median, 2)}, p95 ${fmt(api0.p95, 2)}, max ${fmt(api0.max, 1)}; raw IndexedDB median ${fmt(raw.median, 2)}, p95 ${fmt(raw.p95, 2)}, max ${fmt(raw.max, 1)}; ${int(SMALL)} docs median ${fmt(sized[SMALL].loop.median, 2)}, p95 ${fmt(sized[SMALL].loop.p95, 2)}; ${int(BIG)} docs median ${fmt(sized[BIG].loop.median, 2)}, p95 ${fmt(sized[BIG].loop.p95, 2)}, max ${fmt(sized[BIG].loop.max, 1)}. The ratio column of the ${int(BIG)}-doc row is ${int(BIG)} / ${int(SMALL)}: about 1 means the cost does not grow with the store.`,
      `Journal segment cycle: IDBFS copies a changed file whole, and a small write lands in the current journal segment, so a persisted write costs more as that segment fills, then drops when a new segment starts (128 KiB segments in a browser: js/persistence.mjs). The loops above run on a fresh segment (they leave it at ${kib(sized[SMALL].files.files.find((f) => /journal/.test(f.path))?.bytes ?? 0)} at 1,000 docs); on a ${int(SMALL)}-doc store whose segment was first filled to ${kib(segFill.segment.bytes)} (${int(segFill.puts)} small puts) the same loop (${SEGMENT_WRITES} writes) costs ${fmt(msFull, 2)} ms per write (median ${fmt(segLoop.median, 2)}, p95 ${fmt(segLoop.p95, 2)}); the segment ended at ${kib(segAfter.bytes)}${segAfter.path !== segFill.segment.path ? ' (it rolled over during the loop)' : ''}. Averaged over a segment's life, a persisted small write costs about halfway between the two. Compaction (when the journal passes 8 MiB or the state file size) was not reached here.`,
      `IDBFS files, read raw from IndexedDB database '/syncore/<name>', object store FILE_DATA: ${int(SMALL)} docs: ${fileList(f1k)}; ${int(BIG)} docs: ${fileList(f100k)} (before the loop: ${sized[BIG].files0.files.length} files, ${kib(sized[BIG].files0.bytes)}).`,
      `Inserts: ${int(SMALL)} docs ${fmt(sized[SMALL].fill.insertMs, 0)} ms + flush ${fmt(sized[SMALL].fill.flushMs, 0)} ms; ${int(BIG)} docs ${fmt(sized[BIG].fill.insertMs, 0)} ms + flush ${fmt(sized[BIG].fill.flushMs, 0)} ms (reload store: ${fmt(fillR.insertMs, 0)} + ${fmt(fillR.flushMs, 0)} ms).`,
      `Reload (${RELOADS === 1 ? 'one run' : `median of ${RELOADS}, each a page.reload then openStore + find, closed after`}): openStore ${fmt(reload.openMs, 0)} ms (loading the wasm module, reading the store's IndexedDB files into memory, replaying the journal) + find ${fmt(reload.findMs, 1)} ms; count() ${int(reload.count)}, ${int(reload.found)} of ${int(expectP4)} expected priority-4 docs. All runs (openStore + find, ms): ${reloads.map((r) => fmt(r.totalMs, 0)).join(', ')}; page.reload until the package is imported (from node, not included): ${reloads.map((r) => fmt(r.navMs, 0)).join(', ')} ms. Store files: ${fileList(reloadFiles)}.`,
    );
    if (growth > 2) {
      res.notes.push(`PROBLEM: a persisted write costs ${fmt(growth, 1)}x as much at ${int(BIG)} docs as at ${int(SMALL)} (expected about 1).`);
    }
    res.chart.push(
      { label: 'persisted writes per second', unit: 'writes/s', values: { syncore: round(ours), 'raw IndexedDB': round(ceiling) } },
      { label: 'ms per persisted write by store size', unit: 'ms', values: { [`${int(SMALL)} docs`]: round(ms1k, 2), [`${int(BIG)} docs`]: round(ms100k, 2), [`${int(SMALL)} docs, segment ~${kib(SEGMENT_FILL)}`]: round(msFull, 2) } },
      { label: `reload of a ${int(BIG)}-document store (openStore + find)`, unit: 'ms', values: { syncore: round(reload.totalMs) } },
    );
  } finally {
    clearTimeout(watchdog);
    await withLimit('stopping the browser and server', cleanup(), 30_000).catch((err) => log(err.message));
  }
  return res;
}

const round = (x, d = 0) => Number(x.toFixed(d));
/** The round with the median total time (rounds have the same n). */
function medianRound(rounds) {
  const s = [...rounds].sort((a, b) => a.total - b.total);
  return { ...s[Math.floor((s.length - 1) / 2)], all: rounds.map((r) => (1000 * r.n) / r.total) };
}

function printTable(header, rows) {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd();
  console.log(line(header));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  for (const r of rows) console.log(line(r));
}

try {
  const res = await main();
  const header = ['figure', 'syncore', 'peer', 'ratio'];
  const out = { name: 'browser', title: 'In Chromium (IndexedDB through IDBFS)', header, rows: res.rows, notes: res.notes, chart: res.chart };
  console.log(`\n${out.title}\n`);
  printTable(header, res.rows);
  console.log('');
  for (const n of res.notes) console.log(`- ${n}`);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  fs.writeFileSync(OUT_FILE, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(process.cwd(), OUT_FILE) || OUT_FILE} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
} catch (err) {
  console.error(`browser_bench: FAILED: ${err instanceof BenchFailure ? err.message : err?.stack ?? err}`);
  process.exitCode = 1;
}
