// The relay connection of a store (docs/ARCHITECTURE.md, "the client resumes from state"; frames in
// docs/PROTOCOL.md). No outbox: every (re)connection sends hello(have), receives what it lacks and the
// relay's vector (end), then sends changesSince(that vector). Live local commits go out as they are made.
import { SyncoreError } from './errors.mjs';
import { HttpTransport } from './http-transport.mjs';
import { PROTOCOL_VERSION, decodeFrame, encodeFrame } from './protocol.mjs';

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const MAX_BATCH_BYTES = 256 << 10;
const HEARTBEAT_MS = 15_000; // a ping (ack of batch 0) this often; no frame for 2.5x as long = dead socket
const SIDE_FILE = 'relay.json'; // the relay's last known vector, for status.pending across reloads
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
function vectorGap(mine, theirs, collections) {
  let n = 0;
  for (const [c, sites] of Object.entries(mine)) {
    if (collections.length && !collections.includes(c)) continue;
    const t = theirs?.[c] ?? {};
    for (const [site, seq] of Object.entries(sites)) n += Math.max(0, seq - (t[site] ?? 0));
  }
  return n;
}

function copyVector(v) {
  const out = {};
  for (const c in v) out[c] = { ...v[c] };
  return out;
}

/** into[c][site] = max(into[c][site], seq). */
function raiseOne(into, c, site, seq) {
  const t = (into[c] ??= {});
  if (!(t[site] >= seq)) t[site] = seq;
}

export class SyncClient {
  /**
   * store: the Store; options: {relay, channel, token, collections?: string[], WebSocket?}.
   * Starts connecting at once (call disconnect() to stop).
   */
  constructor(store, options) {
    this.store = store;
    this.m = store._m;
    // several relays serving the same channels (one PostgreSQL): the first, then the next whenever one
    // cannot be reached (an app spreads its clients by ordering each client's list differently)
    this.bases = (Array.isArray(options.relay) ? options.relay : [options.relay]).map((u) => u.replace(/\/+$/, ''));
    this.channel = options.channel;
    this._useRelay(0);
    // 'auto': WebSocket, and the HTTP fallback after two WebSockets in a row failed to open
    this.transport = options.transport ?? 'auto';
    this.useHttp = this.transport === 'http';
    this.wsFailures = 0;
    this.token = options.token;
    this.collections = options.syncCollections ?? [];
    this.WebSocketOption = options.WebSocket;
    this.ws = null;
    this.live = false; // the catch-up (end) has arrived on this connection
    this.relayHave = null; // the relay's vector as far as we know it
    this.mine = null; // the store's vector, mirrored (_mine())
    this.batch = 0;
    // batch -> {gen, vector}: vector (ours when the batch was sent) only on the last batch of a group;
    // its ack raises relayHave to it unless a refusal came since (gen moved on)
    this.inflight = new Map();
    this.gen = 0;
    this.blocked = false; // a batch was refused: live sends wait for the resend, which covers them
    this.attempt = 0;
    this.timer = null;
    this.stopped = options.connect === false; // openStore({connect: false}): connect() starts it
    this.error = null;
    this.tokenStale = false;
    this.waiters = []; // sync() promises
    this.heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    this.heartbeat = null;
    this.lastHeard = 0;
    this.presenceState = undefined; // what presence.set() last said (sent again after each reconnection)
    this.peers = new Map(); // site -> presence state of the channel's other members
    this.saveTimer = null;
    this.lastSyncAt = null;
    this.rx = Promise.resolve();
    this.relayId = `${this.bases.join(' ')} ${options.channel}`;
    try {
      const saved = JSON.parse(store._persistence.readSide(SIDE_FILE) ?? 'null');
      if (saved?.relay === this.relayId && saved.have && typeof saved.have === 'object') this.relayHave = saved.have;
    } catch {
      // a damaged side file only costs the pending count until the next connection
    }
    this._onOnline = () => {
      if (this.transport === 'auto' && !this.ws) {
        this.useHttp = false; // another network: WebSockets may pass now
        this.wsFailures = 0;
      }
      if (!this.ws && !this.stopped) this._connectNow();
    };
    // the browser knows before any heartbeat can: an open socket is held, not closed, while offline
    this._onOffline = () => {
      if (this.ws) {
        this.ws.close(4001, 'offline');
        this._dropped();
      }
    };
    globalThis.addEventListener?.('online', this._onOnline);
    globalThis.addEventListener?.('offline', this._onOffline);
    this.batchBytes = MAX_BATCH_BYTES; // halved when the relay refuses a batch as too many changes
    this.resendTimer = null;
    this._status(); // pending from the saved vector, before any connection
    if (!this.stopped) this._connectNow();
  }

