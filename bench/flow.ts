/**
 * Workflow benchmarks: the run host driving runs end to end, executors doing nothing.
 * - One node, memory store: steps/s of a 1,000-step linear run (a chain of links) and of 1,000
 *   parallel steps (one root fanning out to 1,000), under `lease` claims with pure side effects
 *   (what a user writes by default) and under `optimistic-idempotent`; the step-to-step overhead
 *   (ms between consecutive executor calls) early and late in the linear run, which must not grow
 *   with the step index; and the time to first step (`runtime.start()` call to the first
 *   executor call).
 * - One node, SQLite store (a file in a fresh temp dir): steps/s of the 1,000-step linear run.
 * - Three peers over WebSocket on 127.0.0.1 (one process; two dial the third): step latency
 *   p50 / p99, each step pinned to another peer than the one before it.
 *
 * Every run is checked: the run completed, each step ran exactly once (and where it was pinned),
 * the output is what the chain computes.
 *
 *   node --import tsx bench/flow.ts [--quick] [--filter flow.linear]
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createStateFlowRuntime,
  createXSync,
  defineStep,
  defineWorkflow,
  link,
  webSocketTransport,
  type EventStore,
  type Placement,
  type StateFlowRuntime,
  type StepClaim,
  type StepDefinition,
  type WorkflowDefinition,
  type XSyncClient,
} from '../src/index.js'
import { sqliteStore } from '../src/stores/sqlite-store.js'
import { defineFlowState, flowStateEngine } from '../src/flow/flowstate/index.js'
import { flowRunViewWith } from '../src/flow/run-view.js'
import { ViewHost } from '../src/views/host.js'
import { webSocketServer } from '../src/transports/websocket-server.js'
import { collectGarbage, count, figure, fmt, fmtInt, isMain, median, now, parseArgs, progress, runModules, wanted, type BenchModule, type BenchOptions, type Figure } from './harness.js'
import { cryptoBench } from './crypto.js'

const SECTION = '10. workflows: steps/s, step latency'
const TYPE = 'bench.step'
const NODE = { id: 'bench', kind: 'server' as const, capabilities: [] }

type Mode = 'lease' | 'optimistic-idempotent'
type Shape = 'linear' | 'fan'

const claimOf = (mode: Mode): StepClaim => (mode === 'lease' ? { mode: 'lease' } : { mode: 'optimistic-idempotent' })

const stepDef = (id: string, mode: Mode, placement?: Placement): StepDefinition =>
  defineStep({ id, type: TYPE, sideEffects: { kind: 'pure' }, claim: claimOf(mode), ...(placement ? { placement } : {}) })

/** `s0 → s1 → … → s(n-1)`; step i runs where `placement(i)` says (anywhere by default). */
function linearWorkflow(n: number, mode: Mode, placement?: (i: number) => Placement): WorkflowDefinition {
  const steps: Record<string, StepDefinition> = {}
  for (let i = 0; i < n; i++) steps[`s${i}`] = stepDef(`s${i}`, mode, placement?.(i))
  const links = Array.from({ length: n - 1 }, (_, i) => link(`s${i}`, `s${i + 1}`))
  return defineWorkflow({ id: `bench-linear-${n}`, version: '1', steps, links })
}

/** `root → s1 … s(leaves)`, every leaf ready at once when the root ends. */
function fanWorkflow(leaves: number, mode: Mode): WorkflowDefinition {
  const steps: Record<string, StepDefinition> = { root: stepDef('root', mode) }
  for (let i = 1; i <= leaves; i++) steps[`s${i}`] = stepDef(`s${i}`, mode)
  const links = Array.from({ length: leaves }, (_, i) => link('root', `s${i + 1}`))
  return defineWorkflow({ id: `bench-fan-${leaves}`, version: '1', steps, links })
}

/** The executor every step runs: x + 1, so a linear run of n steps from 0 ends at n. */
const inc = (x: unknown): number => {
  if (typeof x !== 'number') throw new Error(`step input ${JSON.stringify(x)} is not a number`)
  return x + 1
}

/** A run that stalls fails the bench instead of hanging it. */
const RUN_DEADLINE_MS = 120_000

