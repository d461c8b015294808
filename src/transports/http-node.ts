/**
 * `toNodeListener(handler)`: serve a fetch-API handler (such as `httpSseServer(...).handler`)
 * from Node's `http` or `https` server. Node only; browsers and edge runtimes take the handler
 * as it is.
 *
 * The response body streams chunk by chunk with backpressure (each chunk is written as soon as
 * it exists, which server-sent events need; the next is read only once the socket drains). The
 * request body streams into the Request. A client that goes away aborts the Request's signal and
 * cancels the response body, so the handler sees its stream end.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

export type FetchHandler = (req: Request) => Promise<Response>

/** Adapt `handler` to `http.createServer(toNodeListener(handler))`. */
export function toNodeListener(handler: FetchHandler): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    serve(handler, req, res).catch(() => {
      if (!res.headersSent) {
        res.statusCode = 500
        res.end()
      } else res.destroy()
    })
  }
}

async function serve(handler: FetchHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const gone = new AbortController()
  // 'close' before the response finished means the client went away; a write error means the
  // same, and 'close' follows it.
  res.on('close', () => {
    if (!res.writableFinished) gone.abort()
  })
  res.on('error', () => {})
  const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : bodyStream(req)
  let request: Request
  try {
    request = toRequest(req, gone.signal, body?.stream)
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('bad request')
    body?.discard()
    return
  }
  let response: Response
  try {
    response = await handler(request)
  } catch {
    response = new Response('internal error', { status: 500 })
  }
  await send(response, res, gone.signal)
  // As Node does for a body nobody read: drain it, so the connection can take the next request.
  if (!req.complete) body?.discard()
}

function toRequest(req: IncomingMessage, signal: AbortSignal, body: ReadableStream<Uint8Array> | undefined): Request {
  const secure = (req.socket as { encrypted?: boolean }).encrypted === true
  const path = req.url?.startsWith('/') ? req.url : `/${req.url ?? ''}`
  const url = new URL(`${secure ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}${path}`)
  const headers = new Headers()
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    try {
      headers.append(req.rawHeaders[i], req.rawHeaders[i + 1])
    } catch {
      // A header the fetch API refuses is left out rather than failing the request.
    }
  }
  // `duplex` is required for a streamed body (Node's fetch); the DOM typings lack it.
  const init: RequestInit & { duplex?: 'half' } = { method: req.method ?? 'GET', headers, signal }
  if (body !== undefined) {
    init.body = body
    init.duplex = 'half'
  }
  return new Request(url, init)
}

/** The request body as a web stream that reads from Node only as fast as it is read. */
function bodyStream(req: IncomingMessage): { stream: ReadableStream<Uint8Array>; discard(): void } {
  let open = true
  let controller!: ReadableStreamDefaultController<Uint8Array>
  const stop = (): void => {
    open = false
    req.resume()
  }
  const stream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c
        req.pause() // before the 'data' listener, so adding it does not start the flow
        req.on('data', (chunk: Buffer) => {
          if (!open) return
          c.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
          if ((c.desiredSize ?? 1) <= 0) req.pause()
        })
        req.once('end', () => {
          if (open) c.close()
          open = false
        })
        req.once('error', (err) => {
          if (open) c.error(err)
          open = false
        })
        req.once('close', () => {
          if (open) c.error(new Error('the request was aborted'))
          open = false
        })
      },
      pull() {
        req.resume()
      },
      cancel: stop,
    },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
  )
  return {
    stream,
    discard() {
      if (open) {
        try {
          controller.error(new Error('the response was sent before the body was read'))
        } catch {
          // Already over.
        }
      }
      stop()
    },
  }
}

async function send(response: Response, res: ServerResponse, gone: AbortSignal): Promise<void> {
  const headers: Record<string, string | string[]> = {}
  response.headers.forEach((value, key) => {
    if (key !== 'set-cookie') headers[key] = value
  })
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) headers['set-cookie'] = cookies
  res.writeHead(response.status, response.statusText || undefined, headers)
  if (response.body === null) {
    res.end()
    return
  }
  res.flushHeaders() // a stream's headers go now, not with its first chunk
  const reader = response.body.getReader()
  const cancel = (): void => void reader.cancel().catch(() => {})
  if (gone.aborted) cancel()
  else gone.addEventListener('abort', cancel, { once: true })
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done || gone.aborted) break
      if (!res.write(value)) await drained(res)
    }
    if (!gone.aborted) res.end()
  } catch {
    res.destroy() // the body failed: cut the response rather than pass it off as complete
  } finally {
    gone.removeEventListener('abort', cancel)
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}
