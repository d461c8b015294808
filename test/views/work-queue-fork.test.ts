/** The work queue's structural sharing: a fork never changes, whatever the live state does next. */
import { describe, expect, it } from 'vitest'
import { createXSync } from '../../src/log/client.js'
import type { LogEvent } from '../../src/log/log.js'
import { workQueueView, type WorkQueueState } from '../../src/views/work-queue.js'
import { workClaimed, workCompleted, workEnqueued, workRenewed, peerHello, peerBye } from '../../src/views/event-types.js'
import { encodeState } from '../../src/views/view.js'
import { toHex } from '../../src/dag/bytes.js'

async function events(): Promise<LogEvent[]> {
  let t = 1000
  const c = await createXSync({ now: () => (t += 500) })
  const log = c.log('q')
  const out: LogEvent[] = []
  out.push(await log.append(peerHello({ id: 'n', kind: 'server', capabilities: [] }).type, peerHello({ id: 'n', kind: 'server', capabilities: [] }).body))
  for (let i = 0; i < 30; i++) {
    const item = `i${i % 7}`
    const e = [workEnqueued({ item, mode: 'lease', ttlMs: 2000 }), workClaimed({ item })][i % 2]
    const ev = await log.append(e.type, e.body)
    out.push(ev)
    if (i % 2 === 1) {
      const r = workRenewed({ item, claim: ev.cid.toString() })
      out.push(await log.append(r.type, r.body))
      if (i % 3 === 0) {
        const d = workCompleted({ item, claim: ev.cid.toString(), result: i })
        out.push(await log.append(d.type, d.body))
      }
    }
  }
  out.push(await log.append(peerBye().type, peerBye().body))
  await c.close()
  return out
}

describe('workQueueView fork', () => {
  it('forks stay byte-for-byte what they were while the live state folds on; a restored fork folds to the same state', async () => {
    const view = workQueueView()
    const evs = await events()
    const fold = (s: WorkQueueState, from: number, to: number): WorkQueueState => {
      for (let i = from; i < to; i++) s = view.reduce(s, evs[i], { log: 'q', time: evs[i].time, index: i })
      return s
    }
    let live = fold(view.initial(), 0, 20)
    const forks: { at: number; state: WorkQueueState; bytes: string }[] = []
    for (let at = 20; at < evs.length; at += 10) {
      const f = view.fork!(live)
      forks.push({ at, state: f, bytes: toHex(encodeState(view, f)) })
      live = fold(live, at, Math.min(evs.length, at + 10))
    }
    const finalBytes = toHex(encodeState(view, live))
    for (const f of forks) {
      expect(toHex(encodeState(view, f.state))).toBe(f.bytes)
      // Restore (a fork of the fork, as the host does) and fold the rest: the same end state.
      const restored = fold(view.fork!(f.state), f.at, evs.length)
      expect(toHex(encodeState(view, restored))).toBe(finalBytes)
    }
    expect(toHex(encodeState(view, fold(view.initial(), 0, evs.length)))).toBe(finalBytes)
  })

  it('a fork handed out as a snapshot is read-only where it shares', async () => {
    const view = workQueueView()
    const evs = await events()
    let live = view.initial()
    for (let i = 0; i < evs.length; i++) live = view.reduce(live, evs[i], { log: 'q', time: evs[i].time, index: i })
    // A checkpoint first (shallow: only what copy-on-write needs), then more events, then the
    // reader's copy: it must freeze the parts the checkpoint left, and those made since.
    let i = 0
    for (; i < 20; i++) live = view.reduce(live, evs[i], { log: 'q', time: evs[i].time, index: i })
    const checkpoint = view.fork!(live)
    const early = [...checkpoint.items.values()].find((it) => it.decisions.length > 0)!
    expect(Object.isFrozen(early)).toBe(true)
    expect(Object.isFrozen(early.decisions)).toBe(false)
    for (; i < evs.length; i++) live = view.reduce(live, evs[i], { log: 'q', time: evs[i].time, index: i })
    const snap = view.fork!(live, true)
    expect(snap.items.size).toBeGreaterThan(0)
    for (const item of snap.items.values()) {
      expect(Object.isFrozen(item)).toBe(true)
      expect(Object.isFrozen(item.enqueued)).toBe(true)
      expect(Object.isFrozen(item.decisions)).toBe(true)
      for (const d of item.decisions) expect(Object.isFrozen(d)).toBe(true)
      if (item.winner) expect(Object.isFrozen(item.winner)).toBe(true)
    }
    expect(Object.isFrozen(early.decisions[0])).toBe(true)
    const item = [...snap.items.values()][0]
    expect(() => {
      ;(item as { status: string }).status = 'hacked'
    }).toThrow(TypeError)
    expect(() => {
      ;(item.enqueued as { by: string }).by = 'hacked'
    }).toThrow(TypeError)
    expect(() => {
      ;(item.decisions as unknown[]).push({})
    }).toThrow(TypeError)
    const liveItem = [...live.items.values()][0]
    expect(liveItem.status).not.toBe('hacked')
    expect(liveItem.enqueued.by).not.toBe('hacked')
  })

  it('checkpoints that never meet a reader keep no more than about twice the queue alive for one', async () => {
    // One item, claimed and renewed between thousands of checkpoints: every fork copies it, and
    // the list of copies waiting for a deep freeze must not grow with the number of forks.
    let t = 1000
    const c = await createXSync({ now: () => (t += 10) })
    const log = c.log('q')
    const enq = workEnqueued({ item: 'x', mode: 'lease', ttlMs: 1_000_000 })
    const enqueued = await log.append(enq.type, enq.body)
    const cl = workClaimed({ item: 'x' })
    const claimed = await log.append(cl.type, cl.body)
    const rn = workRenewed({ item: 'x', claim: claimed.cid.toString() })
    const renewal = await log.append(rn.type, rn.body)
    await c.close()
    const view = workQueueView()
    let live = view.reduce(view.reduce(view.initial(), enqueued, { log: 'q', time: enqueued.time, index: 0 }), claimed, { log: 'q', time: claimed.time, index: 1 })
    const first = live.items.get('x')!
    for (let k = 0; k < 1100; k++) {
      view.fork!(live)
      live = view.reduce(live, renewal, { log: 'q', time: renewal.time, index: 2 + k })
    }
    // Past the bound, the copies were frozen through and let go: the first one's parts too.
    expect(Object.isFrozen(first.decisions)).toBe(true)
    expect(Object.isFrozen(first.winner)).toBe(true)
    expect(live.items.get('x')!.decisions.length).toBe(1101)
  })
})