async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not complete within ${RUN_DEADLINE_MS / 1000} s`)), RUN_DEADLINE_MS)
  })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

interface RunTiming {
  /** `runtime.start()` call to `result()` resolving, ms. */
  ms: number
  /** Executor call times (performance.now()), in call order. */
  calls: number[]
  /** When `runtime.start()` was called. */
  t0: number
  events: number
}

/** One run on one node: a fresh client (and store) and runtime; only start → result is timed. */
async function runOnNode(workflow: WorkflowDefinition, shape: Shape, size: number, store?: () => EventStore): Promise<RunTiming> {
  const client = await createXSync(store ? { store: store() } : {})
  const rt = createStateFlowRuntime({ node: NODE })
  const calls: number[] = []
  const ran = new Map<string, number>()
  rt.register(TYPE, (ctx, x: unknown) => {
    calls.push(now())
    ran.set(ctx.stepId, (ran.get(ctx.stepId) ?? 0) + 1)
    return inc(x)
  })
  collectGarbage()
  const t0 = now()
  const run = await rt.start({ client, workflow, input: 0 })
  const out = await within(run.result(), `a ${shape} run of ${size} steps`)
  const ms = now() - t0
  // Correctness: completed, each step exactly once, the chain's (or the fan's) output.
  const steps = Object.keys(workflow.steps).length
  if (calls.length !== steps || ran.size !== steps || [...ran.values()].some((k) => k !== 1)) throw new Error(`${shape}: ${calls.length} executor calls for ${steps} steps`)
  const s = await run.snapshot()
  if (s.status !== 'completed' || Object.values(s.steps).some((st) => st.status !== 'succeeded')) throw new Error(`${shape}: run ended ${s.status}`)
  if (shape === 'linear' && out !== size) throw new Error(`linear: output ${JSON.stringify(out)}, expected ${size}`)
  if (shape === 'fan') {
    const o = out as Record<string, unknown>
    if (Object.keys(o).length !== size || Object.values(o).some((v) => v !== 2)) throw new Error('fan: output is not 2 from each leaf')
  }
  const events = await client.log(run.id).count()
  await rt.close()
  await client.close()
  return { ms, calls, t0, events }
}

/** One warm-up run, then `opts.runs` timed runs. */
async function runsOnNode(opts: BenchOptions, workflow: WorkflowDefinition, shape: Shape, size: number, store?: () => EventStore): Promise<RunTiming[]> {
  await runOnNode(workflow, shape, size, store)
  const out: RunTiming[] = []
  for (let r = 0; r < opts.runs; r++) out.push(await runOnNode(workflow, shape, size, store))
  return out
}

/** Step-to-step overhead at step k (1-based): median of the gaps between executor calls into steps k-8 … k. */
function gapAt(calls: readonly number[], k: number): number {
  const gaps: number[] = []
  for (let i = Math.max(2, k - 8); i <= k; i++) gaps.push(calls[i - 1] - calls[i - 2])
  return median(gaps)
}

/** The `k` longest gaps between consecutive executor calls, as `ms@step` (1-based). */
function longestGaps(calls: readonly number[], k: number): string {
  const gaps = calls.slice(1).map((t, i) => ({ step: i + 2, ms: t - calls[i] }))
  return gaps
    .sort((a, b) => b.ms - a.ms)
    .slice(0, k)
    .map((g) => `${fmt(g.ms)}@${g.step}`)
    .join(', ')
}

async function singleNode(opts: BenchOptions, n: number, out: (f: Figure | Figure[]) => void): Promise<void> {
  for (const mode of ['lease', 'optimistic-idempotent'] as const) {
    const tag = mode === 'lease' ? 'lease' : 'optimistic'
    const target = mode === 'lease' ? { min: 1000, text: '≥ 1,000/s' } : undefined
    const linearId = `flow.linear.${tag}`
    if (wanted(opts, linearId) || (mode === 'lease' && (wanted(opts, 'flow.overhead') || wanted(opts, 'flow.first-step')))) {
      const runs = await runsOnNode(opts, linearWorkflow(n, mode), 'linear', n)
      out(
        figure({
          id: linearId,
          section: SECTION,
          name: `${fmtInt(n)}-step linear run, one node, memory store, ${mode}`,
          unit: 'steps/s',
          runs: runs.map((r) => (n / r.ms) * 1000),
          ...(target ? { target } : {}),
          note: `start() call to result(), ${fmtInt(runs[0].events)} events in the run's log; median ${fmt(median(runs.map((r) => r.ms)))} ms`,
        }),
      )
      if (mode === 'lease') {
        const early = runs.map((r) => gapAt(r.calls, 10))
        const late = runs.map((r) => gapAt(r.calls, n))
        const note =
          `ms between the executor calls of consecutive steps (executors return at once), median of the 9 gaps up to that step; ${fmtInt(n)}-step linear run, lease; ` +
          `step ${fmtInt(n)} / step 10 = ${(median(late) / median(early)).toFixed(2)}; the two longest gaps of each run (ms into step): ${runs.map((r) => longestGaps(r.calls, 2)).join(' | ')}`
        out([
          figure({ id: 'flow.overhead.10', section: SECTION, name: 'step-to-step overhead at step 10', unit: 'ms', runs: early, note }),
          figure({ id: 'flow.overhead.last', section: SECTION, name: `step-to-step overhead at step ${fmtInt(n)} (must not exceed the one at step 10)`, unit: 'ms', runs: late, note }),
          figure({
            id: 'flow.first-step',
            section: SECTION,
            name: `time to first step (${fmtInt(n)}-step workflow, one node, lease)`,
            unit: 'ms',
            runs: runs.map((r) => r.calls[0] - r.t0),
            note: 'runtime.start() call to the first executor call: the start event (with the whole definition), the node\'s hello, the claim, folds',
          }),
        ])
      }
    }
    const fanId = `flow.fan.${tag}`
    if (wanted(opts, fanId)) {
      const runs = await runsOnNode(opts, fanWorkflow(n, mode), 'fan', n)
      out(
        figure({
          id: fanId,
          section: SECTION,
          name: `${fmtInt(n)} parallel steps (one root fanning out), one node, memory store, ${mode}`,
          unit: 'steps/s',
          runs: runs.map((r) => ((n + 1) / r.ms) * 1000),
          ...(target ? { target } : {}),
          note: `${fmtInt(n + 1)} steps (root included), start() call to result(), ${fmtInt(runs[0].events)} events; median ${fmt(median(runs.map((r) => r.ms)))} ms`,
        }),
      )
    }
  }
  if (wanted(opts, 'flow.first-step.small')) {
    const runs = await runsOnNode(opts, linearWorkflow(3, 'lease'), 'linear', 3)
    out(
      figure({
        id: 'flow.first-step.small',
        section: SECTION,
        name: 'time to first step (3-step workflow, one node, lease)',
        unit: 'ms',
        runs: runs.map((r) => r.calls[0] - r.t0),
        note: 'runtime.start() call to the first executor call',
      }),
    )
  }
}

