/**
 * The `EventStore` contract: the one plug point for storage media. Implementations: memory,
 * SQLite, fs segments, IndexedDB. Every one passes `test/conformance/event-store`.
 *
 * A store holds the canonical bytes and signatures of *authentic* events (validation happens in
 * `src/log` before anything reaches a store) plus the few indexed fields it needs to answer
 * queries without decoding. It never decodes events and knows nothing of the sync protocol.
 */

/** Brand for `isEventStore`: works across two copies of the package in one app. */
export const eventStoreSymbol: unique symbol = Symbol.for('stateflow/event-store') as never

/** A position in a log's total order. Events sort ascending by `(clock, cid bytes)`. */
export interface OrderPosition {
  clock: number
  cid: Uint8Array
}

/** An event as a store keeps and returns it. */
export interface StoredEvent {
  /** CID bytes (CIDv1, dag-cbor, sha2-256) of `bytes`. */
  cid: Uint8Array
  /** The canonical DAG-CBOR encoding of the event. */
  bytes: Uint8Array
  /** Ed25519 signature, present on events that carried one (batch signing signs only the last). */
  sig?: Uint8Array
  /** The log the event is stored under (for a genesis event: `log:<its CID>`). */
  log: string
  /** The author's 32-byte Ed25519 public key. */
  author: Uint8Array
  /** The author's sequence number in this log. */
  seq: number
  /** The event's logical clock: the first key of the total order. */
  clock: number
}

/** What a writer hands to `putBatch`: the stored fields plus the links that maintain heads and tips. */
export interface EventPut extends StoredEvent {
  /** The author's previous event (null at seq 1). It stops being an author tip. */
  prev: Uint8Array | null
  /** The heads the author had seen. They stop being heads. */
  parents: Uint8Array[]
}

export interface ScanOptions {
  /** Return only events strictly after this position. Omit to start at the beginning. */
  after?: OrderPosition
  /**
   * At most this many events per call; page on with the last event's position.
   * @default 1024
   */
  limit?: number
}

export interface AuthorScanOptions {
  /** Return events with `seq >= fromSeq`. @default 1 */
  fromSeq?: number
  /** At most this many events per call. @default 1024 */
  limit?: number
}

export interface EventStore {
  readonly [eventStoreSymbol]: true
  /** Short name of the medium: `memory`, `sqlite`, `fs`, `indexeddb`. */
  readonly kind: string
  /** Whether a reopen of the same location keeps what was written. */
  readonly durable: boolean

  /**
   * Store a batch atomically: after it resolves every event is stored (and durable, for a durable
   * store); if it rejects, none is. Events whose CID is already stored are skipped. Events must
   * come in a topological order (the log's total order is one); an event's `prev` and `parents`
   * that are stored stop being tips and heads.
   */
  putBatch(events: readonly EventPut[]): Promise<void>
  /** The event with this CID in any log, or undefined. */
  get(cid: Uint8Array): Promise<StoredEvent | undefined>
  /** Whether an event with this CID is stored. */
  has(cid: Uint8Array): Promise<boolean>
  /** CIDs of the log's heads (events nothing stored links to), sorted by bytes. */
  heads(log: string): Promise<Uint8Array[]>
  /** CIDs of the log's author tips (events no event of the same author names as `prev`), sorted by bytes. */
  tips(log: string): Promise<Uint8Array[]>
  /** One page of the log in total order `(clock, cid bytes)`. */
  scan(log: string, options?: ScanOptions): Promise<StoredEvent[]>
  /** One page of one author's events ascending by `(seq, cid bytes)`; a forked author has two at a seq. */
  byAuthor(log: string, author: Uint8Array, options?: AuthorScanOptions): Promise<StoredEvent[]>
  /** How many events the log holds. */
  count(log: string): Promise<number>
  /** Every log id with at least one event, sorted. */
  logs(): Promise<string[]>
  /** The small key-value space for view checkpoints, identities and other bookkeeping. */
  getMeta(key: string): Promise<Uint8Array | undefined>
  putMeta(key: string, value: Uint8Array): Promise<void>
  deleteMeta(key: string): Promise<void>
  /** Release the medium. Idempotent; every later call rejects with `CLOSED`. */
  close(): Promise<void>
}

export function isEventStore(value: unknown): value is EventStore {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[eventStoreSymbol] === true
}

/** The default page size of `scan` and `byAuthor`. */
export const DEFAULT_PAGE = 1024
