/**
 * Appending local events into a memory store:
 * - `log.append` in a loop: one signature per event, so bounded by Ed25519 sign. Target: at least
 *   75% of the raw `node:crypto` sign rate of the same run. Each timed run is paired with raw
 *   sign measurements taken right before and after it, so a noisy machine moves both alike. Run
 *   with each backend: the default (libsodium when sodium-native is installed) and node:crypto.
 * - `log.appendBatch` of 256: one signature per 256 events, so bounded by encoding and hashing.
 *
 *   node --import tsx bench/append.ts [--quick]
 */
import { createXSync, type XSyncClient } from '../src/log/client.js'
import { signingBackend, type BackendName } from '../src/log/crypto-backend.js'
import { generateIdentity } from '../src/log/identity.js'
import type { Log } from '../src/log/log.js'
import { cidOf, signingMessage } from '../src/log/codec.js'
import { BATCH, LOG_ID, TYPE, body, items } from './fixtures.js'
import {
  count,
  figure,
  fmt,
  fmtInt,
  isMain,
  median,
  opsPerSecond,
  parseArgs,
  progress,
  runModules,
  timeOnce,
  wanted,
  type BenchModule,
  type BenchOptions,
  type Figure,
} from './harness.js'
import { ceiling, cryptoBench, rawSigner } from './crypto.js'

const SECTION = '1. append into memory'

async function freshLog(backend?: BackendName): Promise<{ client: XSyncClient; log: Log }> {
  const client = await createXSync(backend ? { identity: await generateIdentity({ backend: signingBackend(backend)! }) } : {})
  const log = client.log(LOG_ID)
  await log.heads() // loads the (empty) index outside the timed part
  return { client, log }
}

/** Raw sign rate of the backend's primitive over ~250 ms, one run: the pair of an append run. */
function rawSignRate(opts: BenchOptions, backend: 'node' | 'sodium'): number {
  const sign = rawSigner(backend)
  const msg = signingMessage(cidOf(new Uint8Array(250)))
  return opsPerSecond({ ...opts, runs: 1 }, () => sign(msg), 250)[0]
}

const RAW_NAME = { node: 'node:crypto', sodium: 'libsodium' } as const

async function appendSingle(opts: BenchOptions, backend: 'node' | 'sodium'): Promise<Figure> {
  const n = count(opts, 20_000, 4_000)
  const ceil = await ceiling(opts)
  // Warm-up: a few hundred appends so the JIT has seen the path.
  {
    const { client, log } = await freshLog(backend)
    for (let i = 0; i < 500; i++) await log.append(TYPE, body(opts, i))
    await client.close()
  }
  const rates: number[] = []
  const signs: number[] = []
  let bytes = 0
  for (let r = 0; r < opts.runs; r++) {
    const before = rawSignRate(opts, backend)
    const res = await timeOnce(
      n,
      () => freshLog(backend),
      async ({ log }) => {
        for (let i = 0; i < n; i++) bytes = (await log.append(TYPE, body(opts, i))).bytes.length
      },
      ({ client }) => client.close(),
    )
    rates.push(res.ops / res.seconds)
    signs.push((before + rawSignRate(opts, backend)) / 2)
  }
  const rate = median(rates)
  const sign = median(signs)
  const ratios = rates.map((x, i) => x / signs[i])
  const raw = RAW_NAME[backend]
  return figure({
    id: `append.single.memory.${backend}`,
    section: SECTION,
    name: `log.append in a loop, 1 signature/event, ${backend} backend (${fmtInt(n)} events)`,
    unit: 'events/s',
    runs: rates,
    target: { min: 0.75 * sign, text: `≥ 75% of ${raw} sign = ${fmtInt(0.75 * sign)}/s` },
    note:
      `${((rate / sign) * 100).toFixed(0)}% of the raw ${raw} sign rate measured right before and after each run (${fmtInt(sign)}/s; paired ratios ` +
      `${ratios.map((x) => `${(x * 100).toFixed(0)}%`).join(' / ')}); ${((rate / ceil.sign) * 100).toFixed(0)}% of the node:crypto ceiling row; ~${bytes} B/event`,
  })
}

async function appendBatched(opts: BenchOptions, id: string, payloadChars: number, label: string): Promise<Figure> {
  const o = { ...opts, payload: payloadChars }
  const n = count(opts, 51_200, 12_800)
  const batches = Array.from({ length: Math.ceil(n / BATCH) }, (_, b) => items(o, b * BATCH, Math.min(BATCH, n - b * BATCH)))
  let bytes = 0
  // Warm-up.
  {
    const { client, log } = await freshLog()
    for (let b = 0; b < Math.min(20, batches.length); b++) await log.appendBatch(batches[b])
    await client.close()
  }
  const rates: number[] = []
  for (let r = 0; r < opts.runs; r++) {
    const res = await timeOnce(
      n,
      freshLog,
      async ({ log }) => {
        let total = 0
        for (const b of batches) {
          const out = await log.appendBatch(b)
          total += out[out.length - 1].bytes.length
        }
        bytes = total / batches.length
      },
      ({ client }) => client.close(),
    )
    rates.push(res.ops / res.seconds)
  }
  return figure({
    id,
    section: SECTION,
    name: `log.appendBatch, ${BATCH}/signature${label} (${fmt(n)} events)`,
    unit: 'events/s',
    runs: rates,
    note: `~${Math.round(bytes)} B/event encoded`,
  })
}

export const appendBench: BenchModule = {
  name: 'append',
  async run(opts) {
    const out: Figure[] = []
    const add = (f: Figure): void => {
      out.push(f)
      progress(f)
    }
    // The default backend (libsodium when sodium-native is installed) and node:crypto.
    const ceil = await ceiling(opts)
    const backends: ('node' | 'sodium')[] = ceil.defaultBackend === 'sodium' ? ['sodium', 'node'] : ['node']
    for (const b of backends) if (wanted(opts, `append.single.memory.${b}`)) add(await appendSingle(opts, b))
    if (wanted(opts, 'append.batch.memory')) add(await appendBatched(opts, 'append.batch.memory', opts.payload, ''))
    if (wanted(opts, 'append.batch.memory.p200')) {
      add(await appendBatched(opts, 'append.batch.memory.p200', 200, ', 200-char payload (as Hypercore anchor)'))
    }
    return out
  },
}

if (isMain(import.meta.url)) await runModules([cryptoBench, appendBench], parseArgs())
