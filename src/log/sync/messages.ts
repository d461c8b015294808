/**
 * The sync protocol's messages (DESIGN §6): DAG-CBOR maps with a version `v` and a type `t`,
 * one per transport frame. Everything that comes off the wire is checked field by field here,
 * so the session logic only ever sees well-formed messages; anything else is a `PROTOCOL` error.
 *
 * - `hello`  { nonce }                          first message each way: the nonce the other signs
 * - `auth`   { key, sig }                       Ed25519 public key, signature over the nonces
 * - `have`   { log, id, heads, authors }        "this is what I hold; send me what I lack"
 * - `events` { log, events, re?, done?, state? } events in total order; `re` answers a `have`,
 *                                              `done` ends that answer; absent `re` is a live push
 * - `reject` { log, items }                     events of yours I refused, with the code why
 * - `error`  { code, message }                  the sender is about to close the connection
 * - `ping`   {}                                 a heartbeat on an idle connection (liveness is
 *                                              local knowledge: it never enters the log)
 *
 * Unknown message types of version 1 are ignored, so a later minor addition does not break
 * older peers; another version is refused.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { StateFlowError } from '../../errors.js'

export const PROTOCOL_VERSION = 1
/** Protocol name, also the libp2p protocol id. */
export const PROTOCOL_ID = '/stateflow/sync/1.0.0'

/** The sync protocol broke: a malformed message, an unknown version, a message out of turn. */
export class ProtocolError extends StateFlowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PROTOCOL', message, options)
    this.name = 'ProtocolError'
  }
}

/** A peer failed to prove its identity. */
export class AuthError extends StateFlowError {
  constructor(message: string) {
    super('AUTH', message)
    this.name = 'AuthError'
  }
}

/** Per author: the raw public key, the highest seq held and the chain tips (CID bytes). */
export interface AuthorVector {
  key: Uint8Array
  seq: number
  tips: Uint8Array[]
}

/** An event as it travels: its bytes and, when it carries one, its signature. */
export interface WireEvent {
  bytes: Uint8Array
  sig?: Uint8Array
}

export interface Hello {
  t: 'hello'
  nonce: Uint8Array
}
export interface Auth {
  t: 'auth'
  key: Uint8Array
  sig: Uint8Array
}
/** The most relay hops a `have` may ask for. */
export const MAX_RELAY = 8

export interface Have {
  t: 'have'
  log: string
  id: number
  heads: Uint8Array[]
  authors: AuthorVector[]
  /**
   * Relay hops: before answering, the receiver syncs the log with its other peers (with one hop
   * fewer), so the answer includes what peers reachable only through it held when asked.
   */
  relay?: number
}
export interface Events {
  t: 'events'
  log: string
  events: WireEvent[]
  re?: number
  done?: boolean
}
export interface Reject {
  t: 'reject'
  log: string
  items: { cid?: Uint8Array; code: string }[]
}
export interface ErrorMessage {
  t: 'error'
  code: string
  message: string
}
export interface Ping {
  t: 'ping'
}
export type Message = Hello | Auth | Have | Events | Reject | ErrorMessage | Ping

/** Bounds on what one message may list; the frame bound caps the bytes. */
export const LIMITS = {
  logIdBytes: 256,
  heads: 4096,
  authors: 65_536,
  tipsPerAuthor: 64,
  events: 65_536,
  rejectItems: 4096,
  text: 1024,
} as const

// --- encoding ------------------------------------------------------------------------------

export function encodeMessage(m: Message): Uint8Array {
  switch (m.t) {
    case 'hello':
      return dagCbor.encode({ v: PROTOCOL_VERSION, t: m.t, nonce: m.nonce })
    case 'auth':
      return dagCbor.encode({ v: PROTOCOL_VERSION, t: m.t, key: m.key, sig: m.sig })
    case 'have':
      return dagCbor.encode({
        v: PROTOCOL_VERSION,
        t: m.t,
        log: m.log,
        id: m.id,
        heads: m.heads,
        authors: m.authors.map((a) => [a.key, a.seq, a.tips]),
        ...(m.relay ? { relay: m.relay } : {}),
      })
    case 'events': {
      const out: Record<string, unknown> = {
        v: PROTOCOL_VERSION,
        t: m.t,
        log: m.log,
        events: m.events.map((e) => (e.sig ? [e.bytes, e.sig] : [e.bytes])),
      }
      if (m.re !== undefined) out.re = m.re
      if (m.done) out.done = true
      return dagCbor.encode(out)
    }
    case 'reject':
      return dagCbor.encode({ v: PROTOCOL_VERSION, t: m.t, log: m.log, items: m.items.map((i) => (i.cid ? [i.code, i.cid] : [i.code])) })
    case 'error':
      return dagCbor.encode({ v: PROTOCOL_VERSION, t: m.t, code: m.code, message: m.message })
    case 'ping':
      return dagCbor.encode({ v: PROTOCOL_VERSION, t: m.t })
  }
}

