/**
 * Sync cost grows with the difference, never with the log (DESIGN §6): on a 100,000-event log,
 * equal logs exchange only heads, and one new event costs one round trip and at most the event
 * plus 1 KB. Measured in frames, bytes and causal flights by the memory network, never in time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createXSync, type XSyncClient } from '../../../src/log/client.js'
import { memoryNetwork, type MemoryNetwork } from '../../../src/transports/memory-network.js'
import { decodeMessage, type Message } from '../../../src/log/sync/messages.js'

const N = 100_000

let net: MemoryNetwork
let a: XSyncClient
let b: XSyncClient

function messages(): (Message & { depth: number; size: number; from: string })[] {
  return net.trace().map((f) => ({ ...decodeMessage(f.bytes)!, depth: f.depth, size: f.bytes.length, from: f.from }))
}

beforeAll(async () => {
  net = memoryNetwork({ seed: 9, trace: true })
  a = await createXSync({ transports: [net.transport('a')], reconnect: { minDelayMs: 1, maxDelayMs: 2 } })
  b = await createXSync({ transports: [net.transport('b')], reconnect: { minDelayMs: 1, maxDelayMs: 2 } })
  await a.listen()
  await b.listen()
  const log = a.log('big')
  for (let i = 0; i < N; i += 256) await log.appendBatch(Array.from({ length: Math.min(256, N - i) }, (_, k) => ({ type: 'app.row', body: { n: i + k } })))
  b.log('big')
  await b.connect('memory:a')
  await b.sync('big')
  await net.idle()
  expect(await b.log('big').count()).toBe(N)
}, 120_000)

afterAll(async () => {
  await a.close()
  await b.close()
})

describe('sync cost on a 100,000-event log', () => {
  it('equal logs exchange only heads and the version vector: one round trip, no events', async () => {
    net.resetStats()
    await b.sync('big')
    await net.idle()
    const ms = messages()
    expect(ms.map((m) => m.t)).toEqual(['have', 'events'])
    expect(ms[1]).toMatchObject({ t: 'events', events: [], done: true })
    expect(net.stats().roundTrips).toBe(1)
    expect(net.stats().bytes).toBeLessThan(400)
  })

  it('one event appended while apart: on reconnect, one round trip of sync and at most the event plus 1 KB', async () => {
    net.partition(['a'], ['b'])
    const [event] = await a.log('big').appendBatch([{ type: 'app.row', body: { n: N } }])
    net.resetStats()
    net.heal()
    for (let i = 0; i < 500 && b.peers().length === 0; i++) await new Promise((r) => setTimeout(r, 2))
    await net.idle()
    expect(await b.log('big').count()).toBe(N + 1)
    const ms = messages()
    const carried = ms.flatMap((m) => (m.t === 'events' ? m.events : []))
    expect(carried.length).toBe(1)
    expect(carried[0].bytes).toEqual(event.bytes)
    // Everything on the wire, handshake included.
    expect(net.stats().bytes).toBeLessThanOrEqual(event.bytes.length + 1024)
    // The handshake is hello + auth; the sync is the haves and their answers: one round trip.
    const firstHave = Math.min(...ms.filter((m) => m.t === 'have').map((m) => m.depth))
    const syncFlights = Math.max(...ms.map((m) => m.depth)) - firstHave + 1
    expect(syncFlights).toBe(2)
    expect(ms.filter((m) => m.t === 'have').length).toBe(2)
  })
})
