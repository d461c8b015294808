/**
 * `libp2pTransport()`: connections over libp2p streams (Node only). The transport runs its own
 * libp2p 2.x node (TCP and WebSockets, noise encryption, yamux muxing) or uses one you pass;
 * one stream on the protocol `/stateflow/sync/1.0.0` is one Connection. Addresses are
 * multiaddrs with `/p2p/<peerId>`, e.g. `/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…`.
 *
 * On the stream every message is a 5-byte header (kind, then a big-endian uint32 length) and
 * that many bytes: kind 0 carries a frame, kind 1 the closing side's reason (a stream close has
 * no room for one), after which the sender ends its half of the stream. The receiver checks a
 * length against the bound before buffering the body, so a lying peer costs one header.
 *
 * Both ends must be configured with the same `maxFrameBytes`: each refuses to send past it, and
 * a frame announced past it ends the connection (the peer broke the contract).
 *
 * A dial to an address with `/p2p/<id>` fails unless that peer is the one that answers: libp2p
 * 2.x does not check this itself. Runs on Node 20 (libp2p 3.x needs Node 22).
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { UnexpectedPeerError, type Connection as Libp2pConn, type Libp2p, type Stream, type StreamHandler } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { ClosedError, InvalidArgumentError, StateFlowError } from '../errors.js'
import { BaseConnection } from './base-connection.js'
import { ConnectError, DEFAULT_MAX_FRAME_BYTES, FrameTooLargeError, type Connection, type Listening, type Transport } from './transport.js'

/** The protocol id our streams negotiate. */
export const LIBP2P_PROTOCOL = '/stateflow/sync/1.0.0'

export const DEFAULT_LIBP2P_LISTEN: readonly string[] = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']

export interface Libp2pTransportOptions {
  /** Multiaddrs the node this transport creates listens on. Ignored with `node`. @default DEFAULT_LIBP2P_LISTEN */
  listen?: string[]
  /** The frame bound, both ways; peers must use the same. @default DEFAULT_MAX_FRAME_BYTES */
  maxFrameBytes?: number
  /**
   * Bring your own started node (it needs a stream muxer). The transport only adds and removes
   * its protocol handler: it never starts or stops this node.
   */
  node?: Libp2p
  /** A dial (connect, handshake and protocol negotiation) not done by then fails with CONNECT. @default 10 000 */
  dialTimeoutMs?: number
  /** Streams of our protocol one libp2p connection may carry at once, each way. @default 256 */
  maxStreamsPerConnection?: number
}

export interface Libp2pTransport extends Transport {
  readonly kind: 'libp2p'
  listen(onConnection: (conn: Connection) => void): Promise<Listening>
  close(): Promise<void>
  /** The node, created (and started) on first use when none was passed. */
  node(): Promise<Libp2p>
}

/** The multiaddr code of `/p2p/`. */
const P2P_CODE = 421
const HEADER = 5
const KIND_FRAME = 0
const KIND_CLOSE = 1
/** A close reason is a courtesy: longer ones are cut, and a peer announcing more broke the contract. */
const MAX_REASON_BYTES = 1024
/** How long a graceful close waits for queued frames to drain before resetting the stream. */
const CLOSE_GRACE_MS = 5_000

function protocolError(message: string): StateFlowError {
  const err = new StateFlowError('PROTOCOL', message)
  err.name = 'ProtocolError'
  return err
}

/**
 * libp2p 2.x's peer store locks through `it-queue`, which calls `Promise.withResolvers` (Node ≥ 22).
 * On Node 20 a contended lock then fails with a TypeError (e.g. concurrent dials to one peer), so
 * supply the standard method when it is missing. Nothing else in the stack needs newer Node.
 */
function ensurePromiseWithResolvers(): void {
  const P = Promise as PromiseConstructor & { withResolvers?: unknown }
  if (typeof P.withResolvers === 'function') return
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>(this: PromiseConstructor) {
      let resolve!: (value: T | PromiseLike<T>) => void
      let reject!: (reason?: unknown) => void
      const promise = new this<T>((res, rej) => {
        resolve = res
        reject = rej
      })
      return { promise, resolve, reject }
    },
  })
}

