/**
 * FlowState → W3C SCXML 1.0: `toScxml` writes a document any SCXML tool can read, and `fromScxml`
 * (`scxml-read.ts`) reads it back losslessly.
 *
 * How FlowState maps (namespace `fs` = `urn:stateflow:flowstate`):
 * - States: `<state>`, `<parallel>`, `<final>`, `<history type="shallow|deep">`; the SCXML `id`
 *   is the state's key path (`on.busy.deep`), read back as the key after the parent's id and a
 *   dot. An explicit FlowState id is `fs:id`; `description` `fs:description`; `tags` `fs:tags`
 *   (space-separated, or a JSON array when a tag has whitespace). `initial` names the child's id.
 * - The root is `<scxml name=id fs:version fs:flowstate="1" datamodel="flowstate">`, with
 *   `<fs:exposure events="…"/>`, `<fs:inputSchema>`/`<fs:outputSchema>` (JSON text). A root with
 *   `on`, `entry`, `exit` or `invoke`, or of type parallel, is one `<state|parallel fs:root="true">`
 *   under `<scxml>` (SCXML's root can hold none of those), plus a top-level `<final fs:root>` its
 *   `done.state.<root>` leads to, so SCXML engines still terminate when the flow completes.
 * - Transitions: `<transition event cond target type>`; `target` holds the SCXML ids it resolves
 *   to, `fs:target` the FlowState spelling (`.off`, `#powered.idle`), used when it resolves to the
 *   same states. `reenter` is `type`: SCXML's default (external) re-enters a source whose targets
 *   are itself or its descendants, as `reenter: true` does; `type="internal"` is `reenter: false`
 *   there, and `type="external"` marks `reenter: true` where it would not matter.
 *   Event groups are written in xState's priority order (exact types, then wildcards longest
 *   first) so SCXML's document order picks what xState picks. State `onDone` is a transition on
 *   `done.state.<own id>`; an invoke's `onDone`/`onError` are `done.invoke.<id>`/`error.invoke.<id>`.
 * - Actions: `<fs:action ref="action:x@^1"/>` in `<onentry>`, `<onexit>`, `<transition>`.
 *   Bindings (action input, invoke input, final output in `<donedata>`, `<fs:idempotencyKey>`):
 *   a path is `<content expr="$.input"/>`; an object `<param name location="$.path"/>` or
 *   `<param name expr="<JSON>"/>` per field (`{}` is `<content expr="{}"/>`).
 * - Invokes: `<invoke id type="urn:stateflow:flowstate:ref" src="action:…@…" fs:claim fs:placement>`
 *   (claim and placement as JSON).
 * - Guards: `cond` in the expression language of `scxml-cond.ts` (the datamodel "flowstate").
 */
import { canonicalJson } from '../canonical-json.js'
import type { FlowStateDefinition } from './define.js'
import { guardToCond } from './scxml-cond.js'
import { isWildcard, priorityOrder } from './scxml-events.js'
import { FLOWSTATE_INVOKE_TYPE, FLOWSTATE_NS, SCXML_NS } from './scxml-ns.js'
import { toDefinition } from './to-xstate.js'
import { isAncestor, resolveTarget, stateTree, type TreeNode } from './tree.js'
import type { ActionRef, Bindings, FlowStateDocument, FlowStateNode, Invoke, Transition } from './types.js'
import { escapeAttribute, escapeText } from './xml.js'

const quote = (v: string): string => (v.includes('"') && !v.includes("'") ? `'${escapeAttribute(v).replaceAll('&quot;', '"')}'` : `"${escapeAttribute(v)}"`)
type Attrs = [string, string | undefined][]

function tag(depth: number, name: string, attrs: Attrs, body: string[] = []): string[] {
  const pad = '  '.repeat(depth)
  const a = attrs.flatMap(([k, v]) => (v === undefined ? [] : [` ${k}=${quote(v)}`])).join('')
  return body.length === 0 ? [`${pad}<${name}${a}/>`] : [`${pad}<${name}${a}>`, ...body, `${pad}</${name}>`]
}

function bindingTags(depth: number, b: Bindings): string[] {
  if (typeof b === 'string') return tag(depth, 'content', [['expr', b]])
  const fields = Object.entries(b)
  if (fields.length === 0) return tag(depth, 'content', [['expr', '{}']])
  return fields.flatMap(([name, v]) => tag(depth, 'param', [['name', name], typeof v === 'string' ? ['location', v] : ['expr', canonicalJson(v.const)]]))
}

const actionTags = (depth: number, actions: ActionRef[] = []): string[] =>
  actions.flatMap((a) => (typeof a === 'string' ? tag(depth, 'fs:action', [['ref', a]]) : tag(depth, 'fs:action', [['ref', a.action]], bindingTags(depth + 1, a.input!))))

const tagsAttr = (tags: string[] | undefined): string | undefined => (tags === undefined ? undefined : tags.some((t) => /\s/.test(t) || t.startsWith('[')) ? JSON.stringify(tags) : tags.join(' '))

