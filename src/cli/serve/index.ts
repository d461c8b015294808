/**
 * `stateflow serve --store <path> --port <n> [--host 127.0.0.1]`: a long-running peer on one
 * store, with WebSocket sync at `/sync`, HTTP + SSE sync at `/sse`, a read-only JSON API and live
 * feed under `/api/`, and the inspector page at `/` (logs, runs step by step, the DAG, peers).
 *
 * - It prints its addresses once listening, then runs until SIGINT or SIGTERM (or `signal`
 *   aborts): then it stops accepting, closes the client and the store, and resolves to 0. A
 *   second signal during that falls through to Node's default (the process ends at once; the
 *   stores survive a kill, see DESIGN §5).
 * - `run.ts` lists it with `usage.ts` (flags and help text) and loads this module only to run it,
 *   so other commands do not load the server, xState and the ws server.
 *
 * @example
 * // A test server on any free port, stopped from the test:
 * const stop = new AbortController()
 * const done = serve({ store: 'data.db', port: 0, signal: stop.signal, handleSignals: false }, io)
 */
import { EXIT_OK, UsageError, type Output } from '../io.js'
import { startServer } from './server.js'

export { startServer, type RunningServer, type ServerInit } from './server.js'

export interface ServeOptions {
  /** A .db/.sqlite/.sqlite3 file (SQLite, created if missing) or a directory (fs store). */
  store: string
  /** Port to listen on; 0 picks a free one (printed). */
  port: number
  /** Interface to bind. @default '127.0.0.1' */
  host?: string
  /** Stop when this aborts, as on SIGTERM. */
  signal?: AbortSignal
  /** Stop on SIGINT and SIGTERM. @default true */
  handleSignals?: boolean
}

export { SERVE_FLAGS, SERVE_USAGE, SERVE_SUMMARY } from './usage.js'

/** `--port` as a number: an integer from 0 to 65535. Throws `UsageError`. */
export function parsePort(value: string | number | undefined): number {
  if (value === undefined) throw new UsageError(`'stateflow serve' needs --port <n> (see 'stateflow serve --help')`)
  const s = String(value)
  const n = /^\d{1,5}$/.test(s) ? Number(s) : NaN
  if (!(n >= 0 && n <= 65_535)) throw new UsageError(`--port must be an integer from 0 to 65535, got '${s.slice(0, 40)}'`)
  return n
}

/** Run `serve` from parsed flags (`parseFlags(args, SERVE_FLAGS, 'stateflow serve')`). */
export async function serveFromFlags(flags: Record<string, string | boolean | undefined>, io: Output): Promise<number> {
  const store = flags.store
  if (typeof store !== 'string') throw new UsageError(`'stateflow serve' needs --store <path> (see 'stateflow serve --help')`)
  const port = parsePort(typeof flags.port === 'string' ? flags.port : undefined)
  return serve({ store, port, ...(typeof flags.host === 'string' ? { host: flags.host } : {}) }, io)
}

export async function serve(options: ServeOptions, io: Output): Promise<number> {
  const port = parsePort(options.port)
  const host = options.host ?? '127.0.0.1'
  if (host.length === 0) throw new UsageError('--host must not be empty')
  const server = await startServer({ store: options.store, port, host })
  const stopped = stopRequest(options)
  try {
    io.out(`stateflow serve: peer ${server.did}`)
    io.out(`  store  ${server.store.path} (${server.store.kind}${server.store.created ? ', created' : ''})`)
    io.out(`  http   ${server.addresses.http}/  (inspector; API under /api/)`)
    io.out(`  ws     ${server.addresses.ws}`)
    io.out(`  sse    ${server.addresses.sse}`)
    io.out('Ctrl-C (SIGINT) or SIGTERM stops it.')
    const why = await stopped.promise
    io.out(`stateflow serve: ${why}: stopping`)
  } finally {
    stopped.dispose()
    await server.close()
  }
  io.out('stateflow serve: stopped; the store is closed')
  return EXIT_OK
}

/** Resolves with what asked to stop: a signal or the abort. */
function stopRequest(options: ServeOptions): { promise: Promise<string>; dispose(): void } {
  const handlers: [NodeJS.Signals, () => void][] = []
  let onAbort: (() => void) | undefined
  const promise = new Promise<string>((resolve) => {
    if (options.handleSignals !== false) {
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        const h = (): void => resolve(sig)
        handlers.push([sig, h])
        process.once(sig, h)
      }
    }
    if (options.signal) {
      if (options.signal.aborted) return resolve('aborted')
      onAbort = () => resolve('aborted')
      options.signal.addEventListener('abort', onAbort, { once: true })
    }
  })
  return {
    promise,
    dispose() {
      // Removed as soon as stopping begins: a second Ctrl-C then ends the process at once.
      for (const [sig, h] of handlers) process.off(sig, h)
      if (onAbort) options.signal?.removeEventListener('abort', onAbort)
    },
  }
}
