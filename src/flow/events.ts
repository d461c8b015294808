/**
 * The events of a workflow run (DESIGN §9). A run is a log; these are its event types and bodies.
 *
 * Every decision the run depends on is in the log: the definition (canonical form) in the start
 * event; the claims; each result with, for every outgoing link, whether it is followed and the
 * next step's input (`next`, computed by the peer that ran the step, from the link's `map` and
 * `when`); timers fired and retries begun by whichever peer saw them due. So `flowRunView` folds a
 * run with no code but its own, and every peer derives the same state.
 */
import type { CanonicalWorkflow } from './define.js'

export const FLOW = {
  started: 'stateflow.workflow.started',
  completed: 'stateflow.workflow.completed',
  failed: 'stateflow.workflow.failed',
  cancelled: 'stateflow.workflow.cancelled',
} as const

export const STEP = {
  claimed: 'stateflow.step.claimed',
  started: 'stateflow.step.started',
  succeeded: 'stateflow.step.succeeded',
  failed: 'stateflow.step.failed',
  retrying: 'stateflow.step.retrying',
  timedOut: 'stateflow.step.timed-out',
  cancelled: 'stateflow.step.cancelled',
} as const

export const SIGNAL = 'stateflow.signal'
export const TIMER = { set: 'stateflow.timer.set', fired: 'stateflow.timer.fired' } as const
export const WARNING = 'stateflow.warning'

export interface StartedBody {
  workflow: CanonicalWorkflow
  hash: string
  input: unknown
  idempotencyKey?: string
  /** A child run: the parent run, step and attempt that started it. */
  parent?: { runId: string; step: string; attempt: number }
}

/** Where a step event points: the step, the attempt, and (for compensations) the phase. */
export interface StepRef {
  step: string
  attempt: number
  /** The event is about the step's compensation, not the step. */
  compensate?: boolean
}

/** For each outgoing link: skipped, or the next step's input. */
export type NextInputs = Record<string, { skip: true } | { input: unknown }>

export interface ClaimedBody extends StepRef {
  /** `deterministic-election`: the winner this claim takes over from. */
  takeover?: string
  /** A lease renewal: the holder's current claim CID. */
  renew?: string
}

export interface StartedStepBody extends StepRef {
  claim?: string
}

export interface SucceededBody extends StepRef {
  claim?: string
  output: unknown
  next?: NextInputs
  /** A wait step: the signal event (CID string) that satisfied it. */
  signal?: string
}

export interface StepErrorBody {
  name: string
  message: string
  retryable: boolean
}

export interface FailedBody extends StepRef {
  claim?: string
  error: StepErrorBody
}

export interface TimerFiredBody {
  step: string
  next?: NextInputs
}
