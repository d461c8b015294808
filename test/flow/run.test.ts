import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  CancelledError,
  childRun,
  createStateFlowRuntime,
  createXSync,
  defineStep,
  defineWorkflow,
  flowRunView,
  InvalidArgumentError,
  link,
  NonRetryableError,
  RunFailedError,
  sleep,
  virtualClock,
  waitForSignal,
  type FlowRunState,
  type RunHandle,
  type StepInit,
  type XSyncClient,
} from '../../src/index.js'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

async function setup() {
  const clock = virtualClock()
  const client = await createXSync({ now: clock.now, views: { flowRun: flowRunView } })
  const runtime = createStateFlowRuntime({ node: { id: 'n1', kind: 'server', capabilities: [] }, clock })
  closers.push(() => client.close(), () => runtime.close())
  return { clock, client, runtime }
}

const step = (id: string, extra: Partial<StepInit> = {}) => defineStep({ id, type: `t.${id}`, sideEffects: { kind: 'pure' }, claim: { mode: 'lease', ttlMs: 60_000 }, ...extra })

async function types(client: XSyncClient, runId: string): Promise<string[]> {
  const out: string[] = []
  for await (const e of client.log(runId).events()) out.push(e.type)
  return out
}

/** Advance the virtual clock in steps until `cond` holds of the run's state. */
async function until(run: RunHandle, clock: ReturnType<typeof virtualClock>, cond: (s: FlowRunState) => boolean, stepMs = 100, maxMs = 600_000): Promise<FlowRunState> {
  for (let t = 0; t <= maxMs; t += stepMs) {
    const s = await run.snapshot()
    if (cond(s)) return s
    await clock.advance(stepMs)
  }
  throw new Error(`condition not reached; state ${JSON.stringify((await run.snapshot()).status)}`)
}

