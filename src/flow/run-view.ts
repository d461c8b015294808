/**
 * `flowRunView`: a run's events folded into its state (DESIGN §9). It reads only the log: the
 * definition comes from the start event (canonical form), link decisions from each result's
 * `next`, claims are decided by the same pure resolver as the work queue. No clock, no code from
 * the definition, so every peer folds the same state from the same events.
 *
 * Malformed or out-of-turn events change nothing but a bounded list of warnings: a reducer that
 * threw would stop every peer's fold at the same bad event.
 */
import { didOf } from '../views/did-memo.js'
import { toBase32 } from '../dag/bytes.js'
import type { LogEvent } from '../log/log.js'
import { decideClaim, fits, type AnnouncedPeer, type ClaimRules, type Decision } from '../views/claims.js'
import { PEER_BYE, PEER_HELLO } from '../views/event-types.js'
import { nodeSpecProblem, normalizeNodeSpec, type RuntimeNodeSpec } from '../views/placement.js'
import type { View, ViewContext } from '../views/view.js'
import { actionKey, actionStepDef, chartStepDef, instanceKey, signalRefusal, invokeIdOf, isTimerRef, timerUntil, type ChartEngine, type ChartEvent, type ChartOutcome, type ChartState } from './chart.js'
import { CHILD, SLEEP, WAIT, type CanonicalStep, type CanonicalWorkflow } from './define.js'
import { FLOW, SIGNAL, STEP, TIMER, WARNING, type NextInputs, type StartedBody, type StepErrorBody } from './events.js'

export type RunStatus = 'pending' | 'running' | 'compensating' | 'completed' | 'failed' | 'cancelled'

export type StepStatus =
  | 'waiting'
  | 'ready'
  | 'claimed'
  | 'running'
  | 'sleeping'
  | 'awaiting-signal'
  | 'retrying'
  | 'succeeded'
  | 'failed'
  | 'skipped'
  | 'cancelled'

/** One step (or one step's compensation) of a run. */
export interface StepRunState {
  status: StepStatus
  /** The current attempt, from 1; 0 while waiting for its inputs. */
  attempt: number
  /** The did whose claim won the current attempt. */
  claimedBy?: string
  /** The winning claim's CID: the fencing token. */
  claim?: string
  /** `lease`: log time the current lease ends unless renewed. */
  expires?: number
  /** Log time of the winner's last sign of progress (claim, start, renewal). */
  progress?: number
  input?: unknown
  output?: unknown
  error?: StepErrorBody
  /** Log time the step (or its current attempt) became ready. */
  readyAt?: number
  /** `retrying`: log time the next attempt may begin. */
  retryAt?: number
  /** `sleeping`: log time the timer fires. */
  wakeAt?: number
  /** `awaiting-signal`: log time the wait times out, if it does. */
  deadline?: number
  endedAt?: number
  /** Later valid results of an `optimistic-idempotent` step. */
  duplicates: number
  /** Claims and results judged on this step, in total order. */
  decisions: Decision[]
  /** Its result's link decisions: per next step, skipped or that step's input. */
  next?: NextInputs
  /** `sleeping`: a peer has recorded the timer (`stateflow.timer.set`). */
  timerSet?: boolean
  /** A chart invocation's idempotency key, from its `idempotencyKey` bindings. */
  idempotencyKey?: string
  /** A chart's action (entry, exit or transition action): the ref it runs. */
  ref?: string
}

export interface FlowSignal {
  cid: string
  name: string
  payload: unknown
  by: string
  time: number
  /** The wait step it satisfied. */
  consumedBy?: string
}

export interface FlowRunState {
  runId: string | null
  workflow: { id: string; version: string; hash: string } | null
  definition: CanonicalWorkflow | null
  status: RunStatus
  input: unknown
  output?: unknown
  error?: { step: string; name: string; message: string }
  steps: Record<string, StepRunState>
  /** Compensations of succeeded steps, begun when the run is cancelled or fails. */
  compensations: Record<string, StepRunState>
  /** Steps to compensate, in the order they run (newest success first). */
  compensationOrder: string[]
  /** Steps under way (ready, claimed, running, sleeping, awaiting a signal, retrying), in the order they became ready. */
  active: string[]
  signals: FlowSignal[]
  warnings: { message: string; cid: string | null; time: number }[]
  peers: Record<string, AnnouncedPeer>
  parent?: { runId: string; step: string; attempt: number }
  idempotencyKey?: string
  cancel?: { reason: string; by: string; time: number }
  startedAt?: number
  endedAt?: number
  /** A peer has recorded the end (`stateflow.workflow.completed` / `failed`). */
  endRecorded?: boolean
  /** While compensating: how the run ends once compensations are done. */
  ending?: 'failed' | 'cancelled'
  /** Log time: the largest event time folded. */
  time: number
  /** A statechart run (FlowState): its document, as the start event carries it. */
  document?: Record<string, unknown>
  /** A statechart run: its configuration and invocations (see `chart.ts`). */
  chart?: ChartState
}

