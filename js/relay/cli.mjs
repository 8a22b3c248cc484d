#!/usr/bin/env node
// syncore-relay: the relay server from the command line. `syncore-relay --help` lists the flags.
import { redactUrl } from './postgres.mjs';
import { DEFAULT_LIMITS, createRelay } from './relay.mjs';

const HELP = `syncore-relay: the syncore sync relay (WebSocket /v1/ws?channel=<name>, GET /healthz, GET /metrics)

  --port N                 port to listen on (default 8787; 0 = any free port)
  --host H                 address to bind (default 127.0.0.1)
  --data DIR               data directory: one folder per tenant/channel (default ./relay-data)
  --postgres URL           keep channels in PostgreSQL instead (postgres://user:password@host:5432/db, or
                           env SYNCORE_POSTGRES): several relays on one database serve the same channels
  --auth-secret S          verify tokens as HS256 JWTs signed with S (or env SYNCORE_AUTH_SECRET)
  --jwks FILE|URL          verify tokens against a JSON Web Key Set
  --insecure-dev           allow connections without a token (tenant "dev", full access): development only
  --idle-ms N              close a channel's replica N ms after its last subscriber leaves (default 60000)
  --no-fsync               acknowledge a batch once the OS has it, without waiting for the disk (faster;
                           an acknowledged batch then survives a crash of the relay, not of the machine)
  --limit-frame-bytes N    largest frame accepted (default ${DEFAULT_LIMITS.frameBytes})
  --limit-changes-per-batch N                (default ${DEFAULT_LIMITS.changesPerBatch})
  --limit-changes-per-second N   per connection (default ${DEFAULT_LIMITS.changesPerSecond})
  --limit-subscribers N    per channel (default ${DEFAULT_LIMITS.subscribersPerChannel})
  --limit-document-bytes N the fields of one document in a batch, as JSON (default ${DEFAULT_LIMITS.documentBytes})
  --limit-clock-skew-ms N  refuse changes stamped further ahead than this (default ${DEFAULT_LIMITS.clockSkewMs})
  --limit-presence-bytes N one member's presence state, as JSON (default ${DEFAULT_LIMITS.presenceBytes})
  --help                   this text

Tokens carry the claims sub, tenant and channels: {"<channel or prefix*>": "owner" | "editor" | "viewer"}.
SIGTERM or SIGINT: stop accepting, finish and persist in-flight batches, close sockets with 1001.
`;

function parse(argv) {
  const out = { limits: {} };
  const num = (flag, v) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a non-negative number, got ${v ?? 'nothing'}`);
    return n;
  };
  const limitFlags = {
    '--limit-frame-bytes': 'frameBytes',
    '--limit-changes-per-batch': 'changesPerBatch',
    '--limit-changes-per-second': 'changesPerSecond',
    '--limit-subscribers': 'subscribersPerChannel',
    '--limit-document-bytes': 'documentBytes',
    '--limit-clock-skew-ms': 'clockSkewMs',
    '--limit-presence-bytes': 'presenceBytes',
  };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i];
    let value;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const next = () => value ?? argv[++i];
    if (flag === '--help' || flag === '-h') out.help = true;
    else if (flag === '--insecure-dev') out.insecureDev = true;
    else if (flag === '--no-fsync') out.fsync = false;
    else if (flag === '--port') out.port = num(flag, next());
    else if (flag === '--host') out.host = next();
    else if (flag === '--data') out.data = next();
    else if (flag === '--postgres') out.postgres = next();
    else if (flag === '--auth-secret') out.authSecret = next();
    else if (flag === '--jwks') out.jwks = next();
    else if (flag === '--idle-ms') out.idleMs = num(flag, next());
    else if (limitFlags[flag]) out.limits[limitFlags[flag]] = num(flag, next());
    else throw new Error(`unknown flag ${flag} (see --help)`);
  }
  return out;
}

let opts;
try {
  opts = parse(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`syncore-relay: ${err.message}\n`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
opts.postgres ??= process.env.SYNCORE_POSTGRES || undefined;
if (opts.postgres !== undefined && opts.data !== undefined) {
  process.stderr.write('syncore-relay: give --data or --postgres, not both\n');
  process.exit(2);
}
if (opts.postgres === undefined) opts.data ??= './relay-data';
opts.authSecret ??= process.env.SYNCORE_AUTH_SECRET;
let relay;
try {
  relay = createRelay(opts);
  const { host, port } = await relay.start();
  process.stdout.write(`syncore-relay: listening on ws://${host}:${port}/v1/ws (${relay.dataDir ? `data ${relay.dataDir}` : `PostgreSQL ${redactUrl(opts.postgres)}`})\n`);
} catch (err) {
  process.stderr.write(`syncore-relay: ${err.message}\n`);
  process.exit(1);
}
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, async () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`syncore-relay: ${sig}: finishing in-flight batches, closing connections\n`);
    await relay.stop();
    process.exit(0);
  });
}
