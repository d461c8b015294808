/**
 * `defineFlowState`: check a FlowState document (see `types.ts`) and give it its canonical form.
 *
 * - Every problem is found in one pass, each an issue with a JSON path
 *   (`states.paying.on.PAID[0].target`) and a stable code; `safeDefineFlowState` returns them,
 *   `defineFlowState` throws them as one `FlowStateDefinitionError` (a `DefinitionError`).
 * - xState features FlowState leaves out are named as such: an inline function is
 *   `INLINE_FUNCTION`, `context` is `CONTEXT`, `assign` is `ASSIGN`, `after`/`always` are
 *   `AFTER`/`ALWAYS`, other xState keys (`meta`, `delays`, …) are `DROPPED`.
 * - The canonical form is plain data: `type` on every state, transitions always arrays of
 *   objects, empty lists left out, zod schemas as their JSON Schema, keys in RFC 8785 order.
 *   Defining a canonical form again gives it back unchanged, byte for byte.
 *
 * @example
 * const door = defineFlowState({ id: 'door', version: '1.0.0', initial: 'closed', states: {
 *   closed: { on: { OPEN: { target: 'open', guard: { type: 'equals', path: '$.input.locked', value: false } } } },
 *   open: { on: { CLOSE: 'closed' } } } })
 * door.hash // 'sha256:…' over door.json, the RFC 8785 text registry.publish signs
 */
import type { ZodType } from 'zod'
import { toHex, utf8 } from '../../dag/bytes.js'
import { sha256 } from '../../log/crypto-backend.js'
import { CLAIM_MODES } from '../../views/claims.js'
import { placementProblem, type Placement } from '../../views/placement.js'
import { canonicalJson } from '../canonical-json.js'
import { isZodSchema, type StepClaim } from '../define.js'
import { parseRange } from '../semver.js'
import { checkBindings, checkJson } from './bindings.js'
import { checkGuard } from './guards.js'
import { FlowStateDefinitionError, IssueList, pathAt } from './issues.js'
import { checkSemantics } from './semantics.js'
import { stateTree } from './tree.js'
import {
  FLOWSTATE_FORMAT,
  FLOWSTATE_VERSION,
  MAX_DEPTH,
  MAX_DOCUMENT_BYTES,
  MAX_STATES,
  type ActionRef,
  type Bindings,
  type Exposure,
  type FlowStateDocument,
  type FlowStateIssue,
  type FlowStateNode,
  type Guard,
  type Invoke,
  type Json,
  type StateType,
  type Transition,
} from './types.js'

// Authoring input: what a person writes. Looser than the canonical form (a target string for a
// transition, one item for a list, a zod schema), and `unknown` where a mistake must be reported
// rather than rejected by the compiler alone.
export type TransitionInit = string | { target?: string | string[]; guard?: Guard; actions?: ActionRef | ActionRef[]; reenter?: boolean; description?: string }
export type TransitionsInit = TransitionInit | TransitionInit[]
export interface InvokeInit extends Omit<Invoke, 'onDone' | 'onError'> {
  onDone?: TransitionsInit
  onError?: TransitionsInit
}
export interface StateInit {
  type?: StateType
  id?: string
  description?: string
  tags?: string[]
  initial?: string
  states?: Record<string, StateInit>
  on?: Record<string, TransitionsInit>
  onDone?: TransitionsInit
  entry?: ActionRef | ActionRef[]
  exit?: ActionRef | ActionRef[]
  invoke?: InvokeInit | InvokeInit[]
  output?: Bindings
  history?: 'shallow' | 'deep'
  target?: string
}
export interface FlowStateInit extends Omit<StateInit, 'type' | 'id' | 'output' | 'history' | 'target' | 'tags'> {
  /** The document format version. @default 1 */
  flowstate?: typeof FLOWSTATE_VERSION
  id: string
  version: string
  type?: 'compound' | 'parallel'
  exposure?: Exposure
  /** zod 4 (stored as its JSON Schema) or JSON Schema. */
  inputSchema?: ZodType | Json
  outputSchema?: ZodType | Json
}