const MAX_WARNINGS = 100

export function initialRunState(): FlowRunState {
  return { runId: null, workflow: null, definition: null, status: 'pending', input: null, steps: {}, compensations: {}, compensationOrder: [], active: [], signals: [], warnings: [], peers: {}, time: 0 }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array)
}

function warn(s: FlowRunState, message: string, cid: string | null, time: number): void {
  if (s.warnings.length < MAX_WARNINGS) s.warnings.push({ message, cid, time })
}

// --- the definition, as data -----------------------------------------------------------------

interface Graph {
  byId: Map<string, CanonicalStep>
  incoming: Map<string, string[]>
  outgoing: Map<string, string[]>
}

// Lookups by step id, built once per definition object (a run's definition never changes):
// a thousand-step run would otherwise scan every step and link at every event.
const graphs = new WeakMap<CanonicalWorkflow, Graph>()

function graph(def: CanonicalWorkflow): Graph {
  let g = graphs.get(def)
  if (!g) {
    g = { byId: new Map(def.steps.map((x) => [x.id, x])), incoming: new Map(def.steps.map((x) => [x.id, []])), outgoing: new Map(def.steps.map((x) => [x.id, []])) }
    for (const l of def.links) {
      g.incoming.get(l.to)?.push(l.from)
      g.outgoing.get(l.from)?.push(l.to)
    }
    graphs.set(def, g)
  }
  return g
}

function stepDef(s: FlowRunState, id: string): CanonicalStep | undefined {
  if (s.chart) {
    const ref = s.steps[id]?.ref
    return ref !== undefined ? actionStepDef(ref) : chartStepDef(s.document, id)
  }
  return s.definition ? graph(s.definition).byId.get(id) : undefined
}

function incoming(s: FlowRunState, id: string): string[] {
  return graph(s.definition!).incoming.get(id) ?? []
}

function outgoing(s: FlowRunState, id: string): string[] {
  return graph(s.definition!).outgoing.get(id) ?? []
}

/**
 * The claim rules for a step, in the resolver's terms. An authority named by node id (not a did)
 * is the did that announced that node id in the run (the first to, by did order, should two).
 */
export function claimRules(def: CanonicalStep, peers: Readonly<Record<string, AnnouncedPeer>> = {}): ClaimRules {
  const c = def.claim
  const rules: ClaimRules = { mode: c.mode }
  if (c.mode === 'lease' && c.ttlMs !== undefined) rules.ttlMs = c.ttlMs
  if (c.mode === 'deterministic-election' && c.timeoutMs !== undefined) rules.timeoutMs = c.timeoutMs
  if (c.mode === 'authority') {
    rules.authority = c.authority
    if (!c.authority.startsWith('did:')) {
      const did = Object.keys(peers)
        .sort()
        .find((d) => peers[d].spec.id === c.authority && peers[d].left === undefined)
      rules.authority = did ?? `node:${c.authority}`
    }
  }
  if (def.placement) rules.placement = def.placement
  return rules
}

/** Retry delay before attempt `attempt + 1`: exponential, capped, with jitter from a hash (never randomness). */
export function retryDelay(def: CanonicalStep, runId: string, attempt: number): number {
  const r = def.retry
  const base = Math.min(r.initialIntervalMs * r.backoffCoefficient ** (attempt - 1), r.maxIntervalMs)
  let h = 0x811c9dc5
  const key = `${runId}\u0000${def.id}\u0000${attempt}`
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  const unit = (h >>> 0) / 0xffffffff // in [0, 1]
  return Math.max(0, Math.round(base * (1 + r.jitter * (2 * unit - 1))))
}

// --- steps becoming ready and ending -----------------------------------------------------------

