/**
 * `memoryNetwork({ seed })`: an in-process network, the test bed for everything above transports.
 * Nodes get a `Transport` each (`net.transport('a')`, address `memory:a`); frames travel through
 * one seeded scheduler, so a run replays exactly from its seed.
 *
 * Faults, all seeded: latency (in scheduler ticks), loss, duplication and reordering of frames,
 * and partitions: `partition(['a', 'b'], ['c'])` cuts every connection between the groups (both
 * ends see it close) and refuses dials across them until `heal()`. Loss, duplication and
 * reordering break the ordered-delivery promise of a connection on purpose: they are there to
 * prove the protocol above survives a hostile network, so leave them off for anything else.
 *
 * It also counts: frames, bytes, and flights (the longest causal chain of frames since
 * `resetStats()`: a request and its answer are two flights, one round trip).
 *
 * Time is virtual: a tick is one turn of the event loop (`setImmediate`), and all the promise
 * work a delivery starts finishes before the next tick. Tests stay fast and ordered.
 */
import { BaseConnection } from './base-connection.js'
import { ConnectError, DEFAULT_MAX_FRAME_BYTES, type Connection, type Listening, type Transport } from './transport.js'

export interface LinkFaults {
  /** Ticks a frame takes, drawn uniformly from `[min, max]`. @default [1, 1] */
  latency?: readonly [number, number]
  /** Probability that a frame is dropped. @default 0 */
  loss?: number
  /** Probability that a frame is delivered twice. @default 0 */
  duplicate?: number
  /** Let frames of one connection overtake each other (each takes its own latency). @default false */
  reorder?: boolean
}

export interface MemoryNetworkOptions extends LinkFaults {
  /** Seed of every random choice the network makes. @default 1 */
  seed?: number
  /** The frame bound of every connection. @default 4 MiB */
  maxFrameBytes?: number
  /** Keep every frame sent (with its ends and causal depth) for `trace()`. @default false */
  trace?: boolean
}

/** One frame as `trace()` reports it. */
export interface TracedFrame {
  from: string
  to: string
  bytes: Uint8Array
  /** Its place on the longest causal chain (1 = sent before hearing anything since the reset). */
  depth: number
}

export interface NetworkStats {
  frames: number
  bytes: number
  /** The longest causal chain of frames since the last reset. */
  flights: number
  /** `ceil(flights / 2)`: request-and-answer exchanges on the longest causal chain. */
  roundTrips: number
  /** Frames dropped by loss or by a partition. */
  dropped: number
}

export interface MemoryNetwork {
  /** The transport of node `name`; its listen address is `memory:<name>`. Same name, same node. */
  transport(name: string): Transport
  /** Cut every connection between nodes of different groups; dials across fail until `heal()`. Unlisted nodes form one more group. */
  partition(...groups: string[][]): void
  /** Lift the partition. Cut connections stay cut: peers dial again. */
  heal(): void
  /** Change the fault settings from now on (frames in flight keep theirs). */
  setFaults(faults: LinkFaults): void
  stats(): NetworkStats
  /** Frames sent since the last reset (only with `trace: true`). */
  trace(): TracedFrame[]
  resetStats(): void
  /** Resolves when no frame has been in flight for a few event-loop turns (the network went quiet). */
  idle(): Promise<void>
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const PREFIX = 'memory:'

interface Delivery {
  at: number
  seq: number
  to: MemoryConnection
  frame?: Uint8Array
  depth: number
  close?: { reason?: string }
}

class MemoryConnection extends BaseConnection {
  peer!: MemoryConnection
  /** Tick of the last frame scheduled towards the peer: FIFO unless reordering. */
  lastAt = 0

  constructor(
    private readonly net: Network,
    readonly local: string,
    remote: string,
    maxFrameBytes: number,
  ) {
    super(`${PREFIX}${remote}`, maxFrameBytes)
  }

  get remoteName(): string {
    return this.remote.slice(PREFIX.length)
  }

  protected async transmit(frame: Uint8Array): Promise<void> {
    this.net.send(this, frame.slice())
  }

