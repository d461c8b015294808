import { describe, expect, it } from 'vitest'
import { defineStep, defineWorkflow, link, schedule, sleep, type FlowRunState, type SchedulerSelf } from '../../src/index.js'
import { flowRunView } from '../../src/index.js'
import type { LogEvent } from '../../src/log/log.js'

/** A run state folded from hand-made events (only the fields the view reads). */
function fold(events: { type: string; body: unknown; author?: number; time: number }[]): FlowRunState {
  let s = flowRunView.initial()
  let time = 0
  events.forEach((e, i) => {
    time = Math.max(time, e.time)
    const cid = new Uint8Array(36)
    cid[35] = i
    const author = new Uint8Array(32).fill(e.author ?? 1)
    s = flowRunView.reduce(s, { log: 'run-x', type: e.type, body: e.body, author, time: e.time, cid: { bytes: cid } } as unknown as LogEvent, { log: 'run-x', time, index: i })
  })
  return s
}

const w = defineWorkflow({
  id: 'sched',
  version: '1',
  steps: {
    a: defineStep({ id: 'a', type: 't.a', sideEffects: { kind: 'pure' }, claim: { mode: 'optimistic-idempotent' } }),
    nap: sleep('nap', 1000),
    b: defineStep({ id: 'b', type: 't.b', sideEffects: { kind: 'effectful' }, claim: { mode: 'lease', ttlMs: 5000 } }),
  },
  links: [link('a', 'nap'), link('nap', 'b')],
})

const self = (now: number, extra: Partial<SchedulerSelf> = {}): SchedulerSelf => ({ did: 'did:key:me', node: { id: 'n', kind: 'server', capabilities: [] }, now, canRun: () => true, running: new Set(), ...extra })

describe('the scheduler (pure)', () => {
  const started = { type: 'stateflow.workflow.started', body: { workflow: w.canonical, hash: w.hash, input: 7 }, time: 1000 }

  it('asks to run a ready optimistic step, and nothing of a step it cannot run', () => {
    const s = fold([started])
    expect(schedule(w, s, self(1000)).actions).toEqual([{ kind: 'execute', step: 'a', attempt: 1, compensate: false, input: 7 }])
    expect(schedule(w, s, self(1000, { canRun: () => false })).actions).toEqual([])
    expect(schedule(w, s, self(1000, { running: new Set(['a/1']) })).actions).toEqual([])
  })

  it('records a timer, fires it when due, and says when to look again', () => {
    const s = fold([started, { type: 'stateflow.step.succeeded', body: { step: 'a', attempt: 1, output: 8, next: { nap: { input: 8 } } }, time: 1200 }])
    expect(s.steps.nap).toMatchObject({ status: 'sleeping', wakeAt: 2200 })
    expect(schedule(w, s, self(1500))).toEqual({ actions: [{ kind: 'set-timer', step: 'nap', until: 2200 }], wakeAt: 2200 })
    const set = fold([started, { type: 'stateflow.step.succeeded', body: { step: 'a', attempt: 1, output: 8, next: { nap: { input: 8 } } }, time: 1200 }, { type: 'stateflow.timer.set', body: { step: 'nap', until: 2200 }, time: 1201 }])
    expect(schedule(w, set, self(2200)).actions).toEqual([{ kind: 'fire-timer', step: 'nap' }])
  })

  it('is a function of its arguments: the same state and clock give the same plan', () => {
    const s = fold([started])
    expect(JSON.stringify(schedule(w, s, self(1234)))).toBe(JSON.stringify(schedule(w, structuredClone(s), self(1234))))
  })

  it('claims a lease step another peer holds only after its lease ends', () => {
    const events = [
      started,
      { type: 'stateflow.step.succeeded', body: { step: 'a', attempt: 1, output: 8, next: { nap: { input: 8 } } }, time: 1200 },
      { type: 'stateflow.timer.fired', body: { step: 'nap', next: { b: { input: 8 } } }, time: 2300 },
      { type: 'stateflow.step.claimed', body: { step: 'b', attempt: 1 }, author: 9, time: 2400 },
    ]
    const s = fold(events)
    expect(s.steps.b).toMatchObject({ status: 'claimed', expires: 7400 })
    expect(schedule(w, s, self(5000))).toEqual({ actions: [], wakeAt: 7401 })
    expect(schedule(w, s, self(7401)).actions).toEqual([{ kind: 'claim', step: 'b', attempt: 1, compensate: false }])
  })
})
