// The Store: SPEC.md's JavaScript API over one core replica. Reads are synchronous (the replica is in
// memory); writes apply to the replica at once and their promise resolves then; persistence follows
// (js/persistence.mjs) and `status.persisted` / `flush()` say when it is durable.
import { CoreHandle, loadCore } from './core.mjs';
import { SyncoreError, typeError } from './errors.mjs';
import { IndexedDbPersistence, openPersistence, usesIndexedDb } from './persistence.mjs';
import { SyncClient } from './sync.mjs';
import { FollowerPersistence, TabLink, tabsAvailable, tryLead, waitToLead } from './tabs.mjs';
import {
  checkFunction, checkId, checkName, checkNumber, describe, documentText, fieldsText, isPlainObject, jsonText,
} from './validate.mjs';

const encoder = new TextEncoder();
/** Long text crosses into WebAssembly as UTF-8 bytes (native TextEncoder, one copy) rather than through
 *  Embind's per-character string conversion. */
function utf8(text) {
  return text.length > 512 ? encoder.encode(text) : text;
}

const POLICIES = new Set(['lww', 'manual', 'custom']);
const EVENTS = new Set(['change', 'status', 'conflict', 'conflicts', 'outdated', 'error', 'presence']);

/** A conflict record for the API: each stamp also says when it was written (`time`, ms since the epoch:
 *  the hybrid logical clock's physical part, the top 48 of its 64 bits). */
function conflictOut(c) {
  if (!c) return c;
  for (const side of [c.local, c.remote]) if (side?.stamp) side.stamp.time = Math.floor(side.stamp.hlc / 65536);
  return c;
}
const RESOLVE_MODES = new Set(['keep_local', 'keep_remote', 'merge']);

function checkQuery(query, what) {
  if (query === undefined || query === null) return '{}';
  if (!isPlainObject(query)) throw typeError(`${what}: the query must be an object {where, orderBy, limit}, got ${describe(query)}`);
  for (const k of Object.keys(query)) {
    if (k !== 'where' && k !== 'orderBy' && k !== 'limit') {
      throw typeError(`${what}: unknown query key '${k}' (expected where, orderBy, limit)`);
    }
  }
  return jsonText(query, 'query');
}

function checkOptions(options) {
  if (!isPlainObject(options)) throw typeError(`openStore: options must be an object, got ${describe(options)}`);
  checkName(options.name, "openStore: 'name'");
  const collections = options.collections ?? null;
  if (collections !== null) {
    if (!isPlainObject(collections)) throw typeError("openStore: 'collections' must be an object {name: {conflicts}}");
    for (const [name, c] of Object.entries(collections)) {
      checkName(name, 'openStore: a collection name');
      if (!isPlainObject(c ?? {})) throw typeError(`openStore: collection '${name}' must be configured with an object`);
      const policy = c?.conflicts ?? 'lww';
      if (!POLICIES.has(policy)) {
        throw typeError(`openStore: collection '${name}' has unknown conflict policy '${policy}' (expected 'lww', 'manual' or 'custom')`);
      }
      if (policy === 'custom') checkFunction(c.resolve, `openStore: collection '${name}' (custom conflicts) needs resolve, which`);
      else if (c?.resolve !== undefined) throw typeError(`openStore: collection '${name}': 'resolve' is only for conflicts: 'custom'`);
    }
  }
  const v = options.schemaVersion ?? 0;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`openStore: 'schemaVersion' must be an integer from 0 to 4294967295, got ${describe(v)}${typeof v === 'number' ? ` (${v})` : ''}`);
  }
  if (options.migrate !== undefined) checkFunction(options.migrate, "openStore: 'migrate'");
  if (options.fsync !== undefined && (typeof options.fsync !== 'boolean' || options.directory == null)) {
    throw typeError(`openStore: 'fsync' is a boolean for a store in a 'directory' (Node), got ${describe(options.fsync)}`);
  }
  if (options.relay !== undefined) {
    const urls = Array.isArray(options.relay) ? options.relay : [options.relay];
    if (!urls.length || urls.some((u) => typeof u !== 'string' || !/^(wss?|https?):\/\/[^/]+/.test(u))) {
      throw typeError(`openStore: 'relay' must be a ws://, wss://, http:// or https:// URL, or a list of them (relays sharing one PostgreSQL), got ${describe(options.relay)}`);
    }
    checkName(options.channel, "openStore: 'channel' (needed with 'relay')");
    const t = options.token;
    if (t !== undefined && typeof t !== 'string' && typeof t !== 'function') {
      throw typeError(`openStore: 'token' must be a string or a function returning one, got ${describe(t)}`);
    }
    if (options.WebSocket !== undefined) checkFunction(options.WebSocket, "openStore: 'WebSocket'");
    if (options.transport !== undefined && !['auto', 'websocket', 'http'].includes(options.transport)) {
      throw typeError(`openStore: 'transport' must be 'auto', 'websocket' or 'http', got ${describe(options.transport)}`);
    }
    if (options.connect !== undefined && typeof options.connect !== 'boolean') {
      throw typeError(`openStore: 'connect' must be a boolean (false: open disconnected, connect() later), got ${describe(options.connect)}`);
    }
    const hb = options.heartbeatMs;
    if (hb !== undefined && !(Number.isFinite(hb) && hb >= 10)) throw new RangeError(`openStore: 'heartbeatMs' must be a number of ms >= 10, got ${describe(hb)}`);
  } else if (options.channel !== undefined || options.token !== undefined) {
    throw typeError("openStore: 'channel' and 'token' need 'relay' (the relay's URL)");
  }
}

