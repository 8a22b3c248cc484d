// The relay's channels in PostgreSQL (createRelay({ postgres }), syncore-relay --postgres): several relay
// processes share one database. docs/ARCHITECTURE.md, "several relays on one PostgreSQL"; the tables are
// in docs/FORMAT.md. Only the relay imports this file, and only in that mode: `pg` is loaded on demand.

/** Versioned migrations, applied in order at start, each once, under an advisory lock. Never edit one
 *  that has shipped: add the next. */
export const MIGRATIONS = Object.freeze([
  {
    version: 1,
    name: 'channels, batches, checkpoints',
    sql: `
      CREATE TABLE syncore_channels (
        id             bigserial PRIMARY KEY,
        tenant         text NOT NULL,
        name           text NOT NULL,
        head           bigint NOT NULL DEFAULT 0,   -- seq of the channel's newest batch
        schema_version bigint NOT NULL DEFAULT 0,   -- the highest app schema version a client declared
        created_at     timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant, name)
      );
      CREATE TABLE syncore_batches (
        channel_id bigint NOT NULL REFERENCES syncore_channels (id) ON DELETE CASCADE,
        seq        bigint NOT NULL,                 -- 1, 2, 3... per channel, in commit order
        data       bytea NOT NULL,                  -- a change set (FORMAT.md), as a client sent it
        PRIMARY KEY (channel_id, seq)
      );
      CREATE TABLE syncore_checkpoints (
        channel_id bigint PRIMARY KEY REFERENCES syncore_channels (id) ON DELETE CASCADE,
        seq        bigint NOT NULL,                 -- the state holds every batch up to this seq
        data       bytea NOT NULL,                  -- the channel's whole state, a change set
        updated_at timestamptz NOT NULL DEFAULT now()
      );`,
  },
]);

const MIGRATION_LOCK = 7_345_912_001; // pg_advisory_xact_lock key: one relay migrates at a time
const READ_LIMIT = 256; // batches per read when catching up

/** postgres://user:***@host:port/db: a URL fit for logs and error messages. */
export function redactUrl(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** Throws a TypeError naming what is wrong with a --postgres URL. */
export function checkPostgresUrl(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`createRelay: 'postgres' must be a URL like postgres://user:password@host:5432/database, got '${url}'`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new TypeError(`createRelay: 'postgres' must start with postgres:// or postgresql://, got '${u.protocol}//'`);
  }
  if (!u.hostname) throw new TypeError(`createRelay: the 'postgres' URL names no host: ${redactUrl(url)}`);
}

function explain(err) {
  const why = { ECONNREFUSED: 'connection refused', ENOTFOUND: 'no such host', ETIMEDOUT: 'timed out', EHOSTUNREACH: 'host unreachable' }[err.code];
  return why ? `${why} (${err.message})` : err.message || String(err);
}

