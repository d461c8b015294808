/**
 * `stateflow serve`: the API, live feed and sync endpoints of a server started on port 0 with a
 * temp SQLite store; runs started by a test peer over WebSocket; a battery of bad requests; and
 * SIGTERM on a real child process, after which the SQLite file holds every event and verifies.
 */
import { spawn } from 'node:child_process'
import { writeFileSync, mkdirSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditVerify } from '../../src/cli/audit-verify.js'
import { bufferOutput, EXIT_OK } from '../../src/cli/io.js'
import { openStore } from '../../src/cli/open-store.js'
import { parsePort, serve, serveFromFlags, SERVE_USAGE } from '../../src/cli/serve/index.js'
import { openServeStore } from '../../src/cli/serve/store.js'
import { defineFlowState } from '../../src/flow/flowstate/index.js'
import { createXSync } from '../../src/index.js'
import { httpSseTransport } from '../../src/transports/http-sse.js'
import { MAIN, tempDir } from './helpers.js'
import { getJson, printed, reviewWorkflow, startServe, testPeer, waitFor, type Served, type TestPeer } from './serve-helpers.js'


describe('serve - API, live feed and sync', () => {
  let server: Served
  let peer: TestPeer
  beforeAll(async () => {
    server = await startServe()
    peer = await testPeer(server.ws)
  })
  afterAll(async () => {
    await peer?.close()
    if (server) expect(await server.stop()).toBe(EXIT_OK)
    server?.cleanup()
  })

  it('serve - prints http, ws and sse addresses on one port and answers /health', async () => {
    const port = new URL(server.http).port
    expect(server.ws).toBe(`ws://127.0.0.1:${port}/sync`)
    expect(server.sse).toBe(`http://127.0.0.1:${port}/sse`)
    const health = await getJson(`${server.http}/health`)
    expect(health.status).toBe(200)
    expect(health.body).toMatchObject({ ok: true, did: server.did })
    const node = await getJson(`${server.http}/api/node`)
    expect(node.body).toMatchObject({ did: server.did, addresses: { http: server.http, ws: server.ws, sse: server.sse }, store: { kind: 'sqlite', path: server.file } })
  })

  it('serve - a run started by a WebSocket peer appears in /api/runs and its timeline follows it', async () => {
    const run = await peer.runtime.start({ client: peer.client, workflow: reviewWorkflow, input: 'hello' })
    const enc = encodeURIComponent(run.id)
    // The server replicates the run's log and folds it: the wait step waits for its signal.
    const listed = await waitFor(async () => {
      const { body } = await getJson(`${server.http}/api/runs`)
      const r = body.runs.find((x: { id: string }) => x.id === run.id)
      return r?.steps.succeeded === 1 ? r : undefined
    }, 'the run to be listed with draft succeeded')
    expect(listed).toMatchObject({ kind: 'steps', workflow: { id: 'test.review', version: '1.0.0' }, status: 'running', steps: { total: 3 } })
    const waiting = await waitFor(async () => {
      const { body } = await getJson(`${server.http}/api/runs/${enc}`)
      return body.steps.find((s: { id: string }) => s.id === 'approve')?.status === 'awaiting-signal' ? body : undefined
    }, 'the approve step to await its signal')
    const draft = waiting.steps.find((s: { id: string }) => s.id === 'draft')
    expect(draft).toMatchObject({ status: 'succeeded', attempt: 2, input: 'hello', output: 'HELLO', claimedByNode: 'test-peer' })
    // One claim won per attempt, and a result accepted per attempt: the failure, then the success.
    expect(draft.decisions.filter((d: { kind: string }) => d.kind === 'claim')).toEqual([
      expect.objectContaining({ verdict: 'won', by: peer.client.did, byNode: 'test-peer' }),
      expect.objectContaining({ verdict: 'won', by: peer.client.did, byNode: 'test-peer' }),
    ])
    expect(draft.decisions.filter((d: { kind: string }) => d.kind === 'result').map((d: { verdict: string }) => d.verdict)).toEqual(['accepted', 'accepted'])
    expect(waiting.input).toBe('hello')
    const before = (await getJson(`${server.http}/api/runs/${enc}/timeline`)).body
    expect(before.events[0]).toMatchObject({ index: 0, type: 'stateflow.workflow.started', author: peer.client.did, input: 'hello' })
    const claim = before.events.find((e: { type: string; step?: string }) => e.type === 'stateflow.step.claimed' && e.step === 'draft')
    expect(claim).toMatchObject({ attempt: 1, authorNode: 'test-peer', decision: { kind: 'claim', verdict: 'won' } })
    expect(claim.decision.why).toEqual(expect.any(String))
    const failed = before.events.find((e: { type: string }) => e.type === 'stateflow.step.failed')
    expect(failed).toMatchObject({ step: 'draft', attempt: 1, error: { name: 'Error', message: 'staged failure of attempt 1', retryable: true }, decision: { kind: 'result', verdict: 'accepted' } })
    expect(before.events.find((e: { type: string }) => e.type === 'stateflow.step.retrying')).toMatchObject({ step: 'draft', attempt: 1 })
    expect(before.events.find((e: { type: string }) => e.type === 'stateflow.step.succeeded')).toMatchObject({ step: 'draft', attempt: 2, output: 'HELLO', next: { approve: { input: 'HELLO' } } })

    await run.signal('approve', { by: 'tester' })
    const after = await waitFor(async () => {
      const { body } = await getJson(`${server.http}/api/runs/${enc}/timeline`)
      return body.status === 'completed' ? body : undefined
    }, 'the timeline to show the run completed')
    expect(after.count).toBeGreaterThan(before.count)
    expect(after.events.map((e: { type: string }) => e.type)).toContain('stateflow.signal')
    expect(after.events.find((e: { type: string }) => e.type === 'stateflow.signal').signal).toEqual({ name: 'approve', payload: { by: 'tester' } })
    expect(after.events.find((e: { type: string; step?: string }) => e.type === 'stateflow.step.succeeded' && e.step === 'publish').output).toEqual({ published: true, by: 'tester' })
    const detail = (await getJson(`${server.http}/api/runs/${enc}`)).body
    expect(detail).toMatchObject({ status: 'completed', output: { published: true, by: 'tester' } })

    // The log list and the DAG agree with the peer's own log.
    const count = await peer.client.log(run.id).count()
    const heads = (await peer.client.log(run.id).heads()).map(String).sort()
    await waitFor(async () => (await getJson(`${server.http}/api/logs/${enc}`)).body.count === count, 'the server to hold every event')
    const logs = (await getJson(`${server.http}/api/logs`)).body
    expect(logs.logs.find((l: { id: string }) => l.id === run.id)).toMatchObject({ count, run: true, headCount: heads.length, heads })
    const dag = (await getJson(`${server.http}/api/logs/${enc}/dag`)).body
    expect(dag).toMatchObject({ log: run.id, count, truncated: false })
    expect(dag.nodes).toHaveLength(count)
    expect(dag.nodes.map((n: { cid: string }) => n.cid)).toEqual(after.events.map((e: { cid: string }) => e.cid))
    for (const e of dag.edges) expect(dag.nodes.some((n: { cid: string }) => n.cid === e.to)).toBe(true)
    const capped = (await getJson(`${server.http}/api/logs/${enc}/dag?limit=3`)).body
    // The newest three, in total order: the picture's right edge.
    expect(capped.nodes.map((n: { cid: string }) => n.cid)).toEqual(dag.nodes.slice(-3).map((n: { cid: string }) => n.cid))
    expect(capped.truncated).toBe(true)
    const last = (await getJson(`${server.http}/api/runs/${enc}/timeline?limit=2`)).body
    expect(last).toMatchObject({ truncated: true, count })
    expect(last.events.map((e: { index: number }) => e.index)).toEqual([count - 2, count - 1])
  })

  it('serve - a FlowState run shows with its chart state', async () => {
    const chart = defineFlowState({
      id: 'test.chart',
      version: '1.0.0',
      exposure: { events: ['GO'] },
      initial: 'idle',
      states: {
        idle: { on: { GO: 'working' } },
        working: { invoke: { id: 'work', src: 'action:demo.work@^1', input: { n: { const: 7 } }, onDone: 'done', onError: 'broken' } },
        done: { type: 'final' },
        broken: { type: 'final' },
      },
    })
    const run = await peer.runtime.start({ client: peer.client, workflow: chart, input: null })
    const enc = encodeURIComponent(run.id)
    const idle = await waitFor(async () => {
      const r = await getJson(`${server.http}/api/runs/${enc}`)
      return r.status === 200 ? r.body : undefined
    }, 'the chart run to show')
    expect(idle).toMatchObject({ kind: 'flowstate', workflow: { id: 'test.chart' }, status: 'running', chart: { value: 'idle' } })
    await run.signal('GO')
    const done = await waitFor(async () => {
      const { body } = await getJson(`${server.http}/api/runs/${enc}`)
      return body.status === 'completed' ? body : undefined
    }, 'the chart run to complete')
    expect(done.chart.value).toBe('done')
    expect(done.steps.find((s: { id: string }) => s.id === 'work#1')).toMatchObject({ status: 'succeeded', input: { n: 7 }, output: { worked: { n: 7 } } })
    const runs = (await getJson(`${server.http}/api/runs`)).body.runs
    expect(runs.find((r: { id: string }) => r.id === run.id)).toMatchObject({ kind: 'flowstate', chartValue: 'done' })
  })

  it('serve - /api/live announces which log changed and its new count', async () => {
    const abort = new AbortController()
    const res = await fetch(`${server.http}/api/live`, { signal: abort.signal })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    const events: { event: string; data: any }[] = []
    let buffer = ''
    const read = async (pred: (e: { event: string; data: any }) => boolean) =>
      waitFor(async () => {
        const found = events.find(pred)
        if (found) return found
        const { value, done } = await reader.read()
        if (done) throw new Error('the live stream ended')
        buffer += value
        for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, i)
          buffer = buffer.slice(i + 2)
          const event = /^event: (.*)$/m.exec(block)?.[1]
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (event && data) events.push({ event, data: JSON.parse(data) })
        }
        return events.find(pred)
      }, 'a live event')
    try {
      expect((await read((e) => e.event === 'hello')).data).toEqual({ did: server.did })
      await peer.client.log('notes').append('app.note', { text: 'one' })
      const note = await read((e) => e.event === 'log' && e.data.log === 'notes')
      expect(note.data).toMatchObject({ log: 'notes', count: 1, run: false })
      await peer.client.log('notes').append('app.note', { text: 'two' })
      await read((e) => e.event === 'log' && e.data.log === 'notes' && e.data.count === 2)
      const run = await peer.runtime.start({ client: peer.client, workflow: reviewWorkflow, input: 'live' })
      const announced = await read((e) => e.event === 'log' && e.data.log === run.id)
      expect(announced.data.run).toBe(true)
      expect(announced.data.count).toBeGreaterThan(0)
      // A second peer connecting changes the peer set.
      const other = await testPeer(server.ws, 'other-peer')
      try {
        const p = await read((e) => e.event === 'peers' && e.data.dids.includes(other.client.did))
        expect(p.data.count).toBe(2)
        expect((await getJson(`${server.http}/api/peers`)).body.peers.map((x: { did: string }) => x.did).sort()).toEqual([peer.client.did, other.client.did].sort())
      } finally {
        await other.close()
      }
    } finally {
      abort.abort()
      await reader.cancel().catch(() => undefined)
    }
  })

  it('serve - a peer syncs over HTTP + SSE at /sse', async () => {
    const client = await createXSync({ transports: [httpSseTransport()], reconnect: false })
    try {
      const info = await client.connect(server.sse)
      expect(info.did).toBe(server.did)
      await client.log('sse-notes').append('app.note', { via: 'sse' })
      await waitFor(async () => (await getJson(`${server.http}/api/logs/sse-notes`)).body?.count === 1, 'the SSE peer’s event to reach the server')
      // And back: what the WebSocket peer wrote reaches the SSE peer through the server.
      await client.sync('notes')
      expect(await client.log('notes').count()).toBe(2)
    } finally {
      await client.close()
    }
  })

  it('serve - bad requests get 4xx with { error: { code, message } } and the server stays up', async () => {
    await peer.client.log('notes').append('app.note', { text: 'a plain log, not a run' })
    await waitFor(async () => (await getJson(`${server.http}/api/logs/notes`)).status === 200, 'the notes log on the server')
    const long = 'x'.repeat(300)
    const battery: [method: string, path: string, status: number, code: string][] = [
      ['GET', '/nope', 404, 'NOT_FOUND'],
      ['GET', '/api/nope', 404, 'NOT_FOUND'],
      ['GET', '/api/logs/no-such-log', 404, 'NOT_FOUND'],
      ['GET', '/api/logs/no-such-log/dag', 404, 'NOT_FOUND'],
      ['GET', '/api/runs/no-such-run', 404, 'NOT_FOUND'],
      ['GET', '/api/runs/no-such-run/timeline', 404, 'NOT_FOUND'],
      ['GET', '/api/runs/notes', 404, 'NOT_FOUND'],
      ['GET', '/api/logs/notes/nope', 404, 'NOT_FOUND'],
      ['GET', '/api/logs/notes/dag/more', 404, 'NOT_FOUND'],
      ['GET', `/api/logs/${encodeURIComponent('log:not-a-cid')}`, 404, 'NOT_FOUND'],
      ['GET', '/api/logs?limit=abc', 400, 'INVALID_ARGUMENT'],
      ['GET', '/api/logs?limit=0', 400, 'INVALID_ARGUMENT'],
      ['GET', '/api/logs?limit=-1', 400, 'INVALID_ARGUMENT'],
      ['GET', '/api/logs?limit=1.5', 400, 'INVALID_ARGUMENT'],
      ['GET', '/api/logs?limit=100000', 400, 'INVALID_ARGUMENT'],
      ['GET', '/api/logs?limit=1&limit=2', 400, 'INVALID_ARGUMENT'],
      ['GET', '/api/logs?sort=name', 400, 'INVALID_ARGUMENT'],
      ['GET', '/api/logs/notes/dag?limit=99999', 400, 'INVALID_ARGUMENT'],
      ['GET', '/api/runs?limit=', 400, 'INVALID_ARGUMENT'],
      ['GET', '/api/peers?x=1', 400, 'INVALID_ARGUMENT'],
      ['GET', '/health?verbose=1', 400, 'INVALID_ARGUMENT'],
      ['GET', '/api/logs/%E0%A4%A', 400, 'INVALID_ARGUMENT'],
      ['GET', '/api/logs/%', 400, 'INVALID_ARGUMENT'],
      ['GET', '/api/logs/', 200, ''],
      ['GET', `/api/logs/${long}`, 414, 'TOO_LARGE'],
      ['GET', `/api/runs/${long}/timeline`, 414, 'TOO_LARGE'],
      ['GET', `/api/logs?limit=${'9'.repeat(3000)}`, 414, 'TOO_LARGE'],
      ['POST', '/api/logs', 405, 'METHOD_NOT_ALLOWED'],
      ['DELETE', '/api/runs', 405, 'METHOD_NOT_ALLOWED'],
      ['PUT', '/', 405, 'METHOD_NOT_ALLOWED'],
      ['POST', '/health', 405, 'METHOD_NOT_ALLOWED'],
      ['PATCH', '/api/live', 405, 'METHOD_NOT_ALLOWED'],
      ['GET', '/sync', 426, 'PROTOCOL'],
      ['GET', '/demo/nope.js', 404, 'NOT_FOUND'],
      ['GET', '/demo/__proto__', 404, 'NOT_FOUND'],
      ['GET', '/__proto__', 404, 'NOT_FOUND'],
      ['GET', '/constructor', 404, 'NOT_FOUND'],
    ]
    for (const [method, path, status, code] of battery) {
      const r = await getJson(`${server.http}${path}`, { method })
      expect({ method, path: path.slice(0, 60), status: r.status }).toEqual({ method, path: path.slice(0, 60), status })
      if (status >= 400) {
        expect(r.headers.get('content-type'), path).toContain('application/json')
        expect(r.body, path).toEqual({ error: { code, message: expect.any(String) } })
      }
      if (status === 405) expect(r.headers.get('allow')).toBe('GET, HEAD')
    }
    // A large body on a read-only route is refused without being read whole.
    const big = await getJson(`${server.http}/api/logs`, { method: 'POST', body: new Uint8Array(4 << 20) })
    expect(big.status).toBe(405)
    // Headers past Node's bound, and bytes that are not HTTP at all.
    const huge = await getJson(`${server.http}/api/logs`, { headers: { 'x-filler': 'y'.repeat(20_000) } })
    expect(huge).toMatchObject({ status: 431, body: { error: { code: 'TOO_LARGE' } } })
    const garbage = await rawRequest(server.http, 'NOT HTTP AT ALL\r\n\r\n')
    expect(garbage).toMatch(/^HTTP\/1\.1 400/)
    expect(JSON.parse(garbage.slice(garbage.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } })
    // A page on another name re-pointed at 127.0.0.1 (DNS rebinding) does not get the API.
    const rebound = await rawRequest(server.http, 'GET /api/logs HTTP/1.1\r\nHost: evil.example:8080\r\nConnection: close\r\n\r\n')
    expect(rebound).toMatch(/^HTTP\/1\.1 403/)
    expect(JSON.parse(rebound.slice(rebound.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'UNAUTHORIZED' } })
    const port = new URL(server.http).port
    expect(await rawRequest(server.http, `GET /health HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1\.1 200/)
    // HEAD answers like GET, without a body; the redirect to /demo/ keeps relative links working.
    expect((await fetch(`${server.http}/health`, { method: 'HEAD' })).status).toBe(200)
    expect((await fetch(`${server.http}/demo`, { redirect: 'manual' })).headers.get('location')).toBe('/demo/')
    // Still up, still serving.
    expect((await getJson(`${server.http}/health`)).status).toBe(200)
    expect((await getJson(`${server.http}/api/logs/notes`)).body.count).toBeGreaterThan(0)
  })

  it('serve - the inspector page and its assets are served with a strict CSP', async () => {
    const page = await fetch(`${server.http}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    const html = await page.text()
    expect(html).toContain('<script src="/inspector.js"')
    const js = await fetch(`${server.http}/inspector.js`)
    expect(js.headers.get('content-type')).toContain('text/javascript')
    expect(await js.text()).toContain("new EventSource('/api/live')")
    expect((await fetch(`${server.http}/inspector.css`)).status).toBe(200)
  })
})

