/**
 * `webSocketTransport()`: dial `ws://` and `wss://` addresses; one WebSocket binary message is one
 * frame. Browser-safe: it uses `globalThis.WebSocket` (browsers, Node ≥ 22) and otherwise loads
 * the `ws` package at run time through `createRequire`, which bundlers do not follow, so the
 * main entry carries nothing Node-specific. The listening side is `webSocketServer()` in
 * `stateflow/transports/websocket-server` (Node only).
 *
 * Both ends must be configured with the same `maxFrameBytes`: each refuses to send past it, and
 * a frame arriving past it ends the connection (a peer that sends one broke the contract).
 */
import { ClosedError, InvalidArgumentError, StateFlowError } from '../errors.js'
import { BaseConnection } from './base-connection.js'
import { ConnectError, DEFAULT_MAX_FRAME_BYTES, type Connection, type Transport } from './transport.js'

/** The part of the WHATWG WebSocket API we use; `ws` implements it too. */
export interface WebSocketLike {
  readonly readyState: number
  readonly bufferedAmount: number
  binaryType: string
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
  // `any`: the DOM's and ws's WebSocket classes both type their listeners per event name; a
  // looser type here lets either be passed as it is.
  addEventListener(type: string, listener: (event: any) => void): void
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: { maxPayload?: number }) => WebSocketLike

/** `ws` adds a completion callback to `send`: our backpressure signal when we have it. */
interface WsSocket {
  send(data: Uint8Array, options: { binary: boolean }, cb: (err?: Error) => void): void
  on(event: string, listener: (...args: any[]) => void): unknown
}

export interface WebSocketTransportOptions {
  /** The WebSocket class to use. @default globalThis.WebSocket, else the `ws` package (Node) */
  WebSocket?: WebSocketConstructor
  /** The frame bound; the listening side must use the same. @default DEFAULT_MAX_FRAME_BYTES */
  maxFrameBytes?: number
  /** `send` waits while more than this many bytes are buffered. @default 1 MiB */
  highWaterMark?: number
  /** A dial not open by then fails with CONNECT (browsers have no connect timeout of their own). @default 10 000 */
  connectTimeoutMs?: number
}

export const DEFAULT_HIGH_WATER_MARK = 1 << 20

/** Close codes: 1000 is an ordinary close; 4000 says the sender of it saw the peer break the contract. */
const NORMAL = 1000
const GOING_AWAY = 1001
const NO_STATUS = 1005
const TOO_BIG = 1009
const VIOLATION = 4000
/** The close frame carries at most 123 bytes of reason (RFC 6455 §5.5). */
const MAX_REASON_BYTES = 123

/** `s` cut to at most `max` UTF-8 bytes, on a character boundary. */
export function truncateUtf8(s: string, max = MAX_REASON_BYTES): string {
  let bytes = 0
  let out = ''
  for (const ch of s) {
    const cp = ch.codePointAt(0)!
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4
    if (bytes + n > max) break
    bytes += n
    out += ch
  }
  return out
}

const protocolError = (message: string): StateFlowError => new StateFlowError('PROTOCOL', message)

const OPEN = 1

/** One WebSocket as a Connection; shared by the dialing and the listening side. */
export class WebSocketConnection extends BaseConnection {
  private readonly isWs: boolean
  /** Sends waiting for the buffer to drain; failed when the connection ends. */
  private readonly waiting = new Set<(err?: Error) => void>()
  private lastError: unknown

  constructor(
    private readonly socket: WebSocketLike,
    remote: string,
    maxFrameBytes: number,
    private readonly highWaterMark = DEFAULT_HIGH_WATER_MARK,
  ) {
    super(remote, maxFrameBytes)
    this.isWs = typeof (socket as Partial<WsSocket>).on === 'function'
    socket.binaryType = 'arraybuffer'
    socket.addEventListener('message', (ev: { data: unknown }) => this.message(ev.data))
    socket.addEventListener('error', (ev: { error?: unknown }) => this.socketError(ev.error))
    socket.addEventListener('close', (ev: { code: number; reason: string }) => this.socketClosed(ev.code, ev.reason))
  }

