/**
 * The differential test of FlowState runs: the same machine and the same events, once through
 * xState's own actor (`createActor(flowStateMachine(def))`) and once through a StateFlow run
 * (signals into the run's log, invocation results from executors), with the configurations,
 * statuses and outputs compared after every event. The scripts are the corpus runs
 * (`test/fixtures/flowstate/runs/`), then seeded random walks over each corpus chart.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { createActor, type AnyActor } from 'xstate'
import { createStateFlowRuntime, createXSync, virtualClock, type FlowRunState, type RunHandle, type StateFlowRuntime, type VirtualClock } from '../../../src/index.js'
import { defineFlowState, flowStateEngine, flowStateMachine, type FlowStateDefinition, type FlowStateNode } from '../../../src/flow/flowstate/index.js'
import { EXTENSIVE, prng, testSeed } from '../../conformance/index.js'

const dir = new URL('../../fixtures/flowstate/', import.meta.url).pathname
const names = readdirSync(`${dir}runs`).map((f) => f.replace(/\.json$/, ''))

interface Script {
  name: string
  input?: unknown
  steps: { event: { type: string; [k: string]: unknown } }[]
}

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

/** Executors that wait for the test to end them: one pending call per invocation instance. */
class Pending {
  readonly calls = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>()
  executor = (ctx: { stepId: string }) => new Promise((resolve, reject) => this.calls.set(ctx.stepId, { resolve, reject }))
}

function refsOf(node: FlowStateNode | FlowStateDefinition['canonical'], out = new Set<string>()): Set<string> {
  for (const inv of node.invoke ?? []) if (inv.src.startsWith('action:')) out.add(inv.src.slice('action:'.length, inv.src.lastIndexOf('@')))
  for (const child of Object.values(node.states ?? {})) refsOf(child, out)
  return out
}

/** The action refs a chart runs on entry, exit and transitions (fire and forget). */
function actionRefsOf(def: FlowStateDefinition): Set<string> {
  const out = new Set<string>()
  const walk = (x: unknown, key = ''): void => {
    if (Array.isArray(x)) x.forEach((v) => walk(v, key))
    else if (typeof x === 'string' && (key === 'actions' || key === 'entry' || key === 'exit') && x.startsWith('action:')) out.add(x)
    else if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) walk(v, k === 'action' ? key : k)
  }
  walk(def.canonical)
  return out
}

/** Every event name a chart handles, with wildcards made concrete. */
function eventsOf(node: FlowStateNode | FlowStateDefinition['canonical'], out = new Set<string>()): Set<string> {
  for (const ev of Object.keys(node.on ?? {})) out.add(ev === '*' ? 'ANYTHING' : ev.endsWith('.*') ? `${ev.slice(0, -2)}.x` : ev)
  for (const child of Object.values(node.states ?? {})) eventsOf(child, out)
  return out
}

/** Values the chart's guards compare with: what random payloads are drawn from. */
function constantsOf(def: FlowStateDefinition): unknown[] {
  const out: unknown[] = [0, 1, 150, 'yes', 'no', null, true]
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(walk)
    else if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>
      if (typeof o.type === 'string' && 'path' in o) {
        if ('value' in o) out.push(o.value)
        if (Array.isArray(o.values)) out.push(...o.values)
      }
      Object.values(o).forEach(walk)
    }
  }
  walk(def.canonical)
  return out
}

class Pair {
  actor!: AnyActor
  run!: RunHandle
  runtime!: StateFlowRuntime
  clock!: VirtualClock
  pending = new Pending()
  log: string[] = []
  actionsRun: string[] = []
  actorActions: string[] = []

  constructor(readonly def: FlowStateDefinition) {}

  async start(input: unknown): Promise<void> {
    const actions = Object.fromEntries([...actionRefsOf(this.def)].map((ref) => [ref, () => void this.actorActions.push(ref)]))
    this.actor = createActor(flowStateMachine(this.def, { actions }), { input })
    // An unhandled invocation error ends the actor in status 'error': observed, not thrown.
    this.actor.subscribe({ error: () => undefined })
    this.actor.start()
    this.clock = virtualClock()
    const client = await createXSync({ now: this.clock.now })
    this.runtime = createStateFlowRuntime({ node: { id: 'n1', kind: 'server', capabilities: ['payments'] }, clock: this.clock, flowstate: flowStateEngine })
    for (const id of refsOf(this.def.canonical)) this.runtime.register(id, this.pending.executor)
    for (const ref of actionRefsOf(this.def)) this.runtime.register(ref, (ctx) => (this.actionsRun.push(ctx.stepId), null))
    closers.push(() => client.close(), () => this.runtime.close())
    this.run = await this.runtime.start({ client, workflow: this.def, input })
    await this.settle()
  }

  /** Wait until the run can go no further by itself: every live invocation waits on the test, a timer, or a peer that is not here. */
  async settle(): Promise<FlowRunState> {
    for (let i = 0; i < 400; i++) {
      const s = await this.run.snapshot()
      if (s.status !== 'running') return s
      const live = Object.values(s.chart!.live)
      const actionsUnderWay = s.active.some((key) => s.steps[key].ref !== undefined)
      const quiet = !actionsUnderWay && live.every((key) => {
        const st = s.steps[key]
        if (st.status === 'sleeping') return true
        if (this.pending.calls.has(key)) return true
        // Claimable only by an authority that is not among the peers (the corpus names a foreign did).
        return st.status === 'ready' && st.decisions.length === 0 && i > 20
      })
      if (quiet) return s
      await this.clock.advance(1)
    }
    throw new Error(`the run did not settle: ${JSON.stringify((await this.run.snapshot()).chart)}`)
  }

