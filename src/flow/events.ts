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

/** The registry log (DESIGN §10): one event per publication of a definition. */
export const REGISTRY = { published: 'stateflow.registry.published' } as const

/** A definition's manifest: what is signed about it. */
export interface RegistryManifest {
  /** The definition's id (1-128 of `A-Z a-z 0-9 _ . : -`). */
  id: string
  /** Semver `x.y.z[-prerelease]`. */
  version: string
  /** `sha256:<hex>` of the definition's RFC 8785 canonical JSON bytes. */
  contentHash: string
  /** What the definition is: `stateflow.workflow`, `flowstate`, … */
  format: string
  /** The did:key that signed, exactly one in this version of the manifest. */
  signers: string[]
  /** `ed25519:<hex>` over `stateflow/registry/manifest/v1\n` + the canonical JSON of the manifest without `signature`. */
  signature: string
  /** Extensions the definition needs; a resolver must allow each. Sorted, unique. */
  extensions: string[]
  /** `sha256:<hex>` of the UTF-8 SCXML rendering, when the publication carries one. */
  scxmlHash?: string
}

export interface RegistryPublishedBody {
  manifest: RegistryManifest
  /** The definition's canonical JSON text: exactly the bytes `contentHash` covers. */
  definition: string
  scxml?: string
}

export function registryPublished(body: RegistryPublishedBody): { type: typeof REGISTRY.published; body: RegistryPublishedBody } {
  return { type: REGISTRY.published, body }
}
