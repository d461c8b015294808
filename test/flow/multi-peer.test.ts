import { afterEach, describe, expect, it } from 'vitest'
import {
  createStateFlowRuntime,
  createXSync,
  defineStep,
  defineWorkflow,
  flowRunView,
  link,
  memoryNetwork,
  webSocketTransport,
  type FlowRunState,
  type RuntimeNodeSpec,
  type StepInit,
  type Transport,
  type XSyncClient,
} from '../../src/index.js'
import { webSocketServer } from '../../src/transports/websocket-server.js'
import { toHex } from '../../src/dag/bytes.js'
import { eventually } from '../conformance/index.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const step = (id: string, extra: Partial<StepInit>) => defineStep({ id, type: `t.${id}`, sideEffects: { kind: 'effectful' }, claim: { mode: 'lease', ttlMs: 60_000 }, ...extra })

// One step per claim mode, and one that only a browser may run; all of them join in `done`.
const workflow = defineWorkflow({
  id: 'multi',
  version: '1',
  steps: {
    prep: step('prep', {}),
    auth: step('auth', { claim: { mode: 'authority', authority: 'server-1' } }),
    elect: step('elect', { claim: { mode: 'deterministic-election', timeoutMs: 60_000 } }),
    enrich: step('enrich', { sideEffects: { kind: 'pure' }, claim: { mode: 'optimistic-idempotent', duplicatePolicy: 'first-valid-wins' } }),
    ui: step('ui', { placement: { kinds: ['browser'] } }),
    done: step('done', {}),
  },
  links: [link('prep', 'auth'), link('prep', 'elect'), link('prep', 'enrich'), link('prep', 'ui'), link('auth', 'done'), link('elect', 'done'), link('enrich', 'done'), link('ui', 'done')],
})

const nodes: RuntimeNodeSpec[] = [
  { id: 'server-1', kind: 'server', capabilities: [] },
  { id: 'server-2', kind: 'server', capabilities: [] },
  { id: 'browser-1', kind: 'browser', capabilities: [] },
]

type Transports = { hub: Transport[]; other: () => Transport[]; address?: string }

async function runOn(make: () => Promise<Transports>): Promise<void> {
  const t = await make()
  const clients: XSyncClient[] = []
  const ran: string[] = []
  const runtimes = nodes.map((node) => {
    const rt = createStateFlowRuntime({ node, workflows: [workflow] })
    for (const id of Object.keys(workflow.steps)) rt.register(`t.${id}`, (ctx, input) => {
      ran.push(`${node.id}:${id}:${ctx.attempt}`)
      return id === 'done' ? input : `${id}@${node.id}`
    })
    cleanups.push(() => rt.close())
    return rt
  })
  for (let i = 0; i < nodes.length; i++) {
    const c = await createXSync({ transports: i === 0 ? t.hub : t.other(), views: { flowRun: flowRunView }, reconnect: { minDelayMs: 5, maxDelayMs: 50 } })
    cleanups.push(() => c.close())
    clients.push(c)
  }
  const [address] = await clients[0].listen()
  for (const c of clients.slice(1)) await c.connect(address)

  const run = await runtimes[0].start({ client: clients[0], workflow, input: 'go' })
  const handles = [run, ...(await Promise.all(runtimes.slice(1).map((rt, i) => rt.join(run.id, { client: clients[i + 1] }))))]
  const outputs = await Promise.all(handles.map((h) => h.result()))
  for (const o of outputs) expect(o).toEqual(outputs[0])

  // Every peer ends with every event, then with the same state, byte for byte.
  const headsOf = async (c: XSyncClient) => (await c.log(run.id).heads()).map((h) => toHex(h.bytes)).join()
  await eventually(async () => {
    const hs = await Promise.all(clients.map(headsOf))
    return hs.every((h) => h === hs[0])
  }, 'all peers hold the same heads')
  const states = await Promise.all(handles.map((h) => h.snapshot()))
  for (const s of states) expect(s).toEqual(states[0])
  for (const s of states) expect(JSON.stringify(s)).toBe(JSON.stringify(states[0]))
  const s: FlowRunState = states[0]
  expect(s.status).toBe('completed')

  const runsOf = (stepId: string) => ran.filter((r) => r.split(':')[1] === stepId)
  // The browser-placed step ran on the browser node only; the authority's step on it only.
  expect(runsOf('ui')).toEqual(['browser-1:ui:1'])
  expect(runsOf('auth')).toEqual(['server-1:auth:1'])
  // Claimed modes ran exactly once, on the peer the log names.
  for (const id of ['prep', 'auth', 'elect', 'ui', 'done']) {
    expect(runsOf(id)).toHaveLength(1)
    const by = Object.entries(s.peers).find(([did]) => did === s.steps[id].claimedBy)?.[1].spec.id
    expect(runsOf(id)[0].split(':')[0]).toBe(by)
  }
  // Optimistic: the first result in total order stands, later ones are duplicates.
  expect(s.steps.enrich.decisions.filter((d) => d.verdict === 'accepted')).toHaveLength(1)
  expect(s.steps.enrich.duplicates).toBe(runsOf('enrich').length - 1)
  expect(s.output).toEqual({ auth: 'auth@server-1', elect: s.steps.elect.output, enrich: s.steps.enrich.output, ui: 'ui@browser-1' })
}

describe('a workflow across three peers', () => {
  it('over the memory network: every claim mode, browser placement, identical final state', async () => {
    const net = memoryNetwork({ seed: 7 })
    let n = 0
    await runOn(async () => ({ hub: [net.transport('hub')], other: () => [net.transport(`peer-${++n}`)] }))
  })

  it('over WebSocket on 127.0.0.1: the same', async () => {
    await runOn(async () => ({ hub: [webSocketServer({ port: 0, host: '127.0.0.1' }), webSocketTransport()], other: () => [webSocketTransport()] }))
  })
})
