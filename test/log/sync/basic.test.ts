import { afterEach, describe, expect, it } from 'vitest'
import { createXSync, type XSyncClient } from '../../../src/log/client.js'
import { memoryNetwork, type MemoryNetwork } from '../../../src/transports/memory-network.js'
import { toHex } from '../../../src/dag/bytes.js'
import { decodeMessage } from '../../../src/log/sync/messages.js'
import { eventually } from '../../conformance/index.js'

const clients: XSyncClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

async function peer(net: MemoryNetwork, name: string, extra: Parameters<typeof createXSync>[0] = {}): Promise<XSyncClient> {
  const c = await createXSync({ transports: [net.transport(name)], reconnect: { minDelayMs: 1, maxDelayMs: 5 }, ...extra })
  clients.push(c)
  await c.listen()
  return c
}

async function order(c: XSyncClient, log: string): Promise<string[]> {
  const out: string[] = []
  for await (const e of c.log(log).events()) out.push(e.cid.toString())
  return out
}

async function heads(c: XSyncClient, log: string): Promise<string[]> {
  return (await c.log(log).heads()).map((h) => toHex(h.bytes))
}

describe('sync over the memory network', () => {
  it('a fresh peer gets a whole log in one exchange, in total order, and both see the other', async () => {
    const net = memoryNetwork({ seed: 1 })
    const a = await peer(net, 'a')
    const b = await peer(net, 'b')
    const log = a.log('notes')
    for (let i = 0; i < 10; i++) await log.appendBatch(Array.from({ length: 100 }, (_, k) => ({ type: 'app.note', body: { i: i * 100 + k } })))
    b.log('notes')
    const info = await b.connect('memory:a')
    expect(info.did).toBe(a.did)
    await b.sync('notes')
    expect(await b.log('notes').count()).toBe(1000)
    expect(await order(b, 'notes')).toEqual(await order(a, 'notes'))
    expect(await heads(b, 'notes')).toEqual(await heads(a, 'notes'))
    await net.idle()
    expect(a.peers().map((p) => p.did)).toEqual([b.did])
    expect(b.peers()[0]).toMatchObject({ did: a.did, direction: 'out', transport: 'memory', logs: ['notes'] })
  })

  it('pushes new events live to connected peers, both ways, and subscribe sees them', async () => {
    const net = memoryNetwork({ seed: 2 })
    const a = await peer(net, 'a')
    const b = await peer(net, 'b')
    a.log('chat')
    b.log('chat')
    await b.connect('memory:a')
    await b.sync('chat')
    const seen: string[] = []
    b.log('chat').subscribe((e) => seen.push((e.body as { text: string }).text))
    await a.log('chat').append('app.msg', { text: 'hi from a' })
    await b.log('chat').append('app.msg', { text: 'hi from b' })
    await net.idle()
    expect(seen.sort()).toEqual(['hi from a', 'hi from b'])
    expect(await order(a, 'chat')).toEqual(await order(b, 'chat'))
    expect(await a.log('chat').count()).toBe(2)
  })

  it('relays through a middle peer: a - b - c', async () => {
    const net = memoryNetwork({ seed: 3 })
    const [a, b, c] = [await peer(net, 'a'), await peer(net, 'b'), await peer(net, 'c')]
    for (const x of [a, b, c]) x.log('l')
    await a.connect('memory:b')
    await c.connect('memory:b')
    await a.log('l').append('t', { n: 1 })
    await net.idle()
    await c.log('l').append('t', { n: 2 })
    await net.idle()
    expect(await heads(a, 'l')).toEqual(await heads(c, 'l'))
    expect(await order(a, 'l')).toEqual(await order(b, 'l'))
    expect(await c.log('l').count()).toBe(2)
  })

  it('many logs over one connection; a log only one side opened is not pushed', async () => {
    const net = memoryNetwork({ seed: 4 })
    const a = await peer(net, 'a')
    const b = await peer(net, 'b')
    for (const id of ['x', 'y', 'z']) await a.log(id).append('t', { id })
    b.log('x')
    b.log('y')
    await b.connect('memory:a')
    await b.sync('x')
    await b.sync('y')
    expect(await b.log('x').count()).toBe(1)
    expect(await b.log('y').count()).toBe(1)
    expect(await b.store.count('z')).toBe(0)
  })

  it("'all' replication serves and pulls logs it never opened (a relay server)", async () => {
    const net = memoryNetwork({ seed: 5 })
    const server = await peer(net, 'server', { sync: { replicate: 'all' } })
    const a = await peer(net, 'a')
    const b = await peer(net, 'b')
    await a.log('docs').append('t', { v: 1 })
    await a.connect('memory:server')
    await net.idle()
    expect(await server.store.count('docs')).toBe(1)
    b.log('docs')
    await b.connect('memory:server')
    await b.sync('docs')
    expect(await b.log('docs').count()).toBe(1)
  })

  it('sync with equal logs sends no events, and a new event costs one round trip', async () => {
    const net = memoryNetwork({ seed: 6 })
    const a = await peer(net, 'a')
    const b = await peer(net, 'b')
    await a.log('l').appendBatch(Array.from({ length: 50 }, (_, i) => ({ type: 't', body: { i } })))
    b.log('l')
    await b.connect('memory:a')
    await b.sync('l')
    await net.idle()
    net.resetStats()
    await b.sync('l')
    await net.idle()
    const equal = net.stats()
    expect(equal.roundTrips).toBe(1)
    expect(equal.frames).toBe(2) // a have and an empty done
    expect(equal.bytes).toBeLessThan(400)
  })

  it('a peer that disconnects and comes back catches up; disconnect stops redialing', async () => {
    const net = memoryNetwork({ seed: 7 })
    const a = await peer(net, 'a')
    const b = await peer(net, 'b')
    a.log('l')
    b.log('l')
    await b.connect('memory:a')
    net.partition(['a'], ['b'])
    await a.log('l').append('t', { offline: true })
    await b.log('l').append('t', { offline: true, b: 1 })
    expect(b.peers()).toEqual([])
    net.heal()
    // b redials on its own.
    for (let i = 0; i < 200 && b.peers().length === 0; i++) await new Promise((r) => setTimeout(r, 5))
    expect(b.peers().map((p) => p.did)).toEqual([a.did])
    await b.sync('l')
    await a.sync('l')
    await net.idle()
    expect(await heads(a, 'l')).toEqual(await heads(b, 'l'))
    expect(await a.log('l').count()).toBe(2)
    await b.disconnect('memory:a')
    await net.idle()
    await new Promise((r) => setTimeout(r, 30))
    expect(b.peers()).toEqual([])
  })
})

