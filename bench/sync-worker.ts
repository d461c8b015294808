/**
 * The other Node peer of the sync benchmarks, in a worker thread so the two peers run on their
 * own cores. Roles (workerData.role):
 * - 'serve': produce `n` batch-signed events into a memory store, listen on `transport`, post
 *   `{ address }`, then serve syncs until told to stop.
 * - 'receive': `peers` clients that connect to `address`, open `log`, and post, for each event
 *   that reaches each client, now minus the time its body carries (latency, ms).
 */
import { createServer } from 'node:http'
import { parentPort, workerData } from 'node:worker_threads'
import { createXSync, type XSyncClient } from '../src/log/client.js'
import type { Transport } from '../src/transports/transport.js'
import { webSocketServer } from '../src/transports/websocket-server.js'
import { webSocketTransport } from '../src/transports/websocket.js'
import { httpSseServer } from '../src/transports/http-sse.js'
import { toNodeListener } from '../src/transports/http-node.js'
import { libp2pTransport } from '../src/transports/libp2p.js'

export type Kind = 'websocket' | 'http-sse' | 'libp2p'

interface ServeData {
  role: 'serve'
  kind: Kind
  n: number
  payload: number
  log: string
}
interface ReceiveData {
  role: 'receive'
  address: string
  peers: number
  log: string
}

const wall = (): number => performance.timeOrigin + performance.now()

async function listening(kind: Kind): Promise<{ transport: Transport; address: () => Promise<string>; stop: () => Promise<void> }> {
  if (kind === 'websocket') {
    const t = webSocketServer({ port: 0, host: '127.0.0.1' })
    return { transport: t, address: async () => '', stop: async () => undefined }
  }
  if (kind === 'libp2p') {
    const t = libp2pTransport({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    return { transport: t, address: async () => '', stop: async () => undefined }
  }
  // HTTP + SSE: mount the fetch handler on a node:http server.
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  const t = httpSseServer({ url: `http://127.0.0.1:${port}/sync` })
  server.on('request', toNodeListener(t.handler))
  return { transport: t, address: async () => '', stop: () => new Promise((r) => server.close(() => r())) }
}

async function serve(d: ServeData): Promise<void> {
  const net = await listening(d.kind)
  const client = await createXSync({ transports: [net.transport] })
  const log = client.log(d.log)
  const payload = 'x'.repeat(d.payload)
  for (let i = 0; i < d.n; i += 256) await log.appendBatch(Array.from({ length: Math.min(256, d.n - i) }, (_, k) => ({ type: 'app.bench', body: { payload, i: i + k } })))
  const [address] = await client.listen()
  parentPort!.postMessage({ address })
  parentPort!.on('message', async (m) => {
    if (m === 'stop') {
      await client.close()
      await net.stop()
      parentPort!.postMessage('stopped')
    }
  })
}

async function receive(d: ReceiveData): Promise<void> {
  const clients: XSyncClient[] = []
  const latencies: number[] = []
  for (let i = 0; i < d.peers; i++) {
    const c = await createXSync({ transports: [webSocketTransport()] })
    c.log(d.log).subscribe((e) => {
      const sent = (e.body as { sent?: number }).sent
      if (typeof sent === 'number') latencies.push(wall() - sent)
    })
    await c.connect(d.address)
    await c.sync(d.log)
    clients.push(c)
  }
  parentPort!.postMessage('ready')
  parentPort!.on('message', async (m) => {
    if (m === 'report') parentPort!.postMessage({ latencies: latencies.splice(0) })
    if (m === 'stop') {
      await Promise.all(clients.map((c) => c.close()))
      parentPort!.postMessage('stopped')
    }
  })
}

const data = workerData as ServeData | ReceiveData
if (data.role === 'serve') await serve(data)
else await receive(data)
