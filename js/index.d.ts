// Type declarations for the syncore package (js/index.mjs).

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A document: a JSON object with a string id. */
export interface Doc {
  id: string;
  /** `undefined` only so interfaces with optional fields extend Doc; stored documents never hold it. */
  [field: string]: Json | undefined;
}

export type ConflictPolicy = 'lww' | 'manual' | 'custom';

/** When and where a value was written: `time` is ms since the epoch (the clock's physical part); `hlc` the
 *  whole hybrid logical clock value (above 2^53: compare stamps with it only approximately in JS). */
export interface Stamp {
  epoch: number;
  hlc: number;
  time: number;
  site: string;
}

export interface Conflict {
  id: string;
  collection: string;
  doc: string;
  field: string;
  local: { value: Json; absent: boolean; stamp: Stamp };
  remote: { value: Json; absent: boolean; stamp: Stamp };
  /** Which value is current (last writer wins chose it on every replica). */
  winner: 'local' | 'remote';
}

export interface CollectionOptions {
  /** 'lww' (default): last writer wins per field. 'manual': concurrent writes leave a conflict record. */
  conflicts?: ConflictPolicy;
  /** For conflicts: 'custom': the value to write for a conflict, or undefined to leave it for conflicts.resolve. */
  resolve?: (conflict: Conflict) => Json | undefined | Promise<Json | undefined>;
}

export interface OpenStoreOptions {
  /** Local database name (IndexedDB in browsers). */
  name: string;
  /** Node: persist in this directory. Without it (and outside a browser) the store lives in memory. */
  directory?: string;
  /** Node, with directory: each write (journal record) and each compacted state file is fsynced before the
   *  write resolves: durable against a machine crash, not only a process crash (about 2 ms a write on a
   *  typical SSD). Default false. */
  fsync?: boolean;
  /** 'auto' (default): IndexedDB in browsers, the directory if given, else memory. */
  storage?: 'auto' | 'memory' | 'indexeddb' | 'directory';
  collections?: Record<string, CollectionOptions>;
  /** Version of the app's data layout; when it grows, migrate runs once, in one transaction. */
  schemaVersion?: number;
  migrate?: (tx: Transaction, info: { from: number; to: number; store: Store }) => void | Promise<void>;
  /** Browser: how long writes wait to be batched into one IndexedDB save (ms, default 20). */
  debounceMs?: number;
  /** The relay to sync with: 'ws://127.0.0.1:8787' (omit for a local-only store). A list names relays that
   *  share one PostgreSQL: the first is used, then the next whenever one cannot be reached, is shutting
   *  down or has lost its database. */
  relay?: string | string[];
  /** The relay channel (with relay). Declared collections are the ones synced; without, all are. */
  channel?: string;
  /** A JWT, or a function returning one; asked again ({stale: true}) when the relay refuses or expires it. */
  token?: string | ((info: { stale: boolean }) => string | Promise<string>);
  /** A WebSocket class to use instead of the platform's (Node < 22: `ws` is used when omitted). */
  WebSocket?: unknown;
  /** 'auto' (default): WebSocket, falling back to HTTP (POST + Server-Sent Events) when two WebSockets
   *  in a row cannot be opened; 'websocket' or 'http' to force one. */
  transport?: 'auto' | 'websocket' | 'http';
  /** How often the client pings the relay (ms, default 15000); 2.5x as long without a frame = dead socket. */
  heartbeatMs?: number;
  /** false: open without connecting to the relay (work offline until connect()). Default true. */
  connect?: boolean;
}

export type Where = Record<
  string,
  Json | { $eq?: Json; $ne?: Json; $gt?: Json; $gte?: Json; $lt?: Json; $lte?: Json; $in?: Json[] }
>;
export type OrderBy = string | Record<string, 'asc' | 'desc'> | Array<string | Record<string, 'asc' | 'desc'>>;
export interface Query {
  where?: Where;
  orderBy?: OrderBy;
  limit?: number;
}

export interface Status {
  connected: boolean;
  synced: boolean;
  /** Local changes the relay has not acknowledged yet. */
  pending: number;
  /** Every write so far is durable (IndexedDB or the directory). */
  persisted: boolean;
  lastSyncAt: number | null;
  error: Error | null;
}

export interface ChangeEvent {
  collection: string;
  ids: string[];
  source: 'local' | 'remote' | 'tab' | 'relay';
}

export interface SnapshotInfo {
  id: string;
  label: string;
  author: string;
  createdAt: number;
  docCount: number;
  bytes: number;
}

