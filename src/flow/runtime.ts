/**
 * The run host (DESIGN §9): `createStateFlowRuntime({ node, clock? })`. It follows each run it
 * started or joined, asks the pure scheduler what this peer should do, and does it: claims,
 * executes the steps it wins (those whose type it has an executor for and whose placement fits
 * its node), renews leases, fires timers, begins retries, consumes signals, records the end.
 *
 * Everything it knows about a run comes from the run's log, so a peer restarted on its store
 * picks every run up where the log says it is. What it does not know after a restart is whether
 * a step it had started ran its effect: it never runs such a step again under the same fencing
 * token (see the scheduler's `interrupted` and lease cases).
 */
import { InvalidArgumentError, ClosedError } from '../errors.js'
import { toHex } from '../dag/bytes.js'
import { randomSeed, sha256 } from '../log/crypto-backend.js'
import type { XSyncClient } from '../log/client.js'
import type { Log, LogEvent } from '../log/log.js'
import { PEER_HELLO } from '../views/event-types.js'
import { ViewHost } from '../views/host.js'
import { checkPlacement, validateNodeSpec, type RuntimeNodeSpec } from '../views/placement.js'
import { systemClock, type Clock } from './clock.js'
import { isChartDefinition, parseRef, signalRefusal, type ChartDefinition, type ChartEngine } from './chart.js'
import { CHILD, SLEEP, WAIT, isWorkflow, type CanonicalStep, type WorkflowDefinition } from './define.js'
import { CancelledError, NonRetryableError, RunFailedError } from './errors.js'
import { FLOW, SIGNAL, STEP, TIMER, type NextInputs, type StartedBody } from './events.js'
import { flowRunViewWith, runViewInternals, type FlowRunState } from './run-view.js'
import { schedule, taskKey, type Action } from './scheduler.js'
import { compareVersions, parseRange, parseVersion, satisfies } from './semver.js'

/** What an executor gets besides its input. */
export interface StepContext {
  runId: string
  stepId: string
  attempt: number
  /** Stable per step attempt (`<runId>/<step>/<attempt>`): hand it to the systems the step calls. */
  idempotencyKey: string
  /** The winning claim's CID under `lease`, `authority` and `deterministic-election`. */
  fencingToken?: string
  /** Aborted when the run is cancelled, the attempt times out, or another peer takes the step over. */
  signal: AbortSignal
  /** True when this runs a step's compensation. */
  compensating: boolean
  node: RuntimeNodeSpec
  log: {
    /** Append an event of your own to the run's log. */
    append(type: string, body: unknown): Promise<LogEvent>
    /** Record a `stateflow.warning` in the run. */
    warn(message: string): Promise<void>
  }
}

export type Executor<I = any, O = any> = (ctx: StepContext, input: I) => Promise<O> | O

export interface RuntimeInit {
  node: RuntimeNodeSpec
  /** @default the system clock; give clients the same one (`createXSync({ now: clock.now })`) */
  clock?: Clock
  /** Workflows this runtime can run when it joins a run (those it `start`s are added). */
  workflows?: WorkflowDefinition<any, any>[]
  /**
   * The FlowState engine (`flowStateEngine` from `stateflow/flowstate`), to start and join
   * statechart runs; without it this runtime runs step workflows only (and keeps xState out).
   */
  flowstate?: ChartEngine
}

export interface StartOptions<I> {
  client: XSyncClient
  /** A step workflow (`defineWorkflow`) or a FlowState chart (`defineFlowState`; needs the `flowstate` engine). */
  workflow: WorkflowDefinition<I, any> | ChartDefinition
  input: I
  /** The same key starts the same run once, whichever peer starts it. */
  idempotencyKey?: string
  /** @internal child runs */
  parent?: { runId: string; step: string; attempt: number }
}

export interface RunHandle<O = unknown> {
  readonly id: string
  /** The run's current state (every event stored so far folded). */
  snapshot(): Promise<FlowRunState>
  /** States as they change, the current one first; ends after the run ends. */
  observe(): AsyncGenerator<FlowRunState>
  /** The output once the run completes; `RunFailedError` or `CancelledError` otherwise. */
  result(): Promise<O>
  /** Send a signal (a wait step for `name` takes it, even one reached later). */
  signal(name: string, payload?: unknown): Promise<void>
  /** Cancel: running executors see their `AbortSignal` fire; compensations run. */
  cancel(reason?: string): Promise<void>
}

