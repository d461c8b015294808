/**
 * Runtime placement (DESIGN §8): what a node is (`RuntimeNodeSpec`), how a node finds that out
 * about itself (`detectLocalNode`), and whether a step may run on it (`checkPlacement`).
 *
 * Browser-safe: no Node imports. Detection reads globals at call time (feature detection, never
 * user-agent sniffing except for workerd, which has no other marker), so the same environment
 * and input always give the same spec.
 *
 * @example
 * const me = detectLocalNode({ id: 'laptop-1', capabilities: ['gpu'] })
 * checkPlacement({ kinds: ['server', 'worker'], requires: ['fs'] }, me) // { ok: true } on Node
 */
import { InvalidArgumentError } from '../errors.js'

export type NodeKind = 'browser' | 'server' | 'worker' | 'edge'

export const NODE_KINDS: readonly NodeKind[] = Object.freeze(['browser', 'server', 'worker', 'edge'])

/** What a node announces about itself (the body of `xsync.peer.hello`). */
export interface RuntimeNodeSpec {
  /** The node's id, chosen by its operator; stable across restarts. */
  id: string
  /** `browser`: a page's main thread; `server`: a Node main thread; `worker`: a web, service or Node worker thread; `edge`: an edge runtime. */
  kind: NodeKind
  /** What the node can do: sorted, without duplicates. */
  capabilities: string[]
  /** A trust label its operator gives it (`'internal'`, `'user-device'`, …); compared verbatim. */
  trust?: string
}

export interface DetectInit {
  id: string
  /** @default detected from the environment */
  kind?: NodeKind
  /** Added to the detected ones. */
  capabilities?: string[]
  trust?: string
}

/**
 * Where a step may run. Every field is a constraint; an omitted field admits every node, so `{}`
 * fits anywhere. A node fits when it passes all of them.
 */
export interface Placement {
  /** Node ids the step may run on (checked first: the most specific constraint). */
  nodes?: string[]
  /** Node kinds the step may run on. */
  kinds?: NodeKind[]
  /** Trust labels accepted; a node that announces no `trust` fits none. */
  trust?: string[]
  /** Capabilities the node must all have (`[]` requires nothing). */
  requires?: string[]
}

export type PlacementCode = 'NODE' | 'KIND' | 'TRUST' | 'CAPABILITY'

export type PlacementResult = { ok: true } | { ok: false; code: PlacementCode; reason: string }

/**
 * The capabilities `detectLocalNode` detects, each from one cheap, truthful check:
 * - `broadcast-channel`: a global `BroadcastChannel` (browsers, workers, Node ≥ 18, Deno, Bun).
 * - `fetch`: a global `fetch`.
 * - `fs`: a Node process (not an edge runtime) whose permission model, if on, grants fs read and write.
 * - `indexeddb`: a global `indexedDB`.
 * - `web-crypto`: `crypto.subtle` (absent in browser pages served over plain http).
 * - `websocket`: a global `WebSocket` (browsers, Node ≥ 22, Deno, Bun, workerd). Node 20 dials
 *   through the `ws` package, which detection does not load: add `'websocket'` yourself there.
 *
 * Not detected: `sqlite` (better-sqlite3 is a native addon; only loading it proves it works, which
 * is neither cheap nor side-effect free). Add it, like any capability of your own, through
 * `capabilities`.
 */
export const DETECTED_CAPABILITIES: readonly string[] = Object.freeze(['broadcast-channel', 'fetch', 'fs', 'indexeddb', 'web-crypto', 'websocket'])

/** The globals detection reads; tests pass a simulated scope. */
type Scope = Record<string, unknown>

interface NodeProcess {
  versions?: { node?: unknown }
  getBuiltinModule?: (id: string) => unknown
  permission?: { has?: (scope: string) => boolean }
}

/**
 * This node's spec: `kind` and capabilities detected from the environment unless given.
 * Kind, first match wins:
 * - `edge`: an `EdgeRuntime` global (Vercel), `Deno`, `Bun`, or workerd (`navigator.userAgent` is
 *   `'Cloudflare-Workers'`). Deno and Bun also run servers: pass `kind` to say so.
 * - `browser`: `window` and `document`.
 * - `worker`: `WorkerGlobalScope` (exposed only inside web and service workers) or `importScripts`.
 * - `server` or `worker`: a Node process, by `node:worker_threads`' `isMainThread` (reached through
 *   `process.getBuiltinModule`, so nothing is imported statically); `server` where it is missing.
 * - otherwise `server`.
 *
 * @param scope the global scope to inspect @default globalThis
 */
