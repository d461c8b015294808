/**
 * `GET /api/live`: server-sent events telling inspector pages what changed, so they re-read only
 * that. Events:
 * - `hello` `{ did }` once, on connect;
 * - `log` `{ log, count, run }` when a log stored events: which log, its new count, whether it is
 *   a run. Batches stored close together are coalesced (one event per log per `FLUSH_MS`);
 * - `peers` `{ count, dids }` when the set of connected peers changed;
 * - a `:` comment every `HEARTBEAT_MS`, so proxies keep the stream open.
 *
 * A page that stops reading (over `MAX_BUFFERED` bytes waiting) is cut: it reconnects and
 * re-reads everything, which is cheaper than buffering for it without bound.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { HttpApiError } from './http.js'

/** Coalescing window for `log` events. */
const FLUSH_MS = 50
const HEARTBEAT_MS = 15_000
/** How often the peer set is compared (peers come and go without touching any log). */
const PEERS_POLL_MS = 500
/** Bytes waiting for one slow page before it is cut. */
const MAX_BUFFERED = 1 << 20
/** Pages following at once; past it a new one gets 503 `UNAVAILABLE`. */
export const MAX_LIVE_CLIENTS = 64

export interface LiveSources {
  did: string
  count(log: string): Promise<number>
  isRun(log: string): Promise<boolean>
  peers(): { did: string }[]
}

export interface LiveFeed {
  /** Logs that stored events (from the observed store). */
  changed(logs: ReadonlySet<string>): void
  /** Serve one `/api/live` request. Throws `HttpApiError` (503) when full or closed. */
  attach(req: IncomingMessage, res: ServerResponse): void
  /** Pages following now. */
  readonly clients: number
  /** End every stream and stop the timers. Idempotent. */
  close(): void
}

export function liveFeed(sources: LiveSources): LiveFeed {
  const clients = new Set<ServerResponse>()
  const pending = new Set<string>()
  let flushTimer: ReturnType<typeof setTimeout> | undefined
  let closed = false

  const send = (event: string, data: unknown): void => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
    for (const res of clients) write(res, frame)
  }
  const write = (res: ServerResponse, frame: string): void => {
    if (res.writableLength > MAX_BUFFERED) return void res.destroy()
    res.write(frame)
  }

  const flush = async (): Promise<void> => {
    flushTimer = undefined
    const logs = [...pending]
    pending.clear()
    for (const log of logs) {
      try {
        send('log', { log, count: await sources.count(log), run: await sources.isRun(log) })
      } catch {
        // The store closed under us (shutting down): nothing left to announce.
      }
    }
  }

  const peerKey = () => sources.peers().map((p) => p.did).sort().join(' ')
  let lastPeers = '' // no peers before the client listens
  const heartbeat = setInterval(() => {
    for (const res of clients) write(res, ':\n\n')
  }, HEARTBEAT_MS)
  const peersPoll = setInterval(() => {
    if (clients.size === 0) return
    const now = peerKey()
    if (now === lastPeers) return
    lastPeers = now
    send('peers', { count: now === '' ? 0 : now.split(' ').length, dids: now === '' ? [] : now.split(' ') })
  }, PEERS_POLL_MS)
  // Timers of a feed never keep the process alive: the HTTP server does, while it listens.
  heartbeat.unref()
  peersPoll.unref()

  return {
    changed(logs) {
      if (closed || clients.size === 0) return
      for (const l of logs) pending.add(l)
      flushTimer ??= setTimeout(() => void flush(), FLUSH_MS)
    },
    attach(req, res) {
      if (closed) throw new HttpApiError(503, 'UNAVAILABLE', 'the server is shutting down')
      if (clients.size >= MAX_LIVE_CLIENTS) throw new HttpApiError(503, 'UNAVAILABLE', `${MAX_LIVE_CLIENTS} pages follow this server already`)
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' })
      if (req.method === 'HEAD') return void res.end()
      clients.add(res)
      res.on('close', () => clients.delete(res))
      res.on('error', () => clients.delete(res))
      write(res, `retry: 2000\nevent: hello\ndata: ${JSON.stringify({ did: sources.did })}\n\n`)
    },
    get clients() {
      return clients.size
    },
    close() {
      if (closed) return
      closed = true
      clearInterval(heartbeat)
      clearInterval(peersPoll)
      clearTimeout(flushTimer)
      for (const res of clients) res.end()
      clients.clear()
    },
  }
}
