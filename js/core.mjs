// Loads the WebAssembly core once per JS realm and calls into it. The module (dist/syncore-core.mjs and
// .wasm, built by `npm run build`) finds its .wasm from its own import.meta.url, in Node, browsers and
// Vite/esbuild bundles alike. Every binding returns null on failure and leaves {code, message} in
// lastError() (no C++ exception crosses the boundary): call() turns that into a thrown JS error.
import createSyncoreCore from '../dist/syncore-core.mjs';
import { SyncoreError, coreError } from './errors.mjs';

let modulePromise = null;

/** The core module, instantiated on first use (concurrent callers share one instance). */
export function loadCore() {
  if (!modulePromise) {
    modulePromise = createSyncoreCore().catch((err) => {
      modulePromise = null; // a failed load (network, missing file) may be retried
      throw err;
    });
  }
  return modulePromise;
}

/** Wraps one CoreStore: each method throws a JS error instead of returning null. */
export class CoreHandle {
  constructor(m, raw) {
    this.m = m;
    this.raw = raw;
  }

  static open(m, options) {
    const raw = m.openCoreStore(JSON.stringify(options));
    if (raw === null) throw coreError(JSON.parse(m.lastError()));
    return new CoreHandle(m, raw);
  }

  call(method, ...args) {
    if (!this.raw) throw new SyncoreError('CLOSED', 'the store is closed');
    const r = this.raw[method](...args);
    if (r === null) throw coreError(JSON.parse(this.m.lastError()));
    return r;
  }

  json(method, ...args) {
    return JSON.parse(this.call(method, ...args));
  }

  close() {
    if (this.raw) {
      this.raw.delete();
      this.raw = null;
    }
  }
}
