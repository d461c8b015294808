/**
 * A peer that breaks the protocol: every malformed or malicious input gets a typed answer or a
 * closed connection, never a crash, and nothing stored changes. The rogue peer here speaks the
 * wire format by hand over a raw memory connection.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createXSync, type XSyncClient } from '../../../src/log/client.js'
import { memoryNetwork, type MemoryNetwork } from '../../../src/transports/memory-network.js'
import type { Connection } from '../../../src/transports/transport.js'
import { decodeMessage, encodeMessage, type Message } from '../../../src/log/sync/messages.js'
import { signNonce } from '../../../src/log/sync/handshake.js'
import { generateIdentity, type Identity } from '../../../src/log/identity.js'
import { randomSeed } from '../../../src/log/crypto-backend.js'
import * as dagCbor from '@ipld/dag-cbor'
import { eventually } from '../../conformance/index.js'

const clients: XSyncClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

async function victim(net: MemoryNetwork, extra: Parameters<typeof createXSync>[0] = {}): Promise<XSyncClient> {
  const c = await createXSync({ transports: [net.transport('v')], ...extra })
  clients.push(c)
  await c.listen()
  c.log('l')
  return c
}


interface Rogue {
  conn: Connection
  inbox: Message[]
  closed: () => boolean
  send: (m: Message) => Promise<void>
}

async function rogue(net: MemoryNetwork, name = 'rogue', identity?: Identity): Promise<Rogue> {
  const conn = await net.transport(name).dial('memory:v')
  const inbox: Message[] = []
  let ended = false
  conn.onFrame((f) => inbox.push(decodeMessage(f)!))
  conn.onClose(() => (ended = true))
  const r: Rogue = { conn, inbox, closed: () => ended, send: (m) => conn.send(encodeMessage(m)) }
  if (identity) {
    await r.send({ t: 'hello', nonce: randomSeed() })
    await eventually(() => inbox.some((m) => m.t === 'hello'), 'hello')
    const hello = inbox.find((m) => m.t === 'hello') as Extract<Message, { t: 'hello' }>
    await r.send({ t: 'auth', key: identity.publicKey, sig: await signNonce(identity, hello.nonce) })
  }
  return r
}

function lastError(r: Rogue): Extract<Message, { t: 'error' }> | undefined {
  return r.inbox.filter((m): m is Extract<Message, { t: 'error' }> => m.t === 'error').at(-1)
}

/** Events of `log` made by a separate writer, to hand to the victim through the rogue. */
async function someEvents(n: number, log = 'l'): Promise<{ bytes: Uint8Array; sig?: Uint8Array }[]> {
  const w = await createXSync()
  const out = (await w.log(log).appendBatch(Array.from({ length: n }, (_, i) => ({ type: 't', body: { i } })))).map((e) => (e.sig ? { bytes: e.bytes, sig: e.sig } : { bytes: e.bytes }))
  await w.close()
  return out
}

