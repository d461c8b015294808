/**
 * `broadcastChannelTransport(channelName)`: connections between tabs, workers and threads of one
 * origin (or one Node process) over a BroadcastChannel. The channel is a bus, so every node on
 * it has an id (address `bc:<channelName>/<id>`), every message names its sender, its recipient
 * and a connection id chosen by the dialer, and each pair of endpoints is one Connection.
 *
 * A dial posts `open` and waits for `ack` (a node that is not listening answers `refuse`; no
 * answer within `connectTimeoutMs` is CONNECT). `open` carries the dialer's frame bound and `ack`
 * the smaller of both, so both ends use the same. Other code may share the channel: anything
 * that is not a well-formed message of ours, or not addressed to this node, is ignored.
 *
 * Ids must be unique on a channel; two nodes with one id would both answer. There is no liveness
 * check: a node that vanishes without closing (a killed worker, a crashed tab) leaves its peers'
 * connections open until they close them.
 */
import { ClosedError, InvalidArgumentError, StateFlowError } from '../errors.js'
import { BaseConnection } from './base-connection.js'
import { ConnectError, DEFAULT_MAX_FRAME_BYTES, type Connection, type Listening, type Transport } from './transport.js'

export interface BroadcastChannelTransportOptions {
  /** This node's id on the channel (no "/"). @default random */
  id?: string
  /** The frame bound; a connection uses the smaller of both ends'. @default DEFAULT_MAX_FRAME_BYTES */
  maxFrameBytes?: number
  /** A dial with no answer by then fails with CONNECT. @default 2 000 */
  connectTimeoutMs?: number
}

export interface BroadcastChannelTransport extends Transport {
  listen(onConnection: (conn: Connection) => void): Promise<Listening>
  close(): Promise<void>
}

/** Marks our messages among whatever else travels on the channel. */
const TAG = 'stateflow/bc/1'

type Body =
  | { t: 'open'; max: number }
  | { t: 'ack'; max: number }
  | { t: 'refuse'; reason: string }
  | { t: 'frame'; frame: Uint8Array }
  | { t: 'close'; reason?: string; failed?: boolean }
type Message = Body & { p: typeof TAG; from: string; to: string; conn: string }

const tagOf = (x: unknown): string => Object.prototype.toString.call(x)
const isText = (x: unknown, max = 256): x is string => typeof x === 'string' && x.length > 0 && x.length <= max

/** The message if it is one of ours, well formed; undefined for anything else on the channel. */
function parse(data: unknown): Message | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const m = data as Record<string, unknown>
  if (m.p !== TAG || !isText(m.from) || !isText(m.to) || !isText(m.conn)) return undefined
  switch (m.t) {
    case 'open':
    case 'ack':
      return Number.isSafeInteger(m.max) && (m.max as number) > 0 ? (m as Message) : undefined
    case 'refuse':
      return typeof m.reason === 'string' ? (m as Message) : undefined
    case 'frame':
      // By tag, not instanceof: a frame from another realm (a worker) has another Uint8Array.
      return tagOf(m.frame) === '[object Uint8Array]' ? (m as Message) : undefined
    case 'close':
      return m.reason === undefined || typeof m.reason === 'string' ? (m as Message) : undefined
    default:
      return undefined
  }
}