function newStep(): StepRunState {
  return { status: 'waiting', attempt: 0, duplicates: 0, decisions: [] }
}

function makeReady(s: FlowRunState, id: string, input: unknown, time: number): void {
  const def = stepDef(s, id)!
  const st = s.steps[id]
  st.input = input
  st.readyAt = time
  st.attempt = 1
  s.active.push(id)
  if (def.type === SLEEP) {
    const until = def.sleep && 'ms' in def.sleep ? time + def.sleep.ms : input
    if (typeof until !== 'number' || !Number.isFinite(until)) {
      endStep(s, id, 'failed', time, { error: { name: 'InputError', message: 'a sleepUntil step needs a number (log time in ms) as its input', retryable: false } })
      return
    }
    st.status = 'sleeping'
    st.wakeAt = until
  } else if (def.type === WAIT) {
    st.status = 'awaiting-signal'
    if (def.signal?.timeoutMs != null) st.deadline = time + def.signal.timeoutMs
  } else {
    st.status = 'ready'
  }
}

/** Record that a step (or invocation) ended: its status, end time, output or error; it is no longer under way. */
function recordEnd(s: FlowRunState, id: string, status: 'succeeded' | 'failed' | 'skipped', time: number, r: { output?: unknown; error?: StepErrorBody }): StepRunState {
  const st = s.steps[id]
  st.status = status
  st.endedAt = time
  const at = s.active.indexOf(id)
  if (at >= 0) s.active.splice(at, 1)
  if (status === 'succeeded') st.output = r.output ?? null
  if (r.error) st.error = r.error
  return st
}

/** A step ends: record it, then let what follows it become ready (or skipped), then settle the run. */
function endStep(s: FlowRunState, id: string, status: 'succeeded' | 'failed' | 'skipped', time: number, r: { output?: unknown; error?: StepErrorBody; next?: NextInputs } = {}): void {
  if (s.chart) return endInvocation(s, id, status, time, r)
  recordEnd(s, id, status, time, r)
  if (status === 'failed') {
    fail(s, id, r.error ?? { name: 'Error', message: 'failed', retryable: false }, time)
    return
  }
  // The links out of it: followed (with the next input) or skipped, as the result says.
  for (const to of outgoing(s, id)) {
    const target = s.steps[to]
    if (target.status !== 'waiting') continue
    const sources = incoming(s, to)
    if (!sources.every((f) => s.steps[f].status === 'succeeded' || s.steps[f].status === 'skipped')) continue
    const inputs: [string, unknown][] = []
    for (const f of sources) {
      const src = s.steps[f]
      if (src.status !== 'succeeded') continue
      const n = (linkOf(s, f, to) ?? { input: src.output }) as { skip?: true; input?: unknown }
      if (n.skip === true) continue
      inputs.push([f, 'input' in n ? n.input : src.output])
    }
    if (inputs.length === 0) endStep(s, to, 'skipped', time)
    else makeReady(s, to, sources.length === 1 ? inputs[0][1] : Object.fromEntries(inputs), time)
  }
  settle(s, time)
}

/** The `next` entry a succeeded step recorded for the link to `to`. */
function linkOf(s: FlowRunState, from: string, to: string): unknown {
  const next = s.steps[from].next
  const n: unknown = next?.[to]
  return isRecord(n) && (n.skip === true || 'input' in n) ? n : undefined
}

/** Every step ended: the run completed, with the outputs of the steps nothing follows. */
function settle(s: FlowRunState, time: number): void {
  if (s.status !== 'running' || s.active.length > 0) return
  const ids = s.definition!.steps.map((x) => x.id)
  if (!ids.every((id) => s.steps[id].status === 'succeeded' || s.steps[id].status === 'skipped')) return
  const sinks = ids.filter((id) => outgoing(s, id).length === 0)
  s.output = sinks.length === 1 ? (s.steps[sinks[0]].output ?? null) : Object.fromEntries(sinks.filter((id) => s.steps[id].status === 'succeeded').map((id) => [id, s.steps[id].output]))
  s.status = 'completed'
  s.endedAt = time
}

/** A step failed for good: compensate what succeeded, then the run fails. */
function fail(s: FlowRunState, step: string, error: StepErrorBody, time: number): void {
  if (s.status !== 'running') return
  s.error = { step, name: error.name, message: error.message }
  for (const st of Object.values(s.steps)) if (!isEnded(st)) st.status = 'cancelled'
  s.active = []
  beginCompensation(s, 'failed', time)
}

