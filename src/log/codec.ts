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
import { equalBytes, compareBytes, toBase32, utf8 } from '../dag/bytes.js'
import { sha256Into } from './crypto-backend.js'
import { DecodeError, TooLargeError } from './errors.js'
import { allocBytes } from './slab.js'
import { decodeBodyFast, fastEnd, NOT_FAST } from './body-decoder.js'
import { asciiName } from './short-strings.js'

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

const EMPTY = new Uint8Array(0)
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
  #cid: Uint8Array<ArrayBuffer>
  #bytes: Uint8Array<ArrayBuffer> | undefined
  #digest: Uint8Array<ArrayBuffer> | undefined
  constructor(cidBytes: Uint8Array) {
    this.#cid = cidBytes as Uint8Array<ArrayBuffer>
  }
  // Constants on the prototype rather than two fields in every digest.
  get code(): typeof SHA2_256 {
    return SHA2_256
  }
  get size(): number {
    return 32
  }
  get bytes(): Uint8Array<ArrayBuffer> {
    return (this.#bytes ??= this.#cid.subarray(2))
  }
  get digest(): Uint8Array<ArrayBuffer> {
    return (this.#digest ??= this.#cid.subarray(4))
  }
}

const CID_PREFIX = Uint8Array.from([0x01, DAG_CBOR, SHA2_256, 32])

const B32 = 'abcdefghijklmnopqrstuvwxyz234567'
const B32_CODES = Array.from(B32, (c) => c.charCodeAt(0))
/** Reused character codes of a CID string: 'b' and 58 base32 digits. */
const cidCodes: number[] = new Array<number>(59).fill(0x62)

/**
 * The string form of an event CID's bytes (multibase 'b', base32 lower case, no padding), the
 * same as `cid.toString()`. Five bytes make eight digits, so the loop has no bit buffer; folds
 * build one per event, and this is several times faster than the generic encoder.
 */
export function eventCidString(bytes: Uint8Array): string {
  if (bytes.length !== 36) return toBase32(bytes, 'b')
  const out = cidCodes
  const T = B32_CODES
  let k = 1
  for (let i = 0; i < 35; i += 5) {
    const b0 = bytes[i]
    const b1 = bytes[i + 1]
    const b2 = bytes[i + 2]
    const b3 = bytes[i + 3]
    const b4 = bytes[i + 4]
    out[k] = T[b0 >> 3]
    out[k + 1] = T[((b0 & 7) << 2) | (b1 >> 6)]
    out[k + 2] = T[(b1 >> 1) & 31]
    out[k + 3] = T[((b1 & 1) << 4) | (b2 >> 4)]
    out[k + 4] = T[((b2 & 15) << 1) | (b3 >> 7)]
    out[k + 5] = T[(b3 >> 2) & 31]
    out[k + 6] = T[((b3 & 3) << 3) | (b4 >> 5)]
    out[k + 7] = T[b4 & 31]
    k += 8
  }
  const last = bytes[35]
  out[57] = T[last >> 3]
  out[58] = T[(last & 7) << 2]
  return String.fromCharCode.apply(null, out)
}

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
  bytes: Uint8Array = EMPTY

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
    const s = (n <= 64 ? asciiName(b, this.pos, n) : undefined) ?? textDecoder.decode(b.subarray(this.pos, end))
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

function copyAuthor(b: Uint8Array, at: number): Uint8Array {
  const author = allocBytes(32)
  author.set(b.subarray(at, at + 32))
  return author
}

function copyCid(bytes: Uint8Array): Uint8Array {
  const out = allocBytes(36)
  out.set(bytes)
  return out
}

/** A store's `knownCid` as a CID's own bytes: a plain Uint8Array as it is, a Buffer copied. */
function cidBytesOf(known: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(known) === Uint8Array.prototype ? known : copyCid(known)
}

// ignoreBOM: a leading U+FEFF is part of the string, as the encoder wrote it.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export interface DecodeOptions {
  /** @default DEFAULT_MAX_EVENT_BYTES */
  maxBytes?: number
  /**
   * The CID these bytes are already known by (a store's own record of an event it validated on
   * the way in): skips re-hashing, a quarter of the decode, and comparing the envelope's fixed
   * keys (every value is still checked). Never pass a CID that came from a peer; the audit
   * re-hashes everything. A plain Uint8Array becomes the CID's own bytes (not a
   * copy: events share them with the store, like a store's arrays nobody may change); a Buffer is
   * copied, so `cid.bytes` is always a plain Uint8Array.
   * @internal
   */
  knownCid?: Uint8Array
  /**
   * With `knownCid`: the author key the store recorded beside the event, used as the event's
   * `author` instead of a copy of the bytes (when it is a plain 32-byte Uint8Array). A store
   * hands one array for all of an author's events, so readers that compare authors by identity
   * (`didOf`, a view host's clocks) skip comparing 32 bytes per event.
   * @internal
   */
  knownAuthor?: Uint8Array
  /**
   * Objects shared across a run of decodes (a page of one log, in order): an event's `prev` and
   * parents are usually the events just before it, and its author the same as theirs, so the
   * CID objects and author bytes already made for those are handed out again instead of copies.
   * @internal
   */
  reuse?: DecodeReuse
  /**
   * Build `prev` and `parents` on first use instead of now (checked now all the same): for
   * events read back from a store, which views fold without looking at their links. The event is
   * then a class instance whose `prev` and `parents` are accessors, not own properties.
   * @internal
   */
  lazyLinks?: boolean
}

