/**
 * Workflow runs as the inspector shows them: which logs are runs, a run's state (folded by the
 * client's `flowRun` view, `flowRunViewWith(flowStateEngine)`, so FlowState runs show too) and its
 * timeline event by event, each event joined to the claim decision the view made of it.
 */
import { decodeEvent } from '../../log/codec.js'
import { publicKeyToDid } from '../../log/identity.js'
import type { XSyncClient } from '../../log/client.js'
import type { EventStore } from '../../stores/event-store.js'
import type { ViewSnapshot } from '../../views/host.js'
import type { Decision } from '../../views/claims.js'
import { FLOW, SIGNAL, STEP } from '../../flow/events.js'
import type { FlowRunState, StepRunState } from '../../flow/run-view.js'
import { toJsonValue } from './http.js'

/** The view name the serve client registers the run view under. */
export const RUN_VIEW = 'flowRun'

/**
 * How many events from a log's start are searched for its `stateflow.workflow.started`: peers
 * may announce themselves in a run (`xsync.peer.hello`) before it starts, so the start is not
 * always first in the total order, but it is among the first few.
 */
export const RUN_SCAN = 64

/** Which logs are runs, remembered: a run stays one, and a log past `RUN_SCAN` events without a start never becomes one. */
export class RunIndex {
  private readonly known = new Map<string, { run: boolean; count: number }>()
  constructor(private readonly store: EventStore) {}

  async isRun(log: string): Promise<boolean> {
    const seen = this.known.get(log)
    if (seen !== undefined && (seen.run || seen.count >= RUN_SCAN)) return seen.run
    const count = await this.store.count(log)
    if (seen !== undefined && seen.count === count) return seen.run
    const first = await this.store.scan(log, { limit: RUN_SCAN })
    const run = first.some((e) => typeOf(e.bytes) === FLOW.started)
    this.known.set(log, { run, count })
    return run
  }
}

/** The type of an event's bytes, or undefined when they do not decode (the audit reports those). */
function typeOf(bytes: Uint8Array): string | undefined {
  try {
    return decodeEvent(bytes).type
  } catch {
    return undefined
  }
}

export async function runState(client: XSyncClient, runId: string): Promise<ViewSnapshot<FlowRunState>> {
  return client.log(runId).view<ViewSnapshot<FlowRunState>>(RUN_VIEW)
}

const nodeOf = (s: FlowRunState, did: string | undefined): string | undefined => (did === undefined ? undefined : s.peers[did]?.spec.id)

/** One line of the run list. */
export function runSummary(id: string, s: FlowRunState, count: number) {
  const steps = Object.values(s.steps)
  return {
    id,
    kind: s.chart ? 'flowstate' : 'steps',
    workflow: s.workflow,
    status: s.status,
    events: count,
    steps: {
      total: steps.length,
      succeeded: steps.filter((x) => x.status === 'succeeded').length,
      failed: steps.filter((x) => x.status === 'failed').length,
      active: s.active.length,
    },
    ...(s.chart ? { chartValue: toJsonValue(s.chart.value) } : {}),
    startedAt: s.startedAt ?? null,
    endedAt: s.endedAt ?? null,
  }
}

function decisionJson(s: FlowRunState, d: Decision) {
  return { cid: d.cid, kind: d.kind, by: d.by, byNode: nodeOf(s, d.by) ?? null, verdict: d.verdict, why: d.why, time: d.time }
}

function stepJson(s: FlowRunState, id: string, st: StepRunState) {
  return {
    id,
    status: st.status,
    attempt: st.attempt,
    claimedBy: st.claimedBy ?? null,
    claimedByNode: nodeOf(s, st.claimedBy) ?? null,
    claim: st.claim ?? null,
    ...(st.ref !== undefined ? { ref: st.ref } : {}),
    input: toJsonValue(st.input),
    output: toJsonValue(st.output),
    error: st.error ?? null,
    duplicates: st.duplicates,
    decisions: st.decisions.map((d) => decisionJson(s, d)),
    readyAt: st.readyAt ?? null,
    endedAt: st.endedAt ?? null,
    ...(st.retryAt !== undefined ? { retryAt: st.retryAt } : {}),
    ...(st.wakeAt !== undefined ? { wakeAt: st.wakeAt } : {}),
    ...(st.deadline !== undefined ? { deadline: st.deadline } : {}),
  }
}