export function detectLocalNode(init: DetectInit, scope: object = globalThis): RuntimeNodeSpec {
  if (typeof init !== 'object' || init === null) throw new InvalidArgumentError('detectLocalNode takes { id, kind?, capabilities?, trust? }')
  checkId(init.id, 'id')
  if (init.kind !== undefined) checkKind(init.kind, 'kind')
  if (init.capabilities !== undefined) checkStrings(init.capabilities, 'capabilities')
  if (init.trust !== undefined) checkId(init.trust, 'trust')
  const g = scope as Scope
  const kind = init.kind ?? detectKind(g)
  const capabilities = normalizeCapabilities([...(init.capabilities ?? []), ...detectCapabilities(g)])
  return { id: init.id, kind, capabilities, ...(init.trust !== undefined ? { trust: init.trust } : {}) }
}

function isEdge(g: Scope): boolean {
  if (g.EdgeRuntime !== undefined || isObject(g.Deno) || isObject(g.Bun)) return true
  const nav = g.navigator as { userAgent?: unknown } | undefined
  return isObject(nav) && nav.userAgent === 'Cloudflare-Workers'
}

function nodeProcess(g: Scope): NodeProcess | undefined {
  const p = g.process as NodeProcess | undefined
  return isObject(p) && isObject(p.versions) && typeof p.versions.node === 'string' ? p : undefined
}

function detectKind(g: Scope): NodeKind {
  if (isEdge(g)) return 'edge'
  if (g.window !== undefined && g.document !== undefined) return 'browser'
  if (typeof g.WorkerGlobalScope === 'function' || typeof g.importScripts === 'function') return 'worker'
  const proc = nodeProcess(g)
  if (proc) {
    let threads: { isMainThread?: unknown } | undefined
    try {
      threads = proc.getBuiltinModule?.('node:worker_threads') as typeof threads
    } catch {
      // A host that stubs or forbids the module: treat it as the main thread.
    }
    return threads?.isMainThread === false ? 'worker' : 'server'
  }
  return 'server'
}

function detectCapabilities(g: Scope): string[] {
  const out: string[] = []
  if (typeof g.BroadcastChannel === 'function') out.push('broadcast-channel')
  if (typeof g.fetch === 'function') out.push('fetch')
  const proc = nodeProcess(g)
  if (proc && !isEdge(g) && fsAllowed(proc)) out.push('fs')
  if (isObject(g.indexedDB)) out.push('indexeddb')
  if (isObject((g.crypto as { subtle?: unknown } | undefined)?.subtle)) out.push('web-crypto')
  if (typeof g.WebSocket === 'function') out.push('websocket')
  return out
}

function fsAllowed(proc: NodeProcess): boolean {
  // Node's permission model (--experimental-permission / --permission) adds process.permission.
  const has = proc.permission?.has
  if (typeof has !== 'function') return true
  try {
    return has.call(proc.permission, 'fs.read') && has.call(proc.permission, 'fs.write')
  } catch {
    return false
  }
}

/**
 * Whether a step with this placement may run on the node `spec`, and if not, the first
 * constraint it fails (nodes, kinds, trust, then capabilities, all of which are named).
 * Throws `InvalidArgumentError` for a malformed placement or spec: that is a definition error,
 * not a mismatch.
 */
export function checkPlacement(placement: Placement, spec: RuntimeNodeSpec): PlacementResult {
  validatePlacement(placement)
  validateNodeSpec(spec)
  if (placement.nodes !== undefined && !placement.nodes.includes(spec.id)) {
    return { ok: false, code: 'NODE', reason: `node ${quote(spec.id)} is not one of ${list(placement.nodes)}` }
  }
  if (placement.kinds !== undefined && !placement.kinds.includes(spec.kind)) {
    return { ok: false, code: 'KIND', reason: `node ${quote(spec.id)} is a ${spec.kind}, not one of ${list(placement.kinds)}` }
  }
  if (placement.trust !== undefined && (spec.trust === undefined || !placement.trust.includes(spec.trust))) {
    const has = spec.trust === undefined ? 'announces no trust' : `has trust ${quote(spec.trust)}`
    return { ok: false, code: 'TRUST', reason: `node ${quote(spec.id)} ${has}, not one of ${list(placement.trust)}` }
  }
  const missing = normalizeCapabilities((placement.requires ?? []).filter((c) => !spec.capabilities.includes(c)))
  if (missing.length > 0) {
    return { ok: false, code: 'CAPABILITY', reason: `node ${quote(spec.id)} lacks ${list(missing)}` }
  }
  return { ok: true }
}

