/**
 * The view plug point (DESIGN §7): a deterministic fold of a log. Every peer holding the same
 * events folds them in the same total order and reaches the same state, so a reducer must be
 * pure: no I/O, no `Date.now()`, no randomness, no dependence on arrival order. Time inside a view
 * is log time (`ctx.time`): the largest `time` among the events folded so far.
 *
 * The host may call `reduce` on a state it got from `initial()`, from an earlier `reduce`, or
 * from `decode` of a checkpoint; `reduce` may update that state in place and return it, so folds
 * stay fast. The host never hands a state it still folds into to anyone else: readers get a copy
 * (`decode(encode(state))`).
 */
import * as dagCbor from '@ipld/dag-cbor'
import type { Log, LogEvent } from '../log/log.js'

export interface ViewContext {
  /** The log being folded. */
  readonly log: string
  /** Log time: the largest event `time` folded so far, this event included. */
  readonly time: number
  /** The event's place in the total order (0 for the first event of the log). */
  readonly index: number
}

export interface View<S> {
  /** Unique per client; also names its checkpoints. */
  readonly name: string
  /** Bump when `reduce` or the state's shape changes: checkpoints of other versions are ignored. */
  readonly version: number
  initial(): S
  reduce(state: S, event: LogEvent, ctx: ViewContext): S
  /**
   * Bytes for checkpoints and snapshots; must be deterministic (equal states, equal bytes).
   * @default DAG-CBOR of the state (plain data: objects, arrays, strings, numbers, booleans, null, bytes)
   */
  encode?(state: S): Uint8Array
  decode?(bytes: Uint8Array): S
  /**
   * A cheap copy for checkpoints and snapshots that shares unchanged parts with `state`. Both
   * copies must stay valid under later `reduce` calls on either (share only what `reduce`
   * copies before changing, e.g. frozen parts). Without it the host deep-copies (a structured
   * clone, or `decode(encode(state))` for views with their own encoding).
   *
   * `reader` is true when the copy goes to a reader (`view`, `observe`): what it shares must then
   * be safe from the reader too (frozen through). A checkpoint, the host's own, needs only what
   * `reduce` relies on; a view may leave the rest for a later reader copy.
   */
  fork?(state: S, reader?: boolean): S
  /**
   * A view that holds documents (`docView`) offers `log.doc(id)` and `log.changeDoc(id, fn)`
   * through this: read a copy of one document from the live state, and write a change as events.
   */
  documents?: DocumentsCapability<S>
}

export interface DocumentsCapability<S> {
  /** A copy of document `id` in `state` (never the live one), or undefined. */
  read(state: S, id: string): unknown
  /** Append the change `fn` makes to `current` (a copy from `read`); undefined when nothing changed. */
  change(log: Log, id: string, current: unknown, fn: (doc: any) => void): Promise<LogEvent | undefined>
}

/** A position in a log's total order. */
export interface ViewPosition {
  clock: number
  cid: Uint8Array
  /** How many events are at or before it. */
  count: number
}

export function encodeState<S>(view: View<S>, state: S): Uint8Array {
  return view.encode ? view.encode(state) : dagCbor.encode(state)
}

export function decodeState<S>(view: View<S>, bytes: Uint8Array): S {
  return view.decode ? view.decode(bytes) : (dagCbor.decode(bytes) as S)
}

export function isView(x: unknown): x is View<unknown> {
  const v = x as View<unknown>
  return typeof x === 'object' && x !== null && typeof v.name === 'string' && typeof v.version === 'number' && typeof v.initial === 'function' && typeof v.reduce === 'function'
}
