/**
 * The view host (DESIGN §7): folds one log into one view, in total order, and keeps the result
 * current as events arrive.
 *
 * - An event that sorts after the tip is applied incrementally. One that sorts earlier (a late
 *   arrival from a partitioned peer) rewinds to the nearest checkpoint before it and re-folds
 *   from there. Which case applies is decided by counting: if the events after the tip plus
 *   those folded equal the store's count, nothing arrived earlier.
 * - Checkpoints every `checkpointEvery` events, kept in memory (the newest `keepCheckpoints`);
 *   the newest one inside the stable prefix is persisted in the store's meta space, so a
 *   restarted peer folds only what came after it. Only stable checkpoints are persisted, so none
 *   needs an older one to rewind to; should an author never seen before still add an event that
 *   sorts before it, the restore's count check notices and the host folds from scratch.
 * - The events folded since the oldest in-memory checkpoint stay in memory, decoded: a rewind
 *   re-folds them (merged with the late arrivals the log handed over) without reading or
 *   decoding anything, and the incremental path folds the events in hand the same way.
 * - Copies of a state (checkpoints, snapshots) come from the view's `fork` when it has one
 *   (sharing unchanged parts), else a structured clone, else `decode(encode(state))`.
 * - Stability: every future event of an author has a clock above that author's newest event, so
 *   with `m` the least, over the authors seen, of their newest clock, no event can arrive that
 *   sorts at or before clock `m`: the prefix up to the last event of clock `m` is stable. (Judged
 *   against the authors seen so far: a writer who has never written can still add events.)
 */
import * as dagCbor from '@ipld/dag-cbor'
import { bytesKey, compareBytes, equalBytes } from '../dag/bytes.js'
import { compareEvents, type Ordered } from '../dag/order.js'
import type { EventStore } from '../stores/event-store.js'
import type { Log, LogEvent } from '../log/log.js'
import { eventCidBytes } from '../log/codec.js'
import { decodeState, encodeState, type View, type ViewPosition } from './view.js'

export interface ViewHostOptions {
  /** Events between checkpoints. @default 1000 */
  checkpointEvery?: number
  /** Checkpoints kept in memory for rewinds. @default 32 */
  keepCheckpoints?: number
}

/**
 * What `view(name)` and `observe(name)` give: a copy of the state and where it stands. Treat the
 * state as read-only: with a view's `fork`, parts of it are frozen and shared with the host.
 */
export interface ViewSnapshot<S = unknown> {
  name: string
  state: S
  /** The last event folded, or null before the first. */
  position: ViewPosition | null
  /** The stable prefix: events up to here can no longer be reordered. */
  stable: { clock: number; count: number }
  /** Log time: the largest event time folded. */
  time: number
}

interface Checkpoint {
  pos: Ordered | null
  count: number
  time: number
  /** Newest clock per author key, for stability after a restore. */
  clocks: Map<string, number>
  /** The state: a fork or structured clone (see `clone`), or its bytes (custom `encode`, no `fork`). */
  state?: unknown
  bytes?: Uint8Array
}

const META_PREFIX = 'view/'
/** Checkpoints between two writes of the persisted one (and always on close). */
const PERSIST_EVERY = 10
/** Events kept from the log's notifications between two catch-ups; past it, read the store. */
const FRESH_MAX = 65_536

const byOrder = (a: LogEvent, b: LogEvent): number => a.clock - b.clock || compareBytes(eventCidBytes(a), eventCidBytes(b))