describe('heartbeats', () => {
  it('idle connections carry pings (never events), lastSeen moves, and a silent link is closed and redialed', async () => {
    const net = memoryNetwork({ seed: 8, trace: true })
    const a = await peer(net, 'a', { sync: { heartbeatMs: 20, handshakeTimeoutMs: 100 } })
    const b = await peer(net, 'b', { sync: { heartbeatMs: 20, handshakeTimeoutMs: 100 } })
    a.log('l')
    b.log('l')
    await b.connect('memory:a')
    await b.sync('l')
    await net.idle()
    const before = b.peers()[0].lastSeen
    net.resetStats()
    await new Promise((r) => setTimeout(r, 120))
    const types = net.trace().map((f) => (decodeMessage(f.bytes) as { t: string }).t)
    expect(types.length).toBeGreaterThan(0)
    expect(new Set(types)).toEqual(new Set(['ping']))
    expect(b.peers()[0].lastSeen).toBeGreaterThan(before)
    expect(await a.log('l').count()).toBe(0) // heartbeats never enter the log
    // Every frame lost: both ends go silent, close, and b dials again once frames flow.
    net.setFaults({ loss: 1 })
    await eventually(() => a.peers().length === 0 && b.peers().length === 0, 'the silent link to close')
    net.setFaults({ loss: 0 })
    await eventually(() => b.peers().length === 1, 'b to redial')
  })
})