/** Bytes `b[p, p + 4)` as one big-endian int32: comparing four bytes at a time halves the work. */
function wordAt(b: Uint8Array, p: number): number {
  return (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]
}

/** Recently decoded CIDs and the last author, for `DecodeOptions.reuse`. */
export class DecodeReuse {
  /** A ring of the last 8 CIDs; `next` is where the next one goes. */
  private readonly cids: CID[] = []
  private author: Uint8Array | undefined
  private next = 0
  /** The 32 digest bytes of each CID in the ring as 8 words (every event CID has the same 4-byte prefix). */
  private readonly digests = new Int32Array(8 * 8)
  private readonly authorWords = new Int32Array(8)

  remember(cid: CID): void {
    const c = cid.bytes
    // Only CIDs with the prefix `find`'s callers check (a store's knownCid always has it).
    if (c.length !== 36 || c[0] !== 0x01 || c[1] !== DAG_CBOR || c[2] !== SHA2_256 || c[3] !== 32) return
    const slot = this.next
    if (this.cids.length < 8) this.cids.push(cid)
    else this.cids[slot] = cid
    const w = this.digests
    for (let k = 0, q = slot * 8; k < 8; k++) w[q + k] = wordAt(c, 4 + 4 * k)
    this.next = (slot + 1) & 7
  }

  /**
   * A CID already made whose bytes are `b[at, at + 36)`, or undefined. The caller has checked
   * the 4-byte prefix (CIDv1, dag-cbor, sha2-256, 32 bytes), which every CID here shares.
   */
  find(b: Uint8Array, at: number): CID | undefined {
    const n = this.cids.length
    const w = this.digests
    const d = at + 4
    // Newest first: a prev, and most parents, are the event just before.
    for (let j = 1; j <= n; j++) {
      const slot = (this.next - j) & 7
      const q = slot * 8
      let k = 0
      while (k < 8 && w[q + k] === wordAt(b, d + 4 * k)) k++
      if (k === 8) return this.cids[slot]
    }
    return undefined
  }

  /** The author bytes `b[at, at + 32)`: the array of the last author when they are the same. */
  authorAt(b: Uint8Array, at: number): Uint8Array {
    const w = this.authorWords
    if (this.author !== undefined) {
      let k = 0
      while (k < 8 && w[k] === wordAt(b, at + 4 * k)) k++
      if (k === 8) return this.author
    }
    const author = allocBytes(32)
    author.set(b.subarray(at, at + 32))
    for (let k = 0; k < 8; k++) w[k] = wordAt(b, at + 4 * k)
    this.author = author
    return author
  }
}

