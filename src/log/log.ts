/**
 * `Log`: one log of a client. Appends sign and store local events; `ingest` takes events from
 * elsewhere, validates them (DESIGN §3) and stores what is authentic and authorized.
 *
 * - Appends and ingests of one log run one at a time (a promise-chain mutex), so heads, seqs and
 *   clocks are always computed from a consistent state.
 * - Nothing reaches the store unless the whole batch validated; a rejected event leaves heads and
 *   contents exactly as before. In-memory state changes only after the store acknowledged.
 * - Events whose prev or parents are missing, or that no signature covers yet, wait in a pending
 *   buffer bounded per peer and enter as soon as what they wait for arrives.
 */
import { CID } from 'multiformats/cid'
import { bytesKey, keyBytes, compareBytes } from '../dag/bytes.js'
import { compareEvents } from '../dag/order.js'
import { PendingBuffer } from '../dag/pending.js'
import type { EventPut, EventStore, StoredEvent, OrderPosition } from '../stores/event-store.js'
import {
  DEFAULT_MAX_EVENT_BYTES,
  GENESIS_TYPE,
  MAX_PARENTS,
  decodeEvent,
  encodeEvent,
  eventCidFromBytes,
  DecodeReuse,
  signingMessage,
  isEventCid,
  type DecodedEvent,
  type DecodeOptions,
  type SignedEvent,
} from './codec.js'
import {
  ClockError,
  ClosedError,
  DecodeError,
  FutureError,
  InvalidArgumentError,
  NotFoundError,
  ParentLogError,
  PendingOverflowError,
  SeqError,
  SignatureError,
  StateFlowError,
  UnauthorizedError,
  type ErrorCode,
} from './errors.js'
import { MEMBERS_ADD, MEMBERS_REMOVE, membersBody } from './event-types.js'
import { authorizationProblem, isGenesisBody, isMembersBody, type MembershipState } from './membership.js'
import { LogIndex, metaOf, type EventMeta } from './log-index.js'
import { publicKeyToDid, type Identity } from './identity.js'

/** A decoded event of a log, with its signature if it carried one. */
export interface LogEvent<B = unknown> extends DecodedEvent<B> {
  sig?: Uint8Array
}

/**
 * What the views layer provides a log (it sits above this one, so it plugs in): the folded state
 * of a named view, and its snapshots as they change. @internal
 */
export interface LogViews {
  names(): string[]
  snapshot(name: string): Promise<unknown>
  observe(name: string): AsyncIterable<unknown>
  /** Present when a registered view holds documents (`docView`). */
  doc?(id: string): Promise<unknown>
  changeDoc?(id: string, fn: (doc: any) => void): Promise<LogEvent | undefined>
}

/** A log's heads and version vector in raw bytes, as the sync protocol carries them. */
export interface SyncState {
  heads: Uint8Array[]
  authors: { key: Uint8Array; seq: number; tips: Uint8Array[] }[]
}

/** Signed evidence that an author equivocated: two events at one seq. */
export interface LogFork {
  author: string
  seq: number
  a: CID
  b: CID
}

export type IngestStatus = 'stored' | 'duplicate' | 'pending' | 'rejected'

export interface IngestResult {
  status: IngestStatus
  /** The event's CID, when its bytes decoded. */
  cid?: CID
  /** Why it was rejected. */
  code?: ErrorCode
  error?: StateFlowError
}

export interface IngestOptions {
  /** Who sent the events: the pending buffer is bounded per sender. @default 'local' */
  from?: string
}

export interface EventsOptions {
  /** Start after this event (a CID) or position; omit for the beginning. */
  after?: CID | OrderPosition
  /** Events decoded per store page. @default 1024 */
  pageSize?: number
}

export interface LogInit {
  store: EventStore
  identity: Identity
  now: () => number
  /** @default 1 MiB */
  maxEventBytes?: number
  /** An event whose time is further ahead of `now()` is `FUTURE`. @default 300000 (5 min) */
  maxClockSkewMs?: number
  /** Pending events held per sending peer; past it, `PENDING_OVERFLOW`. @default 16384 */
  pendingPerPeer?: number
  /** Event metadata kept in memory per log (links of new events are almost always recent). @default 16384 */
  metaCacheSize?: number
}

