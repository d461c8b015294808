/**
 * HTTP + server-sent events: a transport that passes through ordinary web infrastructure
 * (proxies, CDNs, serverless and edge runtimes) where WebSockets may not. Browser-safe: it uses
 * only the fetch API. `httpSseServer({ url })` is the listening side, a fetch-API `handler` to
 * mount anywhere (Node: `toNodeListener` from `stateflow/transports/http-node`); `httpSseTransport()`
 * dials `http://` and `https://` addresses.
 *
 * Wire protocol (v1), every request to the one URL the handler is mounted at:
 * - `GET ?max=<client frame bound>` opens a session: `200 text/event-stream`. The first event is
 *   `event: open` with JSON `{ v, session, token, maxFrameBytes, heartbeatMs }`; the bound is the
 *   smaller of the two sides', so both ends use the same one. Then each frame from the server is
 *   one `data:` line of base64 (one event carries several frames); `event: close` with JSON
 *   `{ reason? }` ends the session, and so does the stream ending. `:` lines are heartbeats.
 * - `POST ?session=<id>&seq=<n>`, header `x-stateflow-token: <token>`: frames upstream, the body
 *   records of a 4-byte big-endian length and that many bytes. `seq` counts POSTs from 0; the
 *   server applies them in `seq` order, holds a few that come early, and answers a repeat of an
 *   applied one without applying it again, so retried or reordered POSTs cannot reorder or
 *   duplicate frames. `204` once applied. With `&close` the body is JSON `{ reason? }`: the
 *   client's close, in sequence after its frames.
 * - Errors: 400 malformed, 403 wrong token, 404 unknown session, 405 other methods, 409 `seq`
 *   out of the window, 413 body over the bound (a frame over the bound also ends the session as
 *   TOO_LARGE), 503 not listening.
 */
import { ClosedError, InvalidArgumentError, StateFlowError } from '../errors.js'
import { BaseConnection } from './base-connection.js'
import { ConnectError, DEFAULT_MAX_FRAME_BYTES, FrameTooLargeError, type CloseInfo, type Connection, type Listening, type Transport } from './transport.js'

const VERSION = 1
const TOKEN_HEADER = 'x-stateflow-token'
/** Frame bytes per upstream POST and per downstream event; a larger frame travels alone. */
const BATCH_BYTES = 256 * 1024
/** Bytes a side buffers before `send` waits: a few batches, so the pipe stays full. */
const HIGH_WATER = 1024 * 1024
/** POSTs a client has in flight: the next batch travels while the server applies the last. */
const MAX_IN_FLIGHT = 2
/** How far ahead of the next expected `seq` the server holds a POST. */
const SEQ_WINDOW = 8
const POST_RETRIES = 3
/** How long a closing side waits for its close to go out (or a gone session to say why). */
const CLOSE_WAIT_MS = 5_000
/** Close reasons are cut to this many UTF-16 units, so a close always fits in one line. */
const MAX_REASON = 8192

// ---------------------------------------------------------------------------------------------
// Bytes: base64 straight into and out of byte buffers (no strings per frame), length prefixes.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const PAD = 61 // '='
const LF = 10
const CR = 13
const COLON = 58

// Tables for 12 bits (two characters) at a time: half the lookups of the plain method. Built
// on first use, so importing the main entry costs nothing.
let enc12: Uint16Array | undefined // 12 bits -> two ASCII characters, high byte first
let dec12: Int16Array | undefined // two ASCII characters -> 12 bits, -1 if not base64
let dec6: Int8Array | undefined // one ASCII character -> 6 bits, -1 if not base64

function encodeTable(): Uint16Array {
  if (enc12 !== undefined) return enc12
  enc12 = new Uint16Array(4096)
  for (let i = 0; i < 4096; i++) enc12[i] = (ALPHABET.charCodeAt(i >> 6) << 8) | ALPHABET.charCodeAt(i & 63)
  return enc12
}

function decodeTables(): [Int16Array, Int8Array] {
  if (dec12 !== undefined && dec6 !== undefined) return [dec12, dec6]
  dec6 = new Int8Array(256).fill(-1)
  for (let i = 0; i < 64; i++) dec6[ALPHABET.charCodeAt(i)] = i
  dec12 = new Int16Array(65536).fill(-1)
  for (let a = 0; a < 64; a++) for (let b = 0; b < 64; b++) dec12[(ALPHABET.charCodeAt(a) << 8) | ALPHABET.charCodeAt(b)] = (a << 6) | b
  return [dec12, dec6]
}

function base64Length(n: number): number {
  return Math.ceil(n / 3) * 4
}