// One reader for every call: decoding is synchronous and never re-entrant, and a reader per event
// was an allocation on the fold path.
const reader = new Reader()

// --- the fast path ---------------------------------------------------------------------------
// Well-formed events take a straight-line parse over local offsets; at the first byte it does
// not expect it answers undefined and the checked `Reader` parse runs from the start, so errors
// (and their messages) come from one place. It accepts exactly what that parse accepts.

// The envelope keys in their fixed order, their bytes back to back, checked by one small loop
// (`keyEnd`) instead of a word-compare helper per key, which V8 stopped inlining past the fourth.
const ENVELOPE_KEYS = ['v', 'log', 'seq', 'body', 'prev', 'time', 'type', 'clock', 'author', 'parents'] as const
const KEY_BYTES = new Uint8Array(ENVELOPE_KEYS.reduce((n, k) => n + KEY[k].length, 0))
/** `KEY_BYTES[KEY_START[i], KEY_START[i + 1])`: the bytes of `ENVELOPE_KEYS[i]`. */
const KEY_START = new Int32Array(ENVELOPE_KEYS.length + 1)
ENVELOPE_KEYS.forEach((k, i) => {
  KEY_BYTES.set(KEY[k], KEY_START[i])
  KEY_START[i + 1] = KEY_START[i] + KEY[k].length
})
const K_LOG = 1
const K_SEQ = 2
const K_BODY = 3
const K_PREV = 4
const K_TIME = 5
const K_TYPE = 6
const K_CLOCK = 7
const K_AUTHOR = 8
const K_PARENTS = 9
/** The first four bytes of every event: a map of 10, the key "v", version 1. */
const EVENT_START = (0xaa << 24) | (0x61 << 16) | (0x76 << 8) | EVENT_VERSION

/** Where envelope key `k` ends when the bytes at `p` are that key, else -1. */
function keyEnd(b: Uint8Array, p: number, k: number): number {
  for (let i = KEY_START[k]; i < KEY_START[k + 1]; i++, p++) if (b[p] !== KEY_BYTES[i]) return -1
  return p
}

/** Where the last `uintAt`/`textAt`/`linkAt` stopped. */
let parsedTo = 0

/**
 * The argument of a head of major type `major` at `p`, in shortest form and ≤ 2^53 - 1; else -1.
 * Kept small so that V8 inlines it (a longer one, branch per length, was too big to).
 */
function uintAt(b: Uint8Array, p: number, major: number): number {
  if (p >= b.length) return -1
  const first = b[p]
  if (first >> 5 !== major) return -1
  const info = first & 0x1f
  if (info < 24) {
    parsedTo = p + 1
    return info
  }
  if (info > 27) return -1
  const len = 1 << (info - 24)
  if (p + 1 + len > b.length) return -1
  let n = 0
  for (let i = p + 1; i <= p + len; i++) n = n * 256 + b[i]
  parsedTo = p + 1 + len
  // Shortest form: 1 byte from 24, 2 from 2^8, 4 from 2^16, 8 from 2^32; past 2^53 - 1 the
  // encoder writes a float (and n is no longer exact).
  return n < SHORTEST[len] || n > Number.MAX_SAFE_INTEGER ? -1 : n
}
/** The least argument a head with this many bytes of argument may carry, by that count. */
const SHORTEST = [0, 24, 0x100, 0, 0x10000, 0, 0, 0, 0x100000000]

/** A short ASCII text string at `p`, a log id or a type (interned: `asciiName`), or undefined. */
function textAt(b: Uint8Array, p: number): string | undefined {
  const n = uintAt(b, p, 3)
  if (n < 0 || n > 64) return undefined
  const at = parsedTo
  if (at + n > b.length) return undefined
  parsedTo = at + n
  return asciiName(b, at, n)
}

