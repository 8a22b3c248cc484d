// Several tabs of one store (browser). IDBFS gives every tab its own in-memory copy of the files, so two
// tabs writing blindly would overwrite each other's IndexedDB data. Instead:
//   * one tab leads: it holds the Web Lock `syncore:<name>`, owns the IDBFS mount and persists;
//   * every tab (leader included) holds a full replica in memory and writes to it at once; a tab's
//     local change set is posted on BroadcastChannel `syncore:<name>` and applied by every other tab,
//     so tabs see each other's writes at once, offline too (merge makes order and duplicates harmless);
//   * a follower asks the leader for what it lacks when it opens ('hello' -> 'state'), and asks it to
//     persist its writes ('flush' -> 'flushed');
//   * when the leader closes, its lock passes to a waiting follower, which opens the IndexedDB copy,
//     merges its own replica into it, announces itself ('leader'), and every follower sends what the new
//     leader lacks. A write is lost only if every tab that held it closed before any leader persisted it;
//   * the leader alone holds the relay connection: it posts its status ('status') and the channel's
//     members ('peers') to the followers; a follower's connect()/disconnect() ('online'), presence.set()
//     ('presence') and sync() ('sync' -> 'synced') are carried out by the leader.
// Messages: {t, from, to?, ...}; `to` addresses one tab, the rest ignore it. docs/ARCHITECTURE.md, "Tabs".
import { DebouncedPersistence } from './persistence.mjs';
import { SyncoreError } from './errors.mjs';

const HELLO_TIMEOUT_MS = 1500;

export function tabsAvailable() {
  return typeof BroadcastChannel === 'function' && typeof navigator === 'object' && !!navigator.locks;
}