const buf = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
const u8 = (b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/**
 * The relay's PostgreSQL connection: a pool for reads and writes, and one more connection that LISTENs
 * to the channels this process has loaded (`syncore_<channel id>`), reconnecting with backoff.
 * onNotify(channelId, payload) for each notification; onListening() each time the listener is back
 * after a loss (notifications may have been missed: catch every loaded channel up).
 */
export class PgStorage {
  constructor(url, { log, onNotify, onListening, connectTimeoutMs = 5000 }) {
    checkPostgresUrl(url);
    this.url = url;
    this.where = redactUrl(url);
    this.log = log;
    this.onNotify = onNotify;
    this.onListening = onListening;
    this.connectTimeoutMs = connectTimeoutMs;
    this.listening = new Set(); // channel ids
    this.listener = null;
    this.listenerReady = null; // a promise while (re)connecting
    this.closed = false;
  }

  /** Connects, migrates and starts listening; rejects with an error naming the database and the cause. */
  async start() {
    let pg;
    try {
      ({ default: pg } = await import('pg'));
    } catch (err) {
      throw new Error(`--postgres needs the 'pg' package (npm install pg): ${err.message}`);
    }
    this.pg = pg;
    this.pool = new pg.Pool({ connectionString: this.url, max: 10, connectionTimeoutMillis: this.connectTimeoutMs, idleTimeoutMillis: 30_000 });
    // an idle client whose server went away: the pool drops it and opens another on demand
    this.pool.on('error', (err) => this.log(`PostgreSQL (${this.where}): idle connection lost: ${err.message}`));
    try {
      await this.migrate();
      await this._connectListener();
    } catch (err) {
      await this.close();
      throw new Error(`cannot use PostgreSQL at ${this.where}: ${explain(err)}`);
    }
  }

  /** fn(client) on a pooled connection, in a transaction when `begin` is given; a connection that failed
   *  is discarded, not returned to the pool. Errors of a checked-out connection (its server went away)
   *  arrive as the query's rejection, never as an unhandled 'error' event. */
  async _tx(begin, fn) {
    const c = await this.pool.connect();
    const ignore = () => {};
    c.on('error', ignore);
    let failed = null;
    try {
      if (begin) await c.query(begin);
      const out = await fn(c);
      if (begin) await c.query('COMMIT');
      return out;
    } catch (err) {
      failed = err;
      if (begin) await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.off('error', ignore);
      c.release(failed ? true : undefined);
    }
  }

  async migrate() {
    await this._tx('BEGIN', async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query(`CREATE TABLE IF NOT EXISTS syncore_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await c.query('SELECT coalesce(max(version), 0) AS v FROM syncore_migrations');
      const have = Number(rows[0].v);
      const newest = MIGRATIONS.at(-1).version;
      if (have > newest) {
        throw new Error(`the database's syncore schema is version ${have}, newer than this relay's ${newest}: upgrade the relay`);
      }
      for (const m of MIGRATIONS) {
        if (m.version <= have) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO syncore_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        this.log(`PostgreSQL: applied migration ${m.version} (${m.name})`);
      }
    });
  }

  _connectListener() {
    this.listenerReady = (async () => {
      const client = new this.pg.Client({ connectionString: this.url, connectionTimeoutMillis: this.connectTimeoutMs });
      client.on('notification', (n) => {
        const id = /^syncore_(\d+)$/.exec(n.channel)?.[1];
        if (id) this.onNotify(id, n.payload ?? '');
      });
      client.on('error', () => {}); // 'end' follows
      await client.connect();
      client.on('end', () => {
        if (this.listener !== client || this.closed) return;
        this.listener = null;
        this.log(`PostgreSQL (${this.where}): the listening connection was lost; reconnecting`);
        this._relisten(0);
      });
      for (const id of this.listening) await client.query(`LISTEN syncore_${id}`);
      this.listener = client;
    })();
    return this.listenerReady;
  }

  _relisten(attempt) {
    if (this.closed) return;
    const delay = Math.min(5000, 100 * 2 ** attempt);
    this.relistenTimer = setTimeout(() => {
      this._connectListener().then(
        () => {
          this.log(`PostgreSQL (${this.where}): listening again`);
          this.onListening();
        },
        (err) => {
          if (attempt === 0 || attempt % 10 === 0) this.log(`PostgreSQL (${this.where}): cannot reconnect yet: ${explain(err)}`);
          this._relisten(attempt + 1);
        },
      );
    }, delay);
    this.relistenTimer.unref();
  }

  async _listenerClient() {
    if (this.listener) return this.listener;
    const deadline = Date.now() + this.connectTimeoutMs;
    while (!this.listener && !this.closed && Date.now() < deadline) {
      await this.listenerReady?.catch(() => {});
      if (!this.listener) await new Promise((r) => setTimeout(r, 50));
    }
    if (!this.listener) throw new Error(`PostgreSQL at ${this.where} is unreachable (no listening connection)`);
    return this.listener;
  }

  /**
   * Opens (creating it when new) a channel: LISTENs to it first, then reads its checkpoint and batches.
   * Returns {id, ...read} (see read()).
   */
  async open(tenant, name) {
    const { rows } = await this.pool.query(
      `INSERT INTO syncore_channels (tenant, name) VALUES ($1, $2)
       ON CONFLICT (tenant, name) DO UPDATE SET tenant = EXCLUDED.tenant RETURNING id`,
      [tenant, name],
    );
    const id = String(rows[0].id);
    const l = await this._listenerClient();
    if (!this.listening.has(id)) {
      await l.query(`LISTEN syncore_${id}`);
      this.listening.add(id);
    }
    return { id, ...(await this.read(id, 0)) };
  }

  /** Stops listening to a channel this process closed. */
  async forget(id) {
    if (!this.listening.delete(id)) return;
    await this.listener?.query(`UNLISTEN syncore_${id}`).catch(() => {});
  }

  /**
   * What a replica that holds every batch up to `after` lacks, read in one statement (one snapshot, one
   * round trip): {checkpoint: {seq, data} | null (only when batches it lacks were folded into it),
   * batches: [{seq, data}] (at most READ_LIMIT, in seq order), head, schema, more (true: read again from
   * the last seq)}.
   */
  async read(id, after) {
    const { rows } = await this.pool.query(
      `WITH ch AS (SELECT head, schema_version FROM syncore_channels WHERE id = $1),
            cp AS (SELECT seq, data FROM syncore_checkpoints WHERE channel_id = $1 AND seq > $2),
            b AS (SELECT seq, data FROM syncore_batches
                  WHERE channel_id = $1 AND seq > greatest($2, coalesce((SELECT seq FROM cp), 0))
                  ORDER BY seq LIMIT $3)
       SELECT 'h' AS kind, head AS seq, schema_version AS schema, NULL::bytea AS data FROM ch
       UNION ALL SELECT 'c', seq, NULL, data FROM cp
       UNION ALL SELECT 'b', seq, NULL, data FROM b`,
      [id, after, READ_LIMIT],
    );
    const ch = rows.find((r) => r.kind === 'h');
    if (!ch) throw new Error(`channel ${id} is not in the database any more`);
    const cp = rows.find((r) => r.kind === 'c');
    const checkpoint = cp ? { seq: Number(cp.seq), data: u8(cp.data) } : null;
    const batches = rows.filter((r) => r.kind === 'b').map((r) => ({ seq: Number(r.seq), data: u8(r.data) })).sort((x, y) => x.seq - y.seq);
    const head = Number(ch.seq);
    const last = batches.at(-1)?.seq ?? checkpoint?.seq ?? after;
    return { checkpoint, batches, head, schema: Number(ch.schema), more: last < head };
  }

  /** Appends batches to a channel in one statement (one transaction: the channel's row lock orders it
   *  with every other relay's appends) and notifies the other relays when it commits. Returns the seq of
   *  each, in order. */
  async append(id, batches) {
    const { rows } = await this.pool.query(
      `WITH h AS (UPDATE syncore_channels SET head = head + $2 WHERE id = $1 RETURNING head - $2 AS base),
            b AS (INSERT INTO syncore_batches (channel_id, seq, data)
                  SELECT $1, h.base + d.ord, d.data FROM h, unnest($3::bytea[]) WITH ORDINALITY AS d(data, ord)
                  RETURNING seq)
       SELECT array_agg(seq ORDER BY seq) AS seqs, pg_notify('syncore_' || $1::text, max(seq)::text) FROM b`,
      [id, batches.length, batches.map(buf)],
    );
    if (!rows[0]?.seqs) throw new Error(`channel ${id} is not in the database any more`);
    return rows[0].seqs.map(Number);
  }

  /** A notification on the channel (presence between relays); payloads are at most 8000 bytes. */
  async notify(id, payload) {
    await this.pool.query("SELECT pg_notify('syncore_' || $1::text, $2)", [id, payload]);
  }

  /** Raises the channel's schema version (never lowers it) and tells the other relays. */
  async raiseSchema(id, version) {
    await this.pool.query(
      `WITH u AS (UPDATE syncore_channels SET schema_version = $2 WHERE id = $1 AND schema_version < $2 RETURNING id)
       SELECT pg_notify('syncore_' || $1::text, 'schema') FROM u`,
      [id, version],
    );
  }

  /** Replaces the channel's checkpoint by `data` (the whole state, holding every batch up to `seq`) and
   *  deletes the batches it holds, in one transaction; an older checkpoint never replaces a newer one. */
  async checkpoint(id, seq, data) {
    await this._tx('BEGIN', async (c) => {
      await c.query(
        `INSERT INTO syncore_checkpoints (channel_id, seq, data) VALUES ($1, $2, $3)
         ON CONFLICT (channel_id) DO UPDATE SET seq = EXCLUDED.seq, data = EXCLUDED.data, updated_at = now()
         WHERE syncore_checkpoints.seq < EXCLUDED.seq`,
        [id, seq, buf(data)],
      );
      await c.query('DELETE FROM syncore_batches WHERE channel_id = $1 AND seq <= $2', [id, seq]);
      await c.query("SELECT pg_notify('syncore_' || $1::text, 'checkpoint')", [id]);
    });
  }

  async close() {
    this.closed = true;
    clearTimeout(this.relistenTimer);
    const l = this.listener;
    this.listener = null;
    await l?.end().catch(() => {});
    await this.pool?.end().catch(() => {});
  }
}
