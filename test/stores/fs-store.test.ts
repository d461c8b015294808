import { createHash } from 'node:crypto'
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { fsStore, type TornTailInfo } from '../../src/stores/fs-store.js'
import type { EventStore } from '../../src/stores/event-store.js'
import { crc32, crc32Portable } from '../../src/stores/crc32.js'
import { SEGMENT_HEADER_BYTES, readFrame } from '../../src/stores/fs-segment.js'
import { eventStoreSuite } from '../conformance/event-store/index.js'
import type { CrashFixture } from '../conformance/event-store/crash.js'
import type { TornTailFixture } from '../conformance/event-store/torn-tail.js'
import { syntheticDag } from '../conformance/event-store/synthetic.js'
import { SAMPLE_META_KEYS, dump, writeSample } from '../conformance/event-store/inspect.js'

const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stateflow-fs-'))
  dirs.push(dir)
  return join(dir, 'store')
}
function removeTemps(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** Segment paths in order. */
function segments(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.seg'))
    .sort()
    .map((n) => join(dir, n))
}

/** Start offsets of the valid frames of one segment file. */
function frames(path: string): number[] {
  const buf = new Uint8Array(readFileSync(path))
  const out: number[] = []
  for (let at = SEGMENT_HEADER_BYTES; at < buf.length; ) {
    const f = readFrame(buf, at)
    if (f === undefined) break
    out.push(at)
    at = f.next
  }
  return out
}

function flipByte(path: string, at: number): void {
  const buf = readFileSync(path)
  buf[at] ^= 0x5a
  writeFileSync(path, buf)
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256))
}

// Small segments so every suite also crosses segment boundaries.
const SMALL = { maxSegmentBytes: 4096 }


// A crash batch is ~20 KB: 64 KiB segments roll over every few batches, so kills also land in
// segment creation.
const CRASH_INIT = { maxSegmentBytes: 64 * 1024 }

const crash: CrashFixture = {
  name: 'fsStore',
  async location() {
    return tempDir()
  },
  async cleanup() {
    removeTemps()
  },
  async open(dir) {
    return fsStore(dir, CRASH_INIT)
  },
  child: { module: fileURLToPath(new URL('../../src/stores/fs-store.ts', import.meta.url)), exportName: 'fsStore', init: CRASH_INIT },
}

// The torn-tail suite writes 6 batches of ~7 KB: 16 KiB segments hold two records each, so the
// last segment has a record before the last one.
const TORN = { maxSegmentBytes: 16 * 1024 }
const last = (dir: string): string => segments(dir).at(-1)!

const tornTail: TornTailFixture = {
  name: 'fsStore',
  async location() {
    return tempDir()
  },
  async cleanup() {
    removeTemps()
  },
  async open(dir) {
    return fsStore(dir, TORN)
  },
  async crashCopy(dir) {
    const copy = `${dir}-crash-${dirs.length}`
    cpSync(dir, copy, { recursive: true })
    return copy
  },
  tornTails: {
    'last record cut short': (dir, rand) => {
      const seg = last(dir)
      const start = frames(seg).at(-1)!
      const size = statSync(seg).size
      truncateSync(seg, start + 1 + Math.floor(rand() * (size - start - 2)))
    },
    'half a frame header': (dir) => {
      const seg = last(dir)
      truncateSync(seg, frames(seg).at(-1)! + 3)
    },
    'last record checksum broken': (dir, rand) => {
      const seg = last(dir)
      const start = frames(seg).at(-1)!
      flipByte(seg, start + Math.floor(rand() * (statSync(seg).size - start)))
    },
    'garbage appended': (dir, rand) => appendFileSync(last(dir), randomBytes(rand, 1 + Math.floor(rand() * 3000))),
    'zeros appended (power loss after the size grew)': (dir) => appendFileSync(last(dir), new Uint8Array(4096)),
    'a new segment cut while being created': (dir) => {
      writeFileSync(join(dir, `${String(segments(dir).length + 1).padStart(8, '0')}.seg`), new Uint8Array([0x53, 0x46, 0x53]))
    },
  },
  corruptions: {
    'a bad byte in an earlier segment': (dir) => {
      const first = segments(dir)[0]
      flipByte(first, frames(first)[0] + 9)
    },
    'a bad byte in the last segment, a valid record after it': (dir) => {
      const seg = last(dir)
      const starts = frames(seg)
      expect(starts.length).toBeGreaterThanOrEqual(2)
      flipByte(seg, starts[0] + 20)
    },
    'an earlier segment cut short': (dir) => {
      const first = segments(dir)[0]
      truncateSync(first, statSync(first).size - 5)
    },
    'a segment missing': (dir) => {
      const all = segments(dir)
      expect(all.length).toBeGreaterThanOrEqual(3)
      rmSync(all[1])
    },
    'a segment header overwritten': (dir, rand) => {
      const first = segments(dir)[0]
      const buf = readFileSync(first)
      buf.set(randomBytes(rand, 4), 0)
      writeFileSync(first, buf)
    },
    'a segment version from the future': (dir) => {
      const first = segments(dir)[0]
      const buf = readFileSync(first)
      buf[4] = 99
      writeFileSync(first, buf)
    },
  },
}

