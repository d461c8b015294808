/**
 * Crash safety: a process killed with SIGKILL mid-write loses no acknowledged batch, leaves no
 * batch half-stored, and leaves a store that opens, scans and takes writes.
 *
 * - Each run spawns a fresh child (`crash-writer.ts`) on the same location; it opens the store
 *   and appends batches, printing each batch number once `putBatch` resolved.
 * - The parent kills it at a moment drawn from a seeded PRNG: after a random number of
 *   acknowledgements plus a few milliseconds (mostly mid-batch), or blind, while the child may
 *   still be starting or opening the store (a kill during the open's own repairs).
 * - Then the parent opens the store, checks every run so far, writes one more batch and closes.
 *
 * The seed fixes the plan (when to kill, what to write); the exact moment of the kill also
 * depends on timing, so a failing seed reproduces its scenario, not necessarily its byte offset.
 * The child is bundled with esbuild once per suite: a plain `node` start is ~0.1 s where
 * `node --import tsx` is ~0.5 s, and every kill needs a new process.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EventPut, EventStore, StoredEvent } from '../../../src/stores/event-store.js'
import { toHex } from '../../../src/dag/bytes.js'
import { compareEvents } from '../../../src/dag/order.js'
import { EXTENSIVE, prng, testSeed } from '../index.js'
import { CRASH_BATCH, crashBatch as makeBatch, crashCid, crashLog } from './crash-writer.js'

export interface CrashFixture {
  name: string
  /** A fresh location (file path or directory) that does not exist yet. */
  location(): Promise<string>
  /** Remove every location handed out. */
  cleanup(): Promise<void>
  /** Open the store at `location` in this process, with the same options the child uses. */
  open(location: string): Promise<EventStore>
  /** How the child opens it: `import { [exportName] } from module`, called as `(location, init?)`. */
  child: {
    /** Absolute path of the module (TypeScript is fine: it is bundled). */
    module: string
    exportName: string
    /** JSON-serializable second argument for the factory. */
    init?: unknown
  }
  /** Kill -9s per suite run. @default 50, or 500 under `npm run test:extensive` */
  kills?: number
}

const here = dirname(fileURLToPath(import.meta.url))
// Inside node_modules so the bundle's bare imports (better-sqlite3, …) resolve as the sources' do.
const cacheDir = join(here, '../../../node_modules/.cache/stateflow-crash')

async function bundleChild(fixture: CrashFixture): Promise<string> {
  mkdirSync(cacheDir, { recursive: true })
  const outfile = join(cacheDir, `${fixture.name.replace(/\W+/g, '-')}-${process.pid}-${Date.now()}.mjs`)
  const contents = [
    `import { ${fixture.child.exportName} as open } from ${JSON.stringify(fixture.child.module)}`,
    `import { runCrashWriter } from ${JSON.stringify(join(here, 'crash-writer.ts'))}`,
    `await runCrashWriter(open, process.argv.slice(2))`,
  ].join('\n')
  await build({
    stdin: { contents, resolveDir: here, sourcefile: 'crash-child.ts', loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile,
    logLevel: 'silent',
  })
  return outfile
}

// The parent rebuilds the same batches several times per run; building one costs milliseconds.
const batches = new Map<string, EventPut[]>()
function crashBatch(seed: number, run: number, batch: number): EventPut[] {
  const key = `${seed}/${run}/${batch}`
  let events = batches.get(key)
  if (events === undefined) batches.set(key, (events = makeBatch(seed, run, batch)))
  return events
}

/** Kills per store location before the suite starts a fresh one. */
const RUNS_PER_LOCATION = 50

interface KillPlan {
  /** Kill after this many acknowledged batches (0: once the store is open); undefined: blind. */
  afterAcks?: number
  /** Then wait this long (ms). */
  delay: number
}

function planKill(rand: () => number): KillPlan {
  if (rand() < 0.15) return { delay: rand() * 200 }
  return { afterAcks: Math.floor(rand() * 6), delay: rand() * 6 }
}

/** Spawn the child, kill it as planned, and return how many batches it acknowledged. */
function runChild(bundle: string, args: string[], plan: KillPlan): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let acks = 0
    let pending = ''
    let stderr = ''
    let timer: NodeJS.Timeout | undefined
    const killSoon = (): void => {
      timer ??= setTimeout(() => child.kill('SIGKILL'), plan.delay)
    }
    if (plan.afterAcks === undefined) killSoon()
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop()!
      for (const line of lines) {
        if (line === 'open') {
          if (plan.afterAcks === 0) killSoon()
        } else if (line === String(acks)) {
          acks++
          if (plan.afterAcks !== undefined && acks >= plan.afterAcks) killSoon()
        } else {
          child.kill('SIGKILL')
          reject(new Error(`child printed ${JSON.stringify(line)}, expected ack ${acks}`))
        }
      }
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (signal === 'SIGKILL') resolve(acks)
      else reject(new Error(`child exited (code ${code}, signal ${signal}) before the kill:\n${stderr}`))
    })
  })
}

async function scanAll(store: EventStore, log: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = []
  for (;;) {
    const after = out[out.length - 1]
    const page = await store.scan(log, after === undefined ? { limit: 500 } : { after, limit: 500 })
    out.push(...page)
    if (page.length < 500) return out
  }
}

