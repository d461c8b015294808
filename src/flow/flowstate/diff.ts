/**
 * `diffFlowState(a, b)`: what changed between two FlowState definitions, by meaning rather than
 * text. Both sides are defined first (authoring input, canonical documents and definitions
 * compare alike; invalid input throws `FlowStateDefinitionError`), so spelling never shows up.
 *
 * - `flow`: the root's `id`, `version`, `description`, `exposure`, `inputSchema`, `outputSchema`.
 * - `state`: states by key path (added, removed), and a state's own fields (`type`, `id`,
 *   `initial`, `tags`, `history`, `target`, `output`, `description`) at their path.
 * - `transition`: per (state, event) list (`on.<event>`, `onDone`), matched by resolved target
 *   and guard first, then by position; targets compare as the states they resolve to, so
 *   `#id` and a sibling key for the same state are the same. A change in relative order (which
 *   decides which guard wins) is reported as a move.
 * - `action`: `entry`/`exit` as sets of refs; the same ref id with another range or input is
 *   `changed`.
 * - `invoke`: by id within a state; `src`, `input`, `claim`, `placement`, `idempotencyKey`,
 *   `onDone`, `onError` changes are each a `changed` entry saying what changed.
 *
 * Order: flow changes, then states in document order (parents first, siblings by key), and in a
 * state: its fields, entry, exit, on (by event), onDone, invokes.
 */
import { canonicalJson } from '../canonical-json.js'
import { defineFlowState, isFlowState, type FlowStateDefinition, type FlowStateInit } from './define.js'
import { describeGuard } from './guards.js'
import { pathAt } from './issues.js'
import { statePath } from './lint-rules.js'
import { resolveTarget, stateTree, type StateTree, type TreeNode } from './tree.js'
import type { ActionRef, FlowStateDocument, FlowStateNode, Invoke, Transition } from './types.js'

export type FlowStateChangeKind = 'flow' | 'state' | 'transition' | 'action' | 'invoke'

export interface FlowStateChange {
  readonly kind: FlowStateChangeKind
  readonly change: 'added' | 'removed' | 'changed'
  /** JSON path in `b` (in `a` for what was removed), e.g. `states.paying.on.PAID[0]`. */
  readonly path: string
  /** What changed, for people: `target "b" → "c"`. */
  readonly detail: string
}

export interface FlowStateDiff {
  changes: FlowStateChange[]
}

export type FlowStateDiffInput = FlowStateDefinition | FlowStateDocument | FlowStateInit

const show = (x: unknown): string => {
  if (x === undefined) return '(none)'
  const s = canonicalJson(x)
  return s.length > 100 ? `${s.slice(0, 97)}…` : s
}
const same = (x: unknown, y: unknown): boolean => (x === undefined || y === undefined ? x === y : canonicalJson(x) === canonicalJson(y))

interface Side {
  readonly doc: FlowStateDocument
  readonly tree: StateTree
}

/** The changes from `a` to `b`; none when both define the same canonical document. */
export function diffFlowState(a: FlowStateDiffInput, b: FlowStateDiffInput): FlowStateDiff {
  const sa = side(a)
  const sb = side(b)
  const out: FlowStateChange[] = []
  for (const k of ['id', 'version', 'description', 'exposure', 'inputSchema', 'outputSchema'] as const) {
    const [x, y] = [sa.doc[k], sb.doc[k]]
    if (same(x, y)) continue
    out.push({ kind: 'flow', change: x === undefined ? 'added' : y === undefined ? 'removed' : 'changed', path: k, detail: `${k} ${show(x)} → ${show(y)}` })
  }
  const byPath = (s: Side): Map<string, TreeNode> => new Map(s.tree.nodes.map((t) => [JSON.stringify(t.path), t]))
  const [ma, mb] = [byPath(sa), byPath(sb)]
  const paths = [...new Set([...ma.keys(), ...mb.keys()])].map((p) => JSON.parse(p) as string[]).sort(comparePaths)
  for (const p of paths) {
    const [ta, tb] = [ma.get(JSON.stringify(p)), mb.get(JSON.stringify(p))]
    if (ta && tb) diffState(sa, ta, sb, tb, out)
    else {
      const t = (ta ?? tb)!
      out.push({ kind: 'state', change: ta ? 'removed' : 'added', path: statePath(t), detail: `${t.node.type} state ${JSON.stringify(t.key)}` })
    }
  }
  return { changes: out }
}

function side(x: FlowStateDiffInput): Side {
  const doc = (isFlowState(x) ? x : defineFlowState(x as FlowStateInit)).canonical
  return { doc, tree: stateTree(doc) }
}

/** Parents before children, siblings in key order (canonical document order). */
function comparePaths(x: string[], y: string[]): number {
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1
  return x.length - y.length
}

const STATE_FIELDS = ['type', 'id', 'description', 'tags', 'initial', 'history', 'target', 'output'] as const

