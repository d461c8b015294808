/**
 * `workQueueView()`: the work queue every peer derives from a log (DESIGN §7–§8). Items are
 * enqueued, claimed, renewed, released, completed or failed by events; the winner of each item
 * is decided by the pure resolver in `claims.ts`, so every peer names the same one.
 *
 * Events (bodies are DAG-CBOR maps; anything malformed is counted in `rejected` and skipped, since
 * a reducer that threw would stop every peer's fold at the same bad event):
 * - `xsync.work.enqueued` `{ item, data?, mode?, ttlMs?, authority?, timeoutMs?, placement? }`
 *   (mode defaults to `lease`; an item enqueued twice keeps its first enqueue)
 * - `xsync.work.claimed` `{ item, takeover? }` (takeover: the did of the winner it replaces)
 * - `xsync.work.renewed` / `xsync.work.released` `{ item, claim }` (the holder's claim CID)
 * - `xsync.work.completed` `{ item, claim?, result? }` / `xsync.work.failed` `{ item, claim?, error? }`
 * - `xsync.peer.hello` (a `RuntimeNodeSpec`) / `xsync.peer.bye`: who may be elected, and placement.
 */
import { didOf } from './did-memo.js'
import { eventCidBytes, eventCidString } from '../log/codec.js'
import type { LogEvent } from '../log/log.js'
import { CLAIM_MODES, decideClaim, fits, type AnnouncedPeer, type ClaimInput, type ClaimMode, type ClaimRules, type Decision, type Winner } from './claims.js'
import { nodeSpecProblem, normalizeNodeSpec, placementProblem, type Placement, type RuntimeNodeSpec } from './placement.js'
import { PEER_BYE, PEER_HELLO, WORK } from './event-types.js'
import { PersistentMap } from './persistent-map.js'
import * as dagCbor from '@ipld/dag-cbor'
import type { View, ViewContext } from './view.js'

export { WORK, PEER_HELLO, PEER_BYE }

export interface WorkResult {
  cid: string
  by: string
  time: number
  ok: boolean
  /** The result (completed) or error message (failed), or null. */
  value: unknown
  claim: string | null
}

export interface WorkItem {
  status: 'queued' | 'claimed' | 'completed' | 'failed'
  rules: ClaimRules
  data: unknown
  enqueued: { cid: string; by: string; time: number }
  /** Log time since when it has been claimable (enqueue or last release). */
  claimableSince: number
  winner: Winner | null
  /** The accepted result (first valid one). */
  result: WorkResult | null
  /** Later valid results (`optimistic-idempotent`), recorded as duplicates. */
  duplicates: number
  /** Every decision on this item, in total order: what `explainClaim` reads. */
  decisions: Decision[]
}

export interface WorkQueueState {
  /** Per item id. A map that forks in O(1), so checkpoints cost what changed, not the queue's size. */
  items: ReadonlyMap<string, WorkItem>
  peers: Record<string, AnnouncedPeer>
  /** Events skipped as malformed. */
  rejected: number
}

const MAX_ITEM_ID = 256

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array)
}

function itemId(body: Record<string, unknown>): string | undefined {
  const id = body.item
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ITEM_ID ? id : undefined
}

function str(x: unknown): string | undefined {
  return typeof x === 'string' && x.length > 0 && x.length <= 1024 ? x : undefined
}

function nonNegative(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : undefined
}

// Items enqueued alike share one rules object: rules are never changed once built (a fork freezes
// them with the first item that holds them), so one object serves a run of similar enqueues and
// the queue keeps, and freezes, one copy instead of one per item. A memo of a pure function.
let lastRules: ClaimRules | undefined