export interface StateFlowRuntime {
  readonly node: RuntimeNodeSpec
  /**
   * The executor for a step type, or for a chart's invocations: `action:payments.charge@^1` is
   * served by an executor registered under that exact ref, else the highest
   * `payments.charge@<version>` the range accepts, else `payments.charge`.
   */
  register(type: string, executor: Executor): this
  /** Make a workflow known, so runs of it can be joined. */
  define(workflow: WorkflowDefinition<any, any>): this
  start<I, O>(options: StartOptions<I>): Promise<RunHandle<O>>
  /** Follow (and take part in) a run another peer started. */
  join<O = unknown>(runId: string, options: { client: XSyncClient }): Promise<RunHandle<O>>
  /** Start a run of `workflow` for each event matching one of its triggers (once per event, whichever peers watch). */
  watchTriggers(options: { client: XSyncClient; workflow: WorkflowDefinition<any, any> }): () => void
  close(): Promise<void>
}

/** The run id for an idempotency key: the same on every peer. */
export function runIdFor(workflowHash: string, idempotencyKey: string): string {
  return `run-${toHex(sha256(new TextEncoder().encode(`${workflowHash}\u0000${idempotencyKey}`))).slice(0, 40)}`
}

export function createStateFlowRuntime(init: RuntimeInit): StateFlowRuntime {
  validateNodeSpec(init.node)
  return new Runtime(init)
}

/** DAG-CBOR-safe data: undefined dropped from maps and turned to null elsewhere. */
function plain(x: unknown, depth = 0): unknown {
  if (depth > 64) throw new InvalidArgumentError('value nested too deeply')
  if (x === undefined) return null
  if (typeof x === 'number' && !Number.isFinite(x)) throw new InvalidArgumentError(`${x} cannot be stored`)
  if (typeof x === 'function' || typeof x === 'symbol' || typeof x === 'bigint') throw new InvalidArgumentError(`a ${typeof x} cannot be stored`)
  if (Array.isArray(x)) return x.map((v) => plain(v, depth + 1))
  if (x instanceof Uint8Array || x === null || typeof x !== 'object') return x
  if (x instanceof Date) return x.toISOString()
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(x)) if (v !== undefined) out[k] = plain(v, depth + 1)
  return out
}

function errorOf(err: unknown, nonRetryable: readonly string[]): { name: string; message: string; retryable: boolean } {
  const e = err instanceof Error ? err : new Error(String(err))
  const name = e instanceof NonRetryableError ? 'NonRetryableError' : e.name || 'Error'
  return { name, message: e.message.slice(0, 2000), retryable: !(e instanceof NonRetryableError) && !nonRetryable.includes(name) }
}

class Runtime implements StateFlowRuntime {
  readonly node: RuntimeNodeSpec
  readonly clock: Clock
  readonly executors = new Map<string, Executor>()
  readonly workflows = new Map<string, WorkflowDefinition<any, any>>()
  readonly flowstate: ChartEngine | undefined
  /** The run view this runtime folds runs with (with its chart engine, if any). */
  readonly view
  private readonly resolved = new Map<string, Executor | null>()
  private readonly drivers = new Map<string, RunDriver>()
  private readonly watchers = new Set<() => void>()
  private closed = false

  constructor(init: RuntimeInit) {
    this.node = init.node
    this.clock = init.clock ?? systemClock
    this.flowstate = init.flowstate
    this.view = flowRunViewWith(init.flowstate)
    for (const w of init.workflows ?? []) this.define(w)
  }

  /** The executor for a step type or an invocation ref (see `register`), or undefined. */
  executorFor(type: string): Executor | undefined {
    const exact = this.executors.get(type)
    if (exact) return exact
    let hit = this.resolved.get(type)
    if (hit === undefined) {
      hit = null
      const ref = parseRef(type)
      if (ref) {
        const range = parseRange(ref.range)
        let best: { v: ReturnType<typeof parseVersion>; fn: Executor } | undefined
        for (const [name, fn] of this.executors) {
          const at = name.lastIndexOf('@')
          if (at <= 0 || name.slice(0, at) !== ref.id) continue
          const v = parseVersion(name.slice(at + 1))
          if (!v || typeof range === 'string' || !satisfies(v, range)) continue
          if (!best || compareVersions(v, best.v!) > 0) best = { v, fn }
        }
        hit = best?.fn ?? this.executors.get(ref.id) ?? null
      }
      this.resolved.set(type, hit)
    }
    return hit ?? undefined
  }

