/**
 * `fsStore(dir)`: the durable EventStore as append-only segment files (`fs-segment.ts` has the
 * format). Node-only, behind the `stateflow/stores/fs` subpath.
 *
 * - Every `putBatch` is one checksummed frame, written at the end of the last segment and
 *   fdatasync'ed before the promise resolves: an acknowledged batch survives kill -9 and power
 *   loss, and a batch cut short by either fails its checksum and is dropped whole.
 * - Opening reads every segment, verifies every frame and rebuilds the indexes in memory. Damage
 *   at the end of the last segment (a torn write) is cut off the file; a bad frame with a valid
 *   one after it, or in any earlier segment, is `CORRUPT`: a crash cannot explain it.
 * - Memory holds the indexes (CID, position, clock, seq, heads, tips), not the event bytes; reads
 *   fetch bytes from the segment files, one read per run of neighbouring events.
 * - Read-only mode (`{ readOnly: true }`, what the audit CLI uses) opens every segment for reading
 *   and never writes, creates or truncates a file: a torn tail is left on disk, reading stops at
 *   the last valid frame, and `onTornTail` is told where the torn bytes are. What is `CORRUPT`
 *   read-write is `CORRUPT` read-only too.
 *
 * One process per directory: nothing stops a second writer, and two would interleave frames.
 * Nothing is ever compacted: meta records that were overwritten stay in the files.
 */
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { ClosedError, CorruptError, InvalidArgumentError, NotFoundError } from '../errors.js'
import { compareBytes, toHex } from '../dag/bytes.js'
import { indexAfter, insertOrdered, sortEvents } from '../dag/order.js'
import {
  DEFAULT_PAGE,
  eventStoreSymbol,
  type AuthorScanOptions,
  type EventPut,
  type EventStore,
  type ScanOptions,
  type StoredEvent,
} from './event-store.js'
import { checkBatch } from './put-checks.js'
import { linkChanges } from './link-changes.js'
import { bytesKey } from '../dag/bytes.js'
import {
  FRAME_HEADER_BYTES,
  RECORD_BATCH,
  RECORD_META_DELETE,
  RECORD_META_PUT,
  SEGMENT_HEADER_BYTES,
  checkSegmentHeader,
  decodeBatch,
  decodeMeta,
  encodeBatch,
  encodeMetaDelete,
  encodeMetaPut,
  encodeSegmentHeader,
  findFrame,
  readFrame,
  type DecodedBatch,
} from './fs-segment.js'

export interface FsStoreInit {
  /**
   * Start a new segment file when the next record would take the current one past this many
   * bytes. A record bigger than the bound gets a segment to itself. Opening reads one whole
   * segment at a time, so this also bounds the memory an open needs.
   * @default 67108864 (64 MiB)
   */
  maxSegmentBytes?: number
  /**
   * Open an existing store for reading only, as an audit must: the directory and segments are
   * never created, every segment is opened read-only and nothing is written or truncated. A
   * torn tail stays on disk (reading stops at the last valid frame and `onTornTail` is called);
   * an empty or partial last segment left by a crash while it was created reads as empty.
   * Damage a crash cannot explain is `CORRUPT`, as in read-write mode; a missing directory is
   * `NOT_FOUND`. `putBatch`, `putMeta` and `deleteMeta` reject with `INVALID_ARGUMENT`.
   * @default false
   */
  readOnly?: boolean
  /**
   * With `readOnly`, called while the store opens for bytes at the end of the last segment that
   * are not a whole valid frame: an interrupted write that was never acknowledged, which a
   * read-write open would cut off. Not called in read-write mode, which cuts them silently.
   */
  onTornTail?: (info: TornTailInfo) => void
}

/** Where a read-only open found a torn tail (see `FsStoreInit.onTornTail`). */
export interface TornTailInfo {
  /** The segment's file name in the store directory, e.g. `00000003.seg`. */
  segment: string
  /** File offset where the torn bytes start: the end of the last valid frame (0 for a segment whose header was never completed). */
  at: number
  /** How many bytes from `at` to the end of the file were not read. */
  bytes: number
}

const DEFAULT_MAX_SEGMENT_BYTES = 64 * 1024 * 1024
const SEGMENT_NAME = /^(\d{8})\.seg$/
/** Neighbouring events are read in one call when the gap between them is at most this. */
const READ_GAP = 4096
/** …and the whole read stays under this. */
const READ_SPAN = 1024 * 1024

interface Segment {
  name: string
  fd: number
  /** Bytes of valid data: the next frame goes here. */
  size: number
}

/** What the store keeps in memory per event: everything but the bytes, and where they are. */
interface Entry {
  cid: Uint8Array
  log: string
  author: Uint8Array
  seq: number
  clock: number
  segment: number
  /** File offset of the event's bytes; the signature follows them. */
  at: number
  length: number
  /** -1 when the event has no signature. */
  sigLength: number
}