  protected shutdown(reason?: string): void {
    this.net.sendClose(this, reason)
  }

  arrive(frame: Uint8Array): void {
    this.deliver(frame)
  }

  end(local: boolean, reason?: string, error?: Error): void {
    this.ended({ local, ...(reason !== undefined ? { reason } : {}), ...(error ? { error } : {}) })
  }
}

class Network implements MemoryNetwork {
  private readonly rand: () => number
  private faults: Required<LinkFaults>
  private readonly maxFrameBytes: number
  private readonly listeners = new Map<string, (conn: Connection) => void>()
  private readonly conns = new Set<MemoryConnection>()
  private readonly depth = new Map<string, number>()
  private groups: Map<string, number> | undefined
  private queue: Delivery[] = []
  private tick = 0
  private seq = 0
  private pumping = false
  private idleWaiters: (() => void)[] = []
  private counters = { frames: 0, bytes: 0, flights: 0, dropped: 0 }
  private traced: TracedFrame[] | undefined

  constructor(options: MemoryNetworkOptions) {
    this.rand = mulberry32(options.seed ?? 1)
    if (options.trace) this.traced = []
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.faults = { latency: [1, 1], loss: 0, duplicate: 0, reorder: false }
    this.setFaults(options)
  }

  setFaults(f: LinkFaults): void {
    const latency = f.latency ?? this.faults.latency
    if (!(latency[0] >= 1 && latency[1] >= latency[0])) throw new RangeError('latency is [min, max] ticks with 1 <= min <= max')
    this.faults = {
      latency,
      loss: f.loss ?? this.faults.loss,
      duplicate: f.duplicate ?? this.faults.duplicate,
      reorder: f.reorder ?? this.faults.reorder,
    }
  }

  transport(name: string): Transport {
    if (typeof name !== 'string' || name.length === 0 || name.includes('/')) throw new RangeError('a memory node name is a non-empty string without "/"')
    const net = this
    const mine = new Set<MemoryConnection>()
    let listening: Listening | undefined
    return {
      kind: 'memory',
      canDial: (address) => address.startsWith(PREFIX),
      async dial(address) {
        const conn = await net.dial(name, address)
        mine.add(conn)
        return conn
      },
      async listen(onConnection) {
        if (net.listeners.has(name)) throw new ConnectError(`memory node ${name} is already listening`)
        const handler = (c: Connection): void => {
          mine.add(c as MemoryConnection)
          onConnection(c)
        }
        net.listeners.set(name, handler)
        listening = {
          addresses: [`${PREFIX}${name}`],
          async close() {
            if (net.listeners.get(name) === handler) net.listeners.delete(name)
          },
        }
        return listening
      },
      async close() {
        await listening?.close()
        await Promise.all([...mine].map((c) => c.close('transport closed')))
      },
    }
  }

  private reachable(a: string, b: string): boolean {
    if (this.groups === undefined) return true
    return (this.groups.get(a) ?? -1) === (this.groups.get(b) ?? -1)
  }

  async dial(from: string, address: string): Promise<MemoryConnection> {
    if (!address.startsWith(PREFIX)) throw new ConnectError(`not a memory address: ${address}`)
    const to = address.slice(PREFIX.length)
    // A dial takes a tick, like any message.
    await new Promise((r) => setImmediate(r))
    const accept = this.listeners.get(to)
    if (accept === undefined) throw new ConnectError(`nobody listens at ${address}`)
    if (!this.reachable(from, to)) throw new ConnectError(`${address} is unreachable from ${from} (partitioned)`)
    const out = new MemoryConnection(this, from, to, this.maxFrameBytes)
    const inn = new MemoryConnection(this, to, from, this.maxFrameBytes)
    out.peer = inn
    inn.peer = out
    this.conns.add(out)
    this.conns.add(inn)
    const drop = (): void => {
      this.conns.delete(out)
      this.conns.delete(inn)
    }
    out.onClose(drop)
    inn.onClose(drop)
    accept(inn)
    return out
  }

