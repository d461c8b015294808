/**
 * Every `xsync.*` event type of the views layer, its body, and a constructor for each, so no
 * type string is spelled twice (STYLE §11). Constructors return `{ type, body }`, ready for
 * `log.appendBatch([...])` or `log.append(e.type, e.body)`.
 */
import type { ClaimMode } from './claims.js'
import type { Placement, RuntimeNodeSpec } from './placement.js'

export const WORK = {
  enqueued: 'xsync.work.enqueued',
  claimed: 'xsync.work.claimed',
  renewed: 'xsync.work.renewed',
  released: 'xsync.work.released',
  completed: 'xsync.work.completed',
  failed: 'xsync.work.failed',
} as const
export const PEER_HELLO = 'xsync.peer.hello'
export const PEER_BYE = 'xsync.peer.bye'
export const DOC_CHANGE = 'xsync.doc.change'

export interface WorkEnqueuedBody {
  item: string
  data?: unknown
  /** @default 'lease' */
  mode?: ClaimMode
  ttlMs?: number
  authority?: string
  timeoutMs?: number
  placement?: Placement
}
export interface WorkClaimedBody {
  item: string
  /** `deterministic-election`: the did of the stalled winner this claim takes over from. */
  takeover?: string
}
export interface WorkClaimRefBody {
  item: string
  /** The holder's claim CID (string). */
  claim: string
}
export interface WorkCompletedBody {
  item: string
  claim?: string
  result?: unknown
}
export interface WorkFailedBody {
  item: string
  claim?: string
  error?: string
}

export interface TypedEvent<B> {
  type: string
  body: B
}

export const workEnqueued = (body: WorkEnqueuedBody): TypedEvent<WorkEnqueuedBody> => ({ type: WORK.enqueued, body })
export const workClaimed = (body: WorkClaimedBody): TypedEvent<WorkClaimedBody> => ({ type: WORK.claimed, body })
export const workRenewed = (body: WorkClaimRefBody): TypedEvent<WorkClaimRefBody> => ({ type: WORK.renewed, body })
export const workReleased = (body: WorkClaimRefBody): TypedEvent<WorkClaimRefBody> => ({ type: WORK.released, body })
export const workCompleted = (body: WorkCompletedBody): TypedEvent<WorkCompletedBody> => ({ type: WORK.completed, body })
export const workFailed = (body: WorkFailedBody): TypedEvent<WorkFailedBody> => ({ type: WORK.failed, body })
export const peerHello = (spec: RuntimeNodeSpec): TypedEvent<RuntimeNodeSpec> => ({ type: PEER_HELLO, body: spec })
export const peerBye = (reason?: string): TypedEvent<{ reason?: string }> => ({ type: PEER_BYE, body: reason === undefined ? {} : { reason } })
