/**
 * The replicator runs the sync protocol (DESIGN §6) for one client over any number of
 * connections. Per log and peer:
 *
 * 1. After the handshake each side sends a `have` (heads + version vector) for every log it has
 *    open. The other answers with exactly the events the sender lacks, in total order, ending
 *    with `done`. Equal heads answer at once with an empty `done`. One round trip.
 * 2. From then on, every event stored here (appended, or ingested from another peer) is pushed
 *    live to the peers interested in its log, except the one it came from.
 * 3. `sync(log)` sends a fresh `have` to every peer and resolves when all have answered. A peer
 *    that sees, from that `have`, that it lacks something sends its own in the same turn.
 *
 * Events from peers go through `Log.ingest` with the peer's did as `from`, so the pending buffer
 * is bounded per peer. Rejected events are reported back with their codes (`reject`); a peer past
 * `maxInvalidEvents` is told why and disconnected.
 */
import { ClosedError, StateFlowError } from '../../errors.js'
import type { Connection } from '../../transports/transport.js'
import type { EventStore } from '../../stores/event-store.js'
import type { Identity } from '../identity.js'
import type { Log, LogEvent } from '../log.js'
import { lacksFrom, missingEvents, wholeChain } from './missing.js'
import { didToPublicKey } from '../identity.js'
import { ProtocolError, type Events, type Have, type Reject, type WireEvent } from './messages.js'
import { Session, type Direction } from './session.js'


/** How long a relayed `have` waits on the relay's other peers. */
const RELAY_TIMEOUT_MS = 5_000
export interface SyncOptions {
  /** Which logs to serve and pull: only those opened here, or any a peer asks about. @default 'opened' */
  replicate?: 'opened' | 'all'
  /** A connection that has not authenticated by then is closed. @default 10000 */
  handshakeTimeoutMs?: number
  /** Rejected events one connection may send before it is cut. @default 100 */
  maxInvalidEvents?: number
  /** Events per `events` frame, at most (also bounded by bytes). @default 512 */
  eventsPerFrame?: number
  /** Bytes of events per frame, about. @default 512 KiB */
  bytesPerFrame?: number
  /**
   * A connection with nothing to send for this long gets a heartbeat (`ping`), and one that has
   * heard nothing for three times this long is closed as silent (a dialer then dials again).
   * Heartbeats never enter the log. 0 turns both off. @default 5000
   */
  heartbeatMs?: number
}

export interface PeerInfo {
  did: string
  /** The transport's name for the other end. */
  address: string
  transport: string
  /** Whether this side dialed (`out`) or accepted (`in`). */
  direction: Direction
  /** Logs the peer told us it holds. */
  logs: string[]
  /** When this node last heard from the peer (its own clock, ms since the epoch): local knowledge only. */
  lastSeen: number
  /** Events of the peer's that this side refused, and of ours that it refused. */
  invalidReceived: number
  rejectedByPeer: number
}

/** `sync()` did not hear back in time. */
export class SyncTimeoutError extends StateFlowError {
  constructor(message: string) {
    super('TIMEOUT', message)
    this.name = 'SyncTimeoutError'
  }
}

interface Waiter {
  session: Session
  /** The `have` whose `done` it waits for. */
  id: number
  resolve: () => void
}

export interface ReplicatorHost {
  identity: Identity
  store: EventStore
  /** The open log of this id, opening it if asked to. */
  log(id: string): Log
  isOpen(id: string): boolean
}

export class Replicator {
  private readonly sessions = new Set<Session>()
  private readonly byDid = new Map<string, Session>()
  private readonly tracked = new Map<string, () => void>()
  private readonly waiters = new Set<Waiter>()
  private readonly outbox = new Map<Session, Map<string, WireEvent[]>>()
  private flushScheduled = false
  private nextId = 1
  private closed = false
  private readonly replicateAll: boolean
  private readonly handshakeTimeoutMs: number
  private readonly maxInvalid: number
  private readonly eventsPerFrame: number
  private readonly bytesPerFrame: number
  /** Called when a peer authenticates or leaves (the client's reconnect logic listens). */
  onPeerChange: ((did: string, up: boolean, session: Session) => void) | undefined

