// Relay load benchmark, everything on 127.0.0.1, bounded in count and time. Three servers side by side:
//   syncore      js/relay/relay.mjs (createRelay, insecureDev, a temporary data directory) with real
//                openStore({storage: 'memory', relay, channel}) clients;
//   bare-ws      a `ws` broadcast server (every message to every other client): the ceiling;
//   y-websocket  @y/websocket-server's setupWSConnection (its utils, on a `ws` server) with Y.Doc +
//                y-websocket WebsocketProvider clients.
// The server runs in one child process, all the clients of a run in another (2 cores here: one each),
// so a server's CPU figure is its own.
//
// 1. Fan-out: N clients on one channel, each writing one small change every I ms (open loop, phases
//    spread evenly) for D ms. A change carries t = performance.now() of the clients' process and a
//    write id w; each receiving client reads them back when its store emits 'change' (syncore) / its
//    Y.Map observer fires (Yjs) / the message arrives (bare ws). Latency = arrival - t, per delivery
//    (one write has N-1 deliveries) and per write until the last receiver has it. Deliveries/s counts
//    arrivals inside the write window. After the window, up to --drain ms for the stragglers.
// 2. Initial sync of a 100,000-document channel (js_bench's documents) into a fresh client: time and
//    bytes on the client's socket, against a y-websocket server holding a Y.Doc of the same entries.
//
//   node bench/relay_bench.mjs [--configs=100:2000,500:60000] [--duration=20000] [--drain=10000]
//        [--systems=syncore,bare-ws,y-websocket] [--sync-docs=100000] [--skip-sync] [--skip-fanout]
//        [--syncore-clients=frame|store] [--json=build-bench/relay.json]
// --configs: clients:interval-ms pairs (interval between two writes of one client).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Child, cpuMs, parseArgs, publish, sleep, until } from './harness.mjs';
import { workloadDocs } from './workload.mjs';

const SELF = fileURLToPath(import.meta.url);
const args = parseArgs();
const HOST = '127.0.0.1';
const BIG_HEAP = ['--max-old-space-size=8192'];
const CHANNEL = 'bench';
const SEED = 20240611;

function send(msg) {
  process.send(msg);
}

// ========================================================================================= servers
async function runServer(system, opts) {
  const { WebSocketServer } = await import('ws');
  const logs = [];
  let stop;
  let port;
  let relay;
  let dataDir;
  if (system === 'syncore') {
    const { createRelay } = await import('../js/relay/relay.mjs');
    dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'syncore-relay-bench-'));
    relay = createRelay({ port: 0, host: HOST, data: dataDir, insecureDev: true, log: (m) => { if (logs.length < 20) logs.push(String(m).slice(0, 500)); } });
    ({ port } = await relay.start());
    stop = async () => {
      await relay.stop();
      if (!opts.keepData) fs.rmSync(dataDir, { recursive: true, force: true });
    };
  } else if (system === 'bare-ws') {
    const wss = new WebSocketServer({ port: 0, host: HOST });
    await new Promise((r) => wss.once('listening', r));
    port = wss.address().port;
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => {
        for (const c of wss.clients) if (c !== ws && c.readyState === 1) c.send(data, { binary: isBinary });
      });
      ws.on('error', () => {});
    });
    stop = async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
    };
  } else if (system === 'y-websocket') {
    const http = await import('node:http');
    const Y = await import('yjs');
    const utils = await import('@y/websocket-server/utils');
    if (opts.syncDocs) {
      // the document a fresh client syncs: a Y.Map of plain objects (js_bench's yjs-plain shape)
      const doc = utils.getYDoc(`sync${opts.syncDocs}`);
      const map = doc.getMap('tasks');
      const docs = workloadDocs(opts.syncDocs);
      doc.transact(() => {
        for (const d of docs) map.set(d.id, d);
      });
      logs.push(`y-websocket: Y.Doc of ${map.size} entries, encoded state ${Y.encodeStateAsUpdate(doc).length} bytes`);
    }
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('okay');
    });
    const wss = new WebSocketServer({ noServer: true });
    wss.on('connection', utils.setupWSConnection);
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
    await new Promise((r) => server.listen(0, HOST, r));
    port = server.address().port;
    stop = async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
    };
  } else {
    throw new Error(`unknown system ${system}`);
  }
  let mark = { cpu: process.cpuUsage(), at: performance.now() };
  let peakRss = 0;
  const rssTimer = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 250);
  process.on('message', async (msg) => {
    if (msg.cmd === 'mark') {
      mark = { cpu: process.cpuUsage(), at: performance.now() };
      send({ ev: 'marked' });
    } else if (msg.cmd === 'report') {
      const cpu = cpuMs(process.cpuUsage(mark.cpu));
      const wall = performance.now() - mark.at;
      send({ ev: 'report', cpuPct: (100 * cpu) / wall, rssMb: process.memoryUsage().rss / 1e6, peakRssMb: peakRss / 1e6, stats: relay?.stats(), logs });
    } else if (msg.cmd === 'stop') {
      clearInterval(rssTimer);
      try {
        await stop();
      } catch (err) {
        logs.push(`stop failed: ${err.message}`);
      }
      send({ ev: 'stopped', logs });
      process.exit(0);
    }
  });
  send({ ev: 'listening', port, dataDir });
}