interface LogIndex {
  order: Entry[]
  heads: Map<string, Uint8Array>
  tips: Map<string, Uint8Array>
  byAuthor: Map<string, Entry[]>
}

function segmentName(n: number): string {
  return `${String(n).padStart(8, '0')}.seg`
}

function writeAll(fd: number, bytes: Uint8Array, at: number): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, at + done)
}

/** Make a file's creation (or removal) durable: the directory entry needs its own fsync. */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

function compareBySeq(a: Entry, b: Entry): number {
  return a.seq - b.seq || compareBytes(a.cid, b.cid)
}

class FsStore implements EventStore {
  readonly [eventStoreSymbol] = true as const
  readonly kind = 'fs'
  readonly durable = true
  private readonly segments: Segment[] = []
  private readonly entries = new Map<string, Entry>()
  private readonly logsById = new Map<string, LogIndex>()
  private readonly meta = new Map<string, Uint8Array>()
  /** One array per author key, shared by its entries. */
  private readonly authors = new Map<string, Uint8Array>()
  private readonly maxSegmentBytes: number
  private readonly readOnly: boolean
  private readonly onTornTail: ((info: TornTailInfo) => void) | undefined
  private closed = false
  /** While opening, entries are appended unsorted and sorted once at the end. */
  private loading = true

  constructor(
    private readonly dir: string,
    init: FsStoreInit,
  ) {
    this.maxSegmentBytes = init.maxSegmentBytes ?? DEFAULT_MAX_SEGMENT_BYTES
    this.readOnly = init.readOnly === true
    this.onTornTail = init.onTornTail
    try {
      this.load()
    } catch (err) {
      this.closeFiles()
      throw err
    }
  }

  private load(): void {
    if (this.readOnly) this.checkDir()
    else mkdirSync(this.dir, { recursive: true })
    const names = readdirSync(this.dir)
      .filter((n) => SEGMENT_NAME.test(n))
      .sort()
    names.forEach((name, i) => {
      if (name !== segmentName(i + 1)) throw new CorruptError(`fs store: segment ${segmentName(i + 1)} is missing from ${this.dir}`)
    })
    for (let i = 0; i < names.length; i++) this.loadSegment(names[i], i === names.length - 1)
    // Read-only, a directory without segments is an empty store: nothing is created.
    if (this.segments.length === 0 && !this.readOnly) this.addSegment()
    for (const idx of this.logsById.values()) {
      sortEvents(idx.order)
      for (const chain of idx.byAuthor.values()) chain.sort(compareBySeq)
    }
    this.loading = false
  }