function isEnded(st: StepRunState): boolean {
  return st.status === 'succeeded' || st.status === 'failed' || st.status === 'skipped' || st.status === 'cancelled'
}

function beginCompensation(s: FlowRunState, end: 'failed' | 'cancelled', time: number): void {
  const order = s
    .definition!.steps.filter((d) => d.compensate !== null && s.steps[d.id].status === 'succeeded')
    .map((d) => d.id)
    .sort((a, b) => s.steps[b].endedAt! - s.steps[a].endedAt! || (a < b ? 1 : -1))
  s.compensationOrder = order
  for (const id of order) s.compensations[id] = newStep()
  s.ending = end
  s.status = 'compensating'
  nextCompensation(s, time)
}

/** Start the next compensation in order, or end the run when none is left. */
function nextCompensation(s: FlowRunState, time: number): void {
  for (const id of s.compensationOrder) {
    const c = s.compensations[id]
    if (isEnded(c)) continue
    if (c.status === 'waiting') {
      c.status = 'ready'
      c.attempt = 1
      c.readyAt = time
      c.input = { input: s.steps[id].input ?? null, output: s.steps[id].output ?? null }
    }
    return
  }
  s.status = s.ending ?? 'failed'
  delete s.ending
  s.endedAt = time
}

// --- the reducer -------------------------------------------------------------------------------

interface Ctx {
  cid: string
  by: string
  time: number
}

function reduce(s: FlowRunState, e: LogEvent, ctx: ViewContext): FlowRunState {
  const t = e.type
  if (!t.startsWith('stateflow.') && t !== PEER_HELLO && t !== PEER_BYE) return s
  s.time = ctx.time
  const c: Ctx = { cid: toBase32(e.cid.bytes, 'b'), by: didOf(e.author), time: ctx.time }
  if (t === PEER_HELLO) {
    if (nodeSpecProblem(e.body) === undefined) s.peers[c.by] = { spec: normalizeNodeSpec(e.body as RuntimeNodeSpec) }
    return s
  }
  if (t === PEER_BYE) {
    if (s.peers[c.by]) s.peers[c.by] = { ...s.peers[c.by], left: c.time }
    return s
  }
  const body = e.body
  if (!isRecord(body)) {
    warn(s, `${t}: the body is not a map`, c.cid, c.time)
    return s
  }
  if (t === FLOW.started) {
    started(s, e, body, c)
    return s
  }
  if (s.status === 'pending') {
    warn(s, `${t} before the run started`, c.cid, c.time)
    return s
  }
  switch (t) {
    case FLOW.completed:
    case FLOW.failed:
      // Records of what the fold already derived: nothing to change but that it is recorded.
      if (s.status === 'completed' || s.status === 'failed') s.endRecorded = true
      return s
    case FLOW.cancelled:
      if (s.status !== 'running') return s
      s.cancel = { reason: typeof body.reason === 'string' ? body.reason : '', by: c.by, time: c.time }
      for (const st of Object.values(s.steps)) if (!isEnded(st)) st.status = 'cancelled'
      s.active = []
      if (s.chart) {
        // A chart models undoing with its own transitions: cancelling stops it where it is.
        s.chart.live = {}
        s.status = 'cancelled'
        s.endedAt = c.time
      } else beginCompensation(s, 'cancelled', c.time)
      return s
    case SIGNAL:
      if (typeof body.name !== 'string' || body.name.length === 0) warn(s, 'a signal needs a name', c.cid, c.time)
      else {
        const sig: FlowSignal = { cid: c.cid, name: body.name, payload: body.payload ?? null, by: c.by, time: c.time }
        s.signals.push(sig)
        if (s.chart && s.status === 'running') signalChart(s, sig, c)
      }
      return s
    case WARNING:
      warn(s, typeof body.message === 'string' ? body.message.slice(0, 1000) : 'warning', c.cid, c.time)
      return s
    case TIMER.set: {
      const st = typeof body.step === 'string' ? s.steps[body.step] : undefined
      if (st && st.status === 'sleeping') st.timerSet = true
      return s
    }
    case TIMER.fired: {
      const id = body.step
      const st = typeof id === 'string' ? s.steps[id] : undefined
      if (!st || st.status !== 'sleeping' || s.status !== 'running') return s
      if (c.time < st.wakeAt!) {
        warn(s, `timer of ${id} fired at log time ${c.time}, before ${st.wakeAt}`, c.cid, c.time)
        return s
      }
      if (isRecord(body.next)) st.next = body.next as NextInputs
      endStep(s, id as string, 'succeeded', c.time, { output: st.input ?? null })
      return s
    }
  }
  if (!t.startsWith('stateflow.step.')) return s
  const id = body.step
  const attempt = body.attempt
  const compensate = body.compensate === true
  if (typeof id !== 'string' || typeof attempt !== 'number') {
    warn(s, `${t}: needs step and attempt`, c.cid, c.time)
    return s
  }
  const def = stepDef(s, id)
  const st = compensate ? s.compensations[id] : s.steps[id]
  if (!def || !st) {
    warn(s, `${t}: no ${compensate ? 'compensation of ' : ''}step ${JSON.stringify(id).slice(0, 80)}`, c.cid, c.time)
    return s
  }
  if (compensate ? s.status !== 'compensating' : s.status !== 'running') return s
  if (attempt !== st.attempt || isEnded(st)) {
    if (t === STEP.succeeded && st.status === 'succeeded' && attempt === st.attempt && def.claim.mode === 'optimistic-idempotent') {
      st.duplicates++
      st.decisions.push({ cid: c.cid, kind: 'result', by: c.by, time: c.time, verdict: 'duplicate', why: 'a result was already accepted (first valid wins)' })
    }
    return s
  }
  stepEvent(s, t, id, def, st, body, c, compensate)
  return s
}

