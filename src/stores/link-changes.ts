/**
 * Heads and tips as net changes. `memoryStore` applies each event's links one by one (its
 * parents and prev stop being heads, its prev stops being a tip, it becomes both). A durable
 * store should not issue a statement or write a record per step: folding a batch down to the
 * last step per `(log, cid)` gives the same end state with a handful of changes, because a
 * 256-event chain leaves one head, not 256.
 */
import { bytesKey } from '../dag/bytes.js'
import type { EventPut } from './event-store.js'

/** The end state of one `(log, cid)` after a batch: still (or newly) a head/tip, or not. */
export interface LinkChange {
  log: string
  cid: Uint8Array
  /** True: it is a head (tip) after the batch. False: it is not, whatever it was before. */
  live: boolean
}

export interface LinkChanges {
  heads: LinkChange[]
  tips: LinkChange[]
}

/**
 * The net head and tip changes of storing `added` in order. Pass only the events actually
 * stored (duplicates skipped), exactly as `memoryStore` would have walked them.
 */
export function linkChanges(added: readonly EventPut[]): LinkChanges {
  // Keyed by log and CID: heads are per log, and a cross-log parent must not unlink anything here.
  const heads = new Map<string, LinkChange>()
  const tips = new Map<string, LinkChange>()
  const set = (m: Map<string, LinkChange>, log: string, cid: Uint8Array, live: boolean): void => {
    // A later step on the same key overwrites an earlier one: only the end state is kept.
    m.set(`${log}\n${bytesKey(cid)}`, { log, cid, live })
  }
  for (const e of added) {
    for (const p of e.parents) set(heads, e.log, p, false)
    if (e.prev !== null) {
      set(heads, e.log, e.prev, false)
      set(tips, e.log, e.prev, false)
    }
    set(heads, e.log, e.cid, true)
    set(tips, e.log, e.cid, true)
  }
  return { heads: [...heads.values()], tips: [...tips.values()] }
}
