import { describe, expect, it } from 'vitest'
import type { EventStoreFixture } from './index.js'
import { expectedHeads, expectedTips, syntheticDag } from './synthetic.js'
import { toHex } from '../../../src/dag/bytes.js'
import { compareEvents } from '../../../src/dag/order.js'

export function reopenSuite(fixture: EventStoreFixture): void {
  describe(`${fixture.name} - reopen`, () => {
    it('reopen after close keeps every event, head, tip, log and meta key', async () => {
      const h = await fixture.setup()
      try {
        const a = syntheticDag({ log: 'a', events: 120, authors: 3, seed: 41 })
        const b = syntheticDag({ log: 'b', events: 30, authors: 2, seed: 42 })
        for (let i = 0; i < a.length; i += 25) await h.store.putBatch(a.slice(i, i + 25))
        await h.store.putBatch(b)
        await h.store.putMeta('checkpoint', new Uint8Array([4, 5, 6]))
        await h.store.close()
        const s = await h.reopen!()
        try {
          expect(await s.logs()).toEqual(['a', 'b'])
          expect(await s.count('a')).toBe(120)
          expect((await s.scan('a', { limit: 1000 })).map((e) => toHex(e.cid))).toEqual(
            [...a].sort(compareEvents).map((e) => toHex(e.cid)),
          )
          expect((await s.heads('a')).map(toHex)).toEqual(expectedHeads(a).map(toHex))
          expect((await s.tips('b')).map(toHex)).toEqual(expectedTips(b).map(toHex))
          const one = await s.get(a[17].cid)
          expect(toHex(one!.bytes)).toBe(toHex(a[17].bytes))
          expect([...(await s.getMeta('checkpoint'))!]).toEqual([4, 5, 6])
          // Writing after a reopen continues the same log.
          const more = syntheticDag({ log: 'c', events: 5, seed: 43 })
          await s.putBatch(more)
          expect(await s.count('c')).toBe(5)
        } finally {
          await s.close()
        }
      } finally {
        await fixture.teardown()
      }
    })
  })
}
