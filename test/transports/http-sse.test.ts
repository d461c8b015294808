import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { httpSseServer, httpSseTransport, type HttpSseServer, type HttpSseServerOptions } from '../../src/transports/http-sse.js'
import { toNodeListener } from '../../src/transports/http-node.js'
import type { CloseInfo, Connection, Listening, Transport } from '../../src/transports/transport.js'
import { transportSuite } from '../conformance/transport/index.js'
import { eventually } from '../conformance/index.js'

/** A node:http server on 127.0.0.1 with an httpSseServer mounted at /sse. */
async function serve(options: Omit<HttpSseServerOptions, 'url'> = {}): Promise<{ http: Server; sse: HttpSseServer; url: string; stop(): Promise<void> }> {
  let listener: ReturnType<typeof toNodeListener> = (_req, res) => void res.writeHead(503).end()
  const http = createServer((req, res) => listener(req, res))
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/sse`
  const sse = httpSseServer({ url, ...options })
  listener = toNodeListener(sse.handler)
  return {
    http,
    sse,
    url,
    async stop() {
      await sse.close()
      http.closeAllConnections()
      await new Promise((r) => http.close(r))
    },
  }
}

/** An address where nothing listens: a port we held and let go. */
async function deadAddress(): Promise<string> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise((r) => s.close(r))
  return `http://127.0.0.1:${port}/sse`
}


function collect(conn: Connection): Uint8Array[] {
  const got: Uint8Array[] = []
  conn.onFrame((f) => got.push(f.slice()))
  return got
}

function ended(conn: Connection): Promise<CloseInfo> {
  return new Promise((r) => conn.onClose(r))
}

let fixture: Awaited<ReturnType<typeof serve>> | undefined
const dialers: Transport[] = []

transportSuite({
  name: 'httpSse over node:http',
  // Both directions carry the reason: the client's close POST, the server's close event.
  capabilities: { closeReason: true },
  async setup() {
    fixture = await serve()
    const dialer = httpSseTransport()
    const otherDialer = httpSseTransport()
    dialers.push(dialer, otherDialer)
    return { listener: fixture.sse, dialer, otherDialer, deadAddress: await deadAddress() }
  },
  async teardown() {
    await Promise.all(dialers.splice(0).map((d) => d.close!()))
    await fixture?.stop()
    fixture = undefined
  },
})

/** A session opened by hand against the handler, as a hostile or buggy client would. */
async function rawSession(handler: (req: Request) => Promise<Response>, url: string, query = ''): Promise<{ session: string; token: string; maxFrameBytes: number; reader: ReadableStreamDefaultReader<Uint8Array> }> {
  const res = await handler(new Request(url + query))
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
  const reader = res.body!.getReader()
  let text = ''
  while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value)
  const data = /event: open\ndata: (.*)\n/.exec(text)![1]
  return { ...(JSON.parse(data) as { session: string; token: string; maxFrameBytes: number }), reader }
}

function records(...frames: number[][]): Uint8Array<ArrayBuffer> {
  const out: number[] = []
  for (const f of frames) out.push(0, 0, (f.length >> 8) & 255, f.length & 255, ...f)
  return new Uint8Array(out)
}

