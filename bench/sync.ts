/**
 * Sync benchmarks (issue 3). Two Node peers: the serving one in a worker thread.
 * - Cold sync: 100,000 batch-signed events from a peer that has them to a fresh one, end to end
 *   (connect, handshake, have, the whole answer ingested), over WebSocket on loopback into memory
 *   and into SQLite; over libp2p (TCP + noise + yamux) and HTTP + SSE into memory.
 * - Incremental sync on a 100,000-event log: 1, 100, 10,000 new events written while the peers
 *   were apart; on reconnect, bytes on the wire, round trips of the sync (after the handshake) and
 *   time, on the memory network, which counts them.
 * - Live push latency: appends reaching 3 peers over WebSocket, p50 / p99.
 *
 *   node --import tsx bench/sync.ts [--quick] [--filter sync.cold.websocket]
 */
import { Worker } from 'node:worker_threads'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createXSync, type XSyncClient } from '../src/log/client.js'
import { sqliteStore } from '../src/stores/sqlite-store.js'
import { memoryNetwork } from '../src/transports/memory-network.js'
import { webSocketTransport } from '../src/transports/websocket.js'
import { webSocketServer } from '../src/transports/websocket-server.js'
import { httpSseTransport } from '../src/transports/http-sse.js'
import { libp2pTransport } from '../src/transports/libp2p.js'
import type { Transport } from '../src/transports/transport.js'
import { decodeMessage } from '../src/log/sync/messages.js'
import type { Kind } from './sync-worker.js'
import { count, figure, fmtBytes, fmtInt, isMain, median, parseArgs, progress, runModules, wanted, type BenchModule, type BenchOptions, type Figure } from './harness.js'
import { cryptoBench } from './crypto.js'

const LOG = 'bench'
const SECTION_COLD = '6. cold sync between two Node peers (serving peer in a worker thread)'
const SECTION_INCR = '7. incremental sync on a 100,000-event log (memory network: bytes, round trips)'
const SECTION_LIVE = '8. live push: an append reaching 3 peers over WebSocket'

function startWorker(data: Record<string, unknown>): { worker: Worker; next: () => Promise<unknown> } {
  const worker = new Worker(new URL('./sync-worker.mjs', import.meta.url), { workerData: data })
  const queue: unknown[] = []
  const waiting: ((m: unknown) => void)[] = []
  worker.on('message', (m) => (waiting.length ? waiting.shift()!(m) : queue.push(m)))
  worker.on('error', (e) => {
    console.error('bench worker failed:', e)
    process.exit(1)
  })
  const next = (): Promise<unknown> => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r)))
  return { worker, next }
}

async function stopWorker(w: { worker: Worker; next: () => Promise<unknown> }): Promise<void> {
  w.worker.postMessage('stop')
  await w.next()
  await w.worker.terminate()
}

function dialer(kind: Kind): Transport {
  if (kind === 'websocket') return webSocketTransport()
  if (kind === 'http-sse') return httpSseTransport()
  return libp2pTransport({ listen: [] })
}

async function coldFigure(opts: BenchOptions, id: string, name: string, kind: Kind, into: 'memory' | 'sqlite', n: number, target?: Figure['target']): Promise<Figure> {
  const server = startWorker({ role: 'serve', kind, n, payload: opts.payload, log: LOG })
  const { address } = (await server.next()) as { address: string }
  const rates: number[] = []
  let note = ''
  for (let run = 0; run < opts.runs + 1; run++) {
    const dir = into === 'sqlite' ? mkdtempSync(join(tmpdir(), 'stateflow-bench-sync-')) : undefined
    const transport = dialer(kind)
    const client = await createXSync({ transports: [transport], ...(dir ? { store: sqliteStore(join(dir, 'peer.sqlite')) } : {}) })
    const log = client.log(LOG)
    await log.heads()
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    await client.connect(address)
    await client.sync(LOG, { timeoutMs: 600_000 })
    const seconds = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    const got = await log.count()
    if (got !== n) throw new Error(`cold sync over ${kind}: got ${got} of ${n} events`)
    // The first run warms both sides up (JIT, connection setup code); it is not counted.
    if (run > 0) rates.push(n / seconds)
    note = `${fmtInt(n)} events of ~${Math.round(245 + opts.payload - 32)} B; receiver ${((cpu.user + cpu.system) / 1e6 / seconds).toFixed(2)} cores busy`
    await client.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  }
  await stopWorker(server)
  return figure({ id, section: SECTION_COLD, name, unit: 'events/s', runs: rates, target, note })
}