export class ViewHost<S> {
  private state: S
  private tipPos: Ordered | null = null
  /** The last event `apply` folded, whose position `tip` makes on demand (not an object per event). */
  private tipEvent: LogEvent | undefined
  private count = 0
  private time = 0
  private clocks = new AuthorClocks()
  /** `ends[c]`: how many events have a clock ≤ c (for the stable count). */
  private ends: number[] = [0]
  private checkpoints: Checkpoint[] = []
  private persistedCount = -1
  private started: Promise<void> | undefined
  private running: Promise<void> = Promise.resolve()
  private dirty = false
  private earliest: Ordered | undefined
  /** Events stored since the last catch-up, as the log handed them over (already decoded). */
  private fresh: LogEvent[] = []
  private freshOverflow = false
  /** The events folded since the oldest in-memory checkpoint, in order: a rewind re-folds these without reading or decoding anything. */
  private recent: LogEvent[] = []
  /** The fold index of `recent[0]`. */
  private recentStart = 0
  private readonly observers = new Set<() => void>()
  private readonly every: number
  private readonly keep: number
  private unsubscribe: (() => void) | undefined
  private persisting: Promise<void> = Promise.resolve()
  /** Fold index below which the current catch-up takes no checkpoint (see catchUp). */
  private checkpointFrom = 0
  private closed = false

  constructor(
    private readonly log: Log,
    private readonly store: EventStore,
    readonly view: View<S>,
    options: ViewHostOptions = {},
  ) {
    this.state = view.initial()
    this.every = Math.max(1, options.checkpointEvery ?? 1000)
    this.keep = Math.max(1, options.keepCheckpoints ?? 32)
  }

  /** The position of the last event folded, or null before the first. */
  private get tip(): Ordered | null {
    const e = this.tipEvent
    if (e !== undefined) {
      this.tipPos = { clock: e.clock, cid: eventCidBytes(e) }
      this.tipEvent = undefined
    }
    return this.tipPos
  }

  private set tip(pos: Ordered | null) {
    this.tipPos = pos
    this.tipEvent = undefined
  }

  private get metaKey(): string {
    return `${META_PREFIX}${this.log.id}/${this.view.name}/${this.view.version}`
  }

  /** Start folding (once): restore the persisted checkpoint, catch up, then follow new events. */
  start(): Promise<void> {
    if (!this.started) {
      this.unsubscribe = this.log.subscribe((e) => this.noticed(e))
      this.started = this.enqueue(async () => {
        await this.restore()
        this.dirty = true
      })
    }
    return this.started
  }

  private noticed(e: LogEvent): void {
    const pos = { clock: e.clock, cid: e.cid.bytes }
    if (!this.earliest || compareEvents(pos, this.earliest) < 0) this.earliest = pos
    if (this.fresh.length < FRESH_MAX) this.fresh.push(e)
    else this.freshOverflow = true
    this.dirty = true
    void this.enqueue(() => this.catchUp())
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const next = this.running.then(fn)
    this.running = next.catch(() => undefined)
    return next
  }

  /** Resolves once the newest stable checkpoint so far is in the store (tests, shutdown). */
  async persisted(): Promise<void> {
    await this.settled()
    await this.persisting
  }

  /** Resolves when every event stored so far is folded. */
  async settled(): Promise<void> {
    await this.start()
    await this.enqueue(() => this.catchUp())
  }

  /** Run `fn` on the live state once every stored event is folded; `fn` must not keep or change it. */
  async read<T>(fn: (state: S) => T): Promise<T> {
    await this.settled()
    return fn(this.state)
  }

  async snapshot(): Promise<ViewSnapshot<S>> {
    await this.settled()
    return this.copy()
  }

  /** Snapshots as the state changes: the current one first; a slow reader gets the latest. */
  async *observe(): AsyncGenerator<ViewSnapshot<S>> {
    let wake: (() => void) | undefined
    let changed = true
    const poke = (): void => {
      changed = true
      wake?.()
    }
    this.observers.add(poke)
    try {
      await this.settled()
      while (!this.closed) {
        if (!changed) await new Promise<void>((r) => (wake = r))
        wake = undefined
        if (this.closed) return
        changed = false
        yield this.copy()
      }
    } finally {
      this.observers.delete(poke)
    }
  }

