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
    const snap = view.fork!(live)
    const item = [...snap.items.values()][0]
    expect(Object.isFrozen(item)).toBe(true)
    expect(() => {
      ;(item as { status: string }).status = 'hacked'
    }).toThrow(TypeError)
    expect([...live.items.values()][0].status).not.toBe('hacked')
  })
})