function started(s: FlowRunState, e: LogEvent, body: Record<string, unknown>, c: Ctx): void {
  if (s.status !== 'pending') {
    warn(s, 'a second start event (the first one stands)', c.cid, c.time)
    return
  }
  const b = body as unknown as StartedBody
  const w = b.workflow
  if (isRecord(w) && w.flowstate !== undefined) {
    startChart(s, e, b, c)
    return
  }
  if (!isRecord(w) || !Array.isArray(w.steps) || !Array.isArray(w.links) || typeof b.hash !== 'string') {
    warn(s, 'a start event without a workflow definition', c.cid, c.time)
    return
  }
  s.runId = e.log
  s.workflow = { id: w.id, version: w.version, hash: b.hash }
  s.definition = w
  s.input = b.input ?? null
  s.status = 'running'
  s.startedAt = c.time
  if (isRecord(b.parent)) s.parent = b.parent
  if (typeof b.idempotencyKey === 'string') s.idempotencyKey = b.idempotencyKey
  for (const d of w.steps) s.steps[d.id] = newStep()
  for (const d of w.steps) if (w.links.every((l) => l.to !== d.id)) makeReady(s, d.id, s.input, c.time)
}

function stepEvent(s: FlowRunState, t: string, id: string, def: CanonicalStep, st: StepRunState, body: Record<string, unknown>, c: Ctx, compensate: boolean): void {
  const rules = claimRules(def, s.peers)
  const key = `${s.runId}/${id}${compensate ? '/compensate' : ''}/${st.attempt}`
  const decide = (kind: Decision['kind'], verdict: Decision['verdict'], why: string): void => {
    st.decisions.push({ cid: c.cid, kind, by: c.by, time: c.time, verdict, why })
  }
  // Is this event from the holder of the current attempt, with its current claim, in time?
  const fromHolder = (): string | undefined => {
    if (rules.mode === 'optimistic-idempotent') {
      const f = fits(rules, c.by, s.peers)
      return f.ok ? undefined : f.why
    }
    if (st.claimedBy === undefined) return 'nobody holds the step'
    if (st.claimedBy !== c.by) return `not the holder (${st.claimedBy})`
    if (typeof body.claim === 'string' && body.claim !== st.claim) return `not the current claim (${st.claim})`
    if (rules.mode === 'lease' && body.claim === undefined) return 'a lease result must carry its claim (the fencing token)'
    if (rules.mode === 'lease' && st.expires !== undefined && c.time > st.expires) return `the lease had expired at log time ${st.expires}`
    return undefined
  }
  switch (t) {
    case STEP.claimed: {
      if (def.type === SLEEP || def.type === WAIT) return
      if (typeof body.renew === 'string') {
        const bad = st.claimedBy !== c.by || body.renew !== st.claim ? 'not the holder' : rules.mode === 'lease' && st.expires !== undefined && c.time > st.expires ? 'the lease had expired' : undefined
        if (bad) decide('renew', 'stale', bad)
        else {
          if (rules.mode === 'lease') st.expires = c.time + (rules.ttlMs ?? 30_000)
          st.progress = c.time
          decide('renew', 'renewed', rules.mode === 'lease' ? `lease runs to log time ${st.expires}` : 'progress')
        }
        return
      }
      const current = st.claimedBy !== undefined ? { claim: st.claim!, by: st.claimedBy, since: st.readyAt ?? c.time, ...(st.expires !== undefined ? { expires: st.expires } : {}), ...(st.progress !== undefined ? { progress: st.progress } : {}) } : null
      const takeover = typeof body.takeover === 'string' ? body.takeover : undefined
      const { winner, decision } = decideClaim(rules, key, current, takeover ? { cid: c.cid, by: c.by, time: c.time, takeover } : { cid: c.cid, by: c.by, time: c.time }, s.peers, st.readyAt ?? c.time)
      st.decisions.push(decision)
      if (winner && winner.claim !== st.claim) {
        st.claimedBy = winner.by
        st.claim = winner.claim
        if (winner.expires !== undefined) st.expires = winner.expires
        else delete st.expires
        st.progress = winner.progress ?? c.time
        st.status = 'claimed'
      } else if (winner) {
        st.progress = winner.progress ?? st.progress
      }
      return
    }
    case STEP.started: {
      const bad = fromHolder()
      if (bad) return decide('claim', 'stale', `start ignored: ${bad}`)
      st.status = 'running'
      st.progress = c.time
      return
    }
    case STEP.succeeded: {
      if (def.type === WAIT && !compensate) {
        const sig = s.signals.find((x) => x.cid === body.signal)
        if (!sig || sig.name !== def.signal?.name || sig.consumedBy !== undefined) return decide('result', 'stale', 'not an unconsumed signal of the awaited name')
        sig.consumedBy = id
        decide('result', 'accepted', `signal ${sig.cid}`)
        if (isRecord(body.next)) st.next = body.next as NextInputs
        endStep(s, id, 'succeeded', c.time, { output: sig.payload })
        return
      }
      if (def.type === SLEEP && !compensate) return
      const bad = fromHolder()
      if (bad) return decide('result', 'stale', bad)
      decide('result', 'accepted', 'succeeded')
      if (compensate) {
        st.status = 'succeeded'
        st.output = body.output ?? null
        st.endedAt = c.time
        nextCompensation(s, c.time)
        return
      }
      if (isRecord(body.next)) st.next = body.next as NextInputs
      endStep(s, id, 'succeeded', c.time, { output: body.output ?? null })
      return
    }
    case STEP.failed:
    case STEP.timedOut: {
      if (def.type === SLEEP && !compensate) return
      const timedOut = t === STEP.timedOut
      if (def.type === WAIT && !compensate) {
        if (!timedOut || st.deadline === undefined || c.time < st.deadline) return decide('result', 'stale', 'a wait step fails only by timing out, at its deadline')
      } else {
        const bad = fromHolder()
        if (bad) return decide('result', 'stale', bad)
      }
      const e = isRecord(body.error) ? body.error : {}
      const error: StepErrorBody = timedOut
        ? { name: 'TimeoutError', message: def.type === WAIT ? `no signal ${def.signal?.name} within ${def.signal?.timeoutMs} ms` : `the attempt ran past ${def.timeoutMs} ms`, retryable: def.type !== WAIT }
        : { name: typeof e.name === 'string' ? e.name : 'Error', message: typeof e.message === 'string' ? e.message : '', retryable: e.retryable !== false && !def.retry.nonRetryable.includes(typeof e.name === 'string' ? e.name : '') }
      decide('result', 'accepted', `${error.name}: ${error.message}`.slice(0, 500))
      st.error = error
      if (error.retryable && st.attempt < def.retry.maxAttempts) {
        st.status = 'retrying'
        st.retryAt = c.time + retryDelay(def, s.runId ?? '', st.attempt)
        return
      }
      if (compensate) {
        // A compensation that cannot succeed is recorded; the others still run.
        st.status = 'failed'
        st.endedAt = c.time
        warn(s, `compensation of ${id} failed: ${error.message}`.slice(0, 1000), c.cid, c.time)
        nextCompensation(s, c.time)
        return
      }
      endStep(s, id, 'failed', c.time, { error })
      return
    }
    case STEP.retrying: {
      if (st.status !== 'retrying') return
      if (c.time < st.retryAt!) return decide('claim', 'stale', `retry begun at log time ${c.time}, before ${st.retryAt}`)
      // The next attempt: body.attempt names the one that failed.
      st.attempt++
      st.status = 'ready'
      st.readyAt = c.time
      delete st.claimedBy
      delete st.claim
      delete st.expires
      delete st.progress
      delete st.retryAt
      return
    }
    case STEP.cancelled:
      return
  }
}