function randomId(): string {
  const b = new Uint8Array(8)
  globalThis.crypto.getRandomValues(b)
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

/** What the connections need from their node. */
interface Bus {
  post(to: string, conn: string, body: Body): void
}

class BroadcastConnection extends BaseConnection {
  constructor(
    private readonly bus: Bus,
    private readonly peer: string,
    readonly id: string,
    remote: string,
    maxFrameBytes: number,
  ) {
    super(remote, maxFrameBytes)
  }

  /**
   * A BroadcastChannel has no backpressure signal (no bufferedAmount, no drain): postMessage
   * copies the frame and queues it for every subscriber at once, so send resolves after posting.
   */
  protected async transmit(frame: Uint8Array): Promise<void> {
    // Structured clone copies a view's whole buffer (and shares a SharedArrayBuffer): post a
    // view that owns exactly its bytes.
    const own = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength && tagOf(frame.buffer) === '[object ArrayBuffer]'
    this.bus.post(this.peer, this.id, { t: 'frame', frame: own ? frame : frame.slice() })
  }

  protected shutdown(reason?: string): void {
    const failed = this.closeInfo?.error !== undefined
    this.bus.post(this.peer, this.id, { t: 'close', ...(reason !== undefined ? { reason } : {}), ...(failed ? { failed } : {}) })
  }

  arrive(frame: Uint8Array): void {
    this.deliver(frame)
  }

  remoteClosed(reason: string | undefined, failed: boolean): void {
    const base = reason !== undefined ? { local: false, reason } : { local: false }
    if (!failed) return this.ended(base)
    const error = new StateFlowError('PROTOCOL', `the peer ended the connection: ${reason ?? 'protocol violation'}`)
    this.ended({ ...base, error })
  }
}

interface PendingDial {
  peer: string
  resolve(conn: BroadcastConnection): void
  reject(err: Error): void
}

/** Ref/unref exist on Node's BroadcastChannel: a node with nothing open must not hold the process. */
type Channel = BroadcastChannel & { ref?(): void; unref?(): void }

export function broadcastChannelTransport(channelName: string, options: BroadcastChannelTransportOptions = {}): BroadcastChannelTransport {
  if (typeof channelName !== 'string' || channelName.length === 0) throw new InvalidArgumentError('a channel name is a non-empty string')
  const id = options.id ?? randomId()
  if (!isText(id) || id.includes('/')) throw new InvalidArgumentError(`a node id is 1 to 256 characters without "/": ${String(id)}`)
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  const timeout = options.connectTimeoutMs ?? 2_000
  for (const [what, n] of [['maxFrameBytes', maxFrameBytes], ['connectTimeoutMs', timeout]] as const) {
    if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive integer`)
  }
  const prefix = `bc:${channelName}/`
  const addressOf = (node: string): string => `${prefix}${node}`

  let channel: Channel | undefined
  let closed = false
  let accept: ((conn: Connection) => void) | undefined
  /** Open connections by `<peer id>/<connection id>`. */
  const conns = new Map<string, BroadcastConnection>()
  /** Dials waiting for an answer, by connection id. */
  const pending = new Map<string, PendingDial>()

  const bus: Bus = {
    post(to, conn, body) {
      channel?.postMessage({ p: TAG, from: id, to, conn, ...body })
    },
  }

  /** Hold the process only while something is open or awaited. */
  const reref = (): void => {
    if (accept || conns.size > 0 || pending.size > 0) channel?.ref?.()
    else channel?.unref?.()
  }

  const open = (peer: string, connId: string, max: number): BroadcastConnection => {
    const key = `${peer}/${connId}`
    const conn = new BroadcastConnection(bus, peer, connId, addressOf(peer), Math.min(maxFrameBytes, max))
    conns.set(key, conn)
    conn.onClose(() => {
      if (conns.get(key) === conn) conns.delete(key)
      reref()
    })
    reref()
    return conn
  }

  const handle = (m: Message): void => {
    if (m.to !== id) return
    const key = `${m.from}/${m.conn}`
    switch (m.t) {
      case 'open': {
        if (conns.has(key)) return // a repeated open: the first one stands
        if (!accept) return bus.post(m.from, m.conn, { t: 'refuse', reason: 'not listening' })
        const conn = open(m.from, m.conn, m.max)
        bus.post(m.from, m.conn, { t: 'ack', max: conn.maxFrameBytes })
        accept(conn)
        return
      }
      case 'ack': {
        const dial = pending.get(m.conn)
        if (dial === undefined || dial.peer !== m.from) {
          // The answer to a dial that gave up: end the connection the listener just opened.
          if (!conns.has(key)) bus.post(m.from, m.conn, { t: 'close', reason: 'dial timed out' })
          return
        }
        pending.delete(m.conn)
        dial.resolve(open(m.from, m.conn, m.max))
        return
      }
      case 'refuse': {
        const dial = pending.get(m.conn)
        if (dial === undefined || dial.peer !== m.from) return
        pending.delete(m.conn)
        reref()
        dial.reject(new ConnectError(`${addressOf(m.from)} refused: ${m.reason}`))
        return
      }
      case 'frame':
        conns.get(key)?.arrive(m.frame)
        return
      case 'close':
        conns.get(key)?.remoteClosed(m.reason, m.failed === true)
        return
    }
  }

  const ensureChannel = (): Channel => {
    if (closed) throw new ClosedError('broadcast-channel transport')
    if (channel) return channel
    const BC = (globalThis as { BroadcastChannel?: new (name: string) => Channel }).BroadcastChannel
    if (BC === undefined) throw new ConnectError('no BroadcastChannel here')
    channel = new BC(channelName)
    channel.addEventListener('message', (ev: MessageEvent) => {
      try {
        const m = parse(ev.data)
        if (m) handle(m)
      } catch {
        // Whatever others post on the channel, never throw from here.
      }
    })
    return channel
  }

  const canDial = (address: string): boolean => {
    if (typeof address !== 'string' || !address.startsWith(prefix)) return false
    const node = address.slice(prefix.length)
    return isText(node) && !node.includes('/')
  }

  return {
    kind: 'broadcast-channel',
    canDial,

    async dial(address) {
      if (!canDial(address)) throw new InvalidArgumentError(`not an address on channel "${channelName}": ${address}`)
      const peer = address.slice(prefix.length)
      if (peer === id) throw new InvalidArgumentError(`node ${id} cannot dial itself`)
      ensureChannel()
      const connId = randomId()
      return new Promise<Connection>((resolve, reject) => {
        const timer = setTimeout(() => {
          if (pending.get(connId) !== dial) return
          pending.delete(connId)
          reref()
          reject(new ConnectError(`no answer from ${address} within ${timeout} ms`))
        }, timeout)
        const dial: PendingDial = {
          peer,
          resolve: (conn) => {
            clearTimeout(timer)
            resolve(conn)
          },
          reject: (err) => {
            clearTimeout(timer)
            reject(err)
          },
        }
        pending.set(connId, dial)
        reref()
        bus.post(peer, connId, { t: 'open', max: maxFrameBytes })
      })
    },

    async listen(onConnection) {
      ensureChannel()
      if (accept) throw new InvalidArgumentError(`node ${id} is already listening`)
      const handler = (conn: Connection): void => onConnection(conn)
      accept = handler
      reref()
      return {
        addresses: [addressOf(id)],
        async close() {
          if (accept === handler) accept = undefined
          reref()
        },
      } satisfies Listening
    },

    async close() {
      if (closed) return
      accept = undefined
      for (const [connId, dial] of [...pending]) {
        pending.delete(connId)
        dial.reject(new ClosedError('broadcast-channel transport'))
      }
      await Promise.all([...conns.values()].map((c) => c.close('transport closed')))
      closed = true
      // Posted messages are already queued for their recipients: closing now loses none.
      channel?.close()
      channel = undefined
    },
  }
}