  register(type: string, executor: Executor): this {
    if (typeof type !== 'string' || type.length === 0) throw new InvalidArgumentError('register(type, executor): type must be a non-empty string')
    if (typeof executor !== 'function') throw new InvalidArgumentError(`register(${JSON.stringify(type)}, executor): executor must be a function`)
    this.executors.set(type, executor)
    this.resolved.clear()
    return this
  }

  define(workflow: WorkflowDefinition<any, any>): this {
    if (!isWorkflow(workflow)) throw new InvalidArgumentError('define(workflow) takes a defineWorkflow() result')
    for (const [hash, w] of workflow.children) this.workflows.set(hash, w)
    return this
  }

  async start<I, O>(options: StartOptions<I>): Promise<RunHandle<O>> {
    if (this.closed) throw new ClosedError('runtime')
    const { client, workflow } = options
    if (isChartDefinition(workflow)) return this.startChart(options, workflow)
    if (!isWorkflow(workflow)) throw new InvalidArgumentError('start({ workflow }) takes a defineWorkflow() or defineFlowState() result')
    this.define(workflow)
    let input: unknown = options.input
    if (workflow.input) {
      const r = workflow.input.safeParse(input)
      if (!r.success) throw new InvalidArgumentError(`input of ${workflow.id}: ${r.error.message}`)
      input = r.data
    }
    const key = options.idempotencyKey
    if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > 1024)) throw new InvalidArgumentError('idempotencyKey must be a non-empty string (≤ 1024)')
    const runId = key !== undefined ? runIdFor(workflow.hash, key) : `run-${toHex(randomSeed()).slice(0, 40)}`
    const log = client.log(runId)
    const driver = this.driver(client, log)
    // A keyed run another peer (or an earlier call) already started is joined, not started again.
    const already = key !== undefined && (await driver.state()).status !== 'pending'
    if (!already) {
      const body: StartedBody = { workflow: workflow.canonical, hash: workflow.hash, input: plain(input) }
      if (key !== undefined) body.idempotencyKey = key
      if (options.parent) body.parent = options.parent
      await driver.append(FLOW.started, body)
    }
    await driver.begin()
    return driver.handle as RunHandle<O>
  }

  /** A FlowState run: the document itself goes into the start event, so any peer with the engine can follow it. */
  private async startChart<I, O>(options: StartOptions<I>, chart: ChartDefinition): Promise<RunHandle<O>> {
    const engine = this.flowstate
    if (!engine || !engine.accepts(chart.canonical)) throw new InvalidArgumentError(`start(${chart.id}): FlowState runs need the engine: createStateFlowRuntime({ node, flowstate: flowStateEngine }) with flowStateEngine from 'stateflow/flowstate'`)
    const input = plain(options.input)
    const problem = await engine.checkInput?.(chart.canonical, input)
    if (problem !== undefined) throw new InvalidArgumentError(`input of ${chart.id}: ${problem}`)
    const key = options.idempotencyKey
    if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > 1024)) throw new InvalidArgumentError('idempotencyKey must be a non-empty string (≤ 1024)')
    const runId = key !== undefined ? runIdFor(chart.hash, key) : `run-${toHex(randomSeed()).slice(0, 40)}`
    const driver = this.driver(options.client, options.client.log(runId))
    const already = key !== undefined && (await driver.state()).status !== 'pending'
    if (!already) {
      const body: StartedBody = { workflow: chart.canonical as never, hash: chart.hash, input }
      if (key !== undefined) body.idempotencyKey = key
      await driver.append(FLOW.started, body)
    }
    await driver.begin()
    return driver.handle as RunHandle<O>
  }

  async join<O>(runId: string, options: { client: XSyncClient }): Promise<RunHandle<O>> {
    if (this.closed) throw new ClosedError('runtime')
    if (typeof runId !== 'string' || runId.length === 0) throw new InvalidArgumentError('join(runId) needs a run id')
    const driver = this.driver(options.client, options.client.log(runId))
    await driver.begin()
    return driver.handle as RunHandle<O>
  }

  watchTriggers(options: { client: XSyncClient; workflow: WorkflowDefinition<any, any> }): () => void {
    const { client, workflow } = options
    this.define(workflow)
    const offs: (() => void)[] = []
    for (const t of workflow.triggers) {
      const log = client.log(t.log)
      const fire = (e: LogEvent): void => {
        if (e.type !== t.type) return
        const input = t.input ? t.input(e.body) : e.body
        void this.start({ client, workflow, input, idempotencyKey: `trigger:${e.cid.toString()}` }).catch((err) => {
          void log.append('stateflow.warning', { message: `trigger of ${workflow.id} failed: ${(err as Error).message}`.slice(0, 1000) }).catch(() => undefined)
        })
      }
      offs.push(log.subscribe(fire))
      // Events already in the log count too (a peer that starts watching late still starts them).
      void (async () => {
        for await (const e of log.events()) fire(e)
      })().catch(() => undefined)
    }
    const off = (): void => {
      for (const o of offs) o()
      this.watchers.delete(off)
    }
    this.watchers.add(off)
    return off
  }

  private driver(client: XSyncClient, log: Log): RunDriver {
    const key = `${client.did}\u0000${log.id}`
    let d = this.drivers.get(key)
    if (!d) {
      d = new RunDriver(this, client, log)
      this.drivers.set(key, d)
    }
    return d
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const off of [...this.watchers]) off()
    await Promise.all([...this.drivers.values()].map((d) => d.close()))
    this.drivers.clear()
  }
}