// --- statechart runs ---------------------------------------------------------------------------

/**
 * The chart engine of the view being folded. Reducers run synchronously, one event at a time, so
 * the view sets it for the length of one `reduce` call; the helpers below read it.
 */
let engine: ChartEngine | undefined

function startChart(s: FlowRunState, e: LogEvent, b: StartedBody, c: Ctx): void {
  const doc = b.workflow as unknown as Record<string, unknown>
  if (!engine || !engine.accepts(doc)) {
    warn(s, engine ? 'a start event with a chart document this engine does not run' : 'a FlowState run: fold it with the FlowState engine (createStateFlowRuntime({ flowstate: flowStateEngine }) from stateflow/flowstate)', c.cid, c.time)
    return
  }
  if (typeof b.hash !== 'string') {
    warn(s, 'a start event without the definition hash', c.cid, c.time)
    return
  }
  const input = b.input ?? null
  const first = engine.start(doc, b.hash, input)
  if ('problem' in first) {
    warn(s, first.problem, c.cid, c.time)
    return
  }
  s.runId = e.log
  s.workflow = { id: String(doc.id), version: String(doc.version), hash: b.hash }
  s.document = doc
  s.input = input
  s.status = 'running'
  s.startedAt = c.time
  if (isRecord(b.parent)) s.parent = b.parent
  if (typeof b.idempotencyKey === 'string') s.idempotencyKey = b.idempotencyKey
  s.chart = { value: null, output: {}, history: {}, started: {}, live: {}, events: 0, actions: 0 }
  applyOutcome(s, first, c.time, '')
}

