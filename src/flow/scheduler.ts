/**
 * The scheduler (DESIGN §9): a pure function of a definition, a run's folded state and who is
 * asking (its did, its node, the time on its clock) that returns what this peer should do now,
 * and when to look again. Local time decides only *when* a peer acts; what the actions mean (who
 * won a claim, whether a timer had come due) is judged by `flowRunView` from the log, so two peers
 * acting at once cost a duplicate event, never a divergence.
 */
import { checkPlacement, type RuntimeNodeSpec } from '../views/placement.js'
import { electionRank } from '../views/claims.js'
import { CHILD, SLEEP, WAIT, type CanonicalStep, type WorkflowDefinition } from './define.js'
import { claimRules, runViewInternals, type FlowRunState, type StepRunState } from './run-view.js'

export type Action =
  | { kind: 'claim'; step: string; attempt: number; compensate: boolean; takeover?: string }
  | { kind: 'execute'; step: string; attempt: number; compensate: boolean; claim?: string; input: unknown }
  /** A step this peer holds, started before it last stopped: it cannot know whether the effect happened. */
  | { kind: 'interrupted'; step: string; attempt: number; compensate: boolean; claim: string }
  | { kind: 'renew'; step: string; attempt: number; compensate: boolean; claim: string }
  | { kind: 'set-timer'; step: string; until: number }
  | { kind: 'fire-timer'; step: string }
  | { kind: 'consume-signal'; step: string; signal: string; payload: unknown }
  | { kind: 'time-out-wait'; step: string }
  | { kind: 'retry'; step: string; attempt: number; compensate: boolean }
  | { kind: 'record-end' }

export interface SchedulerSelf {
  did: string
  node: RuntimeNodeSpec
  /** This peer's clock. */
  now: number
  /** Whether this peer can run an executor type. */
  canRun(type: string): boolean
  /** Step attempts this peer is executing right now (`step/attempt` or `step/compensate/attempt`). */
  running: ReadonlySet<string>
}

export interface Schedule {
  actions: Action[]
  /** The earliest clock time at which something may come due (timers, retries, lease ends), if any. */
  wakeAt?: number
}

export function taskKey(step: string, attempt: number, compensate: boolean): string {
  return compensate ? `${step}/compensate/${attempt}` : `${step}/${attempt}`
}

