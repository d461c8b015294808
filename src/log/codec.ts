/**
 * The event codec: canonical DAG-CBOR, CIDv1 (dag-cbor 0x71, sha2-256), signature message.
 *
 * The envelope has a fixed set of keys, so it is written and parsed here directly, in canonical
 * DAG-CBOR key order (by length, then bytes): v, log, seq, body, prev, time, type, clock, author,
 * parents. Only `body` goes through the generic `@ipld/dag-cbor` encoder. The output is byte-for-byte
 * what `dagCbor.encode(fields)` produces (a test checks it), at a third of the cost.
 *
 * Decoding accepts exactly the canonical form and nothing else: definite lengths, minimal integer
 * heads, the keys in order, no extra bytes; the body is decoded and re-encoded and must match its
 * bytes. Anything else is a `DECODE` error, so one event has exactly one encoding and one CID.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { decodeFirst } from 'cborg'
import { CID } from 'multiformats/cid'
import type { MultihashDigest } from 'multiformats/hashes/interface'
import { equalBytes, compareBytes, utf8 } from '../dag/bytes.js'
import { sha256Into } from './crypto-backend.js'
import { DecodeError, TooLargeError } from './errors.js'
import { allocBytes } from './slab.js'
import { decodeCanonicalFast } from './body-decoder.js'
import { asciiString } from './short-strings.js'

export const EVENT_VERSION = 1
/** @default 1 MiB: an encoded event larger than this is `TOO_LARGE`, checked before decoding. */
export const DEFAULT_MAX_EVENT_BYTES = 1 << 20
/** Log ids and event types are at most this many UTF-8 bytes. */
export const MAX_LOG_ID_BYTES = 256
export const MAX_TYPE_BYTES = 256
/** An event names at most this many parents (the heads its author had seen). */
export const MAX_PARENTS = 1024
/** The type of the event that creates a log with a policy; its own `log` field is '' (see log.ts). */
export const GENESIS_TYPE = 'xsync.log.genesis'

const DAG_CBOR = 0x71
const SHA2_256 = 0x12
const SIGNING_PREFIX = utf8('stateflow/event/v1\n')

/** The fields of an event, as DESIGN §3 fixes them. */
export interface EventFields<B = unknown> {
  v: 1
  log: string
  author: Uint8Array
  seq: number
  prev: CID | null
  parents: CID[]
  clock: number
  time: number
  type: string
  body: B
}

/** A decoded event with its identity. */
export interface DecodedEvent<B = unknown> extends EventFields<B> {
  cid: CID
  bytes: Uint8Array
}

/** The wire form of an event: its bytes and, if it carries one, its signature. */
export interface SignedEvent {
  bytes: Uint8Array
  sig?: Uint8Array
}

// --- writing -------------------------------------------------------------------------------

const KEY = Object.fromEntries(
  ['v', 'log', 'seq', 'body', 'prev', 'time', 'type', 'clock', 'author', 'parents'].map((k) => [k, textBytes(k)]),
) as Record<string, Uint8Array>

function headLength(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9
}

function writeHead(out: Uint8Array, pos: number, major: number, n: number): number {
  const m = major << 5
  if (n < 24) {
    out[pos] = m | n
    return pos + 1
  }
  if (n < 0x100) {
    out[pos] = m | 24
    out[pos + 1] = n
    return pos + 2
  }
  if (n < 0x10000) {
    out[pos] = m | 25
    out[pos + 1] = n >>> 8
    out[pos + 2] = n & 0xff
    return pos + 3
  }
  if (n < 0x100000000) {
    out[pos] = m | 26
    out[pos + 1] = n >>> 24
    out[pos + 2] = (n >>> 16) & 0xff
    out[pos + 3] = (n >>> 8) & 0xff
    out[pos + 4] = n & 0xff
    return pos + 5
  }
  out[pos] = m | 27
  const hi = Math.floor(n / 0x100000000)
  const lo = n >>> 0
  out[pos + 1] = hi >>> 24
  out[pos + 2] = (hi >>> 16) & 0xff
  out[pos + 3] = (hi >>> 8) & 0xff
  out[pos + 4] = hi & 0xff
  out[pos + 5] = lo >>> 24
  out[pos + 6] = (lo >>> 16) & 0xff
  out[pos + 7] = (lo >>> 8) & 0xff
  out[pos + 8] = lo & 0xff
  return pos + 9
}

