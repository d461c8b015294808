/**
 * Heads and tips as net changes. `memoryStore` applies each event's links one by one (its
 * parents and prev stop being heads, its prev stops being a tip, it becomes both). A durable
 * store should not issue a statement or write a record per step: folding a batch down to the
 * last step per `(log, cid)` gives the same end state with a handful of changes, because a
 * 256-event chain leaves one head, not 256.
 */
import { bytesKey, equalBytes } from '../dag/bytes.js'
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

/** A change while the batch is folded: `born` marks a CID stored by this very batch. */
interface Step extends LinkChange {
  born: boolean
}

/**
 * The net head and tip changes of storing `added` in order. Pass only the events actually
 * stored (duplicates skipped), exactly as `memoryStore` would have walked them.
 *
 * A CID stored by this batch was no head or tip before it, so if a later event of the batch
 * covers it, there is nothing to undo: no change is emitted. A 256-event chain gives one head
 * and one tip set live and the previous ones unset, not 256 deletions.
 */
export function linkChanges(added: readonly EventPut[]): LinkChanges {
  // Keyed by log and CID: heads are per log, and a cross-log parent must not unlink anything here.
  // A later step on the same key overwrites an earlier one: only the end state is kept.
  const heads = new Map<string, Step>()
  const tips = new Map<string, Step>()
  const unset = (m: Map<string, Step>, key: string, log: string, cid: Uint8Array): void => {
    const had = m.get(key)
    if (had === undefined) m.set(key, { log, cid, live: false, born: false })
    else had.live = false
  }
  // Most batches are chains: an event's prev (and its one parent) is the event just before it.
  // Reusing that event's key saves building two of the three keys per event.
  let lastLog = ''
  let lastCid: Uint8Array | undefined
  let lastKey = ''
  const keyOf = (log: string, cid: Uint8Array): string =>
    lastCid !== undefined && log === lastLog && equalBytes(cid, lastCid) ? lastKey : `${log}\n${bytesKey(cid)}`
  for (const e of added) {
    const log = e.log
    let prevKey: string | undefined
    if (e.prev !== null) {
      prevKey = keyOf(log, e.prev)
      unset(heads, prevKey, log, e.prev)
      unset(tips, prevKey, log, e.prev)
    }
    for (const p of e.parents) unset(heads, prevKey !== undefined && equalBytes(p, e.prev!) ? prevKey : keyOf(log, p), log, p)
    const key = `${log}\n${bytesKey(e.cid)}`
    heads.set(key, { log, cid: e.cid, live: true, born: true })
    tips.set(key, { log, cid: e.cid, live: true, born: true })
    lastLog = log
    lastCid = e.cid
    lastKey = key
  }
  return { heads: net(heads), tips: net(tips) }
}

function net(steps: Map<string, Step>): LinkChange[] {
  const out: LinkChange[] = []
  for (const s of steps.values()) if (s.live || !s.born) out.push({ log: s.log, cid: s.cid, live: s.live })
  return out
}
