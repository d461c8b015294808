/**
 * `indexedDbStore(name)`: the durable EventStore of browsers, on IndexedDB through `idb`.
 *
 * - The factory returns at once; the database opens on first use and every method awaits it.
 * - `putBatch` is one readwrite transaction over every object store it touches. Inside it, the
 *   only awaits are on that transaction's own requests (an await on anything else would let it
 *   auto-commit half-done). Writes are issued in event order, so a later event of the batch
 *   un-heads an earlier one, as IndexedDB runs a transaction's requests in the order made.
 * - Queries are single key ranges; see `indexeddb-schema.ts` for the layout and key order.
 * - Another connection upgrading or deleting the database makes this one close and answer
 *   `CLOSED`, instead of blocking it forever.
 *
 * Browser-safe: no Node imports. Under Node, install a fake (`import 'fake-indexeddb/auto'`) and
 * optionally pass a fresh factory: `idb` needs the IndexedDB classes (`IDBRequest`, `IDBKeyRange`, …)
 * as globals of the same implementation as the factory.
 */
import { ClosedError, InvalidArgumentError } from '../errors.js'
import { toHex } from '../dag/bytes.js'
import {
  DEFAULT_PAGE,
  eventStoreSymbol,
  type AuthorScanOptions,
  type EventPut,
  type EventStore,
  type ScanOptions,
  type StoredEvent,
} from './event-store.js'
import { checkBatch } from './put-checks.js'
import { asKey, openStoreDb, ownBytes, readBytes, type EventRecord, type LogCidKey, type StoreDb } from './indexeddb-schema.js'

export interface IndexedDbStoreInit {
  /**
   * The IndexedDB factory to open the database with, e.g. a fresh `fake-indexeddb` `IDBFactory`
   * in tests. Its implementation's classes must also be the globals (see the module comment).
   * @default globalThis.indexedDB
   */
  indexedDB?: IDBFactory
  /**
   * Durability hint for write transactions. `strict` resolves `putBatch` only once the browser
   * has flushed to disk, as the EventStore contract promises; `relaxed` is faster and may lose the
   * last batches on an OS crash or power loss (not on a tab or browser crash).
   * @default 'strict'
   */
  durability?: IDBTransactionDurability
}

const PUT_STORES = ['events', 'heads', 'tips', 'logs'] as const
const HIGH: [] = []

function noop(): void {}

class IndexedDbStore implements EventStore {
  readonly [eventStoreSymbol] = true as const
  readonly kind = 'indexeddb'
  readonly durable = true
  private opening: Promise<StoreDb> | undefined
  private closedBy: string | undefined

  constructor(
    private readonly name: string,
    private readonly factory: IDBFactory,
    private readonly keyRange: typeof IDBKeyRange,
    private readonly durability: IDBTransactionDurability,
  ) {}

  private closedError(): ClosedError {
    return new ClosedError(`indexeddb store "${this.name}"${this.closedBy ?? ''}`)
  }

  /** The open database, or a rejection with `CLOSED` (or the open failure). */
  private async db(): Promise<StoreDb> {
    if (this.closedBy !== undefined) throw this.closedError()
    this.opening ??= openStoreDb(this.factory, this.name, {
      onVersionChange: () => (this.closedBy ??= ' (another connection upgraded or deleted it)'),
      onTerminated: () => (this.closedBy ??= ' (the browser closed the connection)'),
    })
    const db = await this.opening
    if (this.closedBy !== undefined) throw this.closedError()
    return db
  }

