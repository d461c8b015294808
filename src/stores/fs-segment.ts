/**
 * The fs store's on-disk format: segment files of checksummed frames, one record per frame.
 *
 * - A segment starts with an 8-byte header: "SFSG", a version byte, 3 reserved zero bytes.
 * - A frame is `u32 length ‖ u32 crc32(body) ‖ body` (little-endian), `length >= 1`.
 * - A body starts with a record type: a whole `putBatch` (one frame, so a torn batch fails its
 *   checksum and is never half-applied), a meta put, a meta delete.
 *
 * Guarantee relied on: the store appends whole frames and fsyncs before acknowledging, so the
 * only damage a crash can leave is at the end of the last segment. Anything else is corruption.
 * Numbers are little-endian; seq and clock are float64, which holds every safe integer exactly.
 */
import { CorruptError, InvalidArgumentError } from '../errors.js'
import { bytesKey } from '../dag/bytes.js'
import { crc32 } from './crc32.js'
import type { EventPut } from './event-store.js'
import type { LinkChange, LinkChanges } from './link-changes.js'

export const SEGMENT_HEADER_BYTES = 8
export const FRAME_HEADER_BYTES = 8
const MAGIC = [0x53, 0x46, 0x53, 0x47]
/** Bumped when the bytes change; a reader refuses versions it does not know. */
export const SEGMENT_VERSION = 1

export const RECORD_BATCH = 1
export const RECORD_META_PUT = 2
export const RECORD_META_DELETE = 3

const FLAG_SIG = 1
const FLAG_HEAD = 2
const FLAG_TIP = 4
const U16_MAX = 0xffff

export function encodeSegmentHeader(): Uint8Array {
  return new Uint8Array([...MAGIC, SEGMENT_VERSION, 0, 0, 0])
}

/** Throws CORRUPT unless `buf` starts with a header this build reads. */
export function checkSegmentHeader(buf: Uint8Array, name: string): void {
  if (buf.length < SEGMENT_HEADER_BYTES || MAGIC.some((b, i) => buf[i] !== b)) {
    throw new CorruptError(`fs store: ${name} is not a stateflow segment`)
  }
  if (buf[4] !== SEGMENT_VERSION) throw new CorruptError(`fs store: ${name} has segment version ${buf[4]}, this build reads ${SEGMENT_VERSION}`)
}

/** The body of a valid frame at `at`, or undefined if none starts there (short, bad length, bad checksum). */
export function readFrame(buf: Uint8Array, at: number): { body: Uint8Array; next: number } | undefined {
  if (buf.length - at < FRAME_HEADER_BYTES) return undefined
  const view = new DataView(buf.buffer, buf.byteOffset + at, FRAME_HEADER_BYTES)
  const length = view.getUint32(0, true)
  if (length < 1 || length > buf.length - at - FRAME_HEADER_BYTES) return undefined
  const body = buf.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length)
  if (crc32(body) !== view.getUint32(4, true)) return undefined
  return { body, next: at + FRAME_HEADER_BYTES + length }
}

/** The offset of the first valid frame at or after `from`, or -1. Tells a torn tail from corruption. */
export function findFrame(buf: Uint8Array, from: number): number {
  for (let at = from; at + FRAME_HEADER_BYTES < buf.length; at++) if (readFrame(buf, at) !== undefined) return at
  return -1
}

/** Fill in a frame's length and checksum once its body (from byte 8 on) is written. */
function sealFrame(frame: Uint8Array): Uint8Array {
  const view = new DataView(frame.buffer, frame.byteOffset, FRAME_HEADER_BYTES)
  view.setUint32(0, frame.length - FRAME_HEADER_BYTES, true)
  view.setUint32(4, crc32(frame.subarray(FRAME_HEADER_BYTES)), true)
  return frame
}

class Writer {
  readonly buf: Uint8Array
  private readonly view: DataView
  at = FRAME_HEADER_BYTES
  constructor(bodyLength: number) {
    this.buf = new Uint8Array(FRAME_HEADER_BYTES + bodyLength)
    this.view = new DataView(this.buf.buffer)
  }
  u8(n: number): void {
    this.buf[this.at++] = n
  }
  u16(n: number): void {
    this.view.setUint16(this.at, n, true)
    this.at += 2
  }
  u32(n: number): void {
    this.view.setUint32(this.at, n, true)
    this.at += 4
  }
  f64(n: number): void {
    this.view.setFloat64(this.at, n, true)
    this.at += 8
  }
  raw(b: Uint8Array): void {
    this.buf.set(b, this.at)
    this.at += b.length
  }
  short(b: Uint8Array): void {
    this.u16(b.length)
    this.raw(b)
  }
}

