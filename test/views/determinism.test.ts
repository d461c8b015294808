/**
 * Views are deterministic (DESIGN §7): random work-queue histories from several authors,
 * delivered to several peers in random orders and batch splits (with the view read between
 * batches, so the host takes both its incremental and its rewind paths), fold to byte-identical
 * states on every peer, equal to a fold from scratch; and every claim winner is the same.
 * Replay a failure with STATEFLOW_SEED=<seed printed>.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createXSync } from '../../src/views/client.js'
import { createXSync as createPlainClient, type XSyncClient } from '../../src/log/client.js'
import type { SignedEvent } from '../../src/log/codec.js'
import { encodeState } from '../../src/views/view.js'
import type { ViewSnapshot } from '../../src/views/host.js'
import { workQueueView, WORK, PEER_HELLO, PEER_BYE, type WorkQueueState } from '../../src/views/work-queue.js'
import { headsView } from '../../src/views/heads-view.js'
import { toHex } from '../../src/dag/bytes.js'
import { EXTENSIVE, prng, testSeed } from '../conformance/index.js'

const ROUNDS = EXTENSIVE ? 500 : 12
const clients: XSyncClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

const views = () => ({ workQueue: workQueueView(), heads: headsView() })
const MODES = ['lease', 'authority', 'deterministic-election', 'optimistic-idempotent'] as const

/** A random multi-author history of work events, with some syncing between authors. */
async function history(seed: number): Promise<SignedEvent[]> {
  const rand = prng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]
  let clock = 1_000_000
  const authors: XSyncClient[] = []
  for (let i = 0; i < 3; i++) {
    // Each author's wall clock moves on in random steps: lease expiry depends on log time.
    const c = await createPlainClient({ now: () => (clock += Math.floor(rand() * 4000)) })
    authors.push(c)
    clients.push(c)
  }
  const dids = authors.map((a) => a.did)
  const items = ['i0', 'i1', 'i2', 'i3']
  const claims = new Map<string, string>()
  for (const a of authors) if (rand() < 0.8) await a.log('q').append(PEER_HELLO, { id: a.did.slice(-6), kind: pick(['server', 'browser', 'worker'] as const), capabilities: rand() < 0.5 ? ['gpu'] : [] })
  for (let step = 0; step < 40; step++) {
    const a = pick(authors)
    const item = pick(items)
    const r = rand()
    let e
    if (r < 0.2) {
      const mode = pick(MODES)
      e = await a.log('q').append(WORK.enqueued, { item, mode, ttlMs: 5000, timeoutMs: 8000, ...(mode === 'authority' ? { authority: pick(dids) } : {}), ...(rand() < 0.3 ? { placement: { requires: ['gpu'] } } : {}) })
    } else if (r < 0.5) {
      e = await a.log('q').append(WORK.claimed, rand() < 0.2 ? { item, takeover: pick(dids) } : { item })
      claims.set(`${a.did}/${item}`, e.cid.toString())
    } else if (r < 0.6) e = await a.log('q').append(WORK.renewed, { item, claim: claims.get(`${a.did}/${item}`) ?? 'none' })
    else if (r < 0.65) e = await a.log('q').append(WORK.released, { item, claim: claims.get(`${a.did}/${item}`) ?? 'none' })
    else if (r < 0.8) e = await a.log('q').append(WORK.completed, { item, claim: claims.get(`${a.did}/${item}`) ?? null, result: { step } })
    else if (r < 0.85) e = await a.log('q').append(WORK.failed, { item, error: 'boom' })
    else if (r < 0.88) e = await a.log('q').append(PEER_BYE, {})
    else if (r < 0.9) e = await a.log('q').append(WORK.claimed, { nonsense: true }) // malformed: counted, skipped
    else {
      // Two authors exchange what they have: later events link across authors.
      const b = pick(authors)
      const wire: SignedEvent[] = []
      for await (const x of a.log('q').events()) wire.push(x.sig ? { bytes: x.bytes, sig: x.sig } : { bytes: x.bytes })
      await b.log('q').ingest(wire)
    }
    void e
  }
  const all = new Map<string, SignedEvent>()
  for (const a of authors) for await (const x of a.log('q').events()) all.set(x.cid.toString(), x.sig ? { bytes: x.bytes, sig: x.sig } : { bytes: x.bytes })
  return [...all.values()]
}

async function foldedBy(events: SignedEvent[], rand?: () => number): Promise<{ work: string; heads: string; winners: string }> {
  const c = await createXSync({ views: views(), viewHost: { checkpointEvery: 7 } })
  clients.push(c)
  const log = c.log('q')
  let rest = events
  if (rand) {
    rest = [...events]
    for (let i = rest.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1))
      ;[rest[i], rest[j]] = [rest[j], rest[i]]
    }
    while (rest.length > 0) {
      const n = 1 + Math.floor(rand() * 12)
      await log.ingest(rest.slice(0, n))
      rest = rest.slice(n)
      if (rand() < 0.5) await log.view('workQueue')
    }
  } else await log.ingest(events)
  expect(await log.count()).toBe(events.length)
  const w = await log.view<ViewSnapshot<WorkQueueState>>('workQueue')
  const h = await log.view<ViewSnapshot<{ heads: Uint8Array[] }>>('heads')
  expect(h.state.heads.map(toHex)).toEqual((await log.heads()).map((x) => toHex(x.bytes)))
  const winners = [...w.state.items]
    .map(([id, it]) => `${id}:${it.status}:${it.winner?.claim ?? '-'}:${it.result?.cid ?? '-'}`)
    .join(' ')
  return { work: toHex(encodeState(workQueueView(), w.state)), heads: toHex(encodeState(headsView(), h.state)), winners }
}

describe('view determinism', () => {
  it(`${ROUNDS} random work histories fold identically on 4 peers with random delivery, and equal a fold from scratch`, async () => {
    const base = testSeed()
    for (let round = 0; round < ROUNDS; round++) {
      const seed = (base + round) >>> 0
      const events = await history(seed)
      const scratch = await foldedBy(events)
      const rand = prng(seed ^ 0x5eed)
      for (let p = 0; p < 4; p++) {
        const got = await foldedBy(events, rand)
        expect(got.winners, `seed ${seed} peer ${p}`).toBe(scratch.winners)
        expect(got.work, `seed ${seed} peer ${p}: workQueue state`).toBe(scratch.work)
        expect(got.heads, `seed ${seed} peer ${p}: heads state`).toBe(scratch.heads)
      }
      await Promise.all(clients.splice(0).map((c) => c.close()))
    }
  }, EXTENSIVE ? 3_600_000 : 120_000)
})