const PLACEMENT_KEYS = new Set(['nodes', 'kinds', 'trust', 'requires'])

/**
 * Why `x` is not a `Placement`, or undefined if it is. Unknown keys are problems (a misspelt
 * `require` would otherwise admit every node), and so are empty `nodes`, `kinds` or `trust`
 * lists, which would admit none: omit the field to admit all. A reducer reading placements from
 * log bodies checks them with this (and skips bad ones), since `checkPlacement` throws.
 */
export function placementProblem(x: unknown): string | undefined {
  if (!isPlainObject(x)) return 'a placement is an object { nodes?, kinds?, trust?, requires? }'
  for (const k of Object.keys(x)) if (!PLACEMENT_KEYS.has(k)) return `unknown placement field ${quote(k)}`
  for (const k of ['nodes', 'kinds', 'trust', 'requires'] as const) {
    if (x[k] === undefined) continue
    if (!isStrings(x[k])) return `placement.${k} is an array of non-empty strings`
    if (k !== 'requires' && x[k].length === 0) return `placement.${k} is empty and would admit no node; omit it to admit all`
  }
  if (x.kinds !== undefined) for (const k of x.kinds as unknown[]) if (!NODE_KINDS.includes(k as NodeKind)) return `placement.kinds[] is one of ${list(NODE_KINDS)}, not ${quote(String(k))}`
  return undefined
}

/** Throws `InvalidArgumentError` unless `x` is a `Placement` (see `placementProblem`). */
export function validatePlacement(x: unknown): asserts x is Placement {
  const problem = placementProblem(x)
  if (problem !== undefined) throw new InvalidArgumentError(problem)
}

/**
 * Why `x` is not a `RuntimeNodeSpec`, or undefined if it is. Fields besides the four are
 * ignored, so a newer peer's spec still reads. The presence view uses this to skip bad bodies.
 */
export function nodeSpecProblem(x: unknown): string | undefined {
  if (!isPlainObject(x)) return 'a node spec is an object { id, kind, capabilities, trust? }'
  const s = x
  if (typeof s.id !== 'string' || s.id.length === 0) return 'spec.id is a non-empty string'
  if (!NODE_KINDS.includes(s.kind as NodeKind)) return `spec.kind is one of ${list(NODE_KINDS)}`
  if (!isStrings(s.capabilities)) return 'spec.capabilities is an array of non-empty strings'
  if (s.trust !== undefined && (typeof s.trust !== 'string' || s.trust.length === 0)) return 'spec.trust is a non-empty string'
  return undefined
}

/** Throws `InvalidArgumentError` unless `x` is a `RuntimeNodeSpec`. */
export function validateNodeSpec(x: unknown): asserts x is RuntimeNodeSpec {
  const problem = nodeSpecProblem(x)
  if (problem !== undefined) throw new InvalidArgumentError(problem)
}

/** A valid spec as plain canonical data: the four fields only, capabilities sorted and de-duplicated. */
export function normalizeNodeSpec(spec: RuntimeNodeSpec): RuntimeNodeSpec {
  const out: RuntimeNodeSpec = { id: spec.id, kind: spec.kind, capabilities: normalizeCapabilities(spec.capabilities) }
  if (spec.trust !== undefined) out.trust = spec.trust
  return out
}

// Code-unit order, not localeCompare: the result must not depend on the host's locale.
function normalizeCapabilities(caps: readonly string[]): string[] {
  return [...new Set(caps)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}

function checkId(x: unknown, what: string): void {
  if (typeof x !== 'string' || x.length === 0) throw new InvalidArgumentError(`${what} is a non-empty string`)
}

function checkKind(x: unknown, what: string): void {
  if (!NODE_KINDS.includes(x as NodeKind)) throw new InvalidArgumentError(`${what} is one of ${list(NODE_KINDS)}, not ${quote(String(x))}`)
}

function checkStrings(x: unknown, what: string): void {
  if (!isStrings(x)) throw new InvalidArgumentError(`${what} is an array of non-empty strings`)
}

function isStrings(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((c) => typeof c === 'string' && c.length > 0)
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (!isObject(x) || Array.isArray(x)) return false
  const proto = Object.getPrototypeOf(x)
  return proto === Object.prototype || proto === null
}

function quote(s: string): string {
  return `'${s.length > 80 ? `${s.slice(0, 80)}…` : s}'`
}

function list(xs: readonly string[]): string {
  return xs.map(quote).join(', ')
}
