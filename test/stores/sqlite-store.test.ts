import { createHash } from 'node:crypto'
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { sqliteStore } from '../../src/stores/sqlite-store.js'
import type { EventStore } from '../../src/stores/event-store.js'
import { eventStoreSuite } from '../conformance/event-store/index.js'
import type { CrashFixture } from '../conformance/event-store/crash.js'
import type { TornTailFixture } from '../conformance/event-store/torn-tail.js'
import { syntheticDag } from '../conformance/event-store/synthetic.js'
import { SAMPLE_META_KEYS, dump, writeSample } from '../conformance/event-store/inspect.js'

const dirs: string[] = []
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stateflow-sqlite-'))
  dirs.push(dir)
  return join(dir, 'events.sqlite')
}
function removeTemps(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
}


const crash: CrashFixture = {
  name: 'sqliteStore',
  async location() {
    return tempPath()
  },
  async cleanup() {
    removeTemps()
  },
  async open(path) {
    return sqliteStore(path)
  },
  child: { module: fileURLToPath(new URL('../../src/stores/sqlite-store.ts', import.meta.url)), exportName: 'sqliteStore' },
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256))
}

/** The WAL of a crash copy: where SQLite's torn tails live. It must hold the last commits. */
function wal(path: string): string {
  const file = `${path}-wal`
  expect(existsSync(file) && statSync(file).size > 32).toBe(true)
  return file
}

let copies = 0

