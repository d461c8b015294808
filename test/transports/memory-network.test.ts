import { describe, expect, it } from 'vitest'
import { memoryNetwork } from '../../src/transports/memory-network.js'
import type { Connection } from '../../src/transports/transport.js'
import { transportSuite } from '../conformance/transport/index.js'

transportSuite({
  name: 'memoryNetwork',
  capabilities: { closeReason: true },
  async setup() {
    const net = memoryNetwork({ seed: 7, maxFrameBytes: 1 << 20 })
    return { listener: net.transport('server'), dialer: net.transport('client'), otherDialer: net.transport('client2'), deadAddress: 'memory:nobody' }
  },
  async teardown() {},
})

function frames(c: Connection): number[] {
  const got: number[] = []
  c.onFrame((f) => got.push(f[0]))
  return got
}

describe('memoryNetwork faults and counters', () => {
  it('counts frames, bytes and flights; a request and its answer are one round trip', async () => {
    const net = memoryNetwork({ seed: 1 })
    const accepted: Connection[] = []
    await net.transport('b').listen!((c) => accepted.push(c))
    const a = await net.transport('a').dial('memory:b')
    await net.idle()
    const b = accepted[0]
    b.onFrame((f) => void b.send(new Uint8Array([f[0] + 1, 0, 0])))
    const got = frames(a)
    net.resetStats()
    await a.send(new Uint8Array([1, 2]))
    await net.idle()
    expect(got).toEqual([2])
    expect(net.stats()).toMatchObject({ frames: 2, bytes: 5, flights: 2, roundTrips: 1, dropped: 0 })
  })

  it('a partition cuts the links across it and refuses dials until heal', async () => {
    const net = memoryNetwork({ seed: 2 })
    const accepted: Connection[] = []
    await net.transport('c').listen!((c) => accepted.push(c))
    const fromA = await net.transport('a').dial('memory:c')
    const fromB = await net.transport('b').dial('memory:c')
    const ends: string[] = []
    fromA.onClose((i) => ends.push(`a:${i.reason}`))
    fromB.onClose((i) => ends.push(`b:${i.reason}`))
    net.partition(['a', 'c'], ['b'])
    expect(fromB.closed).toBe(true)
    expect(fromA.closed).toBe(false)
    await expect(net.transport('b').dial('memory:c')).rejects.toMatchObject({ code: 'CONNECT' })
    net.heal()
    const again = await net.transport('b').dial('memory:c')
    expect(again.closed).toBe(false)
    await net.idle()
    expect(ends).toEqual(['b:partitioned'])
  })

  it('seeded loss, duplication and reordering replay exactly from the seed', async () => {
    const run = async (seed: number): Promise<number[]> => {
      const net = memoryNetwork({ seed, loss: 0.2, duplicate: 0.2, reorder: true, latency: [1, 5] })
      const accepted: Connection[] = []
      await net.transport('b').listen!((c) => accepted.push(c))
      const a = await net.transport('a').dial('memory:b')
      await net.idle()
      const got = frames(accepted[0])
      for (let i = 0; i < 100; i++) await a.send(new Uint8Array([i]))
      await net.idle()
      return got
    }
    const one = await run(5)
    expect(await run(5)).toEqual(one)
    const sorted = [...one].sort((x, y) => x - y)
    expect(one).not.toEqual(sorted) // reordered
    expect(new Set(one).size).toBeLessThan(100) // some lost
    expect(one.length).toBeGreaterThan(new Set(one).size) // some twice
    expect(await run(6)).not.toEqual(one)
  })
})
