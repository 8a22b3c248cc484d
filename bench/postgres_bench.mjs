// Relays on one PostgreSQL against one relay, everything on 127.0.0.1, bounded in count and time.
// Three configurations, each on a fresh database of one throwaway cluster (tests/support/postgres.mjs):
//   dir  1 relay, data directory (the default storage, every batch fsynced before its ack): the baseline;
//   pg1  1 relay, PostgreSQL (every batch committed before its ack);
//   pg2  2 relays, PostgreSQL (one database; each relay reads what the other committed on NOTIFY).
// Each relay is its own child process (this script with --role=relay: createRelay from js/relay/relay.mjs,
// answering IPC with its process.cpuUsage()); all the clients of a configuration are real
// openStore({storage: 'memory', relay, channel}) stores in one more child process (--role=clients), so the
// driver stays idle. Client i connects to relay i % relays.
//
// 1. Latency: --clients stores on channel 'bench', each putting one small document {id, t, w} every
//    --interval ms (open loop, phases spread evenly), 2 s of warm-up and then --duration ms measured, then up
//    to --drain ms for the stragglers. t is performance.now() of the clients' process, so a receiving store
//    reads its latency back from the document when it emits 'change' (source 'relay'). Deliveries from a
//    writer on one relay to a receiver on the other are also counted apart (cross-relay, pg2 only).
// 2. Throughput: --writers stores on channel 'tput' (alternating relays), each in a closed loop: put 50
//    documents {id, n}, then await sync() (every one acknowledged), for --tput-duration ms. changes/s =
//    acknowledged documents / seconds. A reader store on the last relay must then hold every document: the
//    time it took after the last acknowledgement is reported.
// Relay CPU is the sum over the relay processes (process.cpuUsage() between two IPC messages); PostgreSQL's is
// the postmaster and its children (/proc, utime + stime, with the postmaster's cutime + cstime for the
// backends that exited meanwhile).
//
//   node bench/postgres_bench.mjs [--configs=dir,pg1,pg2] [--duration=15000] [--tput-duration=10000]
//        [--clients=40] [--writers=8] [--interval=500] [--drain=5000] [--json=build-bench/postgres.json]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Child, cpuMs, parseArgs, publish, sleep, until, withTimeout } from './harness.mjs';

const SELF = fileURLToPath(import.meta.url);
const args = parseArgs();
const HOST = '127.0.0.1';
const ROUND = 50; // documents a throughput writer puts before each sync()
const WARMUP_MS = 2000;
const SETUP_TIMEOUT_MS = 60_000;
const SYNC_TIMEOUT_MS = 30_000;
const CONVERGE_TIMEOUT_MS = 30_000;
const CONFIGS = {
  dir: { key: 'dir', label: '1 relay, data directory', relays: 1, storage: 'dir' },
  pg1: { key: 'pg1', label: '1 relay, PostgreSQL', relays: 1, storage: 'pg' },
  pg2: { key: 'pg2', label: '2 relays, PostgreSQL', relays: 2, storage: 'pg' },
};

function send(msg) {
  process.send(msg);
}
const quantile = (a, p) => (a.length ? a[Math.min(a.length - 1, Math.floor(p * a.length))] : NaN);

