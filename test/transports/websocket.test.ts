import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket as WsWebSocket, WebSocketServer } from 'ws'
import type { CloseInfo, Connection, Transport } from '../../src/transports/transport.js'
import { truncateUtf8, webSocketTransport } from '../../src/transports/websocket.js'
import { webSocketServer, type WebSocketServerTransport } from '../../src/transports/websocket-server.js'
import { transportSuite } from '../conformance/transport/index.js'
import { eventually } from '../conformance/index.js'

/** A port nobody listens on (just freed; good enough on a test machine). */
async function deadPort(): Promise<number> {
  const s = createNetServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as AddressInfo
  await new Promise((r) => s.close(r))
  return port
}

/**
 * ws behind the standard API only (no `on`, no send callback): what a browser or Node 22's
 * global WebSocket offers. It takes the polling backpressure path and the generic frame check.
 */
class StandardWebSocket {
  readonly #ws: WsWebSocket
  constructor(url: string) {
    this.#ws = new WsWebSocket(url)
  }
  get readyState(): number {
    return this.#ws.readyState
  }
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount
  }
  get binaryType(): string {
    return this.#ws.binaryType
  }
  set binaryType(t: string) {
    this.#ws.binaryType = t as 'arraybuffer'
  }
  send(data: Uint8Array): void {
    this.#ws.send(data)
  }
  close(code?: number, reason?: string): void {
    this.#ws.close(code, reason)
  }
  addEventListener(type: string, listener: (ev: unknown) => void): void {
    this.#ws.addEventListener(type as 'message', listener)
  }
}

const transports: Transport[] = []
function keep<T extends Transport>(t: T): T {
  transports.push(t)
  return t
}
async function closeAll(): Promise<void> {
  await Promise.all(transports.splice(0).map((t) => t.close?.()))
}

for (const [name, WebSocket] of [
  ['webSocket (ws)', undefined],
  ['webSocket (standard API)', StandardWebSocket],
] as const) {
  transportSuite({
    name,
    capabilities: { closeReason: true },
    async setup() {
      const maxFrameBytes = 1 << 20
      return {
        listener: keep(webSocketServer({ port: 0, maxFrameBytes })),
        dialer: keep(webSocketTransport({ maxFrameBytes, ...(WebSocket ? { WebSocket } : {}) })),
        otherDialer: keep(webSocketTransport({ maxFrameBytes })),
        deadAddress: `ws://127.0.0.1:${await deadPort()}/`,
      }
    },
    teardown: closeAll,
  })
}

function ended(conn: Connection): Promise<CloseInfo> {
  return new Promise((resolve) => conn.onClose(resolve))
}


async function serve(options: Parameters<typeof webSocketServer>[0] = {}): Promise<{ server: WebSocketServerTransport; address: string; accepted: Connection[] }> {
  const server = keep(webSocketServer(options))
  const accepted: Connection[] = []
  const listening = await server.listen((c) => accepted.push(c))
  return { server, address: listening.addresses[0], accepted }
}