function encode(kind: number, body: Uint8Array): Uint8Array {
  // A fresh buffer: the caller may reuse `body` once send resolves, and yamux may hold ours longer.
  const out = new Uint8Array(HEADER + body.length)
  out[0] = kind
  new DataView(out.buffer).setUint32(1, body.length)
  out.set(body, HEADER)
  return out
}

/** Reason bytes cut to `MAX_REASON_BYTES` on a character boundary (TextDecoder drops a torn tail anyway). */
function reasonBytes(reason: string | undefined): Uint8Array {
  const bytes = new TextEncoder().encode(reason ?? '')
  if (bytes.length <= MAX_REASON_BYTES) return bytes
  let end = MAX_REASON_BYTES
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--
  return bytes.subarray(0, end)
}

interface Outgoing {
  data: Uint8Array
  taken?: () => void
  failed?: (err: Error) => void
}

/**
 * The pull-based source handed to `stream.sink`: yamux asks for the next message only once it
 * has written the previous one into its window, so a send resolves when its message is taken
 * and an awaiting sender holds at most one frame beyond what yamux buffers. Hand-written rather
 * than an async generator so `return()` works while it waits.
 */
class Outbox implements AsyncIterableIterator<Uint8Array> {
  private queue: Outgoing[] = []
  private waiter: ((r: IteratorResult<Uint8Array>) => void) | undefined
  private ending = false
  private stopped = false

  push(item: Outgoing): void {
    if (this.ending || this.stopped) {
      item.failed?.(new ClosedError('libp2p stream'))
      return
    }
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      item.taken?.()
      waiter({ done: false, value: item.data })
    } else this.queue.push(item)
  }

  /** No more messages after those queued. */
  end(): void {
    this.ending = true
    if (this.queue.length === 0) this.finish()
  }

  /** Drop what is queued (its sends fail) and end now. */
  stop(err: Error): void {
    this.stopped = true
    for (const item of this.queue.splice(0)) item.failed?.(err)
    this.finish()
  }

  private finish(): void {
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.({ done: true, value: undefined })
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    const item = this.queue.shift()
    if (item !== undefined) {
      item.taken?.()
      return Promise.resolve({ done: false, value: item.data })
    }
    if (this.ending || this.stopped) return Promise.resolve({ done: true, value: undefined })
    return new Promise((resolve) => (this.waiter = resolve))
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    this.stop(new ClosedError('libp2p stream'))
    return Promise.resolve({ done: true, value: undefined })
  }

  [Symbol.asyncIterator](): this {
    return this
  }
}

/** One libp2p stream as a Connection; the dialing and the listening side are the same. */
class Libp2pConnection extends BaseConnection {
  private readonly outbox = new Outbox()
  private readonly sinkDone: Promise<void>
  /** Received bytes not yet parsed, in order; `buffered` is their total length. */
  private chunks: Uint8Array[] = []
  private buffered = 0
  /** The header of the message whose body is still arriving. */
  private pending: { kind: number; length: number } | undefined
  private released = false

  constructor(
    private readonly stream: Stream,
    remote: string,
    maxFrameBytes: number,
  ) {
    super(remote, maxFrameBytes)
    this.sinkDone = stream.sink(this.outbox).then(
      () => undefined,
      (err: unknown) => this.failed(err),
    )
    void this.read()
  }

