/**
 * The wiring of `stateflow serve`: one peer and one Node HTTP server that carries everything.
 *
 * - The HTTP server listens first, so the SSE transport can be told its real URL (port 0 picks
 *   one); then the client starts on it with two listening transports: WebSocket upgrades at
 *   `/sync` and HTTP + SSE at `/sse`. Sync replicates every log a peer asks about
 *   (`replicate: 'all'`): a serve peer is a meeting point, not a party to particular logs.
 * - Every other request goes through `route`: `/health`, the JSON API and live feed under
 *   `/api/`, the inspector page at `/`, the demo at `/demo/`. Whatever a request holds, it ends
 *   in a response (4xx/5xx with `{ error: { code, message } }`), never in a throw.
 * - The demo page's peer (`demo-peer.ts`, the page's owner's) runs on the same client: it keeps
 *   the demo's logs open and runs the server steps of the runs its tabs start, nothing else.
 * - `close()`: stop accepting connections, end the live streams, close the client (its
 *   connections, logs, view hosts and the store, so an SQLite file is checkpointed and closed),
 *   then cut what is left of HTTP.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { isStateFlowError } from '../../errors.js'
import { flowStateEngine } from '../../flow/flowstate/engine.js'
import { flowRunViewWith } from '../../flow/run-view.js'
import type { XSyncClient } from '../../log/client.js'
import { httpSseServer } from '../../transports/http-sse.js'
import { toNodeListener } from '../../transports/http-node.js'
import { webSocketServer } from '../../transports/websocket-server.js'
import { createXSync } from '../../views/client.js'
import { UsageError } from '../io.js'
import { demoAssets } from './demo-assets.js'
import { startDemoPeer } from './demo-peer.js'
import { handleApi, type ApiContext, type NodeInfo } from './api.js'
import { HttpApiError, checkQuery, notFound, parseTarget, requireRead, sendError, sendJson } from './http.js'
import { liveFeed } from './live.js'
import { INSPECTOR_ASSETS, PAGE_HEADERS } from './page.js'
import { RUN_VIEW, RunIndex } from './runs.js'
import { observedStore, openServeStore, storedIdentity, type ServeStore } from './store.js'

export interface ServerInit {
  /** The store path (see `store.ts`). */
  store: string
  /** 0: any free port. */
  port: number
  host: string
}

export interface RunningServer {
  readonly did: string
  readonly addresses: NodeInfo['addresses']
  readonly store: Omit<ServeStore, 'store'>
  readonly client: XSyncClient
  /** Stop and release everything (see the module comment). Idempotent. */
  close(): Promise<void>
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'the address is in use' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' ? 'no such local address' : err.message
      reject(new UsageError(`cannot listen on ${host}:${port}: ${why}`))
    }
    server.once('error', failed)
    server.listen(port, host, () => {
      server.off('error', failed)
      resolve(server.address() as AddressInfo)
    })
  })
}

/** The base URL peers dial: a wildcard bind is reached on loopback from here. */
function baseUrl(info: AddressInfo): string {
  let host = info.address
  if (host === '0.0.0.0') host = '127.0.0.1'
  else if (host === '::') host = '::1'
  return `http://${host.includes(':') ? `[${host}]` : host}:${info.port}`
}

const LOOPBACK_BIND = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i
const LOOPBACK_NAME = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/i

/**
 * Whether a request's Host fits a server bound to `bindHost`. On loopback, only loopback names:
 * a web page whose own name an attacker re-points at 127.0.0.1 (DNS rebinding) would otherwise
 * read the API as same-origin. Bound elsewhere, the operator chose who may reach it. (Sync at
 * /sync and /sse is not checked: peers prove who they are by signature.)
 */
function hostAllowed(host: string | undefined, bindHost: string): boolean {
  if (host === undefined || !LOOPBACK_BIND.test(bindHost)) return true
  return LOOPBACK_NAME.test(host)
}

/** A malformed request Node's parser refused: answer in the API's shape rather than Node's bare 400. */
function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy()
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW'
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'
  const body = JSON.stringify({ error: tooLarge ? { code: 'TOO_LARGE', message: 'the request headers are too large' } : { code: 'INVALID_ARGUMENT', message: 'malformed HTTP request' } })
  socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
}

