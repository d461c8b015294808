/**
 * `webSocketServer()`: the listening side of the WebSocket transport (Node only; it imports `ws`
 * and `node:http`). `listen()` accepts WebSocket upgrades on its own HTTP server (`port`, `host`)
 * or on one you pass (`server`), optionally only on `path`; the same object also dials, through
 * the browser-safe client in `./websocket.ts`, so one transport works both ways.
 *
 * The frame bound is ws's `maxPayload`: a peer's frame over it ends that connection before it is
 * buffered whole. Closing the `Listening` stops new upgrades and leaves open connections alone.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer } from 'ws'
import { InvalidArgumentError } from '../errors.js'
import type { Connection, Listening, Transport } from './transport.js'
import { dialWebSocket, webSocketSettings, WebSocketConnection } from './websocket.js'

export interface WebSocketServerOptions {
  /** Port of the HTTP server this transport makes (0: any free port). Ignored with a listening `server`. @default 0 */
  port?: number
  /** Interface to bind. @default '127.0.0.1' */
  host?: string
  /** Accept upgrades on this HTTP(S) server instead of making one. It is not closed for you unless this transport started it listening. */
  server?: Server
  /** Accept upgrades only on this path (e.g. `/sync`). @default any path */
  path?: string
  /** The frame bound, both ways; dialers must use the same. @default DEFAULT_MAX_FRAME_BYTES */
  maxFrameBytes?: number
  /** `send` waits while more than this many bytes are buffered. @default 1 MiB */
  highWaterMark?: number
  /** For dials made through this transport. @default 10 000 */
  connectTimeoutMs?: number
}

export interface WebSocketServerTransport extends Transport {
  listen(onConnection: (conn: Connection) => void): Promise<Listening>
  close(): Promise<void>
}

/** How long `close()` waits for peers to answer close frames before cutting their sockets. */
const CLOSE_GRACE_MS = 2_000

function refuse(socket: Duplex, status: number, text: string): void {
  socket.once('finish', () => socket.destroy())
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}

function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: Error): void => reject(err)
    server.once('error', failed)
    server.listen(port, host, () => {
      server.off('error', failed)
      resolve()
    })
  })
}

/** The dialable address of a bound server: wildcards become loopback. */
function addressOf(server: Server, path: string): string {
  const info = server.address() as AddressInfo
  const scheme = 'setSecureContext' in server ? 'wss' : 'ws'
  let host = info.address
  if (host === '0.0.0.0') host = '127.0.0.1'
  else if (host === '::') host = '::1'
  if (host.includes(':')) host = `[${host}]`
  return `${scheme}://${host}:${info.port}${path}`
}

export function webSocketServer(options: WebSocketServerOptions = {}): WebSocketServerTransport {
  const settings = webSocketSettings({ ...options, WebSocket })
  const { maxFrameBytes, highWaterMark } = settings
  const path = options.path
  if (path !== undefined && !path.startsWith('/')) throw new InvalidArgumentError(`a path starts with "/": ${path}`)
  const port = options.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InvalidArgumentError(`not a port: ${port}`)
  const host = options.host ?? '127.0.0.1'
  // noServer: we route upgrades ourselves, so closing the listener never touches open sockets.
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxFrameBytes, perMessageDeflate: false, clientTracking: false })
  const conns = new Set<Connection>()
  const sockets = new Set<WebSocket>()
  let listening: Listening | undefined
  /** Set from the start of `listen` (which awaits the bind) until its Listening closes. */
  let busy = false
  /** Servers we started, until their close completes. */
  const stopping: { server: Server; closed: Promise<void> }[] = []

  const track = (conn: Connection): void => {
    conns.add(conn)
    conn.onClose(() => conns.delete(conn))
  }

  return {
    kind: 'websocket',
    canDial: (address) => /^wss?:\/\//i.test(address),
    async dial(address) {
      const conn = await dialWebSocket(address, settings)
      track(conn)
      return conn
    },

    async listen(onConnection) {
      if (busy) throw new InvalidArgumentError('already listening: close the current Listening first')
      busy = true
      const own = options.server === undefined
      const server =
        options.server ??
        createServer((_req, res) => {
          res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('WebSocket only\n')
        })
      let accepting = true
      const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
        if (!accepting) return void socket.destroy()
        if (path !== undefined && new URL(req.url ?? '/', 'http://x').pathname !== path) {
          // On a shared server another handler may own that path.
          if (!own && server.listenerCount('upgrade') > 1) return
          return refuse(socket, 404, 'Not Found')
        }
        wss.handleUpgrade(req, socket, head, (ws) => {
          if (!accepting) return ws.terminate()
          sockets.add(ws)
          ws.once('close', () => sockets.delete(ws))
          const ip = req.socket.remoteAddress ?? 'unknown'
          const remote = `websocket:${ip.includes(':') ? `[${ip}]` : ip}:${req.socket.remotePort}`
          const conn = new WebSocketConnection(ws, remote, maxFrameBytes, highWaterMark)
          track(conn)
          onConnection(conn)
        })
      }
      server.on('upgrade', onUpgrade)
      // Close the server only if we started it listening; a caller's running server stays theirs.
      const started = !server.listening
      if (started) {
        try {
          await listenOn(server, port, host)
        } catch (err) {
          server.off('upgrade', onUpgrade)
          busy = false
          throw err
        }
      }
      const handle: Listening = {
        addresses: [addressOf(server, path ?? '/')],
        async close() {
          if (!accepting) return
          accepting = false
          server.off('upgrade', onUpgrade)
          // http.Server.close stops accepting at once; its callback waits for the upgraded
          // sockets, which stay open until their connections end.
          if (started) stopping.push({ server, closed: new Promise((resolve) => server.close(() => resolve())) })
          if (listening === handle) listening = undefined
          busy = false
        },
      }
      listening = handle
      return handle
    },

    async close() {
      await listening?.close()
      await Promise.all([...conns].map((c) => c.close('transport closed')))
      // Peers answer close frames; cut the sockets of those that do not in time.
      await Promise.all(
        [...sockets].map(
          (ws) =>
            new Promise<void>((resolve) => {
              if (ws.readyState === WebSocket.CLOSED) return resolve()
              const timer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS)
              ws.once('close', () => {
                clearTimeout(timer)
                resolve()
              })
            }),
        ),
      )
      // Only plain HTTP connections can be left (upgraded sockets are ended above).
      const servers = stopping.splice(0)
      for (const s of servers) s.server.closeAllConnections()
      await Promise.all(servers.map((s) => s.closed))
    },
  }
}
