/**
 * `flowStateEngine`: FlowState runs on `createStateFlowRuntime` (DESIGN §10). The run state is the
 * chart's configuration, advanced by xState's pure `initialTransition()` / `transition()` from the
 * events in the run's log; nothing here reads a clock or keeps anything between calls but a cache
 * of machines by content hash.
 *
 * @example
 * import { flowStateEngine, defineFlowState } from 'stateflow/flowstate'
 * const runtime = createStateFlowRuntime({ node, flowstate: flowStateEngine })
 * runtime.register('payments.charge', async (ctx, input) => charge(input))
 * const run = await runtime.start({ client, workflow: defineFlowState(checkout), input })
 */
import { initialTransition, transition, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate'
import type { ZodType } from 'zod'
import type { ChartEngine, ChartEvent, ChartOutcome, ChartState } from '../chart.js'
import { toHex, utf8 } from '../../dag/bytes.js'
import { sha256 } from '../../log/crypto-backend.js'
import { canonicalJson } from '../canonical-json.js'
import { evaluateBindings } from './bindings.js'
import { safeDefineFlowState } from './define.js'
import { flowStateMachine } from './machine.js'
import { FLOWSTATE_VERSION, type FlowStateDocument, type FlowStateNode, type Bindings, type Invoke, type Json } from './types.js'

/** An action that is a ref (an effect for an executor), not one of xState's built-ins. */
const REF = /^(action|service):/

interface Loaded {
  machine: AnyStateMachine
  doc: FlowStateDocument
  invokes: Map<string, Invoke>
  nodes: Map<string, unknown>
}

/** Machines by content hash: built once per definition, whatever object carries it. */
const machines = new Map<string, Loaded>()
const MAX_MACHINES = 64
/** What each document object was found to be, so a fold checks a document once, not per event. */
const checked = new WeakMap<object, Loaded | { problem: string }>()

/**
 * The machine for a start event's document, checked against the hash the event names: the
 * document must be canonical and hash to it (so a start event cannot name one definition's hash
 * and carry another), and valid.
 */
function load(document: unknown, hash: string): Loaded | { problem: string } {
  if (!isRecord(document)) return { problem: 'the FlowState definition is not an object' }
  const seen = checked.get(document)
  if (seen) return seen
  const result = check(document, hash)
  checked.set(document, result)
  return result
}

function check(document: Record<string, unknown>, hash: string): Loaded | { problem: string } {
  let actual: string
  try {
    actual = `sha256:${toHex(sha256(utf8(canonicalJson(document))))}`
  } catch (err) {
    return { problem: `the FlowState definition is not JSON data: ${(err as Error).message}` }
  }
  if (actual !== hash) return { problem: `the FlowState definition hashes to ${actual}, not ${hash} as the start event says` }
  const hit = machines.get(hash)
  if (hit) return hit
  const r = safeDefineFlowState(document as never)
  if (!r.success) {
    const first = r.issues[0]
    return { problem: `the FlowState definition is not valid: ${first ? `${first.path || '(document)'}: ${first.message}` : 'unknown problem'}` }
  }
  if (r.data.hash !== hash) return { problem: 'the FlowState definition in the start event is not in canonical form' }
  const invokes = new Map<string, Invoke>()
  const collect = (n: FlowStateNode | FlowStateDocument): void => {
    for (const inv of n.invoke ?? []) invokes.set(inv.id, inv)
    for (const child of Object.values(n.states ?? {})) collect(child)
  }
  collect(r.data.canonical)
  const machine = flowStateMachine(r.data)
  const loaded = { machine, doc: r.data.canonical, invokes, nodes: nodesById(machine) }
  if (machines.size >= MAX_MACHINES) machines.delete(machines.keys().next().value!)
  machines.set(hash, loaded)
  return loaded
}

/** The invoke ids of the states active in `value`, in document order. */
function activeInvokes(node: FlowStateNode | FlowStateDocument, value: unknown, out: string[]): void {
  for (const inv of node.invoke ?? []) out.push(inv.id)
  const states = node.states
  if (!states) return
  if (node.type === 'parallel') {
    for (const [k, child] of Object.entries(states)) activeInvokes(child, isRecord(value) ? value[k] : undefined, out)
  } else if (typeof value === 'string') {
    if (Object.hasOwn(states, value)) activeInvokes(states[value], undefined, out)
  } else if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) if (Object.hasOwn(states, k)) activeInvokes(states[k], v, out)
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

interface StateNodeLike {
  id: string
}

function historyOut(h: Record<string, StateNodeLike[]> | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const k of Object.keys(h ?? {}).sort()) out[k] = h![k].map((n) => n.id)
  return out
}

/**
 * Every state node by its full id. Not `getStateNodeById`: it splits ids on dots, and a FlowState
 * id such as `shop.checkout` makes the machine id (and so every node id) contain dots.
 */
function nodesById(machine: AnyStateMachine): Map<string, unknown> {
  const out = new Map<string, unknown>()
  const walk = (n: { id: string; states?: Record<string, unknown> }): void => {
    out.set(n.id, n)
    for (const child of Object.values(n.states ?? {})) walk(child as { id: string; states?: Record<string, unknown> })
  }
  walk(machine.root as never)
  return out
}

