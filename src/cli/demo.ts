/**
 * `stateflow demo [--dir <path>] [--keep]`: a workflow run by three peers in this process, on the
 * embedded default (one SQLite file per peer), over WebSocket on 127.0.0.1.
 *
 * - server-1 and server-2 (kind `server`) listen; browser-1 (kind `browser`, a dialing client
 *   only, as a page would be) dials both, and server-2 dials server-1: every pair is connected.
 *   That matters: a claim is confirmed by one sync round with the peers a node is connected to,
 *   so two peers that may claim the same step must be directly connected (through a relay, both
 *   can believe they won and both run it).
 * - Each peer joins the run first (its `xsync.peer.hello` goes into the run's log), so the
 *   election and the placements see all three; then server-1 starts it. The run id comes from an
 *   idempotency key, which is how the others can join before it starts.
 * - The run (see `demo-workflow.ts`) has a fan-out over four claim modes, a retry, a durable
 *   timer and a signal wait; the demo sends the signal from browser-1 once the wait is reached.
 * - Progress: server-1's view of the run, one line per step status change. Then a summary, and
 *   the check that all three peers hold the same heads for the run's log.
 */
import { mkdirSync, mkdtempSync, rmSync, existsSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { randomUUID } from 'node:crypto'
import { createStateFlowRuntime, runIdFor, type RunHandle, type StateFlowRuntime } from '../flow/runtime.js'
import { flowRunView, type FlowRunState, type StepRunState } from '../flow/run-view.js'
import type { XSyncClient } from '../log/client.js'
import { sqliteStore } from '../stores/sqlite-store.js'
import { webSocketServer } from '../transports/websocket-server.js'
import { webSocketTransport } from '../transports/websocket.js'
import { createXSync } from '../views/client.js'
import type { ViewSnapshot } from '../views/host.js'
import type { RuntimeNodeSpec } from '../views/placement.js'
import { DEMO_NODES, DEMO_TEXT, SIGNAL_NAME, STEP_NOTES, demoExecutors, demoWorkflow, type Approval } from './demo-workflow.js'
import { EXIT_INTEGRITY, EXIT_OK, UsageError, type Output } from './io.js'

export interface DemoOptions {
  /** Where the three SQLite files go (replaced on each run, kept afterwards). @default a fresh temp dir, removed at the end */
  dir?: string
  /** Keep the temp dir (no effect with `dir`, which is always kept). @default false */
  keep?: boolean
  /** Give up (exit 1) when the run has not ended by then. @default 60000 */
  timeoutMs?: number
}

/** How long after the wait step is reached the demo sends its signal: long enough to see it wait. */
const SIGNAL_DELAY_MS = 300
/** Bound on the waits after the run ended (end recorded everywhere, heads equal). */
const SETTLE_MS = 10_000

const NODES: RuntimeNodeSpec[] = [
  { id: DEMO_NODES.server1, kind: 'server', capabilities: ['sqlite', 'websocket'] },
  { id: DEMO_NODES.server2, kind: 'server', capabilities: ['sqlite', 'websocket'] },
  { id: DEMO_NODES.browser, kind: 'browser', capabilities: ['websocket'] },
]

interface Peer {
  node: RuntimeNodeSpec
  file: string
  client: XSyncClient
  runtime: StateFlowRuntime
  address?: string
}

const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Poll `pred` until it holds or `ms` pass; resolves to whether it held. */
async function until(pred: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  for (;;) {
    if (await pred()) return true
    if (Date.now() > end) return false
    await sleepMs(10)
  }
}

/** One-line JSON, cut to `max` characters. */
function short(x: unknown, max = 90): string {
  const s = JSON.stringify(x) ?? 'null'
  return s.length > max ? `${s.slice(0, max - 1)}…` : s
}

const seconds = (ms: number) => `+${(ms / 1000).toFixed(3)}s`

const nodeName = (s: FlowRunState, did: string): string => s.peers[did]?.spec.id ?? did.slice(0, 24)

/** The node acting on a step's current attempt: the claim holder, or (once it ended) whoever's result was accepted. */
function nodeOf(s: FlowRunState, st: StepRunState): string | undefined {
  const ended = st.status === 'succeeded' || st.status === 'failed'
  const did = st.claimedBy ?? (ended ? st.decisions.findLast((d) => d.kind === 'result' && d.verdict === 'accepted')?.by : undefined)
  return did === undefined ? undefined : nodeName(s, did)
}

/** Each attempt's accepted result and its node: `attempt 1 failed on server-2, attempt 2 succeeded on server-1`. */
function attemptsOf(s: FlowRunState, st: StepRunState): string {
  const results = st.decisions.filter((d) => d.kind === 'result' && d.verdict === 'accepted')
  return results.map((d, i) => `attempt ${i + 1} ${d.why === 'succeeded' ? 'succeeded' : 'failed'} on ${nodeName(s, d.by)}`).join(', ')
}

/** What a step's new status means, in a few words. */
function detail(s: FlowRunState, st: StepRunState, t0: number): string {
  switch (st.status) {
    case 'claimed':
      return st.decisions.findLast((d) => d.kind === 'claim' && d.verdict === 'won')?.why ?? ''
    case 'sleeping':
      return st.wakeAt !== undefined ? `timer fires at ${seconds(st.wakeAt - t0)}` : ''
    case 'awaiting-signal':
      return `waiting for signal '${SIGNAL_NAME}'`
    case 'retrying':
      return `${st.error?.name}: ${st.error?.message}; attempt ${st.attempt + 1} at ${seconds((st.retryAt ?? t0) - t0)}`
    case 'succeeded':
      return `-> ${short(st.output)}`
    case 'failed':
      return `${st.error?.name}: ${st.error?.message}`
    default:
      return s.status === 'running' ? '' : `(run ${s.status})`
  }
}

/** `  +0.123s  step          status           attempt 1  on node  detail`: fixed columns, plain text. */
function progressLine(id: string, s: FlowRunState, st: StepRunState, t0: number, note?: string): string {
  const on = nodeOf(s, st)
  const cols = [seconds(Date.now() - t0).padStart(8), id.padEnd(12), st.status.padEnd(15), `attempt ${st.attempt}`, on ? `on ${on.padEnd(9)}` : ''.padEnd(12), note ?? detail(s, st, t0)]
  return `  ${cols.join('  ')}`.trimEnd()
}

async function openPeers(dir: string): Promise<Peer[]> {
  const peers: Peer[] = []
  try {
    for (const node of NODES) {
      const file = join(dir, `${node.id}.db`)
      const listens = node.kind === 'server'
      const client = await createXSync({
        store: sqliteStore(file),
        transports: listens ? [webSocketServer({ port: 0, host: '127.0.0.1' }), webSocketTransport()] : [webSocketTransport()],
        views: { flowRun: flowRunView },
      })
      const runtime = createStateFlowRuntime({ node, workflows: [demoWorkflow] })
      for (const [type, fn] of Object.entries(demoExecutors())) runtime.register(type, fn)
      const peer: Peer = { node, file, client, runtime }
      peers.push(peer)
      if (listens) [peer.address] = await client.listen()
    }
    const [s1, s2, browser] = peers
    await s2.client.connect(s1.address!)
    await browser.client.connect(s1.address!)
    await browser.client.connect(s2.address!)
    return peers
  } catch (err) {
    await closePeers(peers)
    throw err
  }
}

async function closePeers(peers: Peer[]): Promise<void> {
  for (const p of peers) await p.runtime.close().catch(() => undefined)
  for (const p of peers) await p.client.close().catch(() => undefined)
}

function prepareDir(options: DemoOptions): { dir: string; temporary: boolean } {
  if (options.dir === undefined) return { dir: mkdtempSync(join(tmpdir(), 'stateflow-demo-')), temporary: true }
  const dir = resolve(options.dir)
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`--dir ${options.dir}: not a directory`)
  mkdirSync(dir, { recursive: true })
  // Each run starts from empty stores: new identities, one run.
  for (const node of NODES) for (const suffix of ['', '-wal', '-shm']) {
    const f = join(dir, `${node.id}.db${suffix}`)
    if (existsSync(f)) rmSync(f)
  }
  return { dir, temporary: false }
}