  private copy(): ViewSnapshot<S> {
    const last = this.tip
    return {
      name: this.view.name,
      state: this.clone(this.state, true),
      position: last ? { clock: last.clock, cid: last.cid, count: this.count } : null,
      stable: this.stable(),
      time: this.time,
    }
  }

  /**
   * A deep copy of a state: a structured clone for plain-data views (native, several times
   * faster than encoding and decoding), `decode(encode(state))` for views with their own encoding
   * (their states may hold objects a structured clone cannot copy, such as Automerge documents).
   */
  private clone(state: S, reader = false): S {
    if (this.view.fork) return this.view.fork(state, reader)
    return this.view.encode ? decodeState(this.view, encodeState(this.view, state)) : structuredClone(state)
  }

  private stable(): { clock: number; count: number } {
    const m = this.clocks.least()
    if (m === undefined) return { clock: 0, count: 0 }
    return { clock: m, count: this.ends[Math.min(m, this.ends.length - 1)] ?? 0 }
  }

  // --- folding -------------------------------------------------------------------------------

  private async catchUp(): Promise<void> {
    if (!this.dirty || this.closed) return
    this.dirty = false
    const earliest = this.earliest
    this.earliest = undefined
    const fresh = this.freshOverflow ? undefined : this.fresh.sort(byOrder)
    this.fresh = []
    this.freshOverflow = false
    const before = this.count
    const total = await this.store.count(this.log.id)
    if (total === this.count) return
    // A checkpoint the keep-limit would evict before this catch-up ends is not worth taking.
    this.checkpointFrom = total - this.keep * this.every
    if (fresh && this.fromMemory(fresh, total)) {
      // Done from the events in hand: nothing read, nothing decoded.
    } else {
      // Fold what sorts after the tip as it is read. Had something arrived that sorts before
      // the tip, the counts disagree: back to a checkpoint before it, and fold again from there.
      const from = this.count
      for await (const page of this.log.pages(this.tip ? { after: this.tip } : {})) for (const e of page) this.apply(e)
      if (this.count - from !== total - before) {
        this.rewind(earliest)
        for await (const page of this.log.pages(this.tip ? { after: this.tip } : {})) for (const e of page) this.apply(e)
      }
    }
    if (this.count !== before) {
      // Persisting encodes a whole state: off the path that makes the view current. A
      // checkpoint's state is never changed after it is taken, so encoding it later is safe.
      // A macrotask later, so readers waiting for this catch-up get their answer first.
      this.persisting = this.persisting.then(() => afterTurn()).then(() => this.persist()).catch(() => undefined)
      for (const o of this.observers) o()
    }
  }

