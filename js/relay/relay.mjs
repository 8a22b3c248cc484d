// syncore-relay: one replica (a Store on NODEFS, or in memory over PostgreSQL) per channel, WebSocket sync
// (docs/PROTOCOL.md), JWT auth, limits, fan-out, /healthz and /metrics. docs/ARCHITECTURE.md, "the relay is
// the package itself" and "several relays on one PostgreSQL".
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import { WebSocketServer } from 'ws';
import { loadCore } from '../core.mjs';
import { PROTOCOL_VERSION, changeSetInfo, checkClockSkew, decodeFrame, encodeFrame } from '../protocol.mjs';
import { openStore } from '../store.mjs';
import { PgStorage, checkPostgresUrl } from './postgres.mjs';

export const DEFAULT_LIMITS = Object.freeze({
  frameBytes: 4 << 20, // one frame (a batch) at most
  changesPerBatch: 20_000, // rows in one client batch
  changesPerSecond: 50_000, // rows per connection per second (a bucket holding a second's or a batch's worth)
  subscribersPerChannel: 1_000,
  documentBytes: 1 << 20, // the fields of one document a batch carries, measured as JSON (the store's default)
  clockSkewMs: 5 * 60_000, // rows stamped further ahead of the relay's clock are refused
  presenceBytes: 4096, // one member's presence state, as JSON (relays on PostgreSQL share it by NOTIFY)
});
const MAX_BATCH_BYTES = 256 << 10; // catch-up batches
const HEARTBEAT_MS = 15_000;
const NAME_RE = /^[^\u0000-\u001f/]{1,200}$/;
// PostgreSQL: a channel's batches are folded into a checkpoint once they add up to more than this, or
// more than the last checkpoint's size, whichever is larger
const CHECKPOINT_BYTES = 1 << 20;

class RelayError extends Error {
  constructor(code, message, fatal = false) {
    super(message);
    this.code = code;
    this.fatal = fatal;
  }
}

/** A directory name for a tenant or channel: nothing can climb out of the data directory. */
function safeSegment(s) {
  return encodeURIComponent(s).replace(/\./g, '%2E').replace(/\*/g, '%2A');
}

/** The role a token's `channels` claim grants on `channel`: exact name first, then the longest `prefix*`. */
export function roleFor(grants, channel) {
  if (!grants || typeof grants !== 'object') return null;
  const valid = (r) => (r === 'owner' || r === 'editor' || r === 'viewer' ? r : null);
  if (Object.hasOwn(grants, channel)) return valid(grants[channel]);
  let best = null;
  let bestLen = -1;
  for (const [pattern, role] of Object.entries(grants)) {
    if (pattern.endsWith('*') && channel.startsWith(pattern.slice(0, -1)) && pattern.length > bestLen) {
      best = valid(role);
      bestLen = pattern.length;
    }
  }
  return best;
}

class Metrics {
  constructor(postgres) {
    this.counters = new Map();
    this.postgres = postgres;
  }

  inc(name, n = 1, label = '') {
    const k = label ? `${name}{reason="${label}"}` : name;
    this.counters.set(k, (this.counters.get(k) ?? 0) + n);
  }

  text(gauges) {
    const lines = [];
    const help = {
      syncore_connections: ['gauge', 'open sync connections'],
      syncore_channels: ['gauge', 'channels loaded in memory'],
      syncore_changes_in_total: ['counter', 'rows received from clients and applied'],
      syncore_changes_out_total: ['counter', 'change frames sent to clients'],
      syncore_bytes_in_total: ['counter', 'bytes of frames received'],
      syncore_bytes_out_total: ['counter', 'bytes of frames sent'],
      syncore_rejected_frames_total: ['counter', 'frames refused, by reason'],
    };
    if (this.postgres) {
      help.syncore_postgres_batches_written_total = ['counter', 'batches committed to PostgreSQL by this relay'];
      help.syncore_postgres_commits_total = ['counter', 'commits of batches (a group commit holds several)'];
      help.syncore_postgres_batches_read_total = ['counter', 'batches (and checkpoints) read from PostgreSQL and applied'];
      help.syncore_postgres_errors_total = ['counter', 'PostgreSQL reads and writes that failed'];
    }
    const all = new Map([...Object.entries(gauges), ...this.counters]);
    for (const [name, [type, text]] of Object.entries(help)) {
      lines.push(`# HELP ${name} ${text}`, `# TYPE ${name} ${type}`);
      let any = false;
      for (const [k, v] of all) {
        if (k === name || k.startsWith(`${name}{`)) {
          lines.push(`${k} ${v}`);
          any = true;
        }
      }
      if (!any && type === 'counter' && !name.includes('rejected')) lines.push(`${name} 0`);
    }
    return `${lines.join('\n')}\n`;
  }
}

/**
 * createRelay({ port, host, data, authSecret, jwks, insecureDev, idleMs, limits, log }).
 * start() resolves to {port, host}; stop() finishes in-flight batches and closes every socket with 1001.
 */
export function createRelay(options = {}) {
  return new Relay(options);
}