// ========================================================================================== relay
async function runRelay(o) {
  const { createRelay } = await import('../js/relay/relay.mjs');
  const logs = [];
  const storage = o.postgres ? { postgres: o.postgres } : { data: o.data };
  const relay = createRelay({
    port: 0, host: HOST, ...storage, insecureDev: true,
    log: (m) => {
      // the --insecure-dev warning and the migration a fresh database gets are expected: the rest is worth reading
      if (!/insecure-dev|applied migration/.test(m) && logs.length < 20) logs.push(String(m).slice(0, 500));
    },
  });
  const { port } = await relay.start();
  const marks = new Map(); // phase -> {cpu, at}
  process.on('message', async (msg) => {
    if (msg.cmd === 'mark') {
      marks.set(msg.phase, { cpu: process.cpuUsage(), at: performance.now() });
      send({ ev: `marked-${msg.phase}` });
    } else if (msg.cmd === 'report') {
      const mark = marks.get(msg.phase);
      const cpu = mark ? cpuMs(process.cpuUsage(mark.cpu)) : NaN;
      const wall = mark ? performance.now() - mark.at : NaN;
      send({ ev: `report-${msg.phase}`, cpuMs: cpu, wallMs: wall, cpuPct: (100 * cpu) / wall, rssMb: process.memoryUsage().rss / 1e6, stats: relay.stats() });
    } else if (msg.cmd === 'stop') {
      try {
        await relay.stop();
      } catch (err) {
        logs.push(`stop failed: ${err.message}`);
      }
      send({ ev: 'stopped', logs, stats: relay.stats() });
      setTimeout(() => process.exit(0), 50);
    }
  });
  send({ ev: 'listening', port });
}