/** Median ms of a 4 KiB append + fsync in `dir`: what one durable SQLite commit (WAL, synchronous FULL: one fsync) waits on, at least. */
function fsyncMs(dir: string, k = 50): number {
  const fd = openSync(join(dir, 'fsync-probe'), 'w')
  const buf = Buffer.alloc(4096, 1)
  const ts: number[] = []
  try {
    for (let i = 0; i < k; i++) {
      const t = now()
      writeSync(fd, buf)
      fsyncSync(fd)
      ts.push(now() - t)
    }
  } finally {
    closeSync(fd)
  }
  return median(ts)
}

async function sqliteFigure(opts: BenchOptions, n: number): Promise<Figure> {
  const probeDir = mkdtempSync(join(tmpdir(), 'stateflow-bench-flow-'))
  const dirs: string[] = [probeDir]
  const syncMs = fsyncMs(probeDir)
  const store = (): EventStore => {
    const dir = mkdtempSync(join(tmpdir(), 'stateflow-bench-flow-'))
    dirs.push(dir)
    return sqliteStore(join(dir, 'run.sqlite'))
  }
  try {
    const runs = await runsOnNode(opts, linearWorkflow(n, 'lease'), 'linear', n, store)
    return figure({
      id: 'flow.linear.sqlite',
      section: SECTION,
      name: `${fmtInt(n)}-step linear run, one node, SQLite store, lease`,
      unit: 'steps/s',
      runs: runs.map((r) => (n / r.ms) * 1000),
      target: { min: 500, text: '≥ 500/s' },
      note:
        `a fresh file per run (sqliteStore defaults: WAL, synchronous FULL); ${fmtInt(runs[0].events)} events; 2 commits per step (the claim, then the result), each one fsync; ` +
        `median ${fmt(median(runs.map((r) => r.ms)))} ms; a 4 KiB append + fsync in the temp dir took ${fmt(syncMs)} ms (median) just before; at that latency, 2 fsyncs per step allow ≈ ${fmtInt(1000 / (2 * syncMs))} steps/s`,
    })
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }
}

// --- three peers ---------------------------------------------------------------------------

const PEERS = ['peer-a', 'peer-b', 'peer-c'] as const // peer-a is the hub

interface ThreePeers {
  clients: XSyncClient[]
  runtimes: StateFlowRuntime[]
  /** Per run: executor call and return times by step index, and the peer that ran it. */
  trace: { start: number[]; end: number[]; by: string[]; calls: number }
  close(): Promise<void>
}

