import { describe, expect, it } from 'vitest'
import type { EventStoreFixture } from './index.js'
import { syntheticDag } from './synthetic.js'

export function lifecycleSuite(fixture: EventStoreFixture): void {
  describe(`${fixture.name} - lifecycle`, () => {
    it('close is idempotent and every later call rejects with CLOSED', async () => {
      const h = await fixture.setup()
      try {
        await h.store.putBatch(syntheticDag({ events: 3, seed: 31 }))
        await h.store.close()
        await h.store.close()
        const s = h.store
        const calls: Array<() => Promise<unknown>> = [
          () => s.putBatch(syntheticDag({ events: 1, seed: 32 })),
          () => s.get(new Uint8Array(36)),
          () => s.has(new Uint8Array(36)),
          () => s.heads('test-log'),
          () => s.tips('test-log'),
          () => s.scan('test-log'),
          () => s.byAuthor('test-log', new Uint8Array(32)),
          () => s.count('test-log'),
          () => s.logs(),
          () => s.getMeta('k'),
          () => s.putMeta('k', new Uint8Array(1)),
          () => s.deleteMeta('k'),
        ]
        for (const call of calls) await expect(call()).rejects.toMatchObject({ code: 'CLOSED' })
      } finally {
        await fixture.teardown()
      }
    })
  })
}
