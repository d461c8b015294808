/**
 * Workflow definitions (DESIGN §9): `defineStep`, `link`, `defineWorkflow`, and the built-in step
 * kinds (durable sleep, signal waits, child runs).
 *
 * A definition is checked when it is defined (unknown step in a link, a cycle, an effectful step
 * in optimistic mode, a schema that is not zod: each a `DefinitionError`), and has a canonical
 * form (plain data: what a run records in its start event, so every peer folds the run against
 * the same rules) and a content hash over it. A run keeps the hash it started with.
 *
 * Schemas are zod (v4): validated with the schema's own `safeParse`, described in the canonical
 * form by its own `toJSONSchema()`, so this module needs no zod import at run time.
 */
import * as dagCbor from '@ipld/dag-cbor'
import type { ZodType } from 'zod'
import { toHex } from '../dag/bytes.js'
import { sha256 } from '../log/crypto-backend.js'
import { CLAIM_MODES } from '../views/claims.js'
import { placementProblem, type Placement } from '../views/placement.js'
import { DefinitionError } from './errors.js'

export type SideEffects = { kind: 'pure'; idempotencyRequired?: boolean } | { kind: 'effectful'; idempotencyRequired?: boolean }

export type StepClaim =
  /** `ttlMs`: how long after its last sign of progress a started attempt counts as abandoned (its holder stopped mid-step). @default 30000 */
  | { mode: 'authority'; authority: string; ttlMs?: number }
  | { mode: 'lease'; ttlMs?: number }
  | { mode: 'deterministic-election'; timeoutMs?: number }
  | { mode: 'optimistic-idempotent'; duplicatePolicy?: 'first-valid-wins' }

/** Retries: attempt n (n ≥ 2) starts `min(initialIntervalMs × coefficient^(n-2), maxIntervalMs)` after the failure, ± jitter. */
export interface RetryPolicy {
  /** Attempts in all, the first included. @default 3 */
  maxAttempts?: number
  /** @default 1000 */
  initialIntervalMs?: number
  /** @default 2 */
  backoffCoefficient?: number
  /** @default 60000 */
  maxIntervalMs?: number
  /** A fraction of the interval, spread deterministically per run, step and attempt. @default 0.2 */
  jitter?: number
  /** Error names that never retry (besides `NonRetryableError`). */
  nonRetryable?: string[]
}

/** Built-in step kinds: `type` names them; everything else is an executor type. */
export const SLEEP = 'stateflow.sleep'
export const WAIT = 'stateflow.wait'
export const CHILD = 'stateflow.child'

export interface StepInit<I = unknown, O = unknown> {
  id: string
  /** The executor type (`runtime.register(type, fn)`), or a built-in kind. */
  type: string
  input?: ZodType<I>
  output?: ZodType<O>
  sideEffects?: SideEffects
  claim?: StepClaim
  placement?: Placement
  retry?: RetryPolicy
  /** Abort the attempt (and count it failed, `TimeoutError`) after this long. */
  timeoutMs?: number
  /** An executor type that undoes this step: run for each succeeded step, newest first, when the run is cancelled or fails. */
  compensate?: string
  /** `stateflow.sleep`: how long, or (`untilInput`) until the log time the step's input names. */
  sleep?: { ms: number } | { untilInput: true }
  /** `stateflow.wait`: the signal that satisfies the step (also one sent before the step was reached). */
  signal?: { name: string; schema?: ZodType; timeoutMs?: number }
  /** `stateflow.child`: the workflow to run as a child, with this step's input. */
  workflow?: WorkflowDefinition
}

export interface StepDefinition<I = unknown, O = unknown> extends Readonly<StepInit<I, O>> {
  readonly sideEffects: SideEffects
  readonly claim: StepClaim
}

export interface LinkOptions {
  /** The next step's input from this step's output. @default the output itself */
  map?: (output: any) => unknown
  /** Follow the link only when this holds for the output; otherwise the link is skipped. */
  when?: (output: any) => boolean
}

export interface Link {
  readonly from: string
  readonly to: string
  readonly map?: (output: any) => unknown
  readonly when?: (output: any) => boolean
}

export interface Trigger {
  /** The log to watch. */
  log: string
  /** The event type that starts a run. */
  type: string
  /** The run's input from the event's body. @default the body */
  input?: (body: any) => unknown
}

