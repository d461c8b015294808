/**
 * Statechart runs (DESIGN §10): the plug between the run view, which folds a run's log, and a
 * chart engine, which advances a statechart configuration by one event. The engine for FlowState
 * documents lives in `stateflow/flowstate` (it imports xState); this module is data only, so the
 * main bundle stays free of it.
 *
 * A chart run's log holds the same events as a step run. The start event carries the document;
 * a signal is an event sent into the chart; each invocation the chart starts is a step instance
 * (`<invokeId>#<n>`, the n-th time that invoke started), claimed, run, renewed and ended under
 * the same rules as a workflow step, and its result is sent back into the chart as xState's
 * `xstate.done.actor.<id>` (or `xstate.error.actor.<id>`). `service:timer@…` invocations are
 * durable timers any peer fires at their log time.
 */
import type { Placement } from '../views/placement.js'
import { SLEEP, type CanonicalStep, type StepClaim } from './define.js'

/** A chart's part of a run's state: plain data, the same on every peer that folded the same log. */
export interface ChartState {
  /** The configuration, as xState writes a state value. */
  value: unknown
  /** The last output of each invocation, by invoke id (`$.output.<id>`). */
  output: Record<string, unknown>
  /** History states' remembered configurations: history node id → state node ids. */
  history: Record<string, string[]>
  /** Per invoke id, how many times it has started. */
  started: Record<string, number>
  /** Per invoke id under way, its current instance (step key). */
  live: Record<string, string>
  /** Events sent into the chart so far (signals, results, timers). */
  events: number
  /** Action refs the chart has run so far (entry, exit and transition actions). */
  actions: number
  /** The chart ended while actions it ran were still under way: how the run ends once they have. */
  finished?: { status: 'done' | 'error'; result?: unknown; error?: { name: string; message: string }; cause: string }
}

/** What one step of a chart gives: its new state, what it started, and whether it ended. */
export interface ChartOutcome {
  value: unknown
  output: Record<string, unknown>
  history: Record<string, string[]>
  /**
   * Invocations started by this step, in the order the chart started them; `input` is evaluated,
   * `key` is the idempotency key its `idempotencyKey` bindings give (`<invokeId>/<canonical JSON>`).
   */
  spawned: { id: string; src: string; input: unknown; key?: string }[]
  /** Action refs (entry, exit, transition actions) this step ran, in order, with their input bound. */
  actions: { ref: string; input: unknown }[]
  /** Invoke ids whose states are active after this step (a live one not listed has stopped). */
  active: string[]
  status: 'active' | 'done' | 'error'
  /** `done`: the chart's output (its top-level final state's). */
  result?: unknown
  /** `error`: what ended it (an invocation's error no transition handled). */
  error?: { name: string; message: string }
}

/** A chart event: xState's shape, `type` plus fields. */
export interface ChartEvent {
  type: string
  [field: string]: unknown
}

/**
 * A chart engine. Pure: the same document, state and event give the same outcome on every peer;
 * it never throws on a document or event from a log (a `{ problem }` answer instead).
 */
export interface ChartEngine {
  /** Whether a start event's workflow document is one this engine runs. */
  accepts(document: unknown): boolean
  /** The document checked against the hash the start event names, and its first step. */
  start(document: unknown, hash: string, input: unknown): ChartOutcome | { problem: string }
  send(document: unknown, hash: string, input: unknown, chart: ChartState, event: ChartEvent): ChartOutcome | { problem: string }
  /** Why `input` does not fit the document's input schema, if it does not (checked at `start`, not in the fold). */
  checkInput?(document: unknown, input: unknown): Promise<string | undefined> | string | undefined
}

/** The built-in timer service: an invocation of it is a durable timer (`{ ms }` or `{ until }`). */
export const TIMER_SERVICE = 'service:timer'

export function isTimerRef(src: string): boolean {
  return src.startsWith(`${TIMER_SERVICE}@`)
}

/**
 * Why a caller may not send `name` into a chart run with this document, or undefined if it may:
 * `xstate.*` events come from the runtime only, and a flow that lists `exposure.events` takes
 * those (`*` and `prefix.*` patterns included). Checked at `run.signal()` and again in the fold.
 */
export function signalRefusal(document: unknown, name: string): string | undefined {
  if (name.startsWith('xstate.')) return 'xstate.* events come from the runtime only'
  const exposure = typeof document === 'object' && document !== null ? (document as { exposure?: { events?: unknown } }).exposure : undefined
  const events = typeof exposure === 'object' && exposure !== null ? exposure.events : undefined
  if (!Array.isArray(events)) return undefined
  const ok = events.some((x) => x === name || x === '*' || (typeof x === 'string' && x.endsWith('.*') && name.startsWith(x.slice(0, -1))))
  return ok ? undefined : `the flow does not expose ${JSON.stringify(name).slice(0, 80)} (exposure.events)`
}

/** The step key of the n-th start of an invocation. */
export function instanceKey(invokeId: string, n: number): string {
  return `${invokeId}#${n}`
}

/** The invoke id of a step key (`charge#2` → `charge`). */
export function invokeIdOf(key: string): string {
  const at = key.lastIndexOf('#')
  return at < 0 ? key : key.slice(0, at)
}

