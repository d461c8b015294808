/**
 * The FlowState document (DESIGN §10): the flow-only subset of xState v5 as plain JSON data.
 * This file is the contract: types, bounds and names only, no implementation imports.
 *
 * Kept from xState: atomic, compound, parallel, final and (shallow, deep) history states;
 * transitions with `target`, `guard`, `actions`, `reenter`, `description`; `entry`/`exit`;
 * `invoke` with `onDone`/`onError`; state `onDone`; explicit state `id`s; `tags`.
 * Dropped: `context`, `assign`, inline functions, `after`, `always`, `meta`, `delays`,
 * `onSnapshot`, `systemId`, `route`. Timers are `service:timer@^1` invocations.
 * Added: a fixed guard library over run state, output bindings (instead of `assign`), `claim`,
 * `placement` and `idempotencyKey` on invokes, `exposure`, `inputSchema`/`outputSchema`.
 *
 * Run state, which guards and bindings read, is `{ input, event, output }`:
 * - `$.input`: the run's input (immutable);
 * - `$.event`: the event being handled (`$.event.output` on an invoke's done event,
 *   `$.event.error` on its error event);
 * - `$.output.<invokeId>`: the output of the last completed invocation with that id.
 *
 * Path grammar (checked when defined; bounded by `MAX_PATH_LENGTH`):
 *
 *     path    = "$." root *( "." name / "[" index "]" )
 *     root    = "input" / "event" / "output"
 *     name    = ALPHA / "_" *( ALPHA / DIGIT / "_" / "-" )   ; not __proto__, constructor, prototype
 *     index   = "0" / %x31-39 *DIGIT
 *
 * A path that leads nowhere yields nothing: the guard is false, the binding is left out.
 *
 * Document order is key order as RFC 8785 writes it (UTF-16 code units), because the canonical
 * form is what runs: parallel regions are entered, and their transitions chosen, in that order.
 */
import type { Placement } from '../../views/placement.js'
import type { StepClaim } from '../define.js'

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** The `format` of a FlowState definition in the registry. */
export const FLOWSTATE_FORMAT = 'flowstate'
/** The version of the document format, written in every canonical document as `flowstate`. */
export const FLOWSTATE_VERSION = 1

/** A run-state path (see the grammar above), e.g. `$.input.order.total`. */
export type Path = string

/** One bound value: a path, or a literal. */
export type Binding = Path | { const: Json }

/** A whole value (a path) or an object whose fields are bindings. */
export type Bindings = Path | { [name: string]: Binding }

export type Guard =
  /** Deep JSON equality. */
  | { type: 'equals'; path: Path; value: Json }
  /** Both numbers, and the value at `path` is greater (`gt`) or less (`lt`). */
  | { type: 'gt'; path: Path; value: number }
  | { type: 'lt'; path: Path; value: number }
  /** A string (of at most `MAX_MATCH_SUBJECT` characters) that the ECMAScript regular expression matches. */
  | { type: 'matches'; path: Path; pattern: string; flags?: string }
  /** Equal to one of `values`. */
  | { type: 'oneOf'; path: Path; values: Json[] }
  | { type: 'and'; guards: Guard[] }
  | { type: 'or'; guards: Guard[] }
  | { type: 'not'; guard: Guard }

export type GuardType = Guard['type']
export const GUARD_TYPES: readonly GuardType[] = Object.freeze(['equals', 'gt', 'lt', 'matches', 'oneOf', 'and', 'or', 'not'])

/**
 * A symbolic reference to an executor: `<kind>:<id>@<semver range>`, kind `action` (an effect)
 * or `service` (a built-in such as `service:timer@^1`).
 */
export type Ref = string

/** An action: a reference, or a reference with input bindings. */
export type ActionRef = Ref | { action: Ref; input?: Bindings }

export interface Transition {
  /** Sibling path (`b`, `b.c`), child path (`.c`) or explicit id (`#id`, `#id.c`); several only into orthogonal regions. No target: actions only (or a "forbidden" transition when there are none). */
  target?: string | string[]
  guard?: Guard
  actions?: ActionRef[]
  /** Exit and re-enter the source state on a self-target. @default false */
  reenter?: boolean
  description?: string
}