  protected transmit(frame: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.outbox.push({ data: encode(KIND_FRAME, frame), taken: resolve, failed: () => reject(new ClosedError(`connection to ${this.remote}`)) })
    })
  }

  protected async shutdown(reason?: string): Promise<void> {
    const violation = this.closeInfo?.error
    if (violation !== undefined) {
      // The peer broke the contract: reset rather than read on.
      this.outbox.stop(violation)
      this.stream.abort(violation)
      return
    }
    this.outbox.push({ data: encode(KIND_CLOSE, reasonBytes(reason)) })
    await this.release()
  }

  /** Flush what is queued, end our half, then close the stream; a peer that will not drain gets a reset. */
  private async release(): Promise<void> {
    if (this.released) return
    this.released = true
    this.outbox.end()
    const grace = AbortSignal.timeout(CLOSE_GRACE_MS)
    try {
      await new Promise<void>((resolve, reject) => {
        if (grace.aborted) reject(grace.reason)
        grace.addEventListener('abort', () => reject(grace.reason), { once: true })
        void this.sinkDone.then(resolve)
      })
      await this.stream.close({ signal: grace })
    } catch (err) {
      this.stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  private failed(err: unknown): void {
    const error = new ConnectError(`libp2p stream to ${this.remote} failed: ${(err as Error)?.message ?? err}`, { cause: err })
    this.outbox.stop(new ClosedError(`connection to ${this.remote}`))
    this.ended({ local: false, error })
  }

  private async read(): Promise<void> {
    try {
      for await (const list of this.stream.source) {
        for (const chunk of list) {
          this.chunks.push(chunk)
          this.buffered += chunk.length
        }
        if (!this.parse()) return
      }
    } catch (err) {
      if (!this.closed) this.failed(err)
      return
    }
    // The peer ended its half without a close message (another implementation, or a crash).
    if (!this.closed) {
      this.ended({ local: false })
      void this.release()
    }
  }

  /** Hand on every whole message buffered. False once the connection is over. */
  private parse(): boolean {
    while (!this.closed) {
      if (this.pending === undefined) {
        if (this.buffered < HEADER) return true
        const head = this.take(HEADER)
        const kind = head[0]
        const length = new DataView(head.buffer, head.byteOffset, HEADER).getUint32(1)
        if (kind === KIND_FRAME && length > this.maxFrameBytes) return this.violation(new FrameTooLargeError(length, this.maxFrameBytes))
        if (kind === KIND_CLOSE && length > MAX_REASON_BYTES) return this.violation(protocolError(`close reason of ${length} bytes is over the ${MAX_REASON_BYTES}-byte bound`))
        if (kind !== KIND_FRAME && kind !== KIND_CLOSE) return this.violation(protocolError(`unknown message kind ${kind}`))
        this.pending = { kind, length }
      }
      const { kind, length } = this.pending
      if (this.buffered < length) return true
      this.pending = undefined
      const body = this.take(length)
      if (kind === KIND_FRAME) {
        this.deliver(body)
        continue
      }
      const reason = new TextDecoder().decode(body)
      this.ended({ local: false, ...(reason.length > 0 ? { reason } : {}) })
      void this.release()
      return false
    }
    return false
  }

  private violation(error: Error): false {
    this.ended({ local: true, reason: error.message, error })
    void this.shutdown(error.message)
    return false
  }

  /** The next `n` buffered bytes, copied out: frames must not pin (or alias) the receive chunks. */
  private take(n: number): Uint8Array {
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const chunk = this.chunks[0]
      const want = n - filled
      if (chunk.length <= want) {
        out.set(chunk, filled)
        filled += chunk.length
        this.chunks.shift()
      } else {
        out.set(chunk.subarray(0, want), filled)
        this.chunks[0] = chunk.subarray(want)
        filled += want
      }
    }
    this.buffered -= n
    return out
  }
}

/** The remote's dialable name: its address with the `/p2p/` id its handshake proved (the address may name another). */
function remoteName(conn: Libp2pConn): string {
  const addr = conn.remoteAddr.getPeerId() !== null ? conn.remoteAddr.decapsulateCode(P2P_CODE) : conn.remoteAddr
  return addr.encapsulate(`/p2p/${conn.remotePeer.toString()}`).toString()
}

function parse(address: string): Multiaddr | undefined {
  if (!address.startsWith('/')) return undefined
  try {
    return multiaddr(address)
  } catch {
    return undefined
  }
}