function textBytes(s: string): Uint8Array {
  const b = utf8(s)
  const out = new Uint8Array(headLength(b.length) + b.length)
  out.set(b, writeHead(out, 0, 3, b.length))
  return out
}

// Log ids and event types repeat from event to event: keep their UTF-8 bytes.
const utf8Cache = new Map<string, Uint8Array>()
function cachedUtf8(s: string): Uint8Array {
  let b = utf8Cache.get(s)
  if (b === undefined) {
    b = utf8(s)
    if (utf8Cache.size >= 1024) utf8Cache.clear()
    utf8Cache.set(s, b)
  }
  return b
}

const CID_LINK_LENGTH = 2 + 2 + 1 + 36 // tag 42, bytes head (37), 0x00, CID bytes

function checkFields(f: EventFields): void {
  const bad = (what: string): never => {
    throw new DecodeError(`event field ${what}`)
  }
  if (f.v !== EVENT_VERSION) bad('v must be 1')
  if (typeof f.log !== 'string') bad('log must be a string')
  if (!(f.author instanceof Uint8Array) || f.author.length !== 32) bad('author must be 32 bytes')
  if (!Number.isSafeInteger(f.seq) || f.seq < 1) bad('seq must be an integer >= 1')
  if (!Number.isSafeInteger(f.clock) || f.clock < 1) bad('clock must be an integer >= 1')
  if (!Number.isSafeInteger(f.time) || f.time < 0) bad('time must be an integer >= 0')
  if (typeof f.type !== 'string' || f.type.length === 0) bad('type must be a non-empty string')
  if (f.prev !== null && !isEventCid(f.prev)) bad('prev must be a dag-cbor sha2-256 CIDv1 or null')
  if (!Array.isArray(f.parents) || f.parents.length > MAX_PARENTS) bad(`parents must be an array of at most ${MAX_PARENTS}`)
  for (let i = 0; i < f.parents.length; i++) {
    if (!isEventCid(f.parents[i])) bad('parents must be dag-cbor sha2-256 CIDv1s')
    if (i > 0 && compareBytes(f.parents[i - 1].bytes, f.parents[i].bytes) >= 0) bad('parents must be sorted by bytes, no duplicates')
  }
}

/** Whether a value is a CID of the kind events are named by. */
export function isEventCid(value: unknown): value is CID {
  const cid = CID.asCID(value)
  return cid !== null && cid.version === 1 && cid.code === DAG_CBOR && cid.multihash.code === SHA2_256 && cid.multihash.size === 32
}

/** The canonical bytes and CID of an event. Throws `DECODE` for fields out of shape. */
export function encodeEvent(fields: EventFields): { bytes: Uint8Array; cid: CID } {
  checkFields(fields)
  let body: Uint8Array
  try {
    body = dagCbor.encode(fields.body)
  } catch (err) {
    throw new DecodeError(`body is not encodable as DAG-CBOR: ${(err as Error).message}`, { cause: err })
  }
  const log = cachedUtf8(fields.log)
  const type = cachedUtf8(fields.type)
  if (log.length > MAX_LOG_ID_BYTES) throw new DecodeError(`log id is longer than ${MAX_LOG_ID_BYTES} bytes`)
  if (type.length > MAX_TYPE_BYTES) throw new DecodeError(`type is longer than ${MAX_TYPE_BYTES} bytes`)
  const n =
    1 +
    KEY.v.length + 1 +
    KEY.log.length + headLength(log.length) + log.length +
    KEY.seq.length + headLength(fields.seq) +
    KEY.body.length + body.length +
    KEY.prev.length + (fields.prev === null ? 1 : CID_LINK_LENGTH) +
    KEY.time.length + headLength(fields.time) +
    KEY.type.length + headLength(type.length) + type.length +
    KEY.clock.length + headLength(fields.clock) +
    KEY.author.length + 2 + 32 +
    KEY.parents.length + headLength(fields.parents.length) + fields.parents.length * CID_LINK_LENGTH
  const out = allocBytes(n)
  let p = 0
  out[p++] = 0xaa // map(10)
  out.set(KEY.v, p), (p += KEY.v.length)
  out[p++] = EVENT_VERSION
  out.set(KEY.log, p), (p += KEY.log.length)
  p = writeHead(out, p, 3, log.length)
  out.set(log, p), (p += log.length)
  out.set(KEY.seq, p), (p += KEY.seq.length)
  p = writeHead(out, p, 0, fields.seq)
  out.set(KEY.body, p), (p += KEY.body.length)
  out.set(body, p), (p += body.length)
  out.set(KEY.prev, p), (p += KEY.prev.length)
  p = fields.prev === null ? ((out[p] = 0xf6), p + 1) : writeLink(out, p, fields.prev)
  out.set(KEY.time, p), (p += KEY.time.length)
  p = writeHead(out, p, 0, fields.time)
  out.set(KEY.type, p), (p += KEY.type.length)
  p = writeHead(out, p, 3, type.length)
  out.set(type, p), (p += type.length)
  out.set(KEY.clock, p), (p += KEY.clock.length)
  p = writeHead(out, p, 0, fields.clock)
  out.set(KEY.author, p), (p += KEY.author.length)
  out[p++] = 0x58
  out[p++] = 32
  out.set(fields.author, p), (p += 32)
  out.set(KEY.parents, p), (p += KEY.parents.length)
  p = writeHead(out, p, 4, fields.parents.length)
  for (const parent of fields.parents) p = writeLink(out, p, parent)
  if (n > DEFAULT_MAX_EVENT_BYTES * 64) throw new TooLargeError('event is far too large')
  return { bytes: out, cid: cidOf(out) }
}