// ======================================================================================== clients
async function runClients(o) {
  const { openStore } = await import('../js/index.mjs');
  const errors = [];
  const R = o.urls.length;
  const relayOf = (i) => i % R;
  const open = async (name, url, channel) => {
    const s = await openStore({ name, storage: 'memory', relay: url, channel });
    s.on('error', (err) => errors.push(`${name}: ${err.message}`));
    return s;
  };
  const phase = (name, edge) => send({ ev: 'phase', phase: name, edge });

  // -------------------------------------------------------------------------------- 1. latency
  const n = o.clients;
  const pending = new Map(); // w -> {t, writer, seen: Uint8Array, left}
  const lat = [];
  const crossLat = [];
  let delivered = 0;
  let crossDelivered = 0;
  let duplicates = 0;
  let windowOn = false;
  const onDelivery = (receiver, w, t, now) => {
    const p = pending.get(w);
    if (!p) return; // a warm-up write
    if (p.seen[receiver]) {
      duplicates++;
      return;
    }
    p.seen[receiver] = 1;
    const d = now - t;
    delivered++;
    lat.push(d);
    if (relayOf(p.writer) !== relayOf(receiver)) {
      crossDelivered++;
      crossLat.push(d);
    }
    if (--p.left === 0) pending.delete(w);
  };
  const t0 = performance.now();
  const stores = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const s = await open(`lat${i}`, o.urls[relayOf(i)], 'bench');
    const col = s.collection('lat');
    s.on('change', ({ collection, ids, source }) => {
      if (source !== 'relay' || collection !== 'lat') return;
      const now = performance.now();
      for (const id of ids) {
        const d = col.get(id);
        if (d?.w) onDelivery(i, d.w, d.t, now);
      }
    });
    return s;
  }));
  await withTimeout(Promise.all(stores.map((s) => s.sync())), SETUP_TIMEOUT_MS, 'the latency clients\' first sync()');
  // every client puts one document and holds everyone's: every path (across relays too) is live
  await Promise.all(stores.map((s, i) => s.collection('hello').put({ id: `hello${i}` })));
  await until(`every latency client holding the ${n} hello documents`, () => stores.every((s) => s.collection('hello').count() >= n), SETUP_TIMEOUT_MS, 50);
  const setupMs = performance.now() - t0;
  await sleep(300);

  const cols = stores.map((s) => s.collection('lat'));
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  let cpu0 = null;
  const warm = performance.now();
  const start = warm + WARMUP_MS;
  const end = start + o.durationMs;
  const next = stores.map((_, i) => warm + (i * o.intervalMs) / n); // phases spread over one interval
  const k = new Array(n).fill(0);
  let writes = 0;
  let writeErrors = 0;
  let expected = 0;
  let crossExpected = 0;
  const crossReceivers = Array.from({ length: R }, (_, r) => stores.filter((_, j) => relayOf(j) !== r).length);
  while (performance.now() < end) {
    const now = performance.now();
    if (!windowOn && now >= start) {
      windowOn = true;
      phase('latency', 'start');
      cpu0 = process.cpuUsage();
      loop.reset();
    }
    for (let i = 0; i < n; i++) {
      while (next[i] <= now && next[i] < end) {
        const measured = next[i] >= start;
        const w = `${measured ? 'w' : 'warm'}${i}_${k[i]++}`;
        next[i] += o.intervalMs;
        const t = performance.now();
        if (measured) {
          pending.set(w, { t, writer: i, seen: new Uint8Array(n), left: n - 1 });
          writes++;
          expected += n - 1;
          crossExpected += crossReceivers[relayOf(i)];
        }
        cols[i].put({ id: w, t, w }).catch((err) => {
          writeErrors++;
          errors.push(`lat${i}: put: ${err.message}`);
        });
      }
    }
    await sleep(2);
  }
  const windowMs = performance.now() - start;
  windowOn = false;
  const latCpuPct = (100 * cpuMs(process.cpuUsage(cpu0))) / windowMs;
  loop.disable();
  phase('latency', 'end');
  const drainStart = performance.now();
  await until('every delivery', () => delivered >= expected, o.drainMs, 20).catch(() => {}); // reported as missing
  const drainMs = performance.now() - drainStart;
  lat.sort((a, b) => a - b);
  crossLat.sort((a, b) => a - b);
  const latency = {
    setupMs, writes, writeErrors, windowMs, expected, delivered, crossExpected, crossDelivered, duplicates, drainMs,
    p50: quantile(lat, 0.5), p90: quantile(lat, 0.9), p99: quantile(lat, 0.99), max: lat.length ? lat[lat.length - 1] : NaN,
    crossP50: quantile(crossLat, 0.5), crossP99: quantile(crossLat, 0.99), crossMax: crossLat.length ? crossLat[crossLat.length - 1] : NaN,
    clientCpuPct: latCpuPct, loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6,
  };
  await Promise.all(stores.map((s) => s.close().catch(() => {})));

  // ----------------------------------------------------------------------------- 2. throughput
  const writers = await Promise.all(Array.from({ length: o.writers }, (_, i) => open(`writer${i}`, o.urls[relayOf(i)], 'tput')));
  const reader = await open('reader', o.urls[R - 1], 'tput');
  await withTimeout(Promise.all([...writers, reader].map((s) => s.sync())), SETUP_TIMEOUT_MS, 'the throughput clients\' first sync()');
  await sleep(300);
  const counts = writers.map(() => 0);
  const rounds = writers.map(() => 0);
  phase('throughput', 'start');
  const tcpu0 = process.cpuUsage();
  const tStart = performance.now();
  const tEnd = tStart + o.tputDurationMs;
  await Promise.all(writers.map(async (s, i) => {
    const col = s.collection('cards');
    while (performance.now() < tEnd) {
      for (let j = 0; j < ROUND; j++) {
        await col.put({ id: `w${i}_${counts[i]}`, n: counts[i] });
        counts[i]++;
      }
      await withTimeout(s.sync(), SYNC_TIMEOUT_MS, `writer${i}'s sync() after ${counts[i]} documents`);
      rounds[i]++;
    }
  }));
  const acked = performance.now();
  const tputCpuPct = (100 * cpuMs(process.cpuUsage(tcpu0))) / (acked - tStart);
  phase('throughput', 'end');
  const total = counts.reduce((a, b) => a + b, 0);
  const rcol = reader.collection('cards');
  await until('the reader', () => rcol.count() >= total, CONVERGE_TIMEOUT_MS, 5).catch(() => {
    throw new Error(`the reader on relay ${R} holds ${rcol.count()} of the ${total} acknowledged documents ${CONVERGE_TIMEOUT_MS / 1000} s after the last ack`);
  });
  const convergeMs = performance.now() - acked;
  const readerCount = rcol.count();
  if (readerCount !== total) throw new Error(`the reader holds ${readerCount} documents, the writers had ${total} acknowledged`);
  const throughput = {
    acked: total, rounds: rounds.reduce((a, b) => a + b, 0), ms: acked - tStart, changesPerSec: (total * 1000) / (acked - tStart),
    convergeMs, readerCount, clientCpuPct: tputCpuPct,
  };
  await Promise.all([...writers, reader].map((s) => s.close().catch(() => {})));
  return { latency, throughput, errors: errors.slice(0, 10), errorCount: errors.length, rssMb: process.memoryUsage().rss / 1e6 };
}

