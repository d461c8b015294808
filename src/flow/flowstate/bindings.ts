/**
 * Run-state paths and bindings (grammar in `types.ts`): checked when a flow is defined,
 * evaluated purely (no clock, no randomness, own properties only) when it runs.
 */
import { pathAt, type IssueList } from './issues.js'
import { MAX_PATH_LENGTH, type Bindings, type Json, type Path } from './types.js'

/** What guards and bindings read: the run's input, the event being handled, invocation outputs by id. */
export interface RunScope {
  input: unknown
  event: unknown
  output: Readonly<Record<string, unknown>>
}

export type PathSegment = string | number

const ROOTS = new Set(['input', 'event', 'output'])
const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype'])
const parsed = new Map<string, PathSegment[]>()

/** The segments of `path` after `$` (the root first), or why it is not a path. */
export function parsePath(path: unknown): PathSegment[] | string {
  if (typeof path !== 'string') return 'a path is a string such as "$.input.total"'
  const hit = parsed.get(path)
  if (hit) return hit
  if (path.length > MAX_PATH_LENGTH) return `a path has at most ${MAX_PATH_LENGTH} characters`
  if (!path.startsWith('$.')) return `a path starts with "$.input", "$.event" or "$.output", not ${JSON.stringify(path.slice(0, 32))}`
  const segments: PathSegment[] = []
  let i = 1
  while (i < path.length) {
    if (path[i] === '.') {
      let j = i + 1
      while (j < path.length && path[j] !== '.' && path[j] !== '[') j++
      const name = path.slice(i + 1, j)
      if (!NAME.test(name) || FORBIDDEN.has(name)) return `${JSON.stringify(name)} is not a path name (letters, digits, _ and -, not starting with a digit)`
      segments.push(name)
      i = j
    } else if (path[i] === '[') {
      const close = path.indexOf(']', i)
      const digits = close < 0 ? '' : path.slice(i + 1, close)
      if (!/^(0|[1-9][0-9]{0,8})$/.test(digits)) return 'an index is [0], [1], … (no leading zeros)'
      if (segments.length === 0) return 'a path starts with a root name'
      segments.push(Number(digits))
      i = close + 1
    } else return `unexpected ${JSON.stringify(path[i])} at ${i}`
  }
  if (!ROOTS.has(segments[0] as string)) return `a path's root is input, event or output, not ${JSON.stringify(segments[0])}`
  if (parsed.size < 4096) parsed.set(path, segments)
  return segments
}

/** The value at `path` in `scope`, or undefined when it leads nowhere. */
export function readPath(scope: RunScope, path: Path): unknown {
  const segments = parsePath(path)
  if (typeof segments === 'string') return undefined
  let v: unknown = scope
  for (const s of segments) {
    if (typeof s === 'number') {
      if (!Array.isArray(v) || s >= v.length) return undefined
      v = v[s]
    } else {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, s)) return undefined
      v = (v as Record<string, unknown>)[s]
    }
  }
  return v
}

export function checkPath(path: unknown, at: string, issues: IssueList): path is Path {
  const p = parsePath(path)
  if (typeof p === 'string') {
    issues.error('BAD_PATH', at, p)
    return false
  }
  return true
}

const isPlain = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x) && (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null)

/** Whether `x` is JSON data (what canonical JSON accepts), with its first problem reported. */
export function checkJson(x: unknown, at: string, issues: IssueList, depth = 0): x is Json {
  if (depth > 64) {
    issues.error('TOO_LARGE', at, 'JSON nested deeper than 64')
    return false
  }
  if (x === null || typeof x === 'boolean' || typeof x === 'string') return true
  if (typeof x === 'number') {
    if (Number.isFinite(x)) return true
    issues.error('INVALID', at, `${x} is not a JSON number`)
    return false
  }
  if (typeof x === 'function') {
    issues.error('INLINE_FUNCTION', at, 'a function is not data; FlowState has no inline functions')
    return false
  }
  if (Array.isArray(x)) return x.every((v, i) => checkJson(v, pathAt(at, i), issues, depth + 1))
  if (isPlain(x)) return Object.entries(x).every(([k, v]) => checkJson(v, pathAt(at, k), issues, depth + 1))
  issues.error('INVALID', at, `${typeof x} is not JSON data`)
  return false
}

/** Check bindings: a path, or an object whose fields are paths or `{ const: json }`. */
export function checkBindings(x: unknown, at: string, issues: IssueList): x is Bindings {
  if (typeof x === 'function') {
    issues.error('INLINE_FUNCTION', at, 'bindings are data (paths such as "$.input.id"), not a function')
    return false
  }
  if (typeof x === 'string') return checkPath(x, at, issues)
  if (!isPlain(x)) {
    issues.error('INVALID', at, 'bindings are a path or an object of { name: path | { const: value } }')
    return false
  }
  let ok = true
  for (const [k, v] of Object.entries(x)) {
    const where = pathAt(at, k)
    if (k.length === 0 || k.length > 128 || FORBIDDEN.has(k)) {
      issues.error('INVALID', where, 'a binding name has 1-128 characters and is not __proto__, constructor or prototype')
      ok = false
    } else if (typeof v === 'string') ok = checkPath(v, where, issues) && ok
    else if (isPlain(v) && Object.keys(v).length === 1 && Object.hasOwn(v, 'const')) ok = checkJson(v.const, pathAt(where, 'const'), issues) && ok
    else if (typeof v === 'function') {
      issues.error('INLINE_FUNCTION', where, 'a binding is a path or { const: value }, not a function')
      ok = false
    } else {
      issues.error('INVALID', where, 'a binding is a path ("$.input.x") or { const: value }')
      ok = false
    }
  }
  return ok
}

/** Evaluate checked bindings against `scope`; fields whose path leads nowhere are left out. */
export function evaluateBindings(bindings: Bindings, scope: RunScope): unknown {
  if (typeof bindings === 'string') return readPath(scope, bindings)
  const out: Record<string, unknown> = {}
  for (const [k, b] of Object.entries(bindings)) {
    const v = typeof b === 'string' ? readPath(scope, b) : b.const
    if (v !== undefined) out[k] = v
  }
  return out
}
