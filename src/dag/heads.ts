/**
 * Heads and author chains over a set of nodes, computed from scratch. Stores maintain the same
 * sets incrementally; these are the reference the tests and the audit compare against.
 */
import { compareBytes } from './bytes.js'
import { linksOf, type DagNode } from './node.js'

/** Nodes nothing in the set links to, sorted by CID bytes. */
export function computeHeads(nodes: Iterable<DagNode>): DagNode[] {
  const all = [...nodes]
  const linked = new Set<string>()
  for (const n of all) for (const l of linksOf(n)) linked.add(l)
  return all.filter((n) => !linked.has(n.key)).sort((a, b) => compareBytes(a.cid, b.cid))
}

/** Each author's events ascending by seq (a forked author has two at a seq, by CID bytes). */
export function authorChains(nodes: Iterable<DagNode>): Map<string, DagNode[]> {
  const chains = new Map<string, DagNode[]>()
  for (const n of nodes) {
    let c = chains.get(n.author)
    if (!c) chains.set(n.author, (c = []))
    c.push(n)
  }
  for (const c of chains.values()) c.sort((a, b) => a.seq - b.seq || compareBytes(a.cid, b.cid))
  return chains
}