  /**
   * Fold `fresh` (the events stored since the last catch-up, in order) without the store, when
   * they account for every event: after the tip, or, for late arrivals, merged with the folded
   * window after the checkpoint to rewind to. False when the store has to be read.
   */
  private fromMemory(fresh: LogEvent[], total: number): boolean {
    if (fresh.length === 0) return false
    if (this.tip === null || compareEvents({ clock: fresh[0].clock, cid: fresh[0].cid.bytes }, this.tip) > 0) {
      if (this.count + fresh.length !== total) return false
      for (const e of fresh) this.apply(e)
      return true
    }
    const first = { clock: fresh[0].clock, cid: fresh[0].cid.bytes }
    const cp = this.checkpointBefore(first)
    const from = cp ? cp.count : 0
    if (from < this.recentStart) return false
    const kept = this.recent.slice(from - this.recentStart)
    if (from + kept.length + fresh.length !== total) return false
    // A fresh event already folded (the store path of a previous catch-up can race the log's
    // notification) must not be folded twice: kept is in order, so a binary search finds it.
    for (const e of fresh) {
      let lo = 0
      let hi = kept.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (byOrder(kept[mid], e) < 0) lo = mid + 1
        else hi = mid
      }
      if (lo < kept.length && byOrder(kept[lo], e) === 0) return false
    }
    // Merge the kept window and the fresh events by the total order.
    const merged: LogEvent[] = new Array(kept.length + fresh.length)
    for (let i = 0, j = 0, k = 0; k < merged.length; k++) merged[k] = j >= fresh.length || (i < kept.length && byOrder(kept[i], fresh[j]) < 0) ? kept[i++] : fresh[j++]
    this.rewind(first)
    for (const e of merged) this.apply(e)
    return true
  }

  private checkpointBefore(to: Ordered): Checkpoint | undefined {
    for (let i = this.checkpoints.length - 1; i >= 0; i--) {
      const cp = this.checkpoints[i]
      if (cp.pos !== null && compareEvents(cp.pos, to) < 0) return cp
    }
    return undefined
  }

  private apply(e: LogEvent): void {
    if (e.time > this.time) this.time = e.time
    this.state = this.view.reduce(this.state, e, { log: this.log.id, time: this.time, index: this.count })
    this.count++
    // The window starts where this catch-up's first checkpoint will be: a rewind further back
    // reads the store instead of holding the whole log in memory.
    if (this.recent.length === 0 && this.count < this.checkpointFrom) this.recentStart = this.count
    else this.recent.push(e)
    this.tipEvent = e
    this.clocks.note(e.author, e.clock)
    const ends = this.ends
    while (ends.length <= e.clock) ends.push(ends[ends.length - 1])
    ends[e.clock] = this.count
    if (this.count % this.every === 0 && this.count >= this.checkpointFrom) this.checkpoint()
  }

  private checkpoint(): void {
    this.checkpoints.push({
      pos: this.tip,
      count: this.count,
      time: this.time,
      clocks: this.clocks.copy(),
      ...(this.view.encode && !this.view.fork ? { bytes: encodeState(this.view, this.state) } : { state: this.clone(this.state) }),
    })
    // Keep the newest; the oldest one inside the stable prefix is never needed once a newer
    // stable one exists, so dropping from the front is safe when the list is long.
    if (this.checkpoints.length > this.keep) this.checkpoints.shift()
    // The window only needs to reach back to the oldest checkpoint.
    const oldest = this.checkpoints[0].count
    if (oldest - this.recentStart > 2 * this.every) {
      this.recent = this.recent.slice(oldest - this.recentStart)
      this.recentStart = oldest
    }
  }

  private rewind(to: Ordered | undefined): void {
    let i = this.checkpoints.length - 1
    while (i >= 0 && to !== undefined && this.checkpoints[i].pos !== null && compareEvents(this.checkpoints[i].pos!, to) >= 0) i--
    if (to === undefined) i = -1
    const cp = i >= 0 ? this.checkpoints[i] : undefined
    this.checkpoints.length = Math.max(0, i + 1)
    if (cp) {
      this.state = cp.bytes ? decodeState(this.view, cp.bytes) : this.clone(cp.state as S)
      this.tip = cp.pos
      this.count = cp.count
      this.time = cp.time
      this.clocks = new AuthorClocks(new Map(cp.clocks))
    } else {
      this.state = this.view.initial()
      this.tip = null
      this.count = 0
      this.time = 0
      this.clocks = new AuthorClocks()
    }
    // The window keeps what precedes the restored point; the re-fold appends the rest.
    if (this.count >= this.recentStart) this.recent.length = this.count - this.recentStart
    else {
      this.recent = []
      this.recentStart = this.count
    }
    // Clock ends past the restored tip are rebuilt as the fold goes on.
    const keepTo = this.tip ? this.tip.clock : 0
    this.ends.length = keepTo + 1
    if (this.ends.length === 0) this.ends.push(0)
    this.ends[keepTo] = this.count
  }

  // --- persistence ---------------------------------------------------------------------------

  /** Persist the newest checkpoint inside the stable prefix, if it is newer than the last one. */
  private async persist(final = false): Promise<void> {
    const stable = this.stable()
    let best: Checkpoint | undefined
    for (const cp of this.checkpoints) if (cp.pos && cp.pos.clock <= stable.clock && cp.count > this.persistedCount) best = cp
    if (!best) return
    // Encoding a whole state is the costly part: while running, only when the stable prefix has
    // moved `PERSIST_EVERY` checkpoints past the last one written; on close, always.
    if (!final && this.persistedCount >= 0 && best.count - this.persistedCount < PERSIST_EVERY * this.every) return
    const record = {
      v: 1,
      count: best.count,
      time: best.time,
      clock: best.pos!.clock,
      cid: best.pos!.cid,
      clocks: [...best.clocks].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, c]) => [keyToBytes(k), c]),
      state: best.bytes ?? encodeState(this.view, best.state as S),
    }
    await this.store.putMeta(this.metaKey, dagCbor.encode(record))
    this.persistedCount = best.count
  }

  private async restore(): Promise<void> {
    const bytes = await this.store.getMeta(this.metaKey)
    if (!bytes) return
    try {
      const r = dagCbor.decode(bytes) as { v: number; count: number; time: number; clock: number; cid: Uint8Array; clocks: [Uint8Array, number][]; state: Uint8Array }
      if (r.v !== 1) return
      const state = decodeState(this.view, r.state)
      // The checkpoint's event must still be in the log (a store copied without it is not ours).
      const e = await this.store.get(r.cid)
      if (!e || e.log !== this.log.id) return
      this.state = state
      this.tip = { clock: r.clock, cid: r.cid }
      this.count = r.count
      this.time = r.time
      this.clocks = new AuthorClocks(new Map(r.clocks.map(([k, c]) => [bytesKey(k), c])))
      this.ends = new Array(r.clock + 1).fill(0)
      this.ends[r.clock] = r.count
      this.checkpoints = [{ pos: this.tip, count: r.count, time: r.time, clocks: this.clocks.copy(), bytes: r.state }]
      this.recent = []
      this.recentStart = r.count
      this.persistedCount = r.count
    } catch {
      // An unreadable checkpoint costs a fold from scratch, nothing more.
      this.state = this.view.initial()
    }
  }

  async close(): Promise<void> {
    this.closed = true
    this.unsubscribe?.()
    for (const o of this.observers) o()
    await this.running
    await this.persisting
    if (this.started) await this.persist(true).catch(() => undefined)
  }
}