describe('httpSse - bad input and protocol edges', () => {
  let f: Awaited<ReturnType<typeof serve>>
  let listening: Listening
  let accepted: Connection[]
  let dialer: Transport
  let a: Connection
  let b: Connection

  beforeEach(async () => {
    f = await serve({ maxFrameBytes: 1 << 20 })
    accepted = []
    listening = await f.sse.listen((c) => accepted.push(c))
    dialer = httpSseTransport()
    a = await dialer.dial(f.url)
    await eventually(() => accepted.length === 1, 'the listener to accept')
    b = accepted[0]
  })
  afterEach(async () => {
    await dialer.close!()
    await listening.close()
    await f.stop()
  })

  /** The real connection a <-> b still carries frames both ways. */
  async function stillWorks(): Promise<void> {
    const ra = collect(a)
    const rb = collect(b)
    await a.send(new Uint8Array([1, 2, 3]))
    await b.send(new Uint8Array([4, 5]))
    await eventually(() => ra.length === 1 && rb.length === 1, 'frames both ways')
    expect([...rb[0]]).toEqual([1, 2, 3])
    expect([...ra[0]]).toEqual([4, 5])
    expect(a.closed || b.closed).toBe(false)
  }

  it('answers bad requests with 4xx, never throws, and leaves connections working', async () => {
    const h = f.sse.handler
    const raw = await rawSession(h, f.url)
    await eventually(() => accepted.length === 2, 'the raw session to be accepted')
    const post = (query: string, body: BodyInit | null, headers: Record<string, string> = { 'x-stateflow-token': raw.token }) =>
      h(new Request(`${f.url}${query}`, { method: 'POST', body, headers })).then((r) => r.status)

    expect((await h(new Request(f.url, { method: 'PUT', body: 'x' }))).status).toBe(405)
    expect((await h(new Request(f.url, { method: 'DELETE' }))).status).toBe(405)
    expect((await h(new Request(`${f.url}?max=abc`))).status).toBe(400)
    expect((await h(new Request(`${f.url}?max=0`))).status).toBe(400)
    expect(await post('?seq=0', records([1]))).toBe(404)
    expect(await post('?session=nosuch&seq=0', records([1]))).toBe(404)
    expect(await post(`?session=${raw.session}&seq=0`, records([1]), { 'x-stateflow-token': 'wrong' })).toBe(403)
    expect(await post(`?session=${raw.session}&seq=0`, records([1]), {})).toBe(403)
    expect(await post(`?session=${raw.session}&seq=-1`, records([1]))).toBe(400)
    expect(await post(`?session=${raw.session}`, records([1]))).toBe(400)
    // A length prefix pointing past the end, and one cut short.
    expect(await post(`?session=${raw.session}&seq=0`, new Uint8Array([0, 0, 0, 9, 1, 2]))).toBe(400)
    expect(await post(`?session=${raw.session}&seq=0`, new Uint8Array([0, 0, 1]))).toBe(400)
    expect(await post(`?session=${raw.session}&seq=0&close`, 'not json')).toBe(400)
    // A body over the bound, declared or not.
    expect(await post(`?session=${raw.session}&seq=0`, new Uint8Array((1 << 20) + 300 * 1024))).toBe(413)
    const streamed = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(new Uint8Array(256 * 1024))
      },
    })
    const init = { method: 'POST', body: streamed, duplex: 'half', headers: { 'x-stateflow-token': raw.token } }
    expect((await h(new Request(`${f.url}?session=${raw.session}&seq=0`, init as RequestInit))).status).toBe(413)

    // None of that applied anything or ended anything; the raw session still takes seq 0.
    const rawConn = accepted[1]
    const got = collect(rawConn)
    expect(await post(`?session=${raw.session}&seq=0`, records([7, 7]))).toBe(204)
    expect(got.map((x) => [...x])).toEqual([[7, 7]])
    expect(rawConn.closed).toBe(false)
    await stillWorks()
  })

  it('a frame over the bound ends that connection as TOO_LARGE, and only that one', async () => {
    const raw = await rawSession(f.sse.handler, f.url, '?max=4')
    expect(raw.maxFrameBytes).toBe(4)
    await eventually(() => accepted.length === 2, 'the raw session to be accepted')
    const rawConn = accepted[1]
    expect(rawConn.maxFrameBytes).toBe(4)
    const end = ended(rawConn)
    const res = await f.sse.handler(
      new Request(`${f.url}?session=${raw.session}&seq=0`, { method: 'POST', body: records([1, 2, 3, 4, 5]), headers: { 'x-stateflow-token': raw.token } }),
    )
    expect(res.status).toBe(413)
    const info = await end
    expect(info.error).toMatchObject({ code: 'TOO_LARGE' })
    // The raw client is told, with the reason, on its stream.
    let text = ''
    for (;;) {
      const { done, value } = await raw.reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
    }
    expect(text).toMatch(/event: close\ndata: \{"reason":"TOO_LARGE: /)
    await stillWorks()
  })

  it('applies POSTs in seq order: early, repeated and stale ones neither reorder nor duplicate frames', async () => {
    const h = f.sse.handler
    const raw = await rawSession(h, f.url)
    await eventually(() => accepted.length === 2, 'the raw session to be accepted')
    const got = collect(accepted[1])
    const post = (seq: number, body: Uint8Array<ArrayBuffer>) =>
      h(new Request(`${f.url}?session=${raw.session}&seq=${seq}`, { method: 'POST', body, headers: { 'x-stateflow-token': raw.token } })).then((r) => r.status)
    const early = post(1, records([3], [4])) // held until seq 0 arrives
    await new Promise((r) => setTimeout(r, 20))
    expect(got).toEqual([])
    expect(await post(0, records([1], [2]))).toBe(204)
    expect(await early).toBe(204)
    expect(await post(0, records([1], [2]))).toBe(204) // a retry of an applied POST
    expect(await post(1, records([3], [4]))).toBe(204)
    expect(await post(2, records([5]))).toBe(204)
    expect(await post(99, records([6]))).toBe(409) // far outside the window
    expect(got.map((x) => x[0])).toEqual([1, 2, 3, 4, 5])
  })

  it('a server close while the client is mid-send reaches the client with its reason', async () => {
    const rb = collect(b)
    const sending = (async () => {
      for (let i = 0; ; i++) await a.send(new Uint8Array(2000).fill(i & 255))
    })()
    await eventually(() => rb.length >= 200, 'frames to flow')
    const aEnd = ended(a)
    await b.close('bye')
    expect(await aEnd).toEqual({ local: false, reason: 'bye' })
    await expect(sending).rejects.toMatchObject({ code: 'CLOSED' })
  })

  it('a client whose event stream is cut sees its connection end, and so does the server', async () => {
    const aEnd = ended(a)
    const bEnd = ended(b)
    f.http.closeAllConnections() // destroys every socket, the SSE one included
    const [ia, ib] = await Promise.all([aEnd, bEnd])
    expect(ia.local).toBe(false)
    expect(ia.error).toMatchObject({ code: 'CONNECT' })
    expect(ib.local).toBe(false)
    expect(ib.error).toMatchObject({ code: 'CONNECT' })
    await expect(a.send(new Uint8Array(1))).rejects.toMatchObject({ code: 'CLOSED' })
    // A reconnect is a new dial, and it works.
    const a2 = await dialer.dial(f.url)
    await eventually(() => accepted.length === 2, 'the new dial to be accepted')
    const got = collect(accepted[1])
    await a2.send(new Uint8Array([9]))
    await eventually(() => got.length === 1, 'a frame on the new connection')
    expect(got[0][0]).toBe(9)
  })

  it('a client that vanishes without a word is dropped once its stream stops taking data', async () => {
    const quick = await serve({ heartbeatMs: 10, idleTimeoutMs: 300 })
    try {
      const mine: Connection[] = []
      const l = await quick.sse.listen((c) => mine.push(c))
      const raw = await rawSession(quick.sse.handler, quick.url)
      // Heartbeats come while the reader reads...
      let text = ''
      while (!text.includes(':\n\n')) text += new TextDecoder().decode((await raw.reader.read()).value)
      expect(mine[0].closed).toBe(false)
      // ...and once it stops, the server gives up on it.
      const info = await ended(mine[0])
      expect(info.local).toBe(false)
      expect(info.error).toMatchObject({ code: 'CONNECT' })
      await l.close()
    } finally {
      await quick.stop()
    }
  })

  it('carries frames of every small size, empty ones included, both ways', async () => {
    const ra = collect(a)
    const rb = collect(b)
    const frames = Array.from({ length: 40 }, (_, n) => Uint8Array.from({ length: n }, (_, i) => (n * 37 + i * 101) & 255))
    for (const fr of frames) await Promise.all([a.send(fr), b.send(fr)])
    await eventually(() => ra.length === frames.length && rb.length === frames.length, 'every frame both ways')
    expect(ra.map((x) => [...x])).toEqual(frames.map((x) => [...x]))
    expect(rb.map((x) => [...x])).toEqual(frames.map((x) => [...x]))
  })

  it('negotiates one frame bound for both ends: the smaller', async () => {
    const small = httpSseTransport({ maxFrameBytes: 1000 })
    const c = await small.dial(f.url)
    await eventually(() => accepted.length === 2, 'the listener to accept')
    expect(c.maxFrameBytes).toBe(1000)
    expect(accepted[1].maxFrameBytes).toBe(1000)
    await expect(accepted[1].send(new Uint8Array(1001))).rejects.toMatchObject({ code: 'TOO_LARGE' })
    await small.close!()
  })

  it('batches queued frames into few POSTs, in order', async () => {
    let posts = 0
    const counting = httpSseTransport({
      fetch: (input, init) => {
        if (init?.method === 'POST') posts++
        return fetch(input, init)
      },
    })
    const c = await counting.dial(f.url)
    await eventually(() => accepted.length === 2, 'the listener to accept')
    const got = collect(accepted[1])
    const n = 5000
    for (let i = 0; i < n; i++) await c.send(new Uint8Array([i >> 8, i & 255, 0, 0, 0, 0, 0, 0]))
    await eventually(() => got.length === n, 'every frame')
    expect(got.every((x, i) => ((x[0] << 8) | x[1]) === i)).toBe(true)
    expect(posts).toBeLessThan(n / 20)
    await counting.close!()
  })

  it('refuses dials answered with an error status or without an event stream, with CONNECT', async () => {
    const other = createServer((req, res) => {
      if (req.url?.includes('plain')) res.writeHead(200, { 'content-type': 'text/plain' }).end('hello')
      else res.writeHead(404).end()
    })
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r))
    const port = (other.address() as AddressInfo).port
    try {
      await expect(dialer.dial(`http://127.0.0.1:${port}/missing`)).rejects.toMatchObject({ code: 'CONNECT' })
      await expect(dialer.dial(`http://127.0.0.1:${port}/plain`)).rejects.toMatchObject({ code: 'CONNECT' })
      await expect(dialer.dial('ftp://example.com/')).rejects.toMatchObject({ code: 'CONNECT' })
      expect(dialer.canDial('https://example.com/sse')).toBe(true)
      expect(dialer.canDial('ws://example.com/')).toBe(false)
    } finally {
      other.closeAllConnections()
      await new Promise((r) => other.close(r))
    }
  })

  it('rejects bad options with INVALID_ARGUMENT', () => {
    expect(() => httpSseServer({ url: 'not a url' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => httpSseServer({ url: 'ftp://x/' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => httpSseServer({ url: 'http://x/', heartbeatMs: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => httpSseTransport({ maxFrameBytes: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
  })
})

describe('httpSse - client stream parsing', () => {
  it('parses the event stream split at every byte, with CRLF line ends, comments and unknown fields', async () => {
    const b64 = (bytes: number[]) => btoa(String.fromCharCode(...bytes))
    const big = Array.from({ length: 1000 }, (_, i) => (i * 31) & 255)
    const hello = JSON.stringify({ v: 1, session: 's', token: 't', maxFrameBytes: 4096, heartbeatMs: 15_000 })
    const wire =
      `: hello\r\nretry: 10\r\nevent: open\r\ndata: ${hello}\r\n\r\n` +
      `id: 1\r\ndata: ${b64([1, 2, 3])}\r\ndata:${b64([])}\r\ndata: ${b64(big)}\r\n\r\n` +
      `:\n\n` +
      `event: future-thing\ndata: ignored\n\n` +
      `event: close\ndata: {"reason":"bye"}\n\n`
    const bytes = new TextEncoder().encode(wire)
    let i = 0
    const fakeFetch = (async (_input: unknown, init?: RequestInit) => {
      if (init?.method === 'POST') return new Response(null, { status: 204 })
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          if (i < bytes.length) c.enqueue(bytes.subarray(i, ++i))
          else c.close()
        },
      })
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } })
    }) as typeof fetch
    const conn = await httpSseTransport({ fetch: fakeFetch }).dial('http://example.test/sse')
    expect(conn.maxFrameBytes).toBe(4096)
    const got = collect(conn)
    const info = await ended(conn)
    expect(info).toEqual({ local: false, reason: 'bye' })
    expect(got.map((x) => [...x])).toEqual([[1, 2, 3], [], big])
  })

  it('hands over every frame when the open event, frames and a close come in one chunk', async () => {
    const hello = JSON.stringify({ v: 1, session: 's', token: 't', maxFrameBytes: 4096, heartbeatMs: 15_000 })
    const wire = `event: open\ndata: ${hello}\n\ndata: AQI=\ndata: Aw==\n\nevent: close\ndata: {}\n\n`
    const fakeFetch = (async () => new Response(wire, { headers: { 'content-type': 'text/event-stream' } })) as typeof fetch
    const conn = await httpSseTransport({ fetch: fakeFetch }).dial('http://example.test/sse')
    const got = collect(conn)
    const info = await ended(conn)
    expect(info).toEqual({ local: false })
    expect(got.map((x) => [...x])).toEqual([[1, 2], [3]])
  })

  it('a frame that is not base64 fails the connection with PROTOCOL', async () => {
    const hello = JSON.stringify({ v: 1, session: 's', token: 't', maxFrameBytes: 4096, heartbeatMs: 15_000 })
    const wire = `event: open\ndata: ${hello}\n\ndata: ab$=\n\n`
    const fakeFetch = (async () => new Response(wire, { headers: { 'content-type': 'text/event-stream' } })) as typeof fetch
    const conn = await httpSseTransport({ fetch: fakeFetch }).dial('http://example.test/sse')
    const info = await ended(conn)
    expect(info.local).toBe(false)
    expect(info.error).toMatchObject({ code: 'PROTOCOL' })
  })

  it('a stream that ends before opening a session fails the dial with CONNECT', async () => {
    const fakeFetch = (async () => new Response(': nothing here\n\n', { headers: { 'content-type': 'text/event-stream' } })) as typeof fetch
    await expect(httpSseTransport({ fetch: fakeFetch }).dial('http://example.test/sse')).rejects.toMatchObject({ code: 'CONNECT' })
  })
})
