/**
 * What changed in a run's state between two points of `audit replay`, in words. The run view
 * updates its state in place, so the earlier point is kept as a small `RunMark` (statuses,
 * attempts, holders, counts) rather than a copy of the state; `describeChanges(mark, state)`
 * compares it with the state now. Pure: the same states give the same lines.
 */
import type { AnnouncedPeer } from '../views/claims.js'
import type { FlowRunState, RunStatus, StepRunState } from '../flow/run-view.js'

interface StepMark {
  status: string
  attempt: number
  claimedBy: string | undefined
  /** How many claim decisions the step had: the new ones are the rest. */
  decisions: number
}

/** The parts of a run's state that `describeChanges` reports on, at one point of the replay. */
export interface RunMark {
  status: RunStatus
  /** Steps by id; compensations as `compensate <id>`. */
  steps: Map<string, StepMark>
  /** The chart's configuration as JSON (chart runs). */
  chart: string | undefined
  warnings: number
  /** Announced peers' dids, and whether each had left. */
  peers: Map<string, boolean>
  hasOutput: boolean
  hasError: boolean
  signals: number
  endRecorded: boolean
  cancelled: boolean
}

/** Output and values in a change line are cut to this many characters (`--json` has them whole). */
const MAX_VALUE_CHARS = 200

export function markRun(s: FlowRunState): RunMark {
  const steps = new Map<string, StepMark>()
  const add = (key: string, st: StepRunState): void => void steps.set(key, { status: st.status, attempt: st.attempt, claimedBy: st.claimedBy, decisions: st.decisions.length })
  for (const [id, st] of Object.entries(s.steps)) add(id, st)
  for (const [id, st] of Object.entries(s.compensations)) add(`compensate ${id}`, st)
  const peers = new Map<string, boolean>()
  for (const [did, p] of Object.entries(s.peers)) peers.set(did, p.left !== undefined)
  return {
    status: s.status,
    steps,
    chart: s.chart ? JSON.stringify(s.chart.value) : undefined,
    warnings: s.warnings.length,
    peers,
    hasOutput: s.output !== undefined,
    hasError: s.error !== undefined,
    signals: s.signals.length,
    endRecorded: s.endRecorded === true,
    cancelled: s.cancel !== undefined,
  }
}

/** One line per change from `mark` to `s`, in a fixed order: run, chart, peers, signals, steps, the end, warnings. */
export function describeChanges(mark: RunMark, s: FlowRunState): string[] {
  const out: string[] = []
  if (s.status !== mark.status) {
    const what = mark.status === 'pending' && s.workflow ? ` (${s.chart ? 'chart' : 'workflow'} ${s.workflow.id}@${s.workflow.version})` : ''
    out.push(`run ${mark.status} → ${s.status}${what}`)
  }
  if (s.chart) {
    const now = JSON.stringify(s.chart.value)
    if (now !== mark.chart) out.push(`chart ${mark.chart === undefined ? '' : `${valueText(JSON.parse(mark.chart))} → `}${valueText(s.chart.value)}`)
  }
  for (const [did, p] of Object.entries(s.peers)) {
    const had = mark.peers.get(did)
    if (had === undefined) out.push(`peer ${shortDid(did)} announced ${p.spec.id} (${p.spec.kind}${p.spec.capabilities.length > 0 ? `: ${p.spec.capabilities.join(', ')}` : ''})`)
    if (p.left !== undefined && had !== true) out.push(`peer ${who(did, s.peers)} left`)
  }
  for (const sig of s.signals.slice(mark.signals)) out.push(`signal ${sig.name} by ${who(sig.by, s.peers)}${sig.payload === null ? '' : `: ${valueText(sig.payload)}`}`)
  if (s.cancel !== undefined && !mark.cancelled) out.push(`cancel by ${who(s.cancel.by, s.peers)}${s.cancel.reason === '' ? '' : `: ${s.cancel.reason}`}`)
  const step = (key: string, st: StepRunState): void => {
    const before = mark.steps.get(key)
    const parts: string[] = []
    if (before === undefined || before.status !== st.status) parts.push(before === undefined ? st.status : `${before.status} → ${st.status}`)
    if (before !== undefined && before.attempt !== st.attempt) parts.push(`attempt ${before.attempt} → ${st.attempt}`)
    else if (parts.length > 0 && st.attempt > 0) parts.push(`attempt ${st.attempt}`)
    if ((before?.claimedBy ?? undefined) !== st.claimedBy) parts.push(st.claimedBy === undefined ? 'no holder' : `held by ${who(st.claimedBy, s.peers)}`)
    if (parts.length > 0) out.push(`step ${key}: ${parts.join(', ')}`)
    // Every claim decision is worth a line: who lost, and why, is what an audit asks.
    for (const d of st.decisions.slice(before?.decisions ?? 0)) out.push(`step ${key}: ${d.kind} by ${who(d.by, s.peers)} ${d.verdict}: ${d.why}`)
  }
  for (const [id, st] of Object.entries(s.steps)) step(id, st)
  for (const [id, st] of Object.entries(s.compensations)) step(`compensate ${id}`, st)
  if (s.output !== undefined && !mark.hasOutput) out.push(`output ${valueText(s.output)}`)
  if (s.error !== undefined && !mark.hasError) out.push(`error in ${s.error.step}: ${s.error.name}: ${s.error.message}`)
  if (s.endRecorded === true && !mark.endRecorded) out.push(`run end recorded (${s.status})`)
  for (const w of s.warnings.slice(mark.warnings)) out.push(`warning: ${w.message}`)
  return out
}

/** `…a1b2c3`: the end of a did:key (its start is the same for every ed25519 key). */
export function shortDid(did: string): string {
  return did.length > 14 ? `…${did.slice(-6)}` : did
}

/** A short did with the node id its peer announced in the run, if it did. */
export function who(did: string, peers: Readonly<Record<string, AnnouncedPeer>>): string {
  const node = peers[did]?.spec.id
  return node === undefined ? shortDid(did) : `${shortDid(did)} (${node})`
}

/** A value on one line: strings bare, the rest as JSON, cut to a readable length. */
export function valueText(v: unknown): string {
  let text: string
  try {
    text = typeof v === 'string' ? v : (JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? `<${x.length} bytes>` : x)) ?? 'undefined')
  } catch {
    text = String(v)
  }
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text
}