// --- decoding ------------------------------------------------------------------------------

const utf8 = new TextEncoder()

function fail(what: string): never {
  throw new ProtocolError(what)
}

function bytes(x: unknown, what: string, exact?: number, max = Infinity): Uint8Array {
  if (!(x instanceof Uint8Array)) fail(`${what} is not bytes`)
  if (exact !== undefined && x.length !== exact) fail(`${what} is ${x.length} bytes, not ${exact}`)
  if (x.length > max) fail(`${what} is over ${max} bytes`)
  return x
}

function uint(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) fail(`${what} is not a non-negative integer`)
  return x
}

function text(x: unknown, what: string, maxBytes: number): string {
  if (typeof x !== 'string') fail(`${what} is not a string`)
  if (x.length > maxBytes || utf8.encode(x).length > maxBytes) fail(`${what} is over ${maxBytes} bytes`)
  return x
}

function list(x: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(x)) fail(`${what} is not a list`)
  if (x.length > max) fail(`${what} lists more than ${max}`)
  return x
}

function logId(x: unknown): string {
  const id = text(x, 'log', LIMITS.logIdBytes)
  if (id.length === 0) fail('log is empty')
  return id
}

/**
 * Decode and check one frame. Throws `ProtocolError` for anything malformed; returns undefined
 * for a well-formed message of a type this version does not know (to be ignored).
 */
export function decodeMessage(frame: Uint8Array): Message | undefined {
  let raw: unknown
  try {
    raw = dagCbor.decode(frame)
  } catch (err) {
    throw new ProtocolError('frame is not DAG-CBOR', { cause: err })
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) fail('message is not a map')
  const m = raw as Record<string, unknown>
  if (m.v !== PROTOCOL_VERSION) fail(`protocol version ${String(m.v).slice(0, 20)} is not ${PROTOCOL_VERSION}`)
  switch (m.t) {
    case 'hello':
      return { t: 'hello', nonce: bytes(m.nonce, 'hello.nonce', 32) }
    case 'auth':
      return { t: 'auth', key: bytes(m.key, 'auth.key', 32), sig: bytes(m.sig, 'auth.sig', 64) }
    case 'have': {
      const heads = list(m.heads, 'have.heads', LIMITS.heads).map((h, i) => bytes(h, `have.heads[${i}]`, undefined, 128))
      const authors = list(m.authors, 'have.authors', LIMITS.authors).map((a, i) => {
        const e = list(a, `have.authors[${i}]`, 3)
        if (e.length !== 3) fail(`have.authors[${i}] is not [key, seq, tips]`)
        const tips = list(e[2], `have.authors[${i}].tips`, LIMITS.tipsPerAuthor).map((t, k) => bytes(t, `have.authors[${i}].tips[${k}]`, undefined, 128))
        if (tips.length === 0) fail(`have.authors[${i}] names no tip`)
        return { key: bytes(e[0], `have.authors[${i}].key`, 32), seq: uint(e[1], `have.authors[${i}].seq`), tips }
      })
      const relay = m.relay === undefined ? 0 : uint(m.relay, 'have.relay')
      if (relay > MAX_RELAY) fail(`have.relay ${relay} is more than ${MAX_RELAY}`)
      return { t: 'have', log: logId(m.log), id: uint(m.id, 'have.id'), heads, authors, ...(relay > 0 ? { relay } : {}) }
    }
    case 'events': {
      const events = list(m.events, 'events.events', LIMITS.events).map((e, i) => {
        const pair = list(e, `events[${i}]`, 2)
        if (pair.length === 0) fail(`events[${i}] is empty`)
        const ev: WireEvent = { bytes: bytes(pair[0], `events[${i}].bytes`) }
        if (pair.length === 2) ev.sig = bytes(pair[1], `events[${i}].sig`, 64)
        return ev
      })
      const out: Events = { t: 'events', log: logId(m.log), events }
      if (m.re !== undefined) out.re = uint(m.re, 'events.re')
      if (m.done !== undefined) {
        if (m.done !== true) fail('events.done is not true')
        if (out.re === undefined) fail('events.done without re')
        out.done = true
      }
      return out
    }
    case 'reject': {
      const items = list(m.items, 'reject.items', LIMITS.rejectItems).map((x, i) => {
        const it = list(x, `reject.items[${i}]`, 2)
        const item: { cid?: Uint8Array; code: string } = { code: text(it[0], `reject.items[${i}].code`, 64) }
        if (it.length === 2) item.cid = bytes(it[1], `reject.items[${i}].cid`, undefined, 128)
        return item
      })
      return { t: 'reject', log: logId(m.log), items }
    }
    case 'error':
      return { t: 'error', code: text(m.code, 'error.code', 64), message: text(m.message, 'error.message', LIMITS.text) }
    case 'ping':
      return { t: 'ping' }
    default:
      if (typeof m.t !== 'string') fail('message has no type')
      return undefined
  }
}
