import { afterEach, describe, expect, it } from 'vitest'
import { createXSync, type XSyncClient } from '../../../src/log/client.js'
import { memoryNetwork } from '../../../src/transports/memory-network.js'
import { decodeMessage, encodeMessage, MAX_RELAY, ProtocolError } from '../../../src/log/sync/messages.js'

const clients: XSyncClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

describe('relayed sync (have.relay)', () => {
  it('a hub asked with relay 1 first syncs with its other peers, then answers: the answer covers them', async () => {
    const net = memoryNetwork({ seed: 21, trace: true })
    const make = async (name: string) => {
      const c = await createXSync({ transports: [net.transport(name)], reconnect: false })
      clients.push(c)
      await c.listen()
      c.log('l')
      return c
    }
    const hub = await make('hub')
    const b = await make('b')
    const c = await make('c')
    await b.connect('memory:hub')
    await c.connect('memory:hub')
    await c.log('l').append('app.x', { n: 1 })
    await net.idle()
    net.resetStats()

    await b.sync('l', { relay: 1 })
    await net.idle()
    const frames = net.trace().map((f) => ({ from: f.from.split(':')[0], to: f.to.split(':')[0], m: decodeMessage(f.bytes)! }))
    const haveFromB = frames.findIndex((f) => f.m.t === 'have' && f.from === 'b')
    const relayed = frames.findIndex((f) => f.m.t === 'have' && f.from === 'hub' && f.to === 'c')
    const cAnswers = frames.findIndex((f) => f.m.t === 'events' && f.from === 'c' && f.m.done === true)
    const hubAnswers = frames.findIndex((f) => f.m.t === 'events' && f.from === 'hub' && f.to === 'b' && f.m.done === true)
    expect(frames[haveFromB].m).toMatchObject({ t: 'have', relay: 1 })
    expect(relayed).toBeGreaterThan(haveFromB)
    // One hop fewer: c answers at once, without relaying further.
    expect((frames[relayed].m as { relay?: number }).relay).toBeUndefined()
    expect(cAnswers).toBeGreaterThan(relayed)
    expect(hubAnswers).toBeGreaterThan(cAnswers)
    expect(await b.log('l').count()).toBe(1)

    // Without relay, the hub answers from what it holds, asking nobody.
    net.resetStats()
    await b.sync('l')
    await net.idle()
    expect(net.trace().filter((f) => f.to.startsWith('c'))).toEqual([])
  })

  it('a cycle of peers (a triangle) relays without waiting on itself', async () => {
    const net = memoryNetwork({ seed: 22 })
    const peers: XSyncClient[] = []
    for (const n of ['a', 'b', 'c']) {
      const c = await createXSync({ transports: [net.transport(n)], reconnect: false })
      clients.push(c)
      await c.listen()
      c.log('l')
      peers.push(c)
    }
    await peers[0].connect('memory:b')
    await peers[1].connect('memory:c')
    await peers[2].connect('memory:a')
    await peers[2].log('l').append('app.x', { n: 1 })
    await net.idle()
    // The relayed requests come round to the asker; were it to wait on its own outstanding
    // request, this would only end by a relay's 5 s fallback, past this timeout.
    for (const relay of [1, 2, 3]) await peers[0].sync('l', { relay, timeoutMs: 2000 })
    expect(await peers[0].log('l').count()).toBe(1)
  })

  it('refuses a relay out of range, from callers and on the wire', async () => {
    const c = await createXSync()
    clients.push(c)
    await expect(c.sync('l', { relay: MAX_RELAY + 1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(c.sync('l', { relay: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(c.sync('l', { relay: 1.5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    const wire = encodeMessage({ t: 'have', log: 'l', id: 1, heads: [], authors: [], relay: MAX_RELAY + 1 })
    expect(() => decodeMessage(wire)).toThrow(ProtocolError)
    expect(decodeMessage(encodeMessage({ t: 'have', log: 'l', id: 1, heads: [], authors: [], relay: 2 }))).toMatchObject({ relay: 2 })
  })
})