describe('a run on one node', () => {
  it('runs a linear workflow, mapping outputs into inputs along links', async () => {
    const { client, runtime } = await setup()
    const w = defineWorkflow({
      id: 'linear',
      version: '1',
      input: z.string(),
      steps: { a: step('a'), b: step('b'), c: step('c', { sideEffects: { kind: 'effectful' } }) },
      links: [link('a', 'b', { map: (o: string) => ({ text: o }) }), link('b', 'c')],
    })
    runtime.register('t.a', (_ctx, s: string) => s.toUpperCase())
    runtime.register('t.b', (_ctx, x: { text: string }) => x.text.length)
    runtime.register('t.c', (ctx, n: number) => ({ n, attempt: ctx.attempt, key: ctx.idempotencyKey, token: ctx.fencingToken }))
    const run = await runtime.start({ client, workflow: w, input: 'hello' })
    const out = (await run.result()) as { n: number; attempt: number; key: string; token: string }
    expect(out.n).toBe(5)
    expect(out.attempt).toBe(1)
    expect(out.key).toBe(`${run.id}/c/1`)
    const s = await run.snapshot()
    expect(s.steps.c.claim).toBe(out.token)
    expect(Object.values(s.steps).map((x) => x.status)).toEqual(['succeeded', 'succeeded', 'succeeded'])
    expect(s.workflow).toEqual({ id: 'linear', version: '1', hash: w.hash })
    const ts = await types(client, run.id)
    expect(ts[0]).toBe('stateflow.workflow.started')
    expect(ts.filter((t) => t === 'stateflow.step.claimed')).toHaveLength(3)
    // Only the effectful step marks its start (a pure one may just run again after a restart).
    expect(ts.filter((t) => t === 'stateflow.step.started')).toHaveLength(1)
    expect(ts.at(-1)).toBe('stateflow.workflow.completed')
  })

  it('fans out and in: a join step gets each input by source, a false `when` skips its branch', async () => {
    const { client, runtime } = await setup()
    const w = defineWorkflow({
      id: 'fan',
      version: '1',
      steps: { a: step('a'), b: step('b'), c: step('c'), d: step('d'), x: step('x'), y: step('y') },
      links: [link('a', 'b'), link('a', 'c'), link('b', 'd'), link('c', 'd'), link('a', 'x', { when: (n: number) => n > 100 }), link('x', 'y')],
    })
    const ran: string[] = []
    for (const id of ['a', 'b', 'c', 'd', 'x', 'y']) {
      runtime.register(`t.${id}`, (_ctx, input: unknown) => {
        ran.push(id)
        return id === 'a' ? 1 : id === 'd' ? input : `${id}(${JSON.stringify(input)})`
      })
    }
    const run = await runtime.start({ client, workflow: w, input: null })
    const out = (await run.result()) as Record<string, unknown>
    expect(out.d).toEqual({ b: 'b(1)', c: 'c(1)' })
    expect(out).not.toHaveProperty('y')
    const s = await run.snapshot()
    expect(s.steps.x.status).toBe('skipped')
    expect(s.steps.y.status).toBe('skipped')
    expect(ran.sort()).toEqual(['a', 'b', 'c', 'd'])
  })

  it('retries with backoff by log time, then succeeds on the third attempt', async () => {
    const { client, runtime, clock } = await setup()
    const w = defineWorkflow({ id: 'retry', version: '1', steps: { a: step('a', { retry: { maxAttempts: 3, initialIntervalMs: 1000, backoffCoefficient: 2, jitter: 0 } }) }, links: [] })
    const attempts: number[] = []
    runtime.register('t.a', (ctx) => {
      attempts.push(ctx.attempt)
      if (ctx.attempt < 3) throw new Error(`flaky ${ctx.attempt}`)
      return 'ok'
    })
    const run = await runtime.start({ client, workflow: w, input: null })
    const s1 = await until(run, clock, (s) => s.steps.a.status === 'retrying')
    const failedAt = s1.steps.a.decisions.filter((d) => d.kind === 'result').at(-1)!.time
    expect(s1.steps.a.retryAt! - failedAt).toBe(1000)
    expect(s1.steps.a.error).toEqual({ name: 'Error', message: 'flaky 1', retryable: true })
    const s2 = await until(run, clock, (s) => s.steps.a.status === 'retrying' && s.steps.a.attempt === 2)
    const failed2 = s2.steps.a.decisions.filter((d) => d.kind === 'result').at(-1)!.time
    expect(s2.steps.a.retryAt! - failed2).toBe(2000)
    await until(run, clock, (s) => s.status === 'completed')
    expect(await run.result()).toBe('ok')
    expect(attempts).toEqual([1, 2, 3])
    const ts = await types(client, run.id)
    expect(ts.filter((t) => t === 'stateflow.step.failed')).toHaveLength(2)
    expect(ts.filter((t) => t === 'stateflow.step.retrying')).toHaveLength(2)
    // Each attempt had its own claim: a new fencing token.
    expect(new Set((await run.snapshot()).steps.a.decisions.filter((d) => d.verdict === 'won').map((d) => d.cid)).size).toBe(3)
  })

  it('fails at once on a NonRetryableError or an error named non-retryable', async () => {
    const { client, runtime } = await setup()
    const w = defineWorkflow({
      id: 'nonretry',
      version: '1',
      steps: { a: step('a', { retry: { maxAttempts: 5, nonRetryable: ['PaymentDeclined'] } }), b: step('b', { retry: { maxAttempts: 5 } }) },
      links: [],
    })
    runtime.register('t.a', () => {
      const e = new Error('card refused')
      e.name = 'PaymentDeclined'
      throw e
    })
    runtime.register('t.b', () => new Promise(() => undefined))
    const run = await runtime.start({ client, workflow: w, input: null })
    const err = await run.result().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RunFailedError)
    expect((err as RunFailedError).step).toBe('a')
    expect((err as RunFailedError).error).toEqual({ name: 'PaymentDeclined', message: 'card refused' })
    const s = await run.snapshot()
    expect(s.steps.a.attempt).toBe(1)
    expect(s.steps.b.status).toBe('cancelled')

    const w2 = defineWorkflow({ id: 'nonretry2', version: '1', steps: { a: step('a', { retry: { maxAttempts: 5 } }) }, links: [] })
    runtime.register('t.a', () => {
      throw new NonRetryableError('bad input')
    })
    const run2 = await runtime.start({ client, workflow: w2, input: null })
    await expect(run2.result()).rejects.toMatchObject({ code: 'RUN_FAILED', error: { name: 'NonRetryableError' } })
  })

  it('times an attempt out: the executor is aborted and the attempt counts as failed', async () => {
    const { client, runtime, clock } = await setup()
    const w = defineWorkflow({ id: 'timeout', version: '1', steps: { a: step('a', { timeoutMs: 5000, retry: { maxAttempts: 1 } }) }, links: [] })
    let aborted: unknown
    runtime.register('t.a', (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject((aborted = ctx.signal.reason)))))
    const run = await runtime.start({ client, workflow: w, input: null })
    await until(run, clock, (s) => s.status === 'failed', 1000)
    expect(aborted).toBeInstanceOf(Error)
    await expect(run.result()).rejects.toMatchObject({ error: { name: 'TimeoutError' } })
    expect(await types(client, run.id)).toContain('stateflow.step.timed-out')
  })

  it('sleeps durably: the timer fires at its log time, not before', async () => {
    const { client, runtime, clock } = await setup()
    const w = defineWorkflow({ id: 'sleepy', version: '1', steps: { a: step('a'), nap: sleep('nap', 60_000), b: step('b') }, links: [link('a', 'nap'), link('nap', 'b')] })
    runtime.register('t.a', () => 'rested?')
    runtime.register('t.b', (_ctx, x: string) => `${x} yes`)
    const run = await runtime.start({ client, workflow: w, input: null })
    const s = await until(run, clock, (x) => x.steps.nap.status === 'sleeping' && x.steps.nap.timerSet === true)
    const wake = s.steps.nap.wakeAt!
    expect(wake - s.steps.a.endedAt!).toBe(60_000)
    await clock.advance(wake - clock.now() - 1)
    expect((await run.snapshot()).steps.nap.status).toBe('sleeping')
    await until(run, clock, (x) => x.status === 'completed', 10)
    expect(await run.result()).toBe('rested? yes')
    const ts = await types(client, run.id)
    expect(ts.filter((t) => t === 'stateflow.timer.set')).toHaveLength(1)
    expect(ts.filter((t) => t === 'stateflow.timer.fired')).toHaveLength(1)
  })

  it('takes a signal sent before the wait was reached, checks typed payloads, and times a wait out', async () => {
    const { client, runtime, clock } = await setup()
    const w = defineWorkflow({
      id: 'signals',
      version: '1',
      steps: { gate: step('gate'), approve: waitForSignal('approve', 'approval', { schema: z.object({ ok: z.boolean() }) }), after: step('after') },
      links: [link('gate', 'approve'), link('approve', 'after')],
    })
    let open!: () => void
    runtime.register('t.gate', () => new Promise<string>((r) => (open = () => r('gate'))))
    runtime.register('t.after', (_ctx, p: { ok: boolean }) => (p.ok ? 'approved' : 'rejected'))
    const run = await runtime.start({ client, workflow: w, input: null })
    await until(run, clock, (s) => s.steps.gate.status === 'claimed')
    await expect(run.signal('approval', { ok: 'yes' })).rejects.toBeInstanceOf(InvalidArgumentError)
    await run.signal('approval', { ok: true })
    open()
    expect(await run.result()).toBe('approved')
    const s = await run.snapshot()
    expect(s.signals).toHaveLength(1)
    expect(s.signals[0].consumedBy).toBe('approve')

    const w2 = defineWorkflow({ id: 'signals2', version: '1', steps: { wait: waitForSignal('wait', 'never', { timeoutMs: 10_000 }) }, links: [] })
    const run2 = await runtime.start({ client, workflow: w2, input: null })
    await until(run2, clock, (x) => x.status === 'failed', 1000)
    await expect(run2.result()).rejects.toMatchObject({ step: 'wait', error: { name: 'TimeoutError' } })
  })

  it('cancels: running executors see the abort, succeeded steps are compensated newest first', async () => {
    const { client, runtime, clock } = await setup()
    const w = defineWorkflow({
      id: 'saga',
      version: '1',
      steps: { book: step('book', { compensate: 't.unbook' }), charge: step('charge', { compensate: 't.refund' }), ship: step('ship') },
      links: [link('book', 'charge'), link('charge', 'ship')],
    })
    const log: string[] = []
    let shipSignal: AbortSignal | undefined
    runtime.register('t.book', () => 'booking-1')
    runtime.register('t.charge', () => 'charge-1')
    runtime.register('t.ship', (ctx) => {
      shipSignal = ctx.signal
      return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))
    })
    runtime.register('t.unbook', (ctx, x: { input: unknown; output: unknown }) => void log.push(`unbook ${x.output} ${ctx.compensating}`))
    runtime.register('t.refund', (_ctx, x: { output: unknown }) => void log.push(`refund ${x.output}`))
    const run = await runtime.start({ client, workflow: w, input: null })
    await until(run, clock, (s) => s.steps.ship.status === 'claimed')
    await run.cancel('customer changed their mind')
    const err = await run.result().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CancelledError)
    expect((err as Error).message).toContain('customer changed their mind')
    expect(shipSignal?.aborted).toBe(true)
    expect(log).toEqual(['refund charge-1', 'unbook booking-1 true'])
    const s = await run.snapshot()
    expect(s.status).toBe('cancelled')
    expect(s.steps.ship.status).toBe('cancelled')
    expect(s.compensationOrder).toEqual(['charge', 'book'])
  })

  it('runs a child workflow as a step, and one idempotency key starts one run', async () => {
    const { client, runtime } = await setup()
    const child = defineWorkflow({ id: 'child', version: '1', steps: { double: step('double') }, links: [] })
    const parent = defineWorkflow({ id: 'parent', version: '1', steps: { pre: step('pre'), kid: childRun('kid', child), post: step('post') }, links: [link('pre', 'kid'), link('kid', 'post')] })
    runtime.register('t.pre', (_ctx, n: number) => n + 1)
    runtime.register('t.double', (_ctx, n: number) => n * 2)
    runtime.register('t.post', (_ctx, n: number) => `=${n}`)
    const run = await runtime.start({ client, workflow: parent, input: 20, idempotencyKey: 'order-7' })
    expect(await run.result()).toBe('=42')
    const again = await runtime.start({ client, workflow: parent, input: 20, idempotencyKey: 'order-7' })
    expect(again.id).toBe(run.id)
    expect((await types(client, run.id)).filter((t) => t === 'stateflow.workflow.started')).toHaveLength(1)
    const childLogs = (await client.logs()).filter((id) => id.startsWith('run-') && id !== run.id)
    expect(childLogs).toHaveLength(1)
    const childState = await client.log(childLogs[0]).view<{ state: FlowRunState }>('flowRun')
    expect(childState.state.parent).toEqual({ runId: run.id, step: 'kid', attempt: 1 })
    expect(childState.state.output).toBe(42)
  })

  it('refuses bad input with a typed error and stores nothing', async () => {
    const { client, runtime } = await setup()
    const w = defineWorkflow({ id: 'typed', version: '1', input: z.object({ n: z.number() }), steps: { a: step('a') }, links: [] })
    await expect(runtime.start({ client, workflow: w, input: { n: 'x' } as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(runtime.start({ client, workflow: {} as never, input: null })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(await client.logs()).toEqual([])
    expect(() => runtime.register('', () => 1)).toThrow(InvalidArgumentError)
  })
})
