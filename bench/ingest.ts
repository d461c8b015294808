/**
 * Ingesting events from another peer: a first client produces the events once, a second one
 * (fresh store each run) takes them through `log.ingest` in batches of 256.
 * - batch-signed events (appendBatch of 256: one signature per 256) into memory, SQLite, fs and
 *   (an extra) fake-indexeddb: one verify per batch plus decode and hash per event.
 * - events signed one by one (single appends) into memory: one verify per event, run on libuv's
 *   pool; the figure shows how many cores it kept busy.
 *
 *   node --import tsx bench/ingest.ts [--quick] [--filter ingest.sqlite]
 */
import { createXSync, type XSyncClient } from '../src/log/client.js'
import { signingBackend, type BackendName } from '../src/log/crypto-backend.js'
import { generateIdentity } from '../src/log/identity.js'
import type { Log } from '../src/log/log.js'
import { BATCH, LOG_ID, chunks, diskUsage, ingestAll, produce, storeMaker, storedNote, type EventSet, type OpenedStore, type StoreKind } from './fixtures.js'
import { count, figure, fmtBytes, fmtInt, isMain, median, parseArgs, progress, runModules, timeOnce, wanted, type BenchModule, type BenchOptions, type Figure } from './harness.js'
import { ceiling, cryptoBench } from './crypto.js'

const SECTION_BATCHED = `2. ingest, ${BATCH} events/signature, batches of ${BATCH}`
const SECTION_SIGNED = '3. ingest, a signature on every event, batches of 256'

interface Receiver {
  opened: OpenedStore
  client: XSyncClient
  log: Log
}

async function receiver(open: () => Promise<OpenedStore>, backend?: BackendName): Promise<Receiver> {
  const opened = await open()
  const identity = backend ? await generateIdentity({ backend: signingBackend(backend)! }) : undefined
  const client = await createXSync({ store: opened.store, ...(identity ? { identity } : {}) })
  const log = client.log(LOG_ID)
  await log.heads() // loads the (empty) index outside the timed part
  return { opened, client, log }
}

/** Time ingesting `set` into fresh stores of one kind; median of `opts.runs`. */
async function ingestFigure(
  opts: BenchOptions,
  spec: { id: string; section: string; name: string; kind: StoreKind; init?: Record<string, unknown>; backend?: BackendName; set: EventSet; target?: Figure['target']; extraNote?: (cores: number, rate: number) => string },
): Promise<Figure | undefined> {
  const maker = await storeMaker(spec.kind, spec.init)
  if ('unavailable' in maker) {
    console.log(`  ${spec.id.padEnd(28)} skipped: ${maker.unavailable}`)
    return undefined
  }
  const batches = chunks(spec.set.events, BATCH)
  const n = spec.set.events.length
  // Warm-up: a few batches into a throwaway store of the same kind.
  {
    const r = await receiver(maker, spec.backend)
    await ingestAll(r.log, batches.slice(0, Math.min(16, batches.length)))
    await r.client.close()
    await r.opened.dispose()
  }
  const rates: number[] = []
  const cores: number[] = []
  let note = ''
  let disk = 0
  for (let run = 0; run < opts.runs; run++) {
    const res = await timeOnce(
      n,
      () => receiver(maker, spec.backend),
      async (r) => {
        const got = await ingestAll(r.log, batches)
        note = storedNote(n, got)
      },
      async (r) => {
        await r.client.close()
        if (r.opened.dir) disk = diskUsage(r.opened.dir)
        await r.opened.dispose()
      },
    )
    rates.push(res.ops / res.seconds)
    cores.push(res.cpuSeconds / res.seconds)
  }
  const c = median(cores)
  const parts = [
    `${fmtInt(n)} events of ~${Math.round(spec.set.meanBytes)} B, ${fmtInt(spec.set.signatures)} signatures`,
    `${c.toFixed(2)} cores busy`,
  ]
  if (disk) parts.push(`${fmtBytes(disk)} on disk (${Math.round(disk / n)} B/event)`)
  if (spec.extraNote) parts.push(spec.extraNote(c, median(rates)))
  return figure({ id: spec.id, section: spec.section, name: spec.name, unit: 'events/s', runs: rates, target: spec.target, note: parts.join('; ') + note })
}

