/**
 * The in-memory index of one open log: heads, author tips (the version vector), membership sets
 * and a bounded cache of event metadata, loaded from the store on first use. Everything here can
 * be rebuilt from the store; it only saves decoding events again and again.
 */
import type { CID } from 'multiformats/cid'
import { keyBytes, bytesKey, compareBytes, equalBytes } from '../dag/bytes.js'
import type { DagNode } from '../dag/node.js'
import type { ForkEvidence } from '../dag/forks.js'
import type { EventStore, StoredEvent } from '../stores/event-store.js'
import { decodeEvent, eventCidFromBytes, type DecodedEvent } from './codec.js'
import { isMembershipType } from './event-types.js'
import { foldMembership, type MembershipEvent, type MembershipState } from './membership.js'

/** What validation needs to know of an event that is already in the log. */
export interface EventMeta extends DagNode {
  authorBytes: Uint8Array
  type: string
  /** For `log:` logs: the interned set of membership events in the causal past (inclusive). */
  mset?: string
  /** Set when the CID names an event of another log (a `PARENT_LOG` error for whoever links it). */
  foreignLog?: string
}

/** Joins keys in a membership set; keys are one char per byte (≤ U+00FF), so U+0100 never occurs in one. */
const MSET_SEP = '\u0100'

export interface AuthorState {
  seq: number
  tips: Map<string, EventMeta>
}

/**
 * A bounded map that forgets the least recently used half at a time: two generations, O(1)
 * always. (Evicting one entry per insert via `keys().next()` walks the deleted slots at the front
 * of a V8 Map: it turned appends quadratic once the cache was full.)
 */
class Lru<V> {
  private young = new Map<string, V>()
  private old = new Map<string, V>()
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.young.get(k)
    if (v !== undefined) return v
    const o = this.old.get(k)
    if (o !== undefined) this.set(k, o)
    return o
  }
  set(k: string, v: V): void {
    this.young.set(k, v)
    if (this.young.size >= this.max / 2) {
      this.old = this.young
      this.young = new Map()
    }
  }
}

// Runs of events by one author are the norm: remember the last author's key.
let lastAuthor: Uint8Array = new Uint8Array(0)
let lastAuthorKey = ''
function authorKey(author: Uint8Array): string {
  if (!equalBytes(author, lastAuthor)) {
    lastAuthor = author
    lastAuthorKey = bytesKey(author)
  }
  return lastAuthorKey
}

// Events mostly arrive as chains: an event's prev and its one parent are the event before it.
let lastCid: Uint8Array = new Uint8Array(0)
let lastCidKey = ''
function linkKey(cid: Uint8Array): string {
  return equalBytes(cid, lastCid) ? lastCidKey : bytesKey(cid)
}

export function metaOf(e: DecodedEvent, key = bytesKey(e.cid.bytes)): EventMeta {
  const prevBytes = e.prev === null ? null : e.prev.bytes
  const prev = prevBytes === null ? null : linkKey(prevBytes)
  const meta: EventMeta = {
    key,
    cid: e.cid.bytes,
    author: authorKey(e.author),
    authorBytes: e.author,
    seq: e.seq,
    clock: e.clock,
    prev,
    parents: e.parents.map((p) => (prevBytes !== null && equalBytes(p.bytes, prevBytes) ? prev! : linkKey(p.bytes))),
    type: e.type,
  }
  lastCid = e.cid.bytes
  lastCidKey = key
  return meta
}

export class LogIndex {
  readonly heads = new Map<string, EventMeta>()
  readonly authors = new Map<string, AuthorState>()
  readonly forks: ForkEvidence[] = []
  /** `log:` ids certify a genesis: every event must descend from it and pass its policy. */
  readonly certified: boolean
  private readonly cache: Lru<EventMeta>
  private readonly msets = new Map<string, string>()
  private readonly membership = new Map<string, MembershipEvent>()
  private readonly msetStates = new Map<string, MembershipState | undefined>()

  constructor(
    readonly id: string,
    private readonly store: EventStore,
    cacheSize: number,
  ) {
    this.certified = id.startsWith('log:')
    this.cache = new Lru(cacheSize)
  }

  /** Load heads, tips and (for `log:` logs) membership from the store. */
  async load(maxEventBytes: number): Promise<void> {
    const decode = (s: StoredEvent): DecodedEvent => decodeEvent(s.bytes, { maxBytes: Math.max(maxEventBytes, s.bytes.length), knownCid: s.cid })
    if (this.certified) {
      // Membership needs every event's causal set; one pass in total order (parents come first).
      let after: StoredEvent | undefined
      for (;;) {
        const page = await this.store.scan(this.id, after ? { after, limit: 4096 } : { limit: 4096 })
        for (const s of page) {
          const d = decode(s)
          const m = metaOf(d)
          this.addMembership(m, d.body)
          this.cache.set(m.key, m)
        }
        if (page.length < 4096) break
        after = page[page.length - 1]
      }
    }
    for (const cid of await this.store.heads(this.id)) {
      const m = await this.fetch(bytesKey(cid))
      if (m) this.heads.set(m.key, m)
    }
    for (const cid of await this.store.tips(this.id)) {
      const m = await this.fetch(bytesKey(cid))
      if (!m) continue
      let a = this.authors.get(m.author)
      if (!a) this.authors.set(m.author, (a = { seq: 0, tips: new Map() }))
      a.tips.set(m.key, m)
      if (m.seq > a.seq) a.seq = m.seq
    }
    for (const [author, a] of this.authors) if (a.tips.size > 1) await this.findStoredForks(author)
  }

