/**
 * The total order of a log: ascending `(clock, CID bytes)`. `clock` grows along every edge, so
 * this is a topological order, and every peer holding the same events derives the same sequence.
 * This is the only place events are compared; views, sync, stores and the audit CLI import it.
 */
import { compareBytes } from './bytes.js'

/** Anything that has a place in the order. */
export interface Ordered {
  clock: number
  cid: Uint8Array
}

/** Negative when `a` sorts before `b`, positive after, 0 for the same CID. */
export function compareEvents(a: Ordered, b: Ordered): number {
  return a.clock - b.clock || compareBytes(a.cid, b.cid)
}

/** Sort in place by the total order, and return the array. */
export function sortEvents<T extends Ordered>(events: T[]): T[] {
  return events.sort(compareEvents)
}

/** The index at which `item` belongs in the sorted `list` (after any equal item). */
export function orderedIndex<T extends Ordered>(list: readonly T[], item: Ordered): number {
  // Appends dominate (new events mostly sort last): check the tail first.
  const n = list.length
  if (n === 0 || compareEvents(list[n - 1], item) <= 0) return n
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareEvents(list[mid], item) <= 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * Insert into a sorted list. Returns the index it landed at, so a fold over the list knows how
 * much of its previous order the new item invalidates: everything from that index on.
 */
export function insertOrdered<T extends Ordered>(list: T[], item: T): number {
  const i = orderedIndex(list, item)
  if (i === list.length) list.push(item)
  else list.splice(i, 0, item)
  return i
}

/** The index of the first item strictly after `position` in a sorted list. */
export function indexAfter(list: readonly Ordered[], position: Ordered | undefined): number {
  if (position === undefined) return 0
  return orderedIndex(list, position)
}
