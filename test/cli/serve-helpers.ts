/**
 * Shared by the `stateflow serve` tests: a server started in-process on port 0 (its addresses read
 * from what it prints, as a user reads them), a test peer that dials it over WebSocket with a
 * runtime that runs the test workflow, and small polling helpers (conditions, never durations).
 */
import { join } from 'node:path'
import { z } from 'zod'
import { createStateFlowRuntime, createXSync, defineStep, defineWorkflow, flowRunViewWith, link, waitForSignal, type StateFlowRuntime, type XSyncClient } from '../../src/index.js'
import { flowStateEngine } from '../../src/flow/flowstate/index.js'
import { bufferOutput } from '../../src/cli/io.js'
import { serve } from '../../src/cli/serve/index.js'
import { webSocketTransport } from '../../src/transports/websocket.js'
import { tempDir } from './helpers.js'

export interface Served {
  http: string
  ws: string
  sse: string
  did: string
  file: string
  stdout: string[]
  /** Stop it (as SIGTERM would) and resolve to the exit code. */
  stop(): Promise<number>
  cleanup(): void
}

/** Poll `pred` until it holds; fail with `what` after `ms`. */
export async function waitFor<T>(pred: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await pred()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The address after a printed label (`  ws     ws://…`). */
export function printed(lines: readonly string[], label: string): string | undefined {
  for (const l of lines) {
    const m = new RegExp(`^\\s+${label}\\s+(\\S+)`).exec(l)
    if (m) return m[1].replace(/\/$/, '')
  }
  return undefined
}

export async function startServe(): Promise<Served> {
  const { dir, cleanup } = tempDir('stateflow-serve-')
  const file = join(dir, 'serve.db')
  const io = bufferOutput()
  const stop = new AbortController()
  const done = serve({ store: file, port: 0, signal: stop.signal, handleSignals: false }, io)
  let failed: unknown
  done.catch((err: unknown) => (failed = err))
  await waitFor(() => failed !== undefined || printed(io.stdout, 'sse'), 'serve to print its addresses')
  if (failed !== undefined) throw failed
  const did = /peer (did:key:\S+)/.exec(io.stdout[0])![1]
  return {
    http: printed(io.stdout, 'http')!,
    ws: printed(io.stdout, 'ws')!,
    sse: printed(io.stdout, 'sse')!,
    did,
    file,
    stdout: io.stdout,
    stop: () => {
      stop.abort()
      return done
    },
    cleanup,
  }
}

export async function getJson<T = any>(url: string, init?: RequestInit): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(url, init)
  const text = await res.text()
  return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T, headers: res.headers }
}

const step = (id: string, type: string, retry?: { maxAttempts: number; initialIntervalMs: number; jitter: number }) =>
  defineStep({ id, type, sideEffects: { kind: 'pure' }, claim: { mode: 'lease', ttlMs: 60_000 }, ...(retry ? { retry } : {}) })

/**
 * draft → approve (waits for the signal 'approve') → publish: the test decides when it moves on.
 * draft fails its first attempt (a retryable error) and succeeds on the second, so attempts and
 * errors show.
 */
export const reviewWorkflow = defineWorkflow({
  id: 'test.review',
  version: '1.0.0',
  input: z.string(),
  steps: { draft: step('draft', 'text.draft', { maxAttempts: 2, initialIntervalMs: 10, jitter: 0 }), approve: waitForSignal('approve', 'approve'), publish: step('publish', 'text.publish') },
  links: [link('draft', 'approve'), link('approve', 'publish')],
})

export interface TestPeer {
  client: XSyncClient
  runtime: StateFlowRuntime
  close(): Promise<void>
}

/** A peer with a runtime for `reviewWorkflow` (and FlowState charts), connected to `ws`. */
export async function testPeer(ws: string, nodeId = 'test-peer'): Promise<TestPeer> {
  const client = await createXSync({ transports: [webSocketTransport()], views: { flowRun: flowRunViewWith(flowStateEngine) }, reconnect: false })
  const runtime = createStateFlowRuntime({ node: { id: nodeId, kind: 'server', capabilities: [] }, workflows: [reviewWorkflow], flowstate: flowStateEngine })
  runtime.register('text.draft', (ctx, s: string) => {
    if (ctx.attempt === 1) throw new Error('staged failure of attempt 1')
    return s.toUpperCase()
  })
  runtime.register('text.publish', (_ctx, p: { by: string }) => ({ published: true, by: p.by }))
  runtime.register('demo.work', (_ctx, input: unknown) => ({ worked: input }))
  await client.connect(ws)
  return {
    client,
    runtime,
    async close() {
      await runtime.close().catch(() => undefined)
      await client.close().catch(() => undefined)
    },
  }
}