export interface FlowStateDefinition {
  /** `'flowstate'`: with `id`, `version` and `definition`, this is registry.publish's document form. */
  readonly format: typeof FLOWSTATE_FORMAT
  readonly id: string
  readonly version: string
  /** The canonical document (the same object as `canonical`), deep-frozen. */
  readonly definition: FlowStateDocument
  readonly canonical: FlowStateDocument
  /** RFC 8785 canonical JSON of `canonical`. */
  readonly json: string
  /** `sha256:<hex>` of `json`'s UTF-8 bytes: the registry's `contentHash`. */
  readonly hash: string
}

export type SafeDefineResult = { success: true; data: FlowStateDefinition; warnings: FlowStateIssue[] } | { success: false; issues: FlowStateIssue[] }

const FLOWSTATE = Symbol.for('stateflow.flowstate')
const ID = /^[A-Za-z0-9_.:-]{1,128}$/
const KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/
const EVENT = /^(\*|[A-Za-z0-9_:-]{1,64}(\.[A-Za-z0-9_:-]{1,64})*(\.\*)?)$/
const REF = /^(action|service):([A-Za-z0-9_.-]{1,128})@(.{1,64})$/
const TYPES: readonly StateType[] = ['atomic', 'compound', 'parallel', 'final', 'history']

/** Keys each kind of state may have. */
const ALLOWED: Record<StateType | 'root', readonly string[]> = {
  atomic: ['type', 'id', 'description', 'tags', 'on', 'entry', 'exit', 'invoke'],
  compound: ['type', 'id', 'description', 'tags', 'initial', 'states', 'on', 'onDone', 'entry', 'exit', 'invoke'],
  parallel: ['type', 'id', 'description', 'tags', 'states', 'on', 'onDone', 'entry', 'exit', 'invoke'],
  final: ['type', 'id', 'description', 'tags', 'entry', 'exit', 'output'],
  history: ['type', 'id', 'description', 'history', 'target'],
  root: ['flowstate', 'id', 'version', 'description', 'type', 'initial', 'states', 'on', 'entry', 'exit', 'invoke', 'exposure', 'inputSchema', 'outputSchema'],
}
/** xState keys FlowState leaves out on purpose, and why. */
const DROPPED: Record<string, [FlowStateIssue['code'], string]> = {
  context: ['CONTEXT', 'FlowState has no mutable context: read $.input, $.event and $.output, and bind outputs instead'],
  after: ['AFTER', 'FlowState has no delayed transitions: invoke service:timer@^1 and handle its onDone'],
  always: ['ALWAYS', 'FlowState has no eventless transitions: guard the transitions of the event that leads here instead'],
  meta: ['DROPPED', 'meta is not part of FlowState (use description or tags)'],
  delays: ['DROPPED', 'delays are not part of FlowState (timers are service:timer@^1 invocations)'],
  schemas: ['DROPPED', 'write inputSchema and outputSchema'],
  output: ['DROPPED', 'output is for final states; a flow outputs what its top-level final state binds'],
  route: ['DROPPED', 'route is not part of FlowState'],
  types: ['DROPPED', 'types is not part of FlowState'],
  actions: ['DROPPED', 'implementations are not part of FlowState: actions are action:id@range refs'],
  guards: ['DROPPED', 'guards come from the fixed library'],
  actors: ['DROPPED', 'actors are action:id@range refs in invoke.src'],
  order: ['DROPPED', 'document order is the key order'],
}
const INVOKE_KEYS = ['id', 'src', 'input', 'onDone', 'onError', 'claim', 'placement', 'idempotencyKey']
const TRANSITION_KEYS = ['target', 'guard', 'actions', 'reenter', 'description']

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x) && typeof x !== 'function'
const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x])

export function isFlowState(x: unknown): x is FlowStateDefinition {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[FLOWSTATE] === true
}

/** Define a FlowState flow; throws `FlowStateDefinitionError` (code `DEFINITION`) listing every issue. */
export function defineFlowState(init: FlowStateInit | FlowStateDocument): FlowStateDefinition {
  const r = safeDefineFlowState(init)
  if (!r.success) throw new FlowStateDefinitionError(typeof (init as { id?: unknown })?.id === 'string' ? (init as { id: string }).id : '(no id)', r.issues)
  return r.data
}

