/**
 * FlowState → Mermaid `stateDiagram-v2`, for reading (docs, reviews, `stateflow flow mermaid`).
 * One way only: a diagram drops guards' exact form and bindings.
 *
 * - Each state is `state "<key>" as s<n>` (n in document order, so the text is deterministic);
 *   compound and parallel states are blocks, parallel regions separated by `--`.
 * - `[*] --> initial` in each compound state; a final state gets `--> [*]`; a history state is
 *   drawn as `H` / `H*`.
 * - Transitions are drawn at the top level (the root's own, which apply in any state, as `%%` comments): `a --> b : EVENT [guard] / actions`; invoke
 *   completions are labelled `done: <id>` / `error: <id>`, a state's own completion `done`.
 *   Targetless transitions (actions only) are not drawn.
 * - Invocations are notes: `note right of s<n> : invoke <src>`.
 */
import { toDefinition } from './to-xstate.js'
import { describeGuard } from './guards.js'
import { resolveTarget, stateTree, type TreeNode } from './tree.js'
import type { ActionRef, FlowStateDocument, Transition } from './types.js'
import type { FlowStateDefinition } from './define.js'

const escape = (s: string): string => s.replace(/[#;]/g, (c) => `#${c.charCodeAt(0)};`).replace(/[\r\n]+/g, ' ')
const actionName = (a: ActionRef): string => (typeof a === 'string' ? a : a.action)

/** The Mermaid `stateDiagram-v2` text of a flow. */
export function toMermaid(flow: FlowStateDefinition | FlowStateDocument): string {
  const tree = stateTree(toDefinition(flow).canonical)
  const ids = new Map<TreeNode, string>(tree.nodes.map((t, i) => [t, t.parent ? `s${i}` : '[*]']))
  const lines = ['stateDiagram-v2']
  const block = (t: TreeNode, indent: string): void => {
    const node = t.node
    if (node.type === 'compound' && node.initial !== undefined) {
      const first = t.children.find((c) => c.key === node.initial)
      if (first) lines.push(`${indent}[*] --> ${ids.get(first)}`)
    }
    t.children.forEach((c, i) => {
      if (node.type === 'parallel' && i > 0) lines.push(`${indent}--`)
      const id = ids.get(c)!
      const label = c.node.type === 'history' ? ((c.node as { history?: string }).history === 'deep' ? 'H*' : 'H') : c.key
      lines.push(`${indent}state "${escape(label)}" as ${id}`)
      if (c.children.length > 0) {
        lines.push(`${indent}state ${id} {`)
        block(c, `${indent}  `)
        lines.push(`${indent}}`)
      }
      if (c.node.type === 'final') lines.push(`${indent}${id} --> [*]`)
    })
  }
  block(tree.root, '  ')
  const edge = (source: TreeNode, ts: readonly Transition[] | undefined, label: string): void => {
    for (const t of ts ?? []) {
      if (t.target === undefined) continue
      const parts = [label]
      if (t.guard) parts.push(`[${describeGuard(t.guard)}]`)
      if (t.actions) parts.push(`/ ${t.actions.map(actionName).join(', ')}`)
      for (const target of Array.isArray(t.target) ? t.target : [t.target]) {
        const to = resolveTarget(tree, source, target)
        if (typeof to !== 'string') lines.push(`  ${ids.get(source)} --> ${ids.get(to)} : ${escape(parts.join(' '))}`)
      }
    }
  }
  for (const t of tree.nodes) {
    if (!t.parent) {
      // Root transitions apply in every state; Mermaid has no place for them but a comment.
      for (const [ev, ts] of Object.entries(t.node.on ?? {})) for (const tr of ts) lines.push(`  %% on ${ev} (any state) --> ${[tr.target ?? '(no target)'].flat().join(', ')}`)
      for (const inv of t.node.invoke ?? []) lines.push(`  %% invoke ${inv.src} (while the flow runs)`)
      continue
    }
    for (const [ev, ts] of Object.entries(t.node.on ?? {})) edge(t, ts, ev)
    edge(t, t.node.onDone, 'done')
    for (const inv of t.node.invoke ?? []) {
      edge(t, inv.onDone, `done: ${inv.id}`)
      edge(t, inv.onError, `error: ${inv.id}`)
    }
    if (t.node.type === 'history' && (t.node as { target?: string }).target !== undefined) {
      const to = resolveTarget(tree, t, (t.node as { target: string }).target)
      if (typeof to !== 'string') lines.push(`  ${ids.get(t)} --> ${ids.get(to)}`)
    }
  }
  for (const t of tree.nodes) for (const inv of t.node.invoke ?? []) if (t.parent) lines.push(`  note right of ${ids.get(t)} : invoke ${escape(inv.src)}`)
  return `${lines.join('\n')}\n`
}