/** The CID of an event link at `p`: one `reuse` already made, or a new one; undefined if not a link. */
function linkAt(b: Uint8Array, p: number, reuse: DecodeReuse | undefined): CID | undefined {
  if (p + CID_LINK_LENGTH > b.length) return undefined
  if (b[p] !== 0xd8 || b[p + 1] !== 42 || b[p + 2] !== 0x58 || b[p + 3] !== 37 || b[p + 4] !== 0) return undefined
  if (b[p + 5] !== 0x01 || b[p + 6] !== DAG_CBOR || b[p + 7] !== SHA2_256 || b[p + 8] !== 32) return undefined
  parsedTo = p + CID_LINK_LENGTH
  const known = reuse?.find(b, p + 5)
  if (known !== undefined) return known
  const cidBytes = allocBytes(36)
  cidBytes.set(b.subarray(p + 5, p + CID_LINK_LENGTH))
  return eventCidFromBytes(cidBytes)
}

function decodeEventFast(b: Uint8Array, options: DecodeOptions): DecodedEvent | undefined {
  if (b.length < 4 || wordAt(b, 0) !== EVENT_START) return undefined
  // Bytes a store names by CID were checked whole when stored: their keys, fixed bytes in a
  // fixed order, are stepped over (the values are still read with every check).
  const trusted = options.knownCid !== undefined
  let p = 4
  if ((p = trusted ? p + KEY_START[K_LOG + 1] - KEY_START[K_LOG] : keyEnd(b, p, K_LOG)) < 0) return undefined
  const log = textAt(b, p)
  if (log === undefined) return undefined
  p = parsedTo
  if ((p = trusted ? p + KEY_START[K_SEQ + 1] - KEY_START[K_SEQ] : keyEnd(b, p, K_SEQ)) < 0) return undefined
  const seq = uintAt(b, p, 0)
  if (seq < 1) return undefined
  p = parsedTo
  if ((p = trusted ? p + KEY_START[K_BODY + 1] - KEY_START[K_BODY] : keyEnd(b, p, K_BODY)) < 0) return undefined
  const body = decodeBodyFast(b, p)
  if (body === NOT_FAST) return undefined
  p = fastEnd()
  if ((p = trusted ? p + KEY_START[K_PREV + 1] - KEY_START[K_PREV] : keyEnd(b, p, K_PREV)) < 0) return undefined
  const reuse = options.reuse
  const lazy = options.lazyLinks === true
  let prev: CID | null = null
  let prevAt = -1
  if (b[p] === 0xf6) p += 1
  else if (lazy) {
    if (!linkShapeAt(b, p)) return undefined
    prevAt = p
    p += CID_LINK_LENGTH
  } else {
    const c = linkAt(b, p, reuse)
    if (c === undefined) return undefined
    prev = c
    p = parsedTo
  }
  if ((p = trusted ? p + KEY_START[K_TIME + 1] - KEY_START[K_TIME] : keyEnd(b, p, K_TIME)) < 0) return undefined
  const time = uintAt(b, p, 0)
  if (time < 0) return undefined
  p = parsedTo
  if ((p = trusted ? p + KEY_START[K_TYPE + 1] - KEY_START[K_TYPE] : keyEnd(b, p, K_TYPE)) < 0) return undefined
  const type = textAt(b, p)
  if (type === undefined || type.length === 0) return undefined
  p = parsedTo
  if ((p = trusted ? p + KEY_START[K_CLOCK + 1] - KEY_START[K_CLOCK] : keyEnd(b, p, K_CLOCK)) < 0) return undefined
  const clock = uintAt(b, p, 0)
  if (clock < 1) return undefined
  p = parsedTo
  if ((p = trusted ? p + KEY_START[K_AUTHOR + 1] - KEY_START[K_AUTHOR] : keyEnd(b, p, K_AUTHOR)) < 0) return undefined
  if (p + 34 > b.length || b[p] !== 0x58 || b[p + 1] !== 32) return undefined
  p += 2
  const storedAuthor = options.knownAuthor
  const author = trusted && storedAuthor !== undefined && storedAuthor.length === 32 && storedAuthor.constructor === Uint8Array ? storedAuthor : reuse !== undefined ? reuse.authorAt(b, p) : copyAuthor(b, p)
  p += 32
  if ((p = trusted ? p + KEY_START[K_PARENTS + 1] - KEY_START[K_PARENTS] : keyEnd(b, p, K_PARENTS)) < 0) return undefined
  const count = uintAt(b, p, 4)
  if (count < 0 || count > MAX_PARENTS) return undefined
  p = parsedTo
  const parentsAt = p
  let parents: CID[] | undefined
  if (lazy) {
    // Checked as the eager parse checks them (shape, strictly increasing bytes), nothing built.
    for (let i = 0; i < count; i++, p += CID_LINK_LENGTH) {
      if (!linkShapeAt(b, p)) return undefined
      if (i > 0 && !linkAfter(b, p - CID_LINK_LENGTH + 5, p + 5)) return undefined
    }
  } else {
    // Sized up front: a pushed-to array reserves room for 17.
    parents = new Array(count)
    for (let i = 0; i < count; i++) {
      const c = linkAt(b, p, reuse)
      if (c === undefined || (i > 0 && compareBytes(parents[i - 1].bytes, c.bytes) >= 0)) return undefined
      parents[i] = c
      p = parsedTo
    }
  }
  if (p !== b.length) return undefined
  if (log.length === 0 && type !== GENESIS_TYPE) return undefined
  const known = options.knownCid
  if (parents === undefined) {
    // The CID object too is made on first use when the store names the CID (see LazyLinksEvent).
    if (known !== undefined && known.length === 36) return new LazyLinksEvent(log, author, seq, prevAt, parentsAt, count, clock, time, type, body, undefined, cidBytesOf(known), b)
    const cid = cidOf(b)
    return new LazyLinksEvent(log, author, seq, prevAt, parentsAt, count, clock, time, type, body, cid, cid.bytes, b)
  }
  const cid = known !== undefined && known.length === 36 ? eventCidFromBytes(cidBytesOf(known)) : cidOf(b)
  reuse?.remember(cid)
  return { v: 1, log, author, seq, prev, parents, clock, time, type, body, cid, bytes: b }
}