function diffState(sa: Side, ta: TreeNode, sb: Side, tb: TreeNode, out: FlowStateChange[]): void {
  const at = statePath(tb)
  const [na, nb] = [ta.node as FlowStateNode, tb.node as FlowStateNode]
  for (const k of STATE_FIELDS) {
    if (!tb.parent && (k === 'id' || k === 'description')) continue // the flow's, reported above
    if (!same(na[k], nb[k])) out.push({ kind: 'state', change: 'changed', path: pathAt(at, k), detail: `${k} ${show(na[k])} → ${show(nb[k])}` })
  }
  for (const k of ['entry', 'exit'] as const) diffActions(na[k] ?? [], nb[k] ?? [], pathAt(at, k), out)
  const events = [...new Set([...Object.keys(na.on ?? {}), ...Object.keys(nb.on ?? {})])].sort()
  const ctx = { sa, ta, sb, tb }
  for (const ev of events) {
    for (const c of diffTransitions(ctx, na.on?.[ev] ?? [], nb.on?.[ev] ?? [], pathAt(pathAt(at, 'on'), ev))) out.push({ kind: 'transition', ...c })
  }
  for (const c of diffTransitions(ctx, na.onDone ?? [], nb.onDone ?? [], pathAt(at, 'onDone'))) out.push({ kind: 'transition', ...c })
  diffInvokes(ctx, na.invoke ?? [], nb.invoke ?? [], pathAt(at, 'invoke'), out)
}

// --- entry/exit actions: a multiset of refs --------------------------------------------------

const refOf = (a: ActionRef): string => (typeof a === 'string' ? a : a.action)
/** `action:id` without the range: what stays when only the range changes. */
const refId = (a: ActionRef): string => refOf(a).replace(/@.*$/, '')

function diffActions(xs: readonly ActionRef[], ys: readonly ActionRef[], at: string, out: FlowStateChange[]): void {
  const pairs = matchLists(xs, ys, [(a) => canonicalJson(a), refId])
  for (const [i, j] of pairs) {
    if (i === undefined) out.push({ kind: 'action', change: 'added', path: pathAt(at, j!), detail: show(ys[j!]) })
    else if (j === undefined) out.push({ kind: 'action', change: 'removed', path: pathAt(at, i), detail: show(xs[i]) })
    else if (!same(xs[i], ys[j])) out.push({ kind: 'action', change: 'changed', path: pathAt(at, j), detail: `${show(xs[i])} → ${show(ys[j])}` })
  }
}

/**
 * Pair items of `xs` and `ys`: by each key in turn (first unmatched with an equal key), then
 * the rest by position among the unmatched when `byPosition`. Returns [index in xs, index in ys]
 * pairs, one side undefined for added/removed: matched and added in `ys` order, removed last.
 */
function matchLists<T>(xs: readonly T[], ys: readonly T[], keys: ((x: T) => string)[], byPosition = false): [number | undefined, number | undefined][] {
  const toX = new Map<number, number>()
  const usedX = new Set<number>()
  for (const key of keys) {
    ys.forEach((y, j) => {
      if (toX.has(j)) return
      const k = key(y)
      const i = xs.findIndex((x, i) => !usedX.has(i) && key(x) === k)
      if (i >= 0) {
        toX.set(j, i)
        usedX.add(i)
      }
    })
  }
  if (byPosition) {
    const restX = xs.map((_, i) => i).filter((i) => !usedX.has(i))
    const restY = ys.map((_, j) => j).filter((j) => !toX.has(j))
    restY.slice(0, restX.length).forEach((j, n) => {
      toX.set(j, restX[n])
      usedX.add(restX[n])
    })
  }
  const out: [number | undefined, number | undefined][] = ys.map((_, j) => [toX.get(j), j])
  xs.forEach((_, i) => {
    if (!usedX.has(i)) out.push([i, undefined])
  })
  return out
}

// --- transitions: per (state, event) -----------------------------------------------------------

interface Ctx {
  sa: Side
  ta: TreeNode
  sb: Side
  tb: TreeNode
}

type Change = Omit<FlowStateChange, 'kind'>

const targetList = (t: Transition): string[] => (t.target === undefined ? [] : Array.isArray(t.target) ? t.target : [t.target])

/** Targets as the key paths of the states they name (or as written, if they name none). */
function resolved(s: Side, source: TreeNode, t: Transition): string[] {
  return targetList(t).map((target) => {
    const r = resolveTarget(s.tree, source, target)
    return typeof r === 'string' ? target : `/${r.path.join('/')}`
  })
}

function describeTransition(t: Transition): string {
  const parts = [t.target === undefined ? '(no target)' : `→ ${targetList(t).join(', ')}`]
  if (t.guard) parts.push(`[${describeGuard(t.guard)}]`)
  if (t.actions) parts.push(`/ ${t.actions.map(refOf).join(', ')}`)
  if (t.reenter) parts.push('(reenter)')
  return parts.join(' ')
}