  protected async transmit(frame: Uint8Array): Promise<void> {
    // Closing already (the peer's close frame is in): the socket would drop the frame silently.
    if (this.socket.readyState !== OPEN) throw new ClosedError(`connection to ${this.remote}`)
    // A copy: the caller may reuse `frame`, and ws queues what it cannot write at once.
    const data = frame.slice()
    if (this.isWs) {
      await new Promise<void>((resolve, reject) => {
        let done = false
        const finish = (err?: Error): void => {
          if (done) return
          done = true
          this.waiting.delete(finish)
          if (err) reject(new ClosedError(`connection to ${this.remote}`))
          else resolve()
        }
        this.waiting.add(finish)
        // The callback fires once this frame is written out: everything before it is too.
        ;(this.socket as unknown as WsSocket).send(data, { binary: true }, (err) => finish(err ?? undefined))
        if (this.socket.bufferedAmount < this.highWaterMark) finish()
      })
      return
    }
    this.socket.send(data)
    // The standard API has no drain event: poll while over the mark.
    while (this.socket.bufferedAmount >= this.highWaterMark) {
      if (this.closed || this.socket.readyState !== OPEN) throw new ClosedError(`connection to ${this.remote}`)
      await new Promise((r) => setTimeout(r, 5))
    }
  }

  protected shutdown(reason?: string): void {
    const code = this.closeInfo?.error ? VIOLATION : NORMAL
    try {
      this.socket.close(code, truncateUtf8(reason ?? ''))
    } catch {
      // Already closing: nothing left to tell the peer.
    }
    this.release()
  }

  private message(data: unknown): void {
    if (this.closed) return
    // By tag, not instanceof: the socket's realm may not be ours.
    if (Object.prototype.toString.call(data) === '[object ArrayBuffer]') return this.deliver(new Uint8Array(data as ArrayBuffer))
    if (ArrayBuffer.isView(data)) return this.deliver(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    this.fail(protocolError(typeof data === 'string' ? 'the peer sent a text message; frames are binary' : 'the peer sent a message that is neither text nor an ArrayBuffer'))
  }

  /** This side saw the peer break the contract: end with the error and tell the peer why. */
  private fail(error: Error): void {
    this.ended({ local: true, reason: error.message, error })
    this.shutdown(error.message)
  }

  private socketError(err: unknown): void {
    this.lastError = err
    // ws reports what its parser refused (over maxPayload, bad framing) before it closes.
    const code = (err as { code?: unknown } | undefined)?.code
    if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      // ws does not say the size, which FrameTooLargeError wants: same code, plain class.
      const error = new StateFlowError('TOO_LARGE', `an incoming frame is over the ${this.maxFrameBytes}-byte bound`)
      this.ended({ local: true, reason: error.message, error })
    } else if (typeof code === 'string' && code.startsWith('WS_ERR_')) {
      const error = protocolError(`the peer broke the WebSocket protocol: ${(err as Error).message}`)
      this.ended({ local: true, reason: error.message, error })
    }
  }

  private socketClosed(code: number, reason: string): void {
    this.release()
    if (this.closed) return
    const why = reason === '' ? undefined : reason
    const base = why !== undefined ? { local: false, reason: why } : { local: false }
    if (code === NORMAL || code === GOING_AWAY || code === NO_STATUS) return this.ended(base)
    let error: Error
    if (code === TOO_BIG) error = new StateFlowError('TOO_LARGE', `the peer refused a frame over its bound${why ? `: ${why}` : ''}`)
    else if (code === VIOLATION) error = protocolError(`the peer ended the connection: ${why ?? 'protocol violation'}`)
    else error = new ConnectError(`connection to ${this.remote} lost (close code ${code})`, { cause: this.lastError })
    this.ended({ ...base, error })
  }

  private release(): void {
    const err = new Error('closed')
    for (const w of [...this.waiting]) w(err)
  }
}

type Require = (id: string) => unknown
let wsModule: WebSocketConstructor | undefined
/** `ws` loaded through `createRequire`: invisible to bundlers, absent outside Node. */
function loadWs(): WebSocketConstructor | undefined {
  if (wsModule) return wsModule
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  try {
    const mod = proc?.getBuiltinModule?.('node:module') as { createRequire(url: string): Require } | undefined
    const ws = mod?.createRequire(import.meta.url)('ws') as { WebSocket?: WebSocketConstructor } | undefined
    wsModule = ws?.WebSocket
  } catch {
    wsModule = undefined
  }
  return wsModule
}

