/**
 * Torn tails and corruption, by direct damage to the files (the crash suite only gets the tails
 * a real kill happens to leave).
 *
 * - A torn tail: the store's files as a kill -9 leaves them (copied while it is open), then the
 *   end of the last write damaged the way a cut write or a power loss would. The store must open,
 *   keep every earlier batch, hold the last one whole or not at all, never return the damage,
 *   and take writes that survive another reopen.
 * - Corruption: damage no crash can explain (before the last write, or in the header). Opening
 *   or reading must fail with `CORRUPT` rather than return wrong events.
 *
 * Which damage is which depends on the medium, so the fixture names both; an empty list is a
 * declared capability (SQLite has no tail of its own outside its WAL), not a skip.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { EventPut, EventStore, StoredEvent } from '../../../src/stores/event-store.js'
import { toHex } from '../../../src/dag/bytes.js'
import { compareEvents } from '../../../src/dag/order.js'
import { prng, testSeed } from '../index.js'
import { expectedHeads, expectedTips, syntheticDag } from './synthetic.js'

export type Damage = (location: string, rand: () => number) => void | Promise<void>

export interface TornTailFixture {
  name: string
  /** A fresh location (file path or directory) that does not exist yet. */
  location(): Promise<string>
  /** Remove every location handed out (and every copy). */
  cleanup(): Promise<void>
  open(location: string): Promise<EventStore>
  /** Copy the files at `location` as they are now, store still open, to a new location. */
  crashCopy(location: string): Promise<string>
  /** Damage to the end of the last write, applied to a crash copy: cut on open. */
  tornTails: Record<string, Damage>
  /** Damage no crash explains, applied to a closed store: `CORRUPT`. */
  corruptions: Record<string, Damage>
}

const LOG = 'torn-log'
const BATCHES = 6

function writeSet(): EventPut[][] {
  const events = syntheticDag({ log: LOG, events: BATCHES * 20, authors: 3, seed: 61, payload: 250 })
  return Array.from({ length: BATCHES }, (_, b) => events.slice(b * 20, b * 20 + 20))
}

async function fill(store: EventStore, batches: EventPut[][]): Promise<void> {
  await store.putMeta('checkpoint', new Uint8Array([1, 2, 3]))
  for (const b of batches) await store.putBatch(b)
}

async function scanAll(store: EventStore, log: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = []
  for (;;) {
    const after = out[out.length - 1]
    const page = await store.scan(log, after === undefined ? { limit: 7 } : { after, limit: 7 })
    out.push(...page)
    if (page.length < 7) return out
  }
}

/** The store holds exactly `events` under LOG, in order, with their heads, tips and bytes. */
async function expectExactly(store: EventStore, events: EventPut[]): Promise<void> {
  const want = [...events].sort(compareEvents)
  const got = await scanAll(store, LOG)
  expect(got.map((e) => `${toHex(e.cid)}:${toHex(e.bytes)}`)).toEqual(want.map((e) => `${toHex(e.cid)}:${toHex(e.bytes)}`))
  expect(await store.count(LOG)).toBe(want.length)
  expect((await store.heads(LOG)).map(toHex)).toEqual(expectedHeads(want).map(toHex))
  expect((await store.tips(LOG)).map(toHex)).toEqual(expectedTips(want).map(toHex))
}

/** Open and read everything there is to read; resolves only if nothing looked wrong. */
async function readEverything(fixture: TornTailFixture, location: string): Promise<void> {
  const store = await fixture.open(location)
  try {
    await store.getMeta('checkpoint')
    for (const log of await store.logs()) {
      const events = await scanAll(store, log)
      await store.heads(log)
      await store.tips(log)
      for (const e of events) {
        await store.get(e.cid)
        await store.byAuthor(log, e.author, { fromSeq: e.seq, limit: 1 })
      }
    }
  } finally {
    await store.close()
  }
}

function withSeed(seed: number, fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await fn()
    } catch (err) {
      if (err instanceof Error) err.message = `[seed ${seed}, STATEFLOW_SEED=${seed} replays] ${err.message}`
      throw err
    }
  }
}

export function tornTailSuite(fixture: TornTailFixture): void {
  describe(`${fixture.name} - torn tail`, () => {
    afterEach(async () => {
      await fixture.cleanup()
    })

    for (const [label, tear] of Object.entries(fixture.tornTails)) {
      const seed = testSeed()
      it(
        `a torn tail (${label}) is cut, never returned, and writing goes on`,
        withSeed(seed, async () => {
          const batches = writeSet()
          const location = await fixture.location()
          const store = await fixture.open(location)
          await fill(store, batches)
          const copy = await fixture.crashCopy(location)
          await store.close()
          await tear(copy, prng(seed))

          const s = await fixture.open(copy)
          const earlier = batches.slice(0, -1).flat()
          const last = batches[BATCHES - 1]
          try {
            const held = await Promise.all(last.map((e) => s.has(e.cid)))
            const whole = held.every(Boolean)
            expect(whole || !held.some(Boolean), 'the last batch is partly stored').toBe(true)
            await expectExactly(s, whole ? [...earlier, ...last] : earlier)
            expect([...(await s.getMeta('checkpoint'))!]).toEqual([1, 2, 3])
            // Writing goes on past the cut, and what was written survives a clean reopen.
            await s.putBatch(last)
            await s.putBatch(syntheticDag({ log: 'after', events: 10, seed: 62 }))
          } finally {
            await s.close()
          }
          const again = await fixture.open(copy)
          try {
            await expectExactly(again, batches.flat())
            expect(await again.count('after')).toBe(10)
          } finally {
            await again.close()
          }
        }),
      )
    }

    for (const [label, damage] of Object.entries(fixture.corruptions)) {
      const seed = testSeed()
      it(
        `damage no crash explains (${label}) is CORRUPT`,
        withSeed(seed, async () => {
          const location = await fixture.location()
          const store = await fixture.open(location)
          await fill(store, writeSet())
          await store.close()
          await damage(location, prng(seed))
          await expect(readEverything(fixture, location)).rejects.toMatchObject({ code: 'CORRUPT' })
        }),
      )
    }
  })
}