function historyIn(l: Loaded, h: Record<string, string[]>): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {}
  for (const [k, ids] of Object.entries(h)) {
    const nodes = ids.map((id) => l.nodes.get(id))
    if (nodes.every((n) => n !== undefined)) out[k] = nodes
  }
  return out
}

function errorOf(x: unknown): { name: string; message: string } {
  if (isRecord(x)) return { name: typeof x.name === 'string' ? x.name : 'Error', message: typeof x.message === 'string' ? x.message : '' }
  return { name: 'Error', message: typeof x === 'string' ? x : '' }
}

function outcome(l: Loaded, snap: AnyMachineSnapshot, actions: readonly { type: string; params?: unknown }[], event: ChartEvent, input: unknown): ChartOutcome {
  const context = snap.context as { output?: Record<string, unknown> }
  const spawned: ChartOutcome['spawned'] = []
  for (const a of actions) {
    if (a.type !== 'xstate.spawnChild' || !isRecord(a.params)) continue
    const p = a.params as { id?: unknown; src?: unknown; input?: unknown }
    if (typeof p.id !== 'string' || typeof p.src !== 'string') continue
    const sp: ChartOutcome['spawned'][number] = { id: p.id, src: p.src, input: p.input === undefined ? null : p.input }
    const bindings = l.invokes.get(p.id)?.idempotencyKey
    if (bindings !== undefined) {
      const value = evaluateBindings(bindings, { input, event, output: context.output ?? {} })
      sp.key = `${p.id}/${canonicalJson((value ?? null) as Json)}`
    }
    spawned.push(sp)
  }
  const ran: ChartOutcome['actions'] = []
  for (const a of actions) {
    if (!REF.test(a.type)) continue
    const params = a.params as Bindings | undefined
    const bound = params === undefined ? null : evaluateBindings(params, { input, event, output: context.output ?? {} })
    ran.push({ ref: a.type, input: bound === undefined ? null : bound })
  }
  const active: string[] = []
  activeInvokes(l.doc, snap.value, active)
  const out: ChartOutcome = {
    value: snap.value,
    output: { ...(context.output ?? {}) },
    history: historyOut(snap.historyValue as Record<string, StateNodeLike[]>),
    spawned,
    actions: ran,
    active,
    status: snap.status === 'done' ? 'done' : snap.status === 'error' ? 'error' : 'active',
  }
  if (snap.status === 'done') out.result = snap.output === undefined ? null : snap.output
  if (snap.status === 'error') out.error = errorOf(snap.error)
  return out
}

function attempt(fn: () => ChartOutcome | { problem: string }): ChartOutcome | { problem: string } {
  try {
    return fn()
  } catch (err) {
    // A chart step that throws (a bug, or a document xState refuses) must not stop the fold.
    return { problem: `the chart could not take the event: ${(err as Error).message}`.slice(0, 500) }
  }
}

// Input schemas compiled once per document object (the runtime hands over the definition's own).
const inputSchemas = new WeakMap<object, ZodType | string>()

/**
 * Check a run's input against the flow's JSON Schema. zod (its `fromJSONSchema`) is loaded on the
 * first flow that has an input schema, so a bundle of this module keeps it in a chunk of its own.
 */
async function checkInput(document: unknown, input: unknown): Promise<string | undefined> {
  if (!isRecord(document) || document.inputSchema === undefined) return undefined
  let schema = inputSchemas.get(document)
  if (schema === undefined) {
    try {
      const { fromJSONSchema } = await import('zod')
      schema = fromJSONSchema(document.inputSchema as never) as ZodType
    } catch (err) {
      schema = `the inputSchema cannot be used: ${(err as Error).message}`
    }
    inputSchemas.set(document, schema)
  }
  if (typeof schema === 'string') return schema
  const r = schema.safeParse(input)
  if (r.success) return undefined
  const first = r.error.issues[0]
  return `${first.path.length > 0 ? `${first.path.join('.')}: ` : ''}${first.message}`
}

export const flowStateEngine: ChartEngine = Object.freeze({
  checkInput,
  accepts(document: unknown): boolean {
    return isRecord(document) && document.flowstate === FLOWSTATE_VERSION
  },
  start(document: unknown, hash: string, input: unknown) {
    return attempt(() => {
      const l = load(document, hash)
      if ('problem' in l) return l
      const [snap, actions] = initialTransition(l.machine, input)
      return outcome(l, snap, actions as never, { type: 'xstate.init', input }, input)
    })
  },
  send(document: unknown, hash: string, input: unknown, chart: ChartState, event: ChartEvent) {
    return attempt(() => {
      const l = load(document, hash)
      if ('problem' in l) return l
      const snap = l.machine.resolveState({ value: chart.value as never, context: { input, output: chart.output }, historyValue: historyIn(l, chart.history) } as never)
      const [next, actions] = transition(l.machine, snap, event as never)
      return outcome(l, next, actions as never, event, input)
    })
  },
})
