/**
 * FlowState charts on `createStateFlowRuntime`: the run state is the configuration xState's pure
 * `transition()` gives from the log's events; invocations are claimed and run like steps.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  createStateFlowRuntime,
  createXSync,
  flowRunViewWith,
  InvalidArgumentError,
  memoryNetwork,
  RunFailedError,
  virtualClock,
  type Executor,
  type FlowRunState,
  type RunHandle,
  type RuntimeNodeSpec,
  type StepContext,
  type XSyncClient,
} from '../../../src/index.js'
import { defineFlowState, flowStateEngine, type FlowStateInit } from '../../../src/flow/flowstate/index.js'
import { FLOW } from '../../../src/flow/events.js'
import { ViewHost } from '../../../src/views/host.js'
import { toHex } from '../../../src/dag/bytes.js'
import { sha256 } from '../../../src/log/crypto-backend.js'
import { canonicalJson } from '../../../src/flow/canonical-json.js'
import { eventually } from '../../conformance/index.js'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

const server: RuntimeNodeSpec = { id: 'n1', kind: 'server', capabilities: ['payments'] }

async function setup(node: RuntimeNodeSpec = server) {
  const clock = virtualClock()
  const client = await createXSync({ now: clock.now })
  const runtime = createStateFlowRuntime({ node, clock, flowstate: flowStateEngine })
  closers.push(() => client.close(), () => runtime.close())
  return { clock, client, runtime }
}

/** Advance the virtual clock in steps until `cond` holds of the run's state. */
async function until(run: RunHandle, clock: ReturnType<typeof virtualClock>, cond: (s: FlowRunState) => boolean, stepMs = 50, maxMs = 120_000): Promise<FlowRunState> {
  for (let t = 0; t <= maxMs; t += stepMs) {
    const s = await run.snapshot()
    if (cond(s)) return s
    await clock.advance(stepMs)
  }
  const s = await run.snapshot()
  throw new Error(`condition not reached; status ${s.status}, value ${JSON.stringify(s.chart?.value)}, warnings ${JSON.stringify(s.warnings)}`)
}

const order: FlowStateInit = {
  id: 'test.order',
  version: '1.0.0',
  inputSchema: { type: 'object', properties: { total: { type: 'number' }, orderId: { type: 'string' } }, required: ['total', 'orderId'] },
  exposure: { events: ['CHECKOUT', 'CANCEL_ORDER', 'RETRY'] },
  initial: 'idle',
  states: {
    idle: { on: { CHECKOUT: { target: 'charging', guard: { type: 'gt', path: '$.input.total', value: 0 } } } },
    charging: {
      invoke: {
        id: 'charge',
        src: 'action:payments.charge@^1',
        input: { amount: '$.input.total' },
        idempotencyKey: '$.input.orderId',
        placement: { kinds: ['server'], requires: ['payments'] },
        onDone: [{ target: 'waiting', guard: { type: 'equals', path: '$.event.output.status', value: 'ok' } }, { target: 'declined' }],
        onError: 'payFailed',
      },
    },
    payFailed: { on: { RETRY: 'charging' } },
    waiting: { invoke: { id: 'cool', src: 'service:timer@^1', input: { ms: { const: 5000 } }, onDone: 'shipping' }, on: { CANCEL_ORDER: 'cancelled' } },
    shipping: { invoke: { id: 'ship', src: 'action:warehouse.ship@^2', input: { receipt: '$.output.charge.receipt' }, onDone: 'done' } },
    done: { type: 'final', output: { receipt: '$.output.charge.receipt', tracking: '$.output.ship.tracking' } },
    declined: { type: 'final', output: { declined: { const: true } } },
    cancelled: { type: 'final' },
  },
}