/** Whether `b[p, p + CID_LINK_LENGTH)` is a link to an event CID (tag 42, 0x00, CIDv1 dag-cbor sha2-256). */
function linkShapeAt(b: Uint8Array, p: number): boolean {
  return (
    p + CID_LINK_LENGTH <= b.length &&
    b[p] === 0xd8 && b[p + 1] === 42 && b[p + 2] === 0x58 && b[p + 3] === 37 && b[p + 4] === 0 &&
    b[p + 5] === 0x01 && b[p + 6] === DAG_CBOR && b[p + 7] === SHA2_256 && b[p + 8] === 32
  )
}

/** Whether the 36 CID bytes at `q` sort strictly after those at `p`. */
function linkAfter(b: Uint8Array, p: number, q: number): boolean {
  for (let i = 0; i < 36; i++) {
    const d = b[q + i] - b[p + i]
    if (d !== 0) return d > 0
  }
  return false
}

function linkCopyAt(b: Uint8Array, p: number): CID {
  const cidBytes = allocBytes(36)
  cidBytes.set(b.subarray(p + 5, p + CID_LINK_LENGTH))
  return eventCidFromBytes(cidBytes)
}

/**
 * An event read back from a store (`lazyLinks`): `prev` and `parents` are built from its bytes on
 * first use. Views read an event's type, author, clock, time, body and CID, almost never its
 * links, and the CID objects of the links were a fifth of decoding a stored event. The event's
 * own CID object, when the store named its bytes, is made on first use too: folds need only its
 * bytes (`eventCidBytes`), and a CID object is two objects and a type check on its bytes.
 */
class LazyLinksEvent implements DecodedEvent {
  readonly v = 1 as const
  #prev: CID | null | undefined
  #parents: CID[] | undefined
  #cid: CID | undefined
  #cidBytes: Uint8Array
  constructor(
    public log: string,
    public author: Uint8Array,
    public seq: number,
    private readonly prevAt: number,
    private readonly parentsAt: number,
    private readonly parentCount: number,
    public clock: number,
    public time: number,
    public type: string,
    public body: unknown,
    cid: CID | undefined,
    cidBytes: Uint8Array,
    public bytes: Uint8Array,
  ) {
    this.#cid = cid
    this.#cidBytes = cidBytes
  }

