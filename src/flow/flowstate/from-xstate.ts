/**
 * xState v5 machine config → FlowState, keeping what FlowState has and warning (path + reason,
 * severity `warning`) for each thing it drops: `context`, `assign` and other built-in actions,
 * inline functions (guards, actions, input and output mappers, actor logic), `after`, `always`,
 * `meta`, named guards outside the library, actions and actors that are not refs.
 *
 * A transition whose guard cannot be kept is dropped whole (keeping it unguarded would change
 * what the flow does); an invoke whose `src` is not a ref is dropped with its `onDone`/`onError`.
 * Reads back exactly what `toXStateConfig` writes (its conventions are in that module), and the
 * functions `flowStateMachine()` materializes, so FlowState → xState → FlowState is the identity.
 * The result is defined with `defineFlowState`; what is left must be a valid flow, else that
 * throws its `DefinitionError`.
 *
 * `and`/`or`/`not` from `xstate` are recognized by their function name and `guards` list.
 */
import { checkBindings } from './bindings.js'
import { defineFlowState, type FlowStateDefinition, type FlowStateInit, type InvokeInit, type StateInit, type TransitionInit } from './define.js'
import { checkGuard } from './guards.js'
import { IssueList, pathAt } from './issues.js'
import { FLOWSTATE_META, INVOKE_META, type XStateConfig } from './to-xstate.js'
import { GUARD_TYPES, type ActionRef, type Bindings, type FlowStateIssue, type Guard } from './types.js'

/** Set by `flowStateMachine()` on the functions it makes from bindings, so they read back. */
export const MATERIALIZED = Symbol.for('stateflow.flowstate.materialized')

export interface FromXStateOptions {
  /** @default the config's `id` */
  id?: string
  /** @default the config's `version`, else '0.0.0' (with a warning) */
  version?: string
}

export interface FromXStateResult {
  definition: FlowStateDefinition
  /** What was dropped, each with its path in the xState config and why. */
  warnings: FlowStateIssue[]
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)
const list = (x: unknown): unknown[] => (x === undefined ? [] : Array.isArray(x) ? x : [x])
const REF = /^(action|service):/
const STATE_KEYS = ['type', 'id', 'description', 'tags', 'initial', 'states', 'on', 'onDone', 'entry', 'exit', 'invoke', 'output', 'history', 'target', 'meta']
const REASONS: Record<string, [FlowStateIssue['code'], string]> = {
  context: ['CONTEXT', 'FlowState has no mutable context'],
  after: ['AFTER', 'FlowState has no delayed transitions (use a service:timer@^1 invoke)'],
  always: ['ALWAYS', 'FlowState has no eventless transitions'],
}

type Materialized = { kind: 'bindings'; bindings: Bindings } | { kind: 'record' } | { kind: 'root-output' } | { kind: 'context' }
const materialized = (x: unknown): Materialized | undefined => (typeof x === 'function' || isObject(x) ? ((x as unknown as Record<symbol, unknown>)[MATERIALIZED] as Materialized | undefined) : undefined)

