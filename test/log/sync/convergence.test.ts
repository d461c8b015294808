/**
 * Convergence under a hostile network, seeded and replayable: five peers on a random topology
 * append to two logs while the network partitions, heals, loses, duplicates and reorders frames.
 * Once the faults stop and the partition heals, every peer must hold the same heads and the same
 * total order for every log. Replay a failure with STATEFLOW_SEED=<seed printed>.
 */
import { describe, expect, it } from 'vitest'
import { createXSync, type XSyncClient } from '../../../src/log/client.js'
import { memoryNetwork } from '../../../src/transports/memory-network.js'
import { toHex } from '../../../src/dag/bytes.js'
import { EXTENSIVE, prng, testSeed, eventually } from '../../conformance/index.js'

const PEERS = 5
const LOGS = ['l1', 'l2']
const SCHEDULES = EXTENSIVE ? 10_000 : 100


async function state(c: XSyncClient, log: string): Promise<string> {
  const order: string[] = []
  for await (const e of c.log(log).events()) order.push(e.cid.toString())
  const heads = (await c.log(log).heads()).map((h) => toHex(h.bytes))
  return `${heads.join(',')}|${order.join(',')}`
}

/**
 * The first dial of an edge, before any fault. The storm's 250 ms handshake timeout is short on
 * purpose (lost handshakes must retry quickly), and a full `npm test` on a loaded two-core machine
 * has outlasted it here: the dial failed with CONNECT, "ended before authentication". Building
 * the topology is setup, not the property under test, so a timed-out handshake is dialed again.
 */
async function dial(c: XSyncClient, address: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await c.connect(address)
      return
    } catch (err) {
      if ((err as { code?: string }).code !== 'CONNECT' || attempt >= 5) throw err
    }
  }
}

async function schedule(seed: number): Promise<void> {
  const rand = prng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]
  const net = memoryNetwork({ seed, latency: [1, 3] })
  const names = Array.from({ length: PEERS }, (_, i) => `p${i}`)
  const peers: XSyncClient[] = []
  try {
    for (const n of names) {
      const c = await createXSync({ transports: [net.transport(n)], reconnect: { minDelayMs: 1, maxDelayMs: 4 }, sync: { handshakeTimeoutMs: 250 } })
      await c.listen()
      for (const l of LOGS) c.log(l)
      peers.push(c)
    }
    // A random connected topology: a random spanning tree plus extra edges.
    const edges: [number, number][] = []
    for (let i = 1; i < PEERS; i++) edges.push([i, Math.floor(rand() * i)])
    for (let i = 0; i < PEERS; i++) for (let j = i + 1; j < PEERS; j++) if (rand() < 0.25 && !edges.some(([a, b]) => (a === i && b === j) || (a === j && b === i))) edges.push([i, j])
    for (const [a, b] of edges) await dial(peers[a], `memory:${names[b]}`)

    const steps = 12 + Math.floor(rand() * 12)
    for (let s = 0; s < steps; s++) {
      const r = rand()
      if (r < 0.55) {
        const p = pick(peers)
        const n = 1 + Math.floor(rand() * 4)
        await p.log(pick(LOGS)).appendBatch(Array.from({ length: n }, (_, i) => ({ type: 'test.op', body: { s, i } })))
      } else if (r < 0.7) {
        const side = names.filter(() => rand() < 0.5)
        net.partition(side, names.filter((n) => !side.includes(n)))
      } else if (r < 0.8) net.heal()
      else if (r < 0.92) net.setFaults({ loss: rand() < 0.5 ? 0 : rand() * 0.3, duplicate: rand() < 0.5 ? 0 : rand() * 0.3, reorder: rand() < 0.3, latency: [1, 1 + Math.floor(rand() * 4)] })
      else net.setFaults({ loss: 0, duplicate: 0, reorder: false })
      // Let some frames fly before the next step (a seeded number of turns).
      for (let t = Math.floor(rand() * 6); t > 0; t--) await new Promise((r) => setImmediate(r))
    }

    // The storm ends: no faults, no partition; dialers come back on their own.
    net.setFaults({ loss: 0, duplicate: 0, reorder: false, latency: [1, 1] })
    net.heal()
    const degree = names.map((_, i) => edges.filter(([a, b]) => a === i || b === i).length)
    await eventually(() => peers.every((p, i) => p.peers().length === degree[i]), 'every edge to reconnect')
    for (let round = 0; round < 2; round++) {
      await Promise.all(peers.flatMap((p) => LOGS.map((l) => p.sync(l, { timeoutMs: 5000 }))))
      await net.idle()
    }
    for (const l of LOGS) {
      const want = await state(peers[0], l)
      for (let i = 1; i < PEERS; i++) expect(await state(peers[i], l), `seed ${seed}: p${i} differs from p0 on ${l}`).toBe(want)
    }
  } finally {
    await Promise.all(peers.map((p) => p.close()))
  }
}

describe('sync convergence', () => {
  it(`${SCHEDULES} seeded schedules of appends, partitions, loss, duplication and reordering converge`, async () => {
    const base = testSeed()
    for (let k = 0; k < SCHEDULES; k++) {
      const seed = (base + k) >>> 0
      try {
        await schedule(seed)
      } catch (err) {
        throw new Error(`schedule failed; replay with STATEFLOW_SEED=${seed}: ${(err as Error).message}`, { cause: err })
      }
    }
  }, EXTENSIVE ? 6 * 3600_000 : 300_000)
})