/** The SCXML 1.0 text of a flow (defined first if it is a plain document). */
export function toScxml(flow: FlowStateDefinition | FlowStateDocument): string {
  const doc = toDefinition(flow).canonical
  const tree = stateTree(doc)
  const ids = new Map<TreeNode, string>()
  for (const t of tree.nodes) if (t.parent) ids.set(t, t.path.join('.'))
  const wrap = doc.type === 'parallel' || doc.on !== undefined || doc.entry !== undefined || doc.exit !== undefined || doc.invoke !== undefined
  const taken = new Set(ids.values())
  let rootId = '_root'
  while (taken.has(rootId) || taken.has(`${rootId}.done`)) rootId += '_'
  ids.set(tree.root, rootId)

  const transition = (depth: number, source: TreeNode, event: string | undefined, t: Transition): string[] => {
    const targets = t.target === undefined ? [] : Array.isArray(t.target) ? t.target : [t.target]
    const resolved = targets.map((x) => resolveTarget(tree, source, x) as TreeNode)
    const inside = resolved.length > 0 && resolved.every((r) => r === source || isAncestor(source, r))
    const type = t.reenter ? (inside ? undefined : 'external') : inside ? 'internal' : undefined
    return tag(
      depth,
      'transition',
      [
        ['event', event],
        ['cond', t.guard && guardToCond(t.guard)],
        ['target', resolved.length > 0 ? resolved.map((r) => ids.get(r)!).join(' ') : undefined],
        ['type', type],
        ['fs:target', targets.length > 0 ? targets.join(' ') : undefined],
        ['fs:description', t.description],
      ],
      actionTags(depth + 1, t.actions),
    )
  }
  const body = (t: TreeNode, depth: number): string[] => {
    const n = t.node as FlowStateNode
    const out: string[] = []
    if (n.type === 'history' && n.target !== undefined) {
      const to = resolveTarget(tree, t, n.target) as TreeNode
      out.push(...tag(depth, 'transition', [['target', ids.get(to)], ['fs:target', n.target]]))
    }
    if (n.entry) out.push(...tag(depth, 'onentry', [], actionTags(depth + 1, n.entry)))
    if (n.exit) out.push(...tag(depth, 'onexit', [], actionTags(depth + 1, n.exit)))
    const on = n.on ?? {}
    const events = priorityOrder(Object.keys(on))
    for (const ev of events.filter((e) => !isWildcard(e))) for (const tr of on[ev]) out.push(...transition(depth, t, ev, tr))
    for (const tr of n.onDone ?? []) out.push(...transition(depth, t, `done.state.${ids.get(t)}`, tr))
    for (const inv of n.invoke ?? []) out.push(...invokeTags(depth, t, inv))
    for (const ev of events.filter(isWildcard)) for (const tr of on[ev]) out.push(...transition(depth, t, ev, tr))
    if (n.type === 'final' && n.output !== undefined) out.push(...tag(depth, 'donedata', [], bindingTags(depth + 1, n.output)))
    for (const c of t.children) out.push(...state(c, depth))
    return out
  }
  const invokeTags = (depth: number, t: TreeNode, inv: Invoke): string[] => {
    const inner = inv.input !== undefined ? bindingTags(depth + 1, inv.input) : []
    if (inv.idempotencyKey !== undefined) inner.push(...tag(depth + 1, 'fs:idempotencyKey', [], bindingTags(depth + 2, inv.idempotencyKey)))
    return [
      ...tag(
        depth,
        'invoke',
        [
          ['id', inv.id],
          ['type', FLOWSTATE_INVOKE_TYPE],
          ['src', inv.src],
          ['fs:claim', inv.claim && canonicalJson(inv.claim)],
          ['fs:placement', inv.placement && canonicalJson(inv.placement)],
        ],
        inner,
      ),
      ...(inv.onDone ?? []).flatMap((tr) => transition(depth, t, `done.invoke.${inv.id}`, tr)),
      ...(inv.onError ?? []).flatMap((tr) => transition(depth, t, `error.invoke.${inv.id}`, tr)),
    ]
  }
  const initialId = (t: TreeNode): string | undefined => {
    const initial = (t.node as FlowStateNode).initial
    return initial === undefined ? undefined : ids.get(t.children.find((c) => c.key === initial)!)
  }
  const state = (t: TreeNode, depth: number): string[] => {
    const n = t.node as FlowStateNode
    const name = n.type === 'atomic' || n.type === 'compound' ? 'state' : n.type
    return tag(
      depth,
      name,
      [
        ['id', ids.get(t)],
        ['initial', initialId(t)],
        ['type', n.history],
        ['fs:id', n.id],
        ['fs:description', n.description],
        ['fs:tags', tagsAttr(n.tags)],
      ],
      body(t, depth + 1),
    )
  }

  const top: string[] = []
  if (doc.exposure) top.push(...tag(1, 'fs:exposure', [['events', doc.exposure.events?.join(' ')]]))
  if (doc.inputSchema !== undefined) top.push(`  <fs:inputSchema>${escapeText(canonicalJson(doc.inputSchema))}</fs:inputSchema>`)
  if (doc.outputSchema !== undefined) top.push(`  <fs:outputSchema>${escapeText(canonicalJson(doc.outputSchema))}</fs:outputSchema>`)
  if (wrap) {
    const inner = body(tree.root, 2)
    inner.unshift(...tag(2, 'transition', [['event', `done.state.${rootId}`], ['target', `${rootId}.done`], ['fs:root', 'true']]))
    top.push(...tag(1, doc.type === 'parallel' ? 'parallel' : 'state', [['id', rootId], ['initial', initialId(tree.root)], ['fs:root', 'true']], inner))
    top.push(...tag(1, 'final', [['id', `${rootId}.done`], ['fs:root', 'true']]))
  } else top.push(...body(tree.root, 1))
  const root = tag(
    0,
    'scxml',
    [
      ['xmlns', SCXML_NS],
      ['xmlns:fs', FLOWSTATE_NS],
      ['version', '1.0'],
      ['datamodel', 'flowstate'],
      ['name', doc.id],
      ['initial', wrap ? rootId : initialId(tree.root)],
      ['fs:flowstate', String(doc.flowstate)],
      ['fs:version', doc.version],
      ['fs:description', doc.description],
    ],
    top,
  )
  return `<?xml version="1.0" encoding="UTF-8"?>\n${root.join('\n')}\n`
}