/** The claim rules an enqueue asks for, or undefined when malformed. */
function rulesOf(b: Record<string, unknown>): ClaimRules | undefined {
  const mode = (b.mode ?? 'lease') as ClaimMode
  if (!CLAIM_MODES.includes(mode)) return undefined
  let ttlMs: number | undefined
  let timeoutMs: number | undefined
  let authority: string | undefined
  if (b.ttlMs !== undefined) {
    ttlMs = nonNegative(b.ttlMs)
    if (ttlMs === undefined) return undefined
  }
  if (b.timeoutMs !== undefined) {
    timeoutMs = nonNegative(b.timeoutMs)
    if (timeoutMs === undefined) return undefined
  }
  if (b.authority !== undefined) {
    authority = str(b.authority)
    if (authority === undefined) return undefined
  }
  if (mode === 'authority' && authority === undefined) return undefined
  let placement: Placement | undefined
  if (b.placement !== undefined) {
    // Checked here, once: the resolver's checkPlacement throws on a malformed one, and a reducer
    // must never throw.
    if (placementProblem(b.placement) !== undefined) return undefined
    placement = b.placement as Placement
  } else {
    const last = lastRules
    if (last !== undefined && last.mode === mode && last.ttlMs === ttlMs && last.timeoutMs === timeoutMs && last.authority === authority && last.placement === undefined) return last
  }
  const rules: ClaimRules = { mode }
  if (ttlMs !== undefined) rules.ttlMs = ttlMs
  if (timeoutMs !== undefined) rules.timeoutMs = timeoutMs
  if (authority !== undefined) rules.authority = authority
  if (placement !== undefined) rules.placement = placement
  else lastRules = rules
  return rules
}

function specOf(b: unknown): RuntimeNodeSpec | undefined {
  return nodeSpecProblem(b) === undefined ? normalizeNodeSpec(b as RuntimeNodeSpec) : undefined
}

// --- structural sharing ----------------------------------------------------------------------
// Checkpoints and snapshots share unchanged items with the live state instead of copying the
// whole queue (a deep copy of 5,000 items took ~235 ms; a fork of the item map is O(1)).
// `fork` freezes every item and peer the state holds, so a frozen object may be shared and an
// unfrozen one belongs to this state alone: `reduce` changes those in place and copies a frozen
// one first. The test is `Object.isExtensible`, a map-bit check (`isFrozen` walks every property
// in the runtime; a WeakSet of owned objects cost a hash insert per item and ephemeron work at
// every GC); only `fork` makes our objects non-extensible, and anything else non-extensible is
// merely copied. A state lists what it made since its last fork, so the next fork freezes those
// without scanning the queue; the list is a non-enumerable property, never encoded, so it cannot
// make two peers' bytes differ.
//
// Two depths of freezing. Copy-on-write needs only the item (or peer) itself frozen: `ownItem`
// copies the parts `reduce` changes (the winner, the decision list) with it, and the others
// (enqueue, result, decisions, data) are never changed once made. A host's own checkpoints get
// that shallow freeze. A copy for a reader must also keep the reader from changing what it shares
// with the host, so it freezes everything those items hold. No fold needs that deep freeze (it
// was ~6% of a fold from scratch, eight `Object.freeze` calls per item): it waits, on a list
// shared by a lineage of forks, for the next reader copy, or for the list to outgrow twice the
// queue (which bounds what it keeps alive).

interface Ownership {
  /** Items and peers made since the last fork: not frozen yet. */
  list: object[]
  /** Every item and peer not in `list` is known frozen (no scan needed at the next fork). */
  sealed: boolean
  /**
   * Frozen items and peers whose parts are not frozen yet: one list for a state and every fork
   * of it (any of them may be the one a reader's copy is made from).
   */
  shallow: object[]
}
const OWNED = Symbol('stateflow.workQueue.owned')

function ownership(s: WorkQueueState): Ownership {
  let o = (s as unknown as Record<symbol, Ownership | undefined>)[OWNED]
  // A state made elsewhere (a decoded checkpoint) may hold unfrozen objects it did not list.
  if (!o) setOwnership(s, (o = { list: [], sealed: false, shallow: [] }))
  return o
}