  async putBatch(events: readonly EventPut[]): Promise<void> {
    if (this.closedBy !== undefined) throw this.closedError()
    checkBatch(events)
    const db = await this.db()
    if (events.length === 0) return
    const records = events.map(toRecord)
    const tx = db.transaction(PUT_STORES, 'readwrite', { durability: this.durability })
    const done = tx.done
    const writes: Promise<unknown>[] = []
    try {
      const eventStore = tx.objectStore('events')
      const heads = tx.objectStore('heads')
      const tips = tx.objectStore('tips')
      const logStore = tx.objectStore('logs')
      const logs = [...new Set(records.map((r) => r.log))]
      const [stored, counts] = await Promise.all([
        Promise.all(records.map((r) => eventStore.getKey(r.cid))),
        Promise.all(logs.map(async (log) => [log, (await logStore.get(log)) ?? 0] as const)),
      ])
      const count = new Map(counts)
      const grown = new Set<string>()
      const fresh = new Set<string>()
      for (let i = 0; i < records.length; i++) {
        const r = records[i]
        if (stored[i] !== undefined) continue
        const key = toHex(r.cid)
        if (fresh.has(key)) continue
        fresh.add(key)
        const e = events[i]
        writes.push(eventStore.add(r))
        for (const p of e.parents) writes.push(heads.delete([r.log, asKey(p)]))
        if (e.prev !== null) {
          const prev = asKey(e.prev)
          writes.push(heads.delete([r.log, prev]), tips.delete([r.log, prev]))
        }
        writes.push(heads.put(1, [r.log, r.cid]), tips.put(1, [r.log, r.cid]))
        count.set(r.log, count.get(r.log)! + 1)
        grown.add(r.log)
      }
      for (const log of grown) writes.push(logStore.put(count.get(log)!, log))
      await Promise.all(writes)
      await done
    } catch (err) {
      // Observe every request promise, then make sure nothing of the batch commits.
      void Promise.allSettled(writes)
      done.catch(noop)
      try {
        tx.abort()
      } catch {
        // Already aborted by the failed request, or already committed.
      }
      throw err
    }
  }

  async get(cid: Uint8Array): Promise<StoredEvent | undefined> {
    const db = await this.db()
    if (!(cid instanceof Uint8Array) || cid.length === 0) return undefined
    const record = await db.get('events', asKey(cid))
    return record === undefined ? undefined : fromRecord(record)
  }

  async has(cid: Uint8Array): Promise<boolean> {
    const db = await this.db()
    if (!(cid instanceof Uint8Array) || cid.length === 0) return false
    return (await db.getKey('events', asKey(cid))) !== undefined
  }

  async heads(log: string): Promise<Uint8Array[]> {
    return this.cidsOf('heads', log)
  }

  async tips(log: string): Promise<Uint8Array[]> {
    return this.cidsOf('tips', log)
  }

  private async cidsOf(store: 'heads' | 'tips', log: string): Promise<Uint8Array[]> {
    const db = await this.db()
    const keys = await db.getAllKeys(store, this.keyRange.bound([checkLog(log)], [log, HIGH], false, true))
    return keys.map((k: LogCidKey) => readBytes(k[1], `${store} key`))
  }

  async scan(log: string, options: ScanOptions = {}): Promise<StoredEvent[]> {
    const db = await this.db()
    const limit = pageSize(options.limit)
    if (limit === 0) return []
    const after = options.after
    let lower: unknown[] = [checkLog(log)]
    if (after !== undefined) {
      if (typeof after.clock !== 'number' || Number.isNaN(after.clock) || !(after.cid instanceof Uint8Array)) {
        throw new InvalidArgumentError('scan: after must be { clock: number, cid: bytes }')
      }
      // An empty CID sorts before every real one; some IndexedDBs refuse an empty binary key.
      lower = after.cid.length === 0 ? [log, after.clock] : [log, after.clock, asKey(after.cid)]
    }
    const range = this.keyRange.bound(lower, [log, HIGH], lower.length === 3, true)
    return (await db.getAllFromIndex('events', 'order', range, limit)).map(fromRecord)
  }

  async byAuthor(log: string, author: Uint8Array, options: AuthorScanOptions = {}): Promise<StoredEvent[]> {
    const db = await this.db()
    const limit = pageSize(options.limit)
    const fromSeq = options.fromSeq ?? 1
    if (!(author instanceof Uint8Array)) throw new InvalidArgumentError('byAuthor: author must be bytes')
    if (typeof fromSeq !== 'number' || Number.isNaN(fromSeq)) throw new InvalidArgumentError('byAuthor: fromSeq must be a number')
    if (limit === 0) return []
    const range = this.keyRange.bound([checkLog(log), asKey(author), fromSeq], [log, asKey(author), HIGH], false, true)
    return (await db.getAllFromIndex('events', 'author', range, limit)).map(fromRecord)
  }

