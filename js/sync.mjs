// The relay connection of a store (docs/ARCHITECTURE.md, "the client resumes from state"; frames in
// docs/PROTOCOL.md). No outbox: every (re)connection sends hello(have), receives what it lacks and the
// relay's vector (end), then sends changesSince(that vector). Live local commits go out as they are made.
import { SyncoreError } from './errors.mjs';
import { PROTOCOL_VERSION, decodeFrame, encodeFrame } from './protocol.mjs';

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const MAX_BATCH_BYTES = 256 << 10;
// A relay error with one of these codes will not go away by retrying with the same token.
const AUTH_CODES = new Set(['unauthorized', 'token-expired', 'forbidden-channel']);

/** The WebSocket class: the option, the platform's, or `ws` in Node (< 22 has no global one). */
async function webSocketClass(option) {
  if (option) return option;
  if (typeof globalThis.WebSocket === 'function') return globalThis.WebSocket;
  const name = 'ws'; // not a literal: bundlers for the browser leave Node's ws out
  const mod = await import(name);
  return mod.WebSocket ?? mod.default;
}

/** Rows of `mine` beyond `theirs` ({collection: {site: seq}}), over the given collections (all if empty). */
export function vectorGap(mine, theirs, collections) {
  let n = 0;
  for (const [c, sites] of Object.entries(mine)) {
    if (collections.length && !collections.includes(c)) continue;
    const t = theirs?.[c] ?? {};
    for (const [site, seq] of Object.entries(sites)) n += Math.max(0, seq - (t[site] ?? 0));
  }
  return n;
}

function raise(into, v) {
  for (const [c, sites] of Object.entries(v)) {
    const t = (into[c] ??= {});
    for (const [site, seq] of Object.entries(sites)) if (!(t[site] >= seq)) t[site] = seq;
  }
}

export class SyncClient {
  /**
   * store: the Store; options: {relay, channel, token, collections?: string[], WebSocket?}.
   * Starts connecting at once (call disconnect() to stop).
   */
  constructor(store, options) {
    this.store = store;
    this.m = store._m;
    const base = options.relay.replace(/\/+$/, '');
    this.url = `${base}/v1/ws?channel=${encodeURIComponent(options.channel)}`;
    this.token = options.token;
    this.collections = options.syncCollections ?? [];
    this.WebSocketOption = options.WebSocket;
    this.ws = null;
    this.live = false; // the catch-up (end) has arrived on this connection
    this.relayHave = null; // the relay's vector as far as we know it
    this.batch = 0;
    this.inflight = new Map(); // batch -> our vector when it was sent
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.error = null;
    this.tokenStale = false;
    this.waiters = []; // sync() promises
    this._onOnline = () => {
      if (!this.ws && !this.stopped) this._connectNow();
    };
    globalThis.addEventListener?.('online', this._onOnline);
    this._connectNow();
  }

  get connected() {
    return this.ws !== null && this.ws.readyState === 1;
  }

  pending() {
    if (!this.relayHave) return vectorGap(this.store.replication.vector(), {}, this.collections);
    return vectorGap(this.store.replication.vector(), this.relayHave, this.collections);
  }

  /** Resolves when the relay has sent what we lacked and acknowledged everything we had. */
  sync() {
    if (this.live && this.pending() === 0) return Promise.resolve();
    if (this.stopped) return Promise.reject(new SyncoreError('DISCONNECTED', 'sync(): the store is disconnected from its relay (call connect())'));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  connect() {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this._connectNow();
  }

  disconnect() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    this.live = false;
    ws?.close(1000, 'disconnect');
    for (const w of this.waiters.splice(0)) w.reject(new SyncoreError('DISCONNECTED', 'disconnected before the store was in sync'));
    this._status();
  }

  close() {
    globalThis.removeEventListener?.('online', this._onOnline);
    this.disconnect();
  }

  /** A relay batch was applied: the relay holds whatever it raised our vector by. */
  absorbed(before, after) {
    const gained = {};
    for (const [c, sites] of Object.entries(after)) {
      for (const [site, seq] of Object.entries(sites)) {
        if (seq > (before[c]?.[site] ?? 0)) (gained[c] ??= {})[site] = seq;
      }
    }
    raise((this.relayHave ??= {}), gained);
  }