function randomId() {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

/** Tries to take the leader lock now; resolves to a release function, or null if another tab leads. */
export function tryLead(name) {
  return new Promise((resolve, reject) => {
    navigator.locks
      .request(`syncore:${name}`, { ifAvailable: true }, (lock) => {
        if (!lock) {
          resolve(null);
          return undefined;
        }
        return new Promise((release) => resolve(release)); // held until release() is called
      })
      .catch(reject);
  });
}

/** Waits for the leader lock (in the background); onLead(release) runs once this tab holds it. */
export function waitToLead(name, signal, onLead) {
  navigator.locks
    .request(`syncore:${name}`, { signal }, (lock) => new Promise((release) => onLead(release)))
    .catch((err) => {
      if (err?.name !== 'AbortError') console.error('syncore: waiting for the leader lock failed', err);
    });
}

/** A follower's persistence: durable once the leader says it has flushed this tab's writes. */
export class FollowerPersistence extends DebouncedPersistence {
  constructor(link, debounceMs) {
    super('tab', null, Symbol('tab'), debounceMs); // the app's debounce: a follower's saves are the leader's
    this.link = link;
  }
  save() {
    return this.link.requestFlush(); // re-sent to the next leader if this one closes first
  }
  async close() {
    this.stop('the tab closed before the leader tab persisted this write');
    await super.close();
  }
}

/** The BroadcastChannel side of one store in one tab. */
export class TabLink {
  constructor(store, name) {
    this.store = store;
    this.id = randomId();
    this.channel = new BroadcastChannel(`syncore:${name}`);
    this.leader = false;
    this.flushes = new Map(); // id -> {resolve, reject}: this follower's flush requests
    this.nextFlush = 1;
    this.syncs = new Map(); // id -> {resolve, reject}: this follower's sync() calls, answered by the leader
    this.helloWaiter = null;
    this.channel.onmessage = (e) => this.onMessage(e.data);
  }

  post(msg) {
    if (this.closed) return;
    try {
      this.channel.postMessage({ ...msg, from: this.id });
    } catch (err) {
      this.store._emit('error', err);
    }
  }

  /** A local commit (or a batch from the relay) for every other tab. */
  broadcast(bytes) {
    if (bytes && bytes.length) this.post({ t: 'changes', bytes });
  }

  /** Follower: fetch what the leader holds; resolves when it answered (or after a timeout). */
  hello() {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.helloWaiter = null;
        resolve(false);
      }, HELLO_TIMEOUT_MS);
      this.helloWaiter = () => {
        clearTimeout(timer);
        this.helloWaiter = null;
        resolve(true);
      };
      this.post({ t: 'hello', vector: this.store.replication.vector() });
    });
  }

  requestFlush() {
    return new Promise((resolve, reject) => {
      const id = this.nextFlush++;
      this.flushes.set(id, { resolve, reject });
      this.post({ t: 'flush', id });
    });
  }

  /** Follower: the leader runs sync() for this tab (re-sent to the next leader if this one closes first). */
  requestSync() {
    return new Promise((resolve, reject) => {
      const id = this.nextFlush++;
      this.syncs.set(id, { resolve, reject });
      this.post({ t: 'sync', id });
    });
  }

  /** Leader: the relay status for the followers (an error travels as {code, message}). */
  postStatus(s, to) {
    const error = s.error ? { code: s.error.code ?? 'ERROR', message: s.error.message } : null;
    this.post({ t: 'status', to, status: { connected: s.connected, synced: s.synced, pending: s.pending, lastSyncAt: s.lastSyncAt, error } });
  }

  /** This tab now leads: ask every follower for what it lacks, and re-route pending flushes. */
  becameLeader() {
    this.leader = true;
    this.post({ t: 'leader', vector: this.store.replication.vector() });
    // this tab's own sync() calls that waited for another leader: this one answers them now
    for (const [id, w] of this.syncs) {
      this.syncs.delete(id);
      Promise.resolve().then(() => this.store.sync()).then(w.resolve, w.reject);
    }
  }

  async onMessage(msg) {
    if (!msg || typeof msg !== 'object' || msg.from === this.id || this.closed) return;
    if (msg.to !== undefined && msg.to !== this.id) return;
    const store = this.store;
    try {
      switch (msg.t) {
        case 'changes':
          await store._applyRemote(msg.bytes, 'tab');
          break;
        case 'state':
          if (msg.schemaVersion !== undefined) this.leaderSchema = msg.schemaVersion;
          for (const b of msg.batches) await store._applyRemote(b, 'tab');
          this.helloWaiter?.();
          break;
        case 'hello':
          if (this.leader) {
            this.post({
              t: 'state', to: msg.from, schemaVersion: store._core.call('schemaVersion'),
              batches: store.replication.changesSince(msg.vector, { maxBatchBytes: 1 << 20 }),
            });
            if (store._options.relay) {
              this.postStatus(store.status, msg.from);
              this.post({ t: 'peers', to: msg.from, list: store.presence.list() });
            }
          }
          break;
        case 'status':
          if (!this.leader) store._tabStatus(msg.status);
          break;
        case 'peers':
          if (!this.leader) {
            store._tabPeers = msg.list;
            store._emit('presence', [...msg.list]);
          }
          break;
        case 'online':
          store._wantOnline = msg.on; // every tab remembers it, for when it leads
          if (this.leader && store._sync) {
            if (msg.on) store._sync.connect();
            else store._sync.disconnect();
          }
          break;
        case 'presence':
          if (this.leader && store._options.relay) store.presence.set(msg.state);
          break;
        case 'sync':
          if (!this.leader) break;
          store.sync().then(
            () => this.post({ t: 'synced', to: msg.from, id: msg.id }),
            (err) => this.post({ t: 'synced', to: msg.from, id: msg.id, error: { code: err.code ?? 'ERROR', message: err.message } }),
          );
          break;
        case 'synced': {
          const w = this.syncs.get(msg.id);
          if (w) {
            this.syncs.delete(msg.id);
            if (msg.error) w.reject(new SyncoreError(msg.error.code, msg.error.message));
            else w.resolve();
          }
          break;
        }
        case 'schema':
          // a newer version of the app opened in another tab and migrated the data: this one is outdated
          if (this.leader && msg.version > store._core.call('schemaVersion')) {
            store._core.call('setSchemaVersion', msg.version); // even though this tab becomes read-only
            store._persistence.written();
          }
          if (msg.version > (store._options.schemaVersion ?? 0) && !store._outdated) {
            store._outdated = true;
            store._emit('outdated', { stored: msg.version, expected: store._options.schemaVersion ?? 0 });
          }
          break;
        case 'leader':
          if (this.leader) break; // two leaders cannot happen (one lock); ignore a stale announcement
          // Send the new leader what it lacks, then ask for what we lack, then re-send pending flushes.
          this.post({ t: 'state', to: msg.from, batches: store.replication.changesSince(msg.vector, { maxBatchBytes: 1 << 20 }) });
          this.post({ t: 'hello', vector: store.replication.vector() });
          for (const id of this.flushes.keys()) this.post({ t: 'flush', id });
          for (const id of this.syncs.keys()) this.post({ t: 'sync', id });
          break;
        case 'flush':
          if (!this.leader) break;
          await store.flush();
          this.post({ t: 'flushed', to: msg.from, id: msg.id });
          break;
        case 'flushed': {
          const w = this.flushes.get(msg.id);
          if (w) {
            this.flushes.delete(msg.id);
            w.resolve();
          }
          break;
        }
        default:
          break;
      }
    } catch (err) {
      store._emit('error', err);
    }
  }

  close() {
    this.closed = true;
    const err = new SyncoreError('CLOSED', 'the store was closed');
    for (const w of this.flushes.values()) w.reject(err);
    this.flushes.clear();
    for (const w of this.syncs.values()) w.reject(err);
    this.syncs.clear();
    this.channel.close();
  }
}
