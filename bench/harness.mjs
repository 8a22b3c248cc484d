// What the benchmark scripts share: argument parsing, bounded waits, child processes driven over IPC
// (a hard bound on each one's life), and the printed table plus the JSON that bench/report.mjs reads.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** --name=value (or --flag, meaning '1') arguments as an object. */
export function parseArgs(argv = process.argv.slice(2)) {
  return Object.fromEntries(argv.map((a) => {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`bad argument ${a}`);
    return [m[1], m[2] ?? '1'];
  }));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls pred() until it is true; throws naming `what` after timeoutMs. */
export async function until(what, pred, timeoutMs, stepMs = 20) {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

export async function withTimeout(p, ms, what) {
  let t;
  try {
    return await Promise.race([p, new Promise((_, reject) => (t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

/** ms of CPU in a process.cpuUsage() difference. */
export const cpuMs = (u) => (u.user + u.system) / 1000;

/**
 * `script --role=<role> --life=<lifeMs> ...extra` in a child process, messages {ev, ...} over IPC:
 * wait(ev) resolves with the next message of that kind (queued if it came first), onEvent(m) sees each
 * message first and may take it (returns true). Killed after lifeMs whatever happens; Child.live holds
 * the children still running, for a last-resort kill.
 */
export class Child {
  static live = new Set();

  constructor(script, role, extra, { lifeMs, execArgv = [], onEvent = () => false }) {
    this.role = role;
    this.proc = fork(script, [`--role=${role}`, `--life=${lifeMs}`, ...extra], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    Child.live.add(this);
    this.queue = [];
    this.waiters = [];
    this.exited = new Promise((r) => this.proc.once('exit', (code, sig) => r({ code, sig })));
    this.proc.on('message', (m) => {
      if (onEvent(m)) return;
      const i = this.waiters.findIndex((w) => w.ev === m.ev);
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(m);
      else this.queue.push(m);
    });
    this.exited.then(({ code, sig }) => {
      Child.live.delete(this);
      clearTimeout(this.killer);
      for (const w of this.waiters.splice(0)) w.reject(new Error(`the ${role} child exited (${code ?? sig}) while waiting for ${w.ev}`));
    });
    this.killer = setTimeout(() => this.kill(), lifeMs); // a hard bound on the child's life
  }

  wait(ev, timeoutMs) {
    const i = this.queue.findIndex((m) => m.ev === ev);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    if (!this.alive) return Promise.reject(new Error(`the ${this.role} child has exited (${this.proc.exitCode ?? this.proc.signalCode}); waiting for ${ev}`));
    return new Promise((resolve, reject) => {
      const w = { ev, resolve, reject };
      this.waiters.push(w);
      const timer = setTimeout(() => {
        const j = this.waiters.indexOf(w);
        if (j >= 0) this.waiters.splice(j, 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${ev} from the ${this.role} child`));
      }, timeoutMs);
      w.resolve = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
      w.reject = (err) => {
        clearTimeout(timer);
        reject(err);
      };
    });
  }

  send(m) {
    if (this.proc.connected) this.proc.send(m);
  }

  get alive() {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  kill() {
    if (this.alive) this.proc.kill('SIGKILL');
  }

  async end(ms = 5000) {
    const r = await Promise.race([this.exited, sleep(ms).then(() => null)]);
    if (!r) this.kill();
    await this.exited;
  }
}

/** Prints the table (first column left-aligned) and its notes, and writes the JSON report.mjs reads:
 *  report = {name, title, header, rows, notes, chart, raw}, to jsonPath or build-bench/<name>.json. */
export function publish(bench, report, { totalS, jsonPath }) {
  const { header, rows, notes } = report;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  console.log(`\n${bench}: node ${process.version}, ${os.cpus().length} cores, ${totalS.toFixed(0)} s`);
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  for (const n of notes) console.log(`- ${n}`);
  const file = jsonPath ?? path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'build-bench', `${report.name}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(`${bench}: wrote ${path.relative(process.cwd(), file)}\n`);
}
