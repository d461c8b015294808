/**
 * The child side of the crash suite (`crash.ts`): open a store, append batches in a loop, and
 * print each batch's number on its own line once `putBatch` has resolved. The parent kills the
 * process with SIGKILL at a random moment, so every line it read is an acknowledged batch.
 *
 * Batches are a pure function of `(seed, run, batch)`, so the parent can rebuild exactly what
 * each acknowledged batch held. This module must not import vitest: it runs in the child.
 */
import { writeSync } from 'node:fs'
import type { EventPut, EventStore } from '../../../src/stores/event-store.js'
import { prng } from '../index.js'
import { fakeCid } from './synthetic.js'

/** Events per batch. Small enough that a child acknowledges several before a short kill delay. */
export const CRASH_BATCH = 64

/** A child stops after this many batches; the parent kills it long before. */
export const CRASH_MAX_BATCHES = 2000

/** The log a run writes to: one per run, so earlier runs can be checked as left alone. */
export function crashLog(run: number): string {
  return `crash-${run}`
}

/** A 32-bit hash of small integers (murmur3's finalizer per word), to seed one event's PRNG. */
function mix(...words: number[]): number {
  let h = 0x9747b28c
  for (const w of words) {
    let k = Math.imul(w >>> 0, 0xcc9e2d51)
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593)
    h = Math.imul(((h ^ k) << 13) | ((h ^ k) >>> 19), 5) + 0xe6546b64
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

function bytesFrom(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256)
  return out
}

/**
 * The CID of event `n` of a run: 24 random bytes, then `run` and `n`. A PRNG seeded with 32 bits
 * alone gives 2^32 CIDs, and a 500-kill run draws enough of them to collide (a collision is a
 * duplicate the store rightly skips); the suffix makes every CID distinct, the random prefix
 * keeps the CID index's insert pattern realistic.
 */
export function crashCid(seed: number, run: number, n: number): Uint8Array {
  const cid = fakeCid(prng(mix(seed, run, n, 1)))
  new DataView(cid.buffer).setUint32(28, run)
  new DataView(cid.buffer).setUint32(32, n)
  return cid
}

/**
 * Event `n` of a run: two authors taking turns, each event naming the one before it as parent
 * (so the run has one head) and its author's previous event as prev. About 250 bytes of payload.
 */
export function crashEvent(seed: number, run: number, n: number): EventPut {
  const author = n % 2
  const rand = prng(mix(seed, run, n, 2))
  const e: EventPut = {
    cid: crashCid(seed, run, n),
    bytes: bytesFrom(rand, 200 + Math.floor(rand() * 100)),
    log: crashLog(run),
    author: bytesFrom(prng(mix(seed, run, author, 3)), 32),
    seq: Math.floor(n / 2) + 1,
    clock: n + 1,
    prev: n >= 2 ? crashCid(seed, run, n - 2) : null,
    parents: n >= 1 ? [crashCid(seed, run, n - 1)] : [],
  }
  if (n % 4 === 0) e.sig = bytesFrom(rand, 64)
  return e
}

export function crashBatch(seed: number, run: number, batch: number): EventPut[] {
  return Array.from({ length: CRASH_BATCH }, (_, i) => crashEvent(seed, run, batch * CRASH_BATCH + i))
}

export type OpenStore = (location: string, init?: never) => EventStore | Promise<EventStore>

/**
 * The child's main loop. argv: location, seed, run, init (JSON, passed to the factory as its
 * second argument unless null). Prints `open` once the store is open, then one batch number per
 * acknowledged batch, until the parent kills it.
 */
export async function runCrashWriter(open: OpenStore, argv: readonly string[]): Promise<void> {
  const [location, seedText, runText, initText] = argv
  const seed = Number(seedText)
  const run = Number(runText)
  const init = JSON.parse(initText ?? 'null') as never
  const store = await (init === null ? open(location) : open(location, init))
  // writeSync, not process.stdout: a line must leave the process the moment the batch is acknowledged.
  writeSync(1, 'open\n')
  // Bounded so a child whose parent forgot it stops on its own (a dead parent also ends it: the
  // next write to the closed pipe throws EPIPE).
  for (let batch = 0; batch < CRASH_MAX_BATCHES; batch++) {
    await store.putBatch(crashBatch(seed, run, batch))
    writeSync(1, `${batch}\n`)
  }
}