/** An author signs at least every this many events (DESIGN §3). */
export const MAX_UNSIGNED_RUN = 256

interface Candidate {
  key: string
  event: LogEvent
  meta: EventMeta
  authentic: boolean
  slot: number
  /** Who sent it first (the ingest's `from`). */
  from: string
}

/**
 * Called with each newly stored event and where it came from: `'local'` for this node's own
 * appends, otherwise the `from` of the ingest that brought it (the sync layer passes the peer's
 * did, so it never echoes an event back to the peer that sent it).
 */
export type LogListener = (event: LogEvent, origin: string) => void
type Listener = LogListener

export class Log {
  readonly id: string
  private readonly store: EventStore
  private readonly identity: Identity
  private readonly now: () => number
  private readonly maxEventBytes: number
  private readonly maxSkew: number
  private readonly index: LogIndex
  private readonly pending: PendingBuffer<Candidate>
  private readonly listeners = new Set<Listener>()
  private readonly me: string
  private queue: Promise<unknown> = Promise.resolve()
  private loaded: Promise<void> | undefined
  private closed = false

  constructor(id: string, init: LogInit) {
    if (typeof id !== 'string' || id.length === 0) throw new InvalidArgumentError('a log id is a non-empty string')
    if (new TextEncoder().encode(id).length > 256) throw new InvalidArgumentError('a log id is at most 256 UTF-8 bytes')
    if (id.startsWith('log:')) {
      try {
        if (!isEventCid(eventCidFromString(id.slice(4)))) throw new Error('not an event CID')
      } catch {
        throw new InvalidArgumentError(`'log:' ids name a genesis event CID: ${id.slice(0, 80)}`)
      }
    }
    this.id = id
    this.store = init.store
    this.identity = init.identity
    this.now = init.now
    this.maxEventBytes = init.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES
    this.maxSkew = init.maxClockSkewMs ?? 300_000
    this.index = new LogIndex(id, init.store, init.metaCacheSize ?? 16_384)
    this.pending = new PendingBuffer(init.pendingPerPeer ?? 16_384)
    this.me = bytesKey(init.identity.publicKey)
  }

  // --- serialization and lifecycle ---------------------------------------------------------

