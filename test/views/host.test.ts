import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createXSync } from '../../src/views/client.js'
import type { XSyncClient } from '../../src/log/client.js'
import type { LogEvent } from '../../src/log/log.js'
import type { View } from '../../src/views/view.js'
import type { ViewSnapshot } from '../../src/views/host.js'
import { headsView, type HeadsState } from '../../src/views/heads-view.js'
import { sqliteStore } from '../../src/stores/sqlite-store.js'
import { exportIdentity, generateIdentity, identityFromSecretKey } from '../../src/log/identity.js'
import { toHex } from '../../src/dag/bytes.js'
import { workQueueView, type WorkQueueState } from '../../src/views/work-queue.js'
import { workClaimed, workEnqueued, workReleased } from '../../src/views/event-types.js'
import { encodeState } from '../../src/views/view.js'

const clients: XSyncClient[] = []
const dir = mkdtempSync(join(tmpdir(), 'stateflow-views-'))
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The events in the order folded: a view that records every CID (and counts reduce calls). */
function orderView(calls: { n: number }): View<{ order: string[] }> {
  return {
    name: 'order',
    version: 1,
    initial: () => ({ order: [] }),
    reduce(s, e: LogEvent) {
      calls.n++
      s.order.push(e.cid.toString())
      return s
    },
  }
}

async function order(c: XSyncClient, log: string): Promise<string[]> {
  const out: string[] = []
  for await (const e of c.log(log).events()) out.push(e.cid.toString())
  return out
}

