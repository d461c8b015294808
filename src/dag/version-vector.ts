/**
 * Version vectors: per author, the highest seq held, plus every chain tip when the author forked.
 * Sync sends one; the other side answers with exactly the chain segments the sender lacks, so the
 * cost grows with the difference, not the log.
 */
import type { DagNode } from './node.js'

export interface AuthorEntry {
  /** The highest seq held for this author. */
  seq: number
  /** Keys of the author's chain tips (one, or more for a forked author). */
  tips: string[]
}

export type VersionVector = Map<string, AuthorEntry>

export function versionVector(nodes: Iterable<DagNode>): VersionVector {
  const vv: VersionVector = new Map()
  const hasNext = new Set<string>()
  const all = [...nodes]
  for (const n of all) if (n.prev !== null) hasNext.add(n.prev)
  for (const n of all) {
    let e = vv.get(n.author)
    if (!e) vv.set(n.author, (e = { seq: 0, tips: [] }))
    if (n.seq > e.seq) e.seq = n.seq
    if (!hasNext.has(n.key)) e.tips.push(n.key)
  }
  for (const e of vv.values()) e.tips.sort()
  return vv
}

/** Per author, the first seq the remote lacks (authors it has nothing of start at 1). */
export function missingRanges(local: VersionVector, remote: VersionVector): Map<string, number> {
  const out = new Map<string, number>()
  for (const [author, mine] of local) {
    const theirs = remote.get(author)
    if (theirs === undefined) out.set(author, 1)
    else if (mine.seq > theirs.seq) out.set(author, theirs.seq + 1)
  }
  return out
}

/**
 * The nodes a peer with `remote` lacks, given all local nodes. A node is lacked when its seq is
 * past the remote's for that author, or when it is on a fork branch whose tip the remote does
 * not name (the remote may have the same seq on the other branch).
 */
export function lackedBy(nodes: Iterable<DagNode>, remote: VersionVector, lookup: (key: string) => DagNode | undefined): DagNode[] {
  const out: DagNode[] = []
  const all = [...nodes]
  // Nodes the remote provably has: every node on the prev chain of a tip it names.
  const has = new Set<string>()
  for (const e of remote.values()) {
    for (const tip of e.tips) {
      let k: string | null = tip
      while (k !== null && !has.has(k)) {
        has.add(k)
        k = lookup(k)?.prev ?? null
      }
    }
  }
  for (const n of all) {
    const r = remote.get(n.author)
    if (r === undefined || n.seq > r.seq) out.push(n)
    else if (r.tips.length > 0 && !has.has(n.key)) out.push(n)
  }
  return out
}