  constructor(
    private readonly host: ReplicatorHost,
    options: SyncOptions = {},
  ) {
    this.replicateAll = options.replicate === 'all'
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000
    this.maxInvalid = options.maxInvalidEvents ?? 100
    this.eventsPerFrame = options.eventsPerFrame ?? 512
    this.bytesPerFrame = options.bytesPerFrame ?? 512 * 1024
    const beat = options.heartbeatMs ?? 5000
    if (beat > 0) {
      this.heartbeat = setInterval(() => this.beat(beat), Math.max(10, Math.floor(beat / 2)))
      // Heartbeats must not keep a process alive that has nothing else to do.
      ;(this.heartbeat as { unref?: () => void }).unref?.()
    }
  }

  private heartbeat: ReturnType<typeof setInterval> | undefined

  /** Ping idle connections; close the ones that have been silent for three heartbeats. */
  private beat(every: number): void {
    const now = Date.now()
    for (const s of this.sessions) {
      if (!s.open) continue
      if (now - s.lastHeard > 3 * every) void s.close('silent: no frame for three heartbeats')
      else if (now - s.lastSent >= every) void s.send({ t: 'ping' }).catch(() => undefined)
    }
  }

  // --- connections ---------------------------------------------------------------------------

  /** Run the protocol on a connection. The returned session authenticates on its own. */
  attach(conn: Connection, direction: Direction, transport: string): Session {
    if (this.closed) {
      void conn.close('client closed')
      throw new ClosedError('client')
    }
    const s = new Session(
      conn,
      direction,
      transport,
      this.host.identity,
      {
        authenticated: (x) => this.authenticated(x),
        have: (x, m) => this.onHave(x, m),
        events: (x, m) => this.onEvents(x, m),
        reject: (x, m) => this.onReject(x, m),
        closed: (x) => this.onClosed(x),
      },
      { handshakeTimeoutMs: this.handshakeTimeoutMs },
    )
    this.sessions.add(s)
    return s
  }

  peers(): PeerInfo[] {
    return [...this.byDid.values()].map((s) => ({
      did: s.did!,
      address: s.conn.remote,
      transport: s.transport,
      direction: s.direction,
      logs: [...s.interested].sort(),
      lastSeen: s.lastHeard,
      invalidReceived: s.invalidReceived,
      rejectedByPeer: s.rejectedByPeer,
    }))
  }

  session(did: string): Session | undefined {
    return this.byDid.get(did)
  }

  private authenticated(s: Session): boolean {
    const did = s.did!
    if (did === this.host.identity.did) return false // dialed ourselves
    const old = this.byDid.get(did)
    if (old !== undefined && old.open) {
      // Two connections to one peer (both dialed at once, or a reconnect racing a dead link).
      // Both ends must keep the same one: the one dialed by the smaller did; between two dialed
      // by the same side, the newer (the older is likely dead).
      const dialer = (x: Session): string => (x.direction === 'out' ? this.host.identity.did : did)
      const keepOld = dialer(old) !== dialer(s) && dialer(old) < dialer(s)
      if (keepOld) return false
      this.byDid.set(did, s)
      void old.close('replaced by a newer connection')
    } else this.byDid.set(did, s)
    this.onPeerChange?.(did, true, s)
    for (const id of this.tracked.keys()) void this.sendHave(s, id)
    return true
  }

  private onClosed(s: Session): void {
    this.sessions.delete(s)
    this.outbox.delete(s)
    for (const w of this.waiters) {
      if (w.session !== s) continue
      this.waiters.delete(w)
      w.resolve() // a peer that left is not one to wait for
    }
    if (s.did !== undefined && this.byDid.get(s.did) === s) {
      this.byDid.delete(s.did)
      this.onPeerChange?.(s.did, false, s)
    }
  }

  // --- logs ----------------------------------------------------------------------------------

  /** Replicate this log: push its new events, and ask every peer for what it lacks. */
  track(log: Log): void {
    if (this.tracked.has(log.id) || this.closed) return
    const off = log.subscribe((e, origin) => this.push(log.id, e, origin))
    this.tracked.set(log.id, off)
    for (const s of this.byDid.values()) void this.sendHave(s, log.id)
  }