/** The FlowState flow in an xState config (or a machine: its `config` is read). */
export function fromXState(config: XStateConfig | { config: XStateConfig }, options: FromXStateOptions = {}): FromXStateResult {
  const issues = new IssueList()
  const c = (isObject(config) && isObject(config.config) && 'root' in config ? config.config : config) as XStateConfig
  const init = { id: options.id ?? c.id, version: options.version ?? c.version } as FlowStateInit
  if (init.version === undefined) {
    init.version = '0.0.0'
    issues.warn('INVALID', 'version', 'no version: used 0.0.0')
  }
  if (typeof c.description === 'string') init.description = c.description
  if (c.type === 'parallel') init.type = 'parallel'
  const schemas = c.schemas
  if (isObject(schemas)) {
    if (schemas.input !== undefined) init.inputSchema = schemas.input as FlowStateInit['inputSchema']
    if (schemas.output !== undefined) init.outputSchema = schemas.output as FlowStateInit['outputSchema']
    for (const k of Object.keys(schemas)) if (k !== 'input' && k !== 'output') issues.warn('DROPPED', pathAt('schemas', k), 'FlowState keeps the input and output schemas only')
  }
  const meta = isObject(c.meta) ? c.meta : {}
  const own = meta[FLOWSTATE_META]
  if (isObject(own) && own.exposure !== undefined) init.exposure = own.exposure as FlowStateInit['exposure']
  for (const k of Object.keys(c)) {
    if (['id', 'version', 'description', 'schemas', 'meta', 'type'].includes(k)) continue
    if (k === 'output' && materialized(c.output)?.kind === 'root-output') continue
    if (k === 'output') {
      issues.warn('DROPPED', 'output', 'a flow outputs what its top-level final state binds; the root output mapper is dropped')
      continue
    }
    if (!STATE_KEYS.includes(k) && !REASONS[k]) issues.warn('DROPPED', k, `${JSON.stringify(k)} is not part of FlowState`)
  }
  Object.assign(init, convertState(c, '', issues, true))
  delete (init as StateInit).type
  if (c.type === 'parallel') init.type = 'parallel'
  for (const k of Object.keys(meta)) if (k !== FLOWSTATE_META) issues.warn('DROPPED', pathAt('meta', k), 'meta is not part of FlowState')
  const definition = defineFlowState(init)
  return { definition, warnings: issues.warnings }
}

function convertState(x: Record<string, unknown>, at: string, issues: IssueList, isRoot = false): StateInit {
  const out: StateInit = {}
  for (const [k, [code, why]] of Object.entries(REASONS)) if (x[k] !== undefined && materialized(x[k])?.kind !== 'context') issues.warn(code, pathAt(at, k), why)
  if (!isRoot) {
    for (const k of Object.keys(x)) if (!STATE_KEYS.includes(k) && !REASONS[k]) issues.warn('DROPPED', pathAt(at, k), `${JSON.stringify(k)} is not part of FlowState`)
    if (typeof x.type === 'string') out.type = x.type as StateInit['type']
    if (x.id !== undefined) out.id = x.id as string
    if (typeof x.description === 'string') out.description = x.description
    if (x.history !== undefined) out.history = x.history === true ? 'shallow' : (x.history as StateInit['history'])
    if (typeof x.target === 'string') out.target = x.target
  }
  if (x.tags !== undefined) out.tags = list(x.tags) as string[]
  if (typeof x.initial === 'string') out.initial = x.initial
  else if (isObject(x.initial) && typeof x.initial.target === 'string') {
    out.initial = x.initial.target
    if (x.initial.actions !== undefined) issues.warn('DROPPED', pathAt(pathAt(at, 'initial'), 'actions'), 'initial transitions have no actions in FlowState')
  }
  if (isObject(x.states)) {
    out.states = {}
    for (const [k, s] of Object.entries(x.states)) {
      if (isObject(s)) out.states[k] = convertState(s, pathAt(pathAt(at, 'states'), k), issues)
    }
  }
  if (isObject(x.on)) {
    out.on = {}
    for (const [ev, ts] of Object.entries(x.on)) out.on[ev] = convertTransitions(ts, pathAt(pathAt(at, 'on'), ev), issues)
  }
  if (x.onDone !== undefined) out.onDone = convertTransitions(x.onDone, pathAt(at, 'onDone'), issues)
  for (const k of ['entry', 'exit'] as const) if (x[k] !== undefined) out[k] = convertActions(x[k], pathAt(at, k), issues)
  const settings = isObject(x.meta) && isObject(x.meta[INVOKE_META]) ? x.meta[INVOKE_META] : {}
  if (x.invoke !== undefined) {
    out.invoke = list(x.invoke).flatMap((inv, i) => convertInvoke(inv, pathAt(pathAt(at, 'invoke'), i), (typeof (inv as { id?: unknown })?.id === 'string' ? settings[(inv as { id: string }).id] : undefined), at, i, issues) ?? [])
  }
  if (!isRoot && isObject(x.meta)) for (const k of Object.keys(x.meta)) if (k !== INVOKE_META) issues.warn('DROPPED', pathAt(pathAt(at, 'meta'), k), 'meta is not part of FlowState')
  if (!isRoot && x.output !== undefined && x.type !== 'final') issues.warn('DROPPED', pathAt(at, 'output'), 'output is for final states; dropped')
  else if (!isRoot && x.output !== undefined) {
    const b = convertBindings(x.output, pathAt(at, 'output'), issues)
    if (b !== undefined) out.output = b
  }
  return out
}