function diffTransitions(c: Ctx, xs: readonly Transition[], ys: readonly Transition[], at: string): Change[] {
  const key = (s: Side, source: TreeNode) => (t: Transition) => canonicalJson([resolved(s, source, t), t.guard ?? null])
  const kx = xs.map(key(c.sa, c.ta))
  const ky = ys.map(key(c.sb, c.tb))
  // matchLists keys items by value; index them so each side uses its own resolution.
  const pairs = matchLists(
    xs.map((_, i) => ({ i, k: kx[i] })),
    ys.map((_, j) => ({ i: j, k: ky[j] })),
    [(x) => x.k],
    true,
  )
  const moved = outOfOrder(pairs.filter((p): p is [number, number] => p[0] !== undefined && p[1] !== undefined))
  const out: Change[] = []
  for (const [i, j] of pairs) {
    if (i === undefined) out.push({ change: 'added', path: pathAt(at, j!), detail: describeTransition(ys[j!]) })
    else if (j === undefined) out.push({ change: 'removed', path: pathAt(at, i), detail: describeTransition(xs[i]) })
    else {
      const [x, y] = [xs[i], ys[j]]
      const what: string[] = []
      if (!same(resolved(c.sa, c.ta, x), resolved(c.sb, c.tb, y))) what.push(`target ${show(x.target)} → ${show(y.target)}`)
      if (!same(x.guard, y.guard)) what.push(`guard ${x.guard ? describeGuard(x.guard) : '(none)'} → ${y.guard ? describeGuard(y.guard) : '(none)'}`)
      if (!same(x.actions, y.actions)) what.push(`actions ${show(x.actions)} → ${show(y.actions)}`)
      if ((x.reenter ?? false) !== (y.reenter ?? false)) what.push(`reenter ${x.reenter ?? false} → ${y.reenter ?? false}`)
      if (!same(x.description, y.description)) what.push(`description ${show(x.description)} → ${show(y.description)}`)
      if (moved.has(j)) what.push(`moved from [${i}] (it is now tried in another order)`)
      if (what.length > 0) out.push({ change: 'changed', path: pathAt(at, j), detail: what.join('; ') })
    }
  }
  return out
}

/** The `ys` indexes of pairs whose relative order changed: those off a longest increasing run of `xs` indexes. */
function outOfOrder(pairs: [number, number][]): Set<number> {
  const seq = [...pairs].sort((p, q) => p[1] - q[1])
  const len = seq.map(() => 1)
  const prev = seq.map(() => -1)
  for (let k = 0; k < seq.length; k++) {
    for (let m = 0; m < k; m++) {
      if (seq[m][0] < seq[k][0] && len[m] + 1 > len[k]) {
        len[k] = len[m] + 1
        prev[k] = m
      }
    }
  }
  const keep = new Set<number>()
  let k = len.indexOf(Math.max(0, ...len))
  while (k >= 0) {
    keep.add(seq[k][1])
    k = prev[k]
  }
  return new Set(seq.map((p) => p[1]).filter((j) => !keep.has(j)))
}

// --- invokes: by id -----------------------------------------------------------------------------

const INVOKE_FIELDS = ['src', 'input', 'claim', 'placement', 'idempotencyKey'] as const

function diffInvokes(c: Ctx, xs: readonly Invoke[], ys: readonly Invoke[], at: string, out: FlowStateChange[]): void {
  for (const [i, j] of matchLists(xs, ys, [(inv) => inv.id])) {
    if (i === undefined) out.push({ kind: 'invoke', change: 'added', path: pathAt(at, j!), detail: `invoke ${JSON.stringify(ys[j!].id)} of ${ys[j!].src}` })
    else if (j === undefined) out.push({ kind: 'invoke', change: 'removed', path: pathAt(at, i), detail: `invoke ${JSON.stringify(xs[i].id)} of ${xs[i].src}` })
    else {
      const [x, y] = [xs[i], ys[j]]
      const where = pathAt(at, j)
      const name = `invoke ${JSON.stringify(y.id)}`
      for (const k of INVOKE_FIELDS) {
        if (!same(x[k], y[k])) out.push({ kind: 'invoke', change: 'changed', path: pathAt(where, k), detail: `${name}: ${k} ${show(x[k])} → ${show(y[k])}` })
      }
      for (const k of ['onDone', 'onError'] as const) {
        const changes = diffTransitions(c, x[k] ?? [], y[k] ?? [], pathAt(where, k))
        if (changes.length === 0) continue
        const what = changes.map((ch) => `${ch.path.slice(pathAt(where, k).length)} ${ch.change} ${ch.detail}`.trim())
        out.push({ kind: 'invoke', change: 'changed', path: pathAt(where, k), detail: `${name}: ${k} ${what.join('; ')}` })
      }
    }
  }
}