class Reader {
  private readonly view: DataView
  at = 0
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }
  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new CorruptError('fs store: record ends early (checksum passed: written by a broken or foreign writer)')
  }
  u8(): number {
    this.need(1)
    return this.buf[this.at++]
  }
  u16(): number {
    this.need(2)
    const n = this.view.getUint16(this.at, true)
    this.at += 2
    return n
  }
  u32(): number {
    this.need(4)
    const n = this.view.getUint32(this.at, true)
    this.at += 4
    return n
  }
  positive(): number {
    this.need(8)
    const n = this.view.getFloat64(this.at, true)
    this.at += 8
    if (!Number.isSafeInteger(n) || n < 1) throw new CorruptError(`fs store: record holds ${n} where a positive integer belongs`)
    return n
  }
  /** A copy, so nothing keeps the whole segment buffer alive. */
  copy(n: number): Uint8Array {
    this.need(n)
    this.at += n
    return this.buf.slice(this.at - n, this.at)
  }
  short(): Uint8Array {
    return this.copy(this.u16())
  }
  skip(n: number): number {
    this.need(n)
    this.at += n
    return this.at - n
  }
  end(): void {
    if (this.at !== this.buf.length) throw new CorruptError('fs store: record has trailing bytes')
  }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

function shortBytes(b: Uint8Array, what: string): Uint8Array {
  if (b.length > U16_MAX) throw new InvalidArgumentError(`${what} is ${b.length} bytes; the fs store takes at most ${U16_MAX}`)
  return b
}

/** A stored event as decoded from a batch record; its bytes stay on disk at `bytesAt`. */
export interface DecodedEvent {
  cid: Uint8Array
  log: string
  /** One array per author per record: events of one author share it. */
  author: Uint8Array
  seq: number
  clock: number
  /** Offset of the event's bytes within the record body; `sig` (if any) follows them. */
  bytesAt: number
  bytesLength: number
  /** -1 when the event carried no signature. */
  sigLength: number
  /** Whether it is a head (a tip) once the batch is stored. A new event was neither before. */
  head: boolean
  tip: boolean
}

export interface DecodedBatch {
  events: DecodedEvent[]
  /** Stored events outside the batch that stop being heads or tips. */
  unlinked: Array<{ log: string; cid: Uint8Array; head: boolean; tip: boolean }>
}

/**
 * One frame holding the events a batch adds and its net head/tip changes: per event a head and a
 * tip flag, plus the CIDs outside the batch that stop being heads or tips.
 */
export function encodeBatch(added: readonly EventPut[], links: LinkChanges): Uint8Array {
  const logIndex = new Map<string, number>()
  const logNames: Uint8Array[] = []
  const authorIndex = new Map<string, number>()
  const authors: Uint8Array[] = []
  const logOf = (log: string): number => {
    let i = logIndex.get(log)
    if (i === undefined) {
      logIndex.set(log, (i = logNames.length))
      logNames.push(shortBytes(encoder.encode(log), 'a log id'))
    }
    return i
  }
  const key = (log: string, cid: Uint8Array): string => `${log}\n${bytesKey(cid)}`
  const own = new Map<string, number>()
  added.forEach((e, i) => own.set(key(e.log, e.cid), i))
  const flags = added.map((e) => (e.sig !== undefined ? FLAG_SIG : 0))
  const unlinked = new Map<string, { change: LinkChange; which: number }>()
  const mark = (changes: LinkChange[], flag: number): void => {
    for (const c of changes) {
      const k = key(c.log, c.cid)
      const i = own.get(k)
      if (i !== undefined) {
        if (c.live) flags[i] |= flag
      } else {
        // Only events of this batch become heads or tips; anything else can only be unlinked.
        const u = unlinked.get(k)
        if (u === undefined) unlinked.set(k, { change: c, which: flag })
        else u.which |= flag
      }
    }
  }
  mark(links.heads, FLAG_HEAD)
  mark(links.tips, FLAG_TIP)

  let size = 1 + 4 + 4 + 4 + 4
  const eventLog = added.map((e) => logOf(e.log))
  const eventAuthor = added.map((e) => {
    const k = bytesKey(e.author)
    let i = authorIndex.get(k)
    if (i === undefined) {
      authorIndex.set(k, (i = authors.length))
      authors.push(shortBytes(e.author, 'an author key'))
    }
    return i
  })
  for (const e of added) {
    shortBytes(e.cid, 'a CID')
    size += 1 + 4 + 4 + 8 + 8 + 2 + e.cid.length + 4 + e.bytes.length + (e.sig !== undefined ? 4 + e.sig.length : 0)
  }
  const unlinkedLog = [...unlinked.values()].map((u) => logOf(u.change.log))
  for (const u of unlinked.values()) size += 1 + 4 + 2 + shortBytes(u.change.cid, 'a CID').length
  for (const n of logNames) size += 2 + n.length
  for (const a of authors) size += 2 + a.length

  const w = new Writer(size)
  w.u8(RECORD_BATCH)
  w.u32(logNames.length)
  for (const n of logNames) w.short(n)
  w.u32(authors.length)
  for (const a of authors) w.short(a)
  w.u32(added.length)
  added.forEach((e, i) => {
    w.u8(flags[i])
    w.u32(eventLog[i])
    w.u32(eventAuthor[i])
    w.f64(e.seq)
    w.f64(e.clock)
    w.short(e.cid)
    w.u32(e.bytes.length)
    if (e.sig !== undefined) w.u32(e.sig.length)
    w.raw(e.bytes)
    if (e.sig !== undefined) w.raw(e.sig)
  })
  w.u32(unlinked.size)
  let j = 0
  for (const { change, which } of unlinked.values()) {
    w.u8(which)
    w.u32(unlinkedLog[j++])
    w.short(change.cid)
  }
  return sealFrame(w.buf)
}

