/**
 * The HTTP plumbing `stateflow serve` shares: its typed error, JSON and error responses, and
 * strict parsing of paths and query strings. Every bad request becomes an `HttpApiError`
 * (status + stable code) that the router turns into `{ error: { code, message } }`; nothing a
 * client sends can throw past the router.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { CID } from 'multiformats/cid'
import { StateFlowError, type ErrorCode } from '../../errors.js'

/** Longest request target accepted (path and query), in characters. Past it: 414 `TOO_LARGE`. */
export const MAX_URL_LENGTH = 2048

/** A request the API refuses: the HTTP status and a stable code clients branch on. */
export class HttpApiError extends StateFlowError {
  readonly status: number
  /** Extra response headers (`allow` on a 405). */
  readonly headers: Readonly<Record<string, string>>
  constructor(status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(code, message)
    this.name = 'HttpApiError'
    this.status = status
    this.headers = headers
  }
}

export const notFound = (message: string) => new HttpApiError(404, 'NOT_FOUND', message)
export const badRequest = (message: string) => new HttpApiError(400, 'INVALID_ARGUMENT', message)

/** Methods every read-only route takes. */
const READ_METHODS = ['GET', 'HEAD']

/** Refuse anything but GET and HEAD (the API only reads). */
export function requireRead(req: IncomingMessage): void {
  if (!READ_METHODS.includes(req.method ?? '')) {
    throw new HttpApiError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed here: use GET`, { allow: READ_METHODS.join(', ') })
  }
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...headers })
  res.end(body)
}

export function sendError(res: ServerResponse, err: HttpApiError): void {
  if (res.headersSent) return void res.destroy()
  sendJson(res, err.status, { error: { code: err.code, message: withoutCode(err) } }, { ...err.headers })
}

function withoutCode(err: StateFlowError): string {
  const prefix = `${err.code}: `
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message
}

/** A request target split into decoded path segments and its query. */
export interface Target {
  segments: string[]
  query: URLSearchParams
}

/**
 * Split the path on `/` first and decode each segment after, so a log id holding `/` travels as
 * `%2F` inside one segment.
 */
export function parseTarget(rawUrl: string | undefined): Target {
  const raw = rawUrl ?? '/'
  if (raw.length > MAX_URL_LENGTH) throw new HttpApiError(414, 'TOO_LARGE', `the request target is over ${MAX_URL_LENGTH} characters`)
  if (!raw.startsWith('/')) throw badRequest('the request target must be a path')
  const q = raw.indexOf('?')
  const path = q < 0 ? raw : raw.slice(0, q)
  const segments = path
    .split('/')
    .slice(1)
    .map((s) => {
      try {
        return decodeURIComponent(s)
      } catch {
        throw badRequest(`bad percent-encoding in the path: ${s.slice(0, 80)}`)
      }
    })
  // A trailing slash names the same thing as none (`/api/logs/` is `/api/logs`), except at `/`.
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop()
  return { segments, query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) }
}

/**
 * The query, checked against the parameters a route takes: unknown or repeated parameters are
 * 400s, so a typo never silently means the default.
 */
export function checkQuery(query: URLSearchParams, allowed: readonly string[]): void {
  const seen = new Set<string>()
  for (const key of query.keys()) {
    if (!allowed.includes(key)) {
      throw badRequest(`unknown query parameter '${key.slice(0, 80)}'${allowed.length > 0 ? ` (this route takes ${allowed.join(', ')})` : ' (this route takes none)'}`)
    }
    if (seen.has(key)) throw badRequest(`query parameter '${key}' given twice`)
    seen.add(key)
  }
}

/** An integer query parameter in `[min, max]`, or `fallback` when absent. */
export function intParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const v = query.get(name)
  if (v === null) return fallback
  if (!/^\d{1,9}$/.test(v)) throw badRequest(`${name} must be an integer from ${min} to ${max}, got '${v.slice(0, 40)}'`)
  const n = Number(v)
  if (n < min || n > max) throw badRequest(`${name} must be an integer from ${min} to ${max}, got ${n}`)
  return n
}

const MAX_DEPTH = 64

/**
 * A value from a log body as JSON: IPLD bytes become `{ "/": { "bytes": <base64> } }` and links
 * `{ "/": "<cid>" }` (DAG-JSON's forms, as `audit export` writes them); depth is bounded so a
 * hostile body cannot overflow the stack of the encoder.
 */
export function toJsonValue(value: unknown, depth = 0): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value)
  if (typeof value === 'bigint') return value.toString()
  if (value === undefined) return null
  if (depth >= MAX_DEPTH) return '…'
  if (value instanceof Uint8Array) return { '/': { bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') } }
  const cid = CID.asCID(value)
  if (cid) return { '/': cid.toString() }
  if (Array.isArray(value)) return value.map((v) => toJsonValue(v, depth + 1))
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJsonValue(v, depth + 1)
    return out
  }
  return String(value)
}