function positiveInt(value: number | undefined, fallback: number, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 1 || value > max) throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}`)
  return value
}

/** A libp2p transport; see the module comment. */
export function libp2pTransport(options: Libp2pTransportOptions = {}): Libp2pTransport {
  ensurePromiseWithResolvers()
  // The header carries a uint32 length.
  const maxFrameBytes = positiveInt(options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 'maxFrameBytes', 0xffffffff)
  const dialTimeoutMs = positiveInt(options.dialTimeoutMs, 10_000, 'dialTimeoutMs')
  const maxStreams = positiveInt(options.maxStreamsPerConnection, 256, 'maxStreamsPerConnection')
  const listen = [...(options.listen ?? DEFAULT_LIBP2P_LISTEN)]
  const own = options.node === undefined
  let nodePromise: Promise<Libp2p> | undefined
  let listening: Listening | undefined
  let closed = false
  const conns = new Set<Libp2pConnection>()

  function node(): Promise<Libp2p> {
    if (closed) return Promise.reject(new ClosedError('libp2p transport'))
    nodePromise ??= (async () => {
      if (options.node !== undefined) return options.node
      const created = await createLibp2p({
        addresses: { listen },
        transports: [tcp(), webSockets()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
      })
      // A close that raced the start stops what it started.
      if (closed) await created.stop()
      return created
    })().catch((err: unknown) => {
      // Let a later call try again (say, once a fixed listen port is free).
      nodePromise = undefined
      throw err
    })
    return nodePromise
  }

  async function started(): Promise<Libp2p> {
    let n: Libp2p
    try {
      n = await node()
    } catch (err) {
      if (err instanceof StateFlowError) throw err
      throw new ConnectError(`cannot start the libp2p node: ${(err as Error).message}`, { cause: err })
    }
    if (closed) throw new ClosedError('libp2p transport')
    if (n.status !== 'started') throw new ConnectError(`the libp2p node is ${n.status}, not started`)
    return n
  }

  function adopt(stream: Stream, conn: Libp2pConn): Libp2pConnection {
    const c = new Libp2pConnection(stream, remoteName(conn), maxFrameBytes)
    conns.add(c)
    c.onClose(() => conns.delete(c))
    return c
  }

  return {
    kind: 'libp2p',
    node: started,
    canDial: (address) => parse(address) !== undefined,

    async dial(address) {
      const ma = parse(address)
      if (ma === undefined) throw new ConnectError(`not a multiaddr: ${address}`)
      const n = await started()
      const signal = AbortSignal.timeout(dialTimeoutMs)
      let conn: Libp2pConn
      let stream: Stream
      try {
        conn = await n.dial(ma, { signal })
      } catch (err) {
        throw new ConnectError(`cannot connect to ${address}: ${(err as Error)?.message ?? err}`, { cause: err })
      }
      // libp2p 2.x does not hold the handshake to the address's /p2p/ id: whoever answers is taken.
      const expected = ma.getPeerId()
      if (expected !== null && expected !== conn.remotePeer.toString()) {
        const err = new UnexpectedPeerError(`peer ${conn.remotePeer.toString()} answered instead`)
        // Drop it unless something else of this node's already uses the connection.
        if (conn.streams.length === 0) conn.abort(err)
        throw new ConnectError(`cannot connect to ${address}: ${err.message}`, { cause: err })
      }
      try {
        stream = await conn.newStream(LIBP2P_PROTOCOL, { signal, maxOutboundStreams: maxStreams })
      } catch (err) {
        throw new ConnectError(`cannot open ${LIBP2P_PROTOCOL} at ${address}: ${(err as Error)?.message ?? err}`, { cause: err })
      }
      if (closed) {
        stream.abort(new ClosedError('libp2p transport'))
        throw new ClosedError('libp2p transport')
      }
      return adopt(stream, conn)
    },

    async listen(onConnection) {
      if (listening !== undefined) throw new ConnectError('this libp2p transport is already listening')
      const n = await started()
      let accepting = true
      const handler: StreamHandler = ({ stream, connection }) => {
        if (!accepting || closed) {
          stream.abort(new Error('not accepting'))
          return
        }
        onConnection(adopt(stream, connection))
      }
      try {
        await n.handle(LIBP2P_PROTOCOL, handler, { maxInboundStreams: maxStreams, maxOutboundStreams: maxStreams })
      } catch (err) {
        throw new ConnectError(`cannot handle ${LIBP2P_PROTOCOL}: ${(err as Error)?.message ?? err}`, { cause: err })
      }
      const addresses = n.getMultiaddrs().map((a) => a.toString())
      const handle: Listening = {
        addresses,
        async close() {
          if (!accepting) return
          accepting = false
          if (listening === handle) listening = undefined
          if (n.status === 'started') await n.unhandle(LIBP2P_PROTOCOL)
        },
      }
      listening = handle
      return handle
    },

    async close() {
      if (closed) return
      await listening?.close()
      closed = true
      await Promise.all([...conns].map((c) => c.close('transport closed')))
      if (own && nodePromise !== undefined) {
        const n = await nodePromise.catch(() => undefined)
        await n?.stop()
      }
    },
  }
}