/** A signal is an event sent into the chart: its payload's fields (an object) or `{ payload }`, and `type`. */
function signalChart(s: FlowRunState, sig: FlowSignal, c: Ctx): void {
  const refused = signalRefusal(s.document, sig.name)
  if (refused !== undefined) {
    warn(s, `signal ${JSON.stringify(sig.name).slice(0, 80)}: ${refused}`, c.cid, c.time)
    return
  }
  const p = sig.payload
  const event: ChartEvent = { ...(isRecord(p) ? p : p === null ? {} : { payload: p }), type: sig.name }
  sig.consumedBy = 'chart'
  sendToChart(s, event, c.time, '')
}

function sendToChart(s: FlowRunState, event: ChartEvent, time: number, cause: string): void {
  const chart = s.chart!
  // Ended, waiting only for the actions it ran: it takes no more events.
  if (chart.finished) return
  chart.events++
  const out = engine ? engine.send(s.document, s.workflow!.hash, s.input, chart, event) : { problem: 'no chart engine' }
  if ('problem' in out) {
    // The same engine gives every peer the same problem: the run ends here, on every peer.
    stopChart(s, time)
    s.status = 'failed'
    s.error = { step: cause, name: 'ChartError', message: out.problem }
    s.endedAt = time
    return
  }
  applyOutcome(s, out, time, cause)
}

function stopInvocation(s: FlowRunState, key: string, time: number): void {
  const st = s.steps[key]
  if (!st || isEnded(st)) return
  st.status = 'cancelled'
  st.endedAt = time
  const at = s.active.indexOf(key)
  if (at >= 0) s.active.splice(at, 1)
}

function stopChart(s: FlowRunState, time: number): void {
  for (const key of Object.values(s.chart!.live)) stopInvocation(s, key, time)
  s.chart!.live = {}
}