  /** Ask `s` for what we lack of `log`. Fire and forget: a closed session or log just ends it. */
  private async sendHave(s: Session, log: string): Promise<void> {
    try {
      const id = this.nextId++
      // Marked before the state is read, so a sync() in the same turn waits for this one.
      s.asking.set(log, id)
      const state = await this.host.log(log).syncState()
      await s.send({ t: 'have', log, id, heads: state.heads, authors: state.authors })
    } catch {
      // The session or the log closed meanwhile; the next connection asks again.
    }
  }

  /**
   * Resolves when every connected peer has answered a `have` for `log` sent no earlier than this
   * call (one already on its way counts: its answer is computed when it arrives).
   */
  async sync(logId: string, timeoutMs = 30_000, relay = 0, except?: Session): Promise<void> {
    if (this.closed) throw new ClosedError('client')
    const log = this.host.log(logId)
    this.track(log)
    const peers = [...this.byDid.values()].filter((s) => s.open && s !== except)
    // A relay (except set) always asks afresh: the `have` already on its way to a peer may be our
    // own relayed one, whose answer waits on this very request (a cycle of peers).
    await Promise.all(peers.map((s) => this.ask(s, log, timeoutMs, relay, except !== undefined)))
  }

  private async ask(s: Session, log: Log, timeoutMs: number, relay = 0, forceFresh = false): Promise<void> {
    const deadline = Date.now() + timeoutMs
    // First wait on a `have` already on its way (unless this one must be relayed, or is itself
    // part of a relay); if its answer was lost, ask afresh once.
    for (let fresh = forceFresh || relay > 0 || !s.asking.has(log.id); ; fresh = true) {
      let id = s.asking.get(log.id)
      if (fresh || id === undefined) {
        id = this.nextId++
        s.asking.set(log.id, id)
        const state = await log.syncState()
        try {
          await s.send({ t: 'have', log: log.id, id, heads: state.heads, authors: state.authors, ...(relay > 0 ? { relay } : {}) })
        } catch {
          return // closed: a peer that left is not one to wait for
        }
      }
      const left = deadline - Date.now()
      const wait = fresh ? left : Math.min(left, timeoutMs / 2)
      if (await this.answered(s, id, wait)) return
      if (fresh || !s.open) {
        if (!s.open) return
        throw new SyncTimeoutError(`no answer from ${s.did} for log ${log.id.slice(0, 80)} within ${timeoutMs} ms`)
      }
    }
  }