/** How far a claim's confirmation reaches through peers that relay (see `sync({ relay })`). */
const CONFIRM_RELAY_HOPS = 3

/** Another claim turned out to win once concurrent claims were in. */
class LostClaim extends Error {}
/** The sync round that confirms a claim did not complete. */
class Unconfirmed extends Error {}

/** One run, followed by one runtime through one client. */
class RunDriver {
  private began: Promise<void> | undefined
  private closed = false
  private appending: Promise<unknown> = Promise.resolve()
  /** Actions already taken, so one snapshot's worth of work is not appended twice. */
  private readonly done = new Set<string>()
  private readonly running = new Map<string, AbortController>()
  private cancelWake: (() => void) | undefined
  private wakeAt: number | undefined
  private readonly waiters = new Set<() => void>()
  private failure: unknown
  readonly handle: RunHandle

  constructor(
    private readonly rt: Runtime,
    private readonly client: XSyncClient,
    private readonly log: Log,
  ) {
    const self = this
    this.host = new ViewHost(log, client.store, rt.view)
    this.handle = {
      id: log.id,
      snapshot: () => this.state(),
      observe: () => this.observe(),
      result: () => this.result(),
      async signal(name: string, payload?: unknown) {
        if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('signal(name) needs a name')
        const exposed = await self.read((s) => (s.chart ? signalRefusal(s.document, name) : undefined))
        if (exposed !== undefined) throw new InvalidArgumentError(`signal ${name}: ${exposed}`)
        const hash = await self.read((s) => s.workflow?.hash)
        const def = hash ? self.rt.workflows.get(hash) : undefined
        // Typed signals: a wait step for this name with a schema checks the payload here.
        for (const st of Object.values(def?.steps ?? {})) {
          if (st.signal?.name === name && st.signal.schema) {
            const r = st.signal.schema.safeParse(payload)
            if (!r.success) throw new InvalidArgumentError(`signal ${name}: ${r.error.message}`)
          }
        }
        await self.append(SIGNAL, { name, payload: plain(payload) })
      },
      async cancel(reason = 'cancelled') {
        await self.append(FLOW.cancelled, { reason: String(reason).slice(0, 1000) })
      },
    }
  }

  /**
   * A fold of the run of our own. The scheduler reads its live state inside `read` (no copy per
   * event: copying a thousand-step run at every event would make each step cost more than the
   * last); callers of `snapshot()` and `observe()` get copies.
   */
  private readonly host: ViewHost<FlowRunState>
  private unsubscribe: (() => void) | undefined
  private kicked = false

  /** Read the live state (settled): `fn` must not keep or change it. */
  private read<T>(fn: (s: FlowRunState) => T): Promise<T> {
    return this.host.read(fn)
  }

  async state(): Promise<FlowRunState> {
    return (await this.host.snapshot()).state
  }

  private batch: { type: string; body: unknown; resolve: (e: LogEvent) => void; reject: (err: unknown) => void }[] | undefined