describe('fsStore - files', () => {
  it('a torn tail is cut from the file itself, and the next append follows the last good record', async () => {
    const dir = tempDir()
    try {
      const events = syntheticDag({ events: 40, seed: 71 })
      const s = fsStore(dir)
      await s.putBatch(events.slice(0, 20))
      await s.close()
      const [seg] = segments(dir)
      const good = statSync(seg).size
      appendFileSync(seg, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]))
      const t = fsStore(dir)
      expect(statSync(seg).size).toBe(good)
      await t.putBatch(events.slice(20))
      await t.close()
      expect(frames(seg).length).toBe(2)
      const u = fsStore(dir)
      expect(await u.count('test-log')).toBe(40)
      await u.close()
    } finally {
      removeTemps()
    }
  })

  it('rolls over to a new segment at the size bound, and a record bigger than the bound gets its own', async () => {
    const dir = tempDir()
    try {
      const s = fsStore(dir, { maxSegmentBytes: 2048 })
      const events = syntheticDag({ events: 30, seed: 72, payload: 100 })
      for (const e of events) await s.putBatch([e])
      await s.putBatch(syntheticDag({ log: 'big', events: 1, seed: 73, payload: 5000 }))
      await s.close()
      const all = segments(dir)
      expect(all.length).toBeGreaterThan(2)
      for (const seg of all.slice(0, -1)) expect(statSync(seg).size).toBeLessThanOrEqual(2048)
      expect(statSync(all.at(-1)!).size).toBeGreaterThan(5000)
      const t = fsStore(dir, { maxSegmentBytes: 2048 })
      expect(await t.count('test-log')).toBe(30)
      expect((await t.scan('big'))[0].bytes.length).toBe(5000)
      await t.close()
    } finally {
      removeTemps()
    }
  })

  it('a duplicate-only batch or a delete of a missing key writes nothing', async () => {
    const dir = tempDir()
    try {
      const s = fsStore(dir)
      const events = syntheticDag({ events: 5, seed: 74 })
      await s.putBatch(events)
      const size = statSync(segments(dir)[0]).size
      await s.putBatch(events)
      await s.deleteMeta('never-set')
      expect(statSync(segments(dir)[0]).size).toBe(size)
      await s.close()
    } finally {
      removeTemps()
    }
  })

  it('a log id longer than a record field takes is INVALID_ARGUMENT and writes nothing', async () => {
    const dir = tempDir()
    try {
      const s = fsStore(dir)
      const [e] = syntheticDag({ log: 'x'.repeat(70_000), events: 1, seed: 75 })
      await expect(s.putBatch([e])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
      expect(await s.has(e.cid)).toBe(false)
      await s.close()
    } finally {
      removeTemps()
    }
  })
})

describe('crc32 - checksum', () => {
  it('matches the standard check value, natively and in the portable fallback', () => {
    const check = new TextEncoder().encode('123456789')
    expect(crc32(check)).toBe(0xcbf43926)
    expect(crc32Portable(check)).toBe(0xcbf43926)
    const data = randomBytesSeeded(4096)
    expect(crc32Portable(data)).toBe(crc32(data))
  })
})