  /** Read-only: the directory must exist; it is never created. */
  private checkDir(): void {
    let isDir: boolean
    try {
      isDir = statSync(this.dir).isDirectory()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`fs store: no store at ${this.dir}`)
      throw err
    }
    if (!isDir) throw new InvalidArgumentError(`fs store: ${this.dir} is not a directory`)
  }

  private loadSegment(name: string, last: boolean): void {
    const fd = openSync(join(this.dir, name), last && !this.readOnly ? 'r+' : 'r')
    const segment: Segment = { name, fd, size: 0 }
    this.segments.push(segment)
    const buf = readFileSync(fd)
    const header = encodeSegmentHeader()
    if (last && buf.length <= SEGMENT_HEADER_BYTES && !(buf.length === header.length && buf.every((b, i) => b === header[i]))) {
      // A crash while creating the segment: nothing was ever acknowledged in it.
      if (!this.readOnly) this.rewrite(segment, header)
      else if (buf.length > 0) this.onTornTail?.({ segment: name, at: 0, bytes: buf.length })
      return
    }
    checkSegmentHeader(buf, name)
    let at = SEGMENT_HEADER_BYTES
    while (at < buf.length) {
      const frame = readFrame(buf, at)
      if (frame === undefined) {
        if (!last) throw new CorruptError(`fs store: ${name} has a bad record at byte ${at} and later segments follow`)
        const next = findFrame(buf, at + 1)
        if (next >= 0) throw new CorruptError(`fs store: ${name} has a bad record at byte ${at} but a valid one at byte ${next}`)
        // A torn tail: the write that was cut was never acknowledged. Cut it off for good so the
        // next append does not land behind garbage; read-only, leave it and say where it is.
        if (this.readOnly) {
          this.onTornTail?.({ segment: name, at, bytes: buf.length - at })
          break
        }
        ftruncateSync(fd, at)
        fsyncSync(fd)
        break
      }
      this.replay(frame.body, this.segments.length - 1, at + FRAME_HEADER_BYTES)
      at = frame.next
    }
    segment.size = at
  }

  private rewrite(segment: Segment, header: Uint8Array): void {
    ftruncateSync(segment.fd, 0)
    writeAll(segment.fd, header, 0)
    fsyncSync(segment.fd)
    segment.size = header.length
  }

  private addSegment(): Segment {
    const name = segmentName(this.segments.length + 1)
    // 'w+': a previous attempt may have left a partial file under this name.
    const fd = openSync(join(this.dir, name), 'w+')
    const segment: Segment = { name, fd, size: 0 }
    try {
      this.rewrite(segment, encodeSegmentHeader())
      fsyncDir(this.dir)
    } catch (err) {
      closeSync(fd)
      throw err
    }
    this.segments.push(segment)
    return segment
  }

  /** Append one frame durably; returns where it landed. */
  private append(frame: Uint8Array): { segment: number; at: number } {
    let segment = this.segments[this.segments.length - 1]
    if (segment.size > SEGMENT_HEADER_BYTES && segment.size + frame.length > this.maxSegmentBytes) segment = this.addSegment()
    const at = segment.size
    try {
      writeAll(segment.fd, frame, at)
      fdatasyncSync(segment.fd)
    } catch (err) {
      // Leave no partial frame behind for the next append to follow (best effort: the open
      // after a crash cuts it anyway).
      try {
        ftruncateSync(segment.fd, at)
      } catch {}
      throw err
    }
    segment.size = at + frame.length
    return { segment: this.segments.length - 1, at }
  }

  private replay(body: Uint8Array, segment: number, bodyAt: number): void {
    const type = body[0]
    if (type === RECORD_BATCH) this.apply(decodeBatch(body), segment, bodyAt)
    else if (type === RECORD_META_PUT || type === RECORD_META_DELETE) {
      const { key, value } = decodeMeta(body)
      if (value === undefined) this.meta.delete(key)
      else this.meta.set(key, value)
    } else throw new CorruptError(`fs store: unknown record type ${type} (written by a newer release?)`)
  }

  private index(log: string): LogIndex {
    let idx = this.logsById.get(log)
    if (idx === undefined) {
      idx = { order: [], heads: new Map(), tips: new Map(), byAuthor: new Map() }
      this.logsById.set(log, idx)
    }
    return idx
  }

  /** The one way a batch enters the indexes, for a fresh write and for a replay alike. */
  private apply(batch: DecodedBatch, segment: number, bodyAt: number): void {
    let decodedAuthor: Uint8Array | undefined
    let author!: Uint8Array
    let authorKey!: string
    for (const d of batch.events) {
      const key = bytesKey(d.cid)
      if (this.entries.has(key)) throw new CorruptError(`fs store: event ${toHex(d.cid)} is recorded twice`)
      // Events of one author share one decoded array per record: intern it once.
      if (d.author !== decodedAuthor) {
        decodedAuthor = d.author
        authorKey = bytesKey(d.author)
        author = this.authors.get(authorKey) ?? d.author
        this.authors.set(authorKey, author)
      }
      const entry: Entry = {
        cid: d.cid,
        log: d.log,
        author,
        seq: d.seq,
        clock: d.clock,
        segment,
        at: bodyAt + d.bytesAt,
        length: d.bytesLength,
        sigLength: d.sigLength,
      }
      this.entries.set(key, entry)
      const idx = this.index(d.log)
      let chain = idx.byAuthor.get(authorKey)
      if (chain === undefined) idx.byAuthor.set(authorKey, (chain = []))
      if (this.loading) {
        idx.order.push(entry)
        chain.push(entry)
      } else {
        insertOrdered(idx.order, entry)
        insertBySeq(chain, entry)
      }
      // A new event was neither a head nor a tip: only becoming one is a change.
      if (d.head) idx.heads.set(key, d.cid)
      if (d.tip) idx.tips.set(key, d.cid)
    }
    for (const u of batch.unlinked) {
      const idx = this.logsById.get(u.log)
      if (idx === undefined) continue
      const key = bytesKey(u.cid)
      if (u.head) idx.heads.delete(key)
      if (u.tip) idx.tips.delete(key)
    }
  }

  private check(): void {
    if (this.closed) throw new ClosedError('fs store')
  }

  /** Throws unless the store is open for writing. */
  private checkWritable(): void {
    this.check()
    if (this.readOnly) throw new InvalidArgumentError('fs store: store opened read-only')
  }

  private read(segment: number, at: number, length: number): Uint8Array {
    const out = new Uint8Array(length)
    for (let done = 0; done < length; ) {
      const n = readSync(this.segments[segment].fd, out, done, length - done, at + done)
      if (n === 0) throw new CorruptError(`fs store: ${this.segments[segment].name} is shorter than its index`)
      done += n
    }
    return out
  }

  /** Fetch the bytes of `list`, one read per run of events that sit close together on disk. */
  private materialize(list: readonly Entry[]): StoredEvent[] {
    const out: StoredEvent[] = new Array(list.length)
    const end = (e: Entry): number => e.at + e.length + Math.max(0, e.sigLength)
    for (let i = 0; i < list.length; ) {
      const first = list[i]
      let last = end(first)
      let j = i + 1
      for (; j < list.length; j++) {
        const e = list[j]
        if (e.segment !== first.segment || e.at < last || e.at - last > READ_GAP || end(e) - first.at > READ_SPAN) break
        last = end(e)
      }
      const buf = this.read(first.segment, first.at, last - first.at)
      for (; i < j; i++) {
        const e = list[i]
        const from = e.at - first.at
        const stored: StoredEvent = {
          cid: e.cid,
          bytes: buf.subarray(from, from + e.length),
          log: e.log,
          author: e.author,
          seq: e.seq,
          clock: e.clock,
        }
        if (e.sigLength >= 0) stored.sig = buf.subarray(from + e.length, from + e.length + e.sigLength)
        out[i] = stored
      }
    }
    return out
  }

  async putBatch(events: readonly EventPut[]): Promise<void> {
    this.checkWritable()
    checkBatch(events)
    const added: EventPut[] = []
    const seen = new Set<string>()
    for (const e of events) {
      const key = bytesKey(e.cid)
      if (this.entries.has(key) || seen.has(key)) continue
      seen.add(key)
      added.push(e)
    }
    if (added.length === 0) return
    const frame = encodeBatch(added, linkChanges(added))
    const { segment, at } = this.append(frame)
    // Decode what was written rather than index `added` directly: a reopen replays exactly this.
    this.apply(decodeBatch(frame.subarray(FRAME_HEADER_BYTES)), segment, at + FRAME_HEADER_BYTES)
  }

  async get(cid: Uint8Array): Promise<StoredEvent | undefined> {
    this.check()
    const e = this.entries.get(bytesKey(cid))
    return e === undefined ? undefined : this.materialize([e])[0]
  }

  async has(cid: Uint8Array): Promise<boolean> {
    this.check()
    return this.entries.has(bytesKey(cid))
  }

  async heads(log: string): Promise<Uint8Array[]> {
    this.check()
    return [...(this.logsById.get(log)?.heads.values() ?? [])].sort(compareBytes)
  }

  async tips(log: string): Promise<Uint8Array[]> {
    this.check()
    return [...(this.logsById.get(log)?.tips.values() ?? [])].sort(compareBytes)
  }

  async scan(log: string, options: ScanOptions = {}): Promise<StoredEvent[]> {
    this.check()
    const order = this.logsById.get(log)?.order ?? []
    const from = indexAfter(order, options.after)
    return this.materialize(order.slice(from, from + (options.limit ?? DEFAULT_PAGE)))
  }

  async byAuthor(log: string, author: Uint8Array, options: AuthorScanOptions = {}): Promise<StoredEvent[]> {
    this.check()
    const chain = this.logsById.get(log)?.byAuthor.get(bytesKey(author)) ?? []
    const fromSeq = options.fromSeq ?? 1
    let lo = 0
    let hi = chain.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (chain[mid].seq < fromSeq) lo = mid + 1
      else hi = mid
    }
    return this.materialize(chain.slice(lo, lo + (options.limit ?? DEFAULT_PAGE)))
  }

  async count(log: string): Promise<number> {
    this.check()
    return this.logsById.get(log)?.order.length ?? 0
  }

  async logs(): Promise<string[]> {
    this.check()
    return [...this.logsById.keys()].filter((l) => this.logsById.get(l)!.order.length > 0).sort()
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    this.check()
    return this.meta.get(key)?.slice()
  }

  async putMeta(key: string, value: Uint8Array): Promise<void> {
    this.checkWritable()
    this.append(encodeMetaPut(key, value))
    this.meta.set(key, value.slice())
  }

  async deleteMeta(key: string): Promise<void> {
    this.checkWritable()
    if (!this.meta.has(key)) return
    this.append(encodeMetaDelete(key))
    this.meta.delete(key)
  }

  private closeFiles(): void {
    for (const s of this.segments.splice(0)) closeSync(s.fd)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.closeFiles()
  }
}

function insertBySeq(chain: Entry[], e: Entry): void {
  let i = chain.length
  while (i > 0 && compareBySeq(chain[i - 1], e) > 0) i--
  chain.splice(i, 0, e)
}

/**
 * Open (or create) the fs store in `dir`. Opens synchronously: reads and verifies every segment,
 * cuts a torn tail (or, with `readOnly`, leaves it and reports it to `onTornTail`), and throws
 * `CORRUPT` on damage a crash cannot explain. Returned byte arrays of one call may share a
 * buffer: do not mutate them.
 */
export function fsStore(dir: string, init: FsStoreInit = {}): EventStore {
  return new FsStore(dir, init)
}