  private run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ClosedError(`log ${this.id}`))
    const next = this.queue.then(async () => {
      if (this.closed) throw new ClosedError(`log ${this.id}`)
      if (!this.loaded) this.loaded = this.index.load(this.maxEventBytes)
      await this.loaded
      return fn()
    })
    this.queue = next.catch(() => undefined)
    return next
  }

  private views: LogViews | undefined

  /** Plug in the views layer (the client does this for views it was given). @internal */
  attachViews(views: LogViews): void {
    this.views = views
  }

  /** Names of the views registered on this log's client (`createXSync({ views })`). */
  viewNames(): string[] {
    return this.views ? this.views.names() : []
  }

  private viewsFor(name: string): LogViews {
    if (this.closed) throw new ClosedError(`log ${this.id}`)
    if (!this.views || !this.views.names().includes(name)) {
      throw new NotFoundError(`no view named ${JSON.stringify(name).slice(0, 80)} on this client (views: ${this.views?.names().join(', ') || 'none'}); register it with createXSync({ views })`)
    }
    return this.views
  }

  /**
   * The current state of a registered view, folded over every event stored so far, with its
   * position and the stable prefix (a `ViewSnapshot` of the views layer).
   */
  async view<T = unknown>(name: string): Promise<T> {
    return (await this.viewsFor(name).snapshot(name)) as T
  }

  /** A copy of document `docId`, folded by the registered document view (`docView` of `stateflow/docs`). */
  async doc<T = unknown>(docId: string): Promise<T | undefined> {
    const v = this.docViews()
    return (await v.doc!(docId)) as T | undefined
  }

  /** Change document `docId` with `fn` and append the change as an event; undefined if nothing changed. */
  changeDoc<T = any>(docId: string, fn: (doc: T) => void): Promise<LogEvent | undefined> {
    try {
      return this.docViews().changeDoc!(docId, fn)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  private docViews(): LogViews {
    if (this.closed) throw new ClosedError(`log ${this.id}`)
    if (!this.views?.doc || !this.views.changeDoc) {
      throw new NotFoundError('no document view on this client: register docView() from stateflow/docs with createXSync({ views })')
    }
    return this.views
  }

  /** Snapshots of a registered view as it changes: the current one first. */
  observe<T = unknown>(name: string): AsyncIterable<T> {
    return this.viewsFor(name).observe(name) as AsyncIterable<T>
  }

  /** Stop accepting calls; queued calls reject with `CLOSED`. Idempotent. */
  async close(): Promise<void> {
    this.closed = true
    this.listeners.clear()
    this.pending.clear()
    await this.queue
  }

  // --- reading -------------------------------------------------------------------------------

  /** Head CIDs, sorted by bytes. */
  heads(): Promise<CID[]> {
    return this.run(async () => [...this.index.headCids()])
  }

  /** The event with this CID, if this log holds it. */
  async get(cid: CID | string): Promise<LogEvent | undefined> {
    if (this.closed) throw new ClosedError(`log ${this.id}`)
    const bytes = typeof cid === 'string' ? eventCidFromString(cid).bytes : cid.bytes
    const s = await this.store.get(bytes)
    return s && s.log === this.id ? this.toLogEvent(s) : undefined
  }

  /** How many events the log holds. */
  count(): Promise<number> {
    if (this.closed) return Promise.reject(new ClosedError(`log ${this.id}`))
    return this.store.count(this.id)
  }

  /** Every event in total order (clock, CID bytes), from the beginning or after a position. */
  async *events(options: EventsOptions = {}): AsyncGenerator<LogEvent> {
    for await (const page of this.pages(options)) for (const e of page) yield e
  }

  /**
   * `events()` a page at a time: one await per page instead of one per event, for readers that
   * fold whole logs (view hosts). @internal
   */
  async *pages(options: EventsOptions = {}): AsyncGenerator<LogEvent[]> {
    const limit = options.pageSize ?? 1024
    // Events of one page share the author bytes they have in common and build their links only
    // when read (views rarely read them); one options object serves every decode (only knownCid
    // and maxBytes change).
    const decode: DecodeOptions = { maxBytes: 0, knownCid: undefined, knownAuthor: undefined, reuse: new DecodeReuse(), lazyLinks: true }
    let after: OrderPosition | undefined
    if (options.after !== undefined) {
      if ('clock' in options.after && typeof options.after.clock === 'number') after = options.after as OrderPosition
      else {
        const s = await this.store.get((options.after as CID).bytes)
        if (!s) throw new InvalidArgumentError('events({ after }) names an event this log does not hold')
        after = s
      }
    }
    for (;;) {
      if (this.closed) throw new ClosedError(`log ${this.id}`)
      const page = await this.store.scan(this.id, after ? { after, limit } : { limit })
      const out = new Array<LogEvent>(page.length)
      for (let i = 0; i < page.length; i++) out[i] = this.toLogEvent(page[i], decode)
      if (out.length > 0) yield out
      if (page.length < limit) return
      after = page[page.length - 1]
    }
  }

  /** Call `fn` with every event this log stores from now on (appended or ingested), in storage order. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** Forks seen so far: two authentic events by one author (a did) at one seq, CIDs sorted by bytes. */
  forks(): Promise<LogFork[]> {
    return this.run(async () =>
      this.index.forks.map((f) => ({ author: publicKeyToDid(keyBytes(f.author)), seq: f.seq, a: eventCidFromBytes(f.a), b: eventCidFromBytes(f.b) })),
    )
  }

  /** Per author did, the highest seq held. */
  versionVector(): Promise<Map<string, number>> {
    return this.run(async () => new Map([...this.index.authors].map(([a, s]) => [publicKeyToDid(keyBytes(a)), s.seq])))
  }

  /**
   * What the sync protocol says about this log: its heads and, per author (raw public key), the
   * highest seq and the chain tips (more than one when the author forked). @internal
   */
  syncState(): Promise<SyncState> {
    return this.run(async () => ({
      heads: [...this.index.heads.values()].map((m) => m.cid).sort(compareBytes),
      authors: [...this.index.authors.values()].map((a) => {
        const tips = [...a.tips.values()]
        return { key: tips[0].authorBytes, seq: a.seq, tips: tips.map((m) => m.cid).sort(compareBytes) }
      }),
    }))
  }

  /** For `log:` logs, membership as of the current heads; undefined for open string logs. */
  membership(): Promise<MembershipState | undefined> {
    return this.run(async () => this.index.currentMembership())
  }

  /** How many events wait in the pending buffer. */
  get pendingCount(): number {
    return this.pending.size
  }

  private toLogEvent(s: StoredEvent, options: DecodeOptions = {}): LogEvent {
    // The store holds only events validated on the way in, under the CID they were checked by.
    options.maxBytes = Math.max(this.maxEventBytes, s.bytes.length)
    options.knownCid = s.cid
    options.knownAuthor = s.author
    const d = decodeEvent(s.bytes, options) as LogEvent
    if (s.sig) d.sig = s.sig
    return d
  }

  // --- writing -------------------------------------------------------------------------------

  /** Append one signed event. */
  async append<B>(type: string, body: B): Promise<LogEvent<B>> {
    const [e] = await this.appendBatch([{ type, body }])
    return e as LogEvent<B>
  }

  /**
   * Append a chain of events with one signature on the last (and one at least every 256), so a
   * batch costs one sign plus one hash per event.
   */
  appendBatch(items: readonly { type: string; body: unknown }[]): Promise<LogEvent[]> {
    if (!Array.isArray(items) || items.length === 0) return Promise.reject(new InvalidArgumentError('appendBatch takes a non-empty array'))
    for (const it of items) {
      if (typeof it?.type !== 'string' || it.type.length === 0) return Promise.reject(new InvalidArgumentError('every event needs a non-empty type'))
      if (it.type === GENESIS_TYPE) return Promise.reject(new InvalidArgumentError('use createLog() to create a log with a genesis'))
    }
    return this.run(() => this.appendLocked(items))
  }

  /** Append the genesis of a `log:` log (called by the client's createLog). @internal */
  appendGenesis(event: LogEvent): Promise<void> {
    return this.run(async () => {
      const meta = metaOf(event)
      const staged = new Map<string, EventMeta>()
      const problem = this.admit(meta, event, staged)
      if (problem) throw problem
      await this.commit([{ meta, event }])
    })
  }

  private async appendLocked(items: readonly { type: string; body: unknown }[]): Promise<LogEvent[]> {
    const time = this.now()
    const own = this.index.authors.get(this.me)
    let prevMeta: EventMeta | undefined
    if (own) for (const t of own.tips.values()) if (!prevMeta || t.seq > prevMeta.seq) prevMeta = t
    let parents = this.index.headCids().slice(0, MAX_PARENTS)
    let clock = 1
    for (const h of this.index.heads.values()) if (h.clock >= clock) clock = h.clock + 1
    if (prevMeta && prevMeta.clock >= clock) clock = prevMeta.clock + 1
    let prev = prevMeta ? eventCidFromBytes(prevMeta.cid) : null
    let seq = (prevMeta?.seq ?? 0) + 1
    const staged = new Map<string, EventMeta>()
    const out: { meta: EventMeta; event: LogEvent }[] = []
    for (let i = 0; i < items.length; i++) {
      const it = items[i]
      const author = this.identity.publicKey
      const { bytes, cid } = encodeEvent({ v: 1, log: this.id, author, seq, prev, parents, clock, time, type: it.type, body: it.body })
      if (bytes.length > this.maxEventBytes) {
        throw new StateFlowError('TOO_LARGE', `event ${i} is ${bytes.length} bytes, more than ${this.maxEventBytes}`)
      }
      // A literal, not a spread: spreading the fields object was the costliest line of an append.
      // The body as every other peer will see it, decoded from the bytes: canonical key order,
      // and not the caller's object (which the caller may change after appending).
      const event: LogEvent = { v: 1, log: this.id, author, seq, prev, parents, clock, time, type: it.type, body: decodeEvent(bytes, { maxBytes: bytes.length, knownCid: cid.bytes }).body, cid, bytes }
      const meta = metaOf(event)
      const problem = this.admit(meta, event, staged)
      if (problem) throw problem
      staged.set(meta.key, meta)
      out.push({ meta, event })
      prev = cid
      parents = [cid]
      clock += 1
      seq += 1
    }
    // Sign the last event, and one in every MAX_UNSIGNED_RUN before it.
    for (let i = out.length - 1; i >= 0; i -= MAX_UNSIGNED_RUN) {
      const msg = signingMessage(out[i].event.cid)
      out[i].event.sig = this.identity.signSync ? this.identity.signSync(msg) : await this.identity.sign(msg)
    }
    await this.commit(out)
    return out.map((o) => o.event)
  }

  /** Add writers or admins (signed by an admin of this `log:` log). */
  addMembers(change: { writers?: string[]; admins?: string[] }): Promise<LogEvent> {
    return this.membershipChange(MEMBERS_ADD, change)
  }

  /** Remove writers or admins (signed by an admin of this `log:` log). */
  removeMembers(change: { writers?: string[]; admins?: string[] }): Promise<LogEvent> {
    return this.membershipChange(MEMBERS_REMOVE, change)
  }

  private membershipChange(type: string, change: { writers?: string[]; admins?: string[] }): Promise<LogEvent> {
    if (!this.id.startsWith('log:')) return Promise.reject(new InvalidArgumentError('membership applies to logs made by createLog()'))
    const body = membersBody(change)
    if (!isMembersBody(body)) return Promise.reject(new InvalidArgumentError('members are did:key strings'))
    return this.run(async () => (await this.appendLocked([{ type, body }]))[0])
  }

  // --- validation shared by append and ingest ----------------------------------------------

  /**
   * Check an authentic event whose prev and parents are all present (in the store, or staged
   * earlier in this batch). Returns the error, or undefined when the event may enter the log.
   */
  private admit(meta: EventMeta, event: LogEvent, staged: Map<string, EventMeta>, fetched?: Map<string, EventMeta>): StateFlowError | undefined {
    const look = (k: string): EventMeta | undefined => staged.get(k) ?? fetched?.get(k) ?? this.index.cached(k)
    const isGenesis = event.type === GENESIS_TYPE
    if (isGenesis) {
      if (this.id !== `log:${event.cid.toString()}`) return new ParentLogError(`a genesis event belongs to log:${event.cid.toString()}, not ${this.id}`)
      if (event.log !== '') return new DecodeError('a genesis event has an empty log field')
      if (!isGenesisBody(event.body)) return new DecodeError('genesis body must be { policy, admins, writers, nonce }')
      if (event.seq !== 1 || event.prev !== null || event.parents.length !== 0) return new SeqError('a genesis event has seq 1 and no links')
    } else if (event.log !== this.id) {
      return new InvalidArgumentError(`event belongs to log ${event.log.slice(0, 80)}, not ${this.id.slice(0, 80)}`)
    }
    let maxClock = 0
    let prevMeta: EventMeta | undefined
    if (event.seq === 1) {
      if (meta.prev !== null) return new SeqError('seq 1 must have prev null')
    } else {
      if (meta.prev === null) return new SeqError(`seq ${event.seq} needs a prev`)
      prevMeta = look(meta.prev)
      if (!prevMeta) return new SeqError('prev is missing') // callers only admit complete events
      if (prevMeta.foreignLog !== undefined) return new SeqError('prev is in another log')
      if (prevMeta.author !== meta.author) return new SeqError('prev is by another author')
      if (prevMeta.seq !== event.seq - 1) return new SeqError(`seq ${event.seq} does not follow prev seq ${prevMeta.seq}`)
      maxClock = prevMeta.clock
    }
    const links: EventMeta[] = prevMeta ? [prevMeta] : []
    for (const p of meta.parents) {
      const pm = look(p)
      if (!pm) return new ParentLogError('parent is missing')
      if (pm.foreignLog !== undefined) return new ParentLogError(`parent ${p.slice(0, 16)}… is in log ${pm.foreignLog.slice(0, 80)}`)
      if (pm.clock > maxClock) maxClock = pm.clock
      links.push(pm)
    }
    if (event.clock !== maxClock + 1) return new ClockError(`clock is ${event.clock}, must be ${maxClock + 1}`)
    if (this.index.certified) {
      meta.mset = this.index.msetFor(meta, links)
      if (!isGenesis) {
        // Authorization looks at the causal past *before* this event.
        const pastSet = this.index.msetFor({ ...meta, type: '' }, links)
        const problem = authorizationProblem(this.index.stateOf(pastSet), publicKeyToDid(event.author), event.type)
        if (problem) return new UnauthorizedError(problem)
        if ((event.type === MEMBERS_ADD || event.type === MEMBERS_REMOVE) && !isMembersBody(event.body)) {
          return new DecodeError('membership body must be { writers: did[], admins: did[] }')
        }
      }
      this.index.registerMembership(meta, event.body)
    }
    return undefined
  }

  /** Store a validated batch, then update memory and tell subscribers. */
  private async commit(batch: readonly { meta: EventMeta; event: LogEvent; from?: string }[]): Promise<void> {
    if (batch.length === 0) return
    const puts: EventPut[] = batch.map(({ event }) => {
      const p: EventPut = {
        cid: event.cid.bytes,
        bytes: event.bytes,
        log: this.id,
        author: event.author,
        seq: event.seq,
        clock: event.clock,
        prev: event.prev?.bytes ?? null,
        parents: event.parents.map((c) => c.bytes),
      }
      if (event.sig) p.sig = event.sig
      return p
    })
    await this.store.putBatch(puts)
    // An author already at or past this seq (stored, or earlier in this batch) has forked.
    const batchSeq = new Map<string, number>()
    const forked: EventMeta[] = []
    for (const { meta, event } of batch) {
      const seen = Math.max(this.index.authors.get(meta.author)?.seq ?? 0, batchSeq.get(meta.author) ?? 0)
      if (seen >= meta.seq) forked.push(meta)
      if (meta.seq > (batchSeq.get(meta.author) ?? 0)) batchSeq.set(meta.author, meta.seq)
      this.index.addMembership(meta, event.body)
    }
    this.index.commit(batch.map((b) => b.meta))
    for (const meta of forked) await this.recordFork(meta)
    for (const { event, from } of batch) {
      for (const fn of this.listeners) {
        try {
          fn(event, from ?? 'local')
        } catch (err) {
          // A failing subscriber must not break the log; surface it where global handlers see it.
          setTimeout(() => {
            throw err
          })
        }
      }
    }
  }

  /** Find the other event at a forked seq (rare: only equivocating authors pay for it). */
  private async recordFork(meta: EventMeta): Promise<void> {
    const same = await this.store.byAuthor(this.id, meta.authorBytes, { fromSeq: meta.seq, limit: 8 })
    for (const other of same) {
      if (other.seq !== meta.seq || bytesKey(other.cid) === meta.key) continue
      const [a, b] = compareBytes(other.cid, meta.cid) < 0 ? [other.cid, meta.cid] : [meta.cid, other.cid]
      const known = this.index.forks.some((f) => f.author === meta.author && f.seq === meta.seq && bytesKey(f.a) === bytesKey(a) && bytesKey(f.b) === bytesKey(b))
      if (!known) this.index.forks.push({ author: meta.author, seq: meta.seq, a, b })
    }
  }

  // --- ingest --------------------------------------------------------------------------------

  /**
   * Take events from elsewhere. Each gets a result: `stored`, `duplicate`, `pending` (waiting
   * for a missing prev/parent or for a signature that covers it) or `rejected` with a code.
   * Rejected events change nothing that is stored.
   */
  ingest(events: readonly SignedEvent[], options: IngestOptions = {}): Promise<IngestResult[]> {
    if (!Array.isArray(events)) return Promise.reject(new InvalidArgumentError('ingest takes an array of { bytes, sig? }'))
    return this.run(() => this.ingestLocked(events, options.from ?? 'local'))
  }

  private async ingestLocked(input: readonly SignedEvent[], from: string): Promise<IngestResult[]> {
    const results: IngestResult[] = new Array(input.length)
    const candidates = new Map<string, Candidate>()
    const reject = (slot: number, error: StateFlowError, cid?: CID): void => {
      if (slot >= 0) results[slot] = { status: 'rejected', code: error.code, error, ...(cid ? { cid } : {}) }
    }
    const horizon = this.now() + this.maxSkew

    // 1. Decode, bound, check the time; events already pending join in with their new copy.
    for (let i = 0; i < input.length; i++) {
      const item = input[i]
      if (typeof item !== 'object' || item === null || !(item.bytes instanceof Uint8Array) || (item.sig !== undefined && !(item.sig instanceof Uint8Array))) {
        reject(i, new DecodeError('expected { bytes: Uint8Array, sig?: Uint8Array }'))
        continue
      }
      let event: LogEvent
      try {
        event = decodeEvent(item.bytes, { maxBytes: this.maxEventBytes })
      } catch (err) {
        reject(i, err as StateFlowError)
        continue
      }
      if (item.sig !== undefined) event.sig = item.sig
      if (event.log !== this.id && !(event.log === '' && event.type === GENESIS_TYPE)) {
        reject(i, new InvalidArgumentError(`event belongs to log ${event.log.slice(0, 80)}, not ${this.id.slice(0, 80)}`), event.cid)
        continue
      }
      if (event.time > horizon) {
        reject(i, new FutureError(`event time ${event.time} is more than ${this.maxSkew} ms ahead`), event.cid)
        continue
      }
      const key = bytesKey(event.cid.bytes)
      const known = candidates.get(key) ?? this.pending.get(key)?.value
      if (known) {
        if (event.sig && !known.event.sig) known.event.sig = event.sig
        results[i] = { status: 'duplicate', cid: event.cid }
        if (!candidates.has(key)) candidates.set(key, known)
        if (known.slot < 0) known.slot = i
        continue
      }
      candidates.set(key, { key, event, meta: metaOf(event, key), authentic: false, slot: i, from })
    }
    // Already stored: a duplicate, nothing to do.
    // Already stored: a duplicate, nothing to do. An event past its author's highest known seq
    // cannot be stored yet, so only the others cost a store lookup.
    for (const [k, c] of [...candidates]) {
      let held = this.index.cached(k) !== undefined
      if (!held) {
        const a = this.index.authors.get(c.meta.author)
        held = a !== undefined && c.meta.seq <= a.seq && (await this.store.has(keyBytes(k)))
      }
      if (!held) continue
      if (c.slot >= 0) results[c.slot] = { status: 'duplicate', cid: c.event.cid }
      candidates.delete(k)
      this.pending.remove(k)
    }

    // 2. Signatures, all verified at once (the native backend spreads them over every core).
    const signed = [...candidates.values()].filter((c) => c.event.sig !== undefined && !c.authentic)
    const verdicts = await Promise.all(signed.map((c) => this.identity.backend.verify(c.event.author, signingMessage(c.event.cid), c.event.sig!)))
    for (let i = 0; i < signed.length; i++) {
      const c = signed[i]
      if (verdicts[i]) c.authentic = true
      else {
        reject(c.slot, new SignatureError('signature does not verify under the author key'), c.event.cid)
        candidates.delete(c.key)
        this.pending.remove(c.key)
      }
    }

    // 3. What this batch can move: the new events, the pending chain segments a new signature
    //    covers, and (transitively) the pending events that waited on any of them.
    const relevant = new Map(candidates)
    const frontier = [...relevant.keys()]
    const include = (c: Candidate): void => {
      if (relevant.has(c.key)) return
      relevant.set(c.key, c)
      frontier.push(c.key)
    }
    for (;;) {
      while (frontier.length > 0) for (const w of this.pending.waitingOn(frontier.pop()!)) include(w.value)
      let grew = false
      for (const c of [...relevant.values()]) {
        if (!c.authentic) continue
        let cur = c
        while (cur.meta.prev !== null) {
          const p = relevant.get(cur.meta.prev) ?? this.pending.get(cur.meta.prev)?.value
          if (!p || p.authentic || p.meta.author !== cur.meta.author || p.meta.seq !== cur.meta.seq - 1) break
          p.authentic = true
          if (!relevant.has(p.key)) {
            include(p)
            grew = true
          }
          cur = p
        }
      }
      if (!grew && frontier.length === 0) break
    }

    // 4. Metadata of every link outside the batch, fetched once.
    const fetched = new Map<string, EventMeta>()
    const needed = new Set<string>()
    for (const c of relevant.values()) for (const l of linksOfMeta(c.meta)) if (!relevant.has(l) && !this.index.cached(l)) needed.add(l)
    await Promise.all(
      [...needed].map(async (k) => {
        const m = await this.index.fetch(k)
        if (m) fetched.set(k, m)
      }),
    )

    // 5. One pass in total order. The order is topological, so every in-batch ancestor of an
    //    event has been decided by the time the event comes up.
    const staged = new Map<string, EventMeta>()
    const present = (k: string): boolean => staged.has(k) || fetched.has(k) || this.index.cached(k) !== undefined
    const admitted: Candidate[] = []
    const decided = new Set<string>()
    for (const c of [...relevant.values()].filter((x) => x.authentic).sort(byOrder)) {
      if (!linksOfMeta(c.meta).every(present)) continue
      const problem = this.admit(c.meta, c.event, staged, fetched)
      decided.add(c.key)
      this.pending.remove(c.key)
      if (problem) {
        reject(c.slot, problem, c.event.cid)
        continue
      }
      staged.set(c.key, c.meta)
      admitted.push(c)
    }

    // 6. Store what was admitted (all or nothing); park the rest, bounded per sender.
    await this.commit(admitted.map((c) => ({ meta: c.meta, event: c.event, from: c.from })))
    for (const c of admitted) if (c.slot >= 0 && candidates.has(c.key)) results[c.slot] = { status: 'stored', cid: c.event.cid }
    for (const c of candidates.values()) {
      if (decided.has(c.key) || c.slot < 0) continue
      if (this.pending.has(c.key)) {
        results[c.slot] = { status: 'pending', cid: c.event.cid }
        continue
      }
      const waitsFor = linksOfMeta(c.meta).filter((l) => !present(l))
      const added = this.pending.add({ key: c.key, from, waitsFor, value: c })
      if (added === 'overflow') reject(c.slot, new PendingOverflowError(`more than ${this.pending.limit} events pending from ${from}`), c.event.cid)
      else results[c.slot] = { status: 'pending', cid: c.event.cid }
    }
    for (const c of relevant.values()) c.slot = -1
    return results
  }
}

function linksOfMeta(m: EventMeta): string[] {
  return m.prev === null || m.parents.includes(m.prev) ? m.parents : [...m.parents, m.prev]
}

/** The total order on candidates; their metas carry `clock` and `cid` bytes, as `compareEvents` wants. */
function byOrder(a: Candidate, b: Candidate): number {
  return compareEvents(a.meta, b.meta)
}

function eventCidFromString(s: string): CID {
  try {
    return CID.parse(s)
  } catch {
    throw new InvalidArgumentError(`not a CID: ${s.slice(0, 80)}`)
  }
}
