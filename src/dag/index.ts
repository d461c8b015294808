/**
 * Pure DAG algorithms over events: the total order, heads, author chains, ancestry, the pending
 * buffer, fork evidence, version vectors and what a peer lacks. No storage, no sockets, no I/O.
 *
 * @example
 * import { compareEvents } from './order.js'
 * events.sort(compareEvents) // the log's total order, the same on every peer
 */
export { compareEvents, sortEvents, insertOrdered, orderedIndex, indexAfter, type Ordered } from './order.js'
export { compareBytes, equalBytes, toHex, fromHex } from './bytes.js'
export { linksOf, type DagNode } from './node.js'
export { computeHeads, authorChains } from './heads.js'
export { isAncestor, ancestors, type NodeLookup } from './ancestry.js'
export { forkEvidence, findForks, forkedFrom, type ForkEvidence } from './forks.js'
export { versionVector, missingRanges, lackedBy, type VersionVector, type AuthorEntry } from './version-vector.js'
export { PendingBuffer, type PendingEntry, type AddResult } from './pending.js'