/** Steps in the order they became ready (the order they ran in), those still waiting last. */
function inOrder(steps: Record<string, StepRunState>): [string, StepRunState][] {
  return Object.entries(steps).sort(([a, x], [b, y]) => (x.readyAt ?? Infinity) - (y.readyAt ?? Infinity) || (a < b ? -1 : a > b ? 1 : 0))
}

/** A run's state for the inspector: JSON-safe, steps as a list, nodes named. */
export function runDetail(id: string, snap: ViewSnapshot<FlowRunState>, count: number) {
  const s = snap.state
  return {
    ...runSummary(id, s, count),
    input: toJsonValue(s.input),
    output: toJsonValue(s.output),
    error: s.error ?? null,
    cancel: s.cancel ?? null,
    parent: s.parent ?? null,
    idempotencyKey: s.idempotencyKey ?? null,
    time: s.time,
    stable: snap.stable,
    chart: s.chart ? { value: toJsonValue(s.chart.value), output: toJsonValue(s.chart.output), live: s.chart.live, events: s.chart.events } : null,
    steps: inOrder(s.steps).map(([k, st]) => stepJson(s, k, st)),
    compensations: s.compensationOrder.filter((k) => s.compensations[k]).map((k) => stepJson(s, k, s.compensations[k])),
    signals: s.signals.map((x) => ({ ...x, payload: toJsonValue(x.payload) })),
    warnings: s.warnings,
    peers: Object.entries(s.peers).map(([did, p]) => ({ did, id: p.spec.id, kind: p.spec.kind, capabilities: p.spec.capabilities, left: p.left ?? null })),
  }
}

/** Every decision of the run by its event's CID, with the step it was about. */
function decisionsByCid(s: FlowRunState): Map<string, { step: string; compensate: boolean; decision: Decision }> {
  const out = new Map<string, { step: string; compensate: boolean; decision: Decision }>()
  const add = (steps: Record<string, StepRunState>, compensate: boolean) => {
    for (const [step, st] of Object.entries(steps)) for (const d of st.decisions) out.set(d.cid, { step, compensate, decision: d })
  }
  add(s.steps, false)
  add(s.compensations, true)
  return out
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array)

/**
 * The run's last `limit` events in total order, each with what the inspector shows of it: who
 * wrote it and when, the step and attempt it is about, the claim decision taken on it, and its
 * input, output, link decisions (`next`) or error.
 */
export async function runTimeline(client: XSyncClient, runId: string, snap: ViewSnapshot<FlowRunState>, limit: number) {
  const s = snap.state
  const decisions = decisionsByCid(s)
  const log = client.log(runId)
  const count = await log.count()
  const skip = Math.max(0, count - limit)
  const events: unknown[] = []
  let index = 0
  for await (const e of log.events()) {
    if (index++ < skip) continue
    const cid = e.cid.toString()
    const body = isRecord(e.body) ? e.body : {}
    const did = publicKeyToDid(e.author)
    const d = decisions.get(cid)
    const entry: Record<string, unknown> = { index: index - 1, cid, clock: e.clock, type: e.type, author: did, authorNode: nodeOf(s, did) ?? null, seq: e.seq, time: e.time }
    if (typeof body.step === 'string') entry.step = body.step
    if (typeof body.attempt === 'number') entry.attempt = body.attempt
    if (body.compensate === true) entry.compensate = true
    if (d) entry.decision = { kind: d.decision.kind, verdict: d.decision.verdict, why: d.decision.why }
    if (e.type === FLOW.started) entry.input = toJsonValue(body.input)
    if (e.type === STEP.succeeded) entry.output = toJsonValue(body.output)
    if ('next' in body) entry.next = toJsonValue(body.next)
    if (isRecord(body.error)) entry.error = toJsonValue(body.error)
    if (e.type === SIGNAL) entry.signal = { name: body.name, payload: toJsonValue(body.payload) }
    if (e.type === FLOW.completed && 'output' in body) entry.output = toJsonValue(body.output)
    if (typeof body.reason === 'string') entry.reason = body.reason
    events.push(entry)
  }
  return { id: runId, status: s.status, count, truncated: skip > 0, events }
}
