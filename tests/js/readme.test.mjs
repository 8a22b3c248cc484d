// README.md's package example, run as written (with 'syncore' pointing at this checkout). If it no
// longer runs, or no longer does what its comments say, the README or the API is wrong.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test("README's package example runs and does what it says", async () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = /```js\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has a ```js example');
  let code = m[1];
  assert.match(code, /from 'syncore'/);
  code = code.replace("from 'syncore'", `from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'js/index.mjs')).href)}`);
  assert.match(code, /await store\.close\(\);/);
  code = `const rendered = []; const render = (docs) => rendered.push(docs);\n${code.replace(
    'await store.close();',
    'globalThis.readmeResult = { c1: cards.get("c1"), c2: cards.get("c2"), persisted: store.status.persisted, rendered };\nawait store.close();',
  )}`;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'syncore-readme-')), 'example.mjs');
  fs.writeFileSync(file, code);
  try {
    await import(pathToFileURL(file).href);
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
  const r = globalThis.readmeResult;
  assert.deepEqual(r.c1, { id: 'c1', title: 'Write spec', done: true, votes: 1 });
  assert.deepEqual(r.c2, { id: 'c2', title: 'Review spec', done: false });
  assert.equal(r.persisted, false, 'a store without directory lives in memory: nothing is persisted');
  // the live query saw: [] then c1 (not done), then [] (c1 done), then c2
  assert.deepEqual(r.rendered.map((docs) => docs.map((d) => d.id)), [[], ['c1'], [], ['c2']]);
});
