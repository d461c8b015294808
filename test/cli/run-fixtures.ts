/**
 * Real workflow runs written into SQLite stores, for `audit replay`: a step workflow on two peers
 * over the memory network (the store is server-1's), and a FlowState chart run on one peer.
 */
import { createStateFlowRuntime, createXSync, defineStep, defineWorkflow, flowRunView, link, memoryNetwork, virtualClock, type FlowRunState, type RunHandle, type StepInit } from '../../src/index.js'
import { defineFlowState, flowStateEngine } from '../../src/flow/flowstate/index.js'
import type { EventStore } from '../../src/stores/event-store.js'
import { sqliteStore } from '../../src/stores/sqlite-store.js'
import { eventually } from '../conformance/index.js'

export interface RunFixture {
  runId: string
  /** Events in the run's log in the store. */
  events: number
  /** The state the runtime reached, for comparison with the replay's last. */
  final: FlowRunState
}

const step = (id: string, extra: Partial<StepInit> = {}) => defineStep({ id, type: `t.${id}`, sideEffects: { kind: 'effectful' }, claim: { mode: 'lease', ttlMs: 60_000 }, ...extra })

/** prep (lease), then flaky (fails once, retried) and enrich (optimistic: both peers run it), then done. */
export const stepWorkflow = defineWorkflow({
  id: 'replay.steps',
  version: '1.0.0',
  steps: {
    prep: step('prep'),
    flaky: step('flaky', { retry: { maxAttempts: 3, initialIntervalMs: 10, backoffCoefficient: 1, jitter: 0 } }),
    enrich: step('enrich', { sideEffects: { kind: 'pure' }, claim: { mode: 'optimistic-idempotent', duplicatePolicy: 'first-valid-wins' } }),
    done: step('done'),
  },
  links: [link('prep', 'flaky'), link('prep', 'enrich'), link('flaky', 'done'), link('enrich', 'done')],
})

export async function writeStepRun(path: string): Promise<RunFixture> {
  const net = memoryNetwork({ seed: 11 })
  const closers: (() => Promise<void>)[] = []
  try {
    const nodes = [
      { id: 'server-1', kind: 'server' as const, capabilities: [] },
      { id: 'server-2', kind: 'server' as const, capabilities: [] },
    ]
    let flakyCalls = 0
    const runtimes = nodes.map((node) => {
      const rt = createStateFlowRuntime({ node, workflows: [stepWorkflow] })
      for (const id of Object.keys(stepWorkflow.steps)) {
        rt.register(`t.${id}`, (ctx, input) => {
          if (id === 'flaky' && flakyCalls++ === 0) throw new Error('first attempt fails on purpose')
          return id === 'done' ? input : `${id}@${node.id}#${ctx.attempt}`
        })
      }
      closers.push(() => rt.close())
      return rt
    })
    const a = await createXSync({ store: sqliteStore(path), transports: [net.transport('hub')], views: { flowRun: flowRunView } })
    const b = await createXSync({ transports: [net.transport('peer')], views: { flowRun: flowRunView } })
    closers.push(() => a.close(), () => b.close())
    const [address] = await a.listen()
    await b.connect(address)
    const run = await runtimes[0].start({ client: a, workflow: stepWorkflow, input: 'go' })
    const other = await runtimes[1].join(run.id, { client: b })
    await Promise.all([run.result(), other.result()])
    const heads = async (c: typeof a) => (await c.log(run.id).heads()).map(String).join()
    await eventually(async () => (await heads(a)) === (await heads(b)), 'both peers hold the same heads')
    await eventually(async () => (await run.snapshot()).endRecorded === true, 'the end is recorded')
    return { runId: run.id, events: await a.log(run.id).count(), final: await run.snapshot() }
  } finally {
    for (const c of closers.reverse()) await c()
  }
}

/** idle --CHECKOUT--> charging (invokes payments.charge) --done--> paid (final). */
export const chart = defineFlowState({
  id: 'replay.chart',
  version: '1.0.0',
  initial: 'idle',
  exposure: { events: ['CHECKOUT'] },
  states: {
    idle: { on: { CHECKOUT: 'charging' } },
    charging: { invoke: { id: 'charge', src: 'action:payments.charge@^1', input: { amount: '$.input.total' }, onDone: 'paid', onError: 'failed' } },
    paid: { type: 'final', output: { receipt: '$.output.charge.receipt' } },
    failed: { type: 'final' },
  },
})

/** The chart run, into an SQLite file at `path` unless `store` is given. */
export async function writeChartRun(path: string, store: EventStore = sqliteStore(path)): Promise<RunFixture> {
  const clock = virtualClock()
  const client = await createXSync({ store, now: clock.now })
  const runtime = createStateFlowRuntime({ node: { id: 'n1', kind: 'server', capabilities: [] }, clock, flowstate: flowStateEngine })
  try {
    runtime.register('payments.charge@1.0.0', (_ctx, input) => ({ receipt: `r-${(input as { amount: number }).amount}` }))
    const run: RunHandle = await runtime.start({ client, workflow: chart, input: { total: 30 } })
    await run.signal('CHECKOUT')
    for (let t = 0; t < 60_000 && (await run.snapshot()).endRecorded !== true; t += 50) await clock.advance(50)
    const final = await run.snapshot()
    if (final.status !== 'completed') throw new Error(`the chart run did not complete: ${JSON.stringify(final.status)}`)
    return { runId: run.id, events: await client.log(run.id).count(), final }
  } finally {
    await runtime.close()
    await client.close()
  }
}
