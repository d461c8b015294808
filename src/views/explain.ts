/** `explainClaim`: a work item's outcome in words, from the folded state alone. */
import { NotFoundError } from '../errors.js'
import { electionRank, type ClaimMode, type Decision, type Winner } from './claims.js'
import type { WorkItem, WorkQueueState, WorkResult } from './work-queue.js'

/** Why an item has the winner it has: the mode, the candidates in rank order, the deciding events. */
export interface ClaimExplanation {
  item: string
  mode: ClaimMode
  status: WorkItem['status']
  winner: Winner | null
  result: WorkResult | null
  /** `deterministic-election`: announced, fitting peers best first; otherwise claimers in total order. */
  candidates: { did: string; rank: number; score?: string }[]
  /** The events that decided, in total order, with the verdict on each. */
  decisions: Decision[]
  summary: string
}

export function explainClaim(state: WorkQueueState, item: string): ClaimExplanation {
  const it = state.items.get(item)
  if (!it) throw new NotFoundError(`no work item ${JSON.stringify(item).slice(0, 80)}`)
  const mode = it.rules.mode
  let candidates: ClaimExplanation['candidates']
  if (mode === 'deterministic-election') {
    candidates = electionRank(item, state.peers, it.rules.placement).map((r, i) => ({ did: r.did, rank: i + 1, score: r.score }))
  } else {
    const seen: string[] = []
    for (const d of it.decisions) if ((d.kind === 'claim' || d.kind === 'result') && !seen.includes(d.by)) seen.push(d.by)
    candidates = seen.map((did, i) => ({ did, rank: i + 1 }))
  }
  const decisive = it.decisions.filter((d) => d.verdict === 'won' || d.verdict === 'accepted' || d.verdict === 'released')
  const last = decisive[decisive.length - 1]
  const who = it.winner ? `${it.winner.by} holds it by claim ${it.winner.claim}` : it.result ? `${it.result.by}'s result ${it.result.cid} ended it` : 'nobody holds it'
  const summary = `${mode}: ${who}${last ? ` (${last.why})` : ''}; item ${it.status}`
  return { item, mode, status: it.status, winner: it.winner, result: it.result, candidates, decisions: it.decisions, summary }
}
