import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { sqliteStore } from '../../src/stores/sqlite-store.js'
import { eventStoreSuite } from '../conformance/event-store/index.js'
import type { CrashFixture } from '../conformance/event-store/crash.js'
import type { TornTailFixture } from '../conformance/event-store/torn-tail.js'
import { syntheticDag } from '../conformance/event-store/synthetic.js'

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