  _useRelay(i) {
    this.relayIndex = i % this.bases.length;
    const base = this.bases[this.relayIndex];
    this.url = `${base.replace(/^http/, 'ws')}/v1/ws?channel=${encodeURIComponent(this.channel)}`;
    this.httpBase = base.replace(/^ws/, 'http');
  }

  get connected() {
    return this.ws !== null && this.ws.readyState === 1;
  }

  pending() {
    return vectorGap(this._mine(), this.relayHave, this.collections);
  }

  /** The store's vector, mirrored here: read whole once (JSON across the binding costs O(sites): 1.8 ms
   *  at 500 sites), then raised by what applies and local commits report. */
  _mine() {
    this.mine ??= this.store.replication.vector();
    return this.mine;
  }

  /** An apply raised these [collection, site, seq] entries of the store's vector. */
  mirror(raised) {
    if (!this.mine) return;
    for (const [c, site, seq] of raised) raiseOne(this.mine, c, site, seq);
  }

  /** A local commit raised this replica's own entries: returns them as a vector ({collection: {me: seq}}). */
  _mirrorOwn() {
    const me = this.store.siteId;
    const own = {};
    for (const [c, seq] of Object.entries(this.store._core.json('ownVector'))) {
      own[c] = { [me]: seq };
      if (this.mine) raiseOne(this.mine, c, me, seq);
    }
    return own;
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
    clearTimeout(this.resendTimer);
    this.resendTimer = null;
    clearTimeout(this.statusTimer);
    this.statusTimer = null;
    clearInterval(this.heartbeat);
    this.heartbeat = null;
    const ws = this.ws;
    this.ws = null;
    this.live = false;
    if (this.peers.size) {
      this.peers.clear();
      this.store._presenceChanged(this.presence());
    }
    ws?.close(1000, 'disconnect');
    for (const w of this.waiters.splice(0)) w.reject(new SyncoreError('DISCONNECTED', 'disconnected before the store was in sync'));
    this._status();
  }

  close() {
    globalThis.removeEventListener?.('online', this._onOnline);
    globalThis.removeEventListener?.('offline', this._onOffline);
    if (this.saveTimer) this._saveHave();
    this.disconnect();
  }

  /** Presence: this member's state (any JSON; null leaves), sent now and after every reconnection. */
  setPresence(state) {
    this.presenceState = state;
    if (this.live && this.connected) this._sendPresence();
  }

  presence() {
    return [...this.peers].map(([site, state]) => ({ site, state }));
  }

  _sendPresence() {
    if (this.presenceState === undefined) return;
    this.ws.send(encodeFrame(this.m, { t: 'presence', site: this.store.siteId, state: this.presenceState }));
  }

  _haveChanged() {
    if (this.saveTimer || !this.store._persistence.directory) return;
    this.saveTimer = setTimeout(() => this._saveHave(), 200);
    this.saveTimer.unref?.();
  }

  _saveHave() {
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    if (!this.relayHave) return; // (also while the store closes: its files are still open then)
    try {
      this.store._persistence.writeSide(SIDE_FILE, JSON.stringify({ relay: this.relayId, have: this.relayHave }));
    } catch (err) {
      this.store._emit('error', err);
    }
  }

  /** A relay batch was applied: the relay holds whatever it raised our vector by ([[collection, site,
   *  seq], ...] from the core's apply: no need to read the whole vector for each batch). */
  absorbed(raised) {
    const have = (this.relayHave ??= {});
    for (const [c, site, seq] of raised) raiseOne(have, c, site, seq);
    this._haveChanged();
  }