describe('a FlowState run on one node', () => {
  it('signals, invocations (by range), a durable timer and output bindings take it to its final state', async () => {
    const { clock, client, runtime } = await setup()
    const seen: { ref: string; ctx: StepContext; input: unknown }[] = []
    const record = (ref: string, out: unknown): Executor => (ctx, input) => {
      seen.push({ ref, ctx, input })
      return out
    }
    runtime.register('payments.charge@1.4.0', record('payments.charge@1.4.0', { status: 'ok', receipt: 'r-9' }))
    runtime.register('payments.charge@2.0.0', record('payments.charge@2.0.0', { status: 'wrong version' }))
    runtime.register('payments.charge@1.2.0', record('payments.charge@1.2.0', { status: 'older' }))
    runtime.register('warehouse.ship', record('warehouse.ship', { tracking: 'TRK-42' }))
    const def = defineFlowState(order)
    const run = await runtime.start({ client, workflow: def, input: { total: 30, orderId: 'o-1' } })
    let s = await run.snapshot()
    expect(s.status).toBe('running')
    expect(s.chart?.value).toBe('idle')
    expect(s.workflow).toEqual({ id: 'test.order', version: '1.0.0', hash: def.hash })

    await run.signal('CHECKOUT')
    s = await until(run, clock, (x) => x.chart?.value === 'waiting')
    // The highest version the range accepts ran, once, with its bound input and idempotency key.
    expect(seen.map((x) => x.ref)).toEqual(['payments.charge@1.4.0'])
    expect(seen[0].input).toEqual({ amount: 30 })
    expect(seen[0].ctx.idempotencyKey).toBe('charge/"o-1"')
    expect(seen[0].ctx.stepId).toBe('charge#1')
    expect(s.steps['charge#1'].status).toBe('succeeded')
    expect(s.chart?.output).toEqual({ charge: { status: 'ok', receipt: 'r-9' } })
    // The timer: sleeping until its log time, not before.
    const timer = s.steps['cool#1']
    expect(timer.status).toBe('sleeping')
    expect(timer.wakeAt! - timer.readyAt!).toBe(5000)

    s = await until(run, clock, (x) => x.status === 'completed')
    expect(s.steps['cool#1'].endedAt!).toBeGreaterThanOrEqual(timer.wakeAt!)
    expect(await run.result()).toEqual({ receipt: 'r-9', tracking: 'TRK-42' })
    expect(seen.map((x) => x.ref)).toEqual(['payments.charge@1.4.0', 'warehouse.ship'])
    expect(seen[1].input).toEqual({ receipt: 'r-9' })
    expect(s.chart?.live).toEqual({})
    expect(s.endRecorded).toBe(true)
  })

  it('onError takes an invocation error; entering the state again starts a new instance; leaving a state stops its invocation', async () => {
    const { clock, client, runtime } = await setup()
    let calls = 0
    runtime.register('payments.charge', (ctx) => {
      calls++
      if (calls === 1) throw new Error('card refused')
      return { status: 'ok', receipt: `r-${ctx.stepId}` }
    })
    const run = await runtime.start({ client, workflow: defineFlowState(order), input: { total: 5, orderId: 'o-2' } })
    await run.signal('CHECKOUT')
    let s = await until(run, clock, (x) => x.chart?.value === 'payFailed')
    // One attempt: a chart handles errors with its own transitions.
    expect(s.steps['charge#1']).toMatchObject({ status: 'failed', attempt: 1, error: { name: 'Error', message: 'card refused' } })
    await run.signal('RETRY')
    s = await until(run, clock, (x) => x.chart?.value === 'waiting')
    expect(s.steps['charge#2'].status).toBe('succeeded')
    expect(s.chart?.output.charge).toEqual({ status: 'ok', receipt: 'r-charge#2' })
    expect(s.chart?.started).toEqual({ charge: 2, cool: 1 })
    await run.signal('CANCEL_ORDER')
    s = await until(run, clock, (x) => x.status === 'completed')
    expect(s.steps['cool#1'].status).toBe('cancelled')
    expect(s.chart?.value).toBe('cancelled')
    expect(await run.result()).toBe(null)
  })

  it('an invocation error no transition handles fails the run', async () => {
    const { clock, client, runtime } = await setup()
    runtime.register('risky', () => {
      throw new Error('nope')
    })
    const flow = defineFlowState({ id: 'test.unhandled', version: '1.0.0', initial: 'a', states: { a: { invoke: { id: 'r', src: 'action:risky@^1', onDone: 'b' } }, b: { type: 'final' } } })
    const run = await runtime.start({ client, workflow: flow, input: null })
    const s = await until(run, clock, (x) => x.status === 'failed')
    expect(s.error).toEqual({ step: 'r#1', name: 'Error', message: 'nope' })
    await expect(run.result()).rejects.toBeInstanceOf(RunFailedError)
  })

  it('cancel stops the chart and aborts running invocations', async () => {
    const { clock, client, runtime } = await setup()
    let aborted = false
    runtime.register('slow', (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => ((aborted = true), reject(ctx.signal.reason)))))
    const flow = defineFlowState({ id: 'test.slow', version: '1.0.0', initial: 'a', states: { a: { invoke: { id: 's', src: 'action:slow@^1', onDone: 'b' } }, b: { type: 'final' } } })
    const run = await runtime.start({ client, workflow: flow, input: null })
    await until(run, clock, (x) => x.steps['s#1']?.status === 'running')
    await run.cancel('changed my mind')
    const s = await until(run, clock, (x) => x.status === 'cancelled')
    expect(s.steps['s#1'].status).toBe('cancelled')
    await eventually(async () => aborted, 'the executor saw its AbortSignal fire')
  })
})

