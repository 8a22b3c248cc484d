// Packaging: `npm pack` builds and packs the module; the tarball installs into a throwaway project and
// works there from Node and from an esbuild bundle in Chromium (the package imported by name).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT, launch, openPage, serve } from '../browser/harness.mjs';

let work;
let tarball;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'syncore-pack-'));
  // prepack runs scripts/build-module.sh (a no-op when dist/ is current)
  execFileSync('npm', ['pack', '--pack-destination', work], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
  const packed = fs.readdirSync(work).filter((f) => f.endsWith('.tgz'));
  assert.equal(packed.length, 1, 'npm pack wrote one tarball');
  tarball = path.join(work, packed[0]);
  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', tarball], { cwd: app, stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 });
});

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the built module, the API and its types, and nothing else', () => {
  const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
  for (const f of ['package/dist/syncore-core.mjs', 'package/dist/syncore-core.wasm', 'package/js/index.mjs',
    'package/js/index.d.ts', 'package/package.json', 'package/README.md']) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  assert.deepEqual(files.filter((f) => /\.(cpp|hpp|cmake|log)$|^package\/(wasm|tests|bindings|bench)\//.test(f)), []);
});

test('installed by name, it works in Node (memory and a directory)', () => {
  const app = path.join(work, 'app');
  const dir = path.join(work, 'data');
  fs.writeFileSync(path.join(app, 'main.mjs'), `
    import { openStore, SyncoreError } from 'syncore';
    const s = await openStore({ name: 'x', directory: ${JSON.stringify(dir)} });
    await s.collection('todos').put({ id: 't1', title: 'from the tarball' });
    await s.close();
    const again = await openStore({ name: 'x', directory: ${JSON.stringify(dir)} });
    const doc = again.collection('todos').get('t1');
    let err = null;
    try { await again.collection('todos').put({ title: 'no id' }); } catch (e) { err = e.constructor.name; }
    await again.close();
    console.log(JSON.stringify({ doc, err, hasErrorClass: typeof SyncoreError === 'function' }));
  `);
  const out = JSON.parse(execFileSync('node', ['main.mjs'], { cwd: app, encoding: 'utf8', timeout: 60_000 }));
  assert.deepEqual(out, { doc: { id: 't1', title: 'from the tarball' }, err: 'TypeError', hasErrorClass: true });
});

test('the TypeScript declarations type-check an app that uses the package (and reject misuse)', () => {
  const app = path.join(work, 'app');
  fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false },
    files: ['check.ts'],
  }));
  fs.writeFileSync(path.join(app, 'check.ts'), `
    import { openStore, SyncoreError, type Doc, type Store, type Conflict } from 'syncore';
    interface Card extends Doc { title: string; done: boolean; votes?: number; tags?: string[] }
    const store: Store = await openStore({
      name: 'x', schemaVersion: 2,
      collections: { cards: { conflicts: 'manual' }, notes: { conflicts: 'custom', resolve: (c: Conflict) => c.remote.value } },
      migrate: (tx, { from, to }) => { if (from < to) tx.collection('cards').put({ id: 'seed', title: 'x', done: false }); },
    });
    const cards = store.collection<Card>('cards');
    await cards.put({ id: 'c1', title: 't', done: false });
    await cards.update('c1', { done: true });
    const c: Card | null = cards.get('c1');
    const open: Card[] = cards.find({ where: { done: false, votes: { $gte: 1 } }, orderBy: [{ title: 'asc' }], limit: 5 });
    const off: () => void = cards.subscribe({ where: { done: false } }, (docs: Card[]) => void docs.length);
    const n: number = await store.transaction((tx) => { tx.collection<Card>('cards').delete('c1'); return 1; });
    store.on('change', (e) => e.ids.map((id: string) => id.length));
    const persisted: boolean = store.status.persisted;
    await store.conflicts.resolve('id', { value: 1 });
    await store.snapshots.create('label', { author: 'me' });
    const e: string = new SyncoreError('X', 'y').code;
    // @ts-expect-error a number is not a document
    await cards.put(42);
    // @ts-expect-error documents need an id
    await cards.put({ title: 'no id', done: false });
    // @ts-expect-error unknown event
    store.on('nope', () => {});
    // @ts-expect-error unknown resolution
    await store.conflicts.resolve('id', 'keep_both');
    void [c, open, off, n, persisted, e];
  `);
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', app], { cwd: app, encoding: 'utf8', timeout: 120_000 });
  } catch (err) {
    assert.fail(`tsc found errors:\n${err.stdout}${err.stderr}`);
  }
});

test('an esbuild bundle of an app importing it works in Chromium, with IndexedDB', async () => {
  const app = path.join(work, 'app');
  const www = path.join(work, 'www');
  fs.mkdirSync(www);
  fs.writeFileSync(path.join(app, 'entry.mjs'), `
    import { openStore } from 'syncore';
    window.run = async (n) => {
      const store = await openStore({ name: 'bundled', collections: { todos: {} } });
      const todos = store.collection('todos');
      for (let i = 0; i < n; i++) await todos.put({ id: 't' + i, i });
      await store.flush();
      return todos.count();
    };
    window.ready = true;
  `);
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [path.join(app, 'entry.mjs')], bundle: true, format: 'esm', platform: 'browser',
    outfile: path.join(www, 'bundle.js'), absWorkingDir: app, logLevel: 'silent',
  });
  // esbuild leaves `new URL('syncore-core.wasm', import.meta.url)` alone: the file goes beside the bundle
  fs.copyFileSync(path.join(app, 'node_modules/syncore/dist/syncore-core.wasm'), path.join(www, 'syncore-core.wasm'));
  fs.writeFileSync(path.join(www, 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="bundle.js"></script>');
  const server = await serve({ '/': www });
  const browser = await launch();
  try {
    let page = await openPage(browser.context, `${server.url}/index.html`);
    assert.equal(await page.evaluate(() => window.run(25)), 25);
    await page.reload();
    await page.waitForFunction(() => window.ready === true);
    assert.equal(await page.evaluate(() => window.run(0)), 25, 'the bundled page reads back what it saved');
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.stop();
    await server.close();
  }
});