/** `defineFlowState` without the throw: the definition, or every issue found. */
export function safeDefineFlowState(init: FlowStateInit | FlowStateDocument): SafeDefineResult {
  const issues = new IssueList()
  const doc = normalizeDocument(init, issues)
  checkSemantics(doc, stateTree(doc), issues)
  if (issues.errors.length > 0) return { success: false, issues: issues.items }
  const json = canonicalJson(doc)
  if (json.length > MAX_DOCUMENT_BYTES || utf8(json).length > MAX_DOCUMENT_BYTES) {
    issues.error('TOO_LARGE', '', `the canonical JSON is over ${MAX_DOCUMENT_BYTES} bytes`)
    return { success: false, issues: issues.items }
  }
  const canonical = deepFreeze(JSON.parse(json)) as FlowStateDocument
  const def = { format: FLOWSTATE_FORMAT, id: canonical.id, version: canonical.version, definition: canonical, canonical, json, hash: `sha256:${toHex(sha256(utf8(json)))}` }
  Object.defineProperty(def, FLOWSTATE, { value: true })
  return { success: true, data: Object.freeze(def) as FlowStateDefinition, warnings: issues.warnings }
}

function deepFreeze<T>(x: T): T {
  if (typeof x === 'object' && x !== null) {
    for (const v of Object.values(x)) deepFreeze(v)
    Object.freeze(x)
  }
  return x
}

// ---------------------------------------------------------------------------------------------
// Shape: one pass over the input, building the canonical form from what is valid.

function dropped(key: string, value: unknown, at: string, issues: IssueList): boolean {
  const d = DROPPED[key]
  if (d) issues.error(d[0], at, typeof value === 'function' ? `${d[1]} (and a function is not data)` : d[1])
  return d !== undefined
}

function checkKeys(x: Record<string, unknown>, allowed: readonly string[], base: string, what: string, issues: IssueList): void {
  for (const [k, v] of Object.entries(x)) {
    if (allowed.includes(k)) continue
    const at = pathAt(base, k)
    if (dropped(k, v, at, issues)) continue
    issues.error('UNKNOWN_KEY', at, `${what} has no ${JSON.stringify(k)} (it may have ${allowed.join(', ')})`)
  }
}

function checkString(x: unknown, at: string, issues: IssueList, max = 1024): x is string {
  if (typeof x === 'string' && x.length <= max) return true
  issues.error('INVALID', at, `must be a string of at most ${max} characters`)
  return false
}

function normalizeDocument(init: unknown, issues: IssueList): FlowStateDocument {
  const doc = { flowstate: FLOWSTATE_VERSION } as FlowStateDocument
  if (!isObject(init)) {
    issues.error('INVALID', '', 'a FlowState document is an object { id, version, initial, states, … }')
    return doc
  }
  if (init.flowstate !== undefined && init.flowstate !== FLOWSTATE_VERSION) issues.error('INVALID', 'flowstate', `this is FlowState format ${FLOWSTATE_VERSION}; got ${JSON.stringify(init.flowstate)}`)
  checkKeys(init, ALLOWED.root, '', 'a FlowState document', issues)
  if (typeof init.id !== 'string' || !ID.test(init.id)) issues.error('INVALID', 'id', 'id is 1-128 characters of A-Z a-z 0-9 _ . : -')
  else doc.id = init.id
  if (typeof init.version !== 'string' || init.version.length === 0 || init.version.length > 64) issues.error('INVALID', 'version', 'version is a non-empty string (semver, for the registry)')
  else doc.version = init.version
  if (init.description !== undefined && checkString(init.description, 'description', issues)) doc.description = init.description
  const type = init.type ?? 'compound'
  if (type !== 'compound' && type !== 'parallel') issues.error('INVALID', 'type', "the root is 'compound' (the default) or 'parallel'")
  doc.type = type === 'parallel' ? 'parallel' : 'compound'
  const counter = { states: 0 }
  normalizeBody(init, doc, doc.type, '', issues, 0, counter)
  if (init.exposure !== undefined) {
    const e = init.exposure
    if (!isObject(e)) issues.error('INVALID', 'exposure', 'exposure is { events?: string[] }')
    else {
      checkKeys(e, ['events'], 'exposure', 'exposure', issues)
      if (e.events !== undefined) {
        if (!Array.isArray(e.events) || !e.events.every((x) => typeof x === 'string' && EVENT.test(x))) issues.error('INVALID', 'exposure.events', 'exposure.events is a list of event types')
        else doc.exposure = { events: [...new Set(e.events as string[])].sort() }
      } else doc.exposure = {}
    }
  }
  for (const k of ['inputSchema', 'outputSchema'] as const) {
    if (init[k] === undefined) continue
    const s = schemaForm(init[k], k, issues)
    if (s !== undefined) doc[k] = s
  }
  return doc
}

