// Where a store's files live, and when they are durable.
//   memory     : no directory; nothing is ever persisted.
//   node       : a host directory mounted with NODEFS; the core's writes go straight to disk.
//   indexeddb  : an IDBFS mount (browser). The core writes to memory; this class copies the mount to
//                IndexedDB with FS.syncfs of that one mount: debounced after writes, one at a time,
//                never from an unload handler. `persisted` is true only when every write so far is in
//                IndexedDB, and flush() resolves when that is so.
// IDBFS rewrites whole changed files: the core keeps its journal in bounded segments, so persisting one
// small write costs the same at 1,000 and 100,000 documents (bench/browser measures it).
import { SyncoreError } from './errors.mjs';

const openDirectories = new Set(); // one live store per directory / database in a JS realm

function claim(key, what) {
  if (openDirectories.has(key)) {
    throw new SyncoreError('ALREADY_OPEN', `${what} is already open in this page or process: close it first`);
  }
  openDirectories.add(key);
}

export class Persistence {
  constructor(kind, directory, key) {
    this.kind = kind;
    this.directory = directory; // the path the core opens (null: memory)
    this.key = key;
    this.writes = 0; // writes made so far
    this.durable = 0; // writes known to be durable
    this.error = null; // the last save's failure, until a save succeeds
    this.onChange = () => {};
  }
  get persisted() {
    return this.durable >= this.writes;
  }
  /** Options for the core's Store::open. */
  coreOptions() {
    return { directory: this.directory };
  }
  /** The core has written (a commit, an applied batch, a configuration change). */
  written() {
    this.writes++;
    this.onChange();
  }
  async flush() {}
  async close() {
    openDirectories.delete(this.key);
  }
  /** A small side file beside the core's files (null: none, or a store without a directory). */
  readSide(name) {
    return this.directory && this.m ? this.m.readText(`${this.directory}/${name}`) : null;
  }
  /** Writes a side file; it becomes durable with the next save, like the core's own writes. */
  writeSide(name, text) {
    if (!this.directory || !this.m) return;
    this.m.writeText(`${this.directory}/${name}`, text);
    this.written();
  }
}

class MemoryPersistence extends Persistence {
  constructor() {
    super('memory', null, Symbol('memory'));
  }
  get persisted() {
    return this.writes === 0; // nothing written, nothing lost; anything written lives in memory only
  }
}

class NodePersistence extends Persistence {
  constructor(m, hostDir, mountPath) {
    super('node', mountPath, `node:${hostDir}`);
    this.m = m;
    this.hostDir = hostDir;
  }
  static async open(m, directory, fsync = false) {
    const proc = globalThis.process;
    const fs = proc?.getBuiltinModule?.('fs');
    const path = proc?.getBuiltinModule?.('path');
    if (!fs || !path) throw new TypeError("openStore: 'directory' is for Node (>= 20.16); in a browser the store lives in IndexedDB");
    const hostDir = path.resolve(directory);
    claim(`node:${hostDir}`, `the store directory ${hostDir}`);
    try {
      fs.mkdirSync(hostDir, { recursive: true });
      const mountPath = `/node/${++NodePersistence.mounts}`;
      m.mountNode(mountPath, hostDir);
      const p = new NodePersistence(m, hostDir, mountPath);
      p.fsync = fsync;
      return p;
    } catch (err) {
      openDirectories.delete(`node:${hostDir}`);
      throw err;
    }
  }
  coreOptions() {
    return { directory: this.directory, fsync: this.fsync };
  }
  written() {
    // NODEFS writes through to the host file system inside the core's call.
    this.durable = this.writes + 1;
    super.written();
  }
  async close() {
    try {
      this.m.unmount(this.directory);
    } finally {
      await super.close();
    }
  }
}
NodePersistence.mounts = 0;

/**
 * Writes become durable through an asynchronous save (IndexedDB, or the leader tab): debounced after
 * writes, one at a time, retried with backoff. Subclasses implement save(), which makes every write
 * made before it started durable.
 */
export class DebouncedPersistence extends Persistence {
  constructor(kind, directory, key, debounceMs) {
    super(kind, directory, key);
    this.debounceMs = debounceMs ?? 20;
    this.timer = null;
    this.running = null; // the save in flight
    this.waiters = []; // flush() promises: {target, resolve, reject}
    this.error = null;
    this.failures = 0;
    this.closed = false;
  }

  written() {
    this.schedule(this.debounceMs);
    super.written();
  }