export interface Invoke {
  /** Unique in the document; `$.output.<id>` is its last output. */
  id: string
  /** `action:<id>@<range>` or `service:<id>@<range>`. */
  src: Ref
  input?: Bindings
  onDone?: Transition[]
  onError?: Transition[]
  /** How the peers decide which one runs it. @default the runtime's (`lease`) */
  claim?: StepClaim
  /** Where it may run. @default anywhere */
  placement?: Placement
  /** What makes two attempts the same attempt, for the executor's idempotency key. @default the run id, state and attempt */
  idempotencyKey?: Bindings
}

export type StateType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history'

/** A state node in canonical form: `type` always present, lists always arrays, empty ones left out. */
export interface FlowStateNode {
  type: StateType
  /** An explicit id for `#id` targets: unique, no dots. */
  id?: string
  description?: string
  /** Sorted, unique. */
  tags?: string[]
  /** compound: the initial child's key. */
  initial?: string
  /** compound, parallel. */
  states?: Record<string, FlowStateNode>
  on?: Record<string, Transition[]>
  /** compound, parallel: taken when the state completes. */
  onDone?: Transition[]
  entry?: ActionRef[]
  exit?: ActionRef[]
  invoke?: Invoke[]
  /** final: the output (of the flow, for a top-level final state; else of its parent's done event). */
  output?: Bindings
  /** history. */
  history?: 'shallow' | 'deep'
  /** history: the default when there is no history yet. */
  target?: string
}

/**
 * Who outside the run may do what. `events`: the event types a caller may send into a run
 * (`run.signal`); events not listed are only raised by the runtime. @default every event the flow handles
 */
export interface Exposure {
  events?: string[]
}

/** A canonical FlowState document. */
export interface FlowStateDocument extends Omit<FlowStateNode, 'type' | 'output' | 'history' | 'target' | 'id' | 'tags'> {
  flowstate: typeof FLOWSTATE_VERSION
  id: string
  version: string
  type: 'compound' | 'parallel'
  exposure?: Exposure
  /** JSON Schema. */
  inputSchema?: Json
  /** JSON Schema. */
  outputSchema?: Json
}

// Bounds. Past each, the definition is refused with a `TOO_LARGE` issue.

/** States in a document, all levels. */
export const MAX_STATES = 1024
/** Nesting depth of states. */
export const MAX_DEPTH = 32
/** Nesting depth of guards (`and`/`or`/`not`). */
export const MAX_GUARD_DEPTH = 16
/** Characters of a run-state path. */
export const MAX_PATH_LENGTH = 256
/** Characters of a `matches` pattern. */
export const MAX_PATTERN_LENGTH = 256
/** Characters of a string a `matches` guard tests; a longer one does not match. */
export const MAX_MATCH_SUBJECT = 10_000
/** Bytes of the canonical JSON. */
export const MAX_DOCUMENT_BYTES = 256 * 1024

export type IssueCode =
  | 'INVALID'
  | 'UNKNOWN_KEY'
  | 'INLINE_FUNCTION'
  | 'CONTEXT'
  | 'ASSIGN'
  | 'AFTER'
  | 'ALWAYS'
  | 'DROPPED'
  | 'UNKNOWN_TARGET'
  | 'AMBIGUOUS_TRANSITION'
  | 'CONFLICTING_TARGETS'
  | 'BAD_GUARD'
  | 'BAD_PATH'
  | 'BAD_PATTERN'
  | 'BAD_REF'
  | 'BAD_SCHEMA'
  | 'BAD_CLAIM'
  | 'BAD_PLACEMENT'
  | 'DUPLICATE_ID'
  | 'UNKNOWN_EVENT'
  | 'TOO_LARGE'
  // Lint findings (`lintFlowState`), always warnings.
  | 'SHORTHAND'
  | 'REDUNDANT'
  | 'GUARD_SHAPE'
  | 'TARGET_SHAPE'
  | 'UNREACHABLE'
  | 'DEAD_END'
  | 'UNHANDLED_ERROR'

/** One problem found in a document, at a JSON path such as `states.paying.on.PAID[0].target`. */
export interface FlowStateIssue {
  readonly code: IssueCode
  /** `error`: the definition is refused; `warning`: a lint finding or something a codec dropped. */
  readonly severity: 'error' | 'warning'
  readonly path: string
  readonly message: string
}
