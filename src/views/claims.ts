/**
 * Claims (DESIGN §8): who runs a work item, decided by a pure function of the folded events, so
 * every peer that holds the same events names the same winner with no coordinator.
 *
 * | mode | winner |
 * |---|---|
 * | `authority` | the first claim by the item's named authority (a did); anyone else's is ignored |
 * | `lease` | the first claim in total order with no unexpired lease before it; a lease lasts `ttlMs` of log time from its claim or its holder's last renewal, or until released; the winning claim's CID is the fencing token |
 * | `deterministic-election` | the announced peer (hello, no bye) whose placement fits with the highest rendezvous hash of (item, did); if the log shows no progress from the winner for `timeoutMs` of log time, the next-ranked may take over with a claim that names the winner |
 * | `optimistic-idempotent` | no claim needed: the first valid result in total order; later ones are duplicates |
 *
 * Everything here reads only the item, the announced peers and log time (`ctx.time`): never the
 * clock, randomness or arrival order.
 */
import { compareBytes, toHex } from '../dag/bytes.js'
import { sha256 } from '../log/crypto-backend.js'
import { checkPlacement, type Placement, type RuntimeNodeSpec } from './placement.js'

export type ClaimMode = 'authority' | 'lease' | 'deterministic-election' | 'optimistic-idempotent'
export const CLAIM_MODES: readonly ClaimMode[] = ['authority', 'lease', 'deterministic-election', 'optimistic-idempotent']

/** One decision the resolver took, kept on the item so the outcome can be explained. */
export interface Decision {
  /** The deciding event (CID string). */
  cid: string
  kind: 'claim' | 'renew' | 'release' | 'result'
  by: string
  /** Log time when it was folded. */
  time: number
  verdict: 'won' | 'lost' | 'ignored' | 'renewed' | 'released' | 'accepted' | 'duplicate' | 'stale'
  why: string
}

export interface Winner {
  /** The winning claim's CID (string): the fencing token. Absent for optimistic results. */
  claim: string
  by: string
  /** Log time it won. */
  since: number
  /** `lease`: log time the lease ends unless renewed. */
  expires?: number
  /** `deterministic-election`: log time of the winner's last event for this item. */
  progress?: number
}

export interface ClaimRules {
  mode: ClaimMode
  /** `lease`: how long a lease lasts (log time). */
  ttlMs?: number
  /** `authority`: the did that runs it. */
  authority?: string
  /** `deterministic-election`: how long without progress before the next-ranked may take over. */
  timeoutMs?: number
  /** Where it may run; checked against the claimer's announced spec. */
  placement?: Placement
}

export interface AnnouncedPeer {
  spec: RuntimeNodeSpec
  left?: number
}

/** The rendezvous score of a peer for an item: sha256(item ‖ 0 ‖ did), compared as bytes. */
export function rendezvousScore(item: string, did: string): Uint8Array {
  return sha256(new TextEncoder().encode(`${item}\u0000${did}`))
}

/**
 * Announced peers (not left) whose placement fits, best first by rendezvous hash: the election
 * order for `item`. Ties cannot happen between different dids short of a sha256 collision.
 */
export function electionRank(item: string, peers: Readonly<Record<string, AnnouncedPeer>>, placement?: Placement): { did: string; score: string }[] {
  const out: { did: string; score: Uint8Array }[] = []
  for (const [did, p] of Object.entries(peers)) {
    if (p.left !== undefined) continue
    if (placement && !checkPlacement(placement, p.spec).ok) continue
    out.push({ did, score: rendezvousScore(item, did) })
  }
  out.sort((a, b) => compareBytes(b.score, a.score))
  return out.map((x) => ({ did: x.did, score: toHex(x.score.subarray(0, 8)) }))
}

const FITS = Object.freeze({ ok: true } as const)

/** Whether `by` may act on an item with these rules, placement-wise (`optimistic`, `lease`). */
export function fits(rules: ClaimRules, by: string, peers: Readonly<Record<string, AnnouncedPeer>>): { ok: true } | { ok: false; why: string } {
  if (!rules.placement) return FITS
  const p = peers[by]
  if (!p || p.left !== undefined) return { ok: false, why: 'the item has a placement and the claimer has not announced itself (xsync.peer.hello)' }
  const c = checkPlacement(rules.placement, p.spec)
  return c.ok ? FITS : { ok: false, why: `placement: ${c.reason}` }
}