/**
 * The newest clock per author key. Runs of one author's events are the common case, and decoding
 * shares their author array: the last author's key and clock are kept aside, so a run costs no
 * key and no map write per event; they reach the map when another author comes or it is read.
 */
class AuthorClocks {
  private author: Uint8Array | undefined
  private key = ''
  private clock = 0

  /** Takes `map` over: it changes as events are noted. */
  constructor(private readonly map = new Map<string, number>()) {}

  note(author: Uint8Array, clock: number): void {
    if (author !== this.author) {
      if (this.author === undefined || !equalBytes(this.author, author)) {
        this.flush()
        this.key = bytesKey(author)
        this.clock = this.map.get(this.key) ?? 0
      }
      this.author = author
    }
    if (clock > this.clock) this.clock = clock
  }

  private flush(): void {
    if (this.author !== undefined && (this.map.get(this.key) ?? 0) < this.clock) this.map.set(this.key, this.clock)
  }

  /** The least newest clock over the authors seen, or undefined before any. */
  least(): number | undefined {
    this.flush()
    if (this.map.size === 0) return undefined
    let m = Infinity
    for (const c of this.map.values()) if (c < m) m = c
    return m
  }

  copy(): Map<string, number> {
    this.flush()
    return new Map(this.map)
  }
}

/** Resolves after the current macrotask and the microtasks it queued. */
function afterTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0))
}

function keyToBytes(k: string): Uint8Array {
  const out = new Uint8Array(k.length)
  for (let i = 0; i < k.length; i++) out[i] = k.charCodeAt(i)
  return out
}