/** Write `src` as base64 into `out` at `at`; returns the end offset. */
function base64Into(src: Uint8Array, out: Uint8Array, at: number): number {
  const enc = encodeTable()
  const whole = src.length - (src.length % 3)
  let i = 0
  for (; i < whole; i += 3) {
    const v = (src[i] << 16) | (src[i + 1] << 8) | src[i + 2]
    const hi = enc[v >>> 12]
    const lo = enc[v & 4095]
    out[at] = hi >> 8
    out[at + 1] = hi
    out[at + 2] = lo >> 8
    out[at + 3] = lo
    at += 4
  }
  const rest = src.length - whole
  if (rest > 0) {
    const v = (src[i] << 16) | (rest === 2 ? src[i + 1] << 8 : 0)
    const hi = enc[v >>> 12]
    out[at] = hi >> 8
    out[at + 1] = hi
    out[at + 2] = rest === 2 ? enc[v & 4095] >> 8 : PAD
    out[at + 3] = PAD
    at += 4
  }
  return at
}

/** Decode base64 bytes; undefined if they are not base64. */
function base64Decode(src: Uint8Array): Uint8Array | undefined {
  const [d12, d6] = decodeTables()
  const n = src.length
  if (n % 4 !== 0) return undefined
  const pad = n > 0 && src[n - 1] === PAD ? (src[n - 2] === PAD ? 2 : 1) : 0
  const out = new Uint8Array((n / 4) * 3 - pad)
  const full = pad > 0 ? n - 4 : n
  let o = 0
  for (let i = 0; i < full; i += 4) {
    const hi = d12[(src[i] << 8) | src[i + 1]]
    const lo = d12[(src[i + 2] << 8) | src[i + 3]]
    if ((hi | lo) < 0) return undefined
    const v = (hi << 12) | lo
    out[o] = v >>> 16
    out[o + 1] = v >>> 8
    out[o + 2] = v
    o += 3
  }
  if (pad > 0) {
    const hi = d12[(src[full] << 8) | src[full + 1]]
    const c = pad === 1 ? d6[src[full + 2]] : 0
    if ((hi | c) < 0) return undefined
    const v = (hi << 12) | (c << 6)
    out[o] = v >>> 16
    if (pad === 1) out[o + 1] = v >>> 8
  }
  return out
}

