import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { EventFixtureStore } from './types.js'
import type { EventStoreFixture, StoreHandle } from './index.js'
import { expectedHeads, expectedTips, syntheticDag } from './synthetic.js'
import { toHex } from '../../../src/dag/bytes.js'

export function basicSuite(fixture: EventStoreFixture): void {
  describe(`${fixture.name} - basic`, () => {
    let h: StoreHandle
    beforeEach(async () => {
      h = await fixture.setup()
    })
    afterEach(async () => {
      await h.store.close()
      await fixture.teardown()
    })

    it('empty store answers with nothing', async () => {
      const s = h.store
      expect(await s.logs()).toEqual([])
      expect(await s.heads('nope')).toEqual([])
      expect(await s.tips('nope')).toEqual([])
      expect(await s.scan('nope')).toEqual([])
      expect(await s.count('nope')).toBe(0)
      expect(await s.get(new Uint8Array(36))).toBeUndefined()
      expect(await s.has(new Uint8Array(36))).toBe(false)
    })

    it('put then get and has return the same fields and bytes', async () => {
      const events = syntheticDag({ events: 30, seed: 11 })
      await h.store.putBatch(events)
      for (const e of events) {
        expect(await h.store.has(e.cid)).toBe(true)
        const got = await h.store.get(e.cid)
        expect(got).toBeDefined()
        expect(toHex(got!.cid)).toBe(toHex(e.cid))
        expect(toHex(got!.bytes)).toBe(toHex(e.bytes))
        expect(got!.sig === undefined ? undefined : toHex(got!.sig)).toBe(e.sig === undefined ? undefined : toHex(e.sig))
        expect(got!.log).toBe(e.log)
        expect(toHex(got!.author)).toBe(toHex(e.author))
        expect(got!.seq).toBe(e.seq)
        expect(got!.clock).toBe(e.clock)
      }
      expect(await h.store.count('test-log')).toBe(30)
    })

    it('putting an event twice stores it once and keeps heads right', async () => {
      const events = syntheticDag({ events: 20, seed: 12 })
      await h.store.putBatch(events.slice(0, 15))
      await h.store.putBatch(events.slice(10))
      await h.store.putBatch(events.slice(0, 5))
      expect(await h.store.count('test-log')).toBe(20)
      expect((await h.store.heads('test-log')).map(toHex)).toEqual(expectedHeads(events).map(toHex))
    })

    it('CIDs that share all but their first digest byte are distinct events', async () => {
      // A store may index a CID by part of it (SQLite keys on its last bytes): a shared part
      // must never make one event stand for another.
      const [a, b] = syntheticDag({ events: 2, authors: 2, seed: 14 })
      b.cid = a.cid.slice()
      b.cid[4] ^= 0xff
      b.parents = []
      b.prev = null
      b.seq = 1
      b.clock = a.clock
      const c = a.cid.slice()
      c[5] ^= 0xff
      await h.store.putBatch([a])
      expect(await h.store.has(b.cid)).toBe(false)
      expect(await h.store.get(b.cid)).toBeUndefined()
      await h.store.putBatch([b, a])
      expect(await h.store.count('test-log')).toBe(2)
      expect(toHex((await h.store.get(a.cid))!.bytes)).toBe(toHex(a.bytes))
      expect(toHex((await h.store.get(b.cid))!.bytes)).toBe(toHex(b.bytes))
      expect(await h.store.has(c)).toBe(false)
      expect((await h.store.heads('test-log')).map(toHex)).toEqual([a.cid, b.cid].map(toHex).sort())
    })

    it('heads and tips follow links across batches of any split', async () => {
      const events = syntheticDag({ events: 60, authors: 4, seed: 13 })
      for (let i = 0; i < events.length; i += 7) {
        await h.store.putBatch(events.slice(i, i + 7))
        const sofar = events.slice(0, i + 7)
        expect((await h.store.heads('test-log')).map(toHex)).toEqual(expectedHeads(sofar).map(toHex))
        expect((await h.store.tips('test-log')).map(toHex)).toEqual(expectedTips(sofar).map(toHex))
      }
    })

    it('byAuthor returns one chain ascending from a seq, paged', async () => {
      const events = syntheticDag({ events: 40, authors: 2, seed: 14 })
      await h.store.putBatch(events)
      const author = events[0].author
      const chain = events.filter((e) => toHex(e.author) === toHex(author)).sort((a, b) => a.seq - b.seq)
      const all = await h.store.byAuthor('test-log', author)
      expect(all.map((e) => e.seq)).toEqual(chain.map((e) => e.seq))
      const from3 = await h.store.byAuthor('test-log', author, { fromSeq: 3, limit: 2 })
      expect(from3.map((e) => e.seq)).toEqual([3, 4])
      expect(await h.store.byAuthor('test-log', new Uint8Array(32))).toEqual([])
    })

    it('keeps logs apart and lists them sorted', async () => {
      await h.store.putBatch(syntheticDag({ log: 'b-log', events: 5, seed: 15 }))
      await h.store.putBatch(syntheticDag({ log: 'a-log', events: 7, seed: 16 }))
      expect(await h.store.logs()).toEqual(['a-log', 'b-log'])
      expect(await h.store.count('a-log')).toBe(7)
      expect(await h.store.count('b-log')).toBe(5)
      expect((await h.store.scan('a-log')).every((e) => e.log === 'a-log')).toBe(true)
    })

    it('a batch with one malformed event stores nothing of it (atomic)', async () => {
      const events = syntheticDag({ events: 10, seed: 17 })
      await h.store.putBatch(events.slice(0, 3))
      const bad = events.slice(3).map((e) => ({ ...e })) as EventFixtureStore[]
      ;(bad[4] as { seq: unknown }).seq = -1
      await expect(h.store.putBatch(bad as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
      expect(await h.store.count('test-log')).toBe(3)
      for (const e of events.slice(3)) expect(await h.store.has(e.cid)).toBe(false)
      expect((await h.store.heads('test-log')).map(toHex)).toEqual(expectedHeads(events.slice(0, 3)).map(toHex))
    })

    it('meta space: put, get, overwrite, delete', async () => {
      const s = h.store
      expect(await s.getMeta('k')).toBeUndefined()
      await s.putMeta('k', new Uint8Array([1, 2, 3]))
      expect([...(await s.getMeta('k'))!]).toEqual([1, 2, 3])
      await s.putMeta('k', new Uint8Array([9]))
      expect([...(await s.getMeta('k'))!]).toEqual([9])
      await s.putMeta('other', new Uint8Array(0))
      expect([...(await s.getMeta('other'))!]).toEqual([])
      await s.deleteMeta('k')
      expect(await s.getMeta('k')).toBeUndefined()
      await s.deleteMeta('never-there')
    })
  })
}