function writeLink(out: Uint8Array, p: number, cid: CID): number {
  out[p++] = 0xd8
  out[p++] = 42
  out[p++] = 0x58
  out[p++] = 37
  out[p++] = 0
  out.set(cid.bytes, p)
  return p + 36
}

/**
 * A CID object over 36 CID bytes already checked to be CIDv1 dag-cbor sha2-256. Builds the
 * objects directly: `CID.decode` re-parses varints and coerces buffers, several µs per event.
 */
export function eventCidFromBytes(cidBytes: Uint8Array): CID {
  return new CID(1, DAG_CBOR, new EventDigest(cidBytes), cidBytes) as CID
}

/**
 * The multihash of an event CID, its views made on first use: most CIDs decoded are only ever
 * compared or printed through `cid.bytes`, and two views per CID were a third of what decoding
 * an event allocated.
 */
class EventDigest implements MultihashDigest<typeof SHA2_256> {
  readonly code = SHA2_256
  readonly size = 32
  #cid: Uint8Array<ArrayBuffer>
  #bytes: Uint8Array<ArrayBuffer> | undefined
  #digest: Uint8Array<ArrayBuffer> | undefined
  constructor(cidBytes: Uint8Array) {
    this.#cid = cidBytes as Uint8Array<ArrayBuffer>
  }
  get bytes(): Uint8Array<ArrayBuffer> {
    return (this.#bytes ??= this.#cid.subarray(2))
  }
  get digest(): Uint8Array<ArrayBuffer> {
    return (this.#digest ??= this.#cid.subarray(4))
  }
}

const CID_PREFIX = Uint8Array.from([0x01, DAG_CBOR, SHA2_256, 32])

/** The CID of an event's bytes. */
export function cidOf(bytes: Uint8Array): CID {
  const cidBytes = allocBytes(36)
  cidBytes.set(CID_PREFIX)
  sha256Into(cidBytes.subarray(4), bytes)
  return eventCidFromBytes(cidBytes)
}

/** What an author signs: the domain prefix, then the CID's bytes. */
export function signingMessage(cid: CID): Uint8Array {
  const out = new Uint8Array(SIGNING_PREFIX.length + cid.bytes.length)
  out.set(SIGNING_PREFIX)
  out.set(cid.bytes, SIGNING_PREFIX.length)
  return out
}

// --- reading -------------------------------------------------------------------------------

class Reader {
  pos = 0
  constructor(readonly bytes: Uint8Array) {}

  fail(what: string): never {
    throw new DecodeError(`${what} at byte ${this.pos}`)
  }

  /** A head of the given major type; the argument must use the shortest form. */
  head(major: number): number {
    const b = this.bytes
    if (this.pos >= b.length) this.fail('unexpected end')
    const first = b[this.pos++]
    if (first >> 5 !== major) this.fail(`expected CBOR major type ${major}`)
    const info = first & 0x1f
    if (info < 24) return info
    let n: number
    if (info === 24) {
      n = this.need(1) && b[this.pos]
      this.pos += 1
      if (n < 24) this.fail('integer not in shortest form')
    } else if (info === 25) {
      this.need(2)
      n = (b[this.pos] << 8) | b[this.pos + 1]
      this.pos += 2
      if (n < 0x100) this.fail('integer not in shortest form')
    } else if (info === 26) {
      this.need(4)
      n = ((b[this.pos] << 24) | (b[this.pos + 1] << 16) | (b[this.pos + 2] << 8) | b[this.pos + 3]) >>> 0
      this.pos += 4
      if (n < 0x10000) this.fail('integer not in shortest form')
    } else if (info === 27) {
      this.need(8)
      const hi = ((b[this.pos] << 24) | (b[this.pos + 1] << 16) | (b[this.pos + 2] << 8) | b[this.pos + 3]) >>> 0
      const lo = ((b[this.pos + 4] << 24) | (b[this.pos + 5] << 16) | (b[this.pos + 6] << 8) | b[this.pos + 7]) >>> 0
      this.pos += 8
      if (hi === 0) this.fail('integer not in shortest form')
      if (hi >= 0x200000) this.fail('integer beyond 2^53')
      n = hi * 0x100000000 + lo
    } else {
      this.fail('indefinite or reserved length')
    }
    return n
  }

  need(n: number): true {
    if (this.pos + n > this.bytes.length) this.fail('unexpected end')
    return true
  }

  key(expected: Uint8Array): void {
    this.need(expected.length)
    for (let i = 0; i < expected.length; i++) {
      if (this.bytes[this.pos + i] !== expected[i]) this.fail('wrong or misordered envelope key')
    }
    this.pos += expected.length
  }

  text(maxBytes: number): string {
    const n = this.head(3)
    if (n > maxBytes) this.fail(`string longer than ${maxBytes} bytes`)
    this.need(n)
    const b = this.bytes
    const end = this.pos + n
    // Short ASCII strings (log ids, types) skip the TextDecoder call, and repeat: interned.
    const s = (n <= 64 ? asciiString(b, this.pos, n) : undefined) ?? textDecoder.decode(b.subarray(this.pos, end))
    this.pos = end
    return s
  }

  link(reuse?: DecodeReuse): CID {
    const b = this.bytes
    this.need(CID_LINK_LENGTH)
    const p = this.pos
    if (b[p] !== 0xd8 || b[p + 1] !== 42 || b[p + 2] !== 0x58 || b[p + 3] !== 37 || b[p + 4] !== 0) {
      this.fail('expected a CID link (tag 42)')
    }
    if (b[p + 5] !== 0x01 || b[p + 6] !== DAG_CBOR || b[p + 7] !== SHA2_256 || b[p + 8] !== 32) {
      this.fail('link is not a dag-cbor sha2-256 CIDv1')
    }
    this.pos += CID_LINK_LENGTH
    const known = reuse?.find(b, p + 5)
    if (known) return known
    const cidBytes = allocBytes(36)
    cidBytes.set(b.subarray(p + 5, p + CID_LINK_LENGTH))
    return eventCidFromBytes(cidBytes)
  }
}

function equalAt(a: Uint8Array, b: Uint8Array, at: number): boolean {
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[at + i]) return false
  return true
}

// ignoreBOM: a leading U+FEFF is part of the string, as the encoder wrote it.
function copyCid(bytes: Uint8Array): Uint8Array {
  const out = allocBytes(36)
  out.set(bytes)
  return out
}

const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export interface DecodeOptions {
  /** @default DEFAULT_MAX_EVENT_BYTES */
  maxBytes?: number
  /**
   * The CID these bytes are already known by (a store's own record of an event it validated on
   * the way in): skips re-hashing, a quarter of the decode. Never pass a CID that came from a
   * peer; the audit re-hashes everything.
   * @internal
   */
  knownCid?: Uint8Array
  /**
   * Objects shared across a run of decodes (a page of one log, in order): an event's `prev` and
   * parents are usually the events just before it, and its author the same as theirs, so the
   * CID objects and author bytes already made for those are handed out again instead of copies.
   * @internal
   */
  reuse?: DecodeReuse
}

/** Recently decoded CIDs and the last author, for `DecodeOptions.reuse`. */
export class DecodeReuse {
  readonly cids: CID[] = []
  author: Uint8Array | undefined
  private next = 0