/**
 * Three peers over WebSocket on 127.0.0.1: peer-a listens, peer-b and peer-c dial it (a hub, as
 * in test/flow/multi-peer.test.ts). Not a full mesh: in a cycle of peers, the relayed sync that
 * confirms each lease claim (runtime.ts `CONFIRM_RELAY_HOPS`) comes back to a peer that is still
 * waiting on its own `have`, and stalls until `ask` gives up on it (RELAY_TIMEOUT_MS / 2 = 2.5 s)
 * at every step.
 */
async function threePeers(workflows: WorkflowDefinition[]): Promise<ThreePeers> {
  const trace: ThreePeers['trace'] = { start: [], end: [], by: [], calls: 0 }
  const clients: XSyncClient[] = []
  const runtimes: StateFlowRuntime[] = []
  for (const id of PEERS) {
    clients.push(await createXSync({ transports: [webSocketServer({ port: 0, host: '127.0.0.1' }), webSocketTransport()], reconnect: { minDelayMs: 5, maxDelayMs: 50 } }))
    const rt = createStateFlowRuntime({ node: { id, kind: 'server', capabilities: [] }, workflows })
    rt.register(TYPE, (ctx, x: unknown) => {
      const t = now()
      const i = Number(ctx.stepId.slice(1))
      trace.start[i] = t
      trace.by[i] = id
      trace.calls++
      const y = inc(x)
      trace.end[i] = now()
      return y
    })
    runtimes.push(rt)
  }
  const [hub] = await clients[0].listen()
  await clients[1].connect(hub)
  await clients[2].connect(hub)
  return {
    clients,
    runtimes,
    trace,
    async close() {
      for (const rt of runtimes) await rt.close()
      for (const c of clients) await c.close()
    },
  }
}

/** One run of `workflow` (n steps, step i pinned to PEERS[i % 3]) across the peers; the hand-off latencies, ms (into step i at index i - 1). */
async function runAcross(m: ThreePeers, workflow: WorkflowDefinition, n: number): Promise<number[]> {
  m.trace.start = []
  m.trace.end = []
  m.trace.by = []
  m.trace.calls = 0
  const run = await m.runtimes[0].start({ client: m.clients[0], workflow, input: 0 })
  const handles = [run, ...(await Promise.all(m.runtimes.slice(1).map((rt, i) => rt.join(run.id, { client: m.clients[i + 1] }))))]
  const outs = await within(Promise.all(handles.map((h) => h.result())), `a ${n}-step run across 3 peers`)
  if (outs.some((o) => o !== n)) throw new Error(`across peers: outputs ${JSON.stringify(outs)}, expected ${n}`)
  if (m.trace.calls !== n) throw new Error(`across peers: ${m.trace.calls} executor calls for ${n} steps`)
  for (let i = 0; i < n; i++) if (m.trace.by[i] !== PEERS[i % 3]) throw new Error(`across peers: step s${i} ran on ${m.trace.by[i]}, pinned to ${PEERS[i % 3]}`)
  const lat: number[] = []
  for (let i = 1; i < n; i++) lat.push(m.trace.start[i] - m.trace.end[i - 1])
  return lat
}

async function networkFigures(opts: BenchOptions, n: number): Promise<Figure[]> {
  const workflow = linearWorkflow(n, 'lease', (i) => ({ nodes: [PEERS[i % 3]] }))
  const m = await threePeers([workflow])
  const p50s: number[] = []
  const p99s: number[] = []
  const all: number[] = []
  // By hand-off: into step i comes from PEERS[(i - 1) % 3].
  const byHop: number[][] = [[], [], []]
  const quantile = (xs: number[], p: number): number => {
    const s = [...xs].sort((x, y) => x - y)
    return s[Math.min(s.length - 1, Math.floor(p * s.length))]
  }
  try {
    await runAcross(m, workflow, n) // warm-up
    for (let r = 0; r < opts.runs; r++) {
      collectGarbage()
      const lat = await runAcross(m, workflow, n)
      lat.forEach((x, k) => byHop[(k + 1) % 3].push(x))
      p50s.push(quantile(lat, 0.5))
      p99s.push(quantile(lat, 0.99))
      all.push(...lat)
    }
  } finally {
    await m.close()
  }
  const hops = [1, 2, 0].map((i) => `${PEERS[(i + 2) % 3].slice(5)}→${PEERS[i].slice(5)} ${fmt(quantile(byHop[i], 0.5))}`).join(', ')
  const note =
    `step latency = from the previous step's executor returning (on one peer) to the next step's executor being called (on another); ` +
    `a ${fmtInt(n)}-step linear run, lease claims, step i pinned to ${PEERS.join('/')}[i mod 3], so each of the ${fmtInt(n - 1)} hand-offs per run crosses WebSocket on 127.0.0.1 ` +
    `(b and c dial hub a: a→b and c→a one hop, b→c two, through a); a hand-off is the result's push, a fold, the claim, the claim's relayed sync round, a fold; ` +
    `3 peers in one process sharing performance.now(); ${opts.runs} runs after a warm-up run; p50 by hand-off (all runs): ${hops} ms; max ${fmt(Math.max(...all))} ms`
  return [
    figure({ id: 'flow.net.p50', section: SECTION, name: 'step latency across 3 peers over WebSocket, p50', unit: 'ms', runs: p50s, target: { max: 5, text: '≤ 5 ms' }, note }),
    figure({ id: 'flow.net.p99', section: SECTION, name: 'step latency across 3 peers over WebSocket, p99', unit: 'ms', runs: p99s }),
  ]
}

