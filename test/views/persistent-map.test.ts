import { describe, expect, it } from 'vitest'
import { PersistentMap } from '../../src/views/persistent-map.js'
import { prng } from '../conformance/index.js'

describe('PersistentMap', () => {
  it('behaves like a Map under random sets, with forks that never see each other', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rnd = prng(seed)
      // Maps alive at once, each with its model; small key spaces force replacements.
      const maps: { m: PersistentMap<number>; model: Map<string, number> }[] = [{ m: new PersistentMap(), model: new Map() }]
      const keySpace = 1 + Math.floor(rnd() * 3000)
      for (let op = 0; op < 4000; op++) {
        const at = Math.floor(rnd() * maps.length)
        const { m, model } = maps[at]
        if (rnd() < 0.01 && maps.length < 12) {
          maps.push({ m: m.fork(), model: new Map(model) })
          continue
        }
        const k = `k${Math.floor(rnd() * keySpace)}`
        const v = Math.floor(rnd() * 1e6)
        m.set(k, v)
        model.set(k, v)
      }
      for (const { m, model } of maps) {
        expect(m.size).toBe(model.size)
        const wrong = [...model].filter(([k, v]) => m.get(k) !== v || !m.has(k))
        expect(wrong, `seed ${seed}`).toEqual([])
        expect(m.has('absent')).toBe(false)
        expect(m.get('absent')).toBeUndefined()
        expect([...m].sort(([a], [b]) => (a < b ? -1 : 1))).toEqual([...model].sort(([a], [b]) => (a < b ? -1 : 1)))
      }
    }
  })

  it('lookups interleaved with sets and forks see the latest values of their own map', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const rnd = prng(seed)
      const maps: { m: PersistentMap<number>; model: Map<string, number> }[] = [{ m: new PersistentMap(), model: new Map() }]
      for (let op = 0; op < 4000; op++) {
        const at = Math.floor(rnd() * maps.length)
        const { m, model } = maps[at]
        const k = `k${Math.floor(rnd() * 50)}`
        const r = rnd()
        if (r < 0.02 && maps.length < 8) maps.push({ m: m.fork(), model: new Map(model) })
        else if (r < 0.5) {
          const v = Math.floor(rnd() * 1e6)
          m.set(k, v)
          model.set(k, v)
        } else expect(m.get(k), `seed ${seed} op ${op}`).toBe(model.get(k))
      }
    }
  })

  it('iterates in the same order whatever order the keys were set in', () => {
    const keys = Array.from({ length: 500 }, (_, i) => `item-${i}`)
    const a = new PersistentMap(keys.map((k) => [k, 1] as const))
    const b = new PersistentMap([...keys].reverse().map((k) => [k, 1] as const))
    expect([...a.keys()]).toEqual([...b.keys()])
  })

  it('the empty key is a key like any other, in a map, its forks and a map built from entries', () => {
    const m = new PersistentMap<number>()
    expect([m.get(''), m.has(''), m.size]).toEqual([undefined, false, 0])
    m.set('', 1)
    const f = m.fork()
    expect([m.get(''), f.get(''), f.has(''), f.size]).toEqual([1, 1, true, 1])
    f.set('', 2).set('a', 3)
    expect([m.get(''), f.get(''), m.get('a'), f.get('a')]).toEqual([1, 2, undefined, 3])
    const built = new PersistentMap([['', 5], ['b', 6]])
    expect(built.fork().get('')).toBe(5)
    expect(new PersistentMap([['b', 6]]).fork().get('')).toBeUndefined()
  })

  it('keeps keys whose hashes collide apart', () => {
    // Collisions found by search: distinct strings, one hash (FNV-1a folded to 30 bits, as the map's).
    const fnv = (s: string): number => {
      let h = 0x811c9dc5
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
      return (h ^ (h >>> 30)) & 0x3fffffff
    }
    const seen = new Map<number, string>()
    let pair: [string, string] | undefined
    for (let i = 0; !pair; i++) {
      const k = `c${i}`
      const h = fnv(k)
      const other = seen.get(h)
      if (other !== undefined) pair = [other, k]
      else seen.set(h, k)
    }
    const m = new PersistentMap<string>()
    m.set(pair[0], 'a').set(pair[1], 'b')
    const f = m.fork()
    f.set(pair[0], 'A')
    f.set('third', 'c')
    expect([m.get(pair[0]), m.get(pair[1]), m.size]).toEqual(['a', 'b', 2])
    expect([f.get(pair[0]), f.get(pair[1]), f.get('third'), f.size]).toEqual(['A', 'b', 'c', 3])
    expect(m.has(pair[1]) && f.has(pair[1])).toBe(true)
    // A key that shares the collision's slot but not its hash pushes the list one level down,
    // as deep as their hashes agree: found by search, for each depth of agreement.
    for (const bits of [5, 10, 20]) {
      const mask = (1 << bits) - 1
      let near = ''
      for (let i = 0; !near; i++) {
        const k = `n${i}`
        if ((fnv(k) & mask) === (fnv(pair[0]) & mask) && fnv(k) !== fnv(pair[0])) near = k
      }
      const g = m.fork()
      g.set(near, 'n')
      expect([g.get(pair[0]), g.get(pair[1]), g.get(near), g.size, g.has(near)]).toEqual(['a', 'b', 'n', 3, true])
      expect([...g.keys()].sort()).toEqual([near, ...pair].sort())
      expect([m.has(near), m.size]).toEqual([false, 2])
      g.set(pair[1], 'B')
      expect([g.get(pair[1]), m.get(pair[1])]).toEqual(['B', 'b'])
    }
  })

  it('holds undefined as a value, unlike an absent key', () => {
    const m = new PersistentMap<number | undefined>([['u', undefined]])
    expect([m.has('u'), m.get('u'), m.has('v'), m.size]).toEqual([true, undefined, false, 1])
    expect([...m]).toEqual([['u', undefined]])
  })

  it('works as a ReadonlyMap: forEach, entries, toJSON, __proto__ as a plain key', () => {
    const m = new PersistentMap<number>([['a', 1], ['__proto__', 2]])
    const seen: string[] = []
    m.forEach((v, k, map) => {
      expect(map).toBe(m)
      seen.push(`${k}=${v}`)
    })
    expect(seen.sort()).toEqual(['__proto__=2', 'a=1'])
    const json = m.toJSON()
    expect(Object.keys(json).sort()).toEqual(['__proto__', 'a'])
    expect(Object.getPrototypeOf(json)).toBe(Object.prototype)
    expect(String(m)).toBe('[object PersistentMap]')
  })
})
