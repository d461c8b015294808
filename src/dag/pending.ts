/**
 * The pending buffer: events that cannot enter the log yet, because a prev or parent is missing or
 * because no signature covers them yet. Bounded per peer, so one peer cannot exhaust memory by
 * sending orphans. Pure bookkeeping: the caller decides what "ready" means and asks for it.
 */
export interface PendingEntry<T> {
  key: string
  /** The peer that sent it (bounds are per peer). */
  from: string
  /** Keys this entry waits for. */
  waitsFor: string[]
  value: T
}

const NONE: readonly never[] = []

export type AddResult = 'added' | 'duplicate' | 'overflow'

export class PendingBuffer<T> {
  private readonly entries = new Map<string, PendingEntry<T>>()
  private readonly waiters = new Map<string, Set<string>>()
  private readonly perPeer = new Map<string, number>()

  /** @param limit at most this many entries per peer; past it `add` answers 'overflow'. */
  constructor(readonly limit: number) {}

  get size(): number {
    return this.entries.size
  }

  has(key: string): boolean {
    return this.entries.has(key)
  }

  get(key: string): PendingEntry<T> | undefined {
    return this.entries.get(key)
  }

  countFrom(peer: string): number {
    return this.perPeer.get(peer) ?? 0
  }

  add(entry: PendingEntry<T>): AddResult {
    if (this.entries.has(entry.key)) return 'duplicate'
    const n = this.perPeer.get(entry.from) ?? 0
    if (n >= this.limit) return 'overflow'
    this.entries.set(entry.key, entry)
    this.perPeer.set(entry.from, n + 1)
    for (const w of entry.waitsFor) {
      let s = this.waiters.get(w)
      if (!s) this.waiters.set(w, (s = new Set()))
      s.add(entry.key)
    }
    return 'added'
  }

  /** Entries waiting on `key` (their dependency may now be satisfied). */
  waitingOn(key: string): readonly PendingEntry<T>[] {
    const s = this.waiters.get(key)
    if (!s) return NONE
    return [...s].map((k) => this.entries.get(k)!).filter(Boolean)
  }

  /** Take an entry out (it entered the log, or was rejected). */
  remove(key: string): PendingEntry<T> | undefined {
    const e = this.entries.get(key)
    if (!e) return undefined
    this.entries.delete(key)
    const n = (this.perPeer.get(e.from) ?? 1) - 1
    if (n <= 0) this.perPeer.delete(e.from)
    else this.perPeer.set(e.from, n)
    for (const w of e.waitsFor) {
      const s = this.waiters.get(w)
      if (s) {
        s.delete(key)
        if (s.size === 0) this.waiters.delete(w)
      }
    }
    return e
  }

  values(): IterableIterator<PendingEntry<T>> {
    return this.entries.values()
  }

  clear(): void {
    this.entries.clear()
    this.waiters.clear()
    this.perPeer.clear()
  }
}