export async function demo(options: DemoOptions, io: Output): Promise<number> {
  const { dir, temporary } = prepareDir(options)
  const keep = !temporary || options.keep === true
  let peers: Peer[] = []
  try {
    io.out('StateFlow demo: three peers in this process, each with its own SQLite store, over WebSocket on 127.0.0.1.')
    io.out(`stores in ${dir}${keep ? '' : ' (a temp dir, removed at the end; --keep keeps it)'}`)
    peers = await openPeers(dir)
    io.out('')
    for (const p of peers) {
      const how = p.address ? `listens on ${p.address}` : 'dials only'
      io.out(`  ${p.node.id.padEnd(9)}  ${p.node.kind.padEnd(7)}  ${p.client.did}  ${how}`)
    }
    io.out(`  connections: ${DEMO_NODES.server2} -> ${DEMO_NODES.server1}, ${DEMO_NODES.browser} -> ${DEMO_NODES.server1}, ${DEMO_NODES.browser} -> ${DEMO_NODES.server2}`)

    const w = demoWorkflow
    io.out('')
    io.out(`workflow ${w.id} ${w.version} (${w.hash.slice(0, 19)}…):`)
    for (const id of w.order) {
      const d = w.steps[id]
      const claim = d.type === 'stateflow.sleep' ? 'durable timer' : d.type === 'stateflow.wait' ? 'signal wait' : d.claim.mode === 'authority' ? `authority ${d.claim.authority}` : d.claim.mode
      const where = d.placement?.kinds ? `, ${d.placement.kinds.join('/')} only` : ''
      io.out(`  ${id.padEnd(12)}  ${(claim + where).padEnd(28)}  ${STEP_NOTES[id] ?? ''}`)
    }
    const into = (id: string) => w.links.filter((l) => l.to === id).map((l) => l.from)
    for (const id of w.order) {
      const out = w.links.filter((l) => l.from === id).map((l) => l.to)
      if (out.length > 1) io.out(`  links: ${id} -> ${out.join(', ')}  (fan-out)`)
      else if (out.length === 1 && into(out[0]).length === 1) io.out(`  links: ${id} -> ${out[0]}`)
      if (into(id).length > 1) io.out(`  links: ${into(id).join(', ')} -> ${id}  (fan-in)`)
    }

    // Everyone joins (announces itself in the run) before the run starts.
    const key = `stateflow-demo/${randomUUID()}`
    const runId = runIdFor(w.hash, key)
    const handles = await Promise.all(peers.map((p) => p.runtime.join(runId, { client: p.client })))
    const announced = await until(async () => (await Promise.all(handles.map((h) => h.snapshot()))).every((s) => Object.keys(s.peers).length === peers.length), SETTLE_MS)
    if (!announced) throw new Error('the peers did not all see each other join the run')

    io.out('')
    io.out(`input: ${short(DEMO_TEXT, 200)}`)
    io.out(`progress (as ${DEMO_NODES.server1} sees it; one line per step status change):`)
    const t0 = Date.now()
    const run = await peers[0].runtime.start({ client: peers[0].client, workflow: w, input: DEMO_TEXT, idempotencyKey: key })
    const final = await follow(run, handles[2], t0, options.timeoutMs ?? 60_000, io)
    const elapsed = Date.now() - t0
    if (final === undefined) return EXIT_INTEGRITY

    // The run is over: wait until every peer has it over and recorded, stop the runtimes (no more
    // appends), then compare what each peer holds.
    await until(async () => (await Promise.all(handles.map((h) => h.snapshot()))).every((s) => s.status === final.status && s.endRecorded === true), SETTLE_MS)
    for (const p of peers) await p.runtime.close()
    const headsOf = async (p: Peer) => (await p.client.log(runId).heads()).map(String).sort().join(' ')
    const agreed = await until(async () => new Set(await Promise.all(peers.map(headsOf))).size === 1, SETTLE_MS)
    const counts = await Promise.all(peers.map((p) => p.client.log(runId).count()))
    // The summary reads the settled log (server-1's flowRun view), not the last state observed:
    // results that raced may have been reordered since.
    const settled = (await peers[0].client.log(runId).view<ViewSnapshot<FlowRunState>>(flowRunView.name)).state

    io.out('')
    io.out('summary:')
    io.out(`  run        ${run.id} (${w.id} ${w.version})`)
    io.out(`  status     ${settled.status} in ${elapsed} ms`)
    io.out(`  output     ${settled.status === 'completed' ? JSON.stringify(settled.output) : short(settled.error ?? null, 300)}`)
    io.out(`  events     ${counts[0]} in the run's log`)
    for (const id of w.order) {
      const st = settled.steps[id]
      const dup = st.duplicates > 0 ? `, ${st.duplicates} duplicate result${st.duplicates === 1 ? '' : 's'} ignored (first valid wins)` : ''
      const by = st.attempt > 1 ? ` (${attemptsOf(settled, st)})` : ''
      io.out(`  step       ${id.padEnd(12)}  ${st.status.padEnd(9)}  on ${(nodeOf(settled, st) ?? '-').padEnd(9)}  ${st.attempt} attempt${st.attempt === 1 ? '' : 's'}${by}${dup}`)
    }
    io.out(`  stores     ${peers.map((p) => p.file).join(', ')}${keep ? '' : ' (removed now; --keep or --dir keeps them)'}`)
    if (keep) io.out(`             check one: stateflow audit verify --store ${peers[0].file}`)
    const heads = await Promise.all(peers.map(headsOf))
    if (agreed) {
      const list = heads[0].split(' ')
      io.out(`  peers      ${peers.map((p) => p.node.id).join(', ')} hold the same heads for the run's log: yes (${list.length} head${list.length === 1 ? '' : 's'}, ${counts.join('/')} events)`)
      io.out(`  heads      ${list.join(' ')}`)
    } else {
      io.out(`  peers      ${peers.map((p) => p.node.id).join(', ')} hold the same heads for the run's log: NO`)
      for (let i = 0; i < peers.length; i++) io.out(`             ${peers[i].node.id}: ${counts[i]} events, heads ${heads[i]}`)
    }
    const ok = settled.status === 'completed' && agreed
    io.out('')
    io.out(ok ? 'ok: the run completed on three peers and all three agree.' : `FAILED: ${settled.status !== 'completed' ? `the run ${settled.status}` : 'the peers disagree'}.`)
    return ok ? EXIT_OK : EXIT_INTEGRITY
  } finally {
    await closePeers(peers)
    if (!keep) rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Print one line per step status (or attempt) change as the run advances, and send the signal
 * from `signaller` once the wait step waits. Resolves to the final state, or undefined (after
 * saying why) when the run did not end in `timeoutMs`.
 */
async function follow(run: RunHandle, signaller: RunHandle, t0: number, timeoutMs: number, io: Output): Promise<FlowRunState | undefined> {
  const seen = new Map<string, { now: string; on: string | undefined }>()
  let signalled = false
  let signalTimer: ReturnType<typeof setTimeout> | undefined
  let last: FlowRunState | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)))
  const states = run.observe()
  try {
    for (;;) {
      const next = await Promise.race([states.next(), timeout])
      if (next === 'timeout') {
        io.err(`stateflow demo: the run did not end within ${timeoutMs} ms (status ${last?.status ?? 'unknown'})`)
        return undefined
      }
      if (next.done) return last
      const s = next.value
      last = s
      for (const id of demoWorkflow.order) {
        const st = s.steps[id]
        if (!st || st.status === 'waiting') continue
        const on = nodeOf(s, st)
        const now = `${st.status}/${st.attempt}`
        const before = seen.get(id)
        if (before?.now === now && before.on === on) continue
        seen.set(id, { now, on })
        // Same status, another node: concurrent results (or claims) whose total order only now settled.
        const note = before?.now === now && before.on !== undefined ? `now ${on ?? 'nobody'}: that peer's event sorts first in the log's total order` : undefined
        io.out(progressLine(id, s, st, t0, note))
        if (id === 'approval' && st.status === 'awaiting-signal' && !signalled) {
          signalled = true
          const payload: Approval = { by: 'editor@browser-1', note: 'looks good' }
          signalTimer = setTimeout(() => {
            io.out(`  ${seconds(Date.now() - t0).padStart(8)}  >> ${DEMO_NODES.browser} sends signal '${SIGNAL_NAME}' ${JSON.stringify(payload)}`)
            signaller.signal(SIGNAL_NAME, payload).catch((err: unknown) => io.err(`stateflow demo: sending the signal failed: ${(err as Error).message}`))
          }, SIGNAL_DELAY_MS)
        }
      }
    }
  } finally {
    clearTimeout(timer)
    clearTimeout(signalTimer)
    void states.return(undefined).catch(() => undefined)
  }
}
