import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { EventStoreFixture, StoreHandle } from './index.js'
import { syntheticDag } from './synthetic.js'
import { toHex } from '../../../src/dag/bytes.js'
import { compareEvents } from '../../../src/dag/order.js'
import { prng } from '../index.js'
import type { StoredEvent } from '../../../src/stores/event-store.js'

async function scanAll(h: StoreHandle, log: string, limit: number): Promise<StoredEvent[]> {
  const out: StoredEvent[] = []
  let after: StoredEvent | undefined
  for (;;) {
    const page = await h.store.scan(log, after ? { after, limit } : { limit })
    out.push(...page)
    if (page.length < limit) return out
    after = page[page.length - 1]
  }
}

export function orderSuite(fixture: EventStoreFixture): void {
  describe(`${fixture.name} - order`, () => {
    let h: StoreHandle
    beforeEach(async () => {
      h = await fixture.setup()
    })
    afterEach(async () => {
      await h.store.close()
      await fixture.teardown()
    })

    it('scan returns the total order (clock, cid bytes) whatever the put order', async () => {
      const events = syntheticDag({ events: 200, authors: 5, seed: 21 })
      const rand = prng(21)
      // Put in random batches that still respect causality: shuffle within equal clocks only.
      const byClock = new Map<number, typeof events>()
      for (const e of events) byClock.set(e.clock, [...(byClock.get(e.clock) ?? []), e])
      const order = [...byClock.keys()].sort((a, b) => a - b).flatMap((c) => byClock.get(c)!.sort(() => rand() - 0.5))
      for (let i = 0; i < order.length; i += 13) await h.store.putBatch(order.slice(i, i + 13))
      const expected = [...events].sort(compareEvents).map((e) => toHex(e.cid))
      expect((await scanAll(h, 'test-log', 1000)).map((e) => toHex(e.cid))).toEqual(expected)
      expect((await scanAll(h, 'test-log', 17)).map((e) => toHex(e.cid))).toEqual(expected)
    })

    it('scan from a position returns exactly what sorts after it', async () => {
      const events = syntheticDag({ events: 80, seed: 22 })
      await h.store.putBatch(events)
      const sorted = [...events].sort(compareEvents)
      for (const i of [0, 1, 40, 78, 79]) {
        const page = await h.store.scan('test-log', { after: sorted[i], limit: 1000 })
        expect(page.map((e) => toHex(e.cid))).toEqual(sorted.slice(i + 1).map((e) => toHex(e.cid)))
      }
      // A position that is not an event still works: it splits the order where it would sort.
      const mid = { clock: sorted[40].clock, cid: new Uint8Array(36) }
      const page = await h.store.scan('test-log', { after: mid, limit: 1000 })
      expect(page.map((e) => toHex(e.cid))).toEqual(sorted.filter((e) => compareEvents(e, mid) > 0).map((e) => toHex(e.cid)))
    })

    it('a forked author has two events at one seq, both kept and listed', async () => {
      const events = syntheticDag({ events: 10, authors: 1, seed: 23 })
      await h.store.putBatch(events)
      const twin = { ...events[4], cid: new Uint8Array(events[4].cid), bytes: new Uint8Array([7, 7]) }
      twin.cid[35] ^= 0xff
      await h.store.putBatch([twin])
      const at5 = (await h.store.byAuthor('test-log', events[0].author, { fromSeq: 5, limit: 2 })).map((e) => e.seq)
      expect(at5).toEqual([5, 5])
      expect(await h.store.count('test-log')).toBe(11)
      // The fork is a new author tip beside the main chain's tip.
      expect((await h.store.tips('test-log')).length).toBe(2)
    })
  })
}