  schedule(delay) {
    if (this.timer !== null || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.run();
    }, delay);
  }

  run() {
    if (this.running) return this.running; // the next run starts when this one ends (see finally)
    const target = this.writes;
    this.running = this.save(target).then(
      () => {
        this.failures = 0;
        this.error = null;
        this.durable = Math.max(this.durable, target);
        this.waiters = this.waiters.filter((w) => (this.durable >= w.target ? (w.resolve(), false) : true));
      },
      (err) => {
        this.failures++;
        this.error = err instanceof SyncoreError ? err : new SyncoreError('STORAGE', `saving failed: ${err?.message ?? err}`);
        if (!this.closed) this.onError?.(this.error);
      },
    ).finally(() => {
      this.running = null;
      this.onChange();
      if (this.durable < this.writes && !this.closed) {
        // retry failures with backoff (at most 5 s); otherwise pick up the writes made meanwhile
        this.schedule(this.failures ? Math.min(5000, 100 * 2 ** this.failures) : this.debounceMs);
      }
    });
    return this.running;
  }

  flush() {
    if (this.durable >= this.writes) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ target: this.writes, resolve, reject });
      if (this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      this.run();
    });
  }

  /** Stops saving; pending flush() promises reject with `message`. */
  stop(message) {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    const err = new SyncoreError('STORAGE', message);
    for (const w of this.waiters) w.reject(err);
    this.waiters = [];
  }
}

export class IndexedDbPersistence extends DebouncedPersistence {
  constructor(m, mountPath, options) {
    super('indexeddb', mountPath, `idb:${mountPath}`, options.debounceMs);
    this.m = m;
  }

  static async open(m, name, options = {}) {
    if (typeof indexedDB === 'undefined') throw new SyncoreError('STORAGE', 'IndexedDB is not available here');
    const mountPath = `/syncore/${encodeURIComponent(name)}`;
    claim(`idb:${mountPath}`, `the store '${name}'`);
    try {
      m.mountIdb(mountPath);
      await m.syncMount(mountPath, true); // IndexedDB -> memory
      return new IndexedDbPersistence(m, mountPath, options);
    } catch (err) {
      openDirectories.delete(`idb:${mountPath}`);
      throw err instanceof SyncoreError ? err : new SyncoreError('STORAGE', `could not open IndexedDB for '${name}': ${err.message ?? err}`);
    }
  }

  // IDBFS copies a changed file whole: the journal segment a small write lands in is the cost of saving
  // it. 128 KiB segments keep that near the cost of an empty sync (1 MiB ones cost 4x more when full;
  // bench/browser_bench.mjs).
  coreOptions() {
    return { directory: this.directory, segmentBytes: 128 << 10 };
  }

  async save(target) {
    const startedAt = Date.now();
    try {
      await this.m.syncMount(this.directory, false);
    } catch (err) {
      throw new SyncoreError('STORAGE', `saving to IndexedDB failed: ${err?.message ?? err}`);
    }
    // A write during the sync may share the millisecond of the mtime IDBFS recorded; make sure the next
    // sync sees those files as changed.
    if (this.writes > target) this.m.bumpMtimes(this.directory, startedAt);
  }

  async close() {
    try {
      await this.flush();
    } finally {
      this.stop('the store was closed before this write reached IndexedDB');
      try {
        this.m.unmount(this.directory);
      } finally {
        await super.close();
      }
    }
  }
}

/** Where openStore keeps a store: 'memory', 'directory' (Node) or 'indexeddb' (browser). */
function storageOf(options) {
  const storage = options.storage ?? (options.directory != null ? 'directory' : 'auto');
  if (storage === 'auto') {
    return typeof indexedDB !== 'undefined' && typeof window !== 'undefined' ? 'indexeddb' : 'memory';
  }
  if (storage === 'memory' || storage === 'directory' || storage === 'indexeddb') return storage;
  throw new TypeError(`openStore: unknown storage '${storage}' (expected 'auto', 'memory', 'indexeddb' or 'directory')`);
}

/** True when openStore would keep this store in IndexedDB. */
export function usesIndexedDb(options) {
  return storageOf(options) === 'indexeddb';
}

/**
 * Opens where the store lives. options.directory (Node) -> NODEFS; in a browser -> IndexedDB unless
 * options.storage === 'memory'; elsewhere -> memory.
 */
export async function openPersistence(m, name, options) {
  switch (storageOf(options)) {
    case 'memory':
      return new MemoryPersistence();
    case 'directory':
      if (typeof options.directory !== 'string' || options.directory === '') {
        throw new TypeError("openStore: 'directory' must be a non-empty path");
      }
      return NodePersistence.open(m, options.directory, options.fsync === true);
    default:
      return IndexedDbPersistence.open(m, name, options);
  }
}