function setOwnership(s: WorkQueueState, o: Ownership): void {
  Object.defineProperty(s, OWNED, { value: o, configurable: true, enumerable: false, writable: true })
}

/** `s`, marked as holding only frozen objects (or none), in the lineage that shares `shallow`. */
function sealed(s: WorkQueueState, shallow: object[] = []): WorkQueueState {
  setOwnership(s, { list: [], sealed: true, shallow })
  return s
}

function adopt(s: WorkQueueState, x: object): void {
  ownership(s).list.push(x)
}

function itemMap(s: WorkQueueState): PersistentMap<WorkItem> {
  return s.items as PersistentMap<WorkItem>
}

/** The item `it` (at `id`), writable: copied first if it is frozen (shared with a fork). */
function ownItem(s: WorkQueueState, id: string, it: WorkItem): WorkItem {
  if (Object.isExtensible(it)) return it
  const copy: WorkItem = { ...it, winner: it.winner ? { ...it.winner } : null, decisions: it.decisions.slice() }
  itemMap(s).set(id, copy)
  adopt(s, copy)
  return copy
}

function ownPeer(s: WorkQueueState, did: string): AnnouncedPeer {
  const p = s.peers[did]
  if (Object.isExtensible(p)) return p
  const copy: AnnouncedPeer = { ...p }
  s.peers[did] = copy
  adopt(s, copy)
  return copy
}

/**
 * Freeze an item by its known shape: the parts `reduce` builds are flat, and only `data` (an
 * event body's value) and `rules.placement` need the generic walk. Decisions already frozen are
 * the ones shared since an earlier fork: the walk stops at the first of them.
 */
function freezeItem(it: WorkItem): void {
  Object.freeze(it)
  if (it.winner) Object.freeze(it.winner)
  if (it.result) {
    Object.freeze(it.result)
    deepFreeze(it.result.value)
  }
  Object.freeze(it.enqueued)
  if (Object.isExtensible(it.rules)) {
    Object.freeze(it.rules)
    deepFreeze(it.rules.placement)
  }
  deepFreeze(it.data)
  const ds = it.decisions
  Object.freeze(ds)
  for (let i = ds.length - 1; i >= 0 && Object.isExtensible(ds[i]); i--) Object.freeze(ds[i])
}

function freezeOwned(x: object): void {
  if ('decisions' in x) freezeItem(x as WorkItem)
  else deepFreeze(x)
}

function deepFreeze(x: unknown): void {
  if (typeof x !== 'object' || x === null || Object.isFrozen(x) || ArrayBuffer.isView(x)) return
  Object.freeze(x)
  for (const v of Object.values(x)) deepFreeze(v)
}

/**
 * A copy of the queue sharing every item with `s`: the shared items are frozen, and both copies
 * copy an item before changing it. Cost: the two maps, plus freezing what changed since the
 * last fork. For a reader (`reader`), the shared items are frozen through and through.
 */
function fork(s: WorkQueueState, reader = false): WorkQueueState {
  const o = ownership(s)
  const shallow = o.shallow
  for (const x of o.list) {
    Object.freeze(x)
    shallow.push(x)
  }
  // Items of a state this one was not built by (a decoded checkpoint) are neither owned nor
  // frozen: freeze them too, once per lineage, so no copy can change what another shares.
  if (!o.sealed) {
    for (const it of s.items.values()) if (!Object.isFrozen(it)) deepFreeze(it)
    for (const p of Object.values(s.peers)) if (!Object.isFrozen(p)) deepFreeze(p)
  }
  // The list holds items the queue may have replaced since: past twice the queue's size, it is
  // worth emptying rather than keeping them alive.
  if (reader || shallow.length > 2 * s.items.size + 1024) {
    for (const x of shallow) freezeOwned(x)
    shallow.length = 0
  }
  sealed(s, shallow)
  // Everything the copy holds is frozen now: it starts sealed too.
  return sealed({ items: itemMap(s).fork(), peers: { ...s.peers }, rejected: s.rejected }, shallow)
}