/**
 * A FlowState chart run: one state that invokes an action and re-enters itself on each result
 * until the n-th, so every invocation is a claim, a result and a chart step through xState's
 * `transition()`. Then the same run's log folded from scratch by a fresh view host.
 */
async function chartFigures(opts: BenchOptions, n: number): Promise<Figure[]> {
  const chart = defineFlowState({
    id: 'bench.loop',
    version: '1.0.0',
    initial: 'loop',
    states: {
      loop: {
        invoke: {
          id: 'tick',
          src: 'action:bench.tick@^1',
          onDone: [{ target: 'done', guard: { type: 'gt', path: '$.event.output.n', value: n - 1 } }, { target: 'loop', reenter: true }],
          onError: 'done',
        },
      },
      done: { type: 'final', output: { last: '$.output.tick.n' } },
    },
  })
  const rates: number[] = []
  const folds: number[] = []
  let events = 0
  for (let run = 0; run < opts.runs + 1; run++) {
    const client = await createXSync()
    const runtime = createStateFlowRuntime({ node: { id: 'n1', kind: 'server', capabilities: [] }, flowstate: flowStateEngine })
    let calls = 0
    runtime.register('bench.tick', () => ({ n: ++calls }))
    const t0 = now()
    const handle = await runtime.start({ client, workflow: chart, input: null })
    const out = (await handle.result()) as { last: number }
    const sec = (now() - t0) / 1000
    if (out.last !== n || calls !== n) throw new Error(`chart run ended at ${out.last} after ${calls} calls`)
    events = await client.log(handle.id).count()
    await runtime.close()
    const host = new ViewHost(client.log(handle.id), client.store, flowRunViewWith(flowStateEngine), { checkpointEvery: 1000 })
    const f0 = now()
    const status = await host.read((s) => s.status)
    const foldSec = (now() - f0) / 1000
    await host.close()
    await client.close()
    if (status !== 'completed') throw new Error(`fold gave ${status}`)
    if (run > 0) {
      rates.push(n / sec)
      folds.push(events / foldSec)
    }
  }
  const note = `${fmtInt(n)} invocations of one action, each re-entering the state; ${fmtInt(events)} events in the run's log`
  return [
    figure({ id: 'flow.chart.invocations', section: SECTION, name: 'FlowState run: invocations/s (claim, result, chart step per invocation; memory store)', unit: 'invocations/s', runs: rates, note }),
    figure({ id: 'flow.chart.fold', section: SECTION, name: "FlowState run's log folded from scratch (xState transition() per chart event)", unit: 'events/s', runs: folds, note }),
  ]
}

export const flowBench: BenchModule = {
  name: 'flow',
  async run(opts) {
    const out: Figure[] = []
    const add = (fs: Figure | Figure[]): void => {
      for (const f of Array.isArray(fs) ? fs : [fs]) {
        out.push(f)
        progress(f)
      }
    }
    const n = count(opts, 1000, 200)
    await singleNode(opts, n, add)
    if (wanted(opts, 'flow.linear.sqlite')) add(await sqliteFigure(opts, n))
    if (wanted(opts, 'flow.chart')) add(await chartFigures(opts, count(opts, 500, 100)))
    if (wanted(opts, 'flow.net')) add(await networkFigures(opts, count(opts, 300, 60)))
    return out
  },
}

if (isMain(import.meta.url)) {
  const opts = parseArgs()
  await runModules([cryptoBench, flowBench], opts)
}