  /**
   * Append to the run's log. What one pass appends (a burst of claims, a result and the end
   * record) goes out as one batch: one signature and one fold, not one per event.
   */
  append(type: string, body: unknown): Promise<LogEvent> {
    return new Promise((resolve, reject) => {
      let items = this.batch
      if (!items) {
        const open: NonNullable<typeof this.batch> = (items = this.batch = [])
        this.appending = this.appending.then(async () => {
          this.batch = undefined
          try {
            const events = await this.log.appendBatch(open.map((i) => ({ type: i.type, body: i.body })))
            open.forEach((it, k) => it.resolve(events[k]))
          } catch (err) {
            for (const it of open) it.reject(err)
          }
        })
      }
      items.push({ type, body, resolve, reject })
    })
  }

  /** Announce this node in the run (who may be elected, where placement fits), then follow it. */
  begin(): Promise<void> {
    if (!this.began) {
      this.began = (async () => {
        // Catch up with connected peers before acting: a peer back from a crash or a partition
        // would otherwise claim on stale knowledge, concurrently with what others did meanwhile.
        if (this.client.peers().length > 0) await this.client.sync(this.log.id, { timeoutMs: 10_000, relay: CONFIRM_RELAY_HOPS }).catch(() => undefined)
        const announced = await this.read((s) => {
          const mine = s.peers[this.client.did]
          return mine !== undefined && mine.left === undefined && JSON.stringify(mine.spec) === JSON.stringify(this.rt.node)
        })
        if (!announced) await this.append(PEER_HELLO, this.rt.node)
        // Every event stored (appended here or ingested from a peer) may change what to do.
        this.unsubscribe = this.log.subscribe(() => this.kick())
        this.kick()
      })()
    }
    return this.began
  }

  /** Look at the run again once the fold has caught up: a burst of events makes one pass. */
  private kick(): void {
    if (this.kicked || this.closed) return
    this.kicked = true
    void this.read((s) => {
      this.kicked = false
      if (this.closed) return
      this.pass(s)
      for (const w of [...this.waiters]) w()
    }).catch((err) => {
      // The client closed under us, or the fold failed: whoever waits on the run hears of it.
      this.kicked = false
      if (!this.closed && !(err instanceof ClosedError)) this.failure = err
      for (const w of [...this.waiters]) w()
    })
  }

  private isOver(s: FlowRunState): boolean {
    return s.status === 'completed' || s.status === 'failed' || s.status === 'cancelled'
  }

  private pass(s: FlowRunState): void {
    const def = s.workflow ? this.rt.workflows.get(s.workflow.hash) : undefined
    this.abortStale(s)
    if (!def && !s.chart) return
    const now = this.rt.clock.now()
    const plan = schedule(def, s, {
      did: this.client.did,
      node: this.rt.node,
      now,
      canRun: (type) => this.rt.executorFor(type) !== undefined,
      running: new Set(this.running.keys()),
    })
    for (const a of plan.actions) this.act(def, s, a)
    if (plan.wakeAt !== undefined && plan.wakeAt !== this.wakeAt) {
      this.cancelWake?.()
      this.wakeAt = plan.wakeAt
      this.cancelWake = this.rt.clock.setTimer(plan.wakeAt - now, () => {
        this.wakeAt = undefined
        this.cancelWake = undefined
        this.kick()
      })
    }
  }

  /** Abort executors whose attempt the log has moved past (cancelled, timed out elsewhere, taken over). */
  private abortStale(s: FlowRunState): void {
    for (const [key, controller] of this.running) {
      const [step, second, third] = key.split('/')
      const compensate = second === 'compensate'
      const attempt = Number(compensate ? third : second)
      const st = compensate ? s.compensations[step] : s.steps[step]
      const live = st && st.attempt === attempt && (st.status === 'ready' || st.status === 'claimed' || st.status === 'running') && (compensate ? s.status === 'compensating' : s.status === 'running')
      const holder = st?.claimedBy === undefined || st.claimedBy === this.client.did
      if (!live || !holder) controller.abort(new CancelledError(s.status === 'running' || s.status === 'compensating' ? `attempt ${attempt} of ${step} is no longer this peer's to run` : `the run is ${s.status}`))
    }
  }

  private once(key: string, fn: () => Promise<unknown>): void {
    if (this.done.has(key)) return
    this.done.add(key)
    void fn().catch((err) => {
      // The log refused it (closed, too large): let a later pass try again.
      this.done.delete(key)
      if (!this.closed && !(err instanceof ClosedError)) void this.warn(`${key}: ${(err as Error).message}`)
    })
  }