/** `def` is the step workflow's definition (unused by the plan itself); a chart run has none. */
export function schedule(_def: WorkflowDefinition | undefined, s: FlowRunState, self: SchedulerSelf): Schedule {
  const actions: Action[] = []
  let wakeAt: number | undefined
  const at = (t: number): void => {
    if (t > self.now && (wakeAt === undefined || t < wakeAt)) wakeAt = t
  }
  if (s.definition === null && !s.chart) return { actions }
  if (s.status === 'completed' || s.status === 'failed') {
    if (!s.endRecorded) actions.push({ kind: 'record-end' })
    return { actions }
  }
  if (s.status === 'cancelled') return { actions }
  const canonical = { get: (id: string) => runViewInternals.stepDef(s, id) }
  if (s.status === 'running') {
    // Only the steps under way: a pass costs what is happening, not the size of the run.
    for (const id of s.active) {
      const st = s.steps[id]
      const d = canonical.get(id)
      if (!st || !d) continue
      if (st.status === 'sleeping') {
        if (!st.timerSet) actions.push({ kind: 'set-timer', step: id, until: st.wakeAt! })
        if (self.now >= st.wakeAt!) actions.push({ kind: 'fire-timer', step: id })
        else at(st.wakeAt!)
        continue
      }
      if (st.status === 'awaiting-signal') {
        const sig = s.signals.find((x) => x.name === d.signal?.name && x.consumedBy === undefined)
        if (sig) actions.push({ kind: 'consume-signal', step: id, signal: sig.cid, payload: sig.payload })
        else if (st.deadline !== undefined) {
          if (self.now >= st.deadline) actions.push({ kind: 'time-out-wait', step: id })
          else at(st.deadline)
        }
        continue
      }
      task(id, d, st, false)
    }
  } else if (s.status === 'compensating') {
    for (const id of s.compensationOrder) {
      const st = s.compensations[id]
      const d = canonical.get(id)
      if (!st || !d || st.status === 'waiting' || st.status === 'succeeded' || st.status === 'failed') continue
      // One compensation at a time, in order.
      task(id, d, st, true)
      break
    }
  }
  return wakeAt === undefined ? { actions } : { actions, wakeAt }

  /** A step (or compensation) run by an executor: claim it, run it, renew it, retry it. */
  function task(id: string, d: CanonicalStep, st: StepRunState, compensate: boolean): void {
    const type = compensate ? d.compensate! : d.type
    if (d.type === SLEEP || d.type === WAIT) return
    const key = taskKey(id, st.attempt, compensate)
    if (st.status === 'retrying') {
      if (self.now >= st.retryAt!) actions.push({ kind: 'retry', step: id, attempt: st.attempt, compensate })
      else at(st.retryAt!)
      return
    }
    if (st.status !== 'ready' && st.status !== 'claimed' && st.status !== 'running') return
    const runnable = type === CHILD && !compensate ? true : self.canRun(type)
    const fitsHere = !d.placement || checkPlacement(d.placement, self.node).ok
    const mine = runnable && fitsHere
    const rules = claimRules(d, s.peers)
    const input = st.input ?? null
    const running = self.running.has(key)
    if (rules.mode === 'optimistic-idempotent') {
      if (mine && !running && st.status === 'ready') actions.push({ kind: 'execute', step: id, attempt: st.attempt, compensate, input })
      return
    }
    const holder = st.claimedBy
    if (holder === self.did) {
      if (running) {
        if (rules.mode === 'lease' && st.expires !== undefined) {
          // Renew a third of the lease before it ends.
          const ttl = rules.ttlMs ?? 30_000
          const renewAt = st.expires - ttl / 3
          if (self.now >= renewAt) actions.push({ kind: 'renew', step: id, attempt: st.attempt, compensate, claim: st.claim! })
          else at(renewAt)
        }
        return
      }
      if (st.status === 'claimed') {
        actions.push({ kind: 'execute', step: id, attempt: st.attempt, compensate, claim: st.claim!, input })
        return
      }
      // Started here before, not running now: this peer stopped mid-step.
      if (rules.mode === 'lease') {
        // Not again under the same token: once the lease ends, a new claim (a new token) may.
        if (st.expires !== undefined && self.now > st.expires) actions.push({ kind: 'claim', step: id, attempt: st.attempt, compensate })
        else if (st.expires !== undefined) at(st.expires + 1)
      } else {
        // No expiry in the claim itself: the attempt is abandoned once its holder has shown no
        // progress for the claim's ttl (authority) or timeout (election); then it fails as
        // interrupted and the retry claims anew, with a new token.
        const c = d.claim as { ttlMs?: number; timeoutMs?: number }
        const after = (st.progress ?? st.readyAt ?? 0) + (c.ttlMs ?? c.timeoutMs ?? 30_000)
        if (self.now > after) actions.push({ kind: 'interrupted', step: id, attempt: st.attempt, compensate, claim: st.claim! })
        else at(after + 1)
      }
      return
    }
    if (!mine) return
    if (holder === undefined) {
      if (rules.mode === 'deterministic-election') {
        const rank = electionRank(`${s.runId}/${id}${compensate ? '/compensate' : ''}/${st.attempt}`, s.peers, rules.placement).findIndex((r) => r.did === self.did)
        if (rank < 0) return
        const due = (st.readyAt ?? 0) + rank * (rules.timeoutMs ?? 30_000)
        if (self.now >= due) actions.push({ kind: 'claim', step: id, attempt: st.attempt, compensate })
        else at(due)
        return
      }
      if (rules.mode === 'authority' && rules.authority !== self.did) return
      actions.push({ kind: 'claim', step: id, attempt: st.attempt, compensate })
      return
    }
    // Someone else holds it.
    if (rules.mode === 'lease' && st.expires !== undefined) {
      if (self.now > st.expires) actions.push({ kind: 'claim', step: id, attempt: st.attempt, compensate })
      else at(st.expires + 1)
    } else if (rules.mode === 'deterministic-election') {
      const timeout = rules.timeoutMs ?? 30_000
      const idle = (st.progress ?? st.readyAt ?? 0) + timeout
      if (self.now < idle) {
        at(idle)
        return
      }
      const rank = electionRank(`${s.runId}/${id}${compensate ? '/compensate' : ''}/${st.attempt}`, s.peers, rules.placement)
      const cur = rank.findIndex((r) => r.did === holder)
      if (rank.length > 0 && rank[(cur + 1) % rank.length].did === self.did) actions.push({ kind: 'claim', step: id, attempt: st.attempt, compensate, takeover: holder })
    }
  }
}