function schemaForm(x: unknown, at: string, issues: IssueList): Json | undefined {
  let s: unknown = x
  if (isZodSchema(x)) {
    try {
      s = JSON.parse(JSON.stringify((x as unknown as { toJSONSchema: (o?: unknown) => unknown }).toJSONSchema({ unrepresentable: 'any' })))
    } catch (err) {
      issues.error('BAD_SCHEMA', at, `this zod schema has no JSON Schema (${(err as Error).message}); describe it with one that has`)
      return undefined
    }
  }
  if (typeof s !== 'boolean' && !isObject(s)) {
    issues.error('BAD_SCHEMA', at, 'a schema is a zod 4 schema or a JSON Schema (an object or a boolean)')
    return undefined
  }
  if (isObject(s) && s.type !== undefined && typeof s.type !== 'string' && !(Array.isArray(s.type) && s.type.every((t) => typeof t === 'string'))) {
    issues.error('BAD_SCHEMA', pathAt(at, 'type'), 'a JSON Schema type is a string or a list of strings')
    return undefined
  }
  return checkJson(s, at, issues) ? (s as Json) : undefined
}

/** The parts every state kind shares; `out` gets what is valid. */
function normalizeBody(x: Record<string, unknown>, out: FlowStateNode | FlowStateDocument, type: StateType, base: string, issues: IssueList, depth: number, counter: { states: number }): void {
  if (type === 'compound' || type === 'parallel') {
    if (!isObject(x.states) || Object.keys(x.states).length === 0) issues.error('INVALID', pathAt(base, 'states'), `a ${type} state has at least one child in states`)
    else {
      const states: Record<string, FlowStateNode> = {}
      for (const key of Object.keys(x.states).sort()) {
        const at = pathAt(pathAt(base, 'states'), key)
        if (!KEY.test(key)) {
          issues.error('INVALID', at, 'a state key is 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or _')
          continue
        }
        if (++counter.states > MAX_STATES) {
          if (counter.states === MAX_STATES + 1) issues.error('TOO_LARGE', at, `a document has at most ${MAX_STATES} states`)
          continue
        }
        if (depth + 1 > MAX_DEPTH) {
          issues.error('TOO_LARGE', at, `states nest at most ${MAX_DEPTH} deep`)
          continue
        }
        const s = normalizeState(x.states[key], at, issues, depth + 1, counter)
        if (s) states[key] = s
      }
      out.states = states
    }
    if (type === 'compound') {
      if (typeof x.initial !== 'string') issues.error('INVALID', pathAt(base, 'initial'), 'a compound state names its initial child')
      else if (isObject(x.states) && !Object.hasOwn(x.states, x.initial)) issues.error('UNKNOWN_TARGET', pathAt(base, 'initial'), `initial ${JSON.stringify(x.initial)} is not a child of this state`)
      else if (isObject(x.states) && isObject(x.states[x.initial]) && (x.states[x.initial] as Record<string, unknown>).type === 'history') issues.error('INVALID', pathAt(base, 'initial'), 'the initial child may not be a history state')
      else out.initial = x.initial
    }
  }
  if (x.on !== undefined && type !== 'final' && type !== 'history') {
    if (!isObject(x.on)) issues.error('INVALID', pathAt(base, 'on'), 'on maps event types to transitions')
    else {
      const on: Record<string, Transition[]> = {}
      for (const ev of Object.keys(x.on).sort()) {
        const at = pathAt(pathAt(base, 'on'), ev)
        if (!EVENT.test(ev)) issues.error('INVALID', at, 'an event type is dot-separated words of A-Z a-z 0-9 _ : -, optionally ending in .* (or * alone)')
        else if (ev.startsWith('xstate.')) issues.error('INVALID', at, 'xstate.* events are the engine\'s: use onDone and onError')
        const ts = normalizeTransitions(x.on[ev], at, issues)
        if (ts.length > 0) on[ev] = ts
      }
      if (Object.keys(on).length > 0) out.on = on
    }
  }
  if (x.onDone !== undefined && (type === 'compound' || type === 'parallel') && base !== '') {
    const ts = normalizeTransitions(x.onDone, pathAt(base, 'onDone'), issues)
    if (ts.length > 0) out.onDone = ts
  }
  for (const k of ['entry', 'exit'] as const) {
    if (x[k] === undefined) continue
    const actions = normalizeActions(x[k], pathAt(base, k), issues)
    if (actions.length > 0) out[k] = actions
  }
  if (x.invoke !== undefined && type !== 'final' && type !== 'history') {
    const invokes = list(x.invoke as unknown).flatMap((inv, i) => normalizeInvoke(inv, pathAt(pathAt(base, 'invoke'), i), issues) ?? [])
    if (invokes.length > 0) out.invoke = invokes
  }
}

