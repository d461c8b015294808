/**
 * FlowState → xState v5 machine config, as plain data (no functions): JSON-serializable, and
 * accepted by `createMachine` as it is. Conventions, which `fromXState` reads back exactly:
 *
 * - Guards become parameterized guard refs: `{ type: 'gt', params: { path, value } }`;
 *   `and`/`or` carry `params: { guards: [<FlowState guards>] }`, `not` `params: { guard }`.
 *   `flowStateMachine()` implements them with `setup({ guards })`.
 * - Actions: a ref string stays a string (an action type); `{ action, input }` becomes
 *   `{ type: action, params: input }`.
 * - Invokes keep `id`, `src` (the ref string is the actor's `src` name), `onDone`, `onError`;
 *   `input` is the bindings object as a static value. `claim`, `placement` and `idempotencyKey`
 *   go in the state's `meta['stateflow.invoke'][<invoke id>]` (xState has no slot for them).
 * - Final `output` is the bindings as a static value.
 * - The root keeps `id`, `version`, `description`; `inputSchema`/`outputSchema` go in `schemas`
 *   (`{ input, output }`); the format version and `exposure` in `meta['stateflow.flowstate']`.
 *
 * Static bindings mean nothing to xState by themselves: `flowStateMachine()` turns them into
 * functions over `{ context: { input, output }, event }` and records invocation outputs.
 */
import { defineFlowState, isFlowState, type FlowStateDefinition } from './define.js'
import type { ActionRef, FlowStateDocument, FlowStateNode, Guard, Invoke, Transition } from './types.js'

/** A JSON-shaped xState v5 machine config (its fields as in `MachineConfig`). */
export type XStateConfig = { [key: string]: unknown }

/** The state `meta` key holding invoke settings xState has no slot for. */
export const INVOKE_META = 'stateflow.invoke'
/** The root `meta` key holding FlowState's own root fields. */
export const FLOWSTATE_META = 'stateflow.flowstate'

export function toDefinition(x: FlowStateDefinition | FlowStateDocument): FlowStateDefinition {
  return isFlowState(x) ? x : defineFlowState(x)
}

/** The xState v5 machine config of a FlowState definition (or document, defined first). */
export function toXStateConfig(flow: FlowStateDefinition | FlowStateDocument): XStateConfig {
  const doc = toDefinition(flow).canonical
  const out: XStateConfig = { id: doc.id, version: doc.version }
  if (doc.description !== undefined) out.description = doc.description
  Object.assign(out, stateConfig(doc))
  const schemas: XStateConfig = {}
  if (doc.inputSchema !== undefined) schemas.input = doc.inputSchema
  if (doc.outputSchema !== undefined) schemas.output = doc.outputSchema
  if (Object.keys(schemas).length > 0) out.schemas = schemas
  out.meta = { ...((out.meta as object) ?? {}), [FLOWSTATE_META]: { flowstate: doc.flowstate, ...(doc.exposure ? { exposure: doc.exposure } : {}) } }
  return out
}

export function guardConfig(g: Guard): { type: string; params: Record<string, unknown> } {
  const { type, ...params } = g
  return { type, params: JSON.parse(JSON.stringify(params)) }
}

function actionConfig(a: ActionRef): unknown {
  return typeof a === 'string' ? a : { type: a.action, params: a.input ?? {} }
}

function transitionConfig(t: Transition): XStateConfig {
  const out: XStateConfig = {}
  if (t.target !== undefined) out.target = Array.isArray(t.target) ? [...t.target] : t.target
  if (t.guard) out.guard = guardConfig(t.guard)
  if (t.actions) out.actions = t.actions.map(actionConfig)
  if (t.reenter) out.reenter = true
  if (t.description !== undefined) out.description = t.description
  return out
}

function invokeConfig(inv: Invoke): XStateConfig {
  const out: XStateConfig = { id: inv.id, src: inv.src }
  if (inv.input !== undefined) out.input = structuredClone(inv.input)
  if (inv.onDone) out.onDone = inv.onDone.map(transitionConfig)
  if (inv.onError) out.onError = inv.onError.map(transitionConfig)
  return out
}

function stateConfig(node: FlowStateNode | FlowStateDocument): XStateConfig {
  const out: XStateConfig = { type: node.type }
  const n = node as FlowStateNode
  const isRoot = 'flowstate' in node
  if (n.id !== undefined && !isRoot) out.id = n.id
  if (n.description !== undefined && !isRoot) out.description = n.description
  if (n.tags) out.tags = [...n.tags]
  if (n.history) out.history = n.history
  if (n.target !== undefined) out.target = n.target
  if (node.initial !== undefined) out.initial = node.initial
  if (node.states) out.states = Object.fromEntries(Object.entries(node.states).map(([k, s]) => [k, stateConfig(s)]))
  if (node.on) out.on = Object.fromEntries(Object.entries(node.on).map(([ev, ts]) => [ev, ts.map(transitionConfig)]))
  if (node.onDone) out.onDone = node.onDone.map(transitionConfig)
  if (node.entry) out.entry = node.entry.map(actionConfig)
  if (node.exit) out.exit = node.exit.map(actionConfig)
  if (node.invoke) {
    out.invoke = node.invoke.map(invokeConfig)
    const settings: Record<string, unknown> = {}
    for (const inv of node.invoke) {
      const s: Record<string, unknown> = {}
      if (inv.claim) s.claim = structuredClone(inv.claim)
      if (inv.placement) s.placement = structuredClone(inv.placement)
      if (inv.idempotencyKey !== undefined) s.idempotencyKey = structuredClone(inv.idempotencyKey)
      if (Object.keys(s).length > 0) settings[inv.id] = s
    }
    if (Object.keys(settings).length > 0) out.meta = { [INVOKE_META]: settings }
  }
  if (n.output !== undefined) out.output = structuredClone(n.output)
  return out
}