// Module-level rather than a closure per call: the fold decides a claim per claim event.
function claimDecision(claim: ClaimInput, verdict: Decision['verdict'], why: string): Decision {
  return { cid: claim.cid, kind: 'claim', by: claim.by, time: claim.time, verdict, why }
}

export interface ClaimInput {
  cid: string
  by: string
  time: number
  /** `deterministic-election`: the did of the winner this claim takes over from. */
  takeover?: string
}

/**
 * Decide a claim against the current winner. Returns the new winner (or the same one) and the
 * decision to record. Pure.
 */
export function decideClaim(
  rules: ClaimRules,
  item: string,
  current: Winner | null,
  claim: ClaimInput,
  peers: Readonly<Record<string, AnnouncedPeer>>,
  /** Log time since when the item has been claimable (enqueued, or released). */
  claimableSince: number,
): { winner: Winner | null; decision: Decision } {
  switch (rules.mode) {
    case 'authority': {
      if (claim.by !== rules.authority) return { winner: current, decision: claimDecision(claim, 'ignored', `only the authority ${rules.authority ?? '(none named)'} may claim`) }
      if (current) return { winner: current, decision: claimDecision(claim, 'ignored', 'the authority already holds it') }
      return { winner: { claim: claim.cid, by: claim.by, since: claim.time }, decision: claimDecision(claim, 'won', 'claim by the named authority') }
    }
    case 'lease': {
      const f = fits(rules, claim.by, peers)
      if (!f.ok) return { winner: current, decision: claimDecision(claim, 'ignored', f.why) }
      const ttl = rules.ttlMs ?? 30_000
      if (current && current.expires !== undefined && claim.time < current.expires) {
        return { winner: current, decision: claimDecision(claim, 'lost', `lease held by ${current.by} until log time ${current.expires}`) }
      }
      const why = current ? `the previous lease (${current.by}) expired at log time ${current.expires}` : 'first claim with no lease before it'
      return { winner: { claim: claim.cid, by: claim.by, since: claim.time, expires: claim.time + ttl }, decision: claimDecision(claim, 'won', why) }
    }
    case 'deterministic-election': {
      const rank = electionRank(item, peers, rules.placement)
      const place = rank.findIndex((r) => r.did === claim.by)
      if (place < 0) return { winner: current, decision: claimDecision(claim, 'ignored', 'not an announced peer whose placement fits') }
      const timeout = rules.timeoutMs ?? 30_000
      if (!current) {
        // Nobody holds it: rank k may claim once k timeouts of log time have passed unclaimed
        // (the peers ranked above it stayed silent).
        const waited = claim.time - claimableSince
        if (place === 0) return { winner: { claim: claim.cid, by: claim.by, since: claim.time, progress: claim.time }, decision: claimDecision(claim, 'won', `ranked first of ${rank.length} by rendezvous hash`) }
        if (waited >= place * timeout) {
          return { winner: { claim: claim.cid, by: claim.by, since: claim.time, progress: claim.time }, decision: claimDecision(claim, 'won', `ranked ${place + 1} of ${rank.length}; unclaimed for ${waited} ms of log time (${place} × timeout ${timeout})`) }
        }
        return { winner: null, decision: claimDecision(claim, 'lost', `ranked ${place + 1} of ${rank.length}; ${rank[0].did} is first and the item has been claimable only ${waited} ms of log time`) }
      }
      if (current.by === claim.by) return { winner: { ...current, progress: claim.time }, decision: claimDecision(claim, 'ignored', 'already the winner (counts as progress)') }
      if (claim.takeover !== current.by) return { winner: current, decision: claimDecision(claim, 'lost', `${current.by} holds it; a takeover must name it`) }
      const idle = claim.time - (current.progress ?? current.since)
      if (idle < timeout) return { winner: current, decision: claimDecision(claim, 'lost', `the winner made progress ${idle} ms of log time ago (timeout ${timeout})`) }
      // The next-ranked after the stalled winner (wrapping past it) takes over.
      const cur = rank.findIndex((r) => r.did === current.by)
      const next = rank[(cur + 1) % rank.length]
      if (next.did !== claim.by) return { winner: current, decision: claimDecision(claim, 'lost', `the next-ranked after ${current.by} is ${next.did}`) }
      return { winner: { claim: claim.cid, by: claim.by, since: claim.time, progress: claim.time }, decision: claimDecision(claim, 'won', `takeover: ${current.by} showed no progress for ${idle} ms of log time`) }
    }
    case 'optimistic-idempotent':
      return { winner: current, decision: claimDecision(claim, 'ignored', 'optimistic-idempotent items need no claim: the first valid result wins') }
  }
}