/** Send raw bytes and read until the server closes. */
function rawRequest(base: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes))
    let out = ''
    socket.setEncoding('utf8')
    socket.on('data', (d) => (out += d))
    socket.on('end', () => resolve(out))
    socket.on('error', reject)
  })
}

describe('serve - options and stores', () => {
  it('serve - usage errors: a bad port, a port in use, a store that is not one', async () => {
    expect(SERVE_USAGE).toMatch(/^Usage: stateflow serve --store <path> --port <n>/)
    for (const bad of ['abc', '-1', '65536', '1.5', '']) expect(() => parsePort(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(parsePort('0')).toBe(0)
    const io = bufferOutput()
    await expect(serveFromFlags({ port: '1' }, io)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(serveFromFlags({ store: 'x.db', port: 'http' }, io)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(serveFromFlags({ store: 'x.db' }, io)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('--port') })

    const { dir, cleanup } = tempDir('stateflow-serve-opts-')
    try {
      const first = await startServe()
      try {
        const port = Number(new URL(first.http).port)
        await expect(serve({ store: join(dir, 'b.db'), port, handleSignals: false }, io)).rejects.toMatchObject({ name: 'UsageError', message: expect.stringContaining('in use') })
      } finally {
        await first.stop()
        first.cleanup()
      }
      writeFileSync(join(dir, 'notes.txt'), 'not a store')
      await expect(openServeStore(join(dir, 'notes.txt'))).rejects.toMatchObject({ name: 'OpenStoreError' })
      writeFileSync(join(dir, 'fake.db'), 'not sqlite either, but long enough to have a header: '.repeat(4))
      await expect(openServeStore(join(dir, 'fake.db'))).rejects.toMatchObject({ name: 'OpenStoreError' })
      await expect(openServeStore(join(dir, 'missing', 'x.db'))).rejects.toMatchObject({ name: 'OpenStoreError', reason: 'missing' })
      mkdirSync(join(dir, 'not-empty'))
      writeFileSync(join(dir, 'not-empty', 'a'), 'x')
      await expect(openServeStore(join(dir, 'not-empty'))).rejects.toMatchObject({ name: 'OpenStoreError', reason: 'unknown-kind' })
      // A new directory becomes an fs store, and the identity stays across reopenings.
      const fsPath = join(dir, 'fs-store')
      const a = await openServeStore(fsPath)
      expect(a).toMatchObject({ kind: 'fs', created: true })
      await a.store.close()
      const s1 = serve({ store: fsPath, port: 0, handleSignals: false, signal: AbortSignal.abort() }, bufferOutput())
      expect(await s1).toBe(EXIT_OK)
      const io2 = bufferOutput()
      expect(await serve({ store: fsPath, port: 0, handleSignals: false, signal: AbortSignal.abort() }, io2)).toBe(EXIT_OK)
      const io3 = bufferOutput()
      expect(await serve({ store: fsPath, port: 0, handleSignals: false, signal: AbortSignal.abort() }, io3)).toBe(EXIT_OK)
      expect(io2.stdout[0]).toBe(io3.stdout[0]) // `peer did:key:…`: the same did
      expect(io3.stdout.join('\n')).toContain('(fs)')
    } finally {
      cleanup()
    }
  })
})

describe('serve - SIGTERM on a child process', () => {
  it('serve - stops on SIGTERM, exits 0, and the SQLite file holds every event and verifies', async () => {
    const { dir, cleanup } = tempDir('stateflow-serve-child-')
    const file = join(dir, 'child.db')
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--store', file, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const stdout: string[] = []
    let stderr = ''
    let partial = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      partial += d
      const lines = partial.split('\n')
      partial = lines.pop()!
      stdout.push(...lines)
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
    let peer: TestPeer | undefined
    try {
      const ws = await waitFor(() => printed(stdout, 'ws') ?? (child.exitCode !== null ? Promise.reject(new Error(`the child exited: ${stderr}`)) : undefined), 'the child to print its addresses', 30_000)
      const http = printed(stdout, 'http')!
      peer = await testPeer(ws)
      const run = await peer.runtime.start({ client: peer.client, workflow: reviewWorkflow, input: 'durable' })
      await waitFor(async () => (await run.snapshot()).steps.approve.status === 'awaiting-signal', 'the run to reach the wait')
      await run.signal('approve', { by: 'sigterm-test' })
      expect(await run.result()).toEqual({ published: true, by: 'sigterm-test' })
      await waitFor(async () => (await run.snapshot()).endRecorded === true, 'the end to be recorded')
      await peer.client.log('notes').appendBatch([1, 2, 3].map((n) => ({ type: 'app.note', body: { n } })))
      const counts = { run: await peer.client.log(run.id).count(), notes: 3 }
      const heads = (await peer.client.log(run.id).heads()).map(String).sort()
      await waitFor(async () => {
        const { body } = await getJson(`${http}/api/logs`)
        const by = new Map(body.logs.map((l: { id: string; count: number }) => [l.id, l.count]))
        return by.get(run.id) === counts.run && by.get('notes') === counts.notes
      }, 'the child to hold every event')

      // SIGTERM with the peer still connected.
      child.kill('SIGTERM')
      const { code, signal } = await exited
      expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' })
      expect(stdout.join('\n')).toContain('SIGTERM: stopping')
      expect(stdout.join('\n')).toContain('stopped; the store is closed')

      const opened = await openStore(file)
      try {
        expect(await opened.store.count(run.id)).toBe(counts.run)
        expect(await opened.store.count('notes')).toBe(counts.notes)
        expect((await opened.store.heads(run.id)).length).toBe(heads.length)
      } finally {
        await opened.store.close()
      }
      const io = bufferOutput()
      expect(await auditVerify({ store: file, json: false, strict: true }, io)).toBe(EXIT_OK)
    } finally {
      await peer?.close()
      if (child.exitCode === null) child.kill('SIGKILL')
      cleanup()
    }
  })
})