/** The WebSocket class to dial with, and whether it takes ws's options (maxPayload). */
export function resolveWebSocket(given?: WebSocketConstructor): { Ctor: WebSocketConstructor; ws: boolean } | undefined {
  if (given) return { Ctor: given, ws: typeof (given.prototype as Partial<WsSocket>)?.on === 'function' }
  const native = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (native) return { Ctor: native, ws: false }
  const ws = loadWs()
  return ws ? { Ctor: ws, ws: true } : undefined
}

/** A `ws:`/`wss:` URL, or an INVALID_ARGUMENT error. */
export function parseWebSocketUrl(address: string): URL {
  let url: URL
  try {
    url = new URL(address)
  } catch {
    throw new InvalidArgumentError(`not a URL: ${String(address)}`)
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new InvalidArgumentError(`not a ws:// or wss:// address: ${address}`)
  return url
}

function positive(n: number | undefined, fallback: number, what: string): number {
  if (n === undefined) return fallback
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive integer`)
  return n
}

/** The options with their defaults, checked once. */
export interface WebSocketSettings {
  WebSocket: WebSocketConstructor | undefined
  maxFrameBytes: number
  highWaterMark: number
  connectTimeoutMs: number
}

export function webSocketSettings(options: WebSocketTransportOptions = {}): WebSocketSettings {
  return {
    WebSocket: options.WebSocket,
    maxFrameBytes: positive(options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 'maxFrameBytes'),
    highWaterMark: positive(options.highWaterMark, DEFAULT_HIGH_WATER_MARK, 'highWaterMark'),
    connectTimeoutMs: positive(options.connectTimeoutMs, 10_000, 'connectTimeoutMs'),
  }
}

/** Open one WebSocket to `address`; the connection exists from the moment it is open. */
export async function dialWebSocket(address: string, settings: WebSocketSettings): Promise<WebSocketConnection> {
  const url = parseWebSocketUrl(address)
  const { maxFrameBytes, highWaterMark, connectTimeoutMs: timeout } = settings
  const impl = resolveWebSocket(settings.WebSocket)
  if (!impl) throw new ConnectError('no WebSocket here: pass options.WebSocket, or install ws')
  return new Promise((resolve, reject) => {
    let socket: WebSocketLike
    try {
      socket = impl.ws ? new impl.Ctor(url.href, undefined, { maxPayload: maxFrameBytes }) : new impl.Ctor(url.href)
    } catch (err) {
      reject(new ConnectError(`cannot open ${address}: ${(err as Error).message}`, { cause: err }))
      return
    }
    let settled = false
    let lastError: unknown
    const fail = (why: string): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      try {
        socket.close()
      } catch {
        // Not open yet: the socket is dropped either way.
      }
      reject(new ConnectError(`${address}: ${why}`, { cause: lastError }))
    }
    const timer = setTimeout(() => fail(`not open after ${timeout} ms`), timeout)
    socket.addEventListener('open', () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      // Made here, synchronously, so no message can arrive before its listener is on.
      resolve(new WebSocketConnection(socket, address, maxFrameBytes, highWaterMark))
    })
    socket.addEventListener('error', (ev: { error?: unknown; message?: string }) => {
      lastError = ev.error ?? ev.message
      fail(`connection failed${ev.message ? `: ${ev.message}` : ''}`)
    })
    socket.addEventListener('close', (ev: { code: number }) => fail(`closed while opening (code ${ev.code})`))
  })
}

export interface WebSocketTransport extends Transport {
  /** Close every connection this transport dialed. */
  close(): Promise<void>
}

/** A dial-only WebSocket transport: `ws://` and `wss://` addresses. */
export function webSocketTransport(options: WebSocketTransportOptions = {}): WebSocketTransport {
  const settings = webSocketSettings(options)
  const open = new Set<Connection>()
  return {
    kind: 'websocket',
    canDial: (address) => /^wss?:\/\//i.test(address),
    async dial(address) {
      const conn = await dialWebSocket(address, settings)
      open.add(conn)
      conn.onClose(() => open.delete(conn))
      return conn
    },
    async close() {
      await Promise.all([...open].map((c) => c.close('transport closed')))
    },
  }
}