// Checkpoint bytes: items as [id, item] pairs sorted by id (a list, so an id like `__proto__`
// stays an ordinary key), peers and the rejected count.
function encode(s: WorkQueueState): Uint8Array {
  const items = [...s.items].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return dagCbor.encode({ items, peers: s.peers, rejected: s.rejected })
}

function decode(bytes: Uint8Array): WorkQueueState {
  const x = dagCbor.decode(bytes) as { items: [string, WorkItem][]; peers: Record<string, AnnouncedPeer>; rejected: number }
  return { items: new PersistentMap(x.items), peers: x.peers, rejected: x.rejected }
}

function decide(item: WorkItem, cid: string, kind: Decision['kind'], by: string, time: number, verdict: Decision['verdict'], why: string): void {
  record(item, { cid, kind, by, time, verdict, why })
}

/**
 * Append a decision. Most items take a few, and the queue keeps every list: a short one is
 * copied into an array one longer, sized exactly (a first push would reserve room for 17; a
 * `concat` made two short-lived arrays on the way).
 */
function record(item: WorkItem, d: Decision): void {
  const ds = item.decisions
  const n = ds.length
  if (n >= SHORT_DECISIONS) {
    ds.push(d)
    return
  }
  const next: Decision[] = new Array(n + 1)
  for (let i = 0; i < n; i++) next[i] = ds[i]
  next[n] = d
  item.decisions = next
}
const SHORT_DECISIONS = 8

// A fold keeps every decision's why. Built as a template, "(claim by did)" is four string pieces
// per decision; with " by did)" made once per holder, two. Same text, half the memory that GC
// copies (the last holder is kept: runs of events against one holder are the common case).
let lastBy = ''
let lastByText = ' by )'

function byText(did: string): string {
  if (did !== lastBy) {
    lastBy = did
    lastByText = ` by ${did})`
  }
  return lastByText
}

const WORK_TYPES: ReadonlySet<string> = new Set(Object.values(WORK))