function randomBytesSeeded(n: number): Uint8Array {
  let x = 12345
  return Uint8Array.from({ length: n }, () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24)
}

eventStoreSuite({
  name: 'fsStore',
  capabilities: { durable: true, crashSafe: true },
  crash,
  tornTail,
  async setup() {
    const dir = tempDir()
    return { store: fsStore(dir, SMALL), reopen: async () => fsStore(dir, SMALL) }
  },
  async teardown() {
    removeTemps()
  },
})


/** Every file of the directory: size, mtime and a hash of its bytes. */
function files(dir: string) {
  const out: Record<string, { size: number; mtimeMs: number; sha256: string }> = {}
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    const { size, mtimeMs } = statSync(path)
    out[name] = { size, mtimeMs, sha256: createHash('sha256').update(readFileSync(path)).digest('hex') }
  }
  return out
}


async function expectWritesRejected(store: EventStore): Promise<void> {
  const [e] = syntheticDag({ events: 1, seed: 96 })
  await expect(store.putBatch([e])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  await expect(store.putBatch([])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  await expect(store.putMeta('kept', new Uint8Array([9]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  await expect(store.deleteMeta('kept')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  await expect(store.deleteMeta('never')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  expect(await store.has(e.cid)).toBe(false)
}

/** A read-only open that records what it reports through `onTornTail`. */
function openReadOnly(dir: string, init: { maxSegmentBytes?: number } = {}) {
  const torn: TornTailInfo[] = []
  const store = fsStore(dir, { ...init, readOnly: true, onTornTail: (t) => void torn.push(t) })
  return { store, torn }
}

describe('fsStore - read-only', () => {
  it('read-only - sees everything a read-write store wrote, across segments', async () => {
    const dir = tempDir()
    try {
      const w = fsStore(dir, SMALL)
      await writeSample(w, 94)
      const expected = await dump(w, SAMPLE_META_KEYS)
      await w.close()
      expect(segments(dir).length).toBeGreaterThan(2)
      const { store, torn } = openReadOnly(dir, SMALL)
      expect(await store.logs()).toEqual(['other-log', 'test-log'])
      expect(await store.count('test-log')).toBe(60)
      expect(await dump(store, SAMPLE_META_KEYS)).toEqual(expected)
      expect(torn).toEqual([])
      await store.close()
    } finally {
      removeTemps()
    }
  })

  it('read-only - writes reject with INVALID_ARGUMENT; no file is written, created or cut; close is idempotent', async () => {
    const dir = tempDir()
    try {
      const w = fsStore(dir, SMALL)
      await writeSample(w, 94)
      await w.close()
      const before = files(dir)
      const { store } = openReadOnly(dir, SMALL)
      await expectWritesRejected(store)
      expect([...(await store.getMeta('kept'))!]).toEqual([1, 2, 3])
      expect(await store.count('test-log')).toBe(60)
      await store.close()
      await store.close()
      await expect(store.count('test-log')).rejects.toMatchObject({ code: 'CLOSED' })
      await expect(store.putBatch([])).rejects.toMatchObject({ code: 'CLOSED' })
      expect(files(dir)).toEqual(before)
    } finally {
      removeTemps()
    }
  })

  it('read-only - a last record cut short stays on disk; reading stops before it and onTornTail names where it starts', async () => {
    const dir = tempDir()
    try {
      const events = syntheticDag({ events: 40, seed: 97 })
      const w = fsStore(dir)
      await w.putBatch(events.slice(0, 25))
      await w.putBatch(events.slice(25))
      await w.close()
      const [seg] = segments(dir)
      const start = frames(seg).at(-1)!
      const cut = start + 30
      truncateSync(seg, cut)
      const before = files(dir)

      const { store, torn } = openReadOnly(dir)
      expect(torn).toEqual([{ segment: '00000001.seg', at: start, bytes: 30 }])
      expect(await store.count('test-log')).toBe(25)
      expect(await store.has(events[25].cid)).toBe(false)
      await expectWritesRejected(store)
      await store.close()
      // The torn bytes are still there, unchanged.
      expect(files(dir)).toEqual(before)
      expect(statSync(seg).size).toBe(cut)

      // A read-write open still cuts them, as before.
      const rw = fsStore(dir)
      expect(statSync(seg).size).toBe(start)
      expect(await rw.count('test-log')).toBe(25)
      await rw.close()
    } finally {
      removeTemps()
    }
  })

  it('read-only - garbage after the last record and a flipped byte inside it are torn tails too: reported, left on disk', async () => {
    const dir = tempDir()
    try {
      const w = fsStore(dir, SMALL)
      await writeSample(w, 94)
      await w.close()
      const seg = last(dir)
      const good = statSync(seg).size
      const garbage = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
      appendFileSync(seg, garbage)
      const before = files(dir)
      const a = openReadOnly(dir, SMALL)
      expect(a.torn).toEqual([{ segment: seg.slice(dir.length + 1), at: good, bytes: garbage.length }])
      expect(await a.store.count('test-log')).toBe(60)
      await a.store.close()
      expect(files(dir)).toEqual(before)

      // Damage inside the last record (the meta delete): dropped from what is read, never from disk.
      const start = frames(seg).at(-1)!
      flipByte(seg, start + 9)
      const damaged = files(dir)
      const b = openReadOnly(dir, SMALL)
      expect(b.torn).toEqual([{ segment: seg.slice(dir.length + 1), at: start, bytes: good + garbage.length - start }])
      // The meta delete is the record that was lost: 'dropped' reads as still set.
      expect([...(await b.store.getMeta('dropped'))!]).toEqual([4])
      await b.store.close()
      expect(files(dir)).toEqual(damaged)
    } finally {
      removeTemps()
    }
  })

  it('read-only - a last segment cut while being created reads as empty and is left as it is', async () => {
    const dir = tempDir()
    try {
      const w = fsStore(dir)
      await w.putBatch(syntheticDag({ events: 10, seed: 98 }))
      await w.close()
      writeFileSync(join(dir, '00000002.seg'), new Uint8Array([0x53, 0x46, 0x53]))
      const before = files(dir)
      const a = openReadOnly(dir)
      expect(a.torn).toEqual([{ segment: '00000002.seg', at: 0, bytes: 3 }])
      expect(await a.store.count('test-log')).toBe(10)
      await a.store.close()
      expect(files(dir)).toEqual(before)

      // An empty one holds nothing torn: no report, still empty afterwards.
      writeFileSync(join(dir, '00000002.seg'), new Uint8Array(0))
      const empty = files(dir)
      const b = openReadOnly(dir)
      expect(b.torn).toEqual([])
      expect(await b.store.count('test-log')).toBe(10)
      await b.store.close()
      expect(files(dir)).toEqual(empty)
    } finally {
      removeTemps()
    }
  })

  it('read-only - damage a crash cannot explain is CORRUPT, as read-write, and nothing is changed', async () => {
    const dir = tempDir()
    try {
      const w = fsStore(dir)
      const events = syntheticDag({ events: 30, seed: 99 })
      await w.putBatch(events.slice(0, 15))
      await w.putBatch(events.slice(15))
      await w.close()
      const [seg] = segments(dir)
      flipByte(seg, frames(seg)[0] + 20)
      const before = files(dir)
      const torn: TornTailInfo[] = []
      expect(() => fsStore(dir, { readOnly: true, onTornTail: (t) => void torn.push(t) })).toThrow(expect.objectContaining({ code: 'CORRUPT' }))
      expect(torn).toEqual([])
      expect(files(dir)).toEqual(before)
    } finally {
      removeTemps()
    }
  })

  it('read-only - a missing directory is NOT_FOUND and is not created; an empty one is an empty store and stays empty', async () => {
    const dir = tempDir()
    try {
      expect(() => fsStore(dir, { readOnly: true })).toThrow(expect.objectContaining({ code: 'NOT_FOUND', name: 'NotFoundError' }))
      expect(existsSync(dir)).toBe(false)
      mkdirSync(dir)
      const store = fsStore(dir, { readOnly: true })
      expect(await store.logs()).toEqual([])
      expect(await store.count('test-log')).toBe(0)
      await expect(store.putMeta('k', new Uint8Array(1))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
      await store.close()
      expect(readdirSync(dir)).toEqual([])
    } finally {
      removeTemps()
    }
  })
})