function normalizeState(x: unknown, at: string, issues: IssueList, depth: number, counter: { states: number }): FlowStateNode | undefined {
  if (typeof x === 'function') {
    issues.error('INLINE_FUNCTION', at, 'a state is data, not a function')
    return undefined
  }
  if (!isObject(x)) {
    issues.error('INVALID', at, 'a state is an object (use {} for a plain atomic state)')
    return undefined
  }
  const type: StateType | undefined = x.type !== undefined ? (TYPES.includes(x.type as StateType) ? (x.type as StateType) : undefined) : x.history !== undefined ? 'history' : x.states !== undefined ? 'compound' : 'atomic'
  if (!type) {
    issues.error('INVALID', pathAt(at, 'type'), `a state's type is one of ${TYPES.join(', ')}`)
    return undefined
  }
  checkKeys(x, ALLOWED[type], at, `a ${type} state`, issues)
  const out: FlowStateNode = { type }
  if (x.id !== undefined) {
    if (typeof x.id !== 'string' || !KEY.test(x.id)) issues.error('INVALID', pathAt(at, 'id'), 'a state id is 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or _ (no dots: #id.child is a path)')
    else out.id = x.id
  }
  if (x.description !== undefined && checkString(x.description, pathAt(at, 'description'), issues)) out.description = x.description
  if (x.tags !== undefined && type !== 'history') {
    const tags = list(x.tags as unknown)
    if (!tags.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 128)) issues.error('INVALID', pathAt(at, 'tags'), 'tags are non-empty strings')
    else if (tags.length > 0) out.tags = [...new Set(tags as string[])].sort()
  }
  if (type === 'history') {
    if (x.history !== undefined && x.history !== 'shallow' && x.history !== 'deep') issues.error('INVALID', pathAt(at, 'history'), "history is 'shallow' (the default) or 'deep'")
    out.history = x.history === 'deep' ? 'deep' : 'shallow'
    if (x.target !== undefined) {
      if (typeof x.target !== 'string') issues.error('INVALID', pathAt(at, 'target'), 'a history default target is one target string')
      else out.target = x.target
    }
    return out
  }
  if (type === 'final' && x.output !== undefined && checkBindings(x.output, pathAt(at, 'output'), issues)) out.output = x.output as Bindings
  normalizeBody(x, out, type, at, issues, depth, counter)
  return out
}

function normalizeTransitions(x: unknown, at: string, issues: IssueList): Transition[] {
  if (typeof x === 'function') {
    issues.error('INLINE_FUNCTION', at, 'transitions are data, not a function')
    return []
  }
  return list(x).flatMap((t, i) => normalizeTransition(t, pathAt(at, i), issues) ?? [])
}

