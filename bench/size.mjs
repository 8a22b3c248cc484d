// What an app downloads: the package's module (dist/syncore-core.mjs + .wasm) and its JS API, bundled
// and minified with esbuild as an app would ship them, raw and gzip -9; next to the peers' WebAssembly
// binaries (Automerge, Loro) and Yjs's minified bundle. Target: <= 150 KB gzip.
//   node bench/size.mjs [--json=FILE]        (needs `npm run build` first)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const jsonArg = process.argv.find((a) => a.startsWith('--json='));
const TARGET_GZ = 150 * 1024;

const gz = (buf) => zlib.gzipSync(buf, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

async function bundle(entryCode, name) {
  const esbuild = await import('esbuild');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncore-size-'));
  try {
    const entry = path.join(ROOT, `bench/.size-entry-${name}.mjs`);
    fs.writeFileSync(entry, entryCode);
    try {
      await esbuild.build({ entryPoints: [entry], bundle: true, minify: true, format: 'esm', platform: 'browser', outfile: path.join(dir, 'out.js'), logLevel: 'silent' });
    } finally {
      fs.rmSync(entry, { force: true });
    }
    return fs.readFileSync(path.join(dir, 'out.js'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const wasmPath = path.join(ROOT, 'dist/syncore-core.wasm');
if (!fs.existsSync(wasmPath)) {
  console.error('size: dist/syncore-core.wasm is missing: run `npm run build` first');
  process.exit(1);
}
const ours = {
  wasm: fs.readFileSync(wasmPath),
  glue: fs.readFileSync(path.join(ROOT, 'dist/syncore-core.mjs')),
  app: await bundle("export * from '../js/index.mjs';", 'syncore'),
};
const rows = [
  ['syncore .wasm', ours.wasm.length, gz(ours.wasm)],
  ['syncore .mjs (emscripten glue, as built)', ours.glue.length, gz(ours.glue)],
  ['syncore package JS + glue, esbuild --minify', ours.app.length, gz(ours.app)],
];
const total = [ours.wasm.length + ours.app.length, gz(ours.wasm) + gz(ours.app)];
rows.push(['syncore total shipped (.wasm + minified JS)', ...total]);

const peers = [];
const peerFile = (label, rel) => {
  const p = path.join(ROOT, 'node_modules', rel);
  if (fs.existsSync(p)) {
    const b = fs.readFileSync(p);
    peers.push([label, b.length, gz(b)]);
  }
};
peerFile('Automerge .wasm alone', '@automerge/automerge/dist/automerge.wasm');
peerFile('Loro .wasm alone', 'loro-crdt/web/loro_wasm_bg.wasm');
try {
  const y = await bundle("export * from 'yjs';", 'yjs');
  peers.push(['Yjs, esbuild --minify (JS only)', y.length, gz(y)]);
} catch (err) {
  console.error(`size: could not bundle yjs: ${err.message}`);
}

const all = [...rows, ...peers];
const w = Math.max(...all.map((r) => r[0].length));
console.log(`\npackage size (gzip -9); target: syncore total <= ${kb(TARGET_GZ)} gzip`);
console.log(`${'what'.padEnd(w)}  ${'raw'.padStart(10)}  ${'gzip'.padStart(10)}`);
for (const [label, raw, z] of all) console.log(`${label.padEnd(w)}  ${kb(raw).padStart(10)}  ${kb(z).padStart(10)}`);
const verdict = total[1] <= TARGET_GZ ? 'meets' : 'misses';
console.log(`syncore total ${kb(total[1])} gzip ${verdict} the ${kb(TARGET_GZ)} target (ratio ${(total[1] / TARGET_GZ).toFixed(2)})`);

const json = {
  name: 'size',
  title: 'Package size (what an app downloads)',
  header: ['what', 'raw', 'gzip -9'],
  rows: all.map(([l, r, z]) => [l, kb(r), kb(z)]),
  notes: [`Target: syncore total <= ${kb(TARGET_GZ)} gzip; measured ${kb(total[1])} (${verdict}).`, 'Peers: Automerge and Loro ship their .wasm plus JS glue; only the .wasm is counted here.'],
  chart: [{ label: 'shipped size, gzip', unit: 'KB', values: Object.fromEntries([['syncore', total[1] / 1024], ...peers.map(([l, , z]) => [l.split(/[ ,]/)[0], z / 1024])].map(([k, v]) => [k, Number(v.toFixed(1))])) }],
};
const out = jsonArg ? jsonArg.slice(7) : path.join(ROOT, 'build-bench/size.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify(json, null, 2)}\n`);