export interface WorkflowInit<I = unknown, O = unknown> {
  id: string
  version: string
  input?: ZodType<I>
  output?: ZodType<O>
  steps: Record<string, StepDefinition>
  links: Link[]
  triggers?: Trigger[]
}

/** What a run records: plain data, the same on every peer. */
export interface CanonicalWorkflow {
  id: string
  version: string
  input: unknown
  output: unknown
  steps: CanonicalStep[]
  links: { from: string; to: string; map: string | null; when: string | null }[]
  triggers: { log: string; type: string; input: string | null }[]
}

export interface CanonicalStep {
  id: string
  type: string
  sideEffects: SideEffects
  claim: StepClaim
  placement: Placement | null
  retry: Required<Omit<RetryPolicy, 'nonRetryable'>> & { nonRetryable: string[] }
  timeoutMs: number | null
  compensate: string | null
  sleep: { ms: number } | { untilInput: true } | null
  signal: { name: string; schema: unknown; timeoutMs: number | null } | null
  /** `stateflow.child`: the child's content hash. */
  child: string | null
  input: unknown
  output: unknown
}

export interface WorkflowDefinition<I = unknown, O = unknown> {
  readonly id: string
  readonly version: string
  readonly input?: ZodType<I>
  readonly output?: ZodType<O>
  readonly steps: Readonly<Record<string, StepDefinition>>
  readonly links: readonly Link[]
  readonly triggers: readonly Trigger[]
  /** Step ids in a topological order (sources first, ties by id). */
  readonly order: readonly string[]
  readonly canonical: CanonicalWorkflow
  /** `sha256:<hex>` of the canonical form's DAG-CBOR bytes. */
  readonly hash: string
  /** Child workflows by hash (this one's and theirs), so a run can start them by the hash it recorded. */
  readonly children: ReadonlyMap<string, WorkflowDefinition>
}

const ID = /^[A-Za-z0-9_.:-]{1,128}$/
export const DEFAULT_RETRY = Object.freeze({ maxAttempts: 3, initialIntervalMs: 1000, backoffCoefficient: 2, maxIntervalMs: 60_000, jitter: 0.2 })

export function isZodSchema(x: unknown): x is ZodType {
  return typeof x === 'object' && x !== null && '_zod' in x && typeof (x as { safeParse?: unknown }).safeParse === 'function'
}

function checkSchema(x: unknown, where: string): void {
  if (x !== undefined && !isZodSchema(x)) throw new DefinitionError(`${where} must be a zod schema (zod 4), got ${describe(x)}`)
}

function describe(x: unknown): string {
  if (x === null) return 'null'
  if (Array.isArray(x)) return 'an array'
  return typeof x === 'object' ? 'an object without zod internals' : typeof x
}

function nonNegative(x: unknown, where: string): void {
  if (x !== undefined && (typeof x !== 'number' || !Number.isFinite(x) || x < 0)) throw new DefinitionError(`${where} must be a finite number ≥ 0`)
}