  async send(event: { type: string; [k: string]: unknown }): Promise<void> {
    this.log.push(JSON.stringify(event))
    const m = /^xstate\.(done|error)\.actor\.(.+)$/.exec(event.type)
    if (!m) {
      const { type, ...payload } = event
      const exposed = this.def.canonical.exposure?.events
      if (exposed && !exposed.some((x) => x === type || (x.endsWith('.*') && type.startsWith(x.slice(0, -1))))) {
        // Not among the events a caller may send: the run refuses it, and so nothing changes.
        await expect(this.run.signal(type, payload)).rejects.toThrow(/does not expose/)
        return
      }
      // The actor and the run get the same event: the run's signal payload becomes its fields.
      this.actor.send(event)
      const before = (await this.run.snapshot()).signals.length
      await this.run.signal(type, payload)
      if ((await this.run.snapshot()).signals.length !== before + 1) throw new Error('the signal was not recorded')
      await this.settle()
      return
    }
    const [, kind, id] = m
    const s = await this.run.snapshot()
    const key = s.chart!.live[id]
    const error = { name: 'Error', message: typeof event.error === 'string' ? event.error : 'failed' }
    const toActor = kind === 'done' ? { type: event.type, output: event.output ?? null, actorId: id } : { type: event.type, error, actorId: id }
    if (key === undefined) {
      // No such invocation under way: the run cannot produce this event; xState must ignore it too.
      this.actor.send(toActor)
      return
    }
    const st = s.steps[key]
    if (st.status === 'sleeping') {
      if (kind !== 'done') throw new Error('a timer only fires')
      await this.clock.advance(st.wakeAt! - this.clock.now() + 1)
    } else {
      const call = this.pending.calls.get(key)
      if (!call) throw new Error(`invocation ${key} is not running (${st.status})`)
      this.pending.calls.delete(key)
      if (kind === 'done') call.resolve(event.output ?? null)
      else call.reject(new Error(error.message))
    }
    // The actor hears of it as the run does: xState's done/error event for the invocation.
    this.actor.send({ ...toActor, ...(kind === 'done' && st.status === 'sleeping' ? { output: st.wakeAt } : {}) })
    await this.settle()
  }

  async compare(): Promise<void> {
    const s = await this.settle()
    const a = this.actor.getSnapshot()
    const where = `after ${this.log.join(' → ') || 'start'}`
    expect(s.chart!.value, where).toEqual(a.value)
    const status = { active: 'running', done: 'completed', error: 'failed', stopped: 'cancelled' }[a.status as string]
    expect(s.status, where).toBe(status)
    expect(s.chart!.output, where).toEqual(a.context.output)
    if (a.status === 'done') expect(s.output, where).toEqual(a.output ?? null)
    // The same actions, in the same order, each run once.
    const runActions = Object.entries(s.steps)
      .filter(([, st]) => st.ref !== undefined)
      .sort(([x], [y]) => Number(x.split('!')[1]) - Number(y.split('!')[1]))
    expect(runActions.map(([, st]) => st.ref), where).toEqual(this.actorActions)
    expect(runActions.every(([, st]) => st.status === 'succeeded'), where).toBe(true)
    expect([...this.actionsRun].sort(), where).toEqual(runActions.map(([k]) => k).sort())
  }
}

describe('FlowState runs against xState actors', () => {
  for (const name of names) {
    const def = defineFlowState(JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8')))
    const { runs } = JSON.parse(readFileSync(`${dir}runs/${name}.json`, 'utf8')) as { runs: Script[] }
    for (const script of runs) {
      it(`${name}: ${script.name}`, async () => {
        const pair = new Pair(def)
        await pair.start(script.input ?? null)
        await pair.compare()
        for (const step of script.steps) {
          await pair.send(step.event)
          await pair.compare()
        }
      })
    }
  }

  const seed = testSeed()
  for (const name of names) {
    it(`${name}: seeded random walks (seed ${seed})`, async () => {
      const def = defineFlowState(JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8')))
      const { runs } = JSON.parse(readFileSync(`${dir}runs/${name}.json`, 'utf8')) as { runs: Script[] }
      const rand = prng(seed ^ name.length)
      const events = [...eventsOf(def.canonical)]
      const constants = constantsOf(def)
      const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]
      for (let walk = 0; walk < (EXTENSIVE ? 20 : 3); walk++) {
        const pair = new Pair(def)
        await pair.start(pick(runs).input ?? null)
        for (let i = 0; i < 12; i++) {
          const s = await pair.run.snapshot()
          if (s.status !== 'running') break
          const calls = Object.keys(s.chart!.live).filter((id) => pair.pending.calls.has(s.chart!.live[id]))
          const timers = Object.keys(s.chart!.live).filter((id) => s.steps[s.chart!.live[id]].status === 'sleeping')
          const live = [...calls, ...timers]
          const event =
            live.length > 0 && rand() < 0.4
              ? calls.length === 0 || rand() < 0.75
                ? { type: `xstate.done.actor.${pick(live)}`, output: { status: pick(['ok', 'declined']), receipt: 'r', tracking: pick(['TRK-1', 'x']) } }
                : { type: `xstate.error.actor.${pick(calls)}`, error: 'boom' }
              : { type: pick(events), ...(rand() < 0.7 ? { total: pick(constants), text: pick(constants), reason: pick(constants), items: [pick(constants)] } : {}) }
          await pair.send(event)
          await pair.compare()
        }
      }
    })
  }
})