  get cid(): CID {
    return (this.#cid ??= eventCidFromBytes(this.#cidBytes))
  }

  set cid(value: CID) {
    this.#cid = value
    this.#cidBytes = value.bytes
  }

  /** The CID's bytes, without making the CID object. */
  get cidBytes(): Uint8Array {
    return this.#cidBytes
  }

  get prev(): CID | null {
    if (this.#prev === undefined) this.#prev = this.prevAt < 0 ? null : linkCopyAt(this.bytes, this.prevAt)
    return this.#prev
  }

  set prev(value: CID | null) {
    this.#prev = value
  }

  get parents(): CID[] {
    if (this.#parents === undefined) {
      const out: CID[] = new Array(this.parentCount)
      for (let i = 0; i < out.length; i++) out[i] = linkCopyAt(this.bytes, this.parentsAt + i * CID_LINK_LENGTH)
      this.#parents = out
    }
    return this.#parents
  }

  set parents(value: CID[]) {
    this.#parents = value
  }
}

/** The bytes of an event's CID: for an event read back from a store, without making its CID object. */
export function eventCidBytes(e: DecodedEvent): Uint8Array {
  return e instanceof LazyLinksEvent ? e.cidBytes : e.cid.bytes
}

/**
 * Decode and check an event's bytes. `TOO_LARGE` past the bound (before any parsing), `DECODE`
 * for anything that is not the one canonical encoding of a well-formed event. Computes the CID.
 */
export function decodeEvent<B = unknown>(bytes: Uint8Array, options: DecodeOptions = {}): DecodedEvent<B> {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('event bytes must be a Uint8Array')
  const max = options.maxBytes ?? DEFAULT_MAX_EVENT_BYTES
  if (bytes.length > max) throw new TooLargeError(`event is ${bytes.length} bytes, more than ${max}`)
  const fast = decodeEventFast(bytes, options)
  if (fast !== undefined) return fast as DecodedEvent<B>
  const r = reader
  r.bytes = bytes
  r.pos = 0
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
    const fast = decodeBodyFast(bytes, bodyStart)
    if (fast !== NOT_FAST) {
      // Exactly the encoder's output for this value: canonical by construction.
      body = fast as B
      r.pos = fastEnd()
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
    const author = reuse !== undefined ? reuse.authorAt(bytes, r.pos) : copyAuthor(bytes, r.pos)
    r.pos += 32
    r.key(KEY.parents)
    const count = r.head(4)
    if (count > MAX_PARENTS) r.fail(`more than ${MAX_PARENTS} parents`)
    // Sized up front: a pushed-to array reserves room for 17.
    const parents: CID[] = new Array(count)
    for (let i = 0; i < count; i++) {
      const c = r.link(reuse)
      if (i > 0 && compareBytes(parents[i - 1].bytes, c.bytes) >= 0) r.fail('parents must be sorted by bytes, no duplicates')
      parents[i] = c
    }
    if (r.pos !== bytes.length) r.fail('trailing bytes after the event')
    if (seq < 1) r.fail('seq must be >= 1')
    if (clock < 1) r.fail('clock must be >= 1')
    if (type.length === 0) r.fail('type must not be empty')
    if (log.length === 0 && type !== GENESIS_TYPE) r.fail('only a genesis event has an empty log id')
    const known = options.knownCid
    const cid = known !== undefined && known.length === 36 ? eventCidFromBytes(cidBytesOf(known)) : cidOf(bytes)
    reuse?.remember(cid)
    return { v: 1, log, author, seq, prev, parents, clock, time, type, body, cid, bytes }
  } catch (err) {
    if (err instanceof DecodeError || err instanceof TooLargeError) throw err
    // A fatal TextDecoder or a CID parse failure: still a decode error, never a raw TypeError.
    throw new DecodeError(`malformed event: ${(err as Error).message}`, { cause: err })
  } finally {
    r.bytes = EMPTY // keep no event's bytes alive
  }
}