function applyOutcome(s: FlowRunState, out: ChartOutcome, time: number, cause: string): void {
  const chart = s.chart!
  chart.value = out.value
  chart.output = out.output
  chart.history = out.history
  // Invocations whose state was left (or entered again) stop.
  const active = new Set(out.active)
  const again = new Set(out.spawned.map((x) => x.id))
  for (const [id, key] of Object.entries(chart.live)) {
    if (active.has(id) && !again.has(id)) continue
    delete chart.live[id]
    stopInvocation(s, key, time)
  }
  // The actions this step ran: each a step of its own, fire and forget.
  for (const act of out.actions) {
    const key = actionKey(act.ref, ++chart.actions)
    const st = newStep()
    st.ref = act.ref
    s.steps[key] = st
    makeReady(s, key, act.input, time)
  }
  if (out.status !== 'active') {
    stopChart(s, time)
    chart.finished = { status: out.status, cause, ...(out.status === 'done' ? { result: out.result ?? null } : { error: out.error ?? { name: 'Error', message: '' } }) }
    finishChart(s, time)
    return
  }
  const badTimers: [string, string][] = []
  for (const sp of out.spawned) {
    const n = (chart.started[sp.id] ?? 0) + 1
    chart.started[sp.id] = n
    const key = instanceKey(sp.id, n)
    const st = newStep()
    if (sp.key !== undefined) st.idempotencyKey = sp.key
    s.steps[key] = st
    chart.live[sp.id] = key
    if (!isTimerRef(sp.src)) {
      makeReady(s, key, sp.input, time)
      continue
    }
    const until = timerUntil(sp.input, time)
    if (typeof until === 'number') makeReady(s, key, until, time)
    else {
      st.attempt = 1
      st.input = sp.input
      badTimers.push([key, until])
    }
  }
  // After every start of this step is in place, so the error event stops what it should.
  for (const [key, message] of badTimers) if (s.status === 'running') endInvocation(s, key, 'failed', time, { error: { name: 'InputError', message, retryable: false } })
}

/** The chart ended: the run ends with it once the actions it ran have ended too. */
function finishChart(s: FlowRunState, time: number): void {
  const f = s.chart!.finished
  if (!f || s.status !== 'running' || s.active.length > 0) return
  s.status = f.status === 'done' ? 'completed' : 'failed'
  if (f.status === 'done') s.output = f.result ?? null
  else s.error = { step: f.cause, name: f.error?.name ?? 'Error', message: f.error?.message ?? '' }
  s.endedAt = time
}

/** An invocation ended: its result goes into the chart as xState's done or error event. */
function endInvocation(s: FlowRunState, key: string, status: 'succeeded' | 'failed' | 'skipped', time: number, r: { output?: unknown; error?: StepErrorBody }): void {
  const st = recordEnd(s, key, status, time, r)
  if (st.ref !== undefined) {
    // An action: nothing goes back into the chart.
    if (status === 'failed') warn(s, `action ${st.ref} (${key}) failed: ${r.error?.name ?? 'Error'}: ${r.error?.message ?? ''}`.slice(0, 1000), null, time)
    finishChart(s, time)
    return
  }
  const id = invokeIdOf(key)
  const chart = s.chart!
  if (chart.live[id] !== key || s.status !== 'running') return
  delete chart.live[id]
  const event: ChartEvent =
    status === 'succeeded'
      ? { type: `xstate.done.actor.${id}`, output: st.output ?? null, actorId: id }
      : { type: `xstate.error.actor.${id}`, error: { name: r.error?.name ?? 'Error', message: r.error?.message ?? '' }, actorId: id }
  sendToChart(s, event, time, key)
}

/**
 * The run view with a chart engine, for FlowState runs as well as step workflows (the runtime
 * builds its own with the engine it was given).
 */
export function flowRunViewWith(chartEngine?: ChartEngine): View<FlowRunState> {
  return Object.freeze({
    name: 'flowRun',
    version: 1,
    initial: initialRunState,
    reduce: (s: FlowRunState, e: LogEvent, ctx: ViewContext): FlowRunState => {
      engine = chartEngine
      try {
        return reduce(s, e, ctx)
      } finally {
        engine = undefined
      }
    },
  })
}

/** The view: register it as `createXSync({ views: { flowRun: flowRunView } })`. Step workflows; for FlowState runs, `flowRunViewWith(flowStateEngine)`. */
export const flowRunView: View<FlowRunState> = flowRunViewWith()

/** Pure steps' and the view's helpers the scheduler shares. @internal */
export const runViewInternals = { stepDef, incoming, outgoing, isEnded, CHILD }