function concat(parts: Uint8Array[], total: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Frames as length-prefixed records; `total` counts the prefixes. */
function encodeRecords(frames: Uint8Array[], total: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(total)
  const view = new DataView(out.buffer)
  let at = 0
  for (const f of frames) {
    view.setUint32(at, f.length)
    out.set(f, at + 4)
    at += 4 + f.length
  }
  return out
}

/** Split records; undefined when a length prefix is cut short or points past the end. */
function parseRecords(body: Uint8Array): Uint8Array[] | undefined {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const frames: Uint8Array[] = []
  let at = 0
  while (at < body.length) {
    if (body.length - at < 4) return undefined
    const len = view.getUint32(at)
    at += 4
    if (len > body.length - at) return undefined
    frames.push(body.slice(at, at + len))
    at += len
  }
  return frames
}

const utf8 = new TextEncoder()
const text = new TextDecoder()

function reasonJson(reason: string | undefined): string {
  return JSON.stringify(reason !== undefined ? { reason: reason.slice(0, MAX_REASON) } : {})
}

/** The reason in a close body; null when the body is not a close at all. */
function readReason(bytes: Uint8Array): { reason?: string } | null {
  try {
    const v: unknown = JSON.parse(text.decode(bytes))
    if (typeof v !== 'object' || v === null) return null
    const reason = (v as { reason?: unknown }).reason
    if (reason === undefined) return {}
    return typeof reason === 'string' ? { reason } : null
  } catch {
    return null
  }
}

// ---------------------------------------------------------------------------------------------
// Server-sent events: the server writes them, the client parses them from raw bytes.

const DATA = utf8.encode('data: ')
const HEARTBEAT = { raw: utf8.encode(':\n\n') }

/** What waits to go down a stream: a frame, or bytes already in SSE form. */
type Outgoing = Uint8Array | { raw: Uint8Array }

function sseEvent(type: string, json: string): { raw: Uint8Array } {
  return { raw: utf8.encode(`event: ${type}\ndata: ${json}\n\n`) }
}

/** Everything pending as one chunk: runs of frames become events of at most BATCH_BYTES each. */
function encodeOutgoing(items: Outgoing[]): Uint8Array {
  // Two passes over the same walk: measure, then write into one buffer.
  const walk = (out: Uint8Array | undefined): number => {
    let at = 0
    let run = -1 // frame bytes in the open event; -1 when none is open
    const endEvent = (): void => {
      if (run < 0) return
      if (out) out[at] = LF
      at++
      run = -1
    }
    for (const item of items) {
      if (item instanceof Uint8Array) {
        if (run > 0 && run + item.length > BATCH_BYTES) endEvent()
        if (run < 0) run = 0
        if (out) {
          out.set(DATA, at)
          at = base64Into(item, out, at + DATA.length)
          out[at++] = LF
        } else at += DATA.length + base64Length(item.length) + 1
        run += item.length
      } else {
        endEvent()
        if (out) out.set(item.raw, at)
        at += item.raw.length
      }
    }
    endEvent()
    return at
  }
  const out = new Uint8Array(walk(undefined))
  walk(out)
  return out
}

/**
 * An SSE parser over bytes. A line split across chunks is kept as a list of pieces and joined
 * once when its end arrives, so each byte is copied at most once. Lines end in LF or CRLF (the
 * server writes LF; a lone CR as a line end is not supported).
 */
class SseParser {
  private carry: Uint8Array[] = []
  private carried = 0
  private type = ''
  private data: Uint8Array[] = []

  constructor(
    private readonly maxLine: number,
    private readonly onEvent: (type: string, data: Uint8Array[]) => void,
  ) {}

  /** Length of a line that ran over the bound (the server broke the protocol); push then fails. */
  overLong = 0

  /** Feed a chunk; false when a line runs over the bound. */
  push(chunk: Uint8Array): boolean {
    let start = 0
    for (let nl = chunk.indexOf(LF); nl >= 0; nl = chunk.indexOf(LF, start)) {
      let line = chunk.subarray(start, nl)
      if (this.carried > 0) {
        this.carry.push(line)
        line = concat(this.carry, this.carried + line.length)
        this.carry = []
        this.carried = 0
      }
      start = nl + 1
      if (line.length > this.maxLine) {
        this.overLong = line.length
        return false
      }
      this.line(line)
    }
    if (start < chunk.length) {
      this.carried += chunk.length - start
      if (this.carried > this.maxLine) {
        this.overLong = this.carried
        return false
      }
      this.carry.push(chunk.subarray(start))
    }
    return true
  }

  private line(line: Uint8Array): void {
    const end = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length
    if (end === 0) return this.dispatch()
    if (line[0] === COLON) return // a comment: heartbeat
    let colon = line.indexOf(COLON)
    if (colon < 0 || colon > end) colon = end
    const field = colon <= 8 ? String.fromCharCode(...line.subarray(0, colon)) : ''
    let v = colon + 1
    if (v < end && line[v] === 32) v++
    const value = line.subarray(Math.min(v, end), end)
    if (field === 'data') this.data.push(value)
    else if (field === 'event') this.type = text.decode(value)
    // `id` and `retry` mean nothing here: a reconnect is a new dial.
  }

  private dispatch(): void {
    const type = this.type || 'message'
    const data = this.data
    this.type = ''
    this.data = []
    if (data.length > 0) this.onEvent(type, data)
  }
}

/** An event's data lines joined with LF, as SSE defines its data. */
function joinLines(data: Uint8Array[]): Uint8Array {
  if (data.length === 1) return data[0]
  const parts = data.flatMap((d, i) => (i > 0 ? [NEWLINE, d] : [d]))
  return concat(
    parts,
    parts.reduce((n, p) => n + p.length, 0),
  )
}
const NEWLINE = new Uint8Array([LF])

// ---------------------------------------------------------------------------------------------
// Shared bits.

function positiveInt(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`)
  return value
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18))
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}

/** Compare secrets without an early exit on the first difference. */
function sameSecret(given: string | null, secret: string): boolean {
  if (given === null || given.length !== secret.length) return false
  let diff = 0
  for (let i = 0; i < secret.length; i++) diff |= given.charCodeAt(i) ^ secret.charCodeAt(i)
  return diff === 0
}

function unref(timer: unknown): void {
  ;(timer as { unref?: () => void }).unref?.()
}

function protocolError(message: string): StateFlowError {
  const err = new StateFlowError('PROTOCOL', message)
  err.name = 'ProtocolError'
  return err
}

interface Sender {
  resolve: () => void
  reject: (err: Error) => void
}

// ---------------------------------------------------------------------------------------------
// Server side.

export interface HttpSseServerOptions {
  /** The public URL the handler is mounted at: what `listen` gives as the address to dial. */
  url: string
  /** The frame bound; a dialer asking for less gets less. @default DEFAULT_MAX_FRAME_BYTES */
  maxFrameBytes?: number
  /** An idle stream gets a comment this often, so proxies keep it open. @default 15 000 */
  heartbeatMs?: number
  /**
   * A connection whose event stream takes nothing for this long while data waits for it (a
   * vanished or stuck client; some runtimes never report a disconnect) is ended. @default 60 000
   */
  idleTimeoutMs?: number
}

export interface HttpSseServer extends Transport {
  /** The fetch-API handler: mount it at `url` (Node: `toNodeListener(handler)`). Never throws. */
  readonly handler: (req: Request) => Promise<Response>
  listen(onConnection: (conn: Connection) => void): Promise<Listening>
  close(): Promise<void>
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  // Tell nginx-style proxies not to buffer the stream.
  'x-accel-buffering': 'no',
}

function plain(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(message, { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers } })
}

/** The request body, or `too-large` past `limit` (read no further), or undefined if unreadable. */
async function readBody(req: Request, limit: number): Promise<Uint8Array | 'too-large' | undefined> {
  const declared = Number(req.headers.get('content-length') ?? '0')
  if (declared > limit) return 'too-large'
  if (req.body === null) return new Uint8Array(0)
  const reader = req.body.getReader()
  const parts: Uint8Array[] = []
  let total = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.length
      if (total > limit) {
        void reader.cancel().catch(() => {})
        return 'too-large'
      }
      parts.push(value)
    }
  } catch {
    return undefined
  }
  return concat(parts, total)
}

interface Held {
  apply: () => number
  answer: (status: number) => void
}

class ServerConnection extends BaseConnection {
  readonly stream: ReadableStream<Uint8Array>
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined
  private nextSeq = 0
  private readonly held = new Map<number, Held>()
  private pending: Outgoing[] = []
  private pendingBytes = 0
  /** When data started waiting for a reader that has not come to take it. */
  private waitingSince: number | undefined
  /** Set while the stream's reader waits for data. */
  private wake: (() => void) | undefined
  private finishing = false
  private streamOver = false
  private finishTimer: ReturnType<typeof setTimeout> | undefined
  /** Something went down the stream since the last heartbeat tick. */
  private active = false
  private readonly senders: Sender[] = []
  private readonly ticker: ReturnType<typeof setInterval>

  constructor(
    readonly session: string,
    readonly token: string,
    maxFrameBytes: number,
    heartbeatMs: number,
    private readonly idleTimeoutMs: number,
    private readonly forget: (c: ServerConnection) => void,
  ) {
    super(`http-sse:${session}`, maxFrameBytes)
    // highWaterMark 0: we are asked for data only when the reader wants it, so pending frames
    // pile up (and go as one chunk) while the socket is busy, and a stalled reader shows.
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.controller = c
        },
        pull: (c) => this.pull(c),
        cancel: () => {
          this.streamDone()
          this.dropped('the event stream was cancelled (the client went away)')
        },
      },
      { highWaterMark: 0 },
    )
    this.ticker = setInterval(() => this.tick(), heartbeatMs)
    unref(this.ticker)
    const hello = { v: VERSION, session, token, maxFrameBytes, heartbeatMs }
    this.queue(sseEvent('open', JSON.stringify(hello)))
  }

  protected async transmit(frame: Uint8Array): Promise<void> {
    this.queue(frame.slice())
    if (this.pendingBytes <= HIGH_WATER) return
    return new Promise((resolve, reject) => this.senders.push({ resolve, reject }))
  }

  protected shutdown(reason?: string): void {
    this.queue(sseEvent('close', reasonJson(reason)))
    this.finish()
  }

  protected override ended(info: CloseInfo): void {
    if (this.closed) return
    super.ended(info)
    clearInterval(this.ticker)
    this.forget(this)
    for (const h of this.held.values()) h.answer(404)
    this.held.clear()
    if (info.local) {
      // Frames already taken still go down the stream before the close event (shutdown).
      for (const s of this.senders.splice(0)) s.resolve()
    } else {
      const err = new ClosedError(`connection to ${this.remote}`)
      for (const s of this.senders.splice(0)) s.reject(err)
      this.finish()
    }
  }

  /** The downstream is gone or stuck: the connection has failed and the stream is cut. */
  dropped(why: string): void {
    const error = new ConnectError(why)
    this.ended({ local: false, error })
    try {
      this.controller?.error(error)
    } catch {
      // Already closed or cancelled.
    }
    this.streamDone()
  }

  /** Apply POST `seq` in order; resolves with the HTTP status to answer it with. */
  submit(seq: number, apply: () => number): Promise<number> {
    if (this.closed) return Promise.resolve(404)
    if (seq < this.nextSeq) return Promise.resolve(204) // a retry of one already applied
    if (seq >= this.nextSeq + SEQ_WINDOW) return Promise.resolve(409)
    return new Promise((answer) => {
      this.held.get(seq)?.answer(409) // a retry replaces the copy still waiting
      this.held.set(seq, { apply, answer })
      for (let h = this.held.get(this.nextSeq); h !== undefined && !this.closed; h = this.held.get(this.nextSeq)) {
        this.held.delete(this.nextSeq)
        this.nextSeq++
        h.answer(h.apply())
      }
    })
  }

  receive(frames: Uint8Array[]): number {
    for (const f of frames) {
      this.deliver(f)
      if (this.closed) break
    }
    return this.closeInfo?.error instanceof FrameTooLargeError ? 413 : 204
  }

  remoteClose(reason: string | undefined): number {
    this.ended({ local: false, ...(reason !== undefined ? { reason } : {}) })
    return 204
  }

  private queue(item: Outgoing): void {
    if (this.streamOver) return
    this.pending.push(item)
    this.pendingBytes += item instanceof Uint8Array ? item.length : item.raw.length
    this.active = true
    this.waitingSince ??= Date.now()
    this.wake?.()
  }

  private async pull(c: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    while (this.pending.length === 0 && !this.finishing) await new Promise<void>((r) => (this.wake = r))
    this.wake = undefined
    try {
      if (this.pending.length > 0) {
        // One batch per pull: on a slow link the reader still comes back often, so a stall
        // (no pull for idleTimeoutMs) means a dead reader, not a big chunk.
        let take = 0
        let bytes = 0
        for (const item of this.pending) {
          const n = item instanceof Uint8Array ? item.length : item.raw.length
          if (take > 0 && bytes + n > BATCH_BYTES) break
          bytes += n
          take++
        }
        const items = this.pending.splice(0, take)
        this.pendingBytes -= bytes
        this.waitingSince = this.pending.length > 0 ? Date.now() : undefined
        c.enqueue(encodeOutgoing(items))
        if (this.pendingBytes <= HIGH_WATER) for (const s of this.senders.splice(0)) s.resolve()
      }
      if (this.finishing && this.pending.length === 0) {
        c.close()
        this.streamDone()
      }
    } catch {
      // The stream was cancelled meanwhile; cancel() has ended the connection.
    }
  }

  /** End the stream once what is pending has gone; a reader that never takes it is cut off. */
  private finish(): void {
    if (this.finishing) return
    this.finishing = true
    this.wake?.()
    if (this.streamOver) return
    this.finishTimer = setTimeout(() => {
      try {
        this.controller?.error(new ConnectError('the event stream did not drain'))
      } catch {
        // Already closed.
      }
      this.streamDone()
    }, this.idleTimeoutMs)
    unref(this.finishTimer)
  }

  private streamDone(): void {
    this.streamOver = true
    this.pending = []
    clearTimeout(this.finishTimer)
  }

  private tick(): void {
    if (this.waitingSince !== undefined && Date.now() - this.waitingSince > this.idleTimeoutMs) {
      this.dropped(`the event stream took nothing for ${this.idleTimeoutMs} ms`)
      return
    }
    if (!this.active) this.queue(HEARTBEAT)
    this.active = false
  }
}

/** The listening side of HTTP + SSE; see the module comment for the protocol. */
export function httpSseServer(options: HttpSseServerOptions): HttpSseServer {
  let url: URL
  try {
    url = new URL(options.url)
  } catch {
    throw new InvalidArgumentError(`url must be an absolute http(s) URL, got ${options.url}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`url must be http: or https:, got ${options.url}`)
  const maxFrameBytes = positiveInt(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, 'maxFrameBytes')
  const heartbeatMs = positiveInt(options.heartbeatMs ?? 15_000, 'heartbeatMs')
  const idleTimeoutMs = positiveInt(options.idleTimeoutMs ?? 60_000, 'idleTimeoutMs')
  const sessions = new Map<string, ServerConnection>()
  let accept: ((c: Connection) => void) | undefined

  const forget = (c: ServerConnection): void => {
    if (sessions.get(c.session) === c) sessions.delete(c.session)
  }

  function open(req: Request, params: URLSearchParams): Response {
    if (accept === undefined) return plain(503, 'not accepting connections')
    let max = maxFrameBytes
    const asked = params.get('max')
    if (asked !== null) {
      if (!/^[1-9]\d{0,14}$/.test(asked)) return plain(400, 'max must be a positive integer')
      max = Math.min(max, Number(asked))
    }
    const conn = new ServerConnection(randomId(), randomId(), max, heartbeatMs, idleTimeoutMs, forget)
    sessions.set(conn.session, conn)
    // Some runtimes report a client going away only through the signal, others by cancelling the body.
    const signal = req.signal as AbortSignal | undefined
    signal?.addEventListener('abort', () => conn.dropped('the request was aborted (the client went away)'), { once: true })
    try {
      accept(conn)
    } catch {
      // The application's bug is not the client's.
    }
    return new Response(conn.stream, { status: 200, headers: SSE_HEADERS })
  }

  async function post(req: Request, params: URLSearchParams): Promise<Response> {
    const conn = sessions.get(params.get('session') ?? '')
    if (conn === undefined) return plain(404, 'no such session')
    if (!sameSecret(req.headers.get(TOKEN_HEADER), conn.token)) return plain(403, 'wrong token')
    const seq = params.get('seq')
    if (seq === null || !/^\d{1,15}$/.test(seq)) return plain(400, 'seq must be a non-negative integer')
    const body = await readBody(req, conn.maxFrameBytes + 4 + BATCH_BYTES)
    if (body === 'too-large') return plain(413, 'body too large')
    if (body === undefined) return plain(400, 'unreadable body')
    let apply: () => number
    if (params.has('close')) {
      const close = readReason(body)
      if (close === null) return plain(400, 'a close body is JSON { reason? }')
      apply = () => conn.remoteClose(close.reason)
    } else {
      const frames = parseRecords(body)
      if (frames === undefined) return plain(400, 'malformed length prefix')
      apply = () => conn.receive(frames)
    }
    const status = await conn.submit(Number(seq), apply)
    if (status === 204) return new Response(null, { status })
    const why: Record<number, string> = { 404: 'no such session', 409: 'seq outside the window', 413: 'frame too large' }
    return plain(status, why[status] ?? 'refused')
  }

  async function handler(req: Request): Promise<Response> {
    try {
      const params = new URL(req.url).searchParams
      if (req.method === 'GET') return open(req, params)
      if (req.method === 'POST') return await post(req, params)
      return plain(405, 'use GET or POST', { allow: 'GET, POST' })
    } catch {
      return plain(500, 'internal error')
    }
  }

  return {
    kind: 'http-sse',
    handler,
    canDial: () => false,
    async dial(address) {
      throw new ConnectError(`httpSseServer does not dial (${address}); dial with httpSseTransport()`)
    },
    async listen(onConnection) {
      if (accept !== undefined) throw new ConnectError(`already listening at ${options.url}`)
      const mine = (c: Connection): void => onConnection(c)
      accept = mine
      return {
        addresses: [options.url],
        async close() {
          if (accept === mine) accept = undefined
        },
      }
    },
    async close() {
      accept = undefined
      await Promise.all([...sessions.values()].map((c) => c.close('transport closed')))
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Client side.

export interface HttpSseTransportOptions {
  /** The fetch to use (a proxy-aware one, a test double). @default globalThis.fetch */
  fetch?: typeof fetch
  /** The largest frame this side accepts; the server may lower it. @default DEFAULT_MAX_FRAME_BYTES */
  maxFrameBytes?: number
  /** Headers sent with every request (authentication, for example). */
  headers?: Record<string, string>
  /** A dial with no session open by then fails with CONNECT. @default 10 000 */
  connectTimeoutMs?: number
}

interface Hello {
  session: string
  token: string
  maxFrameBytes: number
  heartbeatMs: number
}

function readHello(data: Uint8Array[], max: number): Hello | undefined {
  try {
    const v = JSON.parse(text.decode(joinLines(data))) as Partial<Hello> & { v?: unknown }
    if (v.v !== VERSION || typeof v.session !== 'string' || typeof v.token !== 'string') return undefined
    if (!Number.isSafeInteger(v.maxFrameBytes) || v.maxFrameBytes! < 1 || v.maxFrameBytes! > max) return undefined
    if (typeof v.heartbeatMs !== 'number' || !(v.heartbeatMs > 0)) return undefined
    return v as Hello
  } catch {
    return undefined
  }
}

type FetchFn = (input: string, init?: RequestInit) => Promise<Response>

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

class ClientConnection extends BaseConnection {
  /** Frames (copied) and the close, waiting for a POST. */
  private queue: (Uint8Array | { close: string | undefined })[] = []
  /** Bytes queued or in flight. */
  private buffered = 0
  private inFlight = 0
  private seq = 0
  /** No more POSTs: the session is over or going. */
  private stopped = false
  private readonly senders: Sender[] = []
  private closeSent: (() => void) | undefined
  private lastHeard = Date.now()
  private readonly watchdog: ReturnType<typeof setInterval>
  private goneTimer: ReturnType<typeof setTimeout> | undefined

  constructor(
    address: string,
    private readonly base: URL,
    private readonly hello: Hello,
    private readonly doFetch: FetchFn,
    private readonly headers: Record<string, string>,
    private readonly stream: AbortController,
  ) {
    super(address, hello.maxFrameBytes)
    // A stream that hears nothing, not even heartbeats, is dead in a way TCP has not noticed.
    const silence = Math.max(3 * hello.heartbeatMs, 30_000)
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastHeard > silence) this.fail(new ConnectError(`heard nothing from ${address} for ${silence} ms`))
    }, Math.max(hello.heartbeatMs, 1_000))
    unref(this.watchdog)
  }

  heard(): void {
    this.lastHeard = Date.now()
  }

  /** One event from the stream. */
  event(type: string, data: Uint8Array[]): void {
    if (type === 'message') {
      for (const line of data) {
        const frame = base64Decode(line)
        if (frame === undefined) return this.fail(protocolError('a frame on the event stream is not base64'))
        this.deliver(frame)
        if (this.closed) return
      }
    } else if (type === 'close') {
      const close = readReason(joinLines(data)) ?? {}
      this.ended({ local: false, ...(close.reason !== undefined ? { reason: close.reason } : {}) })
    }
    // Other event types are for later protocol versions.
  }

  /** The stream ended or broke. After a close of ours that is expected; otherwise the connection failed. */
  streamEnded(error: unknown): void {
    if (this.closed) return
    this.fail(error instanceof StateFlowError ? error : new ConnectError('the event stream ended', { cause: error }))
  }

  protected transmit(frame: Uint8Array): Promise<void> {
    if (this.stopped) return Promise.reject(new ClosedError(`connection to ${this.remote}`))
    this.queue.push(frame.slice())
    this.buffered += 4 + frame.length
    this.pump()
    if (this.buffered <= HIGH_WATER) return Promise.resolve()
    return new Promise((resolve, reject) => this.senders.push({ resolve, reject }))
  }

  protected async shutdown(reason?: string): Promise<void> {
    if (!this.stopped) {
      // The close follows the queued frames; wait (bounded) for it to land, then drop the stream.
      const sent = new Promise<void>((r) => (this.closeSent = r))
      this.queue.push({ close: reason })
      this.pump()
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([sent, new Promise<void>((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))])
      clearTimeout(timer)
      this.stopped = true
    }
    this.stream.abort()
  }

  protected override ended(info: CloseInfo): void {
    if (this.closed) return
    super.ended(info)
    clearInterval(this.watchdog)
    clearTimeout(this.goneTimer)
    if (info.local) {
      // Frames already taken still go, before the close (shutdown).
      for (const s of this.senders.splice(0)) s.resolve()
      return
    }
    this.stop()
    this.stream.abort()
  }

  private fail(error: Error): void {
    this.stop()
    this.ended({ local: false, error })
  }

  private stop(): void {
    this.stopped = true
    this.queue = []
    const err = new ClosedError(`connection to ${this.remote}`)
    for (const s of this.senders.splice(0)) s.reject(err)
  }

  /** Start POSTs while there is room: each takes every queued frame up to BATCH_BYTES. */
  private pump(): void {
    while (!this.stopped && this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0) {
      const head = this.queue[0]
      if (!(head instanceof Uint8Array)) {
        this.queue.shift()
        void this.post(this.seq++, utf8.encode(reasonJson(head.close)), 0, true)
        continue
      }
      let take = 0
      let bytes = 0
      for (const f of this.queue) {
        if (!(f instanceof Uint8Array) || (take > 0 && bytes + 4 + f.length > BATCH_BYTES)) break
        bytes += 4 + f.length
        take++
      }
      const frames = this.queue.splice(0, take) as Uint8Array[]
      void this.post(this.seq++, encodeRecords(frames, bytes), bytes, false)
    }
  }

  private async post(seq: number, body: Uint8Array<ArrayBuffer>, bytes: number, close: boolean): Promise<void> {
    this.inFlight++
    const url = new URL(this.base)
    url.searchParams.set('session', this.hello.session)
    url.searchParams.set('seq', String(seq))
    if (close) url.searchParams.set('close', '')
    const outcome = await this.attempt(url.href, body)
    this.inFlight--
    this.buffered -= bytes
    if (outcome === 'gone') this.gone()
    else if (outcome instanceof Error) this.fail(outcome)
    if (close) this.closeSent?.()
    if (this.buffered <= HIGH_WATER) for (const s of this.senders.splice(0)) s.resolve()
    this.pump()
  }

  /** One POST, retried on network errors and 5xx: `seq` makes a repeat harmless. */
  private async attempt(url: string, body: Uint8Array<ArrayBuffer>): Promise<'ok' | 'gone' | Error> {
    const headers = { ...this.headers, 'content-type': 'application/octet-stream', [TOKEN_HEADER]: this.hello.token }
    for (let attempt = 0; ; attempt++) {
      let status: number
      try {
        const res = await this.doFetch(url, { method: 'POST', headers, body })
        status = res.status
        await res.arrayBuffer().catch(() => undefined) // so the HTTP connection can be reused
      } catch (cause) {
        if (this.stopped) return 'ok'
        if (attempt >= POST_RETRIES) return new ConnectError(`POST to ${this.remote} failed`, { cause })
        await sleep(100 * 2 ** attempt)
        continue
      }
      if (status >= 200 && status < 300) return 'ok'
      if (status === 404) return 'gone'
      if (status >= 500 && attempt < POST_RETRIES && !this.stopped) {
        await sleep(100 * 2 ** attempt)
        continue
      }
      return status >= 500 ? new ConnectError(`${this.remote} answered ${status} to a POST`) : protocolError(`${this.remote} answered ${status} to a POST`)
    }
  }

  /** The server no longer knows the session; its stream is about to say why (or just end). */
  private gone(): void {
    this.stop()
    if (this.closed) return
    this.goneTimer = setTimeout(() => this.fail(new ConnectError(`${this.remote} ended the session`)), CLOSE_WAIT_MS)
    unref(this.goneTimer)
  }
}