function rawClient(address: string): Promise<WsWebSocket> {
  const ws = new WsWebSocket(address)
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

function rawClosed(ws: WsWebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
}

describe('webSocket - bad input and edges', () => {
  afterEach(closeAll)

  it('a peer frame over the bound ends that connection with TOO_LARGE on both ends; the server carries on', async () => {
    const { address, accepted } = await serve({ maxFrameBytes: 1024 })
    // A dialer configured with a larger bound than the server's: it lets the frame go.
    const a = await keep(webSocketTransport({ maxFrameBytes: 4096 })).dial(address)
    await eventually(() => accepted.length === 1, 'accept')
    const serverEnd = ended(accepted[0])
    const dialerEnd = ended(a)
    await a.send(new Uint8Array(2000))
    const s = await serverEnd
    expect(s.error).toMatchObject({ code: 'TOO_LARGE' })
    expect(s.local).toBe(true)
    const d = await dialerEnd
    expect(d.local).toBe(false)
    expect(d.error).toMatchObject({ code: 'TOO_LARGE' })
    const b = await keep(webSocketTransport({ maxFrameBytes: 1024 })).dial(address)
    await eventually(() => accepted.length === 2, 'a later accept')
    const got: number[] = []
    accepted[1].onFrame((f) => got.push(f.length))
    await b.send(new Uint8Array(1024))
    await eventually(() => got.length === 1, 'the frame')
    expect(got).toEqual([1024])
  })

  it('a frame over the bound towards a dialer ends its connection, with ws and with the standard API', async () => {
    for (const WebSocket of [undefined, StandardWebSocket]) {
      const { address, accepted } = await serve({ maxFrameBytes: 4096 })
      const a = await keep(webSocketTransport({ maxFrameBytes: 1024, ...(WebSocket ? { WebSocket } : {}) })).dial(address)
      await eventually(() => accepted.length === 1, 'accept')
      const dialerEnd = ended(a)
      const frames: Uint8Array[] = []
      a.onFrame((f) => frames.push(f))
      await accepted[0].send(new Uint8Array(1025))
      const info = await dialerEnd
      expect(info.error).toMatchObject({ code: 'TOO_LARGE' })
      expect(frames).toEqual([])
      await eventually(() => accepted[0].closed, 'the server side to end')
    }
  })

  it('a text message ends the connection with a PROTOCOL error, and the peer is told why', async () => {
    const { address, accepted } = await serve()
    const raw = await rawClient(address)
    await eventually(() => accepted.length === 1, 'accept')
    const serverEnd = ended(accepted[0])
    const rawEnd = rawClosed(raw)
    raw.send('hello')
    const info = await serverEnd
    expect(info.error).toMatchObject({ code: 'PROTOCOL' })
    expect(info.error?.message).toMatch(/text message/)
    const close = await rawEnd
    expect(close.code).toBe(4000)
    expect(close.reason).toMatch(/text message/)
  })

  it('a text message from a server ends the dialer side with PROTOCOL', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    await new Promise((r) => wss.once('listening', r))
    try {
      wss.on('connection', (ws) => ws.send('not binary'))
      const { port } = wss.address() as AddressInfo
      const a = await keep(webSocketTransport()).dial(`ws://127.0.0.1:${port}/`)
      const info = await ended(a)
      expect(info.error).toMatchObject({ code: 'PROTOCOL' })
    } finally {
      for (const c of wss.clients) c.terminate()
      await new Promise((r) => wss.close(r))
    }
  })

  it('a dial to a closed port is CONNECT; a malformed address is INVALID_ARGUMENT', async () => {
    const t = keep(webSocketTransport())
    await expect(t.dial(`ws://127.0.0.1:${await deadPort()}/`)).rejects.toMatchObject({ code: 'CONNECT', name: 'ConnectError' })
    await expect(t.dial('not a url')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(t.dial('http://127.0.0.1:1/')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(t.canDial('ws://x:1/')).toBe(true)
    expect(t.canDial('wss://x/sync')).toBe(true)
    expect(t.canDial('http://x/')).toBe(false)
    expect(() => webSocketTransport({ maxFrameBytes: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => webSocketServer({ path: 'sync' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
  })

  it('a dial to an HTTP server that refuses the upgrade is CONNECT', async () => {
    const http = createHttpServer((_req, res) => res.writeHead(404).end())
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
    try {
      const { port } = http.address() as AddressInfo
      await expect(keep(webSocketTransport()).dial(`ws://127.0.0.1:${port}/`)).rejects.toMatchObject({ code: 'CONNECT' })
    } finally {
      await new Promise((r) => http.close(r))
    }
  })

  it('close reasons are cut to the 123 bytes a close frame carries, on a character boundary', async () => {
    const { address, accepted } = await serve()
    const a = await keep(webSocketTransport()).dial(address)
    await eventually(() => accepted.length === 1, 'accept')
    const serverEnd = ended(accepted[0])
    const reason = 'é'.repeat(100) // 200 bytes
    await a.close(reason)
    const info = await serverEnd
    expect(info.reason).toBe('é'.repeat(61))
    expect(truncateUtf8('a😀b', 4)).toBe('a')
    expect(truncateUtf8('short')).toBe('short')
  })

  it('only the configured path upgrades', async () => {
    const { address, accepted } = await serve({ path: '/sync' })
    expect(address).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/sync$/)
    const t = keep(webSocketTransport())
    await expect(t.dial(address.replace('/sync', '/other'))).rejects.toMatchObject({ code: 'CONNECT' })
    await t.dial(address)
    await eventually(() => accepted.length === 1, 'accept')
    expect(accepted).toHaveLength(1)
  })

  it('on a caller-supplied HTTP server: plain requests still work, and closing the listener leaves the server up', async () => {
    const http: Server = createHttpServer((_req, res) => res.end('hi'))
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
    try {
      const server = keep(webSocketServer({ server: http, path: '/ws' }))
      const accepted: Connection[] = []
      const listening = await server.listen((c) => accepted.push(c))
      const { port } = http.address() as AddressInfo
      expect(listening.addresses).toEqual([`ws://127.0.0.1:${port}/ws`])
      const a = await keep(webSocketTransport()).dial(listening.addresses[0])
      await eventually(() => accepted.length === 1, 'accept')
      await listening.close()
      await expect(keep(webSocketTransport()).dial(listening.addresses[0])).rejects.toMatchObject({ code: 'CONNECT' })
      const got: number[] = []
      accepted[0].onFrame((f) => got.push(f[0]))
      await a.send(Uint8Array.of(42))
      await eventually(() => got.length === 1, 'a frame on the open connection')
      expect(got).toEqual([42])
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('hi')
    } finally {
      await closeAll()
      http.closeAllConnections()
      await new Promise((r) => http.close(r))
    }
  })

  it('one server transport dials too, and close() ends everything it made or accepted', async () => {
    const one = await serve()
    const two = await serve()
    const out = await one.server.dial(two.address)
    const back = await two.server.dial(one.address)
    await eventually(() => one.accepted.length === 1 && two.accepted.length === 1, 'both accepts')
    const ends = [ended(out), ended(back), ended(one.accepted[0]), ended(two.accepted[0])]
    await one.server.close()
    const infos = await Promise.all(ends)
    expect(infos.map((i) => i.local)).toEqual([true, false, true, false])
    await expect(keep(webSocketTransport()).dial(one.address)).rejects.toMatchObject({ code: 'CONNECT' })
    // It can listen again after a close.
    const again = await one.server.listen(() => {})
    expect(again.addresses[0]).toMatch(/^ws:\/\//)
    await again.close()
  })
})
