/**
 * Synthetic DAGs for store tests. Stores never decode events, so their suite needs no signing:
 * records carry random CID-shaped bytes and payloads, with correct clocks, seqs and links.
 */
import type { EventPut } from '../../../src/stores/event-store.js'
import { compareEvents } from '../../../src/dag/order.js'
import { compareBytes, toHex } from '../../../src/dag/bytes.js'
import { prng } from '../index.js'

export interface SyntheticOptions {
  log?: string
  authors?: number
  events?: number
  seed?: number
  payload?: number
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256)
  return out
}

export function fakeCid(rand: () => number): Uint8Array {
  const cid = new Uint8Array(36)
  cid.set([0x01, 0x71, 0x12, 0x20])
  cid.set(randomBytes(rand, 32), 4)
  return cid
}

/** A random multi-author DAG, returned in a valid topological (total) order. */
export function syntheticDag(options: SyntheticOptions = {}): EventPut[] {
  const rand = prng(options.seed ?? 1)
  const log = options.log ?? 'test-log'
  const authors = Array.from({ length: options.authors ?? 3 }, () => randomBytes(rand, 32))
  const tip = new Map<number, EventPut>()
  const heads = new Map<string, EventPut>()
  const out: EventPut[] = []
  for (let i = 0; i < (options.events ?? 50); i++) {
    const a = Math.floor(rand() * authors.length)
    const prev = tip.get(a) ?? null
    // Each author sees a random subset of the current heads (always its own prev).
    const seen = [...heads.values()].filter((h) => h === prev || rand() < 0.6)
    const parents = seen.map((h) => h.cid).sort(compareBytes)
    const clock = 1 + Math.max(0, prev?.clock ?? 0, ...seen.map((h) => h.clock))
    const e: EventPut = {
      cid: fakeCid(rand),
      bytes: randomBytes(rand, options.payload ?? 40),
      log,
      author: authors[a],
      seq: (prev?.seq ?? 0) + 1,
      clock,
      prev: prev?.cid ?? null,
      parents,
    }
    if (rand() < 0.3) e.sig = randomBytes(rand, 64)
    for (const h of seen) heads.delete(toHex(h.cid))
    if (prev) heads.delete(toHex(prev.cid))
    heads.set(toHex(e.cid), e)
    tip.set(a, e)
    out.push(e)
  }
  return out.sort(compareEvents)
}

/** Heads of a set of records, computed the slow obvious way. */
export function expectedHeads(events: EventPut[]): Uint8Array[] {
  const linked = new Set<string>()
  for (const e of events) {
    for (const p of e.parents) linked.add(toHex(p))
    if (e.prev) linked.add(toHex(e.prev))
  }
  return events.filter((e) => !linked.has(toHex(e.cid))).map((e) => e.cid).sort(compareBytes)
}

/** Author tips of a set of records: events no same-author event names as prev. */
export function expectedTips(events: EventPut[]): Uint8Array[] {
  const linked = new Set<string>()
  for (const e of events) if (e.prev) linked.add(toHex(e.prev))
  return events.filter((e) => !linked.has(toHex(e.cid))).map((e) => e.cid).sort(compareBytes)
}