async function runClientsRole() {
  const o = await new Promise((r) => process.once('message', r));
  let result;
  try {
    result = await runClients(o);
  } catch (err) {
    result = { error: err.stack ?? err.message };
  }
  send({ ev: 'result', result });
  setTimeout(() => process.exit(0), 100);
}

// ========================================================================================= driver
async function startRelay(storage, lifeMs) {
  const r = new Child(SELF, 'relay', [`--opts=${JSON.stringify(storage)}`], { lifeMs });
  try {
    const m = await r.wait('listening', 30_000);
    r.port = m.port;
    return r;
  } catch (err) {
    r.kill();
    throw new Error(`a relay did not start: ${err.message}`);
  }
}

async function stopRelay(r) {
  r.send({ cmd: 'stop' });
  let logs = [];
  let stats = null;
  try {
    ({ logs, stats } = await r.wait('stopped', 15_000));
  } catch (err) {
    logs = [`(not stopped cleanly: ${err.message})`];
  }
  await r.end(5000);
  return { logs, stats };
}

let clkTck = null;
/** CPU ms of the cluster: the postmaster and its live children, plus what the postmaster reaped (cutime + cstime). */
function pgCpuMs(dir) {
  if (process.platform !== 'linux' || !dir) return NaN;
  if (clkTck === null) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 });
    clkTck = Number(r.stdout?.trim()) || 100;
  }
  let pm;
  try {
    pm = Number(fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return NaN;
  }
  let ticks = 0;
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] state, f[1] ppid, f[11..14] utime stime cutime cstime
    const pid = Number(e);
    if (pid === pm) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    else if (Number(f[1]) === pm) ticks += Number(f[11]) + Number(f[12]);
  }
  return (ticks * 1000) / clkTck;
}

function say(msg) {
  process.stderr.write(`postgres_bench: ${msg}\n`);
}