export const ingestBench: BenchModule = {
  name: 'ingest',
  async run(opts) {
    const out: Figure[] = []
    const add = (f: Figure | undefined): void => {
      if (!f) return
      out.push(f)
      progress(f)
    }
    const n = count(opts, 100_000, 20_480)
    const batchedIds = ['ingest.batched.memory', 'ingest.batched.sqlite', 'ingest.batched.sqlite-normal', 'ingest.batched.fs', 'ingest.batched.indexeddb']
    if (batchedIds.some((id) => wanted(opts, id))) {
      const set = await produce(opts, n, true)
      if (wanted(opts, 'ingest.batched.memory')) {
        add(
          await ingestFigure(opts, {
            id: 'ingest.batched.memory',
            section: SECTION_BATCHED,
            name: 'into memory',
            kind: 'memory',
            set,
            target: { min: 50_000, text: '≥ 50,000/s' },
          }),
        )
      }
      if (wanted(opts, 'ingest.batched.sqlite')) {
        add(
          await ingestFigure(opts, {
            id: 'ingest.batched.sqlite',
            section: SECTION_BATCHED,
            name: "into SQLite (better-sqlite3, WAL, default synchronous: 'full')",
            kind: 'sqlite',
            set,
            target: { min: 25_000, text: '≥ 25,000/s' },
          }),
        )
      }
      if (wanted(opts, 'ingest.batched.sqlite-normal')) {
        add(
          await ingestFigure(opts, {
            id: 'ingest.batched.sqlite-normal',
            section: SECTION_BATCHED,
            name: "into SQLite, synchronous: 'normal' (no fsync per batch)",
            kind: 'sqlite',
            init: { synchronous: 'normal' },
            set,
          }),
        )
      }
      if (wanted(opts, 'ingest.batched.fs')) {
        add(await ingestFigure(opts, { id: 'ingest.batched.fs', section: SECTION_BATCHED, name: 'into fs (segment files)', kind: 'fs', set }))
      }
      if (wanted(opts, 'ingest.batched.indexeddb')) {
        const small = await produce(opts, count(opts, 5_120, 2_560), true)
        add(
          await ingestFigure(opts, {
            id: 'ingest.batched.indexeddb',
            section: SECTION_BATCHED,
            name: 'into IndexedDB: fake-indexeddb in Node (not a browser figure)',
            kind: 'indexeddb',
            set: small,
          }),
        )
      }
    }
    const ceil = await ceiling(opts)
    const backends: ('node' | 'sodium')[] = ceil.defaultBackend === 'sodium' ? ['node', 'sodium'] : ['node']
    const signedIds = backends.map((b) => `ingest.signed.memory.${b}`)
    if (signedIds.some((id) => wanted(opts, id))) {
      const set = await produce(opts, count(opts, 16_384, 4_096), false)
      for (const b of backends) {
        if (!wanted(opts, `ingest.signed.memory.${b}`)) continue
        add(
          await ingestFigure(opts, {
            id: `ingest.signed.memory.${b}`,
            section: SECTION_SIGNED,
            name:
              b === 'node'
                ? 'into memory, node backend (verify on libuv pool, in parallel)'
                : 'into memory, sodium backend (verify sync on the main thread)',
            kind: 'memory',
            backend: b,
            set,
            extraNote: (cores, rate) =>
              b === 'node'
                ? `${((rate / ceil.verifyParallel) * 100).toFixed(0)}% of raw node:crypto verify with 256 in flight ` +
                  `(${fmtInt(ceil.verifyParallel)}/s on ${ceil.verifyParallelCores.toFixed(2)} cores); raw one-core verify ${fmtInt(ceil.verify)}/s; ` +
                  `the ingest kept ${cores.toFixed(2)} cores busy`
                : `${((rate / (ceil.sodiumVerify ?? NaN)) * 100).toFixed(0)}% of raw libsodium verify (${fmtInt(ceil.sodiumVerify ?? NaN)}/s, one core); ` +
                  `the ingest kept ${cores.toFixed(2)} cores busy`,
          }),
        )
      }
    }
    return out
  },
}

if (isMain(import.meta.url)) await runModules([cryptoBench, ingestBench], parseArgs())