describe('FlowState runs: entry, exit and transition actions', () => {
  it('run once each as steps, with their input bound; the run ends after they have; a failing one is a warning', async () => {
    const { clock, client, runtime } = await setup()
    const calls: { ref: string; input: unknown; key: string }[] = []
    runtime.register('audit.log', (ctx, input) => void calls.push({ ref: 'audit.log', input, key: ctx.stepId }))
    runtime.register('mail.send@1.0.0', (ctx, input) => {
      calls.push({ ref: 'mail.send', input, key: ctx.stepId })
      throw new Error('smtp down')
    })
    const flow = defineFlowState({
      id: 'test.actions',
      version: '1.0.0',
      initial: 'a',
      states: {
        a: { entry: [{ action: 'action:audit.log@^1', input: { who: '$.input.user', kind: { const: 'enter' } } }], on: { GO: { target: 'b', actions: ['action:mail.send@^1'] } } },
        b: { type: 'final', entry: ['action:audit.log@^1'], output: { user: '$.input.user' } },
      },
    })
    const run = await runtime.start({ client, workflow: flow, input: { user: 'ada' } })
    await run.signal('GO')
    const s = await until(run, clock, (x) => x.status !== 'running', 500)
    expect(s.status).toBe('completed')
    expect(await run.result()).toEqual({ user: 'ada' })
    expect(calls.filter((c) => c.ref === 'audit.log').map((c) => [c.key, c.input])).toEqual([['audit.log!1', { who: 'ada', kind: 'enter' }], ['audit.log!3', null]])
    // The failing action retried by the default policy (3 attempts), then was recorded.
    expect(calls.filter((c) => c.ref === 'mail.send')).toHaveLength(3)
    expect(s.steps['mail.send!2']).toMatchObject({ status: 'failed', attempt: 3, ref: 'action:mail.send@^1' })
    expect(s.warnings.map((w) => w.message)).toContainEqual(expect.stringMatching(/action action:mail\.send@\^1 \(mail\.send!2\) failed: Error: smtp down/))
  })
})

