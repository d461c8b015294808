/**
 * Reading a log in total order from SQLite (filled once by ingest, untimed):
 * - raw `store.scan` pages of 1024 `StoredEvent` records (no decoding);
 * - `log.events()`, which decodes every event (DAG-CBOR, canonical check, CID hash);
 * plus, for scale, the same two from the fs store and a plain better-sqlite3 full scan of a table
 * of 250-byte rows measured in the same run (the peer anchor, re-measured here).
 *
 *   node --import tsx bench/scan.ts [--quick]
 */
import Database from 'better-sqlite3'
import path from 'node:path'
import { createXSync } from '../src/log/client.js'
import type { EventStore, StoredEvent } from '../src/stores/event-store.js'
import { BATCH, LOG_ID, chunks, ingestAll, produce, removeDir, storeMaker, storedNote, tempDir, type StoreKind } from './fixtures.js'
import { consume, count, figure, fmtInt, isMain, measure, parseArgs, progress, runModules, wanted, type BenchModule, type BenchOptions, type Figure } from './harness.js'
import { cryptoBench } from './crypto.js'

const SECTION = '4. scan in total order'
const PAGE = 1024

async function rawScan(store: EventStore): Promise<number> {
  let n = 0
  let after: StoredEvent | undefined
  for (;;) {
    const page = await store.scan(LOG_ID, after ? { after, limit: PAGE } : { limit: PAGE })
    n += page.length
    if (page.length < PAGE) return n
    after = page[page.length - 1]
  }
}

async function decodedScan(store: EventStore): Promise<number> {
  const client = await createXSync({ store })
  let n = 0
  for await (const e of client.log(LOG_ID).events()) {
    consume(e)
    n++
  }
  // Not client.close(): that would close the shared store.
  return n
}

async function scanFigures(opts: BenchOptions, kind: StoreKind, n: number, add: (f: Figure) => void): Promise<void> {
  const ids = [`scan.${kind}.raw`, `scan.${kind}.events`]
  if (!ids.some((id) => wanted(opts, id))) return
  const maker = await storeMaker(kind)
  if ('unavailable' in maker) {
    console.log(`  scan.${kind.padEnd(23)} skipped: ${maker.unavailable}`)
    return
  }
  const set = await produce(opts, n, true)
  const opened = await maker()
  let note = ''
  {
    const client = await createXSync({ store: opened.store })
    note = storedNote(n, await ingestAll(client.log(LOG_ID), chunks(set.events, BATCH)))
  }
  const target = kind === 'sqlite' ? { min: 200_000, text: '≥ 200,000/s' } : undefined
  const label = kind === 'sqlite' ? 'SQLite' : kind === 'fs' ? 'fs' : kind
  try {
    if (wanted(opts, ids[0])) {
      const { rates } = await measure(opts, { ops: n, setup: () => opened.store, body: rawScan, warmup: () => rawScan(opened.store) })
      add(
        figure({
          id: ids[0],
          section: SECTION,
          name: `${label}: store.scan pages of ${PAGE} (StoredEvent, no decode)`,
          unit: 'events/s',
          runs: rates,
          target,
          note: `${fmtInt(n)} events of ~${Math.round(set.meanBytes)} B` + note,
        }),
      )
    }
    if (wanted(opts, ids[1])) {
      const { rates } = await measure(opts, { ops: n, setup: () => opened.store, body: decodedScan, warmup: () => decodedScan(opened.store) })
      add(
        figure({
          id: ids[1],
          section: SECTION,
          name: `${label}: log.events() (decodes every event)`,
          unit: 'events/s',
          runs: rates,
          target,
        }),
      )
    }
  } finally {
    await opened.dispose()
  }
}

/** The better-sqlite3 anchor re-measured: full scan of a rowid table of 250-byte blob rows. */
function plainSqliteScan(opts: BenchOptions, n: number): Promise<Figure> {
  const dir = tempDir('plain-sqlite')
  const db = new Database(path.join(dir, 'plain.db'))
  db.pragma('journal_mode = WAL')
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, k BLOB NOT NULL UNIQUE, v BLOB NOT NULL)')
  const ins = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)')
  const fill = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const k = Buffer.alloc(32)
      k.writeUInt32BE(i, 0)
      const v = Buffer.alloc(250, i & 0xff)
      ins.run(k, v)
    }
  })
  for (let i = 0; i < n; i += 4096) fill(i, Math.min(n, i + 4096))
  const sel = db.prepare('SELECT id, k, v FROM t ORDER BY id')
  const scan = (): number => {
    let c = 0
    for (const row of sel.iterate()) {
      consume(row)
      c++
    }
    return c
  }
  return measure(opts, { ops: n, setup: () => undefined, body: scan, warmup: scan })
    .then(({ rates }) =>
      figure({
        id: 'scan.plain-sqlite',
        section: SECTION,
        name: 'anchor: plain better-sqlite3 full scan, 250-byte rows (same run)',
        unit: 'rows/s',
        runs: rates,
        note: 'SELECT id, k, v FROM t ORDER BY id, stmt.iterate(); no stateflow code',
      }),
    )
    .finally(() => {
      db.close()
      removeDir(dir)
    })
}

export const scanBench: BenchModule = {
  name: 'scan',
  async run(opts) {
    const out: Figure[] = []
    const add = (f: Figure): void => {
      out.push(f)
      progress(f)
    }
    const n = count(opts, 100_000, 20_480)
    await scanFigures(opts, 'sqlite', n, add)
    await scanFigures(opts, 'fs', n, add)
    if (wanted(opts, 'scan.plain-sqlite')) add(await plainSqliteScan(opts, n))
    return out
  },
}

if (isMain(import.meta.url)) await runModules([cryptoBench, scanBench], parseArgs())