export function decodeBatch(body: Uint8Array): DecodedBatch {
  const r = new Reader(body)
  r.u8()
  const logs: string[] = []
  for (let n = r.u32(); n > 0; n--) {
    try {
      logs.push(decoder.decode(r.short()))
    } catch (err) {
      if (err instanceof CorruptError) throw err
      throw new CorruptError('fs store: a log id is not UTF-8', { cause: err })
    }
  }
  const authors: Uint8Array[] = []
  for (let n = r.u32(); n > 0; n--) authors.push(r.short())
  const pick = <T>(list: T[], i: number): T => {
    if (i >= list.length) throw new CorruptError('fs store: record refers past its own table')
    return list[i]
  }
  const events: DecodedEvent[] = []
  for (let n = r.u32(); n > 0; n--) {
    const flags = r.u8()
    const log = pick(logs, r.u32())
    const author = pick(authors, r.u32())
    const seq = r.positive()
    const clock = r.positive()
    const cid = r.short()
    const bytesLength = r.u32()
    const sigLength = flags & FLAG_SIG ? r.u32() : -1
    const bytesAt = r.skip(bytesLength)
    if (sigLength >= 0) r.skip(sigLength)
    const head = (flags & FLAG_HEAD) !== 0
    const tip = (flags & FLAG_TIP) !== 0
    events.push({ cid, log, author, seq, clock, bytesAt, bytesLength, sigLength, head, tip })
  }
  const unlinked: DecodedBatch['unlinked'] = []
  for (let n = r.u32(); n > 0; n--) {
    const which = r.u8()
    const log = pick(logs, r.u32())
    const cid = r.short()
    unlinked.push({ log, cid, head: (which & FLAG_HEAD) !== 0, tip: (which & FLAG_TIP) !== 0 })
  }
  r.end()
  return { events, unlinked }
}

export function encodeMetaPut(key: string, value: Uint8Array): Uint8Array {
  const k = shortBytes(encoder.encode(key), 'a meta key')
  const w = new Writer(1 + 2 + k.length + 4 + value.length)
  w.u8(RECORD_META_PUT)
  w.short(k)
  w.u32(value.length)
  w.raw(value)
  return sealFrame(w.buf)
}

export function encodeMetaDelete(key: string): Uint8Array {
  const k = shortBytes(encoder.encode(key), 'a meta key')
  const w = new Writer(1 + 2 + k.length)
  w.u8(RECORD_META_DELETE)
  w.short(k)
  return sealFrame(w.buf)
}

/** A meta record: the key, and the value (undefined for a delete). */
export function decodeMeta(body: Uint8Array): { key: string; value: Uint8Array | undefined } {
  const r = new Reader(body)
  const type = r.u8()
  let key: string
  try {
    key = decoder.decode(r.short())
  } catch (err) {
    if (err instanceof CorruptError) throw err
    throw new CorruptError('fs store: a meta key is not UTF-8', { cause: err })
  }
  const value = type === RECORD_META_PUT ? r.copy(r.u32()) : undefined
  r.end()
  return { key, value }
}