  private warn(message: string): Promise<void> {
    return this.append('stateflow.warning', { message: message.slice(0, 1000) }).then(() => undefined, () => undefined)
  }

  private act(def: WorkflowDefinition | undefined, s: FlowRunState, a: Action): void {
    const st = 'step' in a ? (a.kind !== 'set-timer' && a.kind !== 'fire-timer' && a.kind !== 'consume-signal' && a.kind !== 'time-out-wait' && a.compensate ? s.compensations[a.step] : s.steps[a.step]) : undefined
    switch (a.kind) {
      case 'claim':
        return this.once(`claim|${taskKey(a.step, a.attempt, a.compensate)}|${st?.claim ?? '-'}|${st?.expires ?? '-'}`, () =>
          this.append(STEP.claimed, { step: a.step, attempt: a.attempt, ...(a.compensate ? { compensate: true } : {}), ...(a.takeover ? { takeover: a.takeover } : {}) }),
        )
      case 'renew':
        return this.once(`renew|${taskKey(a.step, a.attempt, a.compensate)}|${st?.expires ?? '-'}`, () =>
          this.append(STEP.claimed, { step: a.step, attempt: a.attempt, ...(a.compensate ? { compensate: true } : {}), renew: a.claim }),
        )
      case 'interrupted':
        return this.once(`interrupted|${taskKey(a.step, a.attempt, a.compensate)}`, () =>
          this.append(STEP.failed, { step: a.step, attempt: a.attempt, ...(a.compensate ? { compensate: true } : {}), claim: a.claim, error: { name: 'Interrupted', message: 'the peer running this attempt stopped before it ended', retryable: true } }),
        )
      case 'retry':
        return this.once(`retry|${taskKey(a.step, a.attempt, a.compensate)}`, () => this.append(STEP.retrying, { step: a.step, attempt: a.attempt, ...(a.compensate ? { compensate: true } : {}) }))
      case 'set-timer':
        return this.once(`timer.set|${a.step}`, () => this.append(TIMER.set, { step: a.step, until: a.until }))
      case 'fire-timer':
        return this.once(`timer.fired|${a.step}`, async () => {
          const next = def ? this.nextInputs(def, a.step, st?.input ?? null) : undefined
          await this.append(TIMER.fired, { step: a.step, ...(next?.ok ? { next: next.next } : {}) })
        })
      case 'consume-signal':
        return this.once(`signal|${a.step}|${a.signal}`, async () => {
          if (!def) return
          const next = this.nextInputs(def, a.step, a.payload)
          await this.append(STEP.succeeded, { step: a.step, attempt: 1, signal: a.signal, output: a.payload, ...(next.ok ? { next: next.next } : {}) })
        })
      case 'time-out-wait':
        return this.once(`wait.timeout|${a.step}`, () => this.append(STEP.timedOut, { step: a.step, attempt: 1 }))
      case 'record-end':
        return this.once('end', () => (s.status === 'completed' ? this.append(FLOW.completed, { output: s.output ?? null }) : this.append(FLOW.failed, { error: s.error ?? null })))
      case 'execute':
        return this.execute(def, s, a)
    }
  }

  /** For each link out of `step`: skipped, or the next step's input, from the link's `when` and `map`. */
  private nextInputs(def: WorkflowDefinition, step: string, output: unknown): { ok: true; next: NextInputs } | { ok: false; error: Error } {
    const next: NextInputs = {}
    try {
      for (const l of def.links) {
        if (l.from !== step) continue
        if (l.when && !l.when(output)) next[l.to] = { skip: true }
        else next[l.to] = { input: plain(l.map ? l.map(output) : output) }
      }
      return { ok: true, next }
    } catch (err) {
      return { ok: false, error: err as Error }
    }
  }