export class Relay {
  constructor(options) {
    if (options.postgres !== undefined) {
      if (typeof options.postgres !== 'string') throw new TypeError("createRelay: 'postgres' must be a postgres:// URL string");
      checkPostgresUrl(options.postgres);
    } else if (typeof options.data !== 'string' || options.data === '') {
      throw new TypeError("createRelay: give 'data' (the data directory) or 'postgres' (a postgres:// URL)");
    }
    if (!options.authSecret && !options.jwks && !options.insecureDev) {
      throw new TypeError("createRelay: give 'authSecret' (HS256), 'jwks' (a file or URL), or 'insecureDev: true' for anonymous development use");
    }
    this.options = options;
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 8787;
    this.dataDir = options.postgres === undefined ? path.resolve(options.data) : null;
    this.checkpointBytes = options.checkpointBytes ?? CHECKPOINT_BYTES;
    this.pg = null;
    this.byPgId = new Map(); // channel id in PostgreSQL -> Channel
    this.instance = crypto.randomBytes(8).toString('hex'); // tells this relay's presence notices from others'
    this.presenceRefreshMs = options.presenceRefreshMs ?? HEARTBEAT_MS;
    this.idleMs = options.idleMs ?? 60_000;
    // fsync each batch's journal before its ack: the emscripten file system (NODEFS) has no fsync of its
    // own, so without this an acknowledged batch survives a crash of the process, not of the machine
    this.fsync = options.fsync ?? true;
    this.limits = { ...DEFAULT_LIMITS, ...(options.limits ?? {}) };
    this.log = options.log ?? ((msg) => process.stderr.write(`syncore-relay: ${msg}\n`));
    this.channels = new Map(); // key -> Channel
    this.httpRates = new Map(); // '<channel key> <site>' -> the rate bucket of an HTTP fallback client
    this.conns = new Set();
    this.metrics = new Metrics(options.postgres !== undefined);
    this.stopping = false;
    this.m = null;
    this.keys = null;
  }