const HTTP_ADDRESS = /^https?:\/\//i

async function dialSession(address: string, doFetch: FetchFn, max: number, headers: Record<string, string>, connectTimeoutMs: number): Promise<ClientConnection> {
  if (!HTTP_ADDRESS.test(address)) throw new ConnectError(`not an http(s) address: ${address}`)
  let base: URL
  try {
    base = new URL(address)
  } catch (cause) {
    throw new ConnectError(`not a URL: ${address}`, { cause })
  }
  const url = new URL(base)
  url.searchParams.set('max', String(max))
  const stream = new AbortController()
  const timer = setTimeout(() => stream.abort(), connectTimeoutMs)
  try {
    let res: Response
    try {
      res = await doFetch(url.href, { headers: { ...headers, accept: 'text/event-stream' }, signal: stream.signal })
    } catch (cause) {
      throw new ConnectError(`nobody answered at ${address}`, { cause })
    }
    const type = res.headers.get('content-type') ?? ''
    if (res.status !== 200 || res.body === null || !type.startsWith('text/event-stream')) {
      stream.abort()
      throw new ConnectError(`${address} answered ${res.status} ${type}`.trim())
    }
    return await new Promise<ClientConnection>((resolve, reject) => {
      let conn: ClientConnection | undefined
      // Events that came with the open event wait until the dialer has its connection and has
      // set its handlers: a close among them would otherwise drop the frames before it.
      let backlog: [string, Uint8Array[]][] | undefined
      const parser = new SseParser(base64Length(max) + 65_536, (type, data) => {
        if (backlog !== undefined) return void backlog.push([type, data])
        if (conn !== undefined) return conn.event(type, data)
        const hello = type === 'open' ? readHello(data, max) : undefined
        if (hello === undefined) throw protocolError(`${address} did not open a session`)
        conn = new ClientConnection(address, base, hello, doFetch, headers, stream)
        backlog = []
        resolve(conn)
      })
      const reader = res.body!.getReader()
      const read = async (): Promise<void> => {
        for (;;) {
          const { done, value } = await reader.read()
          if (done) return
          conn?.heard()
          // A line longer than any frame's base64: the server sent a frame past the bound.
          if (!parser.push(value)) throw new FrameTooLargeError(Math.floor((parser.overLong * 3) / 4), max)
          if (backlog !== undefined) {
            await new Promise((r) => setTimeout(r, 0))
            const events = backlog
            backlog = undefined
            for (const [type, data] of events) conn!.event(type, data)
          }
        }
      }
      read().then(
        () => end(undefined),
        (err: unknown) => end(err),
      )
      function end(err: unknown): void {
        if (conn !== undefined) return conn.streamEnded(err)
        stream.abort()
        reject(err instanceof ConnectError ? err : new ConnectError(`${address} ended the stream before opening a session`, { cause: err }))
      }
    })
  } finally {
    clearTimeout(timer)
  }
}

/** The dialing side of HTTP + SSE (browsers, Node, edge runtimes): dials `http(s)://` addresses. */
export function httpSseTransport(options: HttpSseTransportOptions = {}): Transport {
  const given = options.fetch
  const doFetch: FetchFn = given !== undefined ? (input, init) => given(input, init) : (input, init) => globalThis.fetch(input, init)
  const max = positiveInt(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, 'maxFrameBytes')
  const connectTimeoutMs = positiveInt(options.connectTimeoutMs ?? 10_000, 'connectTimeoutMs')
  const headers = { ...options.headers }
  const mine = new Set<ClientConnection>()
  return {
    kind: 'http-sse',
    canDial: (address) => HTTP_ADDRESS.test(address),
    async dial(address) {
      const conn = await dialSession(address, doFetch, max, headers, connectTimeoutMs)
      mine.add(conn)
      conn.onClose(() => mine.delete(conn))
      return conn
    },
    async close() {
      await Promise.all([...mine].map((c) => c.close('transport closed')))
    },
  }
}