  /** Whether `s` answers `have` number `id` within `ms` (or closes: that counts as answered). */
  private answered(s: Session, id: number, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const w: Waiter = {
        session: s,
        id,
        resolve: () => {
          clearTimeout(timer)
          this.waiters.delete(w)
          resolve(true)
        },
      }
      const timer = setTimeout(() => {
        this.waiters.delete(w)
        resolve(false)
      }, Math.max(0, ms))
      this.waiters.add(w)
    })
  }

  // --- messages ------------------------------------------------------------------------------

  private serves(log: string): boolean {
    return this.tracked.has(log) || this.replicateAll
  }

  private onHave(s: Session, m: Have): void {
    if (this.replicateAll && !this.tracked.has(m.log)) this.track(this.host.log(m.log))
    void this.answer(s, m).catch((err) => {
      if (!s.open) return
      void s.fail(err instanceof Error ? err : new ProtocolError(String(err)))
    })
  }

  /** Send what the peer lacks, then `done`; and ask back if it holds what we lack. */
  private async answer(s: Session, m: Have): Promise<void> {
    if (!this.serves(m.log)) {
      await s.send({ t: 'events', log: m.log, events: [], re: m.id, done: true })
      return
    }
    const log = this.host.log(m.log)
    if (m.relay) {
      // First what our other peers hold, so the answer covers them too (best effort: a peer that
      // does not answer in time is left out, as one that is not connected is).
      await this.sync(m.log, RELAY_TIMEOUT_MS, m.relay - 1, s).catch(() => undefined)
    }
    const state = await log.syncState()
    // It holds what we lack, and we are not already asking it: ask, in this same turn.
    if (lacksFrom(state, m) && !s.asking.has(m.log)) void this.sendHave(s, m.log)
    let batch: WireEvent[] = []
    let bytes = 0
    for await (const page of missingEvents(this.host.store, m.log, state, m, this.eventsPerFrame)) {
      for (const e of page) {
        batch.push(e.sig ? { bytes: e.bytes, sig: e.sig } : { bytes: e.bytes })
        bytes += e.bytes.length + 80
        if (batch.length >= this.eventsPerFrame || bytes >= this.bytesPerFrame) {
          await s.send({ t: 'events', log: m.log, events: batch, re: m.id })
          batch = []
          bytes = 0
        }
      }
    }
    await s.send({ t: 'events', log: m.log, events: batch, re: m.id, done: true })
  }

  private async sendForked(s: Session, log: string, authors: string[]): Promise<void> {
    try {
      for (const did of new Set(authors)) {
        const events = await wholeChain(this.host.store, log, didToPublicKey(did))
        for (let i = 0; i < events.length; i += this.eventsPerFrame) {
          const part = events.slice(i, i + this.eventsPerFrame).map((e) => (e.sig ? { bytes: e.bytes, sig: e.sig } : { bytes: e.bytes }))
          await s.send({ t: 'events', log, events: part })
        }
      }
    } catch {
      // The session closed; the next connection's haves find the fork again.
    }
  }

  private async onEvents(s: Session, m: Events): Promise<void> {
    if (this.serves(m.log) && m.events.length > 0) {
      const log = this.host.log(m.log)
      this.track(log)
      const forksBefore = (await log.forks()).length
      const results = await log.ingest(m.events, { from: s.did! })
      const forks = await log.forks()
      // A fork the peer's events just revealed: it holds one branch, and, judged by seqs alone,
      // looked ahead of ours. Send it our branch whole (rare: only equivocating authors).
      if (forks.length > forksBefore) void this.sendForked(s, m.log, forks.slice(forksBefore).map((f) => f.author))
      const rejected: Reject['items'] = []
      for (const r of results) if (r.status === 'rejected') rejected.push(r.cid ? { cid: r.cid.bytes, code: r.code! } : { code: r.code! })
      if (rejected.length > 0) {
        s.invalidReceived += rejected.length
        await s.send({ t: 'reject', log: m.log, items: rejected.slice(0, 4096) }).catch(() => undefined)
        if (s.invalidReceived > this.maxInvalid) {
          await s.fail(new ProtocolError(`${s.invalidReceived} invalid events: over the bound of ${this.maxInvalid}`))
          return
        }
      }
    }
    if (m.done && m.re !== undefined) {
      if (s.asking.get(m.log) === m.re) s.asking.delete(m.log)
      for (const w of [...this.waiters]) if (w.session === s && w.id === m.re) w.resolve()
    }
  }

  private onReject(_s: Session, _m: Reject): void {
    // Counted on the session (PeerInfo.rejectedByPeer); our events were refused by a peer that
    // judges them invalid, which only our own bug or a policy difference explains.
  }

  // --- live push -----------------------------------------------------------------------------

  private push(log: string, e: LogEvent, origin: string): void {
    const wire: WireEvent = e.sig ? { bytes: e.bytes, sig: e.sig } : { bytes: e.bytes }
    for (const s of this.byDid.values()) {
      if (!s.open || s.did === origin || !s.interested.has(log)) continue
      let perLog = this.outbox.get(s)
      if (!perLog) this.outbox.set(s, (perLog = new Map()))
      let list = perLog.get(log)
      if (!list) perLog.set(log, (list = []))
      list.push(wire)
    }
    if (!this.flushScheduled && this.outbox.size > 0) {
      this.flushScheduled = true
      // Events stored by one append or ingest arrive in one turn: send them as one frame.
      queueMicrotask(() => void this.flush())
    }
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false
    const boxes = [...this.outbox]
    this.outbox.clear()
    await Promise.all(
      boxes.map(async ([s, perLog]) => {
        for (const [log, events] of perLog) {
          for (let i = 0; i < events.length; ) {
            let bytes = 0
            let j = i
            while (j < events.length && j - i < this.eventsPerFrame && bytes < this.bytesPerFrame) bytes += events[j++].bytes.length + 80
            await s.send({ t: 'events', log, events: events.slice(i, j) }).catch(() => undefined)
            i = j
          }
        }
      }),
    )
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.heartbeat) clearInterval(this.heartbeat)
    for (const off of this.tracked.values()) off()
    this.tracked.clear()
    for (const w of [...this.waiters]) w.resolve()
    await Promise.all([...this.sessions].map((s) => s.close('client closed')))
  }
}