  async count(log: string): Promise<number> {
    const db = await this.db()
    return (await db.get('logs', checkLog(log))) ?? 0
  }

  async logs(): Promise<string[]> {
    const db = await this.db()
    // String keys sort by UTF-16 code units, as Array.prototype.sort does.
    return db.getAllKeys('logs')
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    const db = await this.db()
    const value = await db.get('meta', checkMetaKey(key))
    return value === undefined ? undefined : readBytes(value, `meta value "${key}"`)
  }

  async putMeta(key: string, value: Uint8Array): Promise<void> {
    const db = await this.db()
    if (!(value instanceof Uint8Array)) throw new InvalidArgumentError('putMeta: value must be bytes')
    const tx = db.transaction('meta', 'readwrite', { durability: this.durability })
    // The value is copied: the caller may reuse its array.
    await Promise.all([tx.store.put(new Uint8Array(value), checkMetaKey(key)), tx.done])
  }

  async deleteMeta(key: string): Promise<void> {
    const db = await this.db()
    const tx = db.transaction('meta', 'readwrite', { durability: this.durability })
    await Promise.all([tx.store.delete(checkMetaKey(key)), tx.done])
  }

  async close(): Promise<void> {
    if (this.closedBy === undefined) this.closedBy = ''
    const opening = this.opening
    if (opening === undefined) return
    // Pending transactions still finish: IndexedDB closes a connection once they are done.
    const db = await opening.catch(() => undefined)
    db?.close()
  }
}

function toRecord(e: EventPut): EventRecord {
  const r: EventRecord = {
    cid: ownBytes(e.cid),
    bytes: ownBytes(e.bytes),
    log: e.log,
    author: ownBytes(e.author),
    seq: e.seq,
    clock: e.clock,
  }
  if (e.sig !== undefined) r.sig = ownBytes(e.sig)
  return r
}

function fromRecord(r: EventRecord): StoredEvent {
  const e: StoredEvent = {
    cid: readBytes(r.cid, 'event cid'),
    bytes: readBytes(r.bytes, 'event bytes'),
    log: r.log,
    author: readBytes(r.author, 'event author'),
    seq: r.seq,
    clock: r.clock,
  }
  if (r.sig !== undefined) e.sig = readBytes(r.sig, 'event sig')
  return e
}

function checkLog(log: string): string {
  if (typeof log !== 'string') throw new InvalidArgumentError('log must be a string')
  return log
}

function checkMetaKey(key: string): string {
  if (typeof key !== 'string') throw new InvalidArgumentError('meta key must be a string')
  return key
}

/** `limit` as an IndexedDB count; 0 means "nothing" to us but "everything" to `getAll`. */
function pageSize(limit: number | undefined): number | undefined {
  if (limit === undefined) return DEFAULT_PAGE
  if (limit === Infinity) return undefined
  if (!Number.isInteger(limit) || limit < 0) throw new InvalidArgumentError('limit must be a non-negative integer')
  return limit > 0xffffffff ? undefined : limit
}

/**
 * A durable EventStore in the IndexedDB database `name` (created on first use, kept across
 * reopens). Throws `INVALID_ARGUMENT` at once when there is no IndexedDB to use; opening a database
 * of a newer schema, or one that is not a stateflow store, rejects every call with `CORRUPT`.
 */
export function indexedDbStore(name: string, init: IndexedDbStoreInit = {}): EventStore {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('indexedDbStore: name must be a non-empty string')
  const g = globalThis as { indexedDB?: IDBFactory; IDBKeyRange?: typeof IDBKeyRange; IDBRequest?: unknown }
  const factory = init.indexedDB ?? g.indexedDB
  if (factory === undefined || factory === null || g.IDBKeyRange === undefined || g.IDBRequest === undefined) {
    throw new InvalidArgumentError(
      'indexedDbStore: no IndexedDB in this environment (under Node, import "fake-indexeddb/auto" first)',
    )
  }
  return new IndexedDbStore(name, factory, g.IDBKeyRange, init.durability ?? 'strict')
}