export async function startServer(init: ServerInit): Promise<RunningServer> {
  const opened = await openServeStore(init.store)
  const http = createServer()
  let client: XSyncClient | undefined
  try {
    const identity = await storedIdentity(opened.store)
    const runs = new RunIndex(opened.store)
    const feed = liveFeed({ did: identity.did, count: (l) => opened.store.count(l), isRun: (l) => runs.isRun(l), peers: () => client?.peers() ?? [] })
    const store = observedStore(opened.store, (logs) => feed.changed(logs))

    let stopping = false
    let ctx: ApiContext | undefined
    let sse: ((req: IncomingMessage, res: ServerResponse) => void) | undefined
    http.on('clientError', onClientError)
    http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      route(req, res).catch((err: unknown) => {
        if (err instanceof HttpApiError) return sendError(res, err)
        // A store closed under a request while shutting down, or a bug: the server stays up either way.
        if (isStateFlowError(err) && err.code === 'CLOSED') return sendError(res, new HttpApiError(503, 'UNAVAILABLE', 'the server is shutting down'))
        sendError(res, new HttpApiError(500, 'INTERNAL', err instanceof Error ? err.message.slice(0, 500) : 'internal error'))
      })
    })

    async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
      if (sse === undefined || ctx === undefined) throw new HttpApiError(503, 'UNAVAILABLE', 'the server is starting')
      const target = parseTarget(req.url)
      const [first, ...rest] = target.segments
      // The SSE transport speaks its own protocol (its methods, its plain-text errors), and stays
      // reachable while stopping, so its sessions close in order.
      if (first === 'sse' && rest.length === 0) return sse(req, res)
      if (stopping) throw new HttpApiError(503, 'UNAVAILABLE', 'the server is shutting down')
      if (!hostAllowed(req.headers.host, init.host)) throw new HttpApiError(403, 'UNAUTHORIZED', 'this server answers on localhost only: open it as http://127.0.0.1:<port>/ or http://localhost:<port>/')
      if (first === 'sync' && rest.length === 0) throw new HttpApiError(426, 'PROTOCOL', '/sync takes WebSocket upgrades only', { upgrade: 'websocket' })
      if (first === 'demo') return serveDemo(req, res)
      if (first === 'health' && rest.length === 0) {
        requireRead(req)
        checkQuery(target.query, [])
        return sendJson(res, 200, { ok: true, did: ctx.node.did, peers: ctx.client.peers().length, live: feed.clients })
      }
      if (first === 'api') {
        requireRead(req)
        if (rest.length === 1 && rest[0] === 'live') {
          checkQuery(target.query, [])
          return feed.attach(req, res)
        }
        return sendJson(res, 200, await handleApi(ctx, { segments: rest, query: target.query }))
      }
      const name = rest.length === 0 ? (first === '' ? 'index.html' : first) : undefined
      const asset = name !== undefined && Object.hasOwn(INSPECTOR_ASSETS, name) ? INSPECTOR_ASSETS[name] : undefined
      if (asset === undefined) throw notFound(`nothing at ${(req.url ?? '/').split('?')[0].slice(0, 200)}`)
      requireRead(req)
      checkQuery(target.query, [])
      res.writeHead(200, { 'content-type': asset.contentType, 'content-length': Buffer.byteLength(asset.body), ...PAGE_HEADERS })
      res.end(asset.body)
    }

    const info = await listen(http, init.port, init.host)
    const base = baseUrl(info)
    const sseTransport = httpSseServer({ url: `${base}/sse` })
    sse = toNodeListener(sseTransport.handler)
    client = await createXSync({
      identity,
      store,
      transports: [webSocketServer({ server: http, path: '/sync' }), sseTransport],
      sync: { replicate: 'all' },
      views: { [RUN_VIEW]: flowRunViewWith(flowStateEngine) },
    })
    const listening = await client.listen()
    const addresses = {
      http: base,
      ws: listening.find((a) => a.startsWith('ws')) ?? `${base.replace(/^http/, 'ws')}/sync`,
      sse: listening.find((a) => a.startsWith('http')) ?? `${base}/sse`,
    }
    const node: NodeInfo = { did: identity.did, addresses, store: { kind: opened.kind, path: opened.path } }
    ctx = { client, store: opened.store, runs, node }
    const running = client
    // The Node side of the page at /demo/ (demo-peer.ts): it joins the demo's runs and runs their server steps.
    const demo = startDemoPeer(client)
    let closing: Promise<void> | undefined
    return {
      did: identity.did,
      addresses,
      store: { kind: opened.kind, path: opened.path, created: opened.created },
      client,
      close() {
        closing ??= (async () => {
          stopping = true
          const closed = new Promise<void>((resolve) => http.close(() => resolve()))
          http.closeIdleConnections()
          feed.close()
          await demo.close().catch(() => undefined)
          await running.close()
          http.closeAllConnections()
          await closed
        })()
        return closing
      },
    }
  } catch (err) {
    // Nothing half-started stays behind: the client (and with it the store), or the store alone.
    if (client) await client.close().catch(() => undefined)
    else await opened.store.close().catch(() => undefined)
    if (http.listening) await new Promise<void>((resolve) => http.close(() => resolve()))
    throw err
  }
}

/** `/demo/<path>`: the files `demoAssets()` returns, each with its content type; 404 otherwise. */
async function serveDemo(req: IncomingMessage, res: ServerResponse): Promise<void> {
  requireRead(req)
  const raw = (req.url ?? '/').split('?')[0]
  if (raw === '/demo') {
    res.writeHead(301, { location: '/demo/', 'content-length': 0 })
    return void res.end()
  }
  const { segments } = parseTarget(raw)
  const rel = raw.endsWith('/') ? [...segments.slice(1), ''].join('/') : segments.slice(1).join('/')
  const assets = await demoAssets()
  const key = rel === '' || rel.endsWith('/') ? `${rel}index.html` : rel
  const found = Object.hasOwn(assets, rel) ? assets[rel] : Object.hasOwn(assets, key) ? assets[key] : undefined
  if (found === undefined) throw notFound(`no demo file ${JSON.stringify(rel.slice(0, 200))}`)
  const body = typeof found.body === 'string' ? found.body : Buffer.from(found.body.buffer, found.body.byteOffset, found.body.byteLength)
  res.writeHead(200, { 'content-type': found.contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache' })
  res.end(body)
}