  /** An author with several tips forked somewhere: find every seq that holds two events. */
  private async findStoredForks(author: string): Promise<void> {
    const authorBytes = keyBytes(author)
    const atSeq = new Map<number, Uint8Array[]>()
    let fromSeq = 1
    for (;;) {
      const page = await this.store.byAuthor(this.id, authorBytes, { fromSeq, limit: 1024 })
      for (const s of page) {
        const same = atSeq.get(s.seq) ?? []
        // Pages restart at the last seq seen, so a pair split across two pages is still paired.
        if (!same.some((c) => compareBytes(c, s.cid) === 0)) same.push(s.cid)
        atSeq.set(s.seq, same)
      }
      if (page.length < 1024) break
      const lastSeq = page[page.length - 1].seq
      fromSeq = lastSeq === fromSeq ? lastSeq + 1 : lastSeq
    }
    for (const [seq, cids] of atSeq) {
      const sorted = [...cids].sort(compareBytes)
      for (let i = 1; i < sorted.length; i++) this.forks.push({ author, seq, a: sorted[0], b: sorted[i] })
    }
  }

  /** Metadata of a stored event of this log, from the cache or the store. */
  async fetch(key: string): Promise<EventMeta | undefined> {
    const hit = this.cache.get(key)
    if (hit) return hit
    const s = await this.store.get(keyBytes(key))
    if (!s) return undefined
    if (s.log !== this.id) return { key, cid: s.cid, author: '', authorBytes: s.author, seq: s.seq, clock: s.clock, prev: null, parents: [], type: '', foreignLog: s.log }
    const m = metaOf(decodeEvent(s.bytes, { maxBytes: Math.max(1 << 20, s.bytes.length), knownCid: s.cid }), key)
    if (this.certified) m.mset = this.msets.get(key)
    this.cache.set(key, m)
    return m
  }

  cached(key: string): EventMeta | undefined {
    return this.cache.get(key)
  }

  remember(m: EventMeta): void {
    this.cache.set(m.key, m)
  }

  /** The membership set of an event from its links' sets (and itself, if it is a membership event). */
  msetFor(m: EventMeta, links: readonly (EventMeta | undefined)[]): string {
    const parts = new Set<string>()
    for (const l of links) if (l?.mset) for (const k of l.mset.split(MSET_SEP)) if (k) parts.add(k)
    if (isMembershipType(m.type)) parts.add(m.key)
    return [...parts].sort().join(MSET_SEP)
  }

  /** The membership state a causal set stands for. */
  stateOf(mset: string): MembershipState | undefined {
    if (this.msetStates.has(mset)) return this.msetStates.get(mset)
    const events: MembershipEvent[] = []
    for (const k of mset.split(MSET_SEP)) {
      if (!k) continue
      const e = this.membership.get(k)
      if (e) events.push(e)
    }
    const state = foldMembership(events)
    this.msetStates.set(mset, state)
    return state
  }

  /** Record a committed event's membership set (and its body, if it changes membership). */
  addMembership(m: EventMeta, body: unknown): void {
    if (!this.certified) return
    if (m.mset === undefined) {
      m.mset = this.msetFor(m, [m.prev, ...m.parents].map((k) => (k === null ? undefined : (this.cache.get(k) ?? this.lookupMset(k)))))
    }
    this.msets.set(m.key, m.mset)
    this.registerMembership(m, body)
  }

  /**
   * Make a membership event's body known as soon as it is admitted, so later events of the same
   * batch that have it in their causal past see it. Keyed by CID: an entry whose batch then fails
   * to commit is never referenced by a stored event's set.
   */
  registerMembership(m: EventMeta, body: unknown): void {
    if (this.certified && isMembershipType(m.type)) this.membership.set(m.key, { key: m.key, cid: m.cid, clock: m.clock, type: m.type, body })
  }

  private lookupMset(k: string): EventMeta | undefined {
    const mset = this.msets.get(k)
    return mset === undefined ? undefined : ({ mset } as EventMeta)
  }

  membershipEvent(key: string): MembershipEvent | undefined {
    return this.membership.get(key)
  }

  /** Membership as of the current heads (what a new local event would see). */
  currentMembership(): MembershipState | undefined {
    if (!this.certified) return undefined
    const parts = new Set<string>()
    for (const h of this.heads.values()) for (const k of (h.mset ?? this.msets.get(h.key) ?? '').split(MSET_SEP)) if (k) parts.add(k)
    return this.stateOf([...parts].sort().join(MSET_SEP))
  }

  /** Apply a committed batch to heads and tips. */
  commit(metas: readonly EventMeta[]): void {
    this.headList = undefined
    for (const m of metas) {
      for (const p of m.parents) this.heads.delete(p)
      if (m.prev !== null) this.heads.delete(m.prev)
      this.heads.set(m.key, m)
      let a = this.authors.get(m.author)
      if (!a) this.authors.set(m.author, (a = { seq: 0, tips: new Map() }))
      if (m.prev !== null) a.tips.delete(m.prev)
      a.tips.set(m.key, m)
      if (m.seq > a.seq) a.seq = m.seq
      this.cache.set(m.key, m)
    }
  }

  private headList: CID[] | undefined

  /** Head CIDs sorted by bytes (cached until the next commit; callers must not mutate it). */
  headCids(): CID[] {
    if (this.headList === undefined) {
      this.headList = [...this.heads.values()].sort((a, b) => compareBytes(a.cid, b.cid)).map((m) => eventCidFromBytes(m.cid))
    }
    return this.headList
  }

}
