/**
 * Lint, authored spellings: what `defineFlowState` accepts but rewrites. Run on the input as
 * written (the canonical form has already forgotten these), after it was defined without
 * errors, so the shape is known to be valid. One canonical shape per pattern: each warning
 * names the spelling the canonical form uses.
 */
import { pathAt, type IssueList } from './issues.js'
import type { FlowStateDocument, FlowStateNode } from './types.js'

type Raw = Record<string, unknown>
const isObject = (x: unknown): x is Raw => typeof x === 'object' && x !== null && !Array.isArray(x)
const show = (x: unknown): string => {
  const s = JSON.stringify(x)
  return s.length > 80 ? `${s.slice(0, 77)}…` : s
}

/** Warn on every authored spelling of `input` that its canonical form `doc` writes otherwise. */
export function lintShape(input: Raw, doc: FlowStateDocument, issues: IssueList): void {
  if (input.flowstate === undefined) issues.warn('SHORTHAND', 'flowstate', 'the format version is implicit: write flowstate: 1')
  if (input.type === undefined) issues.warn('SHORTHAND', 'type', `the root's type is implicit: write type: ${show(doc.type)}`)
  body(input, doc, '', issues)
}

function state(x: unknown, node: FlowStateNode | undefined, at: string, issues: IssueList): void {
  if (!isObject(x) || !node) return
  if (x.type === undefined) issues.warn('SHORTHAND', pathAt(at, 'type'), `the type is implicit: write type: ${show(node.type)}`)
  if (node.type === 'history' && x.history === undefined) issues.warn('SHORTHAND', pathAt(at, 'history'), 'the history kind is implicit: write history: "shallow"')
  if (x.tags !== undefined) list(x.tags, pathAt(at, 'tags'), 'tags', issues)
  body(x, node, at, issues)
}

function body(x: Raw, node: FlowStateNode | FlowStateDocument, at: string, issues: IssueList): void {
  if (isObject(x.states)) for (const [k, s] of Object.entries(x.states)) state(s, node.states?.[k], pathAt(pathAt(at, 'states'), k), issues)
  if (isObject(x.on)) {
    if (Object.keys(x.on).length === 0) issues.warn('REDUNDANT', pathAt(at, 'on'), 'an empty on: remove it')
    for (const [ev, ts] of Object.entries(x.on)) transitions(ts, pathAt(pathAt(at, 'on'), ev), issues)
  }
  transitions(x.onDone, pathAt(at, 'onDone'), issues)
  actions(x.entry, pathAt(at, 'entry'), issues)
  actions(x.exit, pathAt(at, 'exit'), issues)
  if (x.invoke !== undefined) {
    const where = pathAt(at, 'invoke')
    const invokes = list(x.invoke, where, 'invokes', issues)
    invokes.forEach((inv, i) => {
      if (!isObject(inv)) return
      transitions(inv.onDone, pathAt(pathAt(where, i), 'onDone'), issues)
      transitions(inv.onError, pathAt(pathAt(where, i), 'onError'), issues)
    })
  }
}

/** A list field: warns on one item not in a list and on an empty list; gives the items. */
function list(x: unknown, at: string, what: string, issues: IssueList): unknown[] {
  if (!Array.isArray(x)) {
    issues.warn('SHORTHAND', at, `one item not in a list: write ${what} as a list, [${show(x)}]`)
    return [x]
  }
  if (x.length === 0) issues.warn('REDUNDANT', at, `an empty list of ${what}: remove it`)
  return x
}

function transitions(x: unknown, at: string, issues: IssueList): void {
  if (x === undefined) return
  if (typeof x === 'string') return issues.warn('SHORTHAND', at, `a transition written as a target string: write [{ "target": ${show(x)} }]`)
  // A lone transition's own problems are reported at [0], where defineFlowState reports them.
  list(x, at, 'transitions', issues).forEach((t, i) => transition(t, pathAt(at, i), issues))
}

function transition(x: unknown, at: string, issues: IssueList): void {
  if (typeof x === 'string') return issues.warn('SHORTHAND', at, `a transition written as a target string: write { "target": ${show(x)} }`)
  if (!isObject(x)) return
  if (Array.isArray(x.target) && x.target.length === 1) issues.warn('TARGET_SHAPE', pathAt(at, 'target'), `a list of one target: write "target": ${show(x.target[0])}`)
  if (x.reenter === false) issues.warn('REDUNDANT', pathAt(at, 'reenter'), 'reenter: false is the default: remove it')
  actions(x.actions, pathAt(at, 'actions'), issues)
  guardFlags(x.guard, pathAt(at, 'guard'), issues)
}

function actions(x: unknown, at: string, issues: IssueList): void {
  if (x === undefined) return
  list(x, at, 'actions', issues).forEach((a, i) => {
    if (isObject(a) && typeof a.action === 'string' && a.input === undefined) {
      issues.warn('REDUNDANT', pathAt(at, i), `an action without input: write the ref string ${show(a.action)}`)
    }
  })
}

/** `flags: ""` on a `matches` guard, anywhere in the guard tree. */
function guardFlags(g: unknown, at: string, issues: IssueList): void {
  if (!isObject(g)) return
  if (g.type === 'matches' && g.flags === '') issues.warn('REDUNDANT', pathAt(at, 'flags'), 'empty flags: remove them')
  if (Array.isArray(g.guards)) g.guards.forEach((c, i) => guardFlags(c, pathAt(pathAt(at, 'guards'), i), issues))
  guardFlags(g.guard, pathAt(at, 'guard'), issues)
}