function normalizeTransition(x: unknown, at: string, issues: IssueList): Transition | undefined {
  if (typeof x === 'string') return { target: x }
  if (typeof x === 'function') {
    issues.error('INLINE_FUNCTION', at, 'a transition is data, not a function')
    return undefined
  }
  if (!isObject(x)) {
    issues.error('INVALID', at, 'a transition is a target string or { target?, guard?, actions?, reenter?, description? }')
    return undefined
  }
  for (const k of Object.keys(x)) {
    if (TRANSITION_KEYS.includes(k)) continue
    if (k === 'cond') issues.error('UNKNOWN_KEY', pathAt(at, k), 'cond is xState v4; write guard')
    else if (k === 'in') issues.error('DROPPED', pathAt(at, k), 'in-state conditions are not part of FlowState')
    else if (k === 'internal') issues.error('DROPPED', pathAt(at, k), 'internal is xState v4; transitions are internal unless reenter: true')
    else issues.error('UNKNOWN_KEY', pathAt(at, k), `a transition has ${TRANSITION_KEYS.join(', ')}`)
  }
  const out: Transition = {}
  if (x.target !== undefined) {
    const targets = list(x.target as unknown)
    if (targets.some((t) => typeof t === 'function')) issues.error('INLINE_FUNCTION', pathAt(at, 'target'), 'a target is a string, not a function')
    else if (targets.length === 0 || !targets.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 512)) issues.error('INVALID', pathAt(at, 'target'), 'a target is a non-empty string (or a non-empty list of them)')
    else out.target = targets.length === 1 ? (targets[0] as string) : (targets as string[])
  }
  if (x.guard !== undefined) {
    const g = checkGuard(x.guard, pathAt(at, 'guard'), issues)
    if (g) out.guard = g
  }
  if (x.actions !== undefined) {
    const actions = normalizeActions(x.actions, pathAt(at, 'actions'), issues)
    if (actions.length > 0) out.actions = actions
  }
  if (x.reenter !== undefined && typeof x.reenter !== 'boolean') issues.error('INVALID', pathAt(at, 'reenter'), 'reenter is a boolean')
  else if (x.reenter === true) out.reenter = true
  if (x.description !== undefined && checkString(x.description, pathAt(at, 'description'), issues)) out.description = x.description
  return out
}

/** Why `ref` is not `action:<id>@<range>` / `service:<id>@<range>`, or undefined. */
export function refProblem(ref: unknown): string | undefined {
  const m = typeof ref === 'string' ? REF.exec(ref) : null
  if (!m) return `a ref is action:<id>@<semver range> or service:<id>@<semver range>, not ${JSON.stringify(typeof ref === 'string' ? ref.slice(0, 64) : typeof ref)}`
  try {
    parseRange(m[3])
  } catch {
    return `${JSON.stringify(m[3])} is not a semver range`
  }
  return undefined
}

const isAssign = (x: unknown): boolean => (typeof x === 'function' || isObject(x)) && (x as { type?: unknown }).type === 'xstate.assign'

function normalizeActions(x: unknown, at: string, issues: IssueList): ActionRef[] {
  const out: ActionRef[] = []
  list(x).forEach((a, i) => {
    const where = pathAt(at, i)
    if (isAssign(a)) return issues.error('ASSIGN', where, 'FlowState has no assign: bind invocation outputs ($.output.<id>) and final outputs instead')
    if (typeof a === 'function') return issues.error('INLINE_FUNCTION', where, 'an action is a ref such as "action:notify@^1", not a function')
    if (typeof a === 'string') {
      const problem = refProblem(a)
      return problem ? issues.error('BAD_REF', where, problem) : void out.push(a)
    }
    if (isObject(a) && typeof a.type === 'string' && a.action === undefined) {
      return issues.error('BAD_REF', where, `write { action: ${JSON.stringify(a.type)}, input? } (xState's { type, params } is what toXStateConfig emits)`)
    }
    if (!isObject(a)) return issues.error('BAD_REF', where, 'an action is a ref string or { action, input? }')
    checkKeys(a, ['action', 'input'], where, 'an action', issues)
    const problem = refProblem(a.action)
    if (problem) return issues.error('BAD_REF', pathAt(where, 'action'), problem)
    if (a.input === undefined) return void out.push(a.action as string)
    if (checkBindings(a.input, pathAt(where, 'input'), issues)) out.push({ action: a.action as string, input: a.input as Bindings })
  })
  return out
}