/** Define a step; checked now, so a bad one fails where it is written. */
export function defineStep<I = unknown, O = unknown>(init: StepInit<I, O>): StepDefinition<I, O> {
  if (typeof init !== 'object' || init === null) throw new DefinitionError('defineStep takes an object')
  if (typeof init.id !== 'string' || !ID.test(init.id)) throw new DefinitionError(`step id ${JSON.stringify(init.id)} must be 1-128 characters of A-Z a-z 0-9 _ . : -`)
  const at = `step ${init.id}`
  if (typeof init.type !== 'string' || init.type.length === 0 || init.type.length > 256) throw new DefinitionError(`${at}: type must be a non-empty string`)
  checkSchema(init.input, `${at}: input`)
  checkSchema(init.output, `${at}: output`)
  const builtin = init.type === SLEEP || init.type === WAIT || init.type === CHILD
  const sideEffects = init.sideEffects ?? (builtin ? { kind: 'pure' as const } : undefined)
  if (!sideEffects || (sideEffects.kind !== 'pure' && sideEffects.kind !== 'effectful')) throw new DefinitionError(`${at}: sideEffects.kind must be 'pure' or 'effectful'`)
  const claim = init.claim ?? (builtin ? { mode: 'lease' as const } : undefined)
  if (!claim || !CLAIM_MODES.includes(claim.mode)) throw new DefinitionError(`${at}: claim.mode must be one of ${CLAIM_MODES.join(', ')}`)
  if (claim.mode === 'optimistic-idempotent' && sideEffects.kind === 'effectful') {
    throw new DefinitionError(`${at}: an effectful step may not use optimistic-idempotent claims (it could run on several peers at once)`)
  }
  if (claim.mode === 'authority' && (typeof claim.authority !== 'string' || claim.authority.length === 0)) throw new DefinitionError(`${at}: authority claims name the authority (a did or node id)`)
  if (claim.mode === 'lease' || claim.mode === 'authority') nonNegative(claim.ttlMs, `${at}: claim.ttlMs`)
  if (claim.mode === 'deterministic-election') nonNegative(claim.timeoutMs, `${at}: claim.timeoutMs`)
  if (claim.mode === 'optimistic-idempotent' && claim.duplicatePolicy !== undefined && claim.duplicatePolicy !== 'first-valid-wins') {
    throw new DefinitionError(`${at}: duplicatePolicy must be 'first-valid-wins'`)
  }
  if (init.placement !== undefined) {
    const problem = placementProblem(init.placement)
    if (problem) throw new DefinitionError(`${at}: placement: ${problem}`)
  }
  nonNegative(init.timeoutMs, `${at}: timeoutMs`)
  if (init.retry !== undefined) {
    const r = init.retry
    if (r.maxAttempts !== undefined && (!Number.isInteger(r.maxAttempts) || r.maxAttempts < 1)) throw new DefinitionError(`${at}: retry.maxAttempts must be an integer ≥ 1`)
    nonNegative(r.initialIntervalMs, `${at}: retry.initialIntervalMs`)
    nonNegative(r.maxIntervalMs, `${at}: retry.maxIntervalMs`)
    if (r.backoffCoefficient !== undefined && (typeof r.backoffCoefficient !== 'number' || !(r.backoffCoefficient >= 1))) throw new DefinitionError(`${at}: retry.backoffCoefficient must be ≥ 1`)
    if (r.jitter !== undefined && (typeof r.jitter !== 'number' || !(r.jitter >= 0 && r.jitter <= 1))) throw new DefinitionError(`${at}: retry.jitter must be between 0 and 1`)
    if (r.nonRetryable !== undefined && (!Array.isArray(r.nonRetryable) || r.nonRetryable.some((n) => typeof n !== 'string'))) throw new DefinitionError(`${at}: retry.nonRetryable must be a list of error names`)
  }
  if (init.compensate !== undefined && (typeof init.compensate !== 'string' || init.compensate.length === 0)) throw new DefinitionError(`${at}: compensate names an executor type`)
  if (init.type === SLEEP) {
    const s = init.sleep as { ms?: unknown; untilInput?: unknown } | undefined
    if (!s || (s.untilInput !== true && (typeof s.ms !== 'number' || !Number.isFinite(s.ms) || s.ms < 0))) throw new DefinitionError(`${at}: a sleep step needs sleep: { ms } or sleep: { untilInput: true }`)
  } else if (init.sleep !== undefined) throw new DefinitionError(`${at}: sleep is for type '${SLEEP}'`)
  if (init.type === WAIT) {
    const s = init.signal
    if (!s || typeof s.name !== 'string' || s.name.length === 0) throw new DefinitionError(`${at}: a wait step needs signal: { name }`)
    checkSchema(s.schema, `${at}: signal.schema`)
    nonNegative(s.timeoutMs, `${at}: signal.timeoutMs`)
  } else if (init.signal !== undefined) throw new DefinitionError(`${at}: signal is for type '${WAIT}'`)
  if (init.type === CHILD) {
    if (!isWorkflow(init.workflow)) throw new DefinitionError(`${at}: a child step needs workflow: a defineWorkflow() result`)
  } else if (init.workflow !== undefined) throw new DefinitionError(`${at}: workflow is for type '${CHILD}'`)
  return Object.freeze({ ...init, sideEffects, claim }) as StepDefinition<I, O>
}

/** A durable timer step: `ms` of log time after it is reached, fired by whichever peer sees it due. */
export function sleep(id: string, ms: number): StepDefinition {
  return defineStep({ id, type: SLEEP, sleep: { ms } })
}

/** A durable timer step until the log time (ms since the epoch) its input names. */
export function sleepUntil(id: string): StepDefinition {
  return defineStep({ id, type: SLEEP, sleep: { untilInput: true } })
}

