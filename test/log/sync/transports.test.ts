/**
 * The sync protocol end to end over every real transport: a fresh peer pulls a log, then events
 * flow live both ways. Real sockets on 127.0.0.1 (WebSocket, HTTP + SSE, libp2p with noise) and a
 * real BroadcastChannel.
 */
import { createServer, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { createXSync, type XSyncClient } from '../../../src/log/client.js'
import type { Transport } from '../../../src/transports/transport.js'
import { webSocketServer } from '../../../src/transports/websocket-server.js'
import { webSocketTransport } from '../../../src/transports/websocket.js'
import { httpSseServer, httpSseTransport } from '../../../src/transports/http-sse.js'
import { toNodeListener } from '../../../src/transports/http-node.js'
import { libp2pTransport } from '../../../src/transports/libp2p.js'
import { broadcastChannelTransport } from '../../../src/transports/broadcast-channel.js'
import { eventually } from '../../conformance/index.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})


type Pair = { server: Transport; client: Transport }

const kinds: Record<string, () => Promise<Pair>> = {
  websocket: async () => ({ server: webSocketServer({ port: 0, host: '127.0.0.1' }), client: webSocketTransport() }),
  'http-sse': async () => {
    const http: Server = createServer()
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
    const port = (http.address() as { port: number }).port
    const server = httpSseServer({ url: `http://127.0.0.1:${port}/sync` })
    http.on('request', toNodeListener(server.handler))
    cleanups.push(async () => {
      http.closeAllConnections()
      await new Promise((r) => http.close(r))
    })
    return { server, client: httpSseTransport() }
  },
  libp2p: async () => ({ server: libp2pTransport({ listen: ['/ip4/127.0.0.1/tcp/0'] }), client: libp2pTransport({ listen: [] }) }),
  'broadcast-channel': async () => {
    const name = `stateflow-sync-test-${Math.random()}`
    return { server: broadcastChannelTransport(name, { id: 'server' }), client: broadcastChannelTransport(name, { id: 'client' }) }
  },
}

describe('sync over real transports', () => {
  for (const [kind, make] of Object.entries(kinds)) {
    it(`${kind}: a fresh peer pulls 2,000 events, then events flow live both ways`, async () => {
      const { server, client } = await make()
      const a = await createXSync({ transports: [server] })
      const b = await createXSync({ transports: [client] })
      cleanups.push(() => a.close(), () => b.close())
      for (let i = 0; i < 8; i++) await a.log('l').appendBatch(Array.from({ length: 250 }, (_, k) => ({ type: 't', body: { n: i * 250 + k } })))
      const [address] = await a.listen()
      b.log('l')
      const peer = await b.connect(address)
      expect(peer.did).toBe(a.did)
      expect(peer.transport).toBe(kind)
      await b.sync('l')
      expect(await b.log('l').count()).toBe(2000)
      await a.log('l').append('t', { live: 'from a' })
      await b.log('l').append('t', { live: 'from b' })
      await eventually(async () => (await a.log('l').count()) === 2002 && (await b.log('l').count()) === 2002, 'both live events on both peers')
      const order = async (c: XSyncClient): Promise<string[]> => {
        const out: string[] = []
        for await (const e of c.log('l').events()) out.push(e.cid.toString())
        return out
      }
      expect(await order(b)).toEqual(await order(a))
      expect(a.peers().map((p) => p.did)).toEqual([b.did])
    }, 60_000)
  }
})