const tornTail: TornTailFixture = {
  name: 'sqliteStore',
  async location() {
    return tempPath()
  },
  async cleanup() {
    removeTemps()
  },
  async open(path) {
    return sqliteStore(path)
  },
  async crashCopy(path) {
    // The main file and the WAL as they are; no -shm, so the open rebuilds it from the WAL.
    const copy = `${path}-crash-${copies++}.sqlite`
    copyFileSync(path, copy)
    if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${copy}-wal`)
    return copy
  },
  tornTails: {
    // A WAL frame is 24 + 4096 bytes; cutting less than one frame cuts into the last commit frame.
    'WAL cut inside the last commit': (path, rand) => {
      const file = wal(path)
      truncateSync(file, statSync(file).size - 1 - Math.floor(rand() * 4000))
    },
    'garbage after the last WAL frame': (path, rand) => appendFileSync(wal(path), randomBytes(rand, 1 + Math.floor(rand() * 6000))),
  },
  corruptions: {
    'header overwritten': (path, rand) => {
      const buf = readFileSync(path)
      buf.set(randomBytes(rand, 100), 0)
      writeFileSync(path, buf)
    },
    'file cut in half': (path) => truncateSync(path, Math.floor(statSync(path).size / 2)),
    'file cut to a few bytes': (path) => truncateSync(path, 50),
  },
}

describe('sqliteStore - files', () => {
  it('refuses an SQLite file that is not a stateflow store with CORRUPT', async () => {
    const path = tempPath()
    try {
      const db = new Database(path)
      db.exec('CREATE TABLE other (x)')
      db.close()
      expect(() => sqliteStore(path)).toThrow(expect.objectContaining({ code: 'CORRUPT' }))
    } finally {
      removeTemps()
    }
  })

  it("synchronous: 'normal' is a working store too", async () => {
    const path = tempPath()
    try {
      const s = sqliteStore(path, { synchronous: 'normal' })
      await s.putBatch(syntheticDag({ events: 10, seed: 81 }))
      await s.close()
      const t = sqliteStore(path, { synchronous: 'normal' })
      expect(await t.count('test-log')).toBe(10)
      await t.close()
    } finally {
      removeTemps()
    }
  })
})

eventStoreSuite({
  name: 'sqliteStore',
  capabilities: { durable: true, crashSafe: true },
  crash,
  tornTail,
  async setup() {
    const path = tempPath()
    return { store: sqliteStore(path), reopen: async () => sqliteStore(path) }
  },
  async teardown() {
    removeTemps()
  },
})


/**
 * The bytes and mtime of the main file and of the -wal. A read-only SQLite connection to a WAL
 * database creates an empty -wal (and a -shm) when there is none, so an empty -wal counts as none:
 * it holds nothing and SQLite reads the two alike.
 */
function files(path: string) {
  const one = (file: string) => {
    if (!existsSync(file) || statSync(file).size === 0) return 'none'
    const { size, mtimeMs } = statSync(file)
    return { size, mtimeMs, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') }
  }
  return { db: one(path), wal: one(`${path}-wal`) }
}


async function expectWritesRejected(store: EventStore): Promise<void> {
  const [e] = syntheticDag({ events: 1, seed: 93 })
  await expect(store.putBatch([e])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  await expect(store.putBatch([])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  await expect(store.putMeta('kept', new Uint8Array([9]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  await expect(store.deleteMeta('kept')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  expect(await store.has(e.cid)).toBe(false)
  expect(await store.getMeta('kept')).toEqual(new Uint8Array([1, 2, 3]))
}

describe('sqliteStore - read-only', () => {
  it('read-only - sees everything a read-write store wrote', async () => {
    const path = tempPath()
    try {
      const w = sqliteStore(path)
      await writeSample(w, 91)
      const expected = await dump(w, SAMPLE_META_KEYS)
      await w.close()
      const r = sqliteStore(path, { readOnly: true })
      expect(await r.logs()).toEqual(['other-log', 'test-log'])
      expect(await r.count('test-log')).toBe(60)
      expect(await dump(r, SAMPLE_META_KEYS)).toEqual(expected)
      await r.close()
    } finally {
      removeTemps()
    }
  })

  it('read-only - writes reject with INVALID_ARGUMENT and the files keep their bytes; close is idempotent', async () => {
    const path = tempPath()
    try {
      const w = sqliteStore(path)
      await writeSample(w, 91)
      await w.close()
      const before = files(path)
      const r = sqliteStore(path, { readOnly: true })
      await expectWritesRejected(r)
      expect(await r.count('test-log')).toBe(60)
      await r.close()
      await r.close()
      await expect(r.count('test-log')).rejects.toMatchObject({ code: 'CLOSED' })
      await expect(r.putMeta('k', new Uint8Array(1))).rejects.toMatchObject({ code: 'CLOSED' })
      expect(files(path)).toEqual(before)
    } finally {
      removeTemps()
    }
  })

  it('read-only - reads batches committed to the -wal but never checkpointed, and leaves .db and -wal byte-identical', async () => {
    const path = tempPath()
    try {
      // The writer stays open: its commits sit in the -wal (checkpoints come every 4000 pages).
      const w = sqliteStore(path)
      await writeSample(w, 91)
      const expected = await dump(w, SAMPLE_META_KEYS)
      // What a kill -9 leaves: the main file and the -wal as they are, no -shm.
      const copy = `${path}-crash.sqlite`
      copyFileSync(path, copy)
      copyFileSync(`${path}-wal`, `${copy}-wal`)
      await w.close()
      expect(statSync(`${copy}-wal`).size).toBeGreaterThan(32)
      const before = files(copy)
      expect(before.wal).not.toBe('none')

      const r = sqliteStore(copy, { readOnly: true })
      expect(await r.count('test-log')).toBe(60)
      expect(await r.count('other-log')).toBe(25)
      expect(await dump(r, SAMPLE_META_KEYS)).toEqual(expected)
      await expectWritesRejected(r)
      await r.close()
      expect(files(copy)).toEqual(before)
    } finally {
      removeTemps()
    }
  })

  it('read-only - garbage after the last -wal commit: every commit is read, the -wal is left as it is', async () => {
    const path = tempPath()
    try {
      const w = sqliteStore(path)
      await writeSample(w, 91)
      const copy = `${path}-crash.sqlite`
      copyFileSync(path, copy)
      copyFileSync(`${path}-wal`, `${copy}-wal`)
      await w.close()
      appendFileSync(`${copy}-wal`, randomBytes(() => 0.37, 5000))
      const before = files(copy)
      const r = sqliteStore(copy, { readOnly: true })
      expect(await r.count('test-log')).toBe(60)
      expect(await r.getMeta('kept')).toEqual(new Uint8Array([1, 2, 3]))
      await r.close()
      expect(files(copy)).toEqual(before)
    } finally {
      removeTemps()
    }
  })

  it('read-only - a missing file is NOT_FOUND and is not created; foreign and empty files are CORRUPT and left alone', async () => {
    const path = tempPath()
    try {
      expect(() => sqliteStore(path, { readOnly: true })).toThrow(expect.objectContaining({ code: 'NOT_FOUND', name: 'NotFoundError' }))
      expect(existsSync(path)).toBe(false)

      const db = new Database(path)
      db.exec('CREATE TABLE other (x)')
      db.close()
      const foreign = files(path)
      expect(() => sqliteStore(path, { readOnly: true })).toThrow(expect.objectContaining({ code: 'CORRUPT' }))
      expect(files(path)).toEqual(foreign)

      // A never-initialized SQLite file: read-write would create the schema, read-only refuses.
      const blank = `${path}-blank.sqlite`
      new Database(blank).close()
      expect(() => sqliteStore(blank, { readOnly: true })).toThrow(expect.objectContaining({ code: 'CORRUPT' }))

      // An empty main file next to a -wal: SQLite would delete that -wal on open, even read-only.
      const w = sqliteStore(`${path}-w.sqlite`)
      await writeSample(w, 91)
      const empty = `${path}-empty.sqlite`
      writeFileSync(empty, '')
      copyFileSync(`${path}-w.sqlite-wal`, `${empty}-wal`)
      await w.close()
      const walBytes = readFileSync(`${empty}-wal`)
      expect(() => sqliteStore(empty, { readOnly: true })).toThrow(expect.objectContaining({ code: 'CORRUPT' }))
      expect(readFileSync(`${empty}-wal`).equals(walBytes)).toBe(true)
      expect(statSync(empty).size).toBe(0)
    } finally {
      removeTemps()
    }
  })
})