/** A step that waits for the signal `name` (one sent earlier counts); its output is the payload. */
export function waitForSignal(id: string, name: string, options: { schema?: ZodType; timeoutMs?: number } = {}): StepDefinition {
  return defineStep({ id, type: WAIT, signal: { name, ...options } })
}

/** A step that runs `workflow` as a child run with its input; its output is the child's. */
export function childRun(id: string, workflow: WorkflowDefinition, options: { claim?: StepClaim; placement?: Placement } = {}): StepDefinition {
  return defineStep({ id, type: CHILD, workflow, ...options })
}

export function link(from: string, to: string, options: LinkOptions = {}): Link {
  if (typeof from !== 'string' || typeof to !== 'string') throw new DefinitionError('link(from, to) takes two step ids')
  if (options.map !== undefined && typeof options.map !== 'function') throw new DefinitionError(`link ${from} → ${to}: map must be a function`)
  if (options.when !== undefined && typeof options.when !== 'function') throw new DefinitionError(`link ${from} → ${to}: when must be a function`)
  return Object.freeze({ from, to, ...(options.map ? { map: options.map } : {}), ...(options.when ? { when: options.when } : {}) })
}

const WORKFLOW = Symbol.for('stateflow.workflow')

export function isWorkflow(x: unknown): x is WorkflowDefinition {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[WORKFLOW] === true
}

export function defineWorkflow<I = unknown, O = unknown>(init: WorkflowInit<I, O>): WorkflowDefinition<I, O> {
  if (typeof init !== 'object' || init === null) throw new DefinitionError('defineWorkflow takes an object')
  if (typeof init.id !== 'string' || !ID.test(init.id)) throw new DefinitionError(`workflow id ${JSON.stringify(init.id)} must be 1-128 characters of A-Z a-z 0-9 _ . : -`)
  const at = `workflow ${init.id}`
  if (typeof init.version !== 'string' || init.version.length === 0 || init.version.length > 64) throw new DefinitionError(`${at}: version must be a non-empty string`)
  checkSchema(init.input, `${at}: input`)
  checkSchema(init.output, `${at}: output`)
  if (typeof init.steps !== 'object' || init.steps === null || Array.isArray(init.steps)) throw new DefinitionError(`${at}: steps must be an object of defineStep() results`)
  const ids = Object.keys(init.steps)
  if (ids.length === 0) throw new DefinitionError(`${at}: a workflow needs at least one step`)
  for (const key of ids) {
    const s = init.steps[key]
    if (typeof s !== 'object' || s === null || typeof s.id !== 'string' || typeof s.type !== 'string') throw new DefinitionError(`${at}: steps.${key} is not a defineStep() result`)
    if (s.id !== key) throw new DefinitionError(`${at}: steps.${key} has id ${JSON.stringify(s.id)}; the key and the id must match`)
    // Re-check: a hand-built object must meet the same rules as a defineStep() result.
    defineStep(s)
  }
  if (!Array.isArray(init.links)) throw new DefinitionError(`${at}: links must be an array (use [] for none)`)
  const seen = new Set<string>()
  for (const l of init.links) {
    if (typeof l !== 'object' || l === null) throw new DefinitionError(`${at}: a link is not a link() result`)
    for (const end of [l.from, l.to]) if (!Object.hasOwn(init.steps, end)) throw new DefinitionError(`${at}: link ${l.from} → ${l.to} names an unknown step ${JSON.stringify(end)}`)
    if (l.from === l.to) throw new DefinitionError(`${at}: link ${l.from} → ${l.to} is a cycle`)
    const key = `${l.from}\u0000${l.to}`
    if (seen.has(key)) throw new DefinitionError(`${at}: link ${l.from} → ${l.to} appears twice`)
    seen.add(key)
  }
  const order = topologicalOrder(ids, init.links, at)
  const triggers = init.triggers ?? []
  if (!Array.isArray(triggers)) throw new DefinitionError(`${at}: triggers must be an array`)
  for (const t of triggers) {
    if (typeof t?.log !== 'string' || t.log.length === 0 || typeof t.type !== 'string' || t.type.length === 0) throw new DefinitionError(`${at}: a trigger needs { log, type }`)
    if (t.input !== undefined && typeof t.input !== 'function') throw new DefinitionError(`${at}: trigger input must be a function`)
  }
  const children = new Map<string, WorkflowDefinition>()
  for (const s of Object.values(init.steps)) {
    if (s.workflow) {
      children.set(s.workflow.hash, s.workflow)
      for (const [h, w] of s.workflow.children) children.set(h, w)
    }
  }
  const canonical = canonicalForm(init, triggers)
  const hash = `sha256:${toHex(sha256(dagCbor.encode(canonical)))}`
  const def = {
    id: init.id,
    version: init.version,
    ...(init.input ? { input: init.input } : {}),
    ...(init.output ? { output: init.output } : {}),
    steps: Object.freeze({ ...init.steps }),
    links: Object.freeze([...init.links]),
    triggers: Object.freeze([...triggers]),
    order: Object.freeze(order),
    canonical,
    hash,
    children,
  }
  Object.defineProperty(def, WORKFLOW, { value: true })
  children.set(hash, def as WorkflowDefinition)
  return Object.freeze(def) as WorkflowDefinition<I, O>
}