/** Two peers on the memory network sharing a 100,000-event log; `k` new events on one side while apart. */
async function incremental(opts: BenchOptions, n: number, ks: number[]): Promise<Figure[]> {
  const net = memoryNetwork({ seed: 1, trace: true })
  const a = await createXSync({ transports: [net.transport('a')], reconnect: { minDelayMs: 1, maxDelayMs: 2 } })
  const b = await createXSync({ transports: [net.transport('b')], reconnect: { minDelayMs: 1, maxDelayMs: 2 } })
  await a.listen()
  await b.listen()
  const payload = 'x'.repeat(opts.payload)
  for (let i = 0; i < n; i += 256) await a.log(LOG).appendBatch(Array.from({ length: Math.min(256, n - i) }, (_, k) => ({ type: 'app.bench', body: { payload, i: i + k } })))
  b.log(LOG)
  await b.connect('memory:a')
  await b.sync(LOG, { timeoutMs: 600_000 })
  await net.idle()
  const out: Figure[] = []
  let at = n
  for (const k of ks) {
    net.partition(['a'], ['b'])
    for (let i = 0; i < k; i += 256) await a.log(LOG).appendBatch(Array.from({ length: Math.min(256, k - i) }, (_, j) => ({ type: 'app.bench', body: { payload, i: at + i + j } })))
    at += k
    await net.idle()
    net.resetStats()
    const t0 = performance.now()
    net.heal()
    // b dials again on its own; the haves both sides send on connect do the rest.
    while ((await b.log(LOG).count()) < at) await new Promise((r) => setTimeout(r, 1))
    const ms = performance.now() - t0
    await net.idle()
    const msgs = net.trace().map((f) => ({ m: decodeMessage(f.bytes)!, depth: f.depth }))
    const firstHave = Math.min(...msgs.filter((x) => x.m.t === 'have').map((x) => x.depth))
    const rounds = Math.ceil((Math.max(...msgs.map((x) => x.depth)) - firstHave + 1) / 2)
    const carried = msgs.reduce((s, x) => s + (x.m.t === 'events' ? x.m.events.length : 0), 0)
    const stats = net.stats()
    const evBytes = msgs.reduce((s, x) => s + (x.m.t === 'events' ? x.m.events.reduce((t, e) => t + e.bytes.length + (e.sig?.length ?? 0), 0) : 0), 0)
    out.push(
      figure({
        id: `sync.incremental.${k}`,
        section: SECTION_INCR,
        name: `${fmtInt(k)} new event${k === 1 ? '' : 's'}: bytes on the wire (all frames, handshake included)`,
        unit: 'bytes',
        runs: [stats.bytes],
        note: `${rounds} round trip${rounds === 1 ? '' : 's'} of sync after the handshake; ${fmtInt(carried)} events carried (${fmtBytes(evBytes)} of event bytes + signatures, overhead ${fmtBytes(stats.bytes - evBytes)}); ${stats.frames} frames; ${ms.toFixed(1)} ms to reconnect and sync`,
      }),
    )
  }
  await a.close()
  await b.close()
  return out
}

async function livePush(opts: BenchOptions, appends: number): Promise<Figure[]> {
  const server = webSocketServer({ port: 0, host: '127.0.0.1' })
  const a = await createXSync({ transports: [server] })
  const log = a.log(LOG)
  await log.append('app.bench', { warm: true })
  const [address] = await a.listen()
  const receivers = startWorker({ role: 'receive', address, peers: 3, log: LOG })
  await receivers.next() // ready
  const wall = (): number => performance.timeOrigin + performance.now()
  // One append at a time, spaced, so each latency is an append's own and not a queue's.
  for (let i = 0; i < appends; i++) {
    await log.append('app.bench', { sent: wall(), i })
    await new Promise((r) => setTimeout(r, 2))
  }
  await new Promise((r) => setTimeout(r, 200))
  receivers.worker.postMessage('report')
  const { latencies } = (await receivers.next()) as { latencies: number[] }
  await stopWorker(receivers)
  await a.close()
  const s = [...latencies].sort((x, y) => x - y)
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))]
  const note = `${fmtInt(s.length)} arrivals of ${fmtInt(appends * 3)} (3 peers in one worker thread); max ${q(1).toFixed(2)} ms`
  return [
    figure({ id: 'sync.live.p50', section: SECTION_LIVE, name: 'append to arrival at a peer, p50', unit: 'ms', runs: [q(0.5)], note }),
    figure({ id: 'sync.live.p99', section: SECTION_LIVE, name: 'append to arrival at a peer, p99 (lower is better)', unit: 'ms', runs: [q(0.99)], target: { max: 20, text: '≤ 20 ms' }, note }),
  ]
}

export const syncBench: BenchModule = {
  name: 'sync',
  async run(opts) {
    const out: Figure[] = []
    const add = (f: Figure | Figure[]): void => {
      for (const x of Array.isArray(f) ? f : [f]) {
        out.push(x)
        progress(x)
      }
    }
    const n = count(opts, 100_000, 20_480)
    if (wanted(opts, 'sync.cold.websocket.memory')) add(await coldFigure(opts, 'sync.cold.websocket.memory', 'WebSocket (ws) on loopback, into memory', 'websocket', 'memory', n, { min: 30_000, text: '≥ 30,000/s' }))
    if (wanted(opts, 'sync.cold.websocket.sqlite')) add(await coldFigure(opts, 'sync.cold.websocket.sqlite', 'WebSocket on loopback, into SQLite (synchronous: full)', 'websocket', 'sqlite', n))
    if (wanted(opts, 'sync.cold.libp2p')) add(await coldFigure(opts, 'sync.cold.libp2p', 'libp2p (TCP, noise, yamux) on loopback, into memory', 'libp2p', 'memory', n))
    if (wanted(opts, 'sync.cold.http-sse')) add(await coldFigure(opts, 'sync.cold.http-sse', 'HTTP + SSE on loopback, into memory', 'http-sse', 'memory', n))
    if (wanted(opts, 'sync.incremental')) add(await incremental(opts, n, opts.quick ? [1, 100, 1000] : [1, 100, 10_000]))
    if (wanted(opts, 'sync.live')) add(await livePush(opts, opts.quick ? 200 : 1000))
    return out
  },
}

if (isMain(import.meta.url)) {
  const opts = parseArgs()
  await runModules([cryptoBench, syncBench], opts)
}
