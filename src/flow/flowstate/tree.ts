/**
 * The state tree of a canonical document: every node with its path, and target resolution by
 * xState v5's rules (so a target means the same in FlowState and in the xState config):
 * - `b`, `b.c`: a sibling of the source (a path from the source's parent); not from the root;
 * - `.c`, `.c.d`: a descendant of the source;
 * - `#id`, `#id.c`: the state with that explicit id, then a path from it.
 */
import type { FlowStateDocument, FlowStateNode } from './types.js'

export interface TreeNode {
  readonly key: string
  /** Keys from the root (the root's is []). */
  readonly path: readonly string[]
  readonly node: FlowStateNode | FlowStateDocument
  readonly parent: TreeNode | undefined
  readonly children: readonly TreeNode[]
}

export interface StateTree {
  readonly root: TreeNode
  /** In document order (parents before children, siblings in key order). */
  readonly nodes: readonly TreeNode[]
  readonly byId: ReadonlyMap<string, TreeNode>
}

/** Index a canonical document (keys already sorted). Duplicate explicit ids keep the first. */
export function stateTree(doc: FlowStateDocument): StateTree {
  const nodes: TreeNode[] = []
  const byId = new Map<string, TreeNode>()
  const visit = (key: string, node: FlowStateNode | FlowStateDocument, path: string[], parent: TreeNode | undefined): TreeNode => {
    const children: TreeNode[] = []
    const t: TreeNode = { key, path, node, parent, children }
    nodes.push(t)
    const id = parent ? (node as FlowStateNode).id : undefined
    if (id !== undefined && !byId.has(id)) byId.set(id, t)
    for (const [k, child] of Object.entries(node.states ?? {})) children.push(visit(k, child, [...path, k], t))
    return t
  }
  const root = visit(doc.id, doc, [], undefined)
  return { root, nodes, byId }
}

function walk(from: TreeNode, keys: string[]): TreeNode | string {
  let at = from
  for (const k of keys) {
    const next = at.children.find((c) => c.key === k)
    if (!next) return `${at.parent ? `state ${at.path.join('.')}` : 'the root'} has no child ${JSON.stringify(k)}`
    at = next
  }
  return at
}

/** The node `target` names from `source`, or why it names none. */
export function resolveTarget(tree: StateTree, source: TreeNode, target: string): TreeNode | string {
  if (typeof target !== 'string' || target.length === 0) return 'a target is a non-empty string'
  if (target.startsWith('#')) {
    const [id, ...rest] = target.slice(1).split('.')
    const node = tree.byId.get(id)
    if (!node) return `no state has id ${JSON.stringify(id)}`
    return walk(node, rest)
  }
  if (target.startsWith('.')) return walk(source, target.slice(1).split('.'))
  if (!source.parent) return `${JSON.stringify(target)} is not a target from the root; did you mean ".${target}"?`
  return walk(source.parent, target.split('.'))
}

export function isAncestor(a: TreeNode, b: TreeNode): boolean {
  for (let p = b.parent; p; p = p.parent) if (p === a) return true
  return false
}

/** The nearest common proper ancestor of a and b. */
export function commonAncestor(a: TreeNode, b: TreeNode): TreeNode | undefined {
  for (let p = a.parent; p; p = p.parent) if (p === b || isAncestor(p, b)) return p
  return undefined
}
