/**
 * Ancestry queries. Clocks grow along every edge, so a walk back from `b` never needs to visit a
 * node whose clock is at or below `a`'s: that prunes the walk to the slice of the DAG between them.
 */
import { linksOf, type DagNode } from './node.js'

export type NodeLookup = (key: string) => DagNode | undefined

/** Whether `a` is a strict ancestor of `b` (reachable from `b` through prev/parents). */
export function isAncestor(lookup: NodeLookup, a: DagNode, b: DagNode): boolean {
  if (a.clock >= b.clock) return false
  const seen = new Set<string>()
  const stack = [b]
  while (stack.length > 0) {
    const n = stack.pop()!
    for (const l of linksOf(n)) {
      if (l === a.key) return true
      if (seen.has(l)) continue
      seen.add(l)
      const p = lookup(l)
      if (p !== undefined && p.clock > a.clock) stack.push(p)
    }
  }
  return false
}

/** The keys of every ancestor of `node` that `lookup` knows (not including `node`). */
export function ancestors(lookup: NodeLookup, node: DagNode): Set<string> {
  const seen = new Set<string>()
  const stack = [node]
  while (stack.length > 0) {
    const n = stack.pop()!
    for (const l of linksOf(n)) {
      if (seen.has(l)) continue
      seen.add(l)
      const p = lookup(l)
      if (p !== undefined) stack.push(p)
    }
  }
  return seen
}