describe('FlowState runs: bad input', () => {
  it('refuses input that does not fit the inputSchema, and appends nothing', async () => {
    const { client, runtime } = await setup()
    const def = defineFlowState(order)
    const err = await runtime.start({ client, workflow: def, input: { total: 'lots', orderId: 'x' }, idempotencyKey: 'k' }).catch((e) => e)
    expect(err).toBeInstanceOf(InvalidArgumentError)
    expect(err.code).toBe('INVALID_ARGUMENT')
    expect(err.message).toMatch(/input of test\.order: total: /)
    const run = await runtime.start({ client, workflow: def, input: { total: 1, orderId: 'x' }, idempotencyKey: 'k' })
    const types: string[] = []
    for await (const e of client.log(run.id).events()) types.push(e.type)
    expect(types.filter((t) => t === FLOW.started)).toHaveLength(1)
  })

  it('refuses signals the flow does not expose and xstate.* events', async () => {
    const { client, runtime } = await setup()
    const run = await runtime.start({ client, workflow: defineFlowState(order), input: { total: 1, orderId: 'x' } })
    await expect(run.signal('SHIP_NOW')).rejects.toThrow(/does not expose "SHIP_NOW"/)
    await expect(run.signal('xstate.done.actor.charge', { output: {} })).rejects.toThrow(/runtime only/)
    expect((await run.snapshot()).signals).toEqual([])
  })

  it('a runtime without the FlowState engine refuses a chart, with the way to fix it', async () => {
    const client = await createXSync()
    const runtime = createStateFlowRuntime({ node: server })
    closers.push(() => client.close(), () => runtime.close())
    await expect(runtime.start({ client, workflow: defineFlowState(order), input: { total: 1, orderId: 'x' } })).rejects.toThrow(/flowstate: flowStateEngine/)
  })

  it('a start event whose document does not hash to the named hash, or is not valid, starts nothing', async () => {
    const client = await createXSync()
    closers.push(() => client.close())
    const def = defineFlowState(order)
    const log = client.log('forged')
    await log.append(FLOW.started, { workflow: { ...def.canonical, version: '9.9.9' }, hash: def.hash, input: null })
    const invalid = { flowstate: 1, id: 'x', version: '1.0.0', type: 'compound', initial: 'nowhere', states: { a: { type: 'atomic' } } }
    await log.append(FLOW.started, { workflow: invalid, hash: `sha256:${toHex(sha256(new TextEncoder().encode(canonicalJson(invalid))))}`, input: null })
    const host = new ViewHost(log, client.store, flowRunViewWith(flowStateEngine))
    const s = await host.read((x) => structuredClone(x))
    await host.close()
    expect(s.status).toBe('pending')
    expect(s.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/hashes to sha256:[0-9a-f]+, not sha256:/), expect.stringMatching(/not valid: initial/)])
  })
})

describe('FlowState runs across peers', () => {
  it('two peers follow one run; the placed invocation runs on the node that fits, once; both fold the same state', async () => {
    const net = memoryNetwork({ seed: 11 })
    const nodes: RuntimeNodeSpec[] = [
      { id: 'browser-1', kind: 'browser', capabilities: [] },
      { id: 'server-1', kind: 'server', capabilities: ['payments'] },
    ]
    const ran: string[] = []
    const clients: XSyncClient[] = []
    const runtimes = nodes.map((node) => {
      const rt = createStateFlowRuntime({ node, flowstate: flowStateEngine })
      rt.register('payments.charge', (ctx) => (ran.push(`${node.id}:${ctx.stepId}`), { status: 'ok', receipt: 'r' }))
      rt.register('warehouse.ship', (ctx) => (ran.push(`${node.id}:${ctx.stepId}`), { tracking: 'T' }))
      closers.push(() => rt.close())
      return rt
    })
    for (let i = 0; i < nodes.length; i++) {
      const c = await createXSync({ transports: [net.transport(`p${i}`)], reconnect: { minDelayMs: 5, maxDelayMs: 50 } })
      closers.push(() => c.close())
      clients.push(c)
    }
    const [address] = await clients[0].listen()
    await clients[1].connect(address)
    // A flow without the timer, so it runs on real time quickly.
    const quick = defineFlowState({ ...order, id: 'test.quick', states: { ...order.states, waiting: { on: { GO: 'shipping' } } }, exposure: { events: ['CHECKOUT', 'GO'] } } as FlowStateInit)
    const run = await runtimes[0].start({ client: clients[0], workflow: quick, input: { total: 3, orderId: 'o-9' } })
    const other = await runtimes[1].join(run.id, { client: clients[1] })
    await run.signal('CHECKOUT')
    await eventually(async () => (await other.snapshot()).chart?.value === 'waiting', 'the server peer charged')
    await other.signal('GO')
    const outputs = await Promise.all([run.result(), other.result()])
    expect(outputs[0]).toEqual({ receipt: 'r', tracking: 'T' })
    expect(outputs[1]).toEqual(outputs[0])
    // Charge is placed on a server with payments; ship is a lease any peer may win, once.
    expect(ran.filter((r) => r.endsWith('charge#1'))).toEqual(['server-1:charge#1'])
    expect(ran.filter((r) => r.endsWith('ship#1'))).toHaveLength(1)
    const headsOf = async (c: XSyncClient) => (await c.log(run.id).heads()).map((h) => toHex(h.bytes)).join()
    await eventually(async () => (await headsOf(clients[0])) === (await headsOf(clients[1])), 'both peers hold the same heads')
    const [a, b] = await Promise.all([run.snapshot(), other.snapshot()])
    expect(JSON.stringify(a)).toBe(JSON.stringify(b))
  })
})