function convertBindings(x: unknown, at: string, issues: IssueList): Bindings | undefined {
  const m = materialized(x)
  if (m?.kind === 'bindings') return m.bindings
  if (typeof x === 'function') {
    issues.warn('INLINE_FUNCTION', at, 'an inline mapper is dropped: FlowState binds with paths ($.input.x)')
    return undefined
  }
  const check = new IssueList()
  if (checkBindings(x, at, check)) return x as Bindings
  issues.warn('DROPPED', at, `not FlowState bindings (${check.items[0]?.message ?? 'invalid'}); dropped`)
  return undefined
}

function convertGuard(x: unknown, at: string, issues: IssueList): Guard | string {
  if (typeof x === 'function') {
    const g = x as { name?: string; guards?: unknown[] }
    if ((g.name === 'and' || g.name === 'or' || g.name === 'not') && Array.isArray(g.guards)) {
      const parts = g.guards.map((s, i) => convertGuard(s, pathAt(at, i), issues))
      const bad = parts.find((p) => typeof p === 'string')
      if (bad !== undefined) return bad as string
      return g.name === 'not' ? { type: 'not', guard: parts[0] as Guard } : { type: g.name, guards: parts as Guard[] }
    }
    return 'an inline guard function'
  }
  if (typeof x === 'string') return `the named guard ${JSON.stringify(x)} (not in the library, or without its params)`
  if (!isObject(x) || typeof x.type !== 'string' || !(GUARD_TYPES as readonly string[]).includes(x.type)) return `the guard ${JSON.stringify(isObject(x) ? x.type : x)}, which is not in the library (${GUARD_TYPES.join(', ')})`
  const candidate = { type: x.type, ...(isObject(x.params) ? x.params : {}) }
  const check = new IssueList()
  const g = checkGuard(candidate, at, check)
  return g ?? `a ${x.type} guard with bad params (${check.items[0]?.message})`
}

function convertTransitions(x: unknown, at: string, issues: IssueList): TransitionInit[] {
  const out: TransitionInit[] = []
  list(x).forEach((t, i) => {
    const where = pathAt(at, i)
    if (typeof t === 'string') return void out.push(t)
    if (typeof t === 'function') return issues.warn('INLINE_FUNCTION', where, 'an inline transition function is dropped')
    if (!isObject(t)) return issues.warn('DROPPED', where, 'not a transition; dropped')
    const tr: Exclude<TransitionInit, string> = {}
    // flowStateMachine() adds a targetless onDone that only records the output: not the author's.
    if (Object.keys(t).length === 1 && Array.isArray(t.actions) && t.actions.length > 0 && t.actions.every((a) => materialized(a)?.kind === 'record')) return
    if (t.guard !== undefined) {
      const g = convertGuard(t.guard, pathAt(where, 'guard'), issues)
      if (typeof g === 'string') return issues.warn(typeof t.guard === 'function' && !Array.isArray((t.guard as { guards?: unknown }).guards) ? 'INLINE_FUNCTION' : 'DROPPED', pathAt(where, 'guard'), `the transition is dropped: its guard is ${g}`)
      tr.guard = g
    }
    if (t.target !== undefined) {
      const targets = list(t.target)
      if (!targets.every((s) => typeof s === 'string')) return issues.warn('DROPPED', pathAt(where, 'target'), 'a target that is not a string; the transition is dropped')
      tr.target = targets.length === 1 ? (targets[0] as string) : (targets as string[])
    }
    if (t.actions !== undefined) {
      const actions = convertActions(t.actions, pathAt(where, 'actions'), issues)
      if (actions.length > 0) tr.actions = actions
    }
    if (t.reenter === true) tr.reenter = true
    if (typeof t.description === 'string') tr.description = t.description
    for (const k of Object.keys(t)) if (!['guard', 'target', 'actions', 'reenter', 'description'].includes(k)) issues.warn('DROPPED', pathAt(where, k), `${JSON.stringify(k)} is not part of FlowState`)
    out.push(tr)
  })
  return out
}