describe('sync against a hostile peer', () => {
  it('a frame that is not DAG-CBOR gets a PROTOCOL error and the connection closes; the victim carries on', async () => {
    const net = memoryNetwork({ seed: 1 })
    const v = await victim(net)
    const r = await rogue(net)
    await r.conn.send(new Uint8Array([0xff, 0x00, 0x13]))
    await eventually(r.closed, 'the rogue to be cut off')
    expect(lastError(r)?.code).toBe('PROTOCOL')
    const good = await createXSync({ transports: [net.transport('good')] })
    clients.push(good)
    expect((await good.connect('memory:v')).did).toBe(v.did)
  })

  for (const [name, frame] of [
    ['another protocol version', dagCbor.encode({ v: 2, t: 'hello', nonce: new Uint8Array(32) })],
    ['a hello with a short nonce', dagCbor.encode({ v: 1, t: 'hello', nonce: new Uint8Array(5) })],
    ['a message that is a list', dagCbor.encode([1, 'hello'])],
    ['a have before authenticating', encodeMessage({ t: 'have', log: 'l', id: 1, heads: [], authors: [] })],
  ] as const) {
    it(`${name}: PROTOCOL error, closed`, async () => {
      const net = memoryNetwork({ seed: 2 })
      await victim(net)
      const r = await rogue(net)
      await r.conn.send(frame)
      await eventually(r.closed, 'the rogue to be cut off')
      expect(lastError(r)?.code).toBe('PROTOCOL')
    })
  }

  it('an auth signature that does not verify: AUTH error, closed, no peer listed', async () => {
    const net = memoryNetwork({ seed: 3 })
    const v = await victim(net)
    const r = await rogue(net)
    const id = await generateIdentity()
    await r.send({ t: 'hello', nonce: randomSeed() })
    await r.send({ t: 'auth', key: id.publicKey, sig: new Uint8Array(64) })
    await eventually(r.closed, 'the rogue to be cut off')
    expect(lastError(r)?.code).toBe('AUTH')
    expect(v.peers()).toEqual([])
  })

  it('a peer that never authenticates is closed after the handshake timeout', async () => {
    const net = memoryNetwork({ seed: 4 })
    await victim(net, { sync: { handshakeTimeoutMs: 20 } })
    const r = await rogue(net)
    await eventually(r.closed, 'the silent peer to be closed')
    expect(lastError(r)?.code).toBe('AUTH')
  })

  it('events with bad signatures are rejected with their code, stored nowhere, and past the bound the peer is cut', async () => {
    const net = memoryNetwork({ seed: 5 })
    const v = await victim(net, { sync: { maxInvalidEvents: 3 } })
    const r = await rogue(net, 'rogue', await generateIdentity())
    await eventually(() => v.peers().length === 1, 'the rogue to authenticate')
    const events = await someEvents(4)
    for (const e of events) if (e.sig) e.sig = e.sig.map((b, i) => (i === 0 ? b ^ 1 : b))
    await r.send({ t: 'events', log: 'l', events })
    await eventually(() => r.inbox.some((m) => m.t === 'reject'), 'a reject')
    const rej = r.inbox.find((m) => m.t === 'reject') as Extract<Message, { t: 'reject' }>
    expect(rej.items.map((i) => i.code)).toEqual(['SIGNATURE'])
    expect(v.peers()[0].invalidReceived).toBe(1)
    expect(await v.log('l').count()).toBe(0)
    expect(r.closed()).toBe(false)
    // One rejection so far (the unsigned three wait for a signature). Four more go past 3.
    const bad = (await someEvents(1)).concat(await someEvents(1), await someEvents(1), await someEvents(1)).map((e) => ({ bytes: e.bytes, sig: new Uint8Array(64) }))
    await r.send({ t: 'events', log: 'l', events: bad })
    await eventually(r.closed, 'the rogue to be cut off')
    expect(lastError(r)?.code).toBe('PROTOCOL')
    expect(await v.log('l').count()).toBe(0)
    expect(v.peers()).toEqual([])
  })

  it('events of a log the victim does not replicate are ignored; valid events of its log are stored', async () => {
    const net = memoryNetwork({ seed: 6 })
    const v = await victim(net)
    const r = await rogue(net, 'rogue', await generateIdentity())
    await eventually(() => v.peers().length === 1, 'the rogue to authenticate')
    await r.send({ t: 'events', log: 'other', events: await someEvents(3, 'other') })
    await r.send({ t: 'events', log: 'l', events: await someEvents(3) })
    await eventually(() => v.peers()[0]?.invalidReceived === 0 && r.inbox.length > 0, 'processing')
    await net.idle()
    expect(await v.store.count('other')).toBe(0)
    expect(await v.log('l').count()).toBe(3)
  })

  it('orphans past the per-peer pending bound are PENDING_OVERFLOW', async () => {
    const net = memoryNetwork({ seed: 7 })
    const v = await victim(net, { pendingPerPeer: 3, sync: { maxInvalidEvents: 1000 } })
    const r = await rogue(net, 'rogue', await generateIdentity())
    await eventually(() => v.peers().length === 1, 'the rogue to authenticate')
    // Drop each chain's first event: the rest wait for a parent that never comes.
    const chain = await someEvents(8)
    await r.send({ t: 'events', log: 'l', events: chain.slice(1) })
    await eventually(() => r.inbox.some((m) => m.t === 'reject'), 'a reject')
    const rej = r.inbox.find((m) => m.t === 'reject') as Extract<Message, { t: 'reject' }>
    expect(rej.items.every((i) => i.code === 'PENDING_OVERFLOW')).toBe(true)
    expect(rej.items.length).toBe(4)
    expect(await v.log('l').count()).toBe(0)
    expect(v.log('l').pendingCount).toBe(3)
  })

  it('a frame over the bound ends the connection', async () => {
    const net = memoryNetwork({ seed: 8, maxFrameBytes: 1024 })
    const v = await victim(net)
    const r = await rogue(net, 'rogue', await generateIdentity())
    await eventually(() => v.peers().length === 1, 'the rogue to authenticate')
    await expect(r.conn.send(new Uint8Array(2048))).rejects.toMatchObject({ code: 'TOO_LARGE' })
    expect(r.closed()).toBe(false)
  })
})
