import { describe, expect, it } from 'vitest'
import { compareEvents, insertOrdered, indexAfter, sortEvents } from '../../src/dag/order.js'
import { PendingBuffer } from '../../src/dag/pending.js'
import { versionVector, missingRanges, lackedBy } from '../../src/dag/version-vector.js'
import { isAncestor, ancestors } from '../../src/dag/ancestry.js'
import { findForks, forkedFrom } from '../../src/dag/forks.js'
import { computeHeads, authorChains } from '../../src/dag/heads.js'
import type { DagNode } from '../../src/dag/node.js'
import { toHex } from '../../src/dag/bytes.js'

function node(key: number, author: string, seq: number, clock: number, prev: number | null, parents: number[]): DagNode {
  const cid = new Uint8Array([key])
  return { key: toHex(cid), cid, author, seq, clock, prev: prev === null ? null : toHex(new Uint8Array([prev])), parents: parents.map((p) => toHex(new Uint8Array([p]))) }
}

// a1 ← a2 ← a3 ; b1 (parent a1) ← b2 (parents a2, b1) ; a3 parents b2
const a1 = node(10, 'a', 1, 1, null, [])
const a2 = node(20, 'a', 2, 2, 10, [10])
const b1 = node(5, 'b', 1, 2, null, [10])
const b2 = node(30, 'b', 2, 3, 5, [5, 20])
const a3 = node(1, 'a', 3, 4, 20, [30])
const all = [a1, a2, b1, b2, a3]
const lookup = (k: string) => all.find((n) => n.key === k)

describe('dag - order', () => {
  it('compareEvents sorts by clock, then CID bytes', () => {
    expect(sortEvents([...all].reverse()).map((n) => n.key)).toEqual([a1, b1, a2, b2, a3].map((n) => n.key))
    expect(compareEvents(a2, b1)).toBeGreaterThan(0) // same clock 2: CID 0x14 > 0x05
    expect(compareEvents(a1, a1)).toBe(0)
  })

  it('insertOrdered reports where an event landed (how much order it invalidates)', () => {
    const list = sortEvents([a1, a2, b2])
    expect(insertOrdered(list, a3)).toBe(3) // appended at the tip
    expect(insertOrdered(list, b1)).toBe(1) // sorts before a2: two events after it must re-fold
    expect(list.map((n) => n.key)).toEqual([a1, b1, a2, b2, a3].map((n) => n.key))
    expect(indexAfter(list, b1)).toBe(2)
    expect(indexAfter(list, undefined)).toBe(0)
  })
})

describe('dag - heads, chains, ancestry, forks', () => {
  it('heads and author chains', () => {
    expect(computeHeads(all).map((n) => n.key)).toEqual([a3.key])
    expect(computeHeads([a1, a2, b1]).map((n) => n.key)).toEqual([b1.key, a2.key])
    expect(authorChains(all).get('a')!.map((n) => n.seq)).toEqual([1, 2, 3])
  })

  it('isAncestor follows prev and parents, and prunes by clock', () => {
    expect(isAncestor(lookup, a1, a3)).toBe(true)
    expect(isAncestor(lookup, b1, a3)).toBe(true)
    expect(isAncestor(lookup, a2, b1)).toBe(false)
    expect(isAncestor(lookup, a3, a1)).toBe(false)
    expect([...ancestors(lookup, b2)].sort()).toEqual([a1.key, a2.key, b1.key].sort())
  })

  it('fork evidence pairs two events by one author at one seq, same on every peer', () => {
    const twin = node(99, 'a', 2, 2, 10, [10])
    const forks = findForks([...all, twin])
    expect(forks).toHaveLength(1)
    expect(forks[0]).toMatchObject({ author: 'a', seq: 2 })
    expect([toHex(forks[0].a), toHex(forks[0].b)]).toEqual([a2.key, twin.key])
    expect(findForks([twin, ...all])).toEqual(forks)
    expect(forkedFrom(forks).get('a')).toBe(2)
  })
})

describe('dag - version vectors', () => {
  it('missingRanges and lackedBy give exactly the difference', () => {
    const mine = versionVector(all)
    expect(mine.get('a')).toEqual({ seq: 3, tips: [a3.key] })
    const theirs = versionVector([a1, b1])
    expect([...missingRanges(mine, theirs)]).toEqual([['a', 2], ['b', 2]])
    expect(lackedBy(all, theirs, lookup).map((n) => n.key).sort()).toEqual([a2.key, a3.key, b2.key].sort())
    expect(lackedBy(all, mine, lookup)).toEqual([])
  })

  it('a forked author: the branch the remote does not name is lacked', () => {
    const twin = node(99, 'a', 2, 2, 10, [10])
    const withFork = [...all, twin]
    const look = (k: string) => withFork.find((n) => n.key === k)
    const remote = versionVector(all) // has a1..a3 but not the twin
    expect(lackedBy(withFork, remote, look).map((n) => n.key)).toEqual([twin.key])
  })
})

describe('dag - pending buffer', () => {
  it('bounds per peer, indexes waiters, and releases on remove', () => {
    const p = new PendingBuffer<number>(2)
    expect(p.add({ key: 'x', from: 'p1', waitsFor: ['m'], value: 1 })).toBe('added')
    expect(p.add({ key: 'x', from: 'p1', waitsFor: ['m'], value: 1 })).toBe('duplicate')
    expect(p.add({ key: 'y', from: 'p1', waitsFor: ['m', 'n'], value: 2 })).toBe('added')
    expect(p.add({ key: 'z', from: 'p1', waitsFor: ['n'], value: 3 })).toBe('overflow')
    expect(p.add({ key: 'z', from: 'p2', waitsFor: ['n'], value: 3 })).toBe('added')
    expect(p.waitingOn('m').map((e) => e.key).sort()).toEqual(['x', 'y'])
    expect(p.waitingOn('n').map((e) => e.key).sort()).toEqual(['y', 'z'])
    p.remove('y')
    expect(p.waitingOn('n').map((e) => e.key)).toEqual(['z'])
    expect(p.countFrom('p1')).toBe(1)
    expect(p.add({ key: 'w', from: 'p1', waitsFor: [], value: 4 })).toBe('added')
    expect(p.size).toBe(3)
  })
})

import { toBase32 } from '../../src/dag/bytes.js'
import { base32 } from 'multiformats/bases/base32'
import { prng as seeded } from '../conformance/index.js'

describe('toBase32', () => {
  it('equals multiformats base32 (as CID strings use it) for every length 0..80 and random bytes', () => {
    const rand = seeded(99)
    for (let n = 0; n <= 80; n++) {
      for (let k = 0; k < 20; k++) {
        const b = Uint8Array.from({ length: n }, () => (rand() * 256) | 0)
        expect(`b${toBase32(b)}`).toBe(base32.encode(b))
        expect(toBase32(b, 'b')).toBe(base32.encode(b))
      }
    }
  })
})