  /** A local commit (or another tab's): sent at once when the connection is live; else at the next resume. */
  local(bytes) {
    if (this.live && this.connected && bytes.length) this._send(bytes);
    this._status();
  }

  // ------------------------------------------------------------------------------------ connection
  async _connectNow() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped || this.ws) return;
    let token = '';
    let WS;
    try {
      WS = await webSocketClass(this.WebSocketOption);
      token = typeof this.token === 'function' ? await this.token({ stale: this.tokenStale }) : this.token ?? '';
      if (typeof token !== 'string') throw new TypeError(`the token provider must return a string, got ${typeof token}`);
    } catch (err) {
      this._fail(err instanceof SyncoreError ? err : new SyncoreError('AUTH', `could not get a token: ${err.message}`));
      this._retry();
      return;
    }
    if (this.stopped || this.ws || this.store._closed) return;
    let ws;
    try {
      ws = new WS(this.url);
    } catch (err) {
      this._fail(new SyncoreError('NETWORK', `cannot open ${this.url}: ${err.message}`));
      this._retry();
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.live = false;
    this.inflight.clear();
    ws.onopen = () => {
      if (this.ws !== ws) return;
      const have = this.store.replication.vector();
      ws.send(encodeFrame(this.m, {
        t: 'hello', v: PROTOCOL_VERSION, site: this.store.siteId, schema: this.store._options.schemaVersion ?? 0,
        have, collections: this.collections, token,
      }));
      this._status();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this._receive(new Uint8Array(ev.data)).catch((err) => this.store._emit('error', err));
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.live = false;
      if (!this.error && ev.code !== 1000 && ev.code !== 1001) this.error = null;
      this._status();
      this._retry();
    };
    ws.onerror = () => {}; // onclose follows
  }

  _retry() {
    if (this.stopped || this.timer || this.store._closed) return;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    this.attempt++;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2); // jitter
    this.timer = setTimeout(() => {
      this.timer = null;
      this._connectNow();
    }, delay);
    this.timer.unref?.();
  }

  _send(data) {
    const k = ++this.batch;
    this.inflight.set(k, this.store.replication.vector());
    this.ws.send(encodeFrame(this.m, { t: 'changes', batch: k, data }));
  }

  async _receive(bytes) {
    let msg;
    try {
      msg = decodeFrame(this.m, bytes);
    } catch (err) {
      this._fail(new SyncoreError('PROTOCOL', `the relay sent a bad frame: ${err.message}`));
      this.ws?.close(1002, 'bad frame');
      return;
    }
    switch (msg.t) {
      case 'changes':
        await this.store._applyRemote(msg.data, 'relay');
        this.store._status.lastSyncAt = Date.now();
        break;
      case 'end': {
        this.relayHave = msg.have;
        this.live = true;
        this.attempt = 0;
        this.error = null;
        this.tokenStale = false;
        const batches = this.store.replication.changesSince(msg.have, { collections: this.collections, maxBatchBytes: MAX_BATCH_BYTES });
        for (const b of batches) this._send(b);
        this.store._updateStatus({ lastSyncAt: Date.now() });
        break;
      }
      case 'ack': {
        const v = this.inflight.get(msg.batch);
        if (v) {
          this.inflight.delete(msg.batch);
          raise((this.relayHave ??= {}), v);
        }
        break;
      }
      case 'error':
        this._relayError(msg);
        break;
      default:
        break; // presence: later
    }
    this._status();
  }

  _relayError(msg) {
    const err = new SyncoreError(msg.code.toUpperCase().replace(/-/g, '_'), `relay: ${msg.message}`);
    err.relayCode = msg.code;
    if (msg.batch) this.inflight.delete(msg.batch); // refused: its rows stay pending until the next resume
    if (AUTH_CODES.has(msg.code)) this.tokenStale = true;
    if (msg.code === 'outdated') this.store._becomeOutdated(msg.message);
    this._fail(err);
    if (msg.fatal) this.ws?.close(1000, 'relay error');
  }

  _fail(err) {
    this.error = err;
    this.store._emit('error', err);
  }

  _status() {
    const pending = this.pending();
    const synced = this.live && this.connected && pending === 0;
    this.store._updateStatus({ connected: this.connected, synced, pending, error: this.error });
    if (synced) for (const w of this.waiters.splice(0)) w.resolve();
  }
}
