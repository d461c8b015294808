import { describe, expect, it } from 'vitest'
import { linkChanges } from '../../src/stores/link-changes.js'
import type { EventPut } from '../../src/stores/event-store.js'
import { toHex } from '../../src/dag/bytes.js'
import { prng, testSeed } from '../conformance/index.js'
import { fakeCid, syntheticDag } from '../conformance/event-store/synthetic.js'

type Sets = { heads: Set<string>; tips: Set<string> }

/** What memoryStore does: walk the events one by one. */
function stepwise(start: Sets, events: readonly EventPut[]): Sets {
  const heads = new Set(start.heads)
  const tips = new Set(start.tips)
  for (const e of events) {
    for (const p of e.parents) heads.delete(`${e.log}/${toHex(p)}`)
    if (e.prev !== null) {
      heads.delete(`${e.log}/${toHex(e.prev)}`)
      tips.delete(`${e.log}/${toHex(e.prev)}`)
    }
    heads.add(`${e.log}/${toHex(e.cid)}`)
    tips.add(`${e.log}/${toHex(e.cid)}`)
  }
  return { heads, tips }
}

/** What a durable store does: apply the net changes. */
function netted(start: Sets, events: readonly EventPut[]): Sets & { changes: number } {
  const heads = new Set(start.heads)
  const tips = new Set(start.tips)
  const c = linkChanges(events)
  for (const h of c.heads) (h.live ? heads.add.bind(heads) : heads.delete.bind(heads))(`${h.log}/${toHex(h.cid)}`)
  for (const t of c.tips) (t.live ? tips.add.bind(tips) : tips.delete.bind(tips))(`${t.log}/${toHex(t.cid)}`)
  return { heads, tips, changes: c.heads.length + c.tips.length }
}

const sorted = (s: Set<string>): string[] => [...s].sort()

describe('linkChanges', () => {
  it('a chain of 256 nets to the new head and tip and the old ones unset: 4 changes, not 512', () => {
    const events = syntheticDag({ events: 257, authors: 1, seed: 3 })
    const start = stepwise({ heads: new Set(), tips: new Set() }, events.slice(0, 1))
    const batch = events.slice(1)
    const got = netted(start, batch)
    expect(got.changes).toBe(4)
    expect(sorted(got.heads)).toEqual(sorted(stepwise(start, batch).heads))
    expect(sorted(got.tips)).toEqual([`test-log/${toHex(events[256].cid)}`])
  })

  it('matches walking the events one by one, for random DAGs, splits, logs and stray links', () => {
    const seed = testSeed()
    const rand = prng(seed)
    for (let round = 0; round < 200; round++) {
      const logs = ['a', 'b']
      const events = logs.flatMap((log, i) => syntheticDag({ log, events: 40, authors: 1 + (round % 4), seed: seed + round * 2 + i }))
      // Interleave the two logs, and now and then link to a CID that is never stored, or to an
      // event that only comes later in the batch (a caller is free to pass any order).
      events.sort(() => rand() - 0.5)
      for (const e of events) {
        if (rand() < 0.05) e.parents = [...e.parents, fakeCid(rand)]
        if (rand() < 0.05) e.parents = [...e.parents, events[Math.floor(rand() * events.length)].cid]
      }
      let before: Sets = { heads: new Set(), tips: new Set() }
      for (let i = 0; i < events.length; ) {
        const n = 1 + Math.floor(rand() * 30)
        const batch = events.slice(i, i + n)
        const want = stepwise(before, batch)
        const got = netted(before, batch)
        expect(sorted(got.heads), `seed ${seed} round ${round}`).toEqual(sorted(want.heads))
        expect(sorted(got.tips), `seed ${seed} round ${round}`).toEqual(sorted(want.tips))
        before = want
        i += n
      }
    }
  })
})