/**
 * Opens (or creates) a store. See index.d.ts for the options. Resolves once the stored data is loaded,
 * the collections are configured and a migration (if schemaVersion grew) has run.
 */
export async function openStore(options) {
  checkOptions(options);
  const m = await loadCore();
  if (usesIndexedDb(options) && tabsAvailable() && options.tabs !== false) return openTabbed(m, options);
  const persistence = await openPersistence(m, options.name, options);
  let core;
  try {
    core = CoreHandle.open(m, persistence.coreOptions());
  } catch (err) {
    await persistence.close();
    throw err;
  }
  const store = new Store(m, core, persistence, options);
  try {
    await store._init();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  store._startSync();
  return store;
}

/** Browser: one leader tab persists, the others replicate through it (js/tabs.mjs). */
async function openTabbed(m, options) {
  const release = await tryLead(options.name);
  let persistence;
  let core;
  try {
    persistence = release ? await IndexedDbPersistence.open(m, options.name, options) : null;
    core = CoreHandle.open(m, persistence ? persistence.coreOptions() : { directory: null });
  } catch (err) {
    await persistence?.close();
    release?.();
    throw err;
  }
  const store = new Store(m, core, persistence, options);
  const link = new TabLink(store, options.name);
  store._tabs = link;
  try {
    if (release) {
      store._release = release;
      link.leader = true;
      await store._init();
      link.becameLeader(); // a previous leader's followers send what this copy lacks
      store._startSync(); // the leader tab holds the relay connection
    } else {
      store._setPersistence(new FollowerPersistence(link, options.debounceMs));
      await link.hello();
      await store._init();
      store._abort = new AbortController();
      waitToLead(options.name, store._abort.signal, (rel) => store._promote(rel));
    }
  } catch (err) {
    release?.();
    await store.close().catch(() => {});
    throw err;
  }
  return store;
}

export class Store {
  constructor(m, core, persistence, options) {
    this.name = options.name;
    this._m = m;
    this._core = core;
    this._persistence = persistence;
    this._options = options;
    this._declared = options.collections ? new Map(Object.entries(options.collections)) : null;
    this._collections = new Map();
    this._listeners = new Map();
    this._subs = new Set();
    this._dirty = new Set(); // collections whose live queries must re-run
    this._refreshQueued = false;
    this._closed = false;
    this._outdated = false;
    this._status = { connected: false, synced: false, pending: 0, persisted: true, lastSyncAt: null, error: null };
    this._tabs = null; // TabLink when several tabs share the store
    this._sync = null; // SyncClient when the store has a relay (in the leader tab)
    this._wantOnline = options.connect !== false; // connect() / disconnect(), whichever tab called it
    this._tabPeers = []; // a follower tab: the channel's members, as the leader tab sees them
    if (persistence) this._setPersistence(persistence);

    this.conflicts = Object.freeze({
      /** Open conflict records, oldest first: {id, collection, doc, field, local, remote, winner}. */
      list: () => this._core.json('conflicts').map(conflictOut),
      get: (id) => (checkId(id, 'conflicts.get: the conflict id'), conflictOut(this._core.json('conflict', id))),
      /** mode: 'keep_local' | 'keep_remote' | 'merge' | {value}. Writes the choice as a new change. */
      resolve: async (id, mode) => this._resolve(id, mode),
      /** Drops the record here without writing anything. */
      dismiss: async (id) => {
        checkId(id, 'conflicts.dismiss: the conflict id');
        this._write(() => this._core.call('dismissConflict', id));
        this._conflictsChanged();
      },
    });
    this.snapshots = Object.freeze({
      create: async (label, options = {}) => {
        if (options === null || typeof options !== 'object') throw typeError(`snapshots.create: options must be an object {author}, got ${describe(options)}`);
        const { author = '' } = options;
        checkName(label, 'snapshots.create: the label');
        if (typeof author !== 'string') throw typeError('snapshots.create: author must be a string');
        let info;
        this._write(() => {
          info = this._core.json('createSnapshot', label, author);
        });
        return info;
      },
      list: () => this._core.json('snapshots'),
      /** Writes the changes that bring every collection back to the snapshot (an ordinary transaction). */
      restore: async (id) => {
        checkId(id, 'snapshots.restore: the snapshot id');
        this._commit(() => this._core.call('restoreSnapshot', id), 'local');
      },
    });
    /** Who else is on the relay channel: set(state) announces this member (any JSON; null leaves);
     *  list() -> [{site, state}] of the others; the 'presence' event carries that list on every change. */
    this.presence = Object.freeze({
      set: (state) => {
        this._checkOpen();
        jsonText(state, 'presence state'); // throws, naming the problem, if it is not JSON
        if (!this._options.relay) throw new SyncoreError('NO_RELAY', "presence.set(): the store has no relay (openStore's 'relay' option)");
        if (this._tabs && !this._tabs.leader) this._tabs.post({ t: 'presence', state }); // the leader tab announces it
        this._presence = state;
        this._sync?.setPresence(state);
      },
      list: () => this._sync?.presence() ?? (this._tabs ? [...this._tabPeers] : []),
    });
    /** Low level, for custom transports and tests: what the relay connection uses. */
    this.replication = Object.freeze({
      siteId: () => this._core.call('siteId'),
      vector: () => this._core.json('syncVector'),
      changesSince: (vector = {}, { collections = [], maxBatchBytes = 0 } = {}) => {
        if (!isPlainObject(vector)) throw typeError('replication.changesSince: the vector must be an object');
        if (!Array.isArray(collections)) throw typeError('replication.changesSince: collections must be an array');
        checkNumber(maxBatchBytes, 'replication.changesSince: maxBatchBytes');
        return this._core.call('changesSince', jsonText(vector, 'vector'), jsonText(collections, 'collections'), maxBatchBytes);
      },
      apply: async (bytes) => this._applyRemote(bytes, 'remote'),
      stateHash: () => this._core.call('stateHash'),
      encodeState: () => this._core.call('encodeState'),
    });
  }

  _setPersistence(p) {
    this._persistence = p;
    p.onChange = () => this._updateStatus();
    p.onError = (err) => {
      this._updateStatus({ error: err });
      this._emit('error', err);
    };
  }

  /** A follower tab takes over as leader: open the IndexedDB copy, merge this replica into it. */
  async _promote(release) {
    if (this._closed) {
      release();
      return;
    }
    let p;
    try {
      p = await IndexedDbPersistence.open(this._m, this.name, this._options);
      if (this._closed) throw new SyncoreError('CLOSED', 'closed while taking over');
      const persisted = CoreHandle.open(this._m, p.coreOptions());
      const batches = this._core.call('changesSince', persisted.call('syncVector'), '[]', 1 << 20);
      for (const b of batches) persisted.call('apply', b);
      const before = this._core;
      const follower = this._persistence;
      this._core = persisted;
      before.close();
      this._setPersistence(p);
      this._release = release;
      if (batches.length) p.written();
      this._tabs.becameLeader();
      // this tab's writes still waiting for a flush are flushed by this tab now
      for (const w of follower.waiters) p.flush().then(w.resolve, w.reject);
      follower.waiters = [];
      await follower.close();
      this._configureCollections();
      // the persisted copy may hold what this tab never saw: every live query runs again
      for (const sub of this._subs) this._dirty.add(sub.collection);
      this._refresh();
      this._updateStatus();
      this._startSync();
    } catch (err) {
      await p?.close().catch(() => {});
      release();
      if (!this._closed) this._emit('error', err);
    }
  }

  async _init() {
    const report = this._core.json('openReport');
    this.openReport = report;
    // Events of the opening itself are emitted after openStore() has resolved (a macrotask later), so
    // listeners attached right after `await openStore(...)` receive them; store.openReport and
    // store.outdated keep the same facts for later readers.
    if (report.damaged) {
      this._later(() => this._emit('error', new SyncoreError('STORAGE', `stored data was damaged: ${report.message}`)));
    }
    const stored = this._tabs && !this._tabs.leader ? this._tabs.leaderSchema ?? 0 : this._core.call('schemaVersion');
    const wanted = this._options.schemaVersion ?? 0;
    if (stored > wanted) {
      // The data was written by a newer version of the app: read it, never write to it (not even the
      // collections' configuration).
      this._outdated = true;
      this._later(() => this._emit('outdated', { stored, expected: wanted }));
      this._updateStatus();
      return;
    }
    this._configureCollections();
    if (stored < wanted) {
      if (this._options.migrate) {
        await this.transaction((tx) => this._options.migrate(tx, { from: stored, to: wanted, store: this }));
      }
      if (this._tabs && !this._tabs.leader) this._tabs.post({ t: 'schema', version: wanted });
      else this._write(() => this._core.call('setSchemaVersion', wanted));
    }
    this._updateStatus();
    // Custom-policy records left over from an earlier session get their answer now.
    await this._answerCustom(this.conflicts.list().map((c) => c.id));
  }

  /** Stores the declared conflict policies (only the ones that differ: each is a journal record). */
  _configureCollections() {
    if (!this._declared) return;
    for (const [name, c] of this._declared) {
      const policy = c?.conflicts ?? 'lww';
      if (this._core.call('policy', name) !== policy) this._write(() => this._core.call('configureCollection', name, policy));
    }
  }

  _later(fn) {
    setTimeout(() => {
      if (!this._closed) fn();
    }, 0);
  }

  /** True when the stored data comes from a newer schemaVersion than this app's: the store is read-only. */
  get outdated() {
    return this._outdated;
  }

  /** The collection `name` (declared in openStore's collections, when that option is given). */
  collection(name) {
    this._checkOpen();
    checkName(name, 'collection name');
    if (this._declared && !this._declared.has(name)) {
      throw typeError(`unknown collection '${name}' (declared: ${[...this._declared.keys()].join(', ') || 'none'})`);
    }
    let c = this._collections.get(name);
    if (!c) {
      c = new Collection(this, name);
      this._collections.set(name, c);
    }
    return c;
  }

  /**
   * Runs fn(tx); the writes it makes through tx commit together, or none of them if it throws (or its
   * promise rejects). tx.collection(name).get sees the transaction's own writes. Resolves to fn's result.
   */
  async transaction(fn) {
    checkFunction(fn, 'transaction: the argument');
    this._checkWritable();
    const tx = new Transaction(this);
    let result;
    try {
      result = fn(tx);
      if (result && typeof result.then === 'function') result = await result;
    } finally {
      tx._done = true;
    }
    if (tx._ops.length) this._commit(() => this._core.call('transaction', utf8(`[${tx._ops.join(',')}]`)), 'local');
    return result;
  }

  /** { connected, synced, pending, persisted, lastSyncAt, error } (a copy). */
  get status() {
    this._sync?.refresh(); // the relay connection's part is brought up to date lazily (see sync.mjs)
    return { ...this._status };
  }

  /** Resolves once the relay has sent everything this store lacked and acknowledged every local change. */
  async sync() {
    this._checkOpen();
    if (!this._options.relay) throw new SyncoreError('NO_RELAY', "sync(): the store has no relay (openStore's 'relay' option)");
    if (!this._sync) return this._tabs.requestSync(); // the leader tab holds the connection: it answers
    return this._sync.sync();
  }

  /** Connects to the relay (after disconnect(), or openStore({connect: false})). In any tab. */
  connect() {
    this._checkOpen();
    this._wantOnline = true;
    this._sync?.connect();
    this._tabs?.post({ t: 'online', on: true }); // one connection per store, held by the leader tab
  }

  /** Closes the relay connection and stops reconnecting; local writes go on and are sent after connect(). */
  disconnect() {
    this._wantOnline = false;
    this._sync?.disconnect();
    if (!this._closed) this._tabs?.post({ t: 'online', on: false });
  }

  _startSync() {
    if (this._options.relay && !this._sync && !this._closed) {
      this._tabPeers = [];
      this._sync = new SyncClient(this, {
        ...this._options,
        connect: this._wantOnline,
        syncCollections: this._declared ? [...this._declared.keys()] : [],
      });
      if (this._presence !== undefined) this._sync.setPresence(this._presence);
    }
  }

  /** The channel's members changed (the relay connection says so): for listeners, and for follower tabs. */
  _presenceChanged(list) {
    this._emit('presence', list);
    if (this._tabs?.leader) this._tabs.post({ t: 'peers', list });
  }

  /** A follower tab: the leader tab's relay status (persisted stays this tab's own). */
  _tabStatus(s) {
    const error = s.error ? new SyncoreError(s.error.code, s.error.message) : null;
    this._updateStatus({ connected: s.connected, synced: s.synced, pending: s.pending, lastSyncAt: s.lastSyncAt, error });
  }

  /** The relay says the channel's schema is newer than this app's: read-only until the app upgrades. */
  _becomeOutdated(message) {
    if (this._outdated) return;
    this._outdated = true;
    this._emit('outdated', { relay: true, message });
    this._updateStatus();
  }

  get siteId() {
    return this._core.call('siteId');
  }

  /** Subscribes to 'change' | 'status' | 'conflict' | 'outdated' | 'error'; returns the unsubscribe function. */
  on(event, fn) {
    if (!EVENTS.has(event)) throw typeError(`store.on: unknown event '${event}' (expected ${[...EVENTS].join(', ')})`);
    checkFunction(fn, `store.on('${event}'): the listener`);
    let set = this._listeners.get(event);
    if (!set) this._listeners.set(event, (set = new Set()));
    const entry = { fn };
    set.add(entry);
    return () => set.delete(entry);
  }

  /** Resolves once everything written so far is durable (IndexedDB, or the directory). */
  async flush() {
    if (this._closed) return;
    await this._persistence.flush();
  }

  /** Flushes, then releases the replica and its storage. The store is unusable afterwards. */
  async close() {
    if (this._closed) return;
    this._closed = true;
    this._subs.clear();
    this._abort?.abort();
    this._sync?.close();
    try {
      await this._persistence.close();
    } finally {
      this._tabs?.close();
      this._core.close();
      this._release?.(); // another tab may lead now
    }
  }

  // ---------------------------------------------------------------------------------------- internals
  _checkOpen() {
    if (this._closed) throw new SyncoreError('CLOSED', `store '${this.name}' is closed`);
  }

  _checkWritable() {
    this._checkOpen();
    if (this._outdated) {
      throw new SyncoreError('READ_ONLY', `store '${this.name}' holds data of a newer schema version than this app (${this._options.schemaVersion ?? 0}): reload the app to get the new version`);
    }
  }

  _write(fn) {
    this._checkWritable();
    const r = fn();
    this._persistence.written(); // which updates the status (persistence.onChange)
    return r;
  }

  /** Runs a core call that returns {changes, changed}; notifies. */
  _commit(fn, source) {
    const r = this._write(fn);
    if (this._wanted()) {
      const changed = JSON.parse(r.changed);
      if (changed.length) this._changed(changed, source);
    }
    this._tabs?.broadcast(r.changes);
    this._sync?.local(r.changes, true);
    return r;
  }

  /** A write to one document: the core returns its change set (empty when nothing changed). */
  _commitDoc(collection, id, fn) {
    const changes = this._write(fn);
    if (changes.length) {
      if (this._wanted()) this._changed([[collection, id]], 'local');
      this._tabs?.broadcast(changes);
      this._sync?.local(changes, true);
    }
    return changes;
  }

  /** Someone listens to changes (events or live queries). */
  _wanted() {
    return this._subs.size > 0 || (this._listeners.get('change')?.size ?? 0) > 0;
  }

  async _applyRemote(bytes, source) {
    if (!(bytes instanceof Uint8Array)) throw typeError(`replication.apply: expected a Uint8Array, got ${describe(bytes)}`);
    if (this._closed) throw new SyncoreError('CLOSED', `store '${this.name}' is closed`);
    const r = JSON.parse(this._core.call('apply', bytes));
    if (r.rowsApplied || r.changed.length || r.newConflicts.length || r.clearedConflicts.length) {
      this._persistence.written();
    }
    if (r.raised.length) this._sync?.mirror(r.raised);
    if (source === 'relay' && r.raised.length) this._sync?.absorbed(r.raised); // the relay has these
    if (source === 'remote' || source === 'relay') this._tabs?.broadcast(bytes); // the relay's batches reach every tab
    if (source === 'tab') this._sync?.local(bytes); // a follower tab's writes go to the relay through the leader
    if (r.changed.length && this._wanted()) this._changed(r.changed, source);
    if (r.newConflicts.length) {
      const records = r.newConflicts.map((id) => conflictOut(this._core.json('conflict', id))).filter(Boolean);
      this._emit('conflict', records);
    }
    if (r.newConflicts.length || r.clearedConflicts.length) this._conflictsChanged();
    if (r.newConflicts.length) await this._answerCustom(r.newConflicts);
    return r;
  }

  async _answerCustom(ids) {
    // one tab answers (the leader), or every tab would write its own answer
    if (!this._declared || this._outdated || (this._tabs && !this._tabs.leader)) return;
    for (const id of ids) {
      const c = this._core.json('conflict', id);
      if (!c) continue;
      const conf = this._declared.get(c.collection);
      if (conf?.conflicts !== 'custom') continue;
      let answer;
      try {
        answer = await conf.resolve(c);
      } catch (err) {
        this._emit('error', err);
        continue;
      }
      if (answer === undefined) continue; // left for conflicts.resolve
      try {
        await this._resolve(id, { value: answer });
      } catch (err) {
        this._emit('error', err);
      }
    }
  }

  /** 'conflicts': the list of open conflict records changed (new, resolved or dismissed here, or
   *  cleared by a resolution from elsewhere); the listener gets the whole list. */
  _conflictsChanged() {
    if (this._listeners.get('conflicts')?.size) this._emit('conflicts', this.conflicts.list());
  }

  async _resolve(id, mode) {
    checkId(id, 'conflicts.resolve: the conflict id');
    if (typeof mode === 'string') {
      if (!RESOLVE_MODES.has(mode)) {
        throw typeError(`conflicts.resolve: unknown mode '${mode}' (expected 'keep_local', 'keep_remote', 'merge' or {value})`);
      }
      this._commit(() => this._core.call('resolveConflict', id, mode, 'null'), 'local');
    } else if (isPlainObject(mode) && 'value' in mode) {
      const text = jsonText(mode.value, 'conflicts.resolve: value');
      this._commit(() => this._core.call('resolveConflict', id, 'value', text), 'local');
    } else {
      throw typeError(`conflicts.resolve: the resolution must be 'keep_local', 'keep_remote', 'merge' or {value}, got ${describe(mode)}`);
    }
    this._conflictsChanged();
  }

  _changed(refs, source) {
    const byCollection = new Map();
    for (const [c, id] of refs) {
      let ids = byCollection.get(c);
      if (!ids) byCollection.set(c, (ids = []));
      ids.push(id);
      this._dirty.add(c);
    }
    for (const [collection, ids] of byCollection) this._emit('change', { collection, ids, source });
    if (!this._refreshQueued && this._subs.size) {
      this._refreshQueued = true;
      queueMicrotask(() => this._refresh());
    }
  }

  _refresh() {
    this._refreshQueued = false;
    const dirty = this._dirty;
    this._dirty = new Set();
    if (this._closed) return;
    for (const sub of this._subs) if (dirty.has(sub.collection)) this._run(sub);
  }

  _run(sub) {
    let text;
    try {
      text = this._core.call('find', sub.collection, sub.query);
    } catch (err) {
      this._emit('error', err);
      return;
    }
    if (text === sub.last) return; // same result: no callback
    sub.last = text;
    try {
      sub.fn(JSON.parse(text));
    } catch (err) {
      this._emit('error', err);
    }
  }

  _updateStatus(patch) {
    const s = this._status;
    const persisted = this._persistence.persisted;
    // the common call, after a write: nothing but `persisted` can have changed
    if (!patch && s.persisted === persisted && (s.error === null) === (this._persistence.error === null)) return;
    const next = { ...s, ...patch, persisted };
    if (!patch?.error && this._persistence.error === null) next.error = this._sync?.error ?? null;
    if (Object.keys(next).some((k) => next[k] !== s[k])) {
      this._status = next;
      this._emit('status', { ...next });
      const relayPart = ['connected', 'synced', 'pending', 'lastSyncAt', 'error'].some((k) => next[k] !== s[k]);
      if (relayPart && this._tabs?.leader && this._options.relay) this._tabs.postStatus(next);
    }
  }

  _emit(event, payload) {
    const set = this._listeners.get(event);
    if (!set || set.size === 0) {
      if (event === 'error' && !(payload?.code === 'STORAGE' && this._status.error)) {
        // An error nobody listens to must not vanish.
        console.error('syncore:', payload);
      }
      return;
    }
    for (const { fn } of [...set]) {
      try {
        fn(payload);
      } catch (err) {
        if (event !== 'error') this._emit('error', err);
      }
    }
  }
}

export class Collection {
  constructor(store, name) {
    this.store = store;
    this.name = name;
  }

  /** Writes the whole document (fields it lacks are removed). */
  async put(doc) {
    const text = documentText(doc, this.name);
    this.store._commitDoc(this.name, doc.id, () => this.store._core.call('put', this.name, utf8(text)));
  }

  /** Writes some fields of an existing document. */
  async update(id, fields) {
    checkId(id, `${this.name}.update: the id`);
    const text = fieldsText(fields, this.name);
    this.store._commitDoc(this.name, id, () => this.store._core.call('update', this.name, id, utf8(text)));
  }

  /** Deletes the document; resolves to whether it existed. */
  async delete(id) {
    checkId(id, `${this.name}.delete: the id`);
    const changes = this.store._commitDoc(this.name, id, () => this.store._core.call('remove', this.name, id));
    return changes.length > 0;
  }

  /** Adds `by` (default 1) to a counter field; concurrent increments on other replicas add up. */
  async increment(id, field, by = 1) {
    checkId(id, `${this.name}.increment: the id`);
    checkName(field, `${this.name}.increment: the field`);
    if (field === 'id') throw typeError(`${this.name}.increment: 'id' is not a counter`);
    checkNumber(by, `${this.name}.increment: by`);
    this.store._commitDoc(this.name, id, () => this.store._core.call('increment', this.name, id, field, by));
  }

  /** The document, or null. */
  get(id) {
    checkId(id, `${this.name}.get: the id`);
    return this.store._core.json('get', this.name, id);
  }

  /** Documents matching {where, orderBy, limit}. */
  find(query) {
    return this.store._core.json('find', this.name, checkQuery(query, `${this.name}.find`));
  }

  count() {
    return this.store._core.call('count', this.name);
  }

  /**
   * Live query: calls fn(docs) now and again whenever the result changes (local writes, other tabs,
   * the relay). subscribe(fn) watches the whole collection. Returns the unsubscribe function.
   */
  subscribe(query, fn) {
    if (typeof query === 'function' && fn === undefined) [query, fn] = [undefined, query];
    checkFunction(fn, `${this.name}.subscribe: the callback`);
    this.store._checkOpen();
    const sub = { collection: this.name, query: checkQuery(query, `${this.name}.subscribe`), fn, last: null };
    // The first run happens here, so a query the core refuses throws now instead of failing on every write.
    sub.last = this.store._core.call('find', this.name, sub.query);
    this.store._subs.add(sub);
    try {
      fn(JSON.parse(sub.last));
    } catch (err) {
      this.store._emit('error', err);
    }
    return () => this.store._subs.delete(sub);
  }
}

/** The writes of one store.transaction; applied together when the function returns. */
class Transaction {
  constructor(store) {
    this._store = store;
    this._ops = []; // JSON text of each operation
    // What this transaction wrote, for tx.get: recorded as a flat list (collection, id, doc) and only
    // indexed the first time something reads it, so a bulk insert pays no map.
    this._writes = [];
    this._overlay = null; // collection \0 id -> the document as this transaction left it (null: deleted)
    this._done = false;
  }

  collection(name) {
    this._store.collection(name); // same checks as outside
    return new TxCollection(this, name);
  }

  _add(opText) {
    if (this._done) throw new SyncoreError('CLOSED', 'this transaction has already ended');
    this._ops.push(opText);
  }

  _current(collection, id) {
    if (this._overlay === null) {
      this._overlay = new Map();
      const w = this._writes;
      for (let i = 0; i < w.length; i += 3) this._overlay.set(`${w[i]}\u0000${w[i + 1]}`, w[i + 2]);
      this._writes = null;
    }
    const key = `${collection}\u0000${id}`;
    if (!this._overlay.has(key)) return this._store._core.json('get', collection, id);
    let d = this._overlay.get(key);
    if (typeof d === 'string') this._overlay.set(key, (d = JSON.parse(d))); // a put's text, parsed when read
    return d;
  }

  _set(collection, id, doc) {
    if (this._overlay === null) this._writes.push(collection, id, doc);
    else this._overlay.set(`${collection}\u0000${id}`, doc);
  }
}

class TxCollection {
  constructor(tx, name) {
    this._tx = tx;
    this.name = name;
    this._quoted = JSON.stringify(name);
  }

  put(doc) {
    const text = documentText(doc, this.name);
    this._tx._add(`{"op":"put","collection":${this._quoted},"doc":${text}}`);
    this._tx._set(this.name, doc.id, text);
  }

  update(id, fields) {
    checkId(id, `${this.name}.update: the id`);
    const text = fieldsText(fields, this.name);
    const base = this._tx._current(this.name, id);
    if (!base) throw new SyncoreError('NOT_FOUND', `no document '${id}' in collection '${this.name}'`);
    this._tx._add(`{"op":"update","collection":${JSON.stringify(this.name)},"id":${JSON.stringify(id)},"fields":${text}}`);
    this._tx._set(this.name, id, { ...base, ...JSON.parse(text) });
  }

  delete(id) {
    checkId(id, `${this.name}.delete: the id`);
    this._tx._add(`{"op":"delete","collection":${JSON.stringify(this.name)},"id":${JSON.stringify(id)}}`);
    this._tx._set(this.name, id, null);
  }

  increment(id, field, by = 1) {
    checkId(id, `${this.name}.increment: the id`);
    checkName(field, `${this.name}.increment: the field`);
    if (field === 'id') throw typeError(`${this.name}.increment: 'id' is not a counter`);
    checkNumber(by, `${this.name}.increment: by`);
    const base = this._tx._current(this.name, id);
    if (!base) throw new SyncoreError('NOT_FOUND', `no document '${id}' in collection '${this.name}'`);
    const cur = base[field];
    if (cur !== undefined && typeof cur !== 'number') {
      throw typeError(`field '${field}' of '${id}' holds ${describe(cur)}, not a number`);
    }
    this._tx._add(`{"op":"increment","collection":${JSON.stringify(this.name)},"id":${JSON.stringify(id)},"field":${JSON.stringify(field)},"by":${by}}`);
    this._tx._set(this.name, id, { ...base, [field]: (cur ?? 0) + by });
  }

  get(id) {
    checkId(id, `${this.name}.get: the id`);
    const d = this._tx._current(this.name, id);
    return d ? structuredClone(d) : null;
  }
}
