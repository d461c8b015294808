/**
 * Lint, structure: states nothing reaches (`UNREACHABLE`), non-final atomic states nothing
 * leaves (`DEAD_END`: no transition that can fire while it is active exits it without entering
 * it again), invokes whose failure nothing handles (`UNHANDLED_ERROR`).
 *
 * Entry and exit follow xState v5 (`getTransitionDomain`): entering a state enters its
 * ancestors, every region of a parallel ancestor and the initial descendants; a transition exits
 * the states below its domain, which is the source for a non-reentering transition into itself
 * or its descendants, else the nearest proper ancestor of the first target holding the source and
 * the other targets.
 */
import { pathAt, type IssueList } from './issues.js'
import { statePath, transitionSites, type TransitionSite } from './lint-rules.js'
import { isAncestor, resolveTarget, type StateTree, type TreeNode } from './tree.js'
import type { FlowStateNode, Transition } from './types.js'

interface Edge {
  readonly source: TreeNode
  readonly targets: readonly TreeNode[]
  readonly reenter: boolean
  /** What taking it enters (empty without targets). */
  readonly entered: ReadonlySet<TreeNode>
}

function edges(tree: StateTree, sites: readonly TransitionSite[]): Edge[] {
  const out: Edge[] = []
  for (const { source, transitions } of sites) {
    for (const t of transitions) {
      const e = { source, targets: targetNodes(tree, source, t), reenter: t.reenter === true }
      out.push({ ...e, entered: e.targets.length === 0 ? new Set() : entrySet(tree, e.targets, domainOf(e)) })
    }
  }
  return out
}

function targetNodes(tree: StateTree, source: TreeNode, t: Transition): TreeNode[] {
  const targets = t.target === undefined ? [] : Array.isArray(t.target) ? t.target : [t.target]
  return targets.flatMap((target) => {
    const r = resolveTarget(tree, source, target)
    return typeof r === 'string' ? [] : [r]
  })
}

/** The states `e` enters: its targets with their ancestors below the domain, and the default entries this implies. */
function entrySet(tree: StateTree, targets: readonly TreeNode[], domain: TreeNode | undefined, out = new Set<TreeNode>()): Set<TreeNode> {
  const enterDefault = (t: TreeNode): void => {
    if (out.has(t)) return
    out.add(t)
    const node = t.node as FlowStateNode
    if (node.type === 'compound') {
      const first = t.children.find((c) => c.key === node.initial)
      if (first) enterDefault(first)
    } else if (node.type === 'parallel') t.children.forEach(enterDefault)
    else if (node.type === 'history') {
      // No history yet: the default target, else the parent's initial child.
      const r = node.target !== undefined ? resolveTarget(tree, t, node.target) : t.parent!.children.find((c) => c.key === t.parent!.node.initial)
      if (r && typeof r !== 'string') entrySet(tree, [r], t.parent, out)
    }
  }
  for (const t of targets) {
    enterDefault(t)
    // Ancestors above the domain stay as they are; a parallel one below it enters its other regions.
    for (let child = t, p = t.parent; p && p !== domain; child = p, p = p.parent) {
      out.add(p)
      if (p.node.type !== 'parallel') continue
      for (const region of p.children) if (region !== child && !targets.some((x) => x === region || isAncestor(region, x))) enterDefault(region)
    }
  }
  return out
}

/** The states some run can enter: the root's default entry, then what every transition of a reached state enters. */
export function reachable(tree: StateTree, es: readonly Edge[] = edges(tree, transitionSites(tree))): Set<TreeNode> {
  const reached = entrySet(tree, [tree.root], undefined)
  for (let size = -1; size !== reached.size; ) {
    size = reached.size
    for (const e of es) if (reached.has(e.source)) for (const t of e.entered) reached.add(t)
  }
  return reached
}

/** The transition domain (xState v5's getTransitionDomain); undefined for the whole machine. */
function domainOf(e: Pick<Edge, 'source' | 'targets' | 'reenter'>): TreeNode | undefined {
  if (!e.reenter && e.targets.every((t) => t === e.source || isAncestor(e.source, t))) return e.source
  // findLeastCommonAncestor: the nearest proper ancestor of the first target holding the rest.
  const rest = [...e.targets.slice(1), e.source]
  let domain = e.targets[0].parent
  while (domain && !rest.every((t) => isAncestor(domain!, t))) domain = domain.parent
  return domain
}

/** Whether `e` exits the active state `x` (it lies below the domain). */
function exits(e: Edge, x: TreeNode): boolean {
  if (e.targets.length === 0) return false
  const domain = domainOf(e)
  return domain === undefined || isAncestor(domain, x)
}

/** Whether `s` is active whenever `x` is: an ancestor of it, or in another region of a parallel state. */
function coactive(s: TreeNode, x: TreeNode): boolean {
  if (s === x || isAncestor(s, x)) return true
  for (let p = x.parent; p; p = p.parent) if (isAncestor(p, s)) return p.node.type === 'parallel'
  return false
}

export function lintReach(tree: StateTree, issues: IssueList): void {
  const sites = transitionSites(tree)
  const es = edges(tree, sites)
  const reached = reachable(tree, es)
  for (const t of tree.nodes) {
    if (!t.parent) continue
    const at = statePath(t)
    if (!reached.has(t)) {
      // Below an unreachable state everything is: name the topmost only.
      if (reached.has(t.parent)) issues.warn('UNREACHABLE', at, 'no initial state or transition leads here: remove the state or add a transition to it')
      continue
    }
    if (t.node.type !== 'atomic') continue
    const out = es.some((e) => reached.has(e.source) && coactive(e.source, t) && exits(e, t) && !e.entered.has(t))
    if (!out) issues.warn('DEAD_END', at, 'a non-final atomic state with no way out: no transition on it, its ancestors or a region beside it leaves it; add one, or write type: "final"')
  }
  for (const t of tree.nodes) {
    t.node.invoke?.forEach((inv, i) => {
      if (inv.onError === undefined) issues.warn('UNHANDLED_ERROR', pathAt(pathAt(statePath(t), 'invoke'), i), `invoke ${JSON.stringify(inv.id)} has no onError: a failed ${inv.src} leaves the run in this state; add onError: [{ "target": … }]`)
    })
  }
}
