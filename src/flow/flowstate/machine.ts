/**
 * A FlowState definition as a runnable xState v5 machine: `toXStateConfig`'s plain config plus
 * the implementations its conventions name. This module imports `xstate`; the codecs do not.
 *
 * - Context is the run state FlowState reads: `{ input, output }`, where `input` is the actor's
 *   input and `output[<invokeId>]` the last output of that invocation (recorded by an `assign`
 *   prepended to each invoke's `onDone` transitions: FlowState's replacement for `assign`).
 * - Guards are the library's, evaluated by `evaluateGuard` over `{ input, event, output }`.
 * - Static bindings (invoke `input`, final `output`) become mappers over the same run state; the
 *   machine's output is its top-level final state's output.
 * - Action refs run the implementation given for them, else nothing; invoke refs run the actor
 *   logic given for them, else an actor that never settles (a host ends it by sending
 *   `xstate.done.actor.<id>` / `xstate.error.actor.<id>`, as the StateFlow run host does from its log).
 *
 * Pure use: `transition(machine, snapshot, event)` and `initialTransition(machine, input)` from
 * xstate compute the next configuration without running anything.
 *
 * @example
 * const machine = flowStateMachine(door)
 * const [s0] = initialTransition(machine, { locked: false })
 * const [s1] = transition(machine, s0, { type: 'OPEN' })
 * s1.value // 'open'
 */
import { assign, fromPromise, setup, type AnyActorLogic, type AnyStateMachine, type EventObject } from 'xstate'
import { evaluateBindings, type RunScope } from './bindings.js'
import { type FlowStateDefinition } from './define.js'
import { MATERIALIZED } from './from-xstate.js'
import { evaluateGuard } from './guards.js'
import { toDefinition, toXStateConfig, type XStateConfig } from './to-xstate.js'
import { GUARD_TYPES, type Bindings, type FlowStateDocument, type Guard } from './types.js'

/** The machine's context: FlowState's run state, less the event. */
export interface FlowStateContext {
  input: unknown
  output: Record<string, unknown>
}

export interface FlowStateMachineOptions {
  /** Actor logic per invoke ref (`'action:payments.charge@^1'`). @default one that never settles */
  actors?: Record<string, AnyActorLogic>
  /** Implementations per action ref. @default none (the action is only recorded) */
  actions?: Record<string, (args: { context: FlowStateContext; event: EventObject }, params: unknown) => void>
}

/** The action that records an invocation's output; prepended to its `onDone` transitions. */
export const RECORD_OUTPUT = 'stateflow.recordOutput'

const scopeOf = (context: FlowStateContext, event: unknown): RunScope => ({ input: context.input, event, output: context.output })

function mark<T extends object>(fn: T, value: unknown): T {
  Object.defineProperty(fn, MATERIALIZED, { value })
  return fn
}

function mapper(bindings: Bindings) {
  return mark(({ context, event }: { context: FlowStateContext; event: unknown }) => evaluateBindings(bindings, scopeOf(context, event)), { kind: 'bindings', bindings })
}

/** Give the plain config's static bindings meaning, and record invocation outputs. */
function materialize(node: XStateConfig, refs: { actions: Set<string>; actors: Set<string> }): XStateConfig {
  const out: XStateConfig = { ...node }
  const transitions = (ts: unknown, done?: string) =>
    (ts as XStateConfig[]).map((t) => {
      const actions = ((t.actions as unknown[]) ?? []).map((a) => {
        refs.actions.add(typeof a === 'string' ? a : ((a as { type: string }).type))
        return a
      })
      const all = done ? [mark({ type: RECORD_OUTPUT, params: { id: done } }, { kind: 'record' }), ...actions] : actions
      return all.length > 0 ? { ...t, actions: all } : t
    })
  if (out.states) out.states = Object.fromEntries(Object.entries(out.states as Record<string, XStateConfig>).map(([k, s]) => [k, materialize(s, refs)]))
  if (out.on) out.on = Object.fromEntries(Object.entries(out.on as Record<string, unknown>).map(([ev, ts]) => [ev, transitions(ts)]))
  if (out.onDone) out.onDone = transitions(out.onDone)
  for (const k of ['entry', 'exit']) if (out[k]) out[k] = transitions([{ actions: out[k] }])[0].actions
  if (out.invoke) {
    out.invoke = (out.invoke as XStateConfig[]).map((inv) => {
      refs.actors.add(inv.src as string)
      const m: XStateConfig = { ...inv, onDone: transitions(inv.onDone ?? [{}], inv.id as string) }
      if (inv.onError) m.onError = transitions(inv.onError)
      if (inv.input !== undefined) m.input = mapper(inv.input as Bindings)
      return m
    })
  }
  if (out.type === 'final' && out.output !== undefined) out.output = mapper(out.output as Bindings)
  return out
}

/** An xState machine that runs the flow; see the module note for the conventions. */
export function flowStateMachine(flow: FlowStateDefinition | FlowStateDocument, options: FlowStateMachineOptions = {}): AnyStateMachine {
  const def = toDefinition(flow)
  const refs = { actions: new Set<string>(), actors: new Set<string>() }
  const config = materialize(toXStateConfig(def), refs)
  const guards = Object.fromEntries(
    GUARD_TYPES.map((type) => [type, ({ context, event }: { context: FlowStateContext; event: EventObject }, params: Record<string, unknown>) => evaluateGuard({ type, ...params } as Guard, scopeOf(context, event))]),
  )
  const actions: Record<string, unknown> = {
    [RECORD_OUTPUT]: assign(({ context, event }: { context: FlowStateContext; event: EventObject }, params: { id: string }) => ({
      output: { ...context.output, [params.id]: (event as { output?: unknown }).output },
    })),
  }
  for (const ref of refs.actions) actions[ref] = options.actions?.[ref] ?? (() => {})
  const actors: Record<string, AnyActorLogic> = {}
  for (const ref of refs.actors) actors[ref] = options.actors?.[ref] ?? fromPromise(() => new Promise<never>(() => {}))
  const machineConfig = {
    ...config,
    context: mark(({ input }: { input: unknown }): FlowStateContext => ({ input: input ?? null, output: {} }), { kind: 'context' }),
    output: mark(({ event }: { event: { output?: unknown } }) => event.output, { kind: 'root-output' }),
  }
  // setup() overwrites the config's schemas with its own: hand them over.
  return setup({ schemas: config.schemas, guards, actions, actors } as never).createMachine(machineConfig as never) as unknown as AnyStateMachine
}
