/**
 * What a peer lacks, read from the store: given the heads and version vector it sent, the
 * segments of each author's chain past what it holds, merged into the total order. The cost
 * grows with the difference: one indexed read per author to find where its segment starts,
 * then only the events sent. Equal heads send nothing.
 *
 * Forks (an author with two events at one seq) cannot be placed by a seq alone; for a forked
 * author, on either side, the whole chain is sent and the receiver drops what it holds. Forks
 * are equivocation evidence, rare by nature, so their cost does not shape the common path.
 */
import { bytesKey, equalBytes } from '../../dag/bytes.js'
import { compareEvents } from '../../dag/order.js'
import type { EventStore, StoredEvent } from '../../stores/event-store.js'
import type { SyncState } from '../log.js'
import type { AuthorVector } from './messages.js'

/** One author's events to send, in the total order (a chain's seq order is its clock order). */
interface Source {
  page: StoredEvent[]
  at: number
  next: (() => Promise<StoredEvent[]>) | undefined
}

function sameHeads(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false
  // Both sides send heads sorted by bytes.
  for (let i = 0; i < a.length; i++) if (!equalBytes(a[i], b[i])) return false
  return true
}

/**
 * Whether `remote` holds events `local` lacks, judged by the vectors alone (no store reads): an
 * author we do not know, a higher seq, or other tips at our seq or above. A remote behind us on
 * an author is taken to be on our chain; if it forked there, the haves both sides send on
 * connect still bring the branch over (see `segmentStart`).
 */
export function lacksFrom(local: SyncState, remote: { heads: Uint8Array[]; authors: AuthorVector[] }): boolean {
  if (sameHeads(local.heads, remote.heads)) return false
  const mine = new Map(local.authors.map((a) => [bytesKey(a.key), a]))
  for (const r of remote.authors) {
    const m = mine.get(bytesKey(r.key))
    if (m === undefined || r.seq > m.seq) return true
    if (r.seq === m.seq && !r.tips.every((t) => m.tips.some((x) => equalBytes(x, t)))) return true
  }
  return false
}

/**
 * The events of `log` that a peer with `remote` lacks, in total order, in pages of about
 * `pageSize`. `local` is this side's state for the same log.
 */
export async function* missingEvents(
  store: EventStore,
  log: string,
  local: SyncState,
  remote: { heads: Uint8Array[]; authors: AuthorVector[] },
  pageSize = 512,
): AsyncGenerator<StoredEvent[]> {
  if (sameHeads(local.heads, remote.heads)) return
  const theirs = new Map<string, AuthorVector>()
  for (const r of remote.authors) theirs.set(bytesKey(r.key), r)
  const sources: Source[] = []
  for (const a of local.authors) {
    const r = theirs.get(bytesKey(a.key))
    const from = await segmentStart(store, a, r)
    if (from === undefined) continue
    if (from === 'whole') {
      // A fork: every event of the author (seq order is not the total order across branches).
      sources.push({ page: await wholeChain(store, log, a.key), at: 0, next: undefined })
      continue
    }
    let nextSeq = from
    const read = async (): Promise<StoredEvent[]> => {
      const page = await store.byAuthor(log, a.key, { fromSeq: nextSeq, limit: pageSize })
      nextSeq = page.length > 0 ? page[page.length - 1].seq + 1 : nextSeq
      return page
    }
    const first = await read()
    if (first.length === 0) continue
    sources.push({ page: first, at: 0, next: first.length < pageSize ? undefined : read })
  }
  yield* merge(sources, pageSize)
}

/**
 * Where the remote's copy of this author's chain ends: the first seq to send, `'whole'` for a
 * fork, or undefined when it holds everything.
 */
async function segmentStart(store: EventStore, mine: AuthorVector, theirs: AuthorVector | undefined): Promise<number | 'whole' | undefined> {
  if (theirs === undefined) return mine.tips.length === 1 ? 1 : 'whole'
  if (mine.tips.length !== 1 || theirs.tips.length !== 1) return 'whole'
  const tip = mine.tips[0]
  if (equalBytes(theirs.tips[0], tip)) return undefined
  // Ahead of us (a tip we do not hold, past our seq): their chain holds ours, unless the author
  // forked; then our ingest of their answer finds the fork, and the replicator sends our branch.
  if (theirs.seq > mine.seq) return undefined
  // Their tip is on our (single) chain when we hold it: then they hold every event up to it.
  if (await store.has(theirs.tips[0])) return theirs.seq < mine.seq ? theirs.seq + 1 : undefined
  return 'whole'
}

/** Every event of one author in `log`, in the total order: what a fork makes us send whole. */
export async function wholeChain(store: EventStore, log: string, author: Uint8Array): Promise<StoredEvent[]> {
  const all: StoredEvent[] = []
  for (let seq = 1; ; ) {
    const page = await store.byAuthor(log, author, { fromSeq: seq, limit: 1024 })
    all.push(...page)
    if (page.length < 1024) break
    seq = page[page.length - 1].seq + 1
  }
  const seen = new Set<string>()
  return all
    .filter((e) => {
      const k = bytesKey(e.cid)
      if (seen.has(k)) return false
      seen.add(k)
      return true
    })
    .sort(compareEvents)
}

/** A k-way merge of the sources by the total order, yielding pages. */
async function* merge(sources: Source[], pageSize: number): AsyncGenerator<StoredEvent[]> {
  const heap: Source[] = []
  const less = (x: Source, y: Source): boolean => compareEvents(x.page[x.at], y.page[y.at]) < 0
  const up = (i: number): void => {
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!less(heap[i], heap[p])) return
      ;[heap[i], heap[p]] = [heap[p], heap[i]]
      i = p
    }
  }
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < heap.length && less(heap[l], heap[m])) m = l
      if (r < heap.length && less(heap[r], heap[m])) m = r
      if (m === i) return
      ;[heap[i], heap[m]] = [heap[m], heap[i]]
      i = m
    }
  }
  for (const s of sources) {
    heap.push(s)
    up(heap.length - 1)
  }
  let out: StoredEvent[] = []
  while (heap.length > 0) {
    const s = heap[0]
    out.push(s.page[s.at++])
    if (s.at === s.page.length) {
      const more = s.next ? await s.next() : []
      if (more.length === 0) {
        const last = heap.pop()!
        if (heap.length > 0) {
          heap[0] = last
          down(0)
        }
      } else {
        s.page = more
        s.at = 0
        if (more.length < pageSize) s.next = undefined
        down(0)
      }
    } else down(0)
    if (out.length >= pageSize) {
      yield out
      out = []
    }
  }
  if (out.length > 0) yield out
}