// ========================================================================================= clients
function makeWsClass(WebSocket, counter) {
  return class CountingWebSocket extends WebSocket {
    constructor(...a) {
      super(...a);
      counter.sockets.push(this);
      this.on('message', (d) => {
        counter.msgIn++;
        counter.payloadIn += d.byteLength ?? d.length;
      });
    }

    send(data, ...rest) {
      counter.msgOut++;
      counter.payloadOut += data.byteLength ?? data.length;
      return super.send(data, ...rest);
    }
  };
}

// An adapter per system: open(i) -> client, count(client) -> docs it holds, write(client, fields), close.
async function adapter(system, url, onDelivery, counter, mode) {
  const { WebSocket } = await import('ws');
  const WS = makeWsClass(WebSocket, counter);
  if (system === 'syncore' && mode === 'frame') {
    // Protocol-level clients: the relay's real frames (js/protocol.mjs) over a plain ws connection, and a
    // memory store per client that makes the real change sets (each commit's change set, exactly what the
    // store's SyncClient.local would send) and applies each arriving batch (replication.apply), where the
    // 'change' event gives the document back. What it skips is SyncClient's bookkeeping per frame.
    const { openStore } = await import('../js/index.mjs');
    const { loadCore } = await import('../js/core.mjs');
    const { PROTOCOL_VERSION, decodeFrame, encodeFrame } = await import('../js/protocol.mjs');
    const m = await loadCore();
    return {
      async open(i, base) {
        const store = await openStore({ name: `client${i}`, storage: 'memory' });
        const tasks = store.collection('tasks');
        const c = { store, tasks, id: base.id, ws: null, live: false, batch: 0, acks: 0 };
        const sendChanges = (data) => {
          if (c.live && c.ws.readyState === 1 && data.length) c.ws.send(encodeFrame(m, { t: 'changes', batch: ++c.batch, data }));
        };
        // the hooks a Store calls on its SyncClient: local commits go out as frames, the rest is not needed here
        store._sync = { local: sendChanges, mirror() {}, absorbed() {}, refresh() {}, close() {}, error: null };
        store.on('error', (err) => counter.errors.push(`client ${i}: ${err.message}`));
        store.on('change', ({ collection, ids, source }) => {
          if (source !== 'remote' || collection !== 'tasks') return;
          const now = performance.now();
          for (const id of ids) {
            const d = tasks.get(id);
            if (d?.w) onDelivery(d.w, d.t, now);
          }
        });
        await tasks.put(base);
        const ws = new WS(`${url}/v1/ws?channel=${CHANNEL}`);
        c.ws = ws;
        ws.binaryType = 'nodebuffer';
        ws.on('message', (data) => {
          const msg = decodeFrame(m, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
          if (msg.t === 'changes') {
            store.replication.apply(msg.data).catch((err) => counter.errors.push(`client ${i}: apply: ${err.message}`));
          } else if (msg.t === 'end') {
            c.live = true;
            for (const b of store.replication.changesSince(msg.have, { maxBatchBytes: 256 << 10 })) sendChanges(b);
          } else if (msg.t === 'ack') {
            c.acks++;
          } else if (msg.t === 'error') {
            counter.errors.push(`client ${i}: relay error ${msg.code}: ${msg.message}`);
          }
        });
        ws.on('error', (err) => counter.errors.push(`client ${i}: ${err.message}`));
        await new Promise((resolve, reject) => {
          ws.once('open', resolve);
          ws.once('error', reject);
        });
        ws.send(encodeFrame(m, { t: 'hello', v: PROTOCOL_VERSION, site: store.siteId, schema: 0, have: store.replication.vector(), collections: [], token: '' }));
        return c;
      },
      count: (c) => c.tasks.count(),
      write: (c, fields) => c.tasks.update(c.id, fields),
      close: async (c) => {
        c.ws.terminate();
        await c.store.close();
      },
    };
  }
  if (system === 'syncore') {
    const { openStore } = await import('../js/index.mjs');
    return {
      async open(i, base) {
        const store = await openStore({ name: `client${i}`, storage: 'memory', relay: url, channel: CHANNEL, WebSocket: WS });
        const tasks = store.collection('tasks');
        store.on('error', (err) => counter.errors.push(`client ${i}: ${err.message}`));
        store.on('change', ({ collection, ids, source }) => {
          if (source !== 'relay' || collection !== 'tasks') return;
          const now = performance.now();
          for (const id of ids) {
            const d = tasks.get(id);
            if (d?.w) onDelivery(d.w, d.t, now);
          }
        });
        await tasks.put(base);
        return { store, tasks, id: base.id };
      },
      count: (c) => c.tasks.count(),
      write: (c, fields) => c.tasks.update(c.id, fields),
      close: async (c) => c.store.close(),
    };
  }
  if (system === 'y-websocket') {
    const Y = await import('yjs');
    const { WebsocketProvider } = await import('y-websocket');
    process.setMaxListeners(0);
    return {
      async open(i, base) {
        const doc = new Y.Doc();
        const map = doc.getMap('tasks');
        // connect: false, then no awareness state: no presence traffic (syncore's clients send none either)
        const provider = new WebsocketProvider(url, CHANNEL, doc, { WebSocketPolyfill: WS, connect: false, disableBc: true });
        provider.awareness.setLocalState(null);
        provider.connect();
        map.observe((ev) => {
          if (ev.transaction.local) return;
          const now = performance.now();
          for (const key of ev.keysChanged) {
            const d = map.get(key);
            if (d?.w) onDelivery(d.w, d.t, now);
          }
        });
        map.set(base.id, base);
        return { doc, map, provider, base };
      },
      count: (c) => c.map.size,
      write: (c, fields) => c.map.set(c.base.id, { ...c.base, ...fields }),
      close: async (c) => {
        c.provider.destroy();
        c.doc.destroy();
      },
    };
  }
  if (system === 'bare-ws') {
    return {
      size: 0, // bytes of one message: the syncore frame of the same write (set by the driver)
      async open(i) {
        const ws = new WS(url);
        ws.on('message', (data) => {
          const now = performance.now();
          const m = JSON.parse(data.toString());
          onDelivery(m.w, m.t, now);
        });
        ws.on('error', (err) => counter.errors.push(`client ${i}: ${err.message}`));
        await new Promise((resolve, reject) => {
          ws.once('open', resolve);
          ws.once('error', reject);
        });
        return { ws };
      },
      count: () => Infinity,
      write(c, fields) {
        const text = JSON.stringify({ t: fields.t, w: fields.w, priority: fields.priority });
        c.ws.send(Buffer.from(text.padEnd(this.size, ' ')), { binary: true });
      },
      close: async (c) => c.ws.terminate(),
    };
  }
  throw new Error(`unknown system ${system}`);
}

/** The size of one fan-out message of each system for the write the clients make. */
async function messageSizes() {
  const out = {};
  const { openStore } = await import('../js/index.mjs');
  const { loadCore } = await import('../js/core.mjs');
  const { encodeFrame } = await import('../js/protocol.mjs');
  const m = await loadCore();
  const base = { ...workloadDocs(1)[0], id: 'client000123', t: 0, w: '' };
  const store = await openStore({ name: 'size', storage: 'memory' });
  await store.collection('tasks').put(base);
  const v = store.replication.vector();
  await store.collection('tasks').update(base.id, { priority: 3, t: performance.now() + 1e6, w: '123:4567' });
  const data = store.replication.changesSince(v);
  out.syncore = encodeFrame(m, { t: 'changes', batch: 123456, data: data[0] }).length;
  await store.close();
  const Y = await import('yjs');
  const doc = new Y.Doc();
  const map = doc.getMap('tasks');
  map.set(base.id, base);
  let upd = 0;
  doc.on('update', (u) => { upd = u.length; });
  map.set(base.id, { ...base, priority: 3, t: performance.now() + 1e6, w: '123:4567' });
  out['y-websocket'] = upd + 2; // + message type and sync step bytes
  out['bare-ws'] = out.syncore;
  return out;
}

async function runFanoutClients(o) {
  const n = o.clients;
  const counter = { msgIn: 0, msgOut: 0, payloadIn: 0, payloadOut: 0, sockets: [], errors: [] };
  let lat = new Float64Array(1 << 16);
  let nLat = 0;
  const writeLat = [];
  const pendingWrites = new Map(); // w -> {t, left, max}
  let windowOn = false;
  let windowDeliveries = 0;
  let deliveries = 0;
  let unknown = 0;
  const onDelivery = (w, t, now) => {
    deliveries++;
    const p = pendingWrites.get(w);
    if (!p) {
      unknown++; // a warm-up write
      return;
    }
    if (windowOn) windowDeliveries++;
    const d = now - t;
    if (nLat === lat.length) {
      const bigger = new Float64Array(lat.length * 2);
      bigger.set(lat);
      lat = bigger;
    }
    lat[nLat++] = d;
    if (d > p.max) p.max = d;
    if (--p.left === 0) {
      writeLat.push(p.max);
      pendingWrites.delete(w);
    }
  };
  const sys = await adapter(o.system, o.url, onDelivery, counter, o.syncoreClients);
  if (o.system === 'bare-ws') sys.size = o.messageBytes;
  const docs = workloadDocs(n, SEED + 7);
  const clients = [];
  const t0 = performance.now();
  // connect in waves of 50 so the servers' accept queues are not the thing measured
  for (let i = 0; i < n; i += 50) {
    const wave = [];
    for (let j = i; j < Math.min(n, i + 50); j++) wave.push(sys.open(j, { ...docs[j], id: `client${String(j).padStart(6, '0')}`, t: 0, w: '' }));
    clients.push(...(await Promise.all(wave)));
  }
  await until(`every client holding the ${n} documents`, () => clients.every((c) => sys.count(c) >= n), o.setupTimeoutMs, 50);
  const setupMs = performance.now() - t0;
  const setupMsgIn = counter.msgIn;
  await sleep(500); // let the setup traffic settle
  const rssAfterSetup = process.memoryUsage().rss / 1e6;

  // the write window
  send({ ev: 'ready' });
  await new Promise((r) => process.once('message', (m) => m.cmd === 'go' && r()));
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  let cpu0 = null;
  // a warm-up of 2 s at the same rate, not measured, then the window
  const warm = performance.now();
  const start = warm + 2000;
  const next = clients.map((_, i) => warm + (i * o.intervalMs) / n); // phases spread over one interval
  const k = new Array(n).fill(0);
  let writes = 0;
  let writeErrors = 0;
  const end = start + o.durationMs;
  while (performance.now() < end) {
    const now = performance.now();
    if (!windowOn && now >= start) {
      windowOn = true;
      send({ ev: 'window-start' });
    }
    for (let i = 0; i < n; i++) {
      while (next[i] <= now && next[i] < end) {
        const measured = next[i] >= start;
        const w = `${measured ? '' : 'warm'}${i}:${k[i]++}`;
        const t = performance.now();
        next[i] += o.intervalMs;
        if (!measured) {
          sys.write(clients[i], { priority: k[i] % 5, t, w });
          continue;
        }
        pendingWrites.set(w, { t, left: n - 1, max: 0 });
        try {
          const r = sys.write(clients[i], { priority: k[i] % 5, t, w });
          if (r?.catch) r.catch(() => { writeErrors++; });
        } catch {
          writeErrors++;
        }
        writes++;
      }
    }
    if (windowOn && !cpu0) {
      cpu0 = process.cpuUsage();
      loop.reset();
    }
    await sleep(2);
  }
  const windowMs = performance.now() - start;
  windowOn = false;
  const cpuPct = (100 * cpuMs(process.cpuUsage(cpu0))) / windowMs;
  loop.disable();
  send({ ev: 'window-end' });
  // stragglers
  const expected = writes * (n - 1);
  const drainStart = performance.now();
  try {
    await until('every delivery', () => deliveries - unknown >= expected, o.drainMs, 20);
  } catch {
    // reported as missing
  }
  const drainMs = performance.now() - drainStart;
  const sorted = lat.subarray(0, nLat).sort();
  const q = (a, p) => (a.length ? a[Math.min(a.length - 1, Math.floor(p * a.length))] : NaN);
  writeLat.sort((a, b) => a - b);
  const result = {
    system: o.system, clients: n, intervalMs: o.intervalMs, durationMs: o.durationMs,
    setupMs, setupMsgIn, rssAfterSetupMb: rssAfterSetup, writes, writeErrors, expected,
    delivered: deliveries - unknown, windowDeliveries, deliveriesPerSec: (windowDeliveries * 1000) / windowMs,
    offeredPerSec: (expected * 1000) / windowMs,
    p50: q(sorted, 0.5), p90: q(sorted, 0.9), p99: q(sorted, 0.99), max: sorted.length ? sorted[sorted.length - 1] : NaN,
    allP50: q(writeLat, 0.5), allP99: q(writeLat, 0.99), writesComplete: writeLat.length,
    drainMs, clientCpuPct: cpuPct, loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6,
    clientRssMb: process.memoryUsage().rss / 1e6, errors: counter.errors.slice(0, 10), errorCount: counter.errors.length,
  };
  for (const c of clients) await sys.close(c).catch(() => {});
  return result;
}

// syncore: a seeding client writes the documents into a memory store, then sends them to the relay as
// protocol frames (256 KB change sets, as SyncClient does) and waits for every batch's ack. (Not
// store.sync(): it resolves at the first ack of a multi-batch upload, see the report.)
async function runSeed(o) {
  const { openStore } = await import('../js/index.mjs');
  const { loadCore } = await import('../js/core.mjs');
  const { PROTOCOL_VERSION, decodeFrame, encodeFrame } = await import('../js/protocol.mjs');
  const { WebSocket } = await import('ws');
  const m = await loadCore();
  const docs = workloadDocs(o.docs);
  const store = await openStore({ name: 'seed', storage: 'memory' });
  await store.transaction((tx) => {
    const t = tx.collection('tasks');
    for (const d of docs) t.put(d);
  });
  const t0 = performance.now();
  const ws = new WebSocket(`${o.url}/v1/ws?channel=${encodeURIComponent(o.channel)}`);
  const errors = [];
  let batches = -1;
  let acks = 0;
  let out = [];
  let refused = 0;
  ws.on('message', (data) => {
    const msg = decodeFrame(m, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (msg.t === 'end') {
      out = store.replication.changesSince(msg.have, { maxBatchBytes: 256 << 10 });
      out.forEach((b, i) => ws.send(encodeFrame(m, { t: 'changes', batch: i + 1, data: b })));
      batches = out.length;
    } else if (msg.t === 'ack') {
      acks++;
    } else if (msg.t === 'error') {
      // the relay's rows-per-second limit (50,000 by default) refuses part of a 100,000-row upload:
      // send those batches again a second later, as the error says
      if (msg.code === 'limit-rate' && msg.batch) {
        refused++;
        const b = msg.batch;
        setTimeout(() => ws.readyState === 1 && ws.send(encodeFrame(m, { t: 'changes', batch: b, data: out[b - 1] })), 1000);
      } else {
        errors.push(`${msg.code}: ${msg.message}`);
      }
    }
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(encodeFrame(m, { t: 'hello', v: PROTOCOL_VERSION, site: store.siteId, schema: 0, have: store.replication.vector(), collections: [], token: '' }));
  await until('the relay to acknowledge every seed batch', () => batches >= 0 && acks >= batches, o.timeoutMs, 10).catch((err) => {
    throw new Error(`${err.message}: ${acks} of ${batches} acknowledged, ${refused} refused for limit-rate; ${errors.slice(0, 3).join('; ')}`);
  });
  const uploadMs = performance.now() - t0;
  ws.close();
  await store.close();
  return { uploadMs, batches, refused, errors };
}

async function runFreshSync(o) {
  const { WebSocket } = await import('ws');
  const counter = { msgIn: 0, msgOut: 0, payloadIn: 0, payloadOut: 0, sockets: [], errors: [] };
  const WS = makeWsClass(WebSocket, counter);
  let ms;
  let count;
  const deadline = (what) => sleep(o.timeoutMs).then(() => { throw new Error(`${what} timed out after ${o.timeoutMs} ms`); });
  if (o.system === 'syncore') {
    const { openStore } = await import('../js/index.mjs');
    (await openStore({ name: 'warm', storage: 'memory' })).close(); // the wasm module is loaded before timing
    const t0 = performance.now();
    const store = await openStore({ name: 'fresh', storage: 'memory', relay: o.url, channel: o.channel, WebSocket: WS });
    store.on('error', (e) => counter.errors.push(e.message));
    await Promise.race([store.sync(), deadline('syncore initial sync')]);
    ms = performance.now() - t0;
    if (o.docs && store.collection('tasks').count() < o.docs) {
      // sync() resolved before every document was here: wait (bounded) and report both times
      await until('every document in the fresh store', () => store.collection('tasks').count() >= o.docs, o.timeoutMs, 10).catch(() => {});
      counter.errors.push(`sync() resolved at ${ms.toFixed(0)} ms with ${store.collection('tasks').count()} docs`);
      ms = performance.now() - t0;
    }
    count = store.collection('tasks').count();
  } else {
    const Y = await import('yjs');
    const { WebsocketProvider } = await import('y-websocket');
    const t0 = performance.now();
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(o.url, o.channel, doc, { WebSocketPolyfill: WS, connect: false, disableBc: true });
    provider.awareness.setLocalState(null);
    provider.connect();
    await Promise.race([new Promise((r) => provider.once('sync', (s) => s && r())), deadline('y-websocket initial sync')]);
    ms = performance.now() - t0;
    count = doc.getMap('tasks').size;
  }
  const sock = counter.sockets[0]?._socket;
  return {
    system: o.system, ms, count, msgIn: counter.msgIn, payloadIn: counter.payloadIn, payloadOut: counter.payloadOut,
    socketIn: sock?.bytesRead, socketOut: sock?.bytesWritten, errors: counter.errors, rssMb: process.memoryUsage().rss / 1e6,
  };
}

async function runClientsRole() {
  const o = await new Promise((r) => process.once('message', r));
  let result;
  try {
    if (o.kind === 'fanout') result = await runFanoutClients(o);
    else if (o.kind === 'seed') result = await runSeed(o);
    else if (o.kind === 'fresh') result = await runFreshSync(o);
    else if (o.kind === 'sizes') result = await messageSizes();
    send({ ev: 'result', result });
  } catch (err) {
    send({ ev: 'result', result: { error: err.stack ?? err.message } });
  }
  setTimeout(() => process.exit(0), 100);
}

// ========================================================================================== driver
async function startServer(system, opts = {}) {
  const s = new Child(SELF, 'server', [`--system=${system}`, `--opts=${JSON.stringify(opts)}`], { lifeMs: opts.lifeMs ?? 10 * 60_000, execArgv: BIG_HEAP });
  const m = await s.wait('listening', 120_000);
  s.port = m.port;
  s.dataDir = m.dataDir;
  return s;
}

async function stopServer(s) {
  s.send({ cmd: 'stop' });
  let logs = [];
  try {
    logs = (await s.wait('stopped', 15_000)).logs;
  } catch {
    // killed below
  }
  await s.end(5000);
  return logs;
}

async function clientsTask(o, timeoutMs, onWindow) {
  const c = new Child(SELF, 'clients', [], { lifeMs: timeoutMs + 10_000, execArgv: BIG_HEAP });
  c.send(o);
  try {
    if (onWindow) {
      await c.wait('ready', timeoutMs);
      c.send({ cmd: 'go' });
      await c.wait('window-start', timeoutMs);
      await onWindow.start();
      await c.wait('window-end', timeoutMs);
      await onWindow.end();
    }
    const { result } = await c.wait('result', timeoutMs);
    return result;
  } finally {
    await c.end(5000);
  }
}

async function fanout(system, clients, intervalMs, o, sizes) {
  process.stderr.write(`relay_bench: fan-out ${system}, ${clients} clients, one write per ${intervalMs} ms each, ${o.durationMs / 1000} s...\n`);
  const server = await startServer(system);
  let report = null;
  const url = `ws://${HOST}:${server.port}`;
  try {
    const r = await clientsTask({
      kind: 'fanout', system, url, clients, intervalMs, durationMs: o.durationMs, drainMs: o.drainMs,
      setupTimeoutMs: o.setupTimeoutMs, messageBytes: sizes.syncore, syncoreClients: o.syncoreClients,
    }, o.setupTimeoutMs + o.durationMs + o.drainMs + 60_000, {
      start: async () => {
        server.send({ cmd: 'mark' });
        await server.wait('marked', 10_000);
      },
      end: async () => {
        server.send({ cmd: 'report' });
        report = await server.wait('report', 30_000);
      },
    });
    if (report) Object.assign(r, { serverCpuPct: report.cpuPct, serverRssMb: report.rssMb, serverPeakRssMb: report.peakRssMb, serverStats: report.stats });
    r.messageBytes = sizes[system];
    return r;
  } catch (err) {
    return { system, clients, intervalMs, error: err.message };
  } finally {
    const logs = await stopServer(server);
    const interesting = logs.filter((l) => !/insecure-dev/.test(l));
    if (interesting.length) process.stderr.write(`relay_bench: ${system} server log:\n  ${interesting.join('\n  ')}\n`);
  }
}

async function initialSync(o) {
  const out = [];
  const docs = o.syncDocs;
  // syncore: a relay, seeded by a client; then a fresh client, warm relay; then the relay restarted
  // (cold: the channel loads from its data directory) and another fresh client
  process.stderr.write(`relay_bench: initial sync, syncore, ${docs} docs...\n`);
  let server = await startServer('syncore', { keepData: true });
  let dataDir = server.dataDir;
  try {
    const url = `ws://${HOST}:${server.port}`;
    const seed = await clientsTask({ kind: 'seed', url, channel: `sync${docs}`, docs, timeoutMs: o.syncTimeoutMs }, o.syncTimeoutMs * 2);
    if (seed.error) throw new Error(seed.error);
    const warm = await clientsTask({ kind: 'fresh', system: 'syncore', url, docs, channel: `sync${docs}`, timeoutMs: o.syncTimeoutMs }, o.syncTimeoutMs + 30_000);
    out.push({ ...warm, label: 'syncore', seedUploadMs: seed.uploadMs, seedBatches: seed.batches, seedRefused: seed.refused, seedErrors: seed.errors });
    await stopServer(server);
    server = await startServer('syncore', { keepData: true, dataDir });
    const cold = await clientsTask({ kind: 'fresh', system: 'syncore', docs, url: `ws://${HOST}:${server.port}`, channel: `sync${docs}`, timeoutMs: o.syncTimeoutMs }, o.syncTimeoutMs + 30_000);
    out.push({ ...cold, label: 'syncore (relay restarted)' });
  } catch (err) {
    out.push({ system: 'syncore', label: 'syncore', error: err.message });
  } finally {
    await stopServer(server);
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
  process.stderr.write(`relay_bench: initial sync, y-websocket, ${docs} docs...\n`);
  server = await startServer('y-websocket', { syncDocs: docs });
  try {
    const y = await clientsTask({ kind: 'fresh', system: 'y-websocket', url: `ws://${HOST}:${server.port}`, channel: `sync${docs}`, timeoutMs: o.syncTimeoutMs }, o.syncTimeoutMs + 30_000);
    out.push({ ...y, label: 'y-websocket' });
  } catch (err) {
    out.push({ system: 'y-websocket', label: 'y-websocket', error: err.message });
  } finally {
    const logs = await stopServer(server);
    for (const l of logs) process.stderr.write(`relay_bench: ${l}\n`);
  }
  return out;
}

async function main() {
  const o = {
    configs: (args.configs ?? '100:2000,500:60000').split(',').map((c) => c.split(':').map(Number)),
    durationMs: Number(args.duration ?? 20_000),
    drainMs: Number(args.drain ?? 10_000),
    setupTimeoutMs: Number(args['setup-timeout'] ?? 120_000),
    syncDocs: Number(args['sync-docs'] ?? 100_000),
    syncTimeoutMs: Number(args['sync-timeout'] ?? 180_000),
    systems: (args.systems ?? 'syncore,bare-ws,y-websocket').split(','),
    syncoreClients: args['syncore-clients'] ?? 'frame',
  };
  const began = Date.now();
  const sizes = await clientsTask({ kind: 'sizes' }, 60_000);
  const runs = [];
  if (!args['skip-fanout']) {
    for (const [clients, intervalMs] of o.configs) {
      for (const system of o.systems) runs.push(await fanout(system, clients, intervalMs, o, sizes));
    }
  }
  const syncs = args['skip-sync'] ? [] : await initialSync(o);
  const totalS = (Date.now() - began) / 1000;

  // ---------------------------------------------------------------------------------------- table
  const f = (v, d = 1) => (v === undefined || v === null || !Number.isFinite(v) ? '-' : v.toFixed(d));
  const systems = o.systems;
  const header = ['figure', ...systems];
  const rows = [];
  const notes = [];
  const chart = [];
  for (const [clients, intervalMs] of o.configs) {
    const rs = systems.map((s) => runs.find((r) => r.system === s && r.clients === clients && r.intervalMs === intervalMs));
    if (!rs.some(Boolean)) continue;
    const tag = `${clients} clients, 1 write / ${intervalMs / 1000} s each`;
    const cell = (fn) => rs.map((r) => (!r ? '-' : r.error ? 'failed' : fn(r)));
    rows.push([`${tag}: offered deliveries/s`, ...cell((r) => f(r.offeredPerSec, 0))]);
    rows.push([`${tag}: delivered/s (in window)`, ...cell((r) => f(r.deliveriesPerSec, 0))]);
    rows.push([`${tag}: delivered (% of expected, after drain)`, ...cell((r) => f((100 * r.delivered) / r.expected, 2))]);
    rows.push([`${tag}: latency p50 (ms)`, ...cell((r) => f(r.p50, 1))]);
    rows.push([`${tag}: latency p99 (ms)`, ...cell((r) => f(r.p99, 1))]);
    rows.push([`${tag}: latency max (ms)`, ...cell((r) => f(r.max, 0))]);
    rows.push([`${tag}: write reached all, p50 / p99 (ms)`, ...cell((r) => `${f(r.allP50, 1)} / ${f(r.allP99, 1)}`)]);
    rows.push([`${tag}: server CPU (% of one core)`, ...cell((r) => f(r.serverCpuPct, 0))]);
    rows.push([`${tag}: server RSS (MB)`, ...cell((r) => f(r.serverPeakRssMb, 0))]);
    rows.push([`${tag}: clients process CPU (%) / event-loop p99 (ms)`, ...cell((r) => `${f(r.clientCpuPct, 0)} / ${f(r.loopP99Ms, 0)}`)]);
    rows.push([`${tag}: clients process RSS (MB)`, ...cell((r) => f(r.clientRssMb, 0))]);
    rows.push([`${tag}: setup (connect + exchange one doc each) (s)`, ...cell((r) => f(r.setupMs / 1000, 1))]);
    const by = Object.fromEntries(systems.map((s, i) => [s, rs[i]]).filter(([, r]) => r && !r.error));
    if (by.syncore && by['bare-ws']) {
      const ratio = by.syncore.deliveriesPerSec / by['bare-ws'].deliveriesPerSec;
      notes.push(`${tag}: syncore delivered/s = ${f(100 * ratio, 1)}% of bare ws (target >= 70%: ${ratio >= 0.7 ? 'met' : 'MISSED'}).`);
    }
    if (by.syncore && by['y-websocket']) {
      const ratio = by.syncore.p99 / by['y-websocket'].p99;
      notes.push(`${tag}: syncore p99 / y-websocket p99 = ${f(ratio, 2)} (target < 1: ${ratio < 1 ? 'met' : 'MISSED'}).`);
    }
    chart.push({ label: `${clients} clients: delivered/s`, unit: 'per s', values: Object.fromEntries(Object.entries(by).map(([s, r]) => [s, Number(r.deliveriesPerSec.toFixed(0))])) });
    chart.push({ label: `${clients} clients: fan-out latency p99`, unit: 'ms', values: Object.fromEntries(Object.entries(by).map(([s, r]) => [s, Number(r.p99.toFixed(1))])) });
    for (const r of rs) {
      if (r && !r.error && (r.clientCpuPct > 90 || r.loopP99Ms > 100)) {
        notes.push(`${tag}: ${r.system}: the clients process was saturated (${f(r.clientCpuPct, 0)}% CPU, event-loop p99 ${f(r.loopP99Ms, 0)} ms; server ${f(r.serverCpuPct, 0)}%): its latency is mostly the clients' own queueing, not the server's.`);
      }
      if (r?.error) notes.push(`${tag}: ${r.system} failed: ${r.error.split('\n')[0]}`);
      if (r?.errorCount) notes.push(`${tag}: ${r.system}: ${r.errorCount} client errors, e.g. ${r.errors[0]}`);
    }
  }
  if (syncs.length) {
    const sh = ['syncore', 'syncore (relay restarted)', 'y-websocket'];
    const get = (l) => syncs.find((s) => s.label === l);
    const cell = (fn) => sh.map((l) => {
      const r = get(l);
      return !r ? '-' : r.error ? 'failed' : fn(r);
    });
    // a separate little table folded into the same one: columns are syncore / bare-ws / y-websocket
    const col = (vals) => systems.map((s) => (s === 'syncore' ? vals[0] : s === 'y-websocket' ? vals[2] : '-'));
    const t = cell((r) => f(r.ms, 0));
    const b = cell((r) => f(r.socketIn / 1e6, 2));
    const msgs = cell((r) => String(r.msgIn));
    const cnt = cell((r) => String(r.count));
    rows.push([`initial sync of ${o.syncDocs} docs into a fresh client (ms)`, ...col(t)]);
    rows.push([`initial sync: relay restarted first (channel loaded from disk) (ms)`, ...systems.map((s) => (s === 'syncore' ? t[1] : '-'))]);
    rows.push(['initial sync: bytes received on the socket (MB)', ...col(b)]);
    rows.push(['initial sync: messages received', ...col(msgs)]);
    rows.push(['initial sync: documents in the client after sync', ...col(cnt)]);
    const vals = {};
    for (const l of ['syncore', 'y-websocket']) if (get(l) && !get(l).error) vals[l] = Number(get(l).ms.toFixed(0));
    chart.push({ label: `initial sync of ${o.syncDocs} docs`, unit: 'ms', values: vals });
    const bvals = {};
    for (const l of ['syncore', 'y-websocket']) if (get(l) && !get(l).error) bvals[l] = Number((get(l).socketIn / 1e6).toFixed(2));
    chart.push({ label: `initial sync of ${o.syncDocs} docs: bytes received`, unit: 'MB', values: bvals });
    for (const s of syncs) if (s.error) notes.push(`initial sync ${s.label} failed: ${s.error.split('\n')[0]}`);
    for (const s of syncs) if (s.errors?.length) notes.push(`initial sync ${s.label}: ${s.errors.slice(0, 3).join('; ')}`);
    const seed = get('syncore');
    if (seed?.seedErrors?.length) notes.push(`syncore seeding client errors: ${seed.seedErrors.slice(0, 3).join('; ')}`);
  }
  notes.push(
    `${o.syncoreClients === 'frame'
      ? 'Clients: syncore, protocol-level clients: a memory store per client (one shared wasm module) makes each write\'s real change set (the commit\'s, as SyncClient.local sends it) and applies each arriving batch (replication.apply), the frames through js/protocol.mjs over a ws connection; they skip SyncClient\'s status bookkeeping, so that one process can hold 500 clients (it cost O(sites) per received batch until the core\'s apply reported the vector entries it raised; 100+ full stores in one process saturated it then) (--syncore-clients=store runs real openStore({relay}) stores)'
      : 'Clients: syncore, real openStore({storage: \'memory\', relay, channel}) stores (one shared wasm module)'}; y-websocket, Y.Doc + WebsocketProvider with no awareness state (no presence traffic); bare ws, a \`ws\` client. All clients of a run in one child process, the server in another (2 cores: one each); each run warms up 2 s at its rate first.`,
    `Each client owns one document (js_bench's shape) and rewrites it with {priority, t, w} every interval (syncore: collection.update; Yjs: Y.Map.set of the plain object). Latency is receive time minus t (performance.now() of the clients' process), read back from the document when the receiving store emits 'change' / the Y.Map observer fires / the bare-ws message is parsed. One message per write: syncore ${sizes.syncore} B (the changes frame), y-websocket ~${sizes['y-websocket']} B, bare ws ${sizes['bare-ws']} B (padded to syncore's).`,
    'Servers: syncore, createRelay with insecureDev and a temporary data directory (every batch journaled and fsynced to disk before its ack and fan-out (the default)); y-websocket, @y/websocket-server 0.1.1 setupWSConnection (in memory, no persistence; it also echoes each update to its sender); bare ws, every message to every other client. All three on ws 8, 127.0.0.1, no compression.',
    'Offered load is fixed (open loop): delivered/s equals offered/s while a system keeps up, so the throughput ratio only shows whether it keeps up at this rate. "Write reached all": per write, the time until the last of the other clients had it.',
    `Initial sync: js_bench's ${o.syncDocs} documents; syncore: a client sent them to the relay as 256 KB change sets (batches refused for limit-rate sent again 1 s later) and waited for every ack, then a fresh memory store connects and sync() resolves (time from openStore, wasm already loaded); y-websocket: the server holds a Y.Doc with a Y.Map of the same plain objects, a fresh Y.Doc + WebsocketProvider until 'sync'. Bytes: what the client's TCP socket read (HTTP upgrade included).`,
    `node ${process.version}; whole run ${f(totalS, 0)} s.`,
  );

  publish('relay_bench', {
    name: 'relay',
    title: 'The relay under load: fan-out and initial sync, beside a bare ws broadcast server and y-websocket',
    header,
    rows,
    notes,
    chart,
    raw: { runs, syncs, sizes, options: o },
  }, { totalS, jsonPath: args.json });
}

if (args.role === 'server') {
  setTimeout(() => process.exit(3), 15 * 60_000).unref(); // never outlives a run
  runServer(args.system, JSON.parse(args.opts ?? '{}')).catch((err) => {
    process.stderr.write(`relay_bench server: ${err.stack}\n`);
    process.exit(1);
  });
  process.on('disconnect', () => process.exit(0));
} else if (args.role === 'clients') {
  setTimeout(() => process.exit(3), 15 * 60_000).unref();
  process.on('disconnect', () => process.exit(0));
  runClientsRole();
} else {
  const hard = setTimeout(() => {
    process.stderr.write('relay_bench: the whole run exceeded its bound (30 min); stopping\n');
    process.exit(2);
  }, 30 * 60_000);
  hard.unref();
  main().then(() => process.exit(0), (err) => {
    process.stderr.write(`relay_bench: ${err.stack}\n`);
    process.exit(1);
  });
}