function claimProblem(c: unknown): string | undefined {
  if (!isObject(c) || !CLAIM_MODES.includes(c.mode as never)) return `claim.mode is one of ${CLAIM_MODES.join(', ')}`
  const keys: Record<string, string[]> = { authority: ['mode', 'authority', 'ttlMs'], lease: ['mode', 'ttlMs'], 'deterministic-election': ['mode', 'timeoutMs'], 'optimistic-idempotent': ['mode', 'duplicatePolicy'] }
  for (const k of Object.keys(c)) if (!keys[c.mode as string].includes(k)) return `a ${c.mode as string} claim has ${keys[c.mode as string].join(', ')}, not ${k}`
  if (c.mode === 'authority' && (typeof c.authority !== 'string' || c.authority.length === 0)) return 'an authority claim names the authority (a did or node id)'
  for (const k of ['ttlMs', 'timeoutMs']) if (c[k] !== undefined && (typeof c[k] !== 'number' || !Number.isFinite(c[k]) || (c[k] as number) < 0)) return `claim.${k} is a finite number ≥ 0`
  if (c.duplicatePolicy !== undefined && c.duplicatePolicy !== 'first-valid-wins') return "duplicatePolicy is 'first-valid-wins'"
  return undefined
}

function normalizeInvoke(x: unknown, at: string, issues: IssueList): Invoke | undefined {
  if (typeof x === 'function' || !isObject(x)) {
    issues.error(typeof x === 'function' ? 'INLINE_FUNCTION' : 'INVALID', at, 'an invoke is { id, src: "action:<id>@<range>", input?, onDone?, onError?, claim?, placement?, idempotencyKey? }')
    return undefined
  }
  for (const k of Object.keys(x)) {
    if (INVOKE_KEYS.includes(k)) continue
    if (k === 'systemId' || k === 'onSnapshot') issues.error('DROPPED', pathAt(at, k), `${k} is not part of FlowState`)
    else issues.error('UNKNOWN_KEY', pathAt(at, k), `an invoke has ${INVOKE_KEYS.join(', ')}`)
  }
  const before = issues.errors.length
  if (typeof x.id !== 'string' || !KEY.test(x.id)) issues.error('INVALID', pathAt(at, 'id'), 'an invoke id is 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or _ ($.output.<id> reads its output)')
  if (typeof x.src === 'function' || (isObject(x.src) && x.src !== null)) issues.error('INLINE_FUNCTION', pathAt(at, 'src'), 'src is a ref such as "action:payments.charge@^1", not actor logic')
  else {
    const problem = refProblem(x.src)
    if (problem) issues.error('BAD_REF', pathAt(at, 'src'), problem)
  }
  const out = { id: x.id, src: x.src } as Invoke
  if (x.input !== undefined && checkBindings(x.input, pathAt(at, 'input'), issues)) out.input = x.input as Bindings
  for (const k of ['onDone', 'onError'] as const) {
    if (x[k] === undefined) continue
    const ts = normalizeTransitions(x[k], pathAt(at, k), issues)
    if (ts.length > 0) out[k] = ts
  }
  if (x.claim !== undefined) {
    const problem = claimProblem(x.claim)
    if (problem) issues.error('BAD_CLAIM', pathAt(at, 'claim'), problem)
    else out.claim = { ...(x.claim as StepClaim) }
  }
  if (x.placement !== undefined) {
    const problem = placementProblem(x.placement)
    if (problem) issues.error('BAD_PLACEMENT', pathAt(at, 'placement'), problem)
    else out.placement = x.placement as Placement
  }
  if (x.idempotencyKey !== undefined && checkBindings(x.idempotencyKey, pathAt(at, 'idempotencyKey'), issues)) out.idempotencyKey = x.idempotencyKey as Bindings
  return issues.errors.length === before ? out : undefined
}
