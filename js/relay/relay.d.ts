// Types of syncore/relay (js/relay/relay.mjs).
export interface RelayLimits {
  /** Largest frame accepted, bytes. */
  frameBytes: number;
  /** Rows in one client batch. */
  changesPerBatch: number;
  /** Rows per connection per second. */
  changesPerSecond: number;
  subscribersPerChannel: number;
  /** The fields of one document a batch carries, measured as JSON. */
  documentBytes: number;
  /** Rows stamped further ahead of the relay's clock are refused. */
  clockSkewMs: number;
  /** One member's presence state, measured as JSON. */
  presenceBytes: number;
}
export const DEFAULT_LIMITS: Readonly<RelayLimits>;

export interface RelayOptions {
  /** Data directory: one folder per tenant and channel. Give this or `postgres`. */
  data?: string;
  /** Keep channels in PostgreSQL instead (postgres://user:password@host:5432/db): several relays on one
   *  database serve the same channels. The tables are created or migrated at start(). */
  postgres?: string;
  /** PostgreSQL: fold a channel's batches into a checkpoint once they pass this many bytes or the last
   *  checkpoint's size, whichever is larger (default 1 MiB). */
  checkpointBytes?: number;
  /** PostgreSQL: how often each relay announces its members' presence to the other relays (ms, default
   *  15000); a member not heard of for three periods is gone. */
  presenceRefreshMs?: number;
  port?: number;
  host?: string;
  /** Verify tokens as HS256 JWTs signed with this secret. */
  authSecret?: string;
  /** Verify tokens against a JSON Web Key Set: a file path or an http(s) URL. */
  jwks?: string;
  /** Connections without a token get tenant 'dev' with every role. Development only. */
  insecureDev?: boolean;
  /** fsync each batch's journal before its ack (default true); false: durable against a crash of the
   *  relay process only. */
  fsync?: boolean;
  /** Close a channel's replica this long after its last subscriber leaves (ms, default 60000). */
  idleMs?: number;
  limits?: Partial<RelayLimits>;
  log?: (message: string) => void;
}

export interface ServerCollection {
  put(doc: Record<string, unknown> & { id: string }): Promise<unknown>;
  update(id: string, fields: Record<string, unknown>): Promise<unknown>;
  delete(id: string): Promise<unknown>;
  increment(id: string, field: string, by?: number): Promise<unknown>;
  get(id: string): Promise<Record<string, unknown> | null>;
  find(query?: object): Promise<Array<Record<string, unknown>>>;
}

export declare class Relay {
  readonly port: number;
  readonly host: string;
  /** null with `postgres`. */
  readonly dataDir: string | null;
  start(): Promise<{ port: number; host: string }>;
  /** Stops accepting, finishes in-flight batches, closes every socket with 1001. */
  stop(): Promise<void>;
  stats(): { connections: number; channels: number; counters: Record<string, number> };
  /** Server-side writes, fanned out to the channel's subscribers. */
  channel(name: string, options?: { tenant?: string }): { collection(name: string): ServerCollection };
}

export function createRelay(options: RelayOptions): Relay;
/** The role a token's `channels` claim grants on a channel. */
export function roleFor(grants: Record<string, string> | undefined, channel: string): 'owner' | 'editor' | 'viewer' | null;
