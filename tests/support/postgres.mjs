// A real, throwaway PostgreSQL cluster for tests and benchmarks: initdb into a fresh temporary directory, a postmaster
// listening on 127.0.0.1 only (trust auth, user postgres), a `syncore` database. Node built-ins only.
// As root, initdb / pg_ctl run as the `postgres` user through su (initdb refuses root); otherwise as the current user.
//
//   const pg = await startPostgres();   // { url, adminUrl, port, dir, stop, start, restart, kill, destroy, createDatabase }
//   after(() => pg.destroy());
//
// Nothing outlives the test process: every command has a 30 s timeout, a failed startPostgres() cleans up after itself,
// and clusters not yet destroyed are stopped (pg_ctl -m immediate) and removed on process exit and on SIGINT/SIGTERM/SIGHUP.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const PG_ROOT = '/usr/lib/postgresql';
const TIMEOUT = 30_000;
const NOT_FOUND = `PostgreSQL server binaries not found under ${PG_ROOT} (install Debian's postgresql package: sh scripts/setup.sh does)`;

/** The bin directory of the highest installed major version that has initdb, or null. */
function findBinDir() {
  let entries;
  try {
    entries = fs.readdirSync(PG_ROOT);
  } catch {
    return null;
  }
  const majors = entries.filter((e) => /^\d+(\.\d+)?$/.test(e)).sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const bin = path.join(PG_ROOT, major, 'bin');
    if (fs.existsSync(path.join(bin, 'initdb')) && fs.existsSync(path.join(bin, 'pg_ctl'))) return bin;
  }
  return null;
}

/** True when the PostgreSQL server binaries are installed (tests can skip otherwise). */
export function postgresAvailable() {
  return findBinDir() !== null;
}

const isRoot = () => process.getuid?.() === 0;
const shQuote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const shWord = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : shQuote(s));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tail = (text, n = 20) => text.trimEnd().split('\n').slice(-n).join('\n');

/** uid and gid of the `postgres` user, from /etc/passwd. */
function postgresUser() {
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root, but there is no `postgres` user to run initdb / pg_ctl as (install Debian\'s postgresql)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** The environment without PG* variables (PGDATA, PGPORT, PGHOST, ... would override what we pass). */
function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  return env;
}

/** argv to run `argv` as the postgres user when root (su ... -c 'quoted command'), unchanged otherwise. */
function asServerUser(argv) {
  return isRoot() ? ['su', 'postgres', '-s', '/bin/sh', '-c', argv.map(shQuote).join(' ')] : argv;
}

/**
 * Runs argv (as the postgres user when root and asServer) with a timeout; resolves with stdout, rejects with an Error
 * naming the command, with the tail of its output and of the server log.
 */
function run(command, { asServer = false, cwd, logFile } = {}) {
  const argv = asServer ? asServerUser(command) : command;
  const label = command.map(shWord).join(' ') + (asServer && isRoot() ? ' (as user postgres, through su)' : '');
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM'); // su forwards SIGTERM to its child
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    }, TIMEOUT);
    const fail = (why) => reject(new Error(`${label}: ${why}${details(stdout, stderr, logFile)}`));
    child.on('error', (err) => {
      clearTimeout(timer);
      fail(err.message);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) fail(`timed out after ${TIMEOUT / 1000} s`);
      else if (code !== 0) fail(signal ? `killed by ${signal}` : `exit code ${code}`);
      else resolve(stdout);
    });
  });
}

function details(stdout, stderr, logFile) {
  let out = '';
  const output = tail(`${stdout}\n${stderr}`);
  if (output) out += `\n--- output ---\n${output}`;
  if (logFile) {
    let log = '';
    try {
      log = tail(fs.readFileSync(logFile, 'utf8'));
    } catch {}
    if (log) out += `\n--- ${logFile} ---\n${log}`;
  }
  return out;
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves true when something accepts connections on 127.0.0.1:port, false when refused. */
function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.on('connect', () => (socket.destroy(), resolve(true)));
    socket.on('timeout', () => (socket.destroy(), resolve(true))); // not refused: something is there but slow
    socket.on('error', () => resolve(false));
  });
}