  /** A local commit (own: this replica's; else another tab's, already mirrored by its apply): sent at once
   *  when the connection is live; else at the next resume. */
  local(bytes, own = false) {
    const mine = own ? this._mirrorOwn() : undefined; // a local commit holds this replica's rows only
    if (this.live && this.connected && !this.blocked && bytes.length) this._sendGroup([bytes], mine);
    this._statusSoon();
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
    const makeHello = () => encodeFrame(this.m, {
      t: 'hello', v: PROTOCOL_VERSION, site: this.store.siteId, schema: this.store._options.schemaVersion ?? 0,
      have: (this.mine = this.store.replication.vector()), collections: this.collections, token,
    });
    try {
      if (this.useHttp) {
        ws = new HttpTransport({ base: this.httpBase, channel: this.channel, collections: this.collections, token, m: this.m, makeHello });
        ws.onbeat = () => {
          this.lastHeard = Date.now();
        };
      } else {
        ws = new WS(this.url);
      }
    } catch (err) {
      this._fail(new SyncoreError('NETWORK', `cannot open ${this.url}: ${err.message}`));
      this._retry();
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    // a connection attempt that neither opens nor fails (a black-holed address) is given up
    const opening = setTimeout(() => {
      if (this.ws === ws && ws.readyState === 0) {
        ws.close();
        this._dropped();
      }
    }, Math.min(10_000, this.heartbeatMs * 2.5));
    opening.unref?.();
    this.live = false;
    this.inflight.clear();
    ws.onopen = () => {
      if (this.ws !== ws) return;
      ws.opened = true;
      this.wsFailures = 0;
      this.lastHeard = Date.now();
      this._startHeartbeat(ws);
      if (ws.hello) ws.hello();
      else ws.send(makeHello());
      this._status();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      const bytes = new Uint8Array(ev.data);
      // frames are handled one at a time, in order
      this.rx = this.rx.then(() => (this.ws === ws ? this._receive(bytes) : undefined)).catch((err) => this.store._emit('error', err));
    };
    ws.onclose = (ev) => {
      ws.closeCode = ev?.code;
      if (this.ws === ws) this._dropped();
    };
    ws.onerror = () => {}; // onclose follows
  }

  /** The socket is gone (closed, or silent for too long): forget it, retry. */
  _dropped() {
    const offline = globalThis.navigator?.onLine === false; // failing offline says nothing of WebSockets
    // the next relay, when this one could not be reached, is shutting down (1001) or lost its storage (1013)
    const gone = this.ws && (!this.ws.opened || this.ws.closeCode === 1001 || this.ws.closeCode === 1013);
    if (gone && !offline && this.bases.length > 1) this._useRelay(this.relayIndex + 1);
    const tries = Math.max(2, this.bases.length); // every relay was tried
    if (this.ws && !this.ws.opened && !offline && !this.useHttp && this.transport === 'auto' && ++this.wsFailures >= tries) {
      this.useHttp = true; // a proxy or network that lets no WebSocket through: HTTP from now on
    }
    clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.ws = null;
    this.live = false;
    if (this.peers.size) {
      this.peers.clear();
      this.store._presenceChanged(this.presence());
    }
    this._status();
    this._retry();
  }

  _startHeartbeat(ws) {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (this.ws !== ws) return;
      if (Date.now() - this.lastHeard > this.heartbeatMs * 2.5) {
        ws.close(4000, 'no answer from the relay');
        this._dropped(); // do not wait for a close handshake a dead peer never answers
        return;
      }
      if (ws.readyState === 1) ws.send(encodeFrame(this.m, { t: 'ack', batch: 0 }));
    }, this.heartbeatMs);
    this.heartbeat.unref?.();
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

  /** Sends batches that together bring the relay up to our current vector (from relayHave). Only the
   *  last one's ack proves that: acks come in order, and a refusal in between moves `gen` on. */
  _sendGroup(batches, vector = null) {
    if (!batches.length) return; // (the common answer to an end: nothing to send, nothing to copy)
    vector ??= copyVector(this._mine());
    batches.forEach((data, i) => {
      const k = ++this.batch;
      this.inflight.set(k, { gen: this.gen, vector: i === batches.length - 1 ? vector : null });
      this.ws.send(encodeFrame(this.m, { t: 'changes', batch: k, data }));
    });
  }