  remember(cid: CID): void {
    if (this.cids.length < 8) this.cids.push(cid)
    else {
      this.cids[this.next] = cid
      this.next = (this.next + 1) & 7
    }
  }

  /** A CID already made whose bytes are `b[at, at + 36)`, or undefined. */
  find(b: Uint8Array, at: number): CID | undefined {
    const cids = this.cids
    for (let k = cids.length - 1; k >= 0; k--) {
      const c = cids[k].bytes
      // The last bytes are the digest's: a mismatch shows there first.
      let i = 35
      while (i >= 0 && c[i] === b[at + i]) i--
      if (i < 0) return cids[k]
    }
    return undefined
  }
}

/**
 * Decode and check an event's bytes. `TOO_LARGE` past the bound (before any parsing), `DECODE`
 * for anything that is not the one canonical encoding of a well-formed event. Computes the CID.
 */
export function decodeEvent<B = unknown>(bytes: Uint8Array, options: DecodeOptions = {}): DecodedEvent<B> {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('event bytes must be a Uint8Array')
  const max = options.maxBytes ?? DEFAULT_MAX_EVENT_BYTES
  if (bytes.length > max) throw new TooLargeError(`event is ${bytes.length} bytes, more than ${max}`)
  const r = new Reader(bytes)
  try {
    if (r.head(5) !== 10) r.fail('event must be a map of exactly 10 fields')
    r.key(KEY.v)
    if (r.head(0) !== EVENT_VERSION) r.fail('unknown event version')
    r.key(KEY.log)
    const log = r.text(MAX_LOG_ID_BYTES)
    r.key(KEY.seq)
    const seq = r.head(0)
    r.key(KEY.body)
    const bodyStart = r.pos
    let body: B
    const fast = decodeCanonicalFast(bytes, bodyStart)
    if (fast !== undefined) {
      // Exactly the encoder's output for this value: canonical by construction.
      body = fast.value as B
      r.pos = fast.end
    } else {
      try {
        const [value, rest] = decodeFirst(bytes.subarray(bodyStart), dagCbor.decodeOptions)
        body = value as B
        r.pos = bytes.length - rest.length
      } catch (err) {
        if (err instanceof DecodeError) throw err
        throw new DecodeError(`body is not DAG-CBOR: ${(err as Error).message}`, { cause: err })
      }
      // One value, one encoding: re-encode the body and require the same bytes.
      let again: Uint8Array
      try {
        again = dagCbor.encode(body)
      } catch (err) {
        throw new DecodeError(`body does not re-encode: ${(err as Error).message}`, { cause: err })
      }
      if (!equalBytes(again, bytes.subarray(bodyStart, r.pos))) r.fail('body is not in canonical DAG-CBOR form')
    }
    r.key(KEY.prev)
    let prev: CID | null = null
    const reuse = options.reuse
    if (bytes[r.pos] === 0xf6) r.pos++
    else prev = r.link(reuse)
    r.key(KEY.time)
    const time = r.head(0)
    r.key(KEY.type)
    const type = r.text(MAX_TYPE_BYTES)
    r.key(KEY.clock)
    const clock = r.head(0)
    r.key(KEY.author)
    if (r.head(2) !== 32) r.fail('author must be 32 bytes')
    r.need(32)
    let author = reuse?.author
    if (author === undefined || !equalAt(author, bytes, r.pos)) {
      author = allocBytes(32)
      author.set(bytes.subarray(r.pos, r.pos + 32))
      if (reuse) reuse.author = author
    }
    r.pos += 32
    r.key(KEY.parents)
    const count = r.head(4)
    if (count > MAX_PARENTS) r.fail(`more than ${MAX_PARENTS} parents`)
    const parents: CID[] = []
    for (let i = 0; i < count; i++) {
      const c = r.link(reuse)
      if (i > 0 && compareBytes(parents[i - 1].bytes, c.bytes) >= 0) r.fail('parents must be sorted by bytes, no duplicates')
      parents.push(c)
    }
    if (r.pos !== bytes.length) r.fail('trailing bytes after the event')
    if (seq < 1) r.fail('seq must be >= 1')
    if (clock < 1) r.fail('clock must be >= 1')
    if (type.length === 0) r.fail('type must not be empty')
    if (log.length === 0 && type !== GENESIS_TYPE) r.fail('only a genesis event has an empty log id')
    const cid = options.knownCid !== undefined && options.knownCid.length === 36 ? eventCidFromBytes(copyCid(options.knownCid)) : cidOf(bytes)
    reuse?.remember(cid)
    return { v: 1, log, author, seq, prev, parents, clock, time, type, body, cid, bytes }
  } catch (err) {
    if (err instanceof DecodeError || err instanceof TooLargeError) throw err
    // A fatal TextDecoder or a CID parse failure: still a decode error, never a raw TypeError.
    throw new DecodeError(`malformed event: ${(err as Error).message}`, { cause: err })
  }
}
