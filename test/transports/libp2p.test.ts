import { createServer } from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { LIBP2P_PROTOCOL, libp2pTransport, type Libp2pTransport, type Libp2pTransportOptions } from '../../src/transports/libp2p.js'
import type { CloseInfo, Connection, Listening } from '../../src/transports/transport.js'
import { transportSuite } from '../conformance/transport/index.js'
import { eventually } from '../conformance/index.js'

/** Everything a test started, stopped in afterEach so vitest exits. */
const started: { transports: Libp2pTransport[]; nodes: Libp2p[] } = { transports: [], nodes: [] }

async function stopAll(): Promise<void> {
  const { transports, nodes } = started
  started.transports = []
  started.nodes = []
  await Promise.all(transports.map((t) => t.close()))
  await Promise.all(nodes.map((n) => n.stop()))
}

function transport(options: Libp2pTransportOptions = {}): Libp2pTransport {
  const t = libp2pTransport(options)
  started.transports.push(t)
  return t
}

/** A node of the same stack that never registers our protocol. */
async function stockNode(): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  })
  started.nodes.push(node)
  return node
}

/** A loopback port nobody listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}


function frames(conn: Connection): Uint8Array[] {
  const got: Uint8Array[] = []
  conn.onFrame((f) => got.push(f))
  return got
}

function endInfo(conn: Connection): Promise<CloseInfo> {
  return new Promise((resolve) => conn.onClose(resolve))
}

async function peerIdOf(t: Libp2pTransport): Promise<string> {
  return (await t.node()).peerId.toString()
}

for (const medium of ['tcp', 'ws'] as const) {
  const listen = medium === 'tcp' ? '/ip4/127.0.0.1/tcp/0' : '/ip4/127.0.0.1/tcp/0/ws'
  transportSuite({
    name: `libp2p over ${medium === 'tcp' ? 'TCP' : 'WebSockets'}`,
    capabilities: { closeReason: true },
    async setup() {
      const maxFrameBytes = 1 << 20
      const listener = transport({ listen: [listen], maxFrameBytes })
      const dialer = transport({ listen: [], maxFrameBytes })
      const otherDialer = transport({ listen: [], maxFrameBytes })
      const deadAddress = `/ip4/127.0.0.1/tcp/${await deadPort()}${medium === 'ws' ? '/ws' : ''}/p2p/${await peerIdOf(listener)}`
      return { listener, dialer, otherDialer, deadAddress }
    },
    teardown: stopAll,
  })
}

describe('libp2pTransport', () => {
  afterEach(stopAll)

  /** A listening transport, the connections it accepted, and its first address (TCP). */
  async function listener(options: Libp2pTransportOptions = {}): Promise<{ t: Libp2pTransport; listening: Listening; accepted: Connection[]; address: string }> {
    const t = transport(options)
    const accepted: Connection[] = []
    const listening = await t.listen((c) => accepted.push(c))
    return { t, listening, accepted, address: listening.addresses[0] }
  }

  /** Dial `address` and prove a frame goes each way; both ends name the other by its proved peer id. */
  async function roundTrip(from: Libp2pTransport, address: string, accepted: Connection[]): Promise<void> {
    const before = accepted.length
    const out = await from.dial(address)
    await eventually(() => accepted.length > before, 'the listener to accept', 20_000)
    const inn = accepted[accepted.length - 1]
    expect(out.remote).toBe(address)
    expect(inn.remote).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+(/ws)?/p2p/${await peerIdOf(from)}$`))
    const toIn = frames(inn)
    const toOut = frames(out)
    await out.send(new Uint8Array([1, 2, 3]))
    await inn.send(new Uint8Array([4, 5]))
    await eventually(() => toIn.length === 1 && toOut.length === 1, 'a frame each way', 20_000)
    expect([...toIn[0]]).toEqual([1, 2, 3])
    expect([...toOut[0]]).toEqual([4, 5])
  }

  it('listens on TCP and WebSockets by default; addresses carry /p2p/<peerId>', async () => {
    const { t, listening } = await listener()
    const id = await peerIdOf(t)
    expect(t.kind).toBe('libp2p')
    expect(listening.addresses.some((a) => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//.test(a))).toBe(true)
    expect(listening.addresses.some((a) => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\//.test(a))).toBe(true)
    expect(listening.addresses.every((a) => a.endsWith(`/p2p/${id}`))).toBe(true)
  })

  it('canDial takes multiaddrs only; anything else fails with CONNECT', async () => {
    const t = transport({ listen: [] })
    expect(t.canDial('/ip4/127.0.0.1/tcp/4001')).toBe(true)
    expect(t.canDial('ws://127.0.0.1:4001')).toBe(false)
    expect(t.canDial('memory:a')).toBe(false)
    expect(t.canDial('/not-a-protocol/1')).toBe(false)
    await expect(t.dial('memory:a')).rejects.toMatchObject({ code: 'CONNECT' })
  })

  it('dials the WebSocket address as well as the TCP one', async () => {
    const { listening, accepted } = await listener()
    const ws = listening.addresses.find((a) => a.includes('/ws/'))!
    const tcpAddr = listening.addresses.find((a) => !a.includes('/ws/'))!
    await roundTrip(transport({ listen: [] }), ws, accepted)
    await roundTrip(transport({ listen: [] }), tcpAddr, accepted)
  })

  it('a dial to the right address but the wrong peer id fails with CONNECT, cause attached', async () => {
    const { accepted, address } = await listener()
    const other = await stockNode()
    const wrong = multiaddr(address).decapsulateCode(421).encapsulate(`/p2p/${other.peerId.toString()}`).toString()
    const dialer = transport({ listen: [] })
    const err = await dialer.dial(wrong).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'CONNECT' })
    expect((err as Error).cause).toBeInstanceOf(Error)
    await roundTrip(dialer, address, accepted)
  })

  it('dialing a stock node (no stateflow protocol) fails with CONNECT; both nodes keep working', async () => {
    const stock = await stockNode()
    const { accepted, address } = await listener()
    const dialer = transport({ listen: [] })
    const err = await dialer.dial(stock.getMultiaddrs()[0].toString()).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'CONNECT' })
    expect((err as Error).cause).toBeInstanceOf(Error)
    // Our node still dials a proper peer...
    await roundTrip(dialer, address, accepted)
    // ...and the stock node still serves its own protocols.
    let echoed = false
    await stock.handle('/test/ping/1.0.0', ({ stream }) => {
      echoed = true
      stream.abort(new Error('done'))
    })
    const probe = await stockNode()
    await probe.dialProtocol(stock.getMultiaddrs()[0], '/test/ping/1.0.0')
    await eventually(() => echoed, 'the stock node to answer', 20_000)
    expect(stock.status).toBe('started')
  })

  it('a stock node that connects, or opens another protocol, surfaces no Connection and breaks nothing', async () => {
    const { accepted, address } = await listener()
    const stock = await stockNode()
    const conn = await stock.dial(multiaddr(address))
    expect(conn.status).toBe('open')
    await expect(conn.newStream('/not/stateflow/1.0.0')).rejects.toThrow()
    expect(accepted).toHaveLength(0)
    // The first Connection surfaced is the proper dial's: nothing came of the stock node.
    await roundTrip(transport({ listen: [] }), address, accepted)
    expect(accepted).toHaveLength(1)
    expect(accepted[0].remote).not.toContain(stock.peerId.toString())
  })

  it('a peer announcing an oversized frame has its stream ended, without a huge allocation; the listener carries on', async () => {
    const { accepted, address } = await listener({ maxFrameBytes: 1 << 16 })
    const stock = await stockNode()
    const stream = await stock.dialProtocol(multiaddr(address), LIBP2P_PROTOCOL)
    const before = process.memoryUsage().arrayBuffers
    let stop!: () => void
    const held = new Promise<void>((r) => (stop = r))
    // A 4 GiB length, then silence: only the header's claim can end this.
    void stream.sink(
      (async function* () {
        yield Uint8Array.from([0, 0xff, 0xff, 0xff, 0xff])
        await held
      })(),
    ).catch(() => undefined)
    const readEnd = (async () => {
      try {
        for await (const _ of stream.source) void _
        return 'ended'
      } catch {
        return 'reset'
      }
    })()
    await eventually(() => accepted.length === 1, 'the listener to accept the stream', 20_000)
    const info = await endInfo(accepted[0])
    expect(info.error).toMatchObject({ code: 'TOO_LARGE' })
    expect(['ended', 'reset']).toContain(await readEnd)
    stop()
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(256 * 1024 * 1024)
    await roundTrip(transport({ listen: [], maxFrameBytes: 1 << 16 }), address, accepted)
  })

  it('a peer that ends its half without a close message ends the connection as remote', async () => {
    const { accepted, address } = await listener()
    const stock = await stockNode()
    const stream = await stock.dialProtocol(multiaddr(address), LIBP2P_PROTOCOL)
    // One well-formed frame, then the end of the stream.
    await stream.sink([Uint8Array.from([0, 0, 0, 0, 2, 7, 8])])
    await eventually(() => accepted.length === 1, 'the listener to accept the stream', 20_000)
    const got = frames(accepted[0])
    const info = await endInfo(accepted[0])
    expect(info.local).toBe(false)
    expect(info.error).toBeUndefined()
    expect(got.map((f) => [...f])).toEqual([[7, 8]])
  })

  it('many concurrent dials to one peer all open (peer store locks on Node 20)', async () => {
    const { accepted, address } = await listener()
    const dialer = transport({ listen: [] })
    const conns = await Promise.all(Array.from({ length: 12 }, () => dialer.dial(address)))
    await eventually(() => accepted.length === 12, 'all twelve accepted', 20_000)
    expect(conns.every((c) => !c.closed)).toBe(true)
    expect(new Set(accepted).size).toBe(12)
  })

  it('a connection ends on both sides when the node at one end stops', async () => {
    const { accepted, address } = await listener()
    const dialer = transport({ listen: [] })
    const out = await dialer.dial(address)
    await eventually(() => accepted.length === 1, 'the listener to accept', 20_000)
    const ended = endInfo(accepted[0])
    await (await dialer.node()).stop()
    const info = await ended
    expect(info.local).toBe(false)
    expect(out.closed).toBe(true)
    await expect(out.send(new Uint8Array(1))).rejects.toMatchObject({ code: 'CLOSED' })
  })

  it('close() on the transport ends its connections and stops the node it created', async () => {
    const { t, accepted, address } = await listener()
    const dialer = transport({ listen: [] })
    const out = await dialer.dial(address)
    await eventually(() => accepted.length === 1, 'the listener to accept', 20_000)
    const outEnd = endInfo(out)
    const node = await t.node()
    await t.close()
    expect(node.status).toBe('stopped')
    expect(accepted[0].closed).toBe(true)
    expect((await outEnd).local).toBe(false)
    await expect(t.dial(address)).rejects.toMatchObject({ code: 'CLOSED' })
  })

  it('a node you bring is only borrowed: the protocol comes and goes, the node keeps running', async () => {
    const own = await stockNode()
    const t = transport({ node: own })
    const accepted: Connection[] = []
    const listening = await t.listen((c) => accepted.push(c))
    expect(listening.addresses).toEqual(own.getMultiaddrs().map(String))
    expect(own.getProtocols()).toContain(LIBP2P_PROTOCOL)
    await roundTrip(transport({ listen: [] }), listening.addresses[0], accepted)
    await t.close()
    expect(own.status).toBe('started')
    expect(own.getProtocols()).not.toContain(LIBP2P_PROTOCOL)
    expect(accepted[0].closed).toBe(true)
  })

  it('rejects a maxFrameBytes the 4-byte length cannot carry', () => {
    expect(() => libp2pTransport({ maxFrameBytes: 2 ** 32 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => libp2pTransport({ maxFrameBytes: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
  })
})