export interface Collection<T extends Doc = Doc> {
  readonly name: string;
  put(doc: T): Promise<void>;
  update(id: string, fields: Partial<Omit<T, 'id'>>): Promise<void>;
  /** Resolves to whether the document existed. */
  delete(id: string): Promise<boolean>;
  increment(id: string, field: string, by?: number): Promise<void>;
  get(id: string): T | null;
  find(query?: Query): T[];
  count(): number;
  subscribe(query: Query | undefined, fn: (docs: T[]) => void): () => void;
  subscribe(fn: (docs: T[]) => void): () => void;
}

export interface TxCollection<T extends Doc = Doc> {
  put(doc: T): void;
  update(id: string, fields: Partial<Omit<T, 'id'>>): void;
  delete(id: string): void;
  increment(id: string, field: string, by?: number): void;
  /** Sees this transaction's own writes. */
  get(id: string): T | null;
}

export interface Transaction {
  collection<T extends Doc = Doc>(name: string): TxCollection<T>;
}

export interface Store {
  readonly name: string;
  readonly siteId: string;
  readonly status: Status;
  /** The stored data is from a newer schemaVersion than this app's: reads work, writes throw READ_ONLY. */
  readonly outdated: boolean;
  /** What opening found on disk (damage is also emitted as an 'error' event just after openStore resolves). */
  readonly openReport: { created: boolean; damaged: boolean; message: string; droppedBytes: number; records: number };
  collection<T extends Doc = Doc>(name: string): Collection<T>;
  transaction<R>(fn: (tx: Transaction) => R | Promise<R>): Promise<R>;
  /** Resolves once the relay has sent what this store lacked and acknowledged every local change. In any
   *  tab: one tab (the leader) holds the relay connection for all; status, presence, connect(),
   *  disconnect() and sync() work the same in every tab. */
  sync(): Promise<void>;
  /** Connects to the relay (after disconnect() or openStore({connect: false})). */
  connect(): void;
  /** Closes the relay connection and stops reconnecting; writes go on locally and are sent after connect(). */
  disconnect(): void;
  on(event: 'change', fn: (e: ChangeEvent) => void): () => void;
  on(event: 'status', fn: (s: Status) => void): () => void;
  /** New conflict records (from a remote change). */
  on(event: 'conflict', fn: (records: Conflict[]) => void): () => void;
  /** The open conflict records changed (new, resolved or dismissed here, or cleared from elsewhere). */
  on(event: 'conflicts', fn: (records: Conflict[]) => void): () => void;
  on(event: 'outdated', fn: (e: { stored?: number; expected?: number; relay?: boolean; message?: string }) => void): () => void;
  on(event: 'error', fn: (err: Error) => void): () => void;
  /** The other members on the relay channel changed (joined, left, or set a new state). */
  on(event: 'presence', fn: (members: Array<{ site: string; state: Json }>) => void): () => void;
  /** Who else is on the relay channel. */
  readonly presence: {
    /** Announces this member (any JSON; null leaves); sent again after every reconnection. */
    set(state: Json): void;
    list(): Array<{ site: string; state: Json }>;
  };
  readonly conflicts: {
    list(): Conflict[];
    get(id: string): Conflict | null;
    resolve(id: string, mode: 'keep_local' | 'keep_remote' | 'merge' | { value: Json }): Promise<void>;
    dismiss(id: string): Promise<void>;
  };
  readonly snapshots: {
    create(label: string, options?: { author?: string }): Promise<SnapshotInfo>;
    list(): SnapshotInfo[];
    restore(id: string): Promise<void>;
  };
  /** Low level: what a transport moves between replicas. */
  readonly replication: {
    siteId(): string;
    vector(): Record<string, Record<string, number>>;
    changesSince(
      vector?: Record<string, Record<string, number>>,
      options?: { collections?: string[]; maxBatchBytes?: number },
    ): Uint8Array[];
    /** raised: the version-vector entries [collection, site, seq] the batch raised. */
    apply(batch: Uint8Array): Promise<{ changed: [string, string][]; newConflicts: string[]; clearedConflicts: string[]; rowsApplied: number; raised: [string, string, number][] }>;
    stateHash(): string;
    encodeState(): Uint8Array;
  };
  /** Resolves once everything written so far is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function openStore(options: OpenStoreOptions): Promise<Store>;

export class SyncoreError extends Error {
  constructor(code: string, message: string);
  /** 'NOT_FOUND' | 'DECODE' | 'STORAGE' | 'CLOCK_SKEW' | 'READ_ONLY' | 'CLOSED' | 'ALREADY_OPEN' | 'INTERNAL' | ... */
  readonly code: string;
}