/** Is pid a live (not zombie) process whose working directory is dir? Postgres processes chdir to their data dir. */
function isClusterProcess(pid, dir) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (err.code !== 'EPERM') return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') return false;
    return fs.readlinkSync(`/proc/${pid}/cwd`) === dir;
  } catch {
    return false;
  }
}

/** All live processes of the cluster in dir (the postmaster and its children, orphaned or not); Linux only. */
function clusterProcesses(dir) {
  if (process.platform !== 'linux') return [];
  return fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => isClusterProcess(pid, dir));
}

/** The postmaster pid from <dir>/postmaster.pid, or null (no file, unreadable). */
function postmasterPid(dir) {
  try {
    const pid = Number(fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Is the cluster's postmaster running (pid file present and names a live process of this cluster)? */
function postmasterRunning(dir) {
  const pid = postmasterPid(dir);
  return pid !== null && isClusterProcess(pid, dir);
}

// Clusters not yet destroyed, stopped synchronously if the process exits or is interrupted.
const live = new Map(); // dir -> { bin }
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function cleanupSync() {
  for (const [dir, { bin }] of live) {
    if (postmasterRunning(dir)) {
      const [cmd, ...args] = asServerUser([path.join(bin, 'pg_ctl'), '-D', dir, '-m', 'immediate', '-w', '-t', '30', 'stop']);
      spawnSync(cmd, args, { cwd: dir, env: cleanEnv(), stdio: 'ignore', timeout: TIMEOUT });
    }
    removeStaleSharedMemory(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    untrack(dir);
  }
}

function onSignal(signal) {
  cleanupSync();
  for (const s of SIGNALS) process.off(s, onSignal);
  // Our listener kept the default action from happening: do it now, unless someone else handles this signal.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function track(dir, bin) {
  if (live.size === 0) {
    process.on('exit', cleanupSync);
    for (const s of SIGNALS) process.on(s, onSignal);
  }
  live.set(dir, { bin });
}

function untrack(dir) {
  if (!live.delete(dir) || live.size > 0) return;
  process.off('exit', cleanupSync);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/**
 * Starts a throwaway cluster on 127.0.0.1 (trust auth, user postgres, fsync on, max_connections 200) with a `syncore`
 * database. `log: true` prints each step and its duration to stderr. Throws (after cleaning up) if anything fails.
 */
export async function startPostgres({ log = false } = {}) {
  const bin = findBinDir();
  if (!bin) throw new Error(NOT_FOUND);
  const say = log ? (msg) => process.stderr.write(`[postgres] ${msg}\n`) : () => {};
  const timed = async (what, fn) => {
    const t0 = performance.now();
    const result = await fn();
    say(`${what} (${(performance.now() - t0).toFixed(0)} ms)`);
    return result;
  };

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncore-pg-'));
  const logFile = path.join(dir, 'log');
  if (isRoot()) {
    const { uid, gid } = postgresUser();
    fs.chownSync(dir, uid, gid);
  }
  track(dir, bin);
  let port = 0;
  let destroyed = false;

  const server = (tool, ...args) => run([path.join(bin, tool), ...args], { asServer: true, cwd: dir, logFile });
  const psql = (sql) => run([path.join(bin, 'psql'), '-X', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres',
    '-d', 'postgres', '-Atc', sql], { cwd: dir, logFile });
  const urlOf = (db) => `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(db)}`;

  async function start() {
    if (destroyed) throw new Error(`startPostgres: cluster in ${dir} was destroyed`);
    if (postmasterRunning(dir)) return;
    // After kill(): the lock files (postmaster.pid, the socket's .s.PGSQL.<port>.lock) are stale. Postgres would take them
    // for a running postmaster while its pid is still a zombie (PID 1 may be slow to reap) or was reused: drop them, and
    // the old shared memory segment.
    if (clusterProcesses(dir).length === 0) {
      removeStaleSharedMemory(dir);
      for (const f of fs.readdirSync(dir)) {
        if (f === 'postmaster.pid' || /^\.s\.PGSQL\.\d+(\.lock)?$/.test(f)) fs.rmSync(path.join(dir, f), { force: true });
      }
    }
    // The data dir is also the unix socket dir; pg_ctl puts -o into a /bin/sh command line, hence the quoting.
    const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${shQuote(dir)} -c fsync=on -c max_connections=200`;
    await timed(`start on port ${port}`, () => server('pg_ctl', '-D', dir, '-o', options, '-l', logFile, '-w', '-t', '30', 'start'));
  }

  async function stop() {
    if (!postmasterRunning(dir)) return;
    await timed('stop', () => server('pg_ctl', '-D', dir, '-m', 'fast', '-w', '-t', '30', 'stop'));
  }

  async function kill() {
    await timed('kill', async () => {
      const pid = postmasterPid(dir);
      if (pid !== null && isClusterProcess(pid, dir)) process.kill(pid, 'SIGKILL');
      // The postmaster's children would exit by themselves on its death; kill them too, as a crash would, and wait until
      // none is left (a new postmaster refuses to start while they hold the old shared memory) and the port refuses.
      const deadline = Date.now() + TIMEOUT;
      for (;;) {
        const rest = clusterProcesses(dir);
        for (const p of rest) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {}
        }
        if (rest.length === 0 && !(await portOpen(port))) return;
        if (Date.now() > deadline) throw new Error(`kill: cluster in ${dir} still up after ${TIMEOUT / 1000} s (pids ${rest.join(' ')})`);
        await sleep(10);
      }
    });
  }

  async function destroy() {
    if (destroyed) return;
    destroyed = true;
    try {
      await stop();
    } catch {
      await kill().catch(() => {});
    }
    removeStaleSharedMemory(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    untrack(dir);
    say(`destroyed ${dir}`);
  }

  async function createDatabase(name) {
    await timed(`create database ${name}`, () => psql(`create database "${String(name).replace(/"/g, '""')}"`));
    return urlOf(name);
  }

  try {
    await timed('initdb', () => {
      const args = ['-D', dir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'];
      if (supportsNoInstructions(bin)) args.push('--no-instructions');
      return server('initdb', ...args);
    });
    // The port was free a moment ago; if someone took it meanwhile, try another one.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await start();
        break;
      } catch (err) {
        if (attempt >= 3 || !/could not bind|address already in use/i.test(err.message)) throw err;
      }
    }
    await createDatabase('syncore');
  } catch (err) {
    await destroy().catch(() => {});
    throw err;
  }
  return {
    url: urlOf('syncore'),
    adminUrl: urlOf('postgres'),
    port,
    dir,
    stop,
    start,
    async restart() {
      await stop();
      await start();
    },
    kill,
    destroy,
    createDatabase,
  };
}

/** initdb --no-instructions exists since PostgreSQL 14 (the bin dir is named after the major version). */
function supportsNoInstructions(bin) {
  return Number(path.basename(path.dirname(bin))) >= 14;
}

/**
 * After kill() the SysV shared memory segment (a few bytes; key and id on line 7 of postmaster.pid) stays: only a postmaster
 * starting on the same dir would remove it. Remove it before the directory goes, so that many runs don't exhaust SHMMNI.
 * Only a segment with that very key and id, attached by no process, is removed (Linux: /proc/sysvipc/shm).
 */
function removeStaleSharedMemory(dir) {
  let line;
  try {
    line = fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[6];
  } catch {
    return; // clean shutdown: no pid file, nothing left
  }
  const [key, shmid] = (line || '').trim().split(/\s+/);
  if (!/^\d+$/.test(key) || !/^\d+$/.test(shmid) || clusterProcesses(dir).length > 0) return;
  let table;
  try {
    table = fs.readFileSync('/proc/sysvipc/shm', 'utf8').split('\n').map((l) => l.trim().split(/\s+/));
  } catch {
    return;
  }
  // Columns: key shmid perms size cpid lpid nattch ...
  if (!table.some((c) => c[0] === key && c[1] === shmid && c[6] === '0')) return;
  spawnSync('ipcrm', ['-m', shmid], { stdio: 'ignore', timeout: TIMEOUT });
}
