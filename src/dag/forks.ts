/**
 * Fork evidence: two different authentic events by one author at one seq. Signed, so anyone can
 * check it; both events are kept, and the author counts as forked from that seq on.
 */
import { compareBytes } from './bytes.js'
import type { DagNode } from './node.js'

export interface ForkEvidence {
  author: string
  seq: number
  /** The two CIDs, sorted by bytes so every peer reports the same pair. */
  a: Uint8Array
  b: Uint8Array
}

export function forkEvidence(x: DagNode, y: DagNode): ForkEvidence | undefined {
  if (x.author !== y.author || x.seq !== y.seq || x.key === y.key) return undefined
  const [a, b] = compareBytes(x.cid, y.cid) < 0 ? [x.cid, y.cid] : [y.cid, x.cid]
  return { author: x.author, seq: x.seq, a, b }
}

/** Every fork in a set of nodes: for each author and seq with two or more events, one evidence per extra event. */
export function findForks(nodes: Iterable<DagNode>): ForkEvidence[] {
  const at = new Map<string, DagNode>()
  const out: ForkEvidence[] = []
  for (const n of nodes) {
    const k = `${n.author}:${n.seq}`
    const other = at.get(k)
    if (other === undefined) at.set(k, n)
    else out.push(forkEvidence(other, n)!)
  }
  return out.sort((p, q) => (p.author < q.author ? -1 : p.author > q.author ? 1 : p.seq - q.seq || compareBytes(p.a, q.a)))
}

/** The lowest forked seq per author: built-in views ignore that author's events from there on. */
export function forkedFrom(forks: Iterable<ForkEvidence>): Map<string, number> {
  const out = new Map<string, number>()
  for (const f of forks) {
    const s = out.get(f.author)
    if (s === undefined || f.seq < s) out.set(f.author, f.seq)
  }
  return out
}