async function runConfig(cfg, o, cluster) {
  say(`${cfg.label}: ${o.clients} clients x 1 write / ${o.intervalMs} ms for ${o.durationMs / 1000} s, then ${o.writers} writers for ${o.tputDurationMs / 1000} s...`);
  const lifeMs = SETUP_TIMEOUT_MS * 2 + WARMUP_MS + o.durationMs + o.drainMs + o.tputDurationMs + CONVERGE_TIMEOUT_MS + 60_000;
  let dataDir = null;
  let storage;
  if (cfg.storage === 'dir') {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncore-postgres-bench-'));
    storage = { data: dataDir };
  } else {
    storage = { postgres: await cluster.createDatabase(`bench_${cfg.key}`) };
  }
  const relays = [];
  const phases = {};
  const phaseWork = [];
  let phaseError = null;
  const marks = {};
  const handlePhase = async ({ phase, edge }) => {
    if (edge === 'start') {
      marks[phase] = { pg: cfg.storage === 'pg' ? pgCpuMs(cluster.dir) : NaN, at: performance.now() };
      await Promise.all(relays.map((r) => {
        r.send({ cmd: 'mark', phase });
        return r.wait(`marked-${phase}`, 10_000);
      }));
    } else {
      const reports = await Promise.all(relays.map((r) => {
        r.send({ cmd: 'report', phase });
        return r.wait(`report-${phase}`, 10_000);
      }));
      const m = marks[phase];
      const wall = performance.now() - m.at;
      phases[phase] = {
        relayCpuPct: reports.reduce((a, r) => a + r.cpuPct, 0),
        perRelay: reports.map((r) => ({ cpuPct: r.cpuPct, rssMb: r.rssMb, stats: r.stats })),
        pgCpuPct: (100 * (pgCpuMs(cluster?.dir) - m.pg)) / wall,
      };
    }
  };
  const onEvent = (m) => {
    if (m?.ev !== 'phase') return false;
    phaseWork.push(handlePhase(m).catch((err) => {
      phaseError ??= err;
    }));
    return true;
  };
  const stopped = [];
  try {
    for (let i = 0; i < cfg.relays; i++) relays.push(await startRelay(storage, lifeMs));
    const urls = relays.map((r) => `ws://${HOST}:${r.port}`);
    const clients = new Child(SELF, 'clients', [], { lifeMs, onEvent });
    let result;
    try {
      clients.send({ urls, clients: o.clients, intervalMs: o.intervalMs, durationMs: o.durationMs, drainMs: o.drainMs, writers: o.writers, tputDurationMs: o.tputDurationMs });
      ({ result } = await clients.wait('result', lifeMs));
    } finally {
      await clients.end(5000);
    }
    await Promise.all(phaseWork);
    if (result.error) throw new Error(`the clients failed: ${result.error}`);
    if (phaseError) throw new Error(`measuring the relays' CPU failed: ${phaseError.message}`);
    const dead = relays.filter((r) => !r.alive);
    if (dead.length) throw new Error(`${dead.length} relay process(es) exited during the run`);
    return { config: cfg.key, label: cfg.label, relays: cfg.relays, ...result, phases, relayLogs: stopped };
  } finally {
    for (const [i, r] of relays.entries()) {
      const { logs, stats } = await stopRelay(r);
      stopped.push({ relay: i + 1, logs, stats });
      if (logs.length) say(`${cfg.label}: relay ${i + 1} log:\n  ${logs.join('\n  ')}`);
    }
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function options() {
  const num = (name, def, min = 1) => {
    const v = Number(args[name] ?? def);
    if (!Number.isFinite(v) || v < min) throw new Error(`--${name} needs a number >= ${min}, got ${args[name]}`);
    return v;
  };
  const o = {
    configs: (args.configs ?? 'dir,pg1,pg2').split(',').filter(Boolean),
    durationMs: num('duration', 15_000, 1000),
    tputDurationMs: num('tput-duration', 10_000, 500),
    clients: num('clients', 40, 2),
    writers: num('writers', 8, 1),
    intervalMs: num('interval', 500, 10),
    drainMs: num('drain', 5000, 0),
  };
  for (const c of o.configs) if (!CONFIGS[c]) throw new Error(`unknown configuration ${c} in --configs (give some of dir,pg1,pg2)`);
  if (!o.configs.length) throw new Error('--configs names no configuration');
  if (o.clients > 1000) throw new Error('--clients: at most 1000 (the relay\'s subscribers per channel)');
  if (o.writers > 200) throw new Error('--writers: at most 200');
  return o;
}

async function main(o) {
  const began = Date.now();
  let cluster = null;
  const runs = [];
  try {
    if (o.configs.some((c) => CONFIGS[c].storage === 'pg')) {
      const { startPostgres } = await import('../tests/support/postgres.mjs');
      say('starting a throwaway PostgreSQL cluster...');
      cluster = await startPostgres();
      say(`PostgreSQL on 127.0.0.1:${cluster.port} (${cluster.dir})`);
    }
    for (const key of o.configs) runs.push(await runConfig(CONFIGS[key], o, cluster));
  } finally {
    if (cluster) {
      await cluster.destroy();
      say('PostgreSQL cluster destroyed');
    }
  }
  const totalS = (Date.now() - began) / 1000;

  // ---------------------------------------------------------------------------------------- table
  const f = (v, d = 1) => (v === undefined || v === null || !Number.isFinite(v) ? '-' : v.toFixed(d));
  const cores = os.cpus().length;
  const header = ['figure', ...runs.map((r) => r.label)];
  const rows = [];
  const row = (label, fn) => rows.push([label, ...runs.map((r) => fn(r))]);
  row(`changes/s acknowledged (${o.writers} writers: ${ROUND} puts, then sync())`, (r) => f(r.throughput.changesPerSec, 0));
  row('throughput: reader on the last relay holds every document, after (ms)', (r) => f(r.throughput.convergeMs, 0));
  row('throughput: documents acknowledged', (r) => String(r.throughput.acked));
  row(`latency p50 (ms), all deliveries (${o.clients} clients, 1 write / ${o.intervalMs} ms each)`, (r) => f(r.latency.p50, 1));
  row('latency p99 (ms), all deliveries', (r) => f(r.latency.p99, 1));
  row('latency max (ms), all deliveries', (r) => f(r.latency.max, 0));
  row('cross-relay latency p50 (ms)', (r) => (r.relays > 1 ? f(r.latency.crossP50, 1) : '-'));
  row('cross-relay latency p99 (ms)', (r) => (r.relays > 1 ? f(r.latency.crossP99, 1) : '-'));
  row('delivered (% of expected, after drain)', (r) => f((100 * r.latency.delivered) / r.latency.expected, 2));
  row('cross-relay delivered (% of expected)', (r) => (r.relays > 1 ? f((100 * r.latency.crossDelivered) / r.latency.crossExpected, 2) : '-'));
  row('relay CPU, latency / throughput phase (% of one core, sum over relays)', (r) => `${f(r.phases.latency?.relayCpuPct, 0)} / ${f(r.phases.throughput?.relayCpuPct, 0)}`);
  row('PostgreSQL CPU, latency / throughput phase (% of one core)', (r) => (r.config === 'dir' ? '-' : `${f(r.phases.latency?.pgCpuPct, 0)} / ${f(r.phases.throughput?.pgCpuPct, 0)}`));
  row('clients process CPU, latency / throughput phase (%)', (r) => `${f(r.latency.clientCpuPct, 0)} / ${f(r.throughput.clientCpuPct, 0)}`);
  row('clients event-loop delay p99, latency phase (ms)', (r) => f(r.latency.loopP99Ms, 1));
  const pg1 = runs.find((r) => r.config === 'pg1');
  const pg2 = runs.find((r) => r.config === 'pg2');
  const notes = [];
  const ratios = {};
  if (pg1 && pg2) {
    ratios.changesPerSec = pg2.throughput.changesPerSec / pg1.throughput.changesPerSec;
    ratios.p99 = pg2.latency.p99 / pg1.latency.p99;
    rows.push(['2 relays / 1 relay (PostgreSQL): changes/s', ...runs.map((r) => (r === pg2 ? `x${f(ratios.changesPerSec, 2)}` : '-'))]);
    rows.push(['2 relays / 1 relay (PostgreSQL): latency p99', ...runs.map((r) => (r === pg2 ? `x${f(ratios.p99, 2)}` : '-'))]);
    notes.push(`2 relays / 1 relay (PostgreSQL): changes/s x${f(ratios.changesPerSec, 2)}, latency p99 x${f(ratios.p99, 2)} (cross-relay p99 ${f(pg2.latency.crossP99, 1)} ms against ${f(pg1.latency.p99, 1)} ms on one relay).`);
  }
  notes.push(`This machine has ${cores} cores (${os.cpus()[0]?.model?.trim() ?? 'unknown CPU'}): the relay processes, PostgreSQL and the clients process all share them, so a second relay brings no CPU of its own here; 2 relays / 1 relay shows what coordinating through PostgreSQL costs, not what a second machine would add.`);
  notes.push(`Latency: ${o.clients} real openStore({storage: 'memory', relay, channel: 'bench'}) stores in one child process, client i on relay i % relays; each puts a new document {id, t, w} every ${o.intervalMs} ms (open loop, phases spread evenly), ${WARMUP_MS / 1000} s of warm-up, then ${o.durationMs / 1000} s measured, then up to ${o.drainMs / 1000} s for the stragglers. Latency = arrival at each other client ('change' event from the relay) minus t (performance.now() of the same process). Cross-relay: writer and receiver on different relays.`);
  notes.push(`Throughput: ${o.writers} stores on channel 'tput' (alternating relays), each in a closed loop: ${ROUND} puts of {id, n} (one change set each, sent at once), then await sync() (all acknowledged), for ${o.tputDurationMs / 1000} s; changes/s = acknowledged documents / time until the last writer's last sync() resolved. A reader store on the last relay, connected throughout, must then hold every document.`);
  notes.push('Storage: data directory, each batch journaled and fsynced before its ack (the default); PostgreSQL, a throwaway cluster on 127.0.0.1 (tests/support/postgres.mjs: fsync on, synchronous_commit on), each batch committed before its ack, other relays read it on NOTIFY and fan it out. Each configuration on a fresh database (or directory). Relay CPU: process.cpuUsage() of each relay process over the phase, summed; PostgreSQL: the postmaster and its children (/proc).');
  for (const r of runs) {
    if (r.latency.writeErrors) notes.push(`${r.label}: ${r.latency.writeErrors} writes failed.`);
    if (r.latency.duplicates) notes.push(`${r.label}: ${r.latency.duplicates} deliveries arrived twice (counted once).`);
    if (r.errorCount) notes.push(`${r.label}: ${r.errorCount} client errors, e.g. ${r.errors.slice(0, 3).join('; ')}`);
    for (const l of r.relayLogs) if (l.logs.length) notes.push(`${r.label}: relay ${l.relay} logged: ${l.logs.slice(0, 3).join('; ')}`);
    if (r.latency.clientCpuPct > 90 || r.latency.loopP99Ms > 100) {
      notes.push(`${r.label}: the clients process was busy (${f(r.latency.clientCpuPct, 0)}% CPU, event-loop p99 ${f(r.latency.loopP99Ms, 0)} ms): part of the latency is its own queueing.`);
    }
    if (r.throughput.clientCpuPct > 90) {
      notes.push(`${r.label}: the clients process was near one full core in the throughput phase (${f(r.throughput.clientCpuPct, 0)}%): its changes/s is bounded by the clients as much as by the relay.`);
    }
  }
  notes.push(`node ${process.version}; whole run ${f(totalS, 0)} s.`);
  const chart = [
    { label: 'changes/s acknowledged', unit: 'per s', values: Object.fromEntries(runs.map((r) => [r.label, Number(r.throughput.changesPerSec.toFixed(0))])) },
    { label: 'fan-out latency p99, all deliveries', unit: 'ms', values: Object.fromEntries(runs.map((r) => [r.label, Number(r.latency.p99.toFixed(1))])) },
  ];

  publish('postgres_bench', {
    name: 'postgres',
    title: 'Relays on one PostgreSQL: 2 relays against 1, and the data directory',
    header,
    rows,
    notes,
    chart,
    raw: { runs, ratios, cores, options: o },
  }, { totalS, jsonPath: args.json });
}

if (args.role === 'relay' || args.role === 'clients') {
  setTimeout(() => process.exit(3), Number(args.life ?? 10 * 60_000) + 5000).unref(); // never outlives a run
  process.on('disconnect', () => process.exit(0));
  if (args.role === 'relay') {
    runRelay(JSON.parse(args.opts ?? '{}')).catch((err) => {
      process.stderr.write(`postgres_bench relay: ${err.stack}\n`);
      process.exit(1);
    });
  } else {
    runClientsRole();
  }
} else {
  let o;
  try {
    o = options();
  } catch (err) {
    say(err.message);
    process.exit(2);
  }
  const perConfig = SETUP_TIMEOUT_MS * 2 + WARMUP_MS + o.durationMs + o.drainMs + o.tputDurationMs + CONVERGE_TIMEOUT_MS + 90_000;
  const boundMs = 60_000 + o.configs.length * perConfig;
  setTimeout(() => {
    say(`the whole run exceeded its bound (${Math.round(boundMs / 1000)} s); stopping`);
    for (const c of Child.live) c.kill();
    process.exit(2); // tests/support/postgres.mjs stops and removes the cluster on exit
  }, boundMs);
  main(o).then(() => process.exit(0), (err) => {
    say(`FAILED: ${err.message}`);
    for (const c of Child.live) c.kill();
    process.exit(1);
  });
}