  async _receive(bytes) {
    this.lastHeard = Date.now();
    let msg;
    try {
      msg = decodeFrame(this.m, bytes);
    } catch (err) {
      this._fail(new SyncoreError('PROTOCOL', `the relay sent a bad frame: ${err.message}`));
      this.ws?.close(1002, 'bad frame');
      return;
    }
    let now = true; // update the status at once (else within 20 ms: per-frame work stays O(1))
    switch (msg.t) {
      case 'changes':
        await this.store._applyRemote(msg.data, 'relay');
        this.lastSyncAt = Date.now();
        now = false;
        break;
      case 'end': {
        this.relayHave = msg.have;
        this.live = true;
        this.attempt = 0;
        this.error = null;
        this.tokenStale = false;
        // (over HTTP every request ends with an end: a resend already scheduled keeps its own time)
        if (!this.resendTimer) {
          this.gen++;
          this.blocked = false;
          this._sendGroup(this.store.replication.changesSince(msg.have, { collections: this.collections, maxBatchBytes: this.batchBytes }));
        }
        this.lastSyncAt = Date.now();
        this._haveChanged();
        this._sendPresence();
        break;
      }
      case 'ack': {
        const e = this.inflight.get(msg.batch);
        this.inflight.delete(msg.batch);
        if (e?.vector && e.gen === this.gen) {
          const have = (this.relayHave ??= {});
          for (const [c, sites] of Object.entries(e.vector)) for (const [site, seq] of Object.entries(sites)) raiseOne(have, c, site, seq);
          this._haveChanged();
        } else {
          now = false;
        }
        break;
      }
      case 'error':
        this._relayError(msg);
        break;
      case 'presence':
        if (msg.state === null) this.peers.delete(msg.site);
        else this.peers.set(msg.site, msg.state);
        this.store._presenceChanged(this.presence());
        now = false;
        break;
      default:
        break;
    }
    if (now) this._status();
    else this._statusSoon();
  }

  _relayError(msg) {
    const err = new SyncoreError(msg.code.toUpperCase().replace(/-/g, '_'), `relay: ${msg.message}`);
    err.relayCode = msg.code;
    if (msg.batch && this.inflight.delete(msg.batch)) {
      // refused: nothing sent so far may count as acknowledged past relayHave, and live sends wait
      this.gen++;
      this.blocked = true;
    }
    if (AUTH_CODES.has(msg.code)) this.tokenStale = true;
    if (msg.code === 'outdated') this.store._becomeOutdated(msg.message);
    // a batch refused for its size or the rate goes again by itself: smaller, or a second later
    if (msg.code === 'limit-changes-per-batch') {
      this.batchBytes = Math.max(1024, this.batchBytes >> 1);
      this._resend(0);
    } else if (msg.code === 'limit-rate') {
      this._resend(1000);
    } else if (msg.code === 'clock-skew') {
      this._resend(30_000); // accepted once real time reaches the stamps
    } // forbidden, bad-changes, outdated: the rows stay pending (status.error says why) until a reconnection
    this._fail(err);
    if (msg.fatal) this.ws?.close(1000, 'relay error');
  }

  /** Sends again what the relay has not acknowledged (a refused batch's rows), after delayMs. */
  _resend(delayMs) {
    if (this.resendTimer) return;
    this.resendTimer = setTimeout(() => {
      this.resendTimer = null;
      if (!this.live || !this.connected) return; // the next connection's catch-up sends them
      this.gen++;
      this.blocked = false;
      this._sendGroup(this.store.replication.changesSince(this.relayHave ?? {}, { collections: this.collections, maxBatchBytes: this.batchBytes }));
      this._status();
    }, delayMs);
    this.resendTimer.unref?.();
  }

  _fail(err) {
    this.error = err;
    this.store._emit('error', err);
  }

  /** Status after a frame or a local commit: computing pending walks the mirrored vector (O(sites), in
   *  JS), so a burst of frames recomputes it once, 20 ms later; store.status reads refresh() it at once. */
  _statusSoon() {
    if (this.statusTimer) return;
    this.statusTimer = setTimeout(() => this._status(), 20);
    this.statusTimer.unref?.();
  }

  refresh() {
    if (this.statusTimer) this._status();
  }

  _status() {
    clearTimeout(this.statusTimer);
    this.statusTimer = null;
    if (this.store._closed) return;
    const pending = this.pending();
    const synced = this.live && this.connected && pending === 0;
    this.store._updateStatus({ connected: this.connected, synced, pending, error: this.error, lastSyncAt: this.lastSyncAt });
    if (synced) for (const w of this.waiters.splice(0)) w.resolve();
  }
}