  async start() {
    this.m = await loadCore();
    if (this.options.authSecret) this.secret = new TextEncoder().encode(this.options.authSecret);
    if (this.options.jwks) {
      const j = this.options.jwks;
      this.keys = /^https?:\/\//.test(j) ? createRemoteJWKSet(new URL(j)) : createLocalJWKSet(JSON.parse(fs.readFileSync(j, 'utf8')));
    }
    if (this.options.insecureDev) {
      this.log('WARNING: --insecure-dev: connections without a token get full access to tenant "dev". Never use this in production.');
    }
    if (this.options.postgres !== undefined) {
      this.pg = new PgStorage(this.options.postgres, {
        log: this.log,
        onNotify: (id, payload) => this._pgNotified(id, payload),
        onListening: () => {
          for (const ch of this.byPgId.values()) this._pgPull(ch); // notifications may have been missed
        },
      });
      await this.pg.start(); // throws, naming the database and the cause, when it cannot be used
    } else {
      fs.mkdirSync(this.dataDir, { recursive: true });
    }
    this.server = http.createServer((req, res) => this._http(req, res));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.frameBytes + (64 << 10) });
    this.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url, 'http://relay');
      if (url.pathname !== '/v1/ws' || this.stopping) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this._connection(ws, url));
    });
    try {
      await new Promise((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.port, this.host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await this.pg?.close();
      throw err;
    }
    this.port = this.server.address().port;
    this.heartbeat = setInterval(() => {
      const cap = this._bucketCap();
      for (const [key, rate] of this.httpRates) {
        if (rate.bucket + ((Date.now() - rate.at) / 1000) * this.limits.changesPerSecond >= cap) this.httpRates.delete(key);
      }
      for (const c of this.conns) {
        if (c.http) continue; // event streams send their own heartbeat comments
        if (!c.alive) {
          c.ws.terminate();
          continue;
        }
        c.alive = false;
        c.ws.ping();
      }
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
    if (this.pg) {
      // members on other relays: announced again each period, forgotten after three without a word
      this.presenceTimer = setInterval(() => this._pgPresenceRefresh(), this.presenceRefreshMs);
      this.presenceTimer.unref();
    }
    return { port: this.port, host: this.host };
  }

  /** Stops accepting, lets in-flight batches finish (they are durable when applied), closes with 1001. */
  async stop() {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.heartbeat);
    clearInterval(this.presenceTimer);
    const closed = new Promise((resolve) => this.server.close(() => resolve()));
    await Promise.all([...this.channels.values()].map((ch) => ch.queue.catch(() => {})));
    for (const c of this.conns) c.ws.close(1001, 'relay shutting down');
    const deadline = Date.now() + 2000;
    while (this.conns.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.conns) c.ws.terminate();
    for (const ch of [...this.channels.values()]) await this._closeChannel(ch);
    await this.pg?.close();
    this.server.closeAllConnections?.();
    await closed;
  }

  stats() {
    return {
      connections: this.conns.size,
      channels: this.channels.size,
      counters: Object.fromEntries(this.metrics.counters),
    };
  }

  /** Server-side writes: relay.channel(name, {tenant}).collection(c).put/update/delete/increment. */
  channel(name, { tenant = 'dev' } = {}) {
    if (!NAME_RE.test(name) || !NAME_RE.test(tenant)) throw new TypeError(`relay.channel: bad channel or tenant name '${tenant}/${name}'`);
    const write = (collection, op) => async (...args) => {
      const ch = await this._openChannel(tenant, name);
      return this._enqueue(ch, async () => {
        const before = ch.store.replication.vector();
        const r = await ch.store.collection(collection)[op](...args);
        await this._persist(ch, () => ch.store.replication.changesSince(before, { maxBatchBytes: MAX_BATCH_BYTES }));
        this._fanOutSince(ch, before, null, [collection]);
        this._maybeEvict(ch);
        return r;
      });
    };
    return {
      collection: (collection) => ({
        put: write(collection, 'put'),
        update: write(collection, 'update'),
        delete: write(collection, 'delete'),
        increment: write(collection, 'increment'),
        get: async (id) => (await this._openChannel(tenant, name)).store.collection(collection).get(id),
        find: async (q) => (await this._openChannel(tenant, name)).store.collection(collection).find(q),
      }),
    };
  }

  // ------------------------------------------------------------------------------------------- HTTP
  _http(req, res) {
    const url = new URL(req.url, 'http://relay');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      res.writeHead(this.stopping ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: !this.stopping, connections: this.conns.size, channels: this.channels.size }));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(this.metrics.text({ syncore_connections: this.conns.size, syncore_channels: this.channels.size }));
      return;
    }
    // The HTTP fallback is called from web pages of other origins; tokens travel in headers, never in
    // cookies, so any origin may call it.
    if (url.pathname === '/v1/sync' || url.pathname === '/v1/events') {
      res.setHeader('access-control-allow-origin', '*');
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-methods': 'GET, POST',
          'access-control-allow-headers': 'authorization, content-type, accept',
          'access-control-max-age': '600',
        });
        res.end();
        return;
      }
    }
    if (req.method === 'POST' && url.pathname === '/v1/sync') {
      this._httpSync(req, res, url).catch((err) => {
        this.log(`internal error in /v1/sync: ${err.stack ?? err.message}`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/v1/events') {
      this._httpEvents(req, res, url).catch((err) => {
        this.log(`internal error in /v1/events: ${err.stack ?? err.message}`);
        res.destroy();
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  }

  // ------------------------------------------------------------------------------------ HTTP fallback
  // POST /v1/sync?channel=<name>: the body is frames, each prefixed by its length (uint32, big endian):
  // a hello, then changes. The answer, in the same framing: an ack or error per changes frame, then what
  // the hello's `have` lacks and `end` (computed after the request's own changes are in). GET
  // /v1/events?channel=<name>&collections=a,b with `Authorization: Bearer <token>`: Server-Sent Events,
  // each `data:` line one frame in base64 (the changes and presence fanned out on the channel).
  async _httpSync(req, res, url) {
    const out = [];
    const conn = this._pseudoConn(url, (bytes) => out.push(bytes));
    const chunks = [];
    let size = 0;
    const cap = this.limits.frameBytes * 4 + 4096;
    for await (const chunk of req) {
      size += chunk.length;
      if (size > cap) {
        this.metrics.inc('syncore_rejected_frames_total', 1, 'limit-frame-bytes');
        res.writeHead(413, { 'content-type': 'text/plain' });
        res.end(`request over ${cap} bytes: send fewer changes per request\n`);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks);
    let first = true;
    for (let at = 0; at < body.length && conn.ws.readyState === 1;) {
      const n = at + 4 <= body.length ? body.readUInt32BE(at) : -1;
      if (n < 0 || at + 4 + n > body.length) {
        this._refuse(conn, new RelayError('protocol', 'a truncated frame in the request body (each frame: a 4-byte big-endian length, then the frame)', true));
        break;
      }
      const frame = new Uint8Array(body.buffer, body.byteOffset + at + 4, n);
      at += 4 + n;
      first = false;
      await this._frame(conn, frame);
    }
    if (first) this._refuse(conn, new RelayError('protocol', 'an empty request: send a hello first', true));
    if (conn.hello && conn.ws.readyState === 1) await this._catchUp(conn, conn.helloMsg);
    const payload = Buffer.alloc(out.reduce((n, b) => n + 4 + b.length, 0));
    let at = 0;
    for (const b of out) {
      payload.writeUInt32BE(b.length, at);
      payload.set(b, at + 4);
      at += 4 + b.length;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(payload);
  }

  /** An HTTP request or event stream, shaped like a connection for _frame / _send / fan-out. */
  _pseudoConn(url, send) {
    const conn = this._newConn(null, url, true);
    conn.ws = { readyState: 1, send, close: () => { conn.ws.readyState = 3; }, terminate: () => { conn.ws.readyState = 3; } };
    return conn;
  }

  /** What the relay keeps per connection (a WebSocket, an HTTP request or an event stream). */
  _newConn(ws, url, http) {
    return {
      ws, http, alive: true, channel: null, hello: false, role: null, readOnly: false, collections: [], expiry: null,
      rate: { bucket: this._bucketCap(), at: Date.now() }, busy: Promise.resolve(),
      channelName: url.searchParams.get('channel') ?? '',
    };
  }

  /** An HTTP request's hello: authorized like a WebSocket's, but it subscribes to nothing. */
  async _httpHello(conn, msg) {
    const { claims, role, ch } = await this._authorize(conn, msg);
    this._admit(conn, msg, claims, role, ch, false);
    conn.helloMsg = msg;
    // requests are stateless: the rate limit follows the client (its site) on the channel instead
    const key = `${ch.key} ${msg.site}`;
    conn.rate = this.httpRates.get(key) ?? conn.rate;
    this.httpRates.set(key, conn.rate);
    this._maybeEvict(ch);
  }

  async _httpEvents(req, res, url) {
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const collections = (url.searchParams.get('collections') ?? '').split(',').filter(Boolean);
    const conn = this._pseudoConn(url, (bytes) => res.write(`data: ${Buffer.from(bytes).toString('base64')}\n\n`));
    let granted;
    try {
      granted = await this._authorize(conn, { v: PROTOCOL_VERSION, token: auth?.[1] ?? '' });
    } catch (err) {
      if (!(err instanceof RelayError)) throw err;
      this.metrics.inc('syncore_rejected_frames_total', 1, err.code);
      res.writeHead(err.code === 'limit-subscribers' || err.code === 'unavailable' ? 503 : err.code === 'bad-channel' ? 400 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: err.code, message: err.message }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': syncore events\n\n');
    const { claims, role, ch } = granted;
    this._admit(conn, { site: '', collections }, claims, role, ch);
    const beat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    beat.unref();
    this.conns.add(conn);
    const done = () => {
      clearInterval(beat);
      clearTimeout(conn.expiry);
      this.conns.delete(conn);
      ch.subs.delete(conn);
      this._maybeEvict(ch);
    };
    conn.ws.close = () => {
      conn.ws.readyState = 3;
      res.end();
    };
    conn.ws.terminate = conn.ws.close;
    res.on('close', done);
  }

  /** Token, role and channel of a hello (WebSocket or HTTP); throws a fatal RelayError when refused. */
  async _authorize(conn, msg) {
    if (msg.v !== PROTOCOL_VERSION) {
      throw new RelayError('protocol-version', `this relay speaks protocol ${PROTOCOL_VERSION}, the client ${msg.v}: upgrade the client or the relay`, true);
    }
    if (!NAME_RE.test(conn.channelName)) {
      throw new RelayError('bad-channel', "give the channel as ?channel=<name> (1 to 200 characters, no '/' or control characters)", true);
    }
    const claims = await this._verify(msg.token);
    const role = roleFor(claims.channels, conn.channelName);
    if (!role) throw new RelayError('forbidden-channel', `the token grants no role on channel '${conn.channelName}'`, true);
    const ch = await this._openChannel(claims.tenant, conn.channelName);
    if (ch.subs.size >= this.limits.subscribersPerChannel) {
      this._maybeEvict(ch);
      throw new RelayError('limit-subscribers', `channel '${conn.channelName}' has its limit of ${this.limits.subscribersPerChannel} subscribers; try again later`, true);
    }
    return { claims, role, ch };
  }

  // ----------------------------------------------------------------------------------------- channels
  async _openChannel(tenant, name) {
    const key = `${tenant}/${name}`;
    let ch = this.channels.get(key);
    if (ch) {
      clearTimeout(ch.idle);
      ch.idle = null;
      return ch.ready;
    }
    ch = { key, tenant, name, subs: new Set(), store: null, queue: Promise.resolve(), idle: null, batch: 0 };
    ch.ready = (async () => {
      if (this.pg) {
        await this._pgOpen(ch);
      } else {
        const dir = path.join(this.dataDir, safeSegment(tenant), safeSegment(name));
        fs.mkdirSync(dir, { recursive: true });
        ch.dir = dir;
        ch.store = await openStore({ name: key, directory: dir, fsync: this.fsync });
        if (ch.store.openReport?.damaged) this.log(`channel ${key}: stored data was damaged and cut back: ${ch.store.openReport.message}`);
      }
      ch.store.on('error', (err) => this.log(`channel ${key}: ${err.message}`));
      return ch;
    })();
    this.channels.set(key, ch);
    try {
      return await ch.ready;
    } catch (err) {
      this.channels.delete(key);
      throw err;
    }
  }

  /** Makes what was just applied to the channel durable before its ack: the journal fsynced (data
   *  directory), or the change set `batches()` returns appended to the channel's batches (PostgreSQL). */
  async _persist(ch, batches) {
    if (!this.pg) return this._fsync(ch);
    const list = batches();
    if (!list.length) return;
    let seqs;
    try {
      seqs = await this.pg.append(ch.pgId, list);
    } catch (err) {
      this._pgBroken(ch, err);
      throw new RelayError('unavailable', `the relay cannot store changes now (PostgreSQL: ${err.message}); nothing was acknowledged: send them again later`, true);
    }
    this.metrics.inc('syncore_postgres_batches_written_total', seqs.length);
    this.metrics.inc('syncore_postgres_commits_total');
    let gap = false;
    for (const seq of seqs) {
      if (seq === ch.pgSeq + 1) ch.pgSeq = seq;
      else {
        gap = true; // another relay's batch came first: read it; ours are skipped when read back
        ch.ownSeqs.add(seq);
      }
    }
    if (gap) this._pgPull(ch);
    ch.pgBytes += list.reduce((n, b) => n + b.length, 0);
    if (ch.pgBytes > Math.max(this.checkpointBytes, ch.stateBytes)) this._pgCheckpoint(ch);
  }

  // ----------------------------------------------------------------------------------- PostgreSQL
  // A channel is a Store in memory, loaded from its checkpoint and batches; each batch a client sends is
  // applied to it, appended to the batches, and acknowledged once committed; other relays hear of it
  // through NOTIFY and read it. ch.pgSeq: every batch up to it is applied here.

  async _pgOpen(ch) {
    ch.store = await openStore({ name: ch.key, storage: 'memory' });
    ch.pgSeq = 0;
    ch.pgBytes = 0;
    ch.stateBytes = 0;
    ch.ownSeqs = new Set(); // this relay's batches past a gap: already applied here
    try {
      let r = await this.pg.open(ch.tenant, ch.name);
      ch.pgId = r.id;
      this._pgAbsorb(ch, r, false);
      while (r.more) {
        r = await this.pg.read(ch.pgId, ch.pgSeq);
        this._pgAbsorb(ch, r, false);
      }
    } catch (err) {
      await ch.store.close().catch(() => {});
      if (ch.pgId) await this.pg.forget(ch.pgId);
      this.metrics.inc('syncore_postgres_errors_total');
      throw new RelayError('unavailable', `channel '${ch.name}' cannot be loaded now (PostgreSQL: ${err.message}); try again later`, true);
    }
    this.byPgId.set(ch.pgId, ch);
    // a notification between the read and now found no channel: read once more (usually nothing)
    this._pgPull(ch);
    this.pg.notify(ch.pgId, `who:${this.instance}`).catch(() => {}); // members on other relays, at once
  }

  /** Applies what a read() returned, in order; fans out what was new here when `fanOut`. */
  _pgAbsorb(ch, r, fanOut) {
    const schema = ch.store._core.call('schemaVersion');
    if (r.schema > schema) ch.store._write(() => ch.store._core.call('setSchemaVersion', r.schema));
    const one = (data, seq) => {
      const before = fanOut && ch.subs.size ? ch.store.replication.vector() : null;
      const res = JSON.parse(ch.store._core.call('apply', data)); // a batch that was valid once is valid here
      ch.pgSeq = seq;
      this.metrics.inc('syncore_postgres_batches_read_total');
      if (before && (res.raised.length || res.rowsApplied)) {
        // which collections it touches matters only to subscribers that sync some collections: decode
        // the batch a second time only for them
        const filtered = [...ch.subs].some((sub) => sub.collections.length);
        const collections = filtered ? Object.keys(changeSetInfo(this.m, data).collections) : [];
        this._fanOutSince(ch, before, null, collections, r.checkpoint?.data === data ? null : data);
      }
    };
    if (r.checkpoint) {
      one(r.checkpoint.data, r.checkpoint.seq);
      ch.stateBytes = r.checkpoint.data.length;
      ch.pgBytes = 0;
    }
    for (const b of r.batches) {
      if (b.seq <= ch.pgSeq) continue;
      ch.pgBytes += b.data.length;
      if (ch.ownSeqs.delete(b.seq)) ch.pgSeq = b.seq; // this relay's own: applied when it arrived
      else one(b.data, b.seq);
    }
    for (const seq of ch.ownSeqs) if (seq <= ch.pgSeq) ch.ownSeqs.delete(seq); // folded into a checkpoint
  }

  /** Reads and applies what other relays committed to the channel (coalesced: one pull at a time). */
  _pgPull(ch) {
    if (ch.pulling) {
      ch.pullAgain = true;
      return;
    }
    ch.pulling = this._enqueue(ch, async () => {
      do {
        ch.pullAgain = false;
        let r;
        do {
          if (ch.broken || ch.store._closed) return;
          r = await this.pg.read(ch.pgId, ch.pgSeq);
          this._pgAbsorb(ch, r, true);
        } while (r.more);
      } while (ch.pullAgain);
    }).catch((err) => {
      // PostgreSQL is away: the listener's reconnection pulls every channel again
      this.metrics.inc('syncore_postgres_errors_total');
      this.log(`channel ${ch.key}: cannot read from PostgreSQL: ${err.message}`);
    }).finally(() => {
      ch.pulling = null;
    });
  }

  _pgNotified(id, payload) {
    const ch = this.byPgId.get(id);
    if (!ch || ch.broken) return;
    if (payload.startsWith('p:')) return this._pgPresenceIn(ch, payload.slice(2));
    if (payload.startsWith('who:')) {
      if (payload.slice(4) !== this.instance) this._pgPresenceRefresh(ch); // a relay just loaded the channel
      return;
    }
    if (payload === 'checkpoint') {
      ch.pgBytes = 0; // another relay folded the batches: no need to do it here too soon
      return;
    }
    if (/^\d+$/.test(payload) && Number(payload) <= ch.pgSeq) return; // this relay's own batch
    this._pgPull(ch);
  }

  // Presence between relays: NOTIFY syncore_<id> 'p:{"r": relay, "s": site, "st": state}' (state null: left),
  // each relay's members announced again every presenceRefreshMs, and 'who:<relay>' when a relay loads
  // the channel (the others announce theirs at once). A member not heard of for three periods is gone.

  _pgPresenceOut(ch, site, state) {
    const payload = `p:${JSON.stringify({ r: this.instance, s: site, st: state ?? null })}`;
    this.pg.notify(ch.pgId, payload).catch((err) => this.log(`channel ${ch.key}: presence not shared with other relays: ${err.message}`));
  }

  _pgPresenceIn(ch, text) {
    let p;
    try {
      p = JSON.parse(text);
    } catch {
      return;
    }
    if (p.r === this.instance || typeof p.s !== 'string') return;
    ch.remotePresence ??= new Map();
    const had = ch.remotePresence.get(p.s);
    if (p.st === null) {
      if (!had) return;
      ch.remotePresence.delete(p.s);
      if (this._localPresence(ch, p.s)) return; // the member moved to this relay
    } else {
      ch.remotePresence.set(p.s, { state: p.st, relay: p.r, at: Date.now() });
      if (had && JSON.stringify(had.state) === JSON.stringify(p.st)) return; // a refresh
    }
    for (const sub of ch.subs) this._send(sub, { t: 'presence', site: p.s, state: p.st });
  }

  _localPresence(ch, site) {
    for (const sub of ch.subs) if (sub.site === site && sub.presence !== undefined && sub.presence !== null) return true;
    return false;
  }

  /** Announces this relay's members again (every channel, or one), and forgets silent remote ones. */
  _pgPresenceRefresh(only = null) {
    const stale = Date.now() - 3 * this.presenceRefreshMs;
    for (const ch of only ? [only] : this.byPgId.values()) {
      for (const sub of ch.subs) {
        if (sub.presence !== undefined && sub.presence !== null) this._pgPresenceOut(ch, sub.site, sub.presence);
      }
      if (only) continue;
      for (const [site, p] of ch.remotePresence ?? []) {
        if (p.at >= stale) continue;
        ch.remotePresence.delete(site);
        if (this._localPresence(ch, site)) continue;
        for (const sub of ch.subs) this._send(sub, { t: 'presence', site, state: null });
      }
    }
  }

  /** Folds the channel's batches into a new checkpoint (after what is queued on the channel). */
  _pgCheckpoint(ch) {
    if (ch.checkpointing) return;
    ch.checkpointing = true;
    this._enqueue(ch, async () => {
      const seq = ch.pgSeq; // the state holds at least every batch up to seq (maybe more: harmless)
      const state = ch.store.replication.encodeState();
      await this.pg.checkpoint(ch.pgId, seq, state);
      ch.stateBytes = state.length;
      ch.pgBytes = 0;
    }).catch((err) => {
      this.metrics.inc('syncore_postgres_errors_total');
      this.log(`channel ${ch.key}: checkpoint failed (it is tried again later): ${err.message}`);
    }).finally(() => {
      ch.checkpointing = false;
    });
  }

  /** A write to PostgreSQL failed after its batch was applied here: this replica holds what the database
   *  may not, so it is dropped, and its clients reconnect (to a replica loaded from the database). */
  _pgBroken(ch, err) {
    this.metrics.inc('syncore_postgres_errors_total');
    this.log(`channel ${ch.key}: PostgreSQL write failed (${err.message}); the channel is reloaded on the next connection`);
    ch.broken = true;
    if (this.channels.get(ch.key) === ch) this.channels.delete(ch.key);
    this.byPgId.delete(ch.pgId);
    for (const sub of ch.subs) {
      // after the error frame the sender is about to get
      setTimeout(() => sub.ws.readyState === 1 && sub.ws.close(1013, 'storage unavailable'), 0);
    }
    ch.subs.clear();
    ch.queue.then(() => this._closeChannel(ch)).catch(() => {});
  }

  /** The store fsyncs its journal records and state file itself (openStore({fsync})); what it cannot
   *  do through NODEFS is fsync the directory, so that a new journal segment, or the state file renamed
   *  into place by a compaction, is found after a machine crash. Done here when either changed. */
  _fsync(ch) {
    if (!this.fsync) return;
    const names = fs.readdirSync(ch.dir);
    const segment = names.filter((n) => /^journal-\d+\.log$/.test(n)).sort().at(-1) ?? null;
    const state = names.includes('syncore.state') ? fs.statSync(path.join(ch.dir, 'syncore.state')).ino : null;
    if (segment === ch.segment && state === ch.stateIno) return;
    ch.segment = segment;
    ch.stateIno = state;
    const dfd = fs.openSync(ch.dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  }

  _maybeEvict(ch) {
    if (ch.subs.size || ch.idle || this.stopping) return;
    ch.idle = setTimeout(() => {
      ch.idle = null;
      if (!ch.subs.size && this.channels.get(ch.key) === ch) this._closeChannel(ch).catch((err) => this.log(err.message));
    }, this.idleMs);
    ch.idle.unref();
  }

  async _closeChannel(ch) {
    if (this.channels.get(ch.key) === ch) this.channels.delete(ch.key);
    clearTimeout(ch.idle);
    await ch.queue.catch(() => {});
    if (ch.pgId && this.byPgId.get(ch.pgId) === ch) {
      this.byPgId.delete(ch.pgId);
      await this.pg.forget(ch.pgId);
    }
    if (!ch.store?._closed) await ch.store?.close();
  }

  /** Runs fn after everything queued on the channel: batches apply in arrival order, one at a time. */
  _enqueue(ch, fn) {
    const run = ch.queue.then(fn);
    ch.queue = run.catch(() => {});
    return run;
  }

  // -------------------------------------------------------------------------------------- connections
  _connection(ws, url) {
    const conn = this._newConn(ws, url, false);
    this.conns.add(conn);
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('message', (data, isBinary) => {
      const bytes = isBinary ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
      // frames of one connection are handled in order
      conn.busy = conn.busy.then(() => this._frame(conn, bytes)).catch((err) => {
        this.log(`internal error on a connection: ${err.stack ?? err.message}`);
        this._refuse(conn, new RelayError('internal', 'the relay failed on this frame; nothing of it was applied', true));
      });
    });
    ws.on('close', () => {
      this.conns.delete(conn);
      clearTimeout(conn.expiry);
      if (conn.channel) {
        conn.channel.subs.delete(conn);
        if (conn.presence !== undefined && conn.presence !== null) this._presenceOut(conn, null);
        this._maybeEvict(conn.channel);
      }
    });
    ws.on('error', () => {}); // 'close' follows
  }

  _send(conn, msg) {
    if (conn.ws.readyState !== 1) return;
    const bytes = encodeFrame(this.m, msg);
    this.metrics.inc('syncore_bytes_out_total', bytes.length);
    if (msg.t === 'changes') this.metrics.inc('syncore_changes_out_total');
    conn.ws.send(bytes);
  }

  _refuse(conn, err, batch = 0) {
    this.metrics.inc('syncore_rejected_frames_total', 1, err.code);
    this._send(conn, { t: 'error', code: err.code, message: err.message, fatal: err.fatal, batch });
    if (err.fatal) conn.ws.close(err.code === 'protocol' ? 1002 : err.code === 'unavailable' ? 1013 : 1008, err.code);
  }

  async _frame(conn, bytes) {
    if (conn.ws.readyState !== 1) return;
    if (!bytes) return this._refuse(conn, new RelayError('protocol', 'frames are binary (MessagePack); got a text frame', true));
    this.metrics.inc('syncore_bytes_in_total', bytes.length);
    if (bytes.length > this.limits.frameBytes) {
      return this._refuse(conn, new RelayError('limit-frame-bytes', `frame of ${bytes.length} bytes is over the relay's limit of ${this.limits.frameBytes}; send smaller batches`, true));
    }
    let msg;
    try {
      msg = decodeFrame(this.m, bytes);
    } catch (err) {
      return this._refuse(conn, new RelayError('protocol', `not a sync frame: ${err.message}`, true));
    }
    try {
      if (!conn.hello) {
        if (msg.t !== 'hello') throw new RelayError('protocol', `the first frame must be hello, got ${msg.t}`, true);
        await (conn.http ? this._httpHello(conn, msg) : this._hello(conn, msg));
        return;
      }
      switch (msg.t) {
        case 'changes':
          await this._changes(conn, msg);
          return;
        case 'hello':
          throw new RelayError('protocol', 'hello was already sent on this connection', true);
        case 'presence':
          this._presence(conn, msg);
          return;
        case 'ack':
          // ack of batch 0 is the client's heartbeat: answered in kind; clients need not ack our batches
          if (msg.batch === 0) this._send(conn, { t: 'ack', batch: 0 });
          return;
        default:
          throw new RelayError('protocol', `a client does not send ${msg.t} frames`, true);
      }
    } catch (err) {
      if (err instanceof RelayError) return this._refuse(conn, err, msg.batch ?? 0);
      throw err;
    }
  }

  async _verify(token) {
    if (!token) {
      if (this.options.insecureDev) return { sub: 'anonymous', tenant: 'dev', channels: { '*': 'owner' } };
      throw new RelayError('unauthorized', 'no token: this relay needs a JWT (openStore({ token }))', true);
    }
    if (!this.secret && !this.keys) {
      return { sub: 'anonymous', tenant: 'dev', channels: { '*': 'owner' } }; // insecure-dev without keys
    }
    let payload;
    try {
      ({ payload } = this.secret
        ? await jwtVerify(token, this.secret, { algorithms: ['HS256'] })
        : await jwtVerify(token, this.keys));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new RelayError('token-expired', 'the token has expired: get a new one', true);
      throw new RelayError('unauthorized', `the token was refused: ${err.code ?? 'invalid'} (${err.message})`, true);
    }
    if (typeof payload.tenant !== 'string' || !NAME_RE.test(payload.tenant)) {
      throw new RelayError('unauthorized', "the token has no valid 'tenant' claim", true);
    }
    return payload;
  }

  async _hello(conn, msg) {
    const { claims, role, ch } = await this._authorize(conn, msg);
    if (conn.ws.readyState !== 1) return this._maybeEvict(ch);
    this._admit(conn, msg, claims, role, ch);
    await this._catchUp(conn, msg);
  }

  /** The hello was accepted: the connection subscribes to the channel (HTTP sync requests do not). */
  _admit(conn, msg, claims, role, ch, subscribe = true) {
    conn.hello = true;
    conn.role = role;
    conn.channel = ch;
    conn.sub = claims.sub ?? '';
    conn.site = msg.site; // presence is sent under the hello's site, whatever a later frame claims
    conn.collections = msg.collections;
    if (subscribe) ch.subs.add(conn);
    if (subscribe && typeof claims.exp === 'number') {
      const ms = claims.exp * 1000 - Date.now();
      conn.expiry = setTimeout(() => this._refuse(conn, new RelayError('token-expired', 'the token expired on this open connection: get a new one and reconnect', true)), Math.max(0, Math.min(ms, 2 ** 31 - 1)));
      conn.expiry.unref();
    }
  }

  /** What the hello's `have` lacks, then `end` with the relay's vector, then the others' presence. */
  async _catchUp(conn, msg) {
    const ch = conn.channel;
    const role = conn.role;
    await this._enqueue(ch, async () => {
      const schema = ch.store._core.call('schemaVersion');
      if (msg.schema > schema && role !== 'viewer') {
        ch.store._write(() => ch.store._core.call('setSchemaVersion', msg.schema));
        if (this.pg) {
          await this.pg.raiseSchema(ch.pgId, msg.schema).catch((err) => {
            this._pgBroken(ch, err);
            throw new RelayError('unavailable', `the relay cannot store the channel's schema version now (PostgreSQL: ${err.message}); try again later`, true);
          });
        }
      } else if (msg.schema < schema) {
        conn.readOnly = true;
        this._refuse(conn, new RelayError('outdated', `channel '${conn.channelName}' holds schema version ${schema}, this client ${msg.schema}: it is read-only until the app upgrades`));
      }
      const batches = ch.store.replication.changesSince(msg.have, { collections: msg.collections, maxBatchBytes: MAX_BATCH_BYTES });
      for (const data of batches) this._send(conn, { t: 'changes', batch: ++ch.batch, data });
      this._send(conn, { t: 'end', have: this._vector(ch, msg.collections) });
      for (const other of ch.subs) {
        if (other !== conn && other.presence !== undefined && other.presence !== null) {
          this._send(conn, { t: 'presence', site: other.site, state: other.presence });
        }
      }
      for (const [site, p] of ch.remotePresence ?? []) this._send(conn, { t: 'presence', site, state: p.state });
    });
  }

  /** Presence is ephemeral: kept per connection, fanned out, never stored. Counted like one change. */
  _presence(conn, msg) {
    if (this._refill(conn) < 1) {
      throw new RelayError('limit-rate', `more than ${this.limits.changesPerSecond} changes per second on this connection; presence dropped`);
    }
    const bytes = Buffer.byteLength(JSON.stringify(msg.state ?? null));
    if (bytes > this.limits.presenceBytes) {
      throw new RelayError('limit-presence-bytes', `a presence state of ${bytes} bytes (as JSON) is over the limit of ${this.limits.presenceBytes}; it was not shared`);
    }
    conn.rate.bucket -= 1;
    conn.presence = msg.state;
    this._presenceOut(conn, msg.state);
  }

  _presenceOut(conn, state) {
    for (const sub of conn.channel.subs) {
      if (sub !== conn) this._send(sub, { t: 'presence', site: conn.site, state });
    }
    if (this.pg && !conn.channel.broken) this._pgPresenceOut(conn.channel, conn.site, state);
  }

  /** A token bucket: refills at changesPerSecond and holds at most max(changesPerSecond,
   *  changesPerBatch), so any batch within the per-batch limit can pass once the bucket is full. */
  _refill(conn) {
    const now = Date.now();
    const r = conn.rate;
    r.bucket = Math.min(this._bucketCap(), r.bucket + ((now - r.at) / 1000) * this.limits.changesPerSecond);
    r.at = now;
    return r.bucket;
  }

  _bucketCap() {
    return Math.max(this.limits.changesPerSecond, this.limits.changesPerBatch);
  }

  _vector(ch, collections) {
    const v = ch.store.replication.vector();
    if (!collections.length) return v;
    return Object.fromEntries(Object.entries(v).filter(([c]) => collections.includes(c)));
  }

  async _changes(conn, msg) {
    const ch = conn.channel;
    if (conn.role === 'viewer') throw new RelayError('forbidden', `a viewer cannot write to channel '${conn.channelName}'; nothing was applied`);
    if (conn.readOnly) throw new RelayError('outdated', 'this client is older than the channel\'s schema: read-only until the app upgrades; nothing was applied');
    let info;
    try {
      info = changeSetInfo(this.m, msg.data);
    } catch (err) {
      throw new RelayError('bad-changes', `batch ${msg.batch} is not a valid change set: ${err.message}; nothing was applied`);
    }
    if (info.rows > this.limits.changesPerBatch) {
      throw new RelayError('limit-changes-per-batch', `batch ${msg.batch} has ${info.rows} changes, over the limit of ${this.limits.changesPerBatch}; send smaller batches`);
    }
    if (info.largestDocBytes > this.limits.documentBytes) {
      throw new RelayError('limit-document-bytes', `batch ${msg.batch}: document '${info.largestDoc}' carries ${info.largestDocBytes} bytes, over the limit of ${this.limits.documentBytes}; nothing was applied`);
    }
    const now = Date.now();
    const rate = this.limits.changesPerSecond;
    if (info.rows > this._refill(conn)) {
      throw new RelayError('limit-rate', `more than ${rate} changes per second on this connection; batch ${msg.batch} was refused, send it again later`);
    }
    conn.rate.bucket -= info.rows;
    try {
      checkClockSkew(this.m, msg.data, now, this.limits.clockSkewMs);
    } catch (err) {
      throw new RelayError('clock-skew', `batch ${msg.batch}: ${err.message} (the relay allows ${this.limits.clockSkewMs} ms); check the device clock`);
    }
    return this._commitBatch(ch, conn, msg, info);
  }

  /** Group commit. Batches that arrive on a channel while its previous group is being made durable wait
   *  together; the next group applies them one by one, makes the ones that brought something new durable
   *  at once (fsync, or one PostgreSQL statement), then acknowledges and fans out each. One commit is
   *  then shared by every connection writing to the channel at that moment. */
  _commitBatch(ch, conn, msg, info) {
    return new Promise((resolve, reject) => {
      const group = (ch.group ??= []);
      group.push({ conn, msg, info, resolve, reject });
      if (group.length === 1) this._enqueue(ch, () => this._commitGroup(ch));
    });
  }

  async _commitGroup(ch) {
    const items = ch.group;
    ch.group = []; // what arrives from now on is the next group
    if (ch.broken) {
      const err = new RelayError('unavailable', 'the channel is being reloaded; nothing was acknowledged: send again later', true);
      for (const it of items) it.reject(err);
      return;
    }
    const applied = [];
    for (const it of items) {
      const others = ch.subs.size - (ch.subs.has(it.conn) ? 1 : 0); // subscribers to fan out to
      const before = others > 0 ? ch.store.replication.vector() : null;
      let r;
      try {
        r = await ch.store.replication.apply(it.msg.data);
      } catch (err) {
        it.reject(new RelayError('bad-changes', `batch ${it.msg.batch} was refused: ${err.message}; nothing was applied`));
        continue;
      }
      applied.push({ ...it, before, r });
    }
    try {
      // on the disk (fsync) or committed to PostgreSQL before the ack; a batch that brought nothing new
      // is already wherever the rest is
      await this._persist(ch, () => applied.filter((a) => a.r.raised.length || a.r.rowsApplied).map((a) => a.msg.data));
    } catch (err) {
      for (const a of applied) a.reject(err);
      return;
    }
    for (const a of applied) {
      this.metrics.inc('syncore_changes_in_total', a.info.rows);
      this._send(a.conn, { t: 'ack', batch: a.msg.batch });
      if (a.before) this._fanOutSince(ch, a.before, a.conn, Object.keys(a.info.collections), a.msg.data);
      a.resolve();
    }
  }

  /** Sends what changed since `before` to every subscriber but `from`: the batch itself when it syncs all
   *  of the batch's collections, else changesSince(before) over its own collections. */
  _fanOutSince(ch, before, from, collections, data = null) {
    const since = new Map(); // collections synced -> batches: one changesSince per distinct filter
    for (const sub of ch.subs) {
      if (sub === from || sub.ws.readyState !== 1) continue;
      const mine = sub.collections;
      const all = !mine.length || collections.every((c) => mine.includes(c));
      if (data && all) {
        this._send(sub, { t: 'changes', batch: ++ch.batch, data });
        continue;
      }
      if (mine.length && !collections.some((c) => mine.includes(c))) continue;
      const wanted = mine.length ? mine : collections;
      const key = wanted.join('\u0000');
      if (!since.has(key)) since.set(key, ch.store.replication.changesSince(before, { collections: wanted, maxBatchBytes: MAX_BATCH_BYTES }));
      for (const b of since.get(key)) this._send(sub, { t: 'changes', batch: ++ch.batch, data: b });
    }
  }
}
