/**
 * The meaning checks of `defineFlowState`, run on what the shape pass kept: explicit and invoke
 * ids are unique; every target resolves (xState's rules, `tree.ts`); a transition after an
 * unguarded one, or after one with the same guard, can never be taken (`AMBIGUOUS_TRANSITION`);
 * several targets lie in different regions of one parallel state; a history default lies inside
 * the history's parent; every exposed event is handled somewhere.
 */
import { canonicalJson } from '../canonical-json.js'
import { pathAt, type IssueList } from './issues.js'
import { commonAncestor, isAncestor, resolveTarget, type StateTree, type TreeNode } from './tree.js'
import type { FlowStateDocument, FlowStateNode, Transition } from './types.js'

const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x])


function stateAt(t: TreeNode): string {
  return t.path.map((k) => pathAt('states', k)).join('.')
}

export function checkSemantics(doc: FlowStateDocument, tree: StateTree, issues: IssueList): void {
  const ids = new Map<string, string>()
  const invokeIds = new Map<string, string>()
  const events = new Set<string>()
  for (const t of tree.nodes) {
    const at = stateAt(t)
    const node = t.node as FlowStateNode
    if (t.parent && node.id !== undefined) {
      if (ids.has(node.id)) issues.error('DUPLICATE_ID', pathAt(at, 'id'), `id ${JSON.stringify(node.id)} is also the id of ${ids.get(node.id)}`)
      else ids.set(node.id, at)
    }
    for (const [ev, ts] of Object.entries(t.node.on ?? {})) {
      events.add(ev)
      checkTransitions(tree, t, ts, pathAt(pathAt(at, 'on'), ev), issues)
    }
    if (t.node.onDone) checkTransitions(tree, t, t.node.onDone, pathAt(at, 'onDone'), issues)
    t.node.invoke?.forEach((inv, i) => {
      const where = pathAt(pathAt(at, 'invoke'), i)
      if (invokeIds.has(inv.id)) issues.error('DUPLICATE_ID', pathAt(where, 'id'), `invoke id ${JSON.stringify(inv.id)} is also used at ${invokeIds.get(inv.id)}`)
      else invokeIds.set(inv.id, where)
      if (inv.onDone) checkTransitions(tree, t, inv.onDone, pathAt(where, 'onDone'), issues)
      if (inv.onError) checkTransitions(tree, t, inv.onError, pathAt(where, 'onError'), issues)
    })
    if (node.type === 'history' && node.target !== undefined) {
      const r = resolveTarget(tree, t, node.target)
      if (typeof r === 'string') issues.error('UNKNOWN_TARGET', pathAt(at, 'target'), r)
      else if (!isAncestor(t.parent!, r) || r.node.type === 'history') issues.error('UNKNOWN_TARGET', pathAt(at, 'target'), "a history default is a state inside the history state's parent")
    }
  }
  for (const ev of doc.exposure?.events ?? []) {
    const handled = [...events].some((e) => e === ev || e === '*' || (e.endsWith('.*') && ev.startsWith(e.slice(0, -1))))
    if (!handled) issues.error('UNKNOWN_EVENT', 'exposure.events', `no transition handles the exposed event ${JSON.stringify(ev)}`)
  }
}

function checkTransitions(tree: StateTree, source: TreeNode, ts: Transition[], at: string, issues: IssueList): void {
  const seenGuards = new Set<string>()
  ts.forEach((t, i) => {
    const where = pathAt(at, i)
    const g = t.guard ? canonicalJson(t.guard) : ''
    if (i > 0 && seenGuards.has('')) issues.error('AMBIGUOUS_TRANSITION', where, `this transition can never be taken: an earlier one (${at}[${ts.findIndex((x) => !x.guard)}]) has no guard and is always chosen first`)
    else if (seenGuards.has(g)) issues.error('AMBIGUOUS_TRANSITION', where, 'an earlier transition has the same guard and is always chosen first')
    seenGuards.add(g)
    const targets = list(t.target)
    const resolved: TreeNode[] = []
    targets.forEach((target, j) => {
      const r = resolveTarget(tree, source, target)
      const tat = Array.isArray(t.target) ? pathAt(pathAt(where, 'target'), j) : pathAt(where, 'target')
      if (typeof r === 'string') issues.error('UNKNOWN_TARGET', tat, r)
      else if (!r.parent) issues.error('UNKNOWN_TARGET', tat, 'the root is not a target')
      else resolved.push(r)
    })
    for (let a = 0; a < resolved.length; a++) {
      for (let b = a + 1; b < resolved.length; b++) {
        const [x, y] = [resolved[a], resolved[b]]
        const lca = commonAncestor(x, y)
        if (x === y || isAncestor(x, y) || isAncestor(y, x) || !lca || lca.node.type !== 'parallel') {
          issues.error('CONFLICTING_TARGETS', pathAt(where, 'target'), `${targets[a]} and ${targets[b]} are not in different regions of a parallel state, so both cannot be entered`)
        }
      }
    }
  })
}