function reduce(s: WorkQueueState, e: LogEvent, ctx: ViewContext): WorkQueueState {
  const t = e.type
  if (!WORK_TYPES.has(t) && t !== PEER_HELLO && t !== PEER_BYE) {
    // An xsync.work.* type this version does not know is malformed, not someone else's event.
    if (t.startsWith('xsync.work.')) s.rejected++
    return s
  }
  const by = didOf(e.author)
  const time = ctx.time
  if (t === PEER_HELLO) {
    const spec = specOf(e.body)
    if (!spec) s.rejected++
    else {
      const p: AnnouncedPeer = { spec }
      s.peers[by] = p
      adopt(s, p)
    }
    return s
  }
  if (t === PEER_BYE) {
    if (s.peers[by]) ownPeer(s, by).left = time
    return s
  }
  const id = isRecord(e.body) ? itemId(e.body) : undefined
  if (id === undefined) {
    s.rejected++
    return s
  }
  const body = e.body as Record<string, unknown>
  // The CID's string form ('b' + base32), built without multiformats' slow first toString (and,
  // for a stored event, without its CID object).
  const cid = eventCidString(eventCidBytes(e))
  // Every branch below changes an item it finds (a decision at least), except a second enqueue.
  const found = s.items.get(id)
  const item = found === undefined || t === WORK.enqueued ? found : ownItem(s, id, found)
  switch (t) {
    case WORK.enqueued: {
      if (item) return s // the first enqueue stands
      const rules = rulesOf(body)
      if (!rules) {
        s.rejected++
        return s
      }
      const created: WorkItem = {
        status: 'queued',
        rules,
        data: body.data ?? null,
        enqueued: { cid, by, time },
        claimableSince: time,
        winner: null,
        result: null,
        duplicates: 0,
        decisions: [],
      }
      itemMap(s).set(id, created)
      adopt(s, created)
      return s
    }
    case WORK.claimed: {
      if (!item) {
        s.rejected++
        return s
      }
      if (item.status === 'completed' || item.status === 'failed') {
        decide(item, cid, 'claim', by, time, 'ignored', `the item is ${item.status}`)
        return s
      }
      const takeover = str(body.takeover)
      const input: ClaimInput = takeover ? { cid, by, time, takeover } : { cid, by, time }
      const { winner, decision } = decideClaim(item.rules, id, item.winner, input, s.peers, item.claimableSince)
      record(item, decision)
      item.winner = winner
      if (winner) item.status = 'claimed'
      return s
    }
    case WORK.renewed:
    case WORK.released: {
      if (!item) {
        s.rejected++
        return s
      }
      const kind = t === WORK.renewed ? 'renew' : 'release'
      const w = item.winner
      if (!w || w.by !== by || body.claim !== w.claim) {
        decide(item, cid, kind, by, time, 'stale', w ? "not the holder's claim (" + w.claim + byText(w.by) : 'nobody holds the item')
        return s
      }
      if (kind === 'renew') {
        if (item.rules.mode === 'lease' && w.expires !== undefined && time > w.expires) {
          decide(item, cid, kind, by, time, 'stale', `the lease had expired at log time ${w.expires}`)
          return s
        }
        if (item.rules.mode === 'lease') w.expires = time + (item.rules.ttlMs ?? 30_000)
        w.progress = time
        decide(item, cid, kind, by, time, 'renewed', item.rules.mode === 'lease' ? `lease runs to log time ${w.expires}` : 'progress')
      } else {
        item.winner = null
        item.status = 'queued'
        item.claimableSince = time
        decide(item, cid, kind, by, time, 'released', 'released by its holder')
      }
      return s
    }
    case WORK.completed:
    case WORK.failed: {
      if (!item) {
        s.rejected++
        return s
      }
      const ok = t === WORK.completed
      const claim = typeof body.claim === 'string' ? body.claim : null
      const value = ok ? (body.result ?? null) : (typeof body.error === 'string' ? body.error : null)
      if (item.rules.mode === 'optimistic-idempotent') {
        const f = fits(item.rules, by, s.peers)
        if (!f.ok) {
          decide(item, cid, 'result', by, time, 'ignored', f.why)
          return s
        }
        if (item.result) {
          item.duplicates++
          decide(item, cid, 'result', by, time, 'duplicate', `first valid result was ${item.result.cid}`)
          return s
        }
      } else {
        const w = item.winner
        // The fencing check: only the holder, with its current claim, ends the item.
        if (!w || w.by !== by || (claim !== null && claim !== w.claim) || (item.rules.mode === 'lease' && claim === null)) {
          decide(item, cid, 'result', by, time, 'stale', w ? "not from the holder's claim (" + w.claim + byText(w.by) : 'nobody holds the item')
          return s
        }
        if (item.rules.mode === 'lease' && w.expires !== undefined && time > w.expires) {
          decide(item, cid, 'result', by, time, 'stale', `the lease had expired at log time ${w.expires}`)
          return s
        }
        if (item.result) {
          decide(item, cid, 'result', by, time, 'duplicate', 'the item already ended')
          return s
        }
      }
      item.result = { cid, by, time, ok, value, claim }
      item.status = ok ? 'completed' : 'failed'
      decide(item, cid, 'result', by, time, 'accepted', ok ? 'completed' : 'failed')
      return s
    }
    default:
      s.rejected++
      return s
  }
}

export function workQueueView(options: { name?: string } = {}): View<WorkQueueState> {
  return {
    name: options.name ?? 'workQueue',
    version: 2,
    initial: () => sealed({ items: new PersistentMap(), peers: {}, rejected: 0 }),
    reduce,
    fork,
    encode,
    decode,
  }
}
