/**
 * Lint, meaning-level alternatives, read off the canonical form (which keeps guards and targets
 * as written): guards with a simpler equivalent (`GUARD_SHAPE`), `#id` targets a sibling key
 * reaches (`TARGET_SHAPE`), and self-targets that do nothing (`REDUNDANT`).
 */
import { canonicalJson } from '../canonical-json.js'
import { pathAt, type IssueList } from './issues.js'
import { resolveTarget, type StateTree, type TreeNode } from './tree.js'
import type { Guard, Json, Transition } from './types.js'

export interface TransitionSite {
  /** The state the transitions belong to (for an invoke's, the invoking state). */
  readonly source: TreeNode
  readonly transitions: readonly Transition[]
  /** JSON path of the list, e.g. `states.a.on.GO`. */
  readonly at: string
}

/** `states.a.states.b` for a node; '' for the root. */
export function statePath(t: TreeNode): string {
  return t.path.reduce((base, k) => pathAt(pathAt(base, 'states'), k), '')
}

/** Every transition list of the document: `on`, `onDone`, and each invoke's `onDone`/`onError`. */
export function transitionSites(tree: StateTree): TransitionSite[] {
  const out: TransitionSite[] = []
  for (const source of tree.nodes) {
    const at = statePath(source)
    for (const [ev, ts] of Object.entries(source.node.on ?? {})) out.push({ source, transitions: ts, at: pathAt(pathAt(at, 'on'), ev) })
    if (source.node.onDone) out.push({ source, transitions: source.node.onDone, at: pathAt(at, 'onDone') })
    source.node.invoke?.forEach((inv, i) => {
      const where = pathAt(pathAt(at, 'invoke'), i)
      if (inv.onDone) out.push({ source, transitions: inv.onDone, at: pathAt(where, 'onDone') })
      if (inv.onError) out.push({ source, transitions: inv.onError, at: pathAt(where, 'onError') })
    })
  }
  return out
}

/** Each target of `t` with its JSON path. */
export function targetsOf(t: Transition, at: string): [string, string][] {
  if (t.target === undefined) return []
  if (!Array.isArray(t.target)) return [[t.target, pathAt(at, 'target')]]
  return t.target.map((target, j) => [target, pathAt(pathAt(at, 'target'), j)])
}

const show = (x: unknown): string => {
  const s = canonicalJson(x)
  return s.length > 120 ? `${s.slice(0, 117)}…` : s
}

export function lintTransitions(tree: StateTree, issues: IssueList): void {
  for (const { source, transitions, at } of transitionSites(tree)) {
    transitions.forEach((t, i) => {
      const where = pathAt(at, i)
      if (t.guard) lintGuard(t.guard, pathAt(where, 'guard'), issues)
      for (const [target, tat] of targetsOf(t, where)) {
        const node = resolveTarget(tree, source, target)
        if (typeof node === 'string') continue
        if (target.startsWith('#') && source.parent && node.parent === source.parent) {
          issues.warn('TARGET_SHAPE', tat, `${show(target)} names a sibling: write its key, "target": ${show(node.key)}`)
        }
        // xState v5: a self-target without reenter on an atomic state exits and enters nothing.
        if (node === source && source.node.type === 'atomic' && !t.reenter && !Array.isArray(t.target)) {
          issues.warn('REDUNDANT', tat, 'a self-target without reenter does nothing here: remove the target (a transition without one runs its actions and stays), or write reenter: true to re-enter')
        }
      }
    })
  }
}

function lintGuard(g: Guard, at: string, issues: IssueList): void {
  switch (g.type) {
    case 'and':
    case 'or': {
      if (g.guards.length === 1) issues.warn('GUARD_SHAPE', at, `an ${g.type} of one guard: write the guard itself, ${show(g.guards[0])}`)
      g.guards.forEach((c, i) => {
        if (c.type === g.type) issues.warn('GUARD_SHAPE', pathAt(pathAt(at, 'guards'), i), `an ${g.type} inside an ${g.type}: put its guards in the outer "guards" list`)
      })
      if (g.type === 'or') mergeableEquals(g.guards, at, issues)
      g.guards.forEach((c, i) => lintGuard(c, pathAt(pathAt(at, 'guards'), i), issues))
      return
    }
    case 'not':
      if (g.guard.type === 'not') issues.warn('GUARD_SHAPE', at, `a not of a not: write the inner guard, ${show(g.guard.guard)}`)
      lintGuard(g.guard, pathAt(at, 'guard'), issues)
      return
    case 'oneOf':
      if (g.values.length === 1) issues.warn('GUARD_SHAPE', at, `a oneOf with one value: write ${show({ type: 'equals', path: g.path, value: g.values[0] })}`)
      return
    default:
      return
  }
}

/** In an `or`, `equals` (and `oneOf`) on one path are one `oneOf`. */
function mergeableEquals(guards: readonly Guard[], at: string, issues: IssueList): void {
  const byPath = new Map<string, Json[]>()
  const counts = new Map<string, number>()
  for (const g of guards) {
    if (g.type !== 'equals' && g.type !== 'oneOf') continue
    const values = byPath.get(g.path) ?? []
    values.push(...(g.type === 'equals' ? [g.value] : g.values))
    byPath.set(g.path, values)
    counts.set(g.path, (counts.get(g.path) ?? 0) + (g.type === 'equals' ? 1 : 0))
  }
  for (const [path, values] of byPath) {
    if ((counts.get(path) ?? 0) === 0 || guards.filter((g) => (g.type === 'equals' || g.type === 'oneOf') && g.path === path).length < 2) continue
    issues.warn('GUARD_SHAPE', at, `an or of equals on ${path}: write ${show({ type: 'oneOf', path, values })}`)
  }
}