  private execute(def: WorkflowDefinition | undefined, s: FlowRunState, a: Extract<Action, { kind: 'execute' }>): void {
    const key = taskKey(a.step, a.attempt, a.compensate)
    if (this.running.has(key) || this.done.has(`exec|${key}|${a.claim ?? '-'}`)) return
    // The step as data (a chart's invocations have no definition object), and the definition's
    // own step where there is one (schemas, a child workflow).
    const canon: CanonicalStep | undefined = runViewInternals.stepDef(s, a.step)
    if (!canon) return
    this.done.add(`exec|${key}|${a.claim ?? '-'}`)
    const controller = new AbortController()
    this.running.set(key, controller)
    const step = def?.steps[a.step]
    const chartKey = s.chart ? s.steps[a.step]?.idempotencyKey : undefined
    const ref = { step: a.step, attempt: a.attempt, ...(a.compensate ? { compensate: true } : {}), ...(a.claim ? { claim: a.claim } : {}) }
    let timedOut = false
    let cancelTimer: (() => void) | undefined
    const run = async (): Promise<void> => {
      if (a.claim) {
        // A claim wins only tentatively until concurrent claims have had their say. A sync round
        // with every connected peer, each of which first does the same with its other peers,
        // brings in any claim made before ours was seen (every peer pushes its events before it
        // answers); if ours still wins, no peer reachable within the relay hops can win too.
        if (this.client.peers().length > 0) {
          try {
            // Relayed: peers reachable only through a neighbour (a hub) are asked too.
            await this.client.sync(this.log.id, { timeoutMs: 10_000, relay: CONFIRM_RELAY_HOPS })
          } catch {
            throw new Unconfirmed()
          }
          const still = await this.read((now) => {
            const cur = a.compensate ? now.compensations[a.step] : now.steps[a.step]
            return cur !== undefined && cur.attempt === a.attempt && cur.claimedBy === this.client.did && cur.claim === a.claim
          })
          if (!still) throw new LostClaim()
        }
        // `started` marks that the effect may have happened: after a restart, such a step is
        // not run again under the same token. A pure step may simply run again: no marker.
        if (a.compensate || canon.sideEffects.kind === 'effectful') await this.append(STEP.started, ref)
      }
      // A copy: the input is part of the live fold, which user code must not change.
      let input = structuredClone(a.input)
      if (step?.input && !a.compensate) {
        const r = step.input.safeParse(input)
        if (!r.success) throw new NonRetryableError(`input of step ${a.step}: ${r.error.message}`)
        input = r.data
      }
      const executor = a.compensate ? this.rt.executorFor(canon.compensate!) : canon.type === CHILD && step?.workflow ? this.childExecutor(step.workflow) : this.rt.executorFor(canon.type)
      if (!executor) throw new NonRetryableError(`no executor for ${a.compensate ? canon.compensate : canon.type}`)
      const ctx: StepContext = {
        runId: this.log.id,
        stepId: a.step,
        attempt: a.attempt,
        idempotencyKey: chartKey ?? `${this.log.id}/${a.step}${a.compensate ? '/compensate' : ''}/${a.attempt}`,
        ...(a.claim ? { fencingToken: a.claim } : {}),
        signal: controller.signal,
        compensating: a.compensate,
        node: this.rt.node,
        log: {
          append: (type, body) => this.append(type, plain(body)),
          warn: (message) => this.warn(message),
        },
      }
      const timeoutMs = canon.timeoutMs
      if (timeoutMs !== null && !a.compensate) {
        cancelTimer = this.rt.clock.setTimer(timeoutMs, () => {
          timedOut = true
          controller.abort(new Error(`step ${a.step} timed out after ${timeoutMs} ms`))
        })
      }
      const aborted = new Promise<never>((_, reject) => {
        if (controller.signal.aborted) reject(controller.signal.reason)
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true })
      })
      aborted.catch(() => undefined)
      let output = await Promise.race([Promise.resolve().then(() => executor(ctx, input)), aborted])
      if (controller.signal.aborted) throw controller.signal.reason
      if (step?.output && !a.compensate) {
        const r = step.output.safeParse(output)
        if (!r.success) throw new NonRetryableError(`output of step ${a.step}: ${r.error.message}`)
        output = r.data
      }
      const stored = plain(output)
      // A chart takes the result as an event; a step workflow's links decide what follows.
      const next = a.compensate || !def ? ({ ok: true, next: {} } as const) : this.nextInputs(def, a.step, stored)
      if (!next.ok) throw new NonRetryableError(`a link out of ${a.step} threw: ${next.error.message}`)
      const result = this.append(STEP.succeeded, { ...ref, output: stored, ...(a.compensate || !def ? {} : { next: next.next }) })
      if (!a.compensate && def) this.claimAhead(def, a.step, next.next)
      await result
    }
    void run()
      .catch(async (err) => {
        if (this.closed || err instanceof LostClaim) return
        if (err instanceof Unconfirmed) {
          // A peer did not answer in time: try again shortly (the claim still stands in the log).
          this.done.delete(`exec|${key}|${a.claim ?? '-'}`)
          this.rt.clock.setTimer(1000, () => this.kick())
          return
        }
        if (timedOut) return void (await this.append(STEP.timedOut, ref).catch(() => undefined))
        // Aborted because the log moved on (cancel, takeover): nothing to record.
        if (controller.signal.aborted) return
        await this.append(STEP.failed, { ...ref, error: errorOf(err, canon.retry.nonRetryable) }).catch(() => undefined)
      })
      .finally(() => {
        cancelTimer?.()
        this.running.delete(key)
        this.kick()
      })
  }

  /**
   * Claim, in the same batch as a step's result, the steps that result alone makes ready and
   * this peer would claim anyway: one commit (one fsync on SQLite) per step instead of two. The
   * claim sorts after the result (same author chain), so the fold sees the step ready first; if
   * the step is not ready after all (another input pending), the claim names an attempt the step
   * is not at and is ignored.
   */
  private claimAhead(def: WorkflowDefinition, from: string, next: NextInputs): void {
    for (const [to, n] of Object.entries(next)) {
      if ('skip' in n) continue
      const d = def.steps[to]
      if (!d || d.type === SLEEP || d.type === WAIT || d.type === CHILD) continue
      if (d.claim.mode !== 'lease' && !(d.claim.mode === 'authority' && (d.claim.authority === this.client.did || d.claim.authority === this.rt.node.id))) continue
      if (def.links.filter((l) => l.to === to).length !== 1) continue
      if (!this.rt.executorFor(d.type) || (d.placement && !checkPlacement(d.placement, this.rt.node).ok)) continue
      const key = `claim|${taskKey(to, 1, false)}|-|-`
      if (this.done.has(key)) continue
      this.done.add(key)
      void this.append(STEP.claimed, { step: to, attempt: 1 }).catch(() => this.done.delete(key))
    }
  }

  /** A child step: start (or join) the child run keyed by this attempt, and wait for its result. */
  private childExecutor(workflow: WorkflowDefinition): Executor {
    return async (ctx, input) => {
      const child = await this.rt.start({ client: this.client, workflow, input, idempotencyKey: ctx.idempotencyKey, parent: { runId: ctx.runId, step: ctx.stepId, attempt: ctx.attempt } })
      const onAbort = (): void => void child.cancel(`parent ${ctx.runId} stopped`).catch(() => undefined)
      ctx.signal.addEventListener('abort', onAbort, { once: true })
      try {
        return await child.result()
      } finally {
        ctx.signal.removeEventListener('abort', onAbort)
      }
    }
  }

  private async *observe(): AsyncGenerator<FlowRunState> {
    for await (const snap of this.host.observe()) {
      yield snap.state
      if (this.isOver(snap.state)) return
    }
  }

  private async result(): Promise<unknown> {
    for (;;) {
      // Listen before looking, so a change between the look and the wait is not missed.
      let waiter!: () => void
      const changed = new Promise<void>((resolve) => {
        waiter = () => {
          this.waiters.delete(waiter)
          resolve()
        }
        this.waiters.add(waiter)
      })
      const end = await this.read((s) => (this.isOver(s) ? { status: s.status, output: s.output === undefined ? null : structuredClone(s.output), error: s.error, cancel: s.cancel?.reason } : undefined))
      if (end !== undefined || this.closed || this.failure !== undefined) this.waiters.delete(waiter)
      if (end?.status === 'completed') return end.output
      if (end?.status === 'failed') {
        const e = end.error
        throw new RunFailedError(e ? `run ${this.log.id} failed at step ${e.step}: ${e.name}: ${e.message}` : `run ${this.log.id} failed`, e?.step, e ? { name: e.name, message: e.message } : undefined)
      }
      if (end?.status === 'cancelled') throw new CancelledError(`run ${this.log.id} was cancelled${end.cancel ? `: ${end.cancel}` : ''}`)
      if (this.closed) throw new ClosedError('runtime')
      if (this.failure !== undefined) throw this.failure
      await changed
    }
  }

  async close(): Promise<void> {
    this.closed = true
    this.cancelWake?.()
    for (const c of this.running.values()) c.abort(new ClosedError('runtime'))
    for (const w of this.waiters) w()
    this.unsubscribe?.()
    await this.appending
    await this.host.close()
  }
}