function convertActions(x: unknown, at: string, issues: IssueList): ActionRef[] {
  const out: ActionRef[] = []
  list(x).forEach((a, i) => {
    const where = pathAt(at, i)
    if (materialized(a)?.kind === 'record') return
    const type = (typeof a === 'function' || isObject(a)) ? (a as { type?: unknown }).type : undefined
    if (type === 'xstate.assign') return issues.warn('ASSIGN', where, 'assign is dropped: FlowState has no context')
    if (typeof type === 'string' && type.startsWith('xstate.')) return issues.warn('DROPPED', where, `the built-in action ${type} is dropped`)
    if (typeof a === 'function') return issues.warn('INLINE_FUNCTION', where, 'an inline action function is dropped')
    if (typeof a === 'string') return REF.test(a) ? void out.push(a) : issues.warn('BAD_REF', where, `the action ${JSON.stringify(a)} is not an action:<id>@<range> ref; dropped`)
    if (isObject(a) && typeof a.type === 'string') {
      if (!REF.test(a.type)) return issues.warn('BAD_REF', where, `the action ${JSON.stringify(a.type)} is not an action:<id>@<range> ref; dropped`)
      if (a.params === undefined) return void out.push(a.type)
      const input = convertBindings(a.params, pathAt(where, 'params'), issues)
      return void out.push(input === undefined ? a.type : { action: a.type, input })
    }
    issues.warn('DROPPED', where, 'not an action; dropped')
  })
  return out
}

function convertInvoke(x: unknown, at: string, settings: unknown, stateAt: string, index: number, issues: IssueList): InvokeInit | undefined {
  if (!isObject(x)) return void issues.warn('DROPPED', at, 'not an invoke; dropped')
  if (typeof x.src !== 'string') return void issues.warn('INLINE_FUNCTION', pathAt(at, 'src'), 'actor logic in src is dropped with its invoke: FlowState invokes action:<id>@<range> refs')
  if (!REF.test(x.src)) return void issues.warn('BAD_REF', pathAt(at, 'src'), `the actor ${JSON.stringify(x.src)} is not an action:<id>@<range> ref; the invoke is dropped`)
  let id = x.id
  if (typeof id !== 'string') {
    const key = stateAt.split('.').pop()!.replace(/^states\[?"?|"?\]$/g, '') || 'invoke'
    id = index === 0 ? key : `${key}_${index}`
    issues.warn('INVALID', pathAt(at, 'id'), `no id: used ${JSON.stringify(id)}`)
  }
  const out: InvokeInit = { id: id as string, src: x.src }
  if (x.input !== undefined) {
    const b = convertBindings(x.input, pathAt(at, 'input'), issues)
    if (b !== undefined) out.input = b
  }
  if (x.onDone !== undefined) out.onDone = convertTransitions(x.onDone, pathAt(at, 'onDone'), issues)
  if (x.onError !== undefined) out.onError = convertTransitions(x.onError, pathAt(at, 'onError'), issues)
  if (isObject(settings)) {
    if (settings.claim !== undefined) out.claim = settings.claim as InvokeInit['claim']
    if (settings.placement !== undefined) out.placement = settings.placement as InvokeInit['placement']
    if (settings.idempotencyKey !== undefined) out.idempotencyKey = settings.idempotencyKey as Bindings
  }
  for (const k of Object.keys(x)) if (!['id', 'src', 'input', 'onDone', 'onError'].includes(k)) issues.warn('DROPPED', pathAt(at, k), `${JSON.stringify(k)} is not part of FlowState`)
  return out
}
