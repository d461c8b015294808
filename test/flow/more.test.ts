import { afterEach, describe, expect, it } from 'vitest'
import {
  createStateFlowRuntime,
  createXSync,
  defineStep,
  defineWorkflow,
  encodeState,
  flowRunView,
  link,
  memoryNetwork,
  runIdFor,
  type FlowRunState,
  type LogEvent,
  type StepInit,
  type XSyncClient,
} from '../../src/index.js'
import { prng, testSeed } from '../conformance/index.js'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

const node = (id: string) => ({ id, kind: 'server' as const, capabilities: [] })
const step = (id: string, extra: Partial<StepInit> = {}) => defineStep({ id, type: `t.${id}`, sideEffects: { kind: 'pure' }, claim: { mode: 'lease' }, ...extra })

async function client(extra: Parameters<typeof createXSync>[0] = {}): Promise<XSyncClient> {
  const c = await createXSync({ views: { flowRun: flowRunView }, ...extra })
  closers.push(() => c.close())
  return c
}

describe('runs and definitions', () => {
  it('a trigger starts one run per matching event, whichever peers watch, including events written before watching', async () => {
    const net = memoryNetwork({ seed: 3 })
    const a = await client({ transports: [net.transport('a')] })
    const b = await client({ transports: [net.transport('b')] })
    await a.listen()
    const w = defineWorkflow({
      id: 'on-order',
      version: '1',
      steps: { greet: step('greet', { claim: { mode: 'optimistic-idempotent' } }) },
      links: [],
      triggers: [{ log: 'orders', type: 'order.placed', input: (body: { who: string }) => body.who }],
    })
    const ran: string[] = []
    const runtimes = [a, b].map((c, i) => {
      const rt = createStateFlowRuntime({ node: node(`n${i}`) })
      rt.register('t.greet', (_ctx, who: string) => {
        ran.push(who)
        return `hello ${who}`
      })
      closers.push(() => rt.close())
      return rt
    })
    await a.log('orders').append('order.placed', { who: 'ada' })
    await a.log('orders').append('order.cancelled', { who: 'nobody' })
    b.log('orders')
    await b.connect('memory:a')
    await b.sync('orders')
    for (const [i, c] of [a, b].entries()) runtimes[i].watchTriggers({ client: c, workflow: w })
    await b.log('orders').append('order.placed', { who: 'grace' })
    const runIds = async (c: XSyncClient) => (await c.logs()).filter((id) => id.startsWith('run-')).sort()
    for (let i = 0; i < 400 && (await runIds(a)).length < 2; i++) await new Promise((r) => setTimeout(r, 10))
    const ids = await runIds(a)
    expect(ids).toHaveLength(2)
    const outputs = []
    for (const id of ids) outputs.push(await (await runtimes[0].join(id, { client: a })).result())
    expect(outputs.sort()).toEqual(['hello ada', 'hello grace'])
    expect(new Set(ran)).toEqual(new Set(['ada', 'grace']))
  })

  it('one idempotency key, started on two peers apart, is one run once they meet: the first start stands', async () => {
    const net = memoryNetwork({ seed: 11 })
    const a = await client({ transports: [net.transport('a')] })
    const b = await client({ transports: [net.transport('b')] })
    await a.listen()
    const w = defineWorkflow({ id: 'once', version: '1', steps: { only: step('only', { sideEffects: { kind: 'effectful' } }) }, links: [] })
    const ran: string[] = []
    const [ra, rb] = ['a', 'b'].map((n) => {
      const rt = createStateFlowRuntime({ node: node(n), workflows: [w] })
      rt.register('t.only', (_ctx, input: string) => {
        ran.push(n)
        return `${input} by ${n}`
      })
      closers.push(() => rt.close())
      return rt
    })
    // Both write a start event for the same key before they hear of each other...
    const runA = ra.start({ client: a, workflow: w, input: 'from a', idempotencyKey: 'k-1' })
    const runB = rb.start({ client: b, workflow: w, input: 'from b', idempotencyKey: 'k-1' })
    const [ha, hb] = await Promise.all([runA, runB])
    expect(ha.id).toBe(hb.id)
    expect(ha.id).toBe(runIdFor(w.hash, 'k-1'))
    await b.connect('memory:a')
    const [oa, ob] = await Promise.all([ha.result(), hb.result()])
    await net.idle()
    await b.sync(ha.id)
    // ...and once they meet, both fold one run: the start that sorts first, its input, its output.
    const [sa, sb] = await Promise.all([ha.snapshot(), hb.snapshot()])
    expect(encodeState(flowRunView, sa)).toEqual(encodeState(flowRunView, sb))
    const starts: string[] = []
    for await (const e of a.log(ha.id).events()) if (e.type === 'stateflow.workflow.started') starts.push((e.body as { input: string }).input)
    expect(starts).toHaveLength(2)
    expect(sa.input).toBe(starts[0])
    expect(sa.warnings.some((x) => x.message.includes('second start'))).toBe(true)
    // Each ran the step while apart (a partition: one holder per component), and once they meet
    // one result stands for both.
    expect(ran.sort()).toEqual(['a', 'b'])
    expect([oa, ob]).toContain(sa.output)
    expect(sb.output).toEqual(sa.output)
  })

  it('a run keeps the definition it started with when a new version is defined', async () => {
    const c = await client()
    const rt = createStateFlowRuntime({ node: node('n') })
    closers.push(() => rt.close())
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const v1 = defineWorkflow({ id: 'priced', version: '1', steps: { quote: step('quote'), bill: step('bill') }, links: [link('quote', 'bill', { map: (p: number) => p * 2 })] })
    const v2 = defineWorkflow({ id: 'priced', version: '2', steps: { quote: step('quote'), bill: step('bill') }, links: [link('quote', 'bill', { map: (p: number) => p * 100 })] })
    rt.register('t.quote', async () => {
      await gate
      return 21
    })
    rt.register('t.bill', (_ctx, n: number) => n)
    const run1 = await rt.start({ client: c, workflow: v1, input: null })
    rt.define(v2)
    const run2 = await rt.start({ client: c, workflow: v2, input: null })
    release()
    expect(await run1.result()).toBe(42)
    expect(await run2.result()).toBe(2100)
    expect((await run1.snapshot()).workflow?.hash).toBe(v1.hash)
    expect(v1.hash).not.toBe(v2.hash)
  })

  it('flowRunView folds the same events, in any delivery order and batching, to the same bytes on every peer', async () => {
    // A run with retries, fan-out and fan-in, written by two peers.
    const net = memoryNetwork({ seed: 5 })
    const a = await client({ transports: [net.transport('a')] })
    const b = await client({ transports: [net.transport('b')] })
    await a.listen()
    await b.connect('memory:a')
    const w = defineWorkflow({
      id: 'mixed',
      version: '1',
      steps: { a: step('a'), b: step('b', { retry: { maxAttempts: 3, initialIntervalMs: 1, jitter: 0 } }), c: step('c', { claim: { mode: 'optimistic-idempotent' } }), d: step('d') },
      links: [link('a', 'b'), link('a', 'c'), link('b', 'd'), link('c', 'd')],
    })
    let failures = 0
    const rts = [a, b].map((cl, i) => {
      const rt = createStateFlowRuntime({ node: node(`n${i}`), workflows: [w] })
      rt.register('t.a', () => 1)
      rt.register('t.b', () => {
        if (failures++ < 1) throw new Error('once')
        return 2
      })
      rt.register('t.c', () => 3)
      rt.register('t.d', (_ctx, x: unknown) => x)
      closers.push(() => rt.close())
      return rt
    })
    const run = await rts[0].start({ client: a, workflow: w, input: null })
    await rts[1].join(run.id, { client: b })
    await run.result()
    await net.idle()
    await b.sync(run.id)
    const events: LogEvent[] = []
    for await (const e of a.log(run.id).events()) events.push(e)
    const reference = encodeState(flowRunView, (await run.snapshot()) as FlowRunState)

    const seed = testSeed()
    const rand = prng(seed)
    for (let trial = 0; trial < 12; trial++) {
      const shuffled = [...events]
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1))
        ;[shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]]
      }
      const fresh = await client()
      for (let i = 0; i < shuffled.length; ) {
        const n = 1 + Math.floor(rand() * 6)
        await fresh.log(run.id).ingest(shuffled.slice(i, i + n).map((e) => ({ bytes: e.bytes, ...(e.sig ? { sig: e.sig } : {}) })))
        i += n
        // Fold along the way too, so later arrivals land before the tip and rewind.
        if (rand() < 0.3) await fresh.log(run.id).view('flowRun')
      }
      const s = (await fresh.log(run.id).view<{ state: FlowRunState }>('flowRun')).state
      expect(Buffer.from(encodeState(flowRunView, s)).equals(Buffer.from(reference)), `seed ${seed}, trial ${trial}`).toBe(true)
      expect(s.status).toBe('completed')
    }
  })
})
