/**
 * The IndexedDB layout of `indexedDbStore`, its version, and the open/upgrade handshake.
 *
 * Layout (schema version 1):
 * - `events`  key `cid` (binary)             value `EventRecord` (the StoredEvent fields)
 *   - index `order`  `[log, clock, cid]`     scan in total order: one key range from a position
 *   - index `author` `[log, author, seq, cid]` byAuthor: one key range from `[log, author, fromSeq]`
 * - `heads`   key `[log, cid]`               value 1; a log's heads are the range `[log] … [log, []]`
 * - `tips`    key `[log, cid]`               value 1; same shape as heads
 * - `logs`    key `log`                      value the log's event count
 * - `meta`    key string                     value bytes
 *
 * The key order rules this relies on (IndexedDB 3.0, "compare two keys"): Number < Date < String
 * < Binary < Array; numbers compare numerically, binary keys bytewise (shorter prefix first),
 * arrays element by element (shorter prefix first). So `[log, clock, cid]` sorts exactly as
 * `compareEvents` within a log, `[log, []]` is an upper bound above every `[log, number|binary, …]`,
 * and a heads range comes back sorted by CID bytes.
 *
 * Binary keys read back as `ArrayBuffer` and binary values as whatever was stored, so every byte
 * field crossing this boundary goes through `ownBytes` (in) and `readBytes` (out).
 */
import type { DBSchema, IDBPDatabase } from 'idb'
import { wrap } from 'idb'
import { CorruptError } from '../errors.js'

/** Bump with a migration step in `upgrade` whenever the layout above changes. */
export const SCHEMA_VERSION = 1

/** Bytes as an IndexedDB key (DOM typings only admit views over a plain `ArrayBuffer`). */
export type BinaryKey = Uint8Array<ArrayBuffer>

/** Any view is a valid binary key (IndexedDB copies its bytes); only the typings need telling. */
export function asKey(u: Uint8Array): BinaryKey {
  return u as BinaryKey
}

export interface EventRecord {
  cid: BinaryKey
  bytes: Uint8Array
  sig?: Uint8Array
  log: string
  author: BinaryKey
  seq: number
  clock: number
}

export type LogCidKey = [string, BinaryKey]

export interface StoreSchema extends DBSchema {
  events: {
    key: BinaryKey
    value: EventRecord
    indexes: {
      order: [string, number, BinaryKey]
      author: [string, BinaryKey, number, BinaryKey]
    }
  }
  heads: { key: LogCidKey; value: 1 }
  tips: { key: LogCidKey; value: 1 }
  logs: { key: string; value: number }
  meta: { key: string; value: Uint8Array }
}

export type StoreDb = IDBPDatabase<StoreSchema>

type StoreName = 'events' | 'heads' | 'tips' | 'logs' | 'meta'

/** Every object store and the indexes it must have; an open database missing one is not ours. */
const LAYOUT: Record<StoreName, string[]> = {
  events: ['order', 'author'],
  heads: [],
  tips: [],
  logs: [],
  meta: [],
}

function upgrade(db: IDBDatabase, oldVersion: number): void {
  if (oldVersion < 1) {
    const events = db.createObjectStore('events', { keyPath: 'cid' })
    events.createIndex('order', ['log', 'clock', 'cid'], { unique: true })
    events.createIndex('author', ['log', 'author', 'seq', 'cid'], { unique: true })
    db.createObjectStore('heads')
    db.createObjectStore('tips')
    db.createObjectStore('logs')
    db.createObjectStore('meta')
  }
}

export interface OpenHooks {
  /** Another connection wants to upgrade or delete the database; the handle has been closed. */
  onVersionChange(): void
  /** The browser closed the connection abnormally (storage cleared, disk error). */
  onTerminated(): void
}

/**
 * Open (creating or upgrading) the database `name` through `factory`. idb's `openDB` always uses
 * the global `indexedDB`, so this is its handshake over an injected factory.
 */
export async function openStoreDb(factory: IDBFactory, name: string, hooks: OpenHooks): Promise<StoreDb> {
  const request = factory.open(name, SCHEMA_VERSION)
  request.addEventListener('upgradeneeded', (event) => upgrade(request.result, event.oldVersion))
  let db: StoreDb
  try {
    db = (await wrap(request)) as unknown as StoreDb
  } catch (err) {
    if ((err as { name?: unknown } | null)?.name === 'VersionError') {
      throw new CorruptError(
        `IndexedDB database "${name}" has a schema version newer than ${SCHEMA_VERSION}; it was written by a newer stateflow`,
        { cause: err },
      )
    }
    throw err
  }
  const missing = missingParts(db)
  if (missing !== undefined) {
    db.close()
    throw new CorruptError(`IndexedDB database "${name}" (version ${db.version}) is not a stateflow event store: no ${missing}`)
  }
  db.addEventListener('versionchange', () => {
    // Holding on would block the other connection forever; give way and report CLOSED from now on.
    db.close()
    hooks.onVersionChange()
  })
  db.addEventListener('close', () => hooks.onTerminated())
  return db
}

function missingParts(db: StoreDb): string | undefined {
  const names = Object.keys(LAYOUT) as StoreName[]
  for (const store of names) if (!db.objectStoreNames.contains(store)) return `object store "${store}"`
  const tx = db.transaction(names, 'readonly')
  for (const store of names) {
    const indexNames = tx.objectStore(store).indexNames as DOMStringList
    for (const index of LAYOUT[store]) if (!indexNames.contains(index)) return `index "${store}.${index}"`
  }
  return undefined
}

/**
 * A plain `Uint8Array` owning exactly its bytes. Structured clone stores a view's whole underlying
 * buffer (a `subarray` of a 64 KiB frame would store 64 KiB) and turns a `Buffer` into a plain
 * array anyway, so copy whenever the input is anything else.
 */
export function ownBytes(u: Uint8Array): BinaryKey {
  if (u.constructor === Uint8Array && u.byteOffset === 0 && u.byteLength === u.buffer.byteLength && !isShared(u.buffer)) {
    return u as BinaryKey
  }
  return new Uint8Array(u)
}

function isShared(b: ArrayBufferLike): boolean {
  return Object.prototype.toString.call(b) === '[object SharedArrayBuffer]'
}

/** Bytes read back from a key (`ArrayBuffer`) or a value, as a plain `Uint8Array`. */
export function readBytes(x: unknown, what: string): Uint8Array {
  if (x instanceof Uint8Array && x.constructor === Uint8Array) return x
  // toString, not instanceof: a value from another realm (a worker, jsdom) is still an ArrayBuffer.
  if (Object.prototype.toString.call(x) === '[object ArrayBuffer]') return new Uint8Array(x as ArrayBuffer)
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength).slice()
  throw new CorruptError(`IndexedDB ${what} is not bytes`)
}