  private latency(): number {
    const [min, max] = this.faults.latency
    return min + Math.floor(this.rand() * (max - min + 1))
  }

  private schedule(from: MemoryConnection, d: Omit<Delivery, 'at' | 'seq'>): void {
    let at = this.tick + this.latency()
    if (!this.faults.reorder || d.close) at = Math.max(at, from.lastAt)
    from.lastAt = at
    this.queue.push({ ...d, at, seq: this.seq++ })
    this.pump()
  }

  send(from: MemoryConnection, frame: Uint8Array): void {
    const depth = (this.depth.get(from.local) ?? 0) + 1
    this.counters.frames++
    this.counters.bytes += frame.length
    if (this.counters.flights < depth) this.counters.flights = depth
    this.traced?.push({ from: from.local, to: from.remoteName, bytes: frame, depth })
    if (this.faults.loss > 0 && this.rand() < this.faults.loss) {
      this.counters.dropped++
      return
    }
    this.schedule(from, { to: from.peer, frame, depth })
    if (this.faults.duplicate > 0 && this.rand() < this.faults.duplicate) this.schedule(from, { to: from.peer, frame, depth })
  }

  sendClose(from: MemoryConnection, reason?: string): void {
    this.schedule(from, { to: from.peer, depth: 0, close: reason !== undefined ? { reason } : {} })
  }

  private pump(): void {
    if (this.pumping) return
    this.pumping = true
    setImmediate(() => this.step())
  }

  private step(): void {
    this.tick++
    const due: Delivery[] = []
    const later: Delivery[] = []
    for (const d of this.queue) (d.at <= this.tick ? due : later).push(d)
    this.queue = later
    due.sort((x, y) => x.at - y.at || x.seq - y.seq)
    for (const d of due) {
      if (d.close) {
        d.to.end(false, d.close.reason)
        continue
      }
      if (d.to.closed) continue
      const name = d.to.local
      if ((this.depth.get(name) ?? 0) < d.depth) this.depth.set(name, d.depth)
      d.to.arrive(d.frame!)
    }
    if (this.queue.length > 0) {
      setImmediate(() => this.step())
      return
    }
    this.pumping = false
    for (const w of this.idleWaiters.splice(0)) w()
  }

  partition(...groups: string[][]): void {
    const map = new Map<string, number>()
    groups.forEach((g, i) => g.forEach((n) => map.set(n, i)))
    this.groups = map
    // Cut what crosses: both ends see a failure, frames in flight across are lost.
    for (const c of [...this.conns]) {
      if (this.reachable(c.local, c.remoteName)) continue
      const error = new ConnectError(`link ${c.local} - ${c.remoteName} partitioned`)
      c.end(false, 'partitioned', error)
    }
    const before = this.queue.length
    this.queue = this.queue.filter((d) => !d.to.closed)
    this.counters.dropped += before - this.queue.length
  }

  heal(): void {
    this.groups = undefined
  }

  stats(): NetworkStats {
    return { ...this.counters, roundTrips: Math.ceil(this.counters.flights / 2) }
  }

  trace(): TracedFrame[] {
    return this.traced ? [...this.traced] : []
  }

  resetStats(): void {
    if (this.traced) this.traced = []
    this.counters = { frames: 0, bytes: 0, flights: 0, dropped: 0 }
    this.depth.clear()
  }

  async idle(): Promise<void> {
    // Quiet means no frame in flight for a few turns in a row: a delivered frame starts work
    // (an ingest, an answer) that may only send its reply a turn or two later.
    for (let quiet = 0; quiet < 3; ) {
      if (this.pumping || this.queue.length > 0) {
        await new Promise<void>((r) => this.idleWaiters.push(r))
        quiet = 0
      } else {
        await new Promise((r) => setImmediate(r))
        quiet++
      }
    }
  }
}

/** A seeded in-process network; see the module comment. */
export function memoryNetwork(options: MemoryNetworkOptions = {}): MemoryNetwork {
  return new Network(options)
}