describe('view host', () => {
  it('folds in total order, incrementally, and rewinds when an earlier event arrives', async () => {
    const calls = { n: 0 }
    const a = await createXSync({ views: { order: orderView(calls), heads: headsView() }, viewHost: { checkpointEvery: 10 } })
    const b = await createXSync()
    clients.push(a, b)
    // a writes 40; b learns them, then writes 30 (clocks 41..70) that a has not seen.
    await a.log('l').appendBatch(Array.from({ length: 40 }, (_, i) => ({ type: 't', body: { a: i } })))
    const wire = async (c: XSyncClient) => {
      const out: { bytes: Uint8Array; sig?: Uint8Array }[] = []
      for await (const e of c.log('l').events()) out.push(e.sig ? { bytes: e.bytes, sig: e.sig } : { bytes: e.bytes })
      return out
    }
    await b.log('l').ingest(await wire(a))
    await b.log('l').appendBatch(Array.from({ length: 30 }, (_, i) => ({ type: 't', body: { b: i } })))
    await a.log('l').appendBatch(Array.from({ length: 10 }, (_, i) => ({ type: 't', body: { a: 40 + i } })))
    let snap = await a.log('l').view<ViewSnapshot<{ order: string[] }>>('order')
    expect(snap.state.order).toEqual(await order(a, 'l'))
    expect(calls.n).toBe(50)
    // Incremental: 5 more, 5 more reduce calls.
    await a.log('l').appendBatch(Array.from({ length: 5 }, (_, i) => ({ type: 't', body: { a2: i } })))
    snap = await a.log('l').view('order')
    expect(calls.n).toBe(55)
    // b's events (clocks 41..70) sort among a's newest (41..55): the host rewinds to the
    // checkpoint at 40 events and re-folds the 45 after it, not all 85.
    await a.log('l').ingest((await wire(b)).slice(40))
    snap = await a.log('l').view('order')
    expect(snap.state.order).toEqual(await order(a, 'l'))
    expect(snap.state.order.length).toBe(85)
    expect(calls.n).toBe(55 + 45)
    expect(snap.position?.count).toBe(85)
    const heads = await a.log('l').view<ViewSnapshot<HeadsState>>('heads')
    expect(heads.state.heads.map(toHex)).toEqual((await a.log('l').heads()).map((h) => toHex(h.bytes)))
  })

  it('reports the stable prefix: events below every author’s newest clock', async () => {
    const a = await createXSync({ views: { heads: headsView() } })
    const b = await createXSync()
    clients.push(a, b)
    await a.log('l').appendBatch(Array.from({ length: 10 }, (_, i) => ({ type: 't', body: { i } })))
    let snap = await a.log('l').view<ViewSnapshot<HeadsState>>('heads')
    // One author: everything it wrote is stable (it can only write after its newest event).
    expect(snap.stable).toEqual({ clock: 10, count: 10 })
    const [e] = await b.log('l').appendBatch([{ type: 't', body: { b: 1 } }])
    await a.log('l').ingest([{ bytes: e.bytes, sig: e.sig! }])
    snap = await a.log('l').view('heads')
    // b's newest clock is 1: only events at clock ≤ 1 are stable now.
    expect(snap.stable).toEqual({ clock: 1, count: 2 })
  })

  it('observe yields the current snapshot, then each change', async () => {
    const a = await createXSync({ views: { heads: headsView() } })
    clients.push(a)
    const seen: number[] = []
    const done = (async () => {
      for await (const s of a.log('l').observe<ViewSnapshot<HeadsState>>('heads')) {
        seen.push(s.position?.count ?? 0)
        if ((s.position?.count ?? 0) >= 3) break
      }
    })()
    for (let i = 0; i < 3; i++) {
      await a.log('l').append('t', { i })
      await a.log('l').view('heads')
    }
    await done
    expect(seen[0]).toBeLessThanOrEqual(1)
    expect(seen[seen.length - 1]).toBe(3)
    expect([...seen].sort((x, y) => x - y)).toEqual(seen)
  })

  it("a reader's snapshot of the work queue is frozen through, checkpoints or not, and the fold goes on unchanged", async () => {
    const a = await createXSync({ views: { workQueue: workQueueView() }, viewHost: { checkpointEvery: 10 } })
    clients.push(a)
    const log = a.log('q')
    const batch = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, k) => [workEnqueued({ item: `i${from + k}`, mode: 'lease', data: { n: from + k } }), workClaimed({ item: `i${from + k}` })]).flat()
    // 60 events: five checkpoints (shallow: the host's own) before any reader.
    await log.appendBatch(batch(0, 30))
    const snap = await log.view<ViewSnapshot<WorkQueueState>>('workQueue')
    expect(snap.state.items.size).toBe(30)
    for (const item of snap.state.items.values()) {
      expect(Object.isFrozen(item.decisions[0])).toBe(true)
      expect(Object.isFrozen(item.winner)).toBe(true)
      expect(Object.isFrozen(item.data)).toBe(true)
    }
    const held = snap.state.items.get('i3')!
    expect(() => {
      ;(held.winner as { by: string }).by = 'someone else'
    }).toThrow(TypeError)
    // The host copies what it shares before changing it: the snapshot stays as it was.
    await log.appendBatch(batch(30, 40))
    const winner = held.winner!
    await log.append(workReleased({ item: 'i3', claim: winner.claim }).type, workReleased({ item: 'i3', claim: winner.claim }).body)
    const after = await log.view<ViewSnapshot<WorkQueueState>>('workQueue')
    expect(after.state.items.get('i3')!.status).toBe('queued')
    expect(held.status).toBe('claimed')
    expect(after.state.items.size).toBe(40)
    // And the state is the one a fold from scratch gives.
    const view = workQueueView()
    let s = view.initial()
    let i = 0
    let time = 0
    for await (const e of log.events()) {
      time = Math.max(time, e.time)
      s = view.reduce(s, e, { log: 'q', time, index: i++ })
    }
    expect(toHex(encodeState(view, after.state))).toBe(toHex(encodeState(view, s)))
  })

  it('a restarted peer resumes from its persisted checkpoint instead of re-folding everything', async () => {
    const secret = exportIdentity(await generateIdentity()).secretKey
    const path = join(dir, 'views.sqlite')
    const calls1 = { n: 0 }
    const c1 = await createXSync({ identity: await identityFromSecretKey(secret), store: sqliteStore(path), views: { order: orderView(calls1) }, viewHost: { checkpointEvery: 100 } })
    await c1.log('l').appendBatch(Array.from({ length: 250 }, (_, i) => ({ type: 't', body: { i } })))
    const s1 = await c1.log('l').view<ViewSnapshot<{ order: string[] }>>('order')
    expect(s1.state.order.length).toBe(250)
    await c1.close()
    const calls2 = { n: 0 }
    const c2 = await createXSync({ identity: await identityFromSecretKey(secret), store: sqliteStore(path), views: { order: orderView(calls2) }, viewHost: { checkpointEvery: 100 } })
    clients.push(c2)
    await c2.log('l').append('t', { after: true })
    const s2 = await c2.log('l').view<ViewSnapshot<{ order: string[] }>>('order')
    // The checkpoint at 200 events was persisted (stable: one author): 51 events re-folded.
    expect(calls2.n).toBe(51)
    expect(s2.state.order).toEqual(await order(c2, 'l'))
  })

  it('unknown view names and bad registrations are typed errors', async () => {
    const a = await createXSync({ views: { heads: headsView() } })
    clients.push(a)
    await expect(a.log('l').view('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(createXSync({ views: { wrong: headsView() } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(createXSync({ views: { x: { name: 'x' } as unknown as View<unknown> } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  })
})
