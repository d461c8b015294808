/**
 * `memoryStore()`: the EventStore for tests and ephemeral peers. Not durable. It keeps references
 * to the byte arrays it is given (no copies): callers must not mutate them afterwards.
 */
import { ClosedError } from '../errors.js'
import { bytesKey, compareBytes, equalBytes } from '../dag/bytes.js'
import { insertOrdered, indexAfter } from '../dag/order.js'
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

interface LogIndex {
  order: StoredEvent[]
  heads: Map<string, Uint8Array>
  tips: Map<string, Uint8Array>
  byAuthor: Map<string, StoredEvent[]>
}

export interface MemoryStoreInit {}

class MemoryStore implements EventStore {
  readonly [eventStoreSymbol] = true as const
  readonly kind = 'memory'
  readonly durable = false
  private readonly events = new Map<string, StoredEvent>()
  private readonly logsById = new Map<string, LogIndex>()
  private readonly meta = new Map<string, Uint8Array>()
  private closed = false

  private check(): void {
    if (this.closed) throw new ClosedError('memory store')
  }

  private index(log: string): LogIndex {
    let idx = this.logsById.get(log)
    if (idx === undefined) {
      idx = { order: [], heads: new Map(), tips: new Map(), byAuthor: new Map() }
      this.logsById.set(log, idx)
    }
    return idx
  }

  async putBatch(events: readonly EventPut[]): Promise<void> {
    this.check()
    checkBatch(events)
    // Chains are the norm: an event's prev and its one parent are the event before it, and a
    // batch has one author. Reusing those keys saves three of the four bytesKey calls per event.
    let lastCid: Uint8Array | undefined
    let lastKey = ''
    let lastAuthor: Uint8Array | undefined
    let lastAuthorKey = ''
    const linkKey = (cid: Uint8Array): string => (lastCid !== undefined && equalBytes(cid, lastCid) ? lastKey : bytesKey(cid))
    for (const e of events) {
      const key = bytesKey(e.cid)
      if (this.events.has(key)) continue
      const stored: StoredEvent = { cid: e.cid, bytes: e.bytes, log: e.log, author: e.author, seq: e.seq, clock: e.clock }
      if (e.sig !== undefined) stored.sig = e.sig
      this.events.set(key, stored)
      const idx = this.index(e.log)
      insertOrdered(idx.order, stored)
      const pk = e.prev === null ? undefined : linkKey(e.prev)
      for (const p of e.parents) idx.heads.delete(pk !== undefined && equalBytes(p, e.prev!) ? pk : linkKey(p))
      if (pk !== undefined) {
        idx.heads.delete(pk)
        idx.tips.delete(pk)
      }
      idx.heads.set(key, e.cid)
      idx.tips.set(key, e.cid)
      lastCid = e.cid
      lastKey = key
      if (lastAuthor === undefined || !equalBytes(e.author, lastAuthor)) {
        lastAuthor = e.author
        lastAuthorKey = bytesKey(e.author)
      }
      const ak = lastAuthorKey
      let chain = idx.byAuthor.get(ak)
      if (chain === undefined) idx.byAuthor.set(ak, (chain = []))
      insertBySeq(chain, stored)
    }
  }

  async get(cid: Uint8Array): Promise<StoredEvent | undefined> {
    this.check()
    return this.events.get(bytesKey(cid))
  }

  async has(cid: Uint8Array): Promise<boolean> {
    this.check()
    return this.events.has(bytesKey(cid))
  }

  async heads(log: string): Promise<Uint8Array[]> {
    this.check()
    return [...(this.logsById.get(log)?.heads.values() ?? [])].sort(compareBytes)
  }

  async tips(log: string): Promise<Uint8Array[]> {
    this.check()
    return [...(this.logsById.get(log)?.tips.values() ?? [])].sort(compareBytes)
  }

  async scan(log: string, options: ScanOptions = {}): Promise<StoredEvent[]> {
    this.check()
    const order = this.logsById.get(log)?.order ?? []
    const from = indexAfter(order, options.after)
    return order.slice(from, from + (options.limit ?? DEFAULT_PAGE))
  }

  async byAuthor(log: string, author: Uint8Array, options: AuthorScanOptions = {}): Promise<StoredEvent[]> {
    this.check()
    const chain = this.logsById.get(log)?.byAuthor.get(bytesKey(author)) ?? []
    const fromSeq = options.fromSeq ?? 1
    let lo = 0
    let hi = chain.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (chain[mid].seq < fromSeq) lo = mid + 1
      else hi = mid
    }
    return chain.slice(lo, lo + (options.limit ?? DEFAULT_PAGE))
  }

  async count(log: string): Promise<number> {
    this.check()
    return this.logsById.get(log)?.order.length ?? 0
  }

  async logs(): Promise<string[]> {
    this.check()
    return [...this.logsById.keys()].filter((l) => this.logsById.get(l)!.order.length > 0).sort()
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    this.check()
    return this.meta.get(key)
  }

  async putMeta(key: string, value: Uint8Array): Promise<void> {
    this.check()
    this.meta.set(key, value.slice())
  }

  async deleteMeta(key: string): Promise<void> {
    this.check()
    this.meta.delete(key)
  }

  async close(): Promise<void> {
    this.closed = true
  }
}

function insertBySeq(chain: StoredEvent[], e: StoredEvent): void {
  let i = chain.length
  while (i > 0 && (chain[i - 1].seq > e.seq || (chain[i - 1].seq === e.seq && compareBytes(chain[i - 1].cid, e.cid) > 0))) i--
  chain.splice(i, 0, e)
}

/** A fresh in-memory store. */
export function memoryStore(_init: MemoryStoreInit = {}): EventStore {
  return new MemoryStore()
}