/** How many whole batches of `run` the store holds; fails on a partial one or a gap. */
async function presentBatches(store: EventStore, seed: number, run: number, acked: number): Promise<number> {
  let present = 0
  // The batch after the last ack may have committed before the kill; the one after that never started.
  for (let b = 0; b <= acked + 1; b++) {
    let n = 0
    for (const e of crashBatch(seed, run, b)) if (await store.has(e.cid)) n++
    if (n !== 0 && n !== CRASH_BATCH) throw new Error(`batch ${b} is partly stored: ${n} of ${CRASH_BATCH} events`)
    if (n === CRASH_BATCH) {
      if (b !== present) throw new Error(`batch ${b} is stored but batch ${present} is not`)
      present++
    }
  }
  if (present < acked) throw new Error(`${acked} batches were acknowledged, only ${present} survived`)
  return present
}

function describeEvent(e: StoredEvent): string {
  const sig = e.sig === undefined ? '-' : toHex(e.sig)
  return `${toHex(e.cid)} ${e.log} ${toHex(e.author)} seq ${e.seq} clock ${e.clock} sig ${sig} bytes ${toHex(e.bytes)}`
}

/** Everything a run with `batches` whole batches must read back as. */
async function checkRun(store: EventStore, seed: number, run: number, batches: number): Promise<void> {
  const log = crashLog(run)
  const n = batches * CRASH_BATCH
  expect(await store.count(log)).toBe(n)
  const scanned = await scanAll(store, log)
  for (let i = 1; i < scanned.length; i++) {
    if (compareEvents(scanned[i - 1], scanned[i]) >= 0) throw new Error(`scan of ${log} is out of order at ${i}`)
  }
  // Clocks grow with n, so the total order is the writing order. One comparison of two string
  // arrays (not one expect per field) keeps a 500-kill run fast and still diffs readably.
  const want: string[] = []
  for (let b = 0; b < batches; b++) for (const e of crashBatch(seed, run, b)) want.push(describeEvent(e))
  expect(scanned.map(describeEvent)).toEqual(want)
  const heads = n === 0 ? [] : [crashCid(seed, run, n - 1)]
  expect((await store.heads(log)).map(toHex)).toEqual(heads.map(toHex))
  const tips = n === 0 ? [] : n === 1 ? heads : [crashCid(seed, run, n - 1), crashCid(seed, run, n - 2)]
  expect((await store.tips(log)).map(toHex)).toEqual(tips.map(toHex).sort())
}

function withContext(err: unknown, context: string): unknown {
  if (err instanceof Error) err.message = `[${context}] ${err.message}`
  return err
}

export function crashSuite(fixture: CrashFixture): void {
  const kills = fixture.kills ?? (EXTENSIVE ? 500 : 50)
  describe(`${fixture.name} - crash`, () => {
    let bundle: string
    beforeAll(async () => {
      bundle = await bundleChild(fixture)
    })
    afterAll(async () => {
      if (bundle !== undefined) rmSync(bundle, { force: true })
      batches.clear()
      await fixture.cleanup()
    })

    it(`${kills} kill -9s mid-write lose no acknowledged batch and leave a readable store`, { timeout: 60_000 + kills * 3_000 }, async () => {
      const seed = testSeed()
      const rand = prng(seed)
      const init = JSON.stringify(fixture.child.init ?? null)
      let run = 0
      let stage = 'start'
      try {
        // A fresh location every RUNS_PER_LOCATION kills: a store that replays its files on open
        // would otherwise make a 500-kill run quadratic.
        for (let first = 0; first < kills; first += RUNS_PER_LOCATION) {
          const location = await fixture.location()
          /** Whole batches per run at this location, after the parent's own write. */
          const runs = new Map<number, number>()
          for (run = first; run < Math.min(kills, first + RUNS_PER_LOCATION); run++) {
            stage = 'child'
            const acked = await runChild(bundle, [location, String(seed), String(run), init], planKill(rand))
            stage = 'reopen'
            const store = await fixture.open(location)
            try {
              stage = 'check'
              const present = await presentBatches(store, seed, run, acked)
              await checkRun(store, seed, run, present)
              // Writing continues where the crash left off.
              stage = 'write after reopen'
              await store.putBatch(crashBatch(seed, run, present))
              runs.set(run, present + 1)
              await checkRun(store, seed, run, present + 1)
              stage = 'earlier runs'
              for (const [r, n] of runs) expect(await store.count(crashLog(r))).toBe(n * CRASH_BATCH)
              expect(await store.logs()).toEqual([...runs.keys()].map(crashLog).sort())
            } finally {
              await store.close()
            }
          }
          // One last full check of every run here, after a clean reopen.
          stage = 'final'
          const store = await fixture.open(location)
          try {
            for (const [r, n] of runs) await checkRun(store, seed, r, n)
          } finally {
            await store.close()
          }
        }
      } catch (err) {
        throw withContext(err, `${fixture.name} crash seed ${seed} (STATEFLOW_SEED=${seed} replays), run ${run}, ${stage}`)
      }
    })
  })
}