/** Kahn's algorithm, ties broken by id so the order is the same everywhere; a leftover is a cycle. */
function topologicalOrder(ids: string[], links: readonly Link[], at: string): string[] {
  const indegree = new Map(ids.map((id) => [id, 0]))
  for (const l of links) indegree.set(l.to, indegree.get(l.to)! + 1)
  const ready = ids.filter((id) => indegree.get(id) === 0).sort()
  const out: string[] = []
  while (ready.length > 0) {
    const id = ready.shift()!
    out.push(id)
    for (const l of links) {
      if (l.from !== id) continue
      const d = indegree.get(l.to)! - 1
      indegree.set(l.to, d)
      if (d === 0) {
        ready.push(l.to)
        ready.sort()
      }
    }
  }
  if (out.length !== ids.length) {
    const stuck = ids.filter((id) => !out.includes(id)).sort()
    throw new DefinitionError(`${at}: the links form a cycle through ${stuck.join(', ')}`)
  }
  return out
}

function schemaForm(schema: ZodType | undefined): unknown {
  if (!schema) return null
  const s = schema as unknown as { toJSONSchema?: (o?: unknown) => unknown; _zod: { def: { type: string } } }
  try {
    if (typeof s.toJSONSchema === 'function') return plain(s.toJSONSchema({ unrepresentable: 'any' }))
  } catch {
    // Fall through: some schemas (transforms) have no JSON Schema.
  }
  return { zod: s._zod.def.type }
}

/** JSON-shaped data for DAG-CBOR: undefined dropped, non-finite numbers as strings. */
function plain(x: unknown): unknown {
  if (x === undefined) return null
  if (typeof x === 'number') return Number.isFinite(x) ? x : String(x)
  if (Array.isArray(x)) return x.map(plain)
  if (typeof x === 'object' && x !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(x)) if (v !== undefined) out[k] = plain(v)
    return out
  }
  return x
}

function canonicalForm(init: WorkflowInit<any, any>, triggers: readonly Trigger[]): CanonicalWorkflow {
  const steps = Object.values(init.steps)
    .map((s): CanonicalStep => ({
      id: s.id,
      type: s.type,
      sideEffects: plain(s.sideEffects) as SideEffects,
      claim: plain(s.claim) as StepClaim,
      placement: s.placement ? (plain(s.placement) as Placement) : null,
      retry: { ...DEFAULT_RETRY, ...(plain(s.retry ?? {}) as object), nonRetryable: [...(s.retry?.nonRetryable ?? [])].sort() } as CanonicalStep['retry'],
      timeoutMs: s.timeoutMs ?? null,
      compensate: s.compensate ?? null,
      sleep: s.sleep ? (plain(s.sleep) as CanonicalStep['sleep']) : null,
      signal: s.signal ? { name: s.signal.name, schema: schemaForm(s.signal.schema), timeoutMs: s.signal.timeoutMs ?? null } : null,
      child: s.workflow ? s.workflow.hash : null,
      input: schemaForm(s.input),
      output: schemaForm(s.output),
    }))
    .sort((a, b) => (a.id < b.id ? -1 : 1))
  const links = init.links
    .map((l) => ({ from: l.from, to: l.to, map: l.map ? l.map.toString() : null, when: l.when ? l.when.toString() : null }))
    .sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : a.to < b.to ? -1 : a.to > b.to ? 1 : 0))
  return {
    id: init.id,
    version: init.version,
    input: schemaForm(init.input),
    output: schemaForm(init.output),
    steps,
    links,
    triggers: triggers.map((t) => ({ log: t.log, type: t.type, input: t.input ? t.input.toString() : null })),
  }
}