// Step definitions of action refs, by ref.
const actionSteps = new Map<string, CanonicalStep>()

/**
 * The step an action ref (an entry, exit or transition action) runs as: fire and forget, as in
 * xState (nothing goes back into the chart), so failures retry by the default policy and a last
 * failure is a warning, not an event the chart handles.
 */
export function actionStepDef(ref: string): CanonicalStep {
  let d = actionSteps.get(ref)
  if (!d) {
    d = {
      id: ref,
      type: ref,
      sideEffects: { kind: 'effectful', idempotencyRequired: true },
      claim: { mode: 'lease' },
      placement: null,
      retry: { maxAttempts: 3, initialIntervalMs: 1000, backoffCoefficient: 2, maxIntervalMs: 60_000, jitter: 0.2, nonRetryable: [] },
      timeoutMs: null,
      compensate: null,
      sleep: null,
      signal: null,
      child: null,
      input: null,
      output: null,
    }
    if (actionSteps.size > 1024) actionSteps.clear()
    actionSteps.set(ref, d)
  }
  return d
}

/** The step key of the n-th action a chart ran (`tickets.append!3`). */
export function actionKey(ref: string, n: number): string {
  return `${parseRef(ref)?.id ?? 'action'}!${n}`
}

interface InvokeData {
  id: string
  src: string
  claim?: StepClaim
  placement?: Placement
}

// Step definitions by document object: built once per document, from data alone.
const stepsByDocument = new WeakMap<object, Map<string, CanonicalStep>>()

/**
 * The step definition an invocation runs under: its claim (default `lease`) and placement, one
 * attempt (a chart handles errors with `onError`: retrying is the chart's to model), no timeout
 * (timers are `service:timer` invocations). An optimistic invocation counts as pure, so it may
 * run on several peers.
 */
export function chartStepDef(document: unknown, key: string): CanonicalStep | undefined {
  if (typeof document !== 'object' || document === null) return undefined
  let steps = stepsByDocument.get(document)
  if (!steps) {
    steps = new Map()
    collectInvokes(document as Record<string, unknown>, steps, 0)
    stepsByDocument.set(document, steps)
  }
  return steps.get(invokeIdOf(key))
}

function collectInvokes(node: Record<string, unknown>, out: Map<string, CanonicalStep>, depth: number): void {
  if (depth > 64) return
  if (Array.isArray(node.invoke)) {
    for (const inv of node.invoke as InvokeData[]) {
      if (typeof inv !== 'object' || inv === null || typeof inv.id !== 'string' || typeof inv.src !== 'string' || out.has(inv.id)) continue
      const timer = isTimerRef(inv.src)
      const claim: StepClaim = inv.claim ?? (timer ? { mode: 'optimistic-idempotent' } : { mode: 'lease' })
      out.set(inv.id, {
        id: inv.id,
        type: timer ? SLEEP : inv.src,
        sideEffects: claim.mode === 'optimistic-idempotent' ? { kind: 'pure' } : { kind: 'effectful', idempotencyRequired: true },
        claim,
        placement: inv.placement ?? null,
        retry: { maxAttempts: 1, initialIntervalMs: 1000, backoffCoefficient: 2, maxIntervalMs: 60_000, jitter: 0, nonRetryable: [] },
        timeoutMs: null,
        compensate: null,
        sleep: timer ? { untilInput: true } : null,
        signal: null,
        child: null,
        input: null,
        output: null,
      })
    }
  }
  const states = node.states
  if (typeof states === 'object' && states !== null) for (const child of Object.values(states)) if (typeof child === 'object' && child !== null) collectInvokes(child as Record<string, unknown>, out, depth + 1)
}

/** When a timer invocation's input (`{ ms }` or `{ until }`, log time) fires, or why it cannot. */
export function timerUntil(input: unknown, now: number): number | string {
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const { ms, until } = input as { ms?: unknown; until?: unknown }
    if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) return now + ms
    if (typeof until === 'number' && Number.isFinite(until)) return until
  }
  return 'a service:timer invocation takes { ms } (a delay) or { until } (a log time in ms) as its input'
}

/** What `runtime.start` takes for a chart: `defineFlowState()`'s result has this shape. */
export interface ChartDefinition {
  readonly format: string
  readonly id: string
  readonly version: string
  readonly canonical: unknown
  readonly hash: string
}

export function isChartDefinition(x: unknown): x is ChartDefinition {
  if (typeof x !== 'object' || x === null) return false
  const d = x as Record<string, unknown>
  return typeof d.format === 'string' && typeof d.hash === 'string' && typeof d.id === 'string' && typeof d.canonical === 'object' && d.canonical !== null && !('steps' in d && 'links' in d)
}

/** `action:payments.charge@^1` → its kind, id and range; undefined for anything else. */
export function parseRef(ref: string): { kind: 'action' | 'service'; id: string; range: string } | undefined {
  const m = /^(action|service):([A-Za-z0-9_.-]{1,128})@(.{1,64})$/.exec(ref)
  return m ? { kind: m[1] as 'action' | 'service', id: m[2], range: m[3] } : undefined
}
