/**
 * FlowState ⇄ W3C SCXML 1.0. `toScxml` writes a document any SCXML tool can read;
 * `fromScxml` reads one back (ours losslessly, others with a warning, at an XML path, for each
 * thing FlowState drops). FlowState → SCXML → FlowState is the identity on canonical JSON.
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
 * - Guards: `cond` in this expression language (the datamodel "flowstate"), one call per guard:
 *
 *       cond  = "true" / "false" / guard           ; true: no guard; false: never taken
 *       guard = "equals(" path "," json ")" / "gt(" path "," number ")" / "lt(" path "," number ")"
 *             / "matches(" path "," string [ "," string ] ")" / "oneOf(" path "," array ")"
 *             / ( "and(" / "or(" ) guard *( "," guard ) ")" / "not(" guard ")"
 *
 *   with `path` as in `types.ts`, `json` RFC 8259 JSON (written in RFC 8785 form), whitespace
 *   allowed between tokens. Anything else (`In('s')`, ECMAScript) is not a FlowState guard: the
 *   transition is dropped with a warning (keeping it unguarded would change what the flow does).
 *
 * Reading other SCXML: ids that are not keys are made into keys (`b1.1` → `b1_1`); targets are
 * written as a sibling key, a `.child` path or `#id` (an explicit id is added where needed); the
 * first child is the default initial state. Event descriptors keep SCXML's prefix meaning
 * (`foo` matches `foo.bar`) by becoming `foo.*`, unless the document is ours (`fs:flowstate`) or
 * `events: 'exact'` is passed. SCXML picks transitions in document order, xState by descriptor
 * specificity: the reader copies transitions between event groups so both pick the same one.
 * Warned and dropped: `<datamodel>` (`CONTEXT`), `<script>`, `<assign>` (`ASSIGN`), `<raise>`,
 * `<send>` (delayed: `AFTER`), `<log>`, `<if>`, `<foreach>`, `<cancel>`, `<finalize>`, invokes
 * of anything but refs (`BAD_REF`), eventless transitions (`ALWAYS`), conds that are not guards
 * (`BAD_GUARD`), deep, multiple or history initial states, transitions that can never be taken
 * (`AMBIGUOUS_TRANSITION`), and parallel regions out of key order (FlowState's document order).
 */
import { canonicalJson } from '../canonical-json.js'
import { checkBindings, parsePath } from './bindings.js'
import { defineFlowState, type FlowStateDefinition, type FlowStateInit, type InvokeInit, type StateInit, type TransitionInit } from './define.js'
import { checkGuard } from './guards.js'
import { FlowStateDefinitionError, IssueList } from './issues.js'
import { toDefinition } from './to-xstate.js'
import { isAncestor, resolveTarget, stateTree, type StateTree, type TreeNode } from './tree.js'
import { FLOWSTATE_VERSION, type ActionRef, type Bindings, type FlowStateDocument, type FlowStateIssue, type FlowStateNode, type Guard, type Invoke, type Json, type StateType, type Transition } from './types.js'
import { attr, elements, escapeAttribute, escapeText, parseXml, textOf, XmlParseError, type XmlElement } from './xml.js'

export const SCXML_NS = 'http://www.w3.org/2005/07/scxml'
/** The namespace of FlowState's own SCXML attributes and elements (prefix `fs`). */
export const FLOWSTATE_NS = 'urn:stateflow:flowstate'
/** `<invoke type>` of an `action:`/`service:` ref. */
export const FLOWSTATE_INVOKE_TYPE = 'urn:stateflow:flowstate:ref'

export interface FromScxmlOptions {
  /** @default the `<scxml name>`, else 'scxml' (with a warning) */
  id?: string
  /** @default `fs:version`, else '0.0.0' (with a warning) */
  version?: string
  /** How a descriptor without a wildcard matches. @default 'exact' for documents `toScxml` wrote, else 'prefix' (SCXML's) */
  events?: 'exact' | 'prefix'
}

export interface FromScxmlResult {
  definition: FlowStateDefinition
  /** What was dropped or changed, each at its XML path (`/scxml/state[@id="a"]/transition[1]`). */
  warnings: FlowStateIssue[]
  /** SCXML state id → FlowState state path (keys joined by `.`), to read configurations back. */
  stateIds: Record<string, string>
}

// ---------------------------------------------------------------------------------------------
// Guards as cond expressions.

/** A guard as a `cond` expression (grammar above). */
export function guardToCond(g: Guard): string {
  switch (g.type) {
    case 'equals':
    case 'gt':
    case 'lt':
      return `${g.type}(${g.path}, ${canonicalJson(g.value)})`
    case 'matches':
      return `matches(${g.path}, ${JSON.stringify(g.pattern)}${g.flags ? `, ${JSON.stringify(g.flags)}` : ''})`
    case 'oneOf':
      return `oneOf(${g.path}, ${canonicalJson(g.values)})`
    case 'and':
    case 'or':
      return `${g.type}(${g.guards.map(guardToCond).join(', ')})`
    case 'not':
      return `not(${guardToCond(g.guard)})`
  }
}

/** A `cond` expression as a guard: `true` (no guard), `false` (never), a guard, or why it is none. */
export function condToGuard(cond: string): Guard | boolean | string {
  const s = cond.trim()
  if (s === 'true' || s === 'false') return s === 'true'
  let pos = 0
  const ws = () => {
    while (/\s/.test(s[pos] ?? '')) pos++
  }
  const expect = (c: string) => {
    ws()
    if (s[pos] !== c) throw new Error(`expected ${c} at ${pos}`)
    pos++
  }
  const path = (): string => {
    ws()
    const m = /^\$(\.[A-Za-z_][A-Za-z0-9_-]*|\[[0-9]+\])+/.exec(s.slice(pos))
    if (!m) throw new Error(`expected a path ($.input…) at ${pos}`)
    pos += m[0].length
    return m[0]
  }
  const json = (): Json => {
    ws()
    const start = pos
    let depth = 0
    do {
      const c = s[pos]
      if (c === undefined) throw new Error('unterminated JSON')
      if (c === '"') {
        pos++
        while (s[pos] !== '"') {
          if (s[pos] === undefined) throw new Error('unterminated string')
          pos += s[pos] === '\\' ? 2 : 1
        }
        pos++
      } else if (c === '[' || c === '{') (depth++, pos++)
      else if (c === ']' || c === '}') (depth--, pos++)
      else if (depth > 0) pos++
      else {
        const m = /^(-?[0-9][0-9.eE+-]*|true|false|null)/.exec(s.slice(pos))
        if (!m) throw new Error(`expected JSON at ${pos}`)
        pos += m[0].length
      }
    } while (depth > 0)
    return JSON.parse(s.slice(start, pos)) as Json
  }
  const guard = (depth: number): Guard => {
    ws()
    const m = /^(equals|gt|lt|matches|oneOf|and|or|not)\(/.exec(s.slice(pos))
    if (!m || depth > 64) throw new Error(`expected a guard (equals, gt, lt, matches, oneOf, and, or, not) at ${pos}`)
    pos += m[0].length
    const type = m[1] as Guard['type']
    let out: Guard
    if (type === 'and' || type === 'or') {
      const guards = [guard(depth + 1)]
      for (ws(); s[pos] === ','; ws()) (pos++, guards.push(guard(depth + 1)))
      out = { type, guards }
    } else if (type === 'not') out = { type, guard: guard(depth + 1) }
    else {
      const p = path()
      expect(',')
      if (type === 'matches') {
        const pattern = json()
        ws()
        const flags = s[pos] === ',' ? (pos++, json()) : undefined
        out = { type, path: p, pattern, ...(flags !== undefined ? { flags } : {}) } as Guard
      } else if (type === 'oneOf') out = { type, path: p, values: json() } as Guard
      else out = { type, path: p, value: json() } as Guard
    }
    expect(')')
    return out
  }
  try {
    const g = guard(0)
    ws()
    if (pos !== s.length) return `unexpected ${JSON.stringify(s.slice(pos, pos + 16))} after the guard`
    const check = new IssueList()
    return checkGuard(g, 'cond', check) ?? (check.items[0]?.message ?? 'not a guard')
  } catch (err) {
    return (err as Error).message
  }
}

// ---------------------------------------------------------------------------------------------
// FlowState → SCXML.

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
const isWildcard = (ev: string): boolean => ev === '*' || ev.endsWith('.*')

/** xState's order of candidates: exact types first, then wildcards, longest first (stable). */
function priorityOrder(events: string[]): string[] {
  return [...events.filter((e) => !isWildcard(e)), ...events.filter(isWildcard).sort((a, b) => b.length - a.length)]
}

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

// ---------------------------------------------------------------------------------------------
// SCXML → FlowState.

const KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/
const EVENT = /^(\*|[A-Za-z0-9_:-]{1,64}(\.[A-Za-z0-9_:-]{1,64})*(\.\*)?)$/
const REF = /^(action|service):/
const STATE_TAGS = new Set(['state', 'parallel', 'final', 'history'])

/** A state being read: shaped like a `TreeNode`, so `resolveTarget` reads `fs:target` against it. */
interface Info {
  key: string
  path: string[]
  node: { id?: string; type: StateType }
  parent: Info | undefined
  children: Info[]
  el: XmlElement
  at: string
  scxmlId: string | undefined
  /** What pass 2 made of it (ids added later for `#id` targets are copied in at the end). */
  init?: StateInit
}

const DROPPED_CONTENT: Record<string, [FlowStateIssue['code'], string]> = {
  raise: ['DROPPED', '<raise>: FlowState actions are action refs; it raises no internal events'],
  send: ['DROPPED', '<send>: FlowState sends no events from actions'],
  assign: ['ASSIGN', '<assign>: FlowState has no datamodel (bind outputs instead)'],
  script: ['DROPPED', '<script>: FlowState runs no scripts'],
  log: ['DROPPED', '<log>: FlowState has no logging action (use an action ref)'],
  if: ['DROPPED', '<if>: FlowState has no conditional actions (guard transitions instead)'],
  foreach: ['DROPPED', '<foreach>: FlowState has no loops in actions'],
  cancel: ['DROPPED', '<cancel>: FlowState has no delayed sends to cancel'],
}

class Reader {
  readonly issues = new IssueList()
  readonly infos: Info[] = []
  readonly byScxmlId = new Map<string, Info>()
  readonly explicitIds = new Map<string, Info>()
  readonly tree: StateTree
  readonly root: Info
  readonly scxmlNs: string | null
  readonly prefixEvents: boolean

  constructor(readonly doc: XmlElement, options: FromScxmlOptions) {
    this.scxmlNs = doc.ns
    const own = attr(doc, 'flowstate', FLOWSTATE_NS)
    if (own !== undefined && own !== String(FLOWSTATE_VERSION)) this.issues.error('INVALID', '/scxml/@fs:flowstate', `this is FlowState format ${FLOWSTATE_VERSION}; got ${JSON.stringify(own)}`)
    this.prefixEvents = (options.events ?? (own !== undefined ? 'exact' : 'prefix')) === 'prefix'
    const at = `/${doc.name}`
    const wrapper = elements(doc).find((e) => this.isScxml(e) && (e.local === 'state' || e.local === 'parallel') && attr(e, 'root', FLOWSTATE_NS) === 'true')
    const rootEl = wrapper ?? doc
    this.root = { key: '', path: [], node: { type: rootEl.local === 'parallel' ? 'parallel' : 'compound' }, parent: undefined, children: [], el: rootEl, at: wrapper ? this.childAt(at, wrapper, 0) : at, scxmlId: wrapper ? attr(wrapper, 'id') : undefined }
    this.infos.push(this.root)
    this.collect(this.root, 0)
    this.tree = { root: this.root, nodes: this.infos, byId: this.explicitIds } as unknown as StateTree
  }

  isScxml = (el: XmlElement): boolean => el.ns === this.scxmlNs
  isOwn = (el: XmlElement): boolean => el.ns === FLOWSTATE_NS

  childAt(base: string, el: XmlElement, index: number): string {
    const id = attr(el, 'id')
    return id !== undefined ? `${base}/${el.name}[@id=${JSON.stringify(id)}]` : `${base}/${el.name}[${index + 1}]`
  }

  /** Every child element with its XML path (`name[n]` counts same-named siblings). */
  children(el: XmlElement, at: string): [XmlElement, string][] {
    const counts = new Map<string, number>()
    return elements(el).map((c) => {
      const n = counts.get(c.name) ?? 0
      counts.set(c.name, n + 1)
      return [c, this.childAt(at, c, n)]
    })
  }

  /** Pass 1: the state tree, keys and ids. */
  collect(info: Info, depth: number): void {
    const keys = new Set<string>()
    for (const [el, at] of this.children(info.el, info.at)) {
      if (!this.isScxml(el) || !STATE_TAGS.has(el.local) || attr(el, 'root', FLOWSTATE_NS) === 'true') continue
      const scxmlId = attr(el, 'id')
      let key = scxmlId === undefined ? `${el.local}_${info.children.length + 1}` : info.scxmlId !== undefined && scxmlId.startsWith(`${info.scxmlId}.`) && KEY.test(scxmlId.slice(info.scxmlId.length + 1)) ? scxmlId.slice(info.scxmlId.length + 1) : scxmlId
      if (!KEY.test(key)) key = (/^[A-Za-z_]/.test(key) ? key : `_${key}`).replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 60)
      for (let base = key, n = 2; keys.has(key); n++) key = `${base}_${n}`
      keys.add(key)
      const hasStates = elements(el).some((c) => this.isScxml(c) && STATE_TAGS.has(c.local) && c.local !== 'history')
      const type: StateType = el.local === 'state' ? (hasStates ? 'compound' : 'atomic') : (el.local as StateType)
      const child: Info = { key, path: [...info.path, key], node: { type }, parent: info, children: [], el, at, scxmlId }
      if (scxmlId !== undefined) {
        if (this.byScxmlId.has(scxmlId)) this.issues.error('DUPLICATE_ID', `${at}/@id`, `the SCXML id ${JSON.stringify(scxmlId)} is used twice`)
        this.byScxmlId.set(scxmlId, child)
      }
      const fsId = attr(el, 'id', FLOWSTATE_NS)
      if (fsId !== undefined) {
        child.node.id = fsId
        if (!this.explicitIds.has(fsId)) this.explicitIds.set(fsId, child)
      }
      info.children.push(child)
      this.infos.push(child)
      if (depth < 64) this.collect(child, depth + 1)
    }
  }

  /** An explicit id for `t`, added when a target needs `#id`. */
  explicitId(t: Info): string {
    if (t.node.id !== undefined) return t.node.id
    let id = t.key
    for (let n = 2; this.explicitIds.has(id); n++) id = `${t.key}_${n}`
    t.node.id = id
    this.explicitIds.set(id, t)
    return id
  }

  /** How FlowState spells a target: a sibling key, a `.child` path, or `#id`. */
  spell(source: Info, t: Info): string {
    if (source.parent && t.parent === source.parent) return t.key
    if (isAncestor(source as unknown as TreeNode, t as unknown as TreeNode)) return `.${t.path.slice(source.path.length).join('.')}`
    return `#${this.explicitId(t)}`
  }

  /** The states `target` names (SCXML ids), or undefined after an error. */
  targets(value: string | undefined, at: string): Info[] | undefined {
    if (value === undefined) return []
    const out: Info[] = []
    for (const id of value.trim().split(/\s+/).filter(Boolean)) {
      const t = this.byScxmlId.get(id)
      if (!t) return void this.issues.error('UNKNOWN_TARGET', at, `no state has the id ${JSON.stringify(id)}`)
      out.push(t)
    }
    return out
  }

  /** The FlowState spelling of a target attribute: `fs:target` when it names the same states. */
  spellTargets(source: Info, el: XmlElement, at: string): string[] | undefined {
    const resolved = this.targets(attr(el, 'target'), `${at}/@target`)
    if (!resolved) return undefined
    const own = attr(el, 'target', FLOWSTATE_NS)?.trim().split(/\s+/)
    if (own && own.length === resolved.length && own.every((s, i) => resolveTarget(this.tree, source as unknown as TreeNode, s) === (resolved[i] as unknown as TreeNode))) return own
    if (own) this.issues.warn('INVALID', `${at}/@fs:target`, 'fs:target does not name the states target names; used target')
    return resolved.map((t) => this.spell(source, t))
  }

  unknown(el: XmlElement, at: string, where: string): void {
    const d = this.isScxml(el) ? DROPPED_CONTENT[el.local] : undefined
    if (d && el.local === 'send' && (attr(el, 'delay') !== undefined || attr(el, 'delayexpr') !== undefined)) this.issues.warn('AFTER', at, '<send delay>: FlowState has no delayed events (invoke service:timer@^1)')
    else if (d) this.issues.warn(d[0], at, `${d[1]}; dropped`)
    else if (this.isScxml(el) && el.local === 'datamodel') this.issues.warn('CONTEXT', at, '<datamodel>: FlowState has no mutable context (read $.input, $.event, $.output); dropped')
    else this.issues.warn('DROPPED', at, `<${el.name}> is not part of FlowState ${where}; dropped`)
  }

  actions(el: XmlElement, at: string): ActionRef[] {
    const out: ActionRef[] = []
    for (const [c, cat] of this.children(el, at)) {
      if (!(this.isOwn(c) && c.local === 'action')) {
        this.unknown(c, cat, 'executable content')
        continue
      }
      const ref = attr(c, 'ref')
      if (ref === undefined) {
        this.issues.warn('BAD_REF', cat, '<fs:action> without ref; dropped')
        continue
      }
      const input = elements(c).length > 0 ? this.bindings(c, cat) : undefined
      out.push(input === undefined ? ref : { action: ref, input })
    }
    return out
  }

  bindings(el: XmlElement, at: string): Bindings | undefined {
    let out: Record<string, string | { const: Json }> | string | undefined
    for (const [c, cat] of this.children(el, at)) {
      if (this.isScxml(c) && c.local === 'content') {
        const expr = attr(c, 'expr')
        if (expr === '{}') out = {}
        else if (expr !== undefined && typeof parsePath(expr) !== 'string') out = expr
        else this.issues.warn('DROPPED', cat, '<content> is a run-state path ($.input…) or {} in FlowState; dropped')
      } else if (this.isScxml(c) && c.local === 'param') {
        const name = attr(c, 'name')
        const location = attr(c, 'location')
        const expr = attr(c, 'expr')
        let value: string | { const: Json } | undefined
        if (location !== undefined && typeof parsePath(location) !== 'string') value = location
        else if (location === undefined && expr !== undefined) {
          try {
            value = { const: JSON.parse(expr) as Json }
          } catch {}
        }
        if (name === undefined || value === undefined) this.issues.warn('DROPPED', cat, '<param> needs a name and a location that is a run-state path or an expr that is JSON; dropped')
        else if (typeof out === 'string') this.issues.warn('DROPPED', cat, '<param> beside <content>; dropped')
        else {
          const fields: Record<string, string | { const: Json }> = out ?? {}
          fields[name] = value
          out = fields
        }
      } else if (!(this.isOwn(c) && c.local === 'idempotencyKey') && !(this.isScxml(c) && c.local === 'finalize')) this.unknown(c, cat, 'here')
    }
    const check = new IssueList()
    if (out !== undefined && !checkBindings(out, at, check)) {
      this.issues.warn('DROPPED', at, `not FlowState bindings (${check.items[0]?.message}); dropped`)
      return undefined
    }
    return out
  }

  json(text: string | undefined, at: string): Json | undefined {
    if (text === undefined) return undefined
    try {
      return JSON.parse(text) as Json
    } catch {
      this.issues.error('INVALID', at, 'not JSON')
      return undefined
    }
  }

  /** Pass 2: one state (or the root's body). */
  state(info: Info): StateInit {
    const el = info.el
    const out: StateInit = {}
    info.init = out
    const isRoot = info === this.root
    if (!isRoot) {
      out.type = info.node.type
      if (info.node.id !== undefined) out.id = info.node.id
    }
    const description = attr(el, 'description', FLOWSTATE_NS)
    if (description !== undefined && el !== this.doc) out.description = description
    const tags = attr(el, 'tags', FLOWSTATE_NS)
    if (tags !== undefined) out.tags = tags.startsWith('[') ? (this.json(tags, `${info.at}/@fs:tags`) as string[]) : tags.trim().split(/\s+/)
    if (info.node.type === 'history') return this.history(info, out)
    if (info.node.type === 'compound') out.initial = this.initial(info)
    const transitions: Pending[] = []
    const invokes: InvokeInit[] = []
    const entry: ActionRef[] = []
    const exit: ActionRef[] = []
    const kids = this.children(el, info.at)
    for (const [c, cat] of kids) if (this.isScxml(c) && c.local === 'invoke') this.invoke(c, cat, info, invokes)
    for (const [c, cat] of kids) {
      if (this.isScxml(c)) {
        if (STATE_TAGS.has(c.local) || c.local === 'invoke' || (c.local === 'initial' && info.node.type === 'compound')) continue
        if (c.local === 'onentry' || c.local === 'onexit') {
          ;(c.local === 'onentry' ? entry : exit).push(...this.actions(c, cat))
          continue
        }
        if (c.local === 'transition' && info.node.type !== 'final') {
          if (attr(c, 'root', FLOWSTATE_NS) === 'true') continue
          this.transition(c, cat, info, invokes, transitions)
          continue
        }
        if (c.local === 'donedata' && info.node.type === 'final') {
          out.output = this.bindings(c, cat) ?? {}
          continue
        }
      }
      if (this.isOwn(c) && el === this.doc && ['exposure', 'inputSchema', 'outputSchema'].includes(c.local)) continue
      if (attr(c, 'root', FLOWSTATE_NS) === 'true' && el === this.doc) continue
      this.unknown(c, cat, `in <${el.local}>`)
    }
    if (entry.length > 0) out.entry = entry
    if (exit.length > 0) out.exit = exit
    if (invokes.length > 0) out.invoke = invokes
    this.group(out, transitions, invokes)
    if (info.children.length > 0) {
      out.states = {}
      for (const c of info.children) out.states[c.key] = this.state(c)
      if (info.node.type === 'parallel') {
        const keys = info.children.map((c) => c.key)
        if (keys.join('\n') !== [...keys].sort().join('\n')) this.issues.warn('DROPPED', info.at, `FlowState runs parallel regions in key order (${[...keys].sort().join(', ')}), not document order (${keys.join(', ')})`)
      }
    }
    return out
  }

  history(info: Info, out: StateInit): StateInit {
    const type = attr(info.el, 'type')
    if (type !== undefined && type !== 'shallow' && type !== 'deep') this.issues.error('INVALID', `${info.at}/@type`, 'history type is shallow or deep')
    out.history = type === 'deep' ? 'deep' : 'shallow'
    for (const [c, cat] of this.children(info.el, info.at)) {
      if (this.isScxml(c) && c.local === 'transition') {
        if (elements(c).length > 0) this.issues.warn('DROPPED', cat, 'a history default transition has no actions in FlowState; dropped')
        const targets = this.spellTargets(info, c, cat)
        if (targets && targets.length === 1) out.target = targets[0]
        else if (targets) this.issues.warn('DROPPED', cat, 'a history default is one state in FlowState; dropped')
      } else this.unknown(c, cat, 'in <history>')
    }
    return out
  }

  initial(info: Info): string | undefined {
    const el = info.el
    let named = attr(el, 'initial')
    let at = `${info.at}/@initial`
    const initialEl = this.children(el, info.at).find(([c]) => this.isScxml(c) && c.local === 'initial')
    if (named === undefined && initialEl) {
      const tr = this.children(initialEl[0], initialEl[1]).find(([c]) => this.isScxml(c) && c.local === 'transition')
      if (tr && elements(tr[0]).length > 0) this.issues.warn('DROPPED', tr[1], 'an initial transition has no actions in FlowState; dropped')
      named = tr && attr(tr[0], 'target')
      at = tr ? `${tr[1]}/@target` : initialEl[1]
    }
    if (named === undefined) return info.children.find((c) => c.node.type !== 'history')?.key
    const targets = this.targets(named, at)
    if (!targets || targets.length === 0) return info.children[0]?.key
    if (targets.length > 1) this.issues.warn('DROPPED', at, 'FlowState has one initial child; used the first')
    let t: Info | undefined = targets[0]
    if (t.node.type === 'history') {
      const fallback = this.children(t.el, t.at).map(([c]) => attr(c, 'target')).find((x) => x !== undefined)
      this.issues.warn('DROPPED', at, `FlowState's initial may not be a history state: entered ${fallback ?? 'the first child'} instead, whatever the history holds`)
      t = (fallback !== undefined ? this.byScxmlId.get(fallback.trim().split(/\s+/)[0]) : undefined) ?? info.children.find((c) => c.node.type !== 'history')
    }
    while (t && t.parent !== info) t = t.parent
    if (!t) {
      this.issues.error('UNKNOWN_TARGET', at, `${JSON.stringify(named)} is not inside this state`)
      return undefined
    }
    if (t !== targets[0] && targets[0].node.type !== 'history') this.issues.warn('DROPPED', at, `FlowState's initial is a child: entered ${t.key} at its own initial state, not ${JSON.stringify(targets[0].scxmlId)}`)
    return t.key
  }

  invoke(el: XmlElement, at: string, info: Info, out: InvokeInit[]): void {
    const src = attr(el, 'src')
    const type = attr(el, 'type')
    if (src === undefined || !REF.test(src) || (type !== undefined && type !== FLOWSTATE_INVOKE_TYPE)) {
      return this.issues.warn('BAD_REF', at, `FlowState invokes action:<id>@<range> refs (type ${FLOWSTATE_INVOKE_TYPE}), not ${JSON.stringify(src ?? attr(el, 'srcexpr') ?? type ?? '(nothing)')}; the invoke and its done/error transitions are dropped`)
    }
    let id = attr(el, 'id')
    if (id === undefined) {
      id = out.length === 0 ? info.key || 'invoke' : `${info.key || 'invoke'}_${out.length}`
      this.issues.warn('INVALID', at, `no id: used ${JSON.stringify(id)}`)
    }
    const inv: InvokeInit = { id, src }
    const input = this.bindings(el, at)
    if (input !== undefined) inv.input = input
    for (const k of ['claim', 'placement'] as const) {
      const v = this.json(attr(el, k, FLOWSTATE_NS), `${at}/@fs:${k}`)
      if (v !== undefined) inv[k] = v as never
    }
    for (const [c, cat] of this.children(el, at)) {
      if (this.isOwn(c) && c.local === 'idempotencyKey') {
        const key = this.bindings(c, cat)
        if (key !== undefined) inv.idempotencyKey = key
      } else if (this.isScxml(c) && c.local === 'finalize') this.issues.warn('DROPPED', cat, '<finalize>: FlowState binds outputs ($.output.<id>) instead; dropped')
    }
    for (const a of ['autoforward', 'namelist', 'idlocation', 'srcexpr', 'typeexpr']) if (attr(el, a) !== undefined) this.issues.warn('DROPPED', `${at}/@${a}`, `${a} is not part of FlowState; dropped`)
    out.push(inv)
  }

  transition(el: XmlElement, at: string, info: Info, invokes: InvokeInit[], out: Pending[]): void {
    const event = attr(el, 'event')?.trim()
    if (!event) return this.issues.warn('ALWAYS', at, 'an eventless transition: FlowState has no eventless transitions; dropped')
    const t: Exclude<TransitionInit, string> = {}
    const cond = attr(el, 'cond')
    if (cond !== undefined) {
      const g = condToGuard(cond)
      if (g === false) return this.issues.warn('DROPPED', `${at}/@cond`, 'cond is false: the transition is never taken; dropped')
      if (typeof g === 'string') return this.issues.warn('BAD_GUARD', `${at}/@cond`, `the transition is dropped: its cond ${JSON.stringify(cond.slice(0, 64))} is not a FlowState guard (${g})`)
      if (g !== true) t.guard = g
    }
    const targets = this.spellTargets(info, el, at)
    if (!targets) return
    if (targets.length > 0) t.target = targets.length === 1 ? targets[0] : targets
    const type = attr(el, 'type')
    const resolved = this.targets(attr(el, 'target'), `${at}/@target`) ?? []
    const inside = resolved.length > 0 && resolved.every((r) => r === info || isAncestor(info as unknown as TreeNode, r as unknown as TreeNode))
    if (type !== undefined && type !== 'internal' && type !== 'external') this.issues.error('INVALID', `${at}/@type`, 'type is internal or external')
    if (type === 'external' || (type === undefined && inside)) t.reenter = true
    const actions = this.actions(el, at)
    if (actions.length > 0) t.actions = actions
    const description = attr(el, 'description', FLOWSTATE_NS)
    if (description !== undefined) t.description = description
    for (const d of event.split(/\s+/)) {
      const done = /^(done|error)\.invoke\.(.+)$/.exec(d)
      if (d === `done.state.${info.scxmlId}` && info !== this.root && (info.node.type === 'compound' || info.node.type === 'parallel')) out.push({ key: null, kind: 'onDone', t, at })
      else if (done && invokes.some((i) => i.id === done[2])) out.push({ key: null, kind: done[1] === 'done' ? 'onDone' : 'onError', invoke: done[2], t, at })
      else if (/^(done|error)(\.|$)/.test(d)) this.issues.warn('DROPPED', `${at}/@event`, `${d}: FlowState raises done and error events only for a state's own onDone and its invokes; dropped`)
      else if (!EVENT.test(d) || d.startsWith('xstate.')) this.issues.warn('INVALID', `${at}/@event`, `${JSON.stringify(d)} is not a FlowState event type; dropped`)
      else out.push({ key: this.prefixEvents && !isWildcard(d) ? `${d}.*` : d, t, at })
    }
  }

  /**
   * Group transitions by event type, keeping SCXML's choice: SCXML takes the first enabled
   * transition in document order whose descriptor matches; xState tries the exact type's group,
   * then the wildcard groups that cover it (`foo.*`, `*`), longest first. So a group also gets, in
   * document order, the transitions of the descriptors that cover it, except for a trailing run
   * xState would try next anyway (which keeps a document `toScxml` wrote exactly as it was).
   * A transition after an unguarded one, or one with the same guard, is never taken: dropped.
   */
  group(out: StateInit, list: Pending[], invokes: InvokeInit[]): void {
    const nameOf = (x: Pending) => x.key ?? `${x.kind}:${x.invoke ?? ''}`
    const names = [...new Set(list.map(nameOf))]
    const keys = priorityOrder(names.filter((n) => !n.includes(':')).sort())
    const groups = new Map<string, Pending[]>()
    for (const name of [...keys].reverse().concat(names.filter((n) => n.includes(':')))) {
      const full: Pending[] = []
      for (const x of list) {
        if (nameOf(x) !== name && !(x.key !== null && !name.includes(':') && covers(x.key, name))) continue
        if (!full.some((y) => y.t === x.t)) full.push(x)
      }
      // What xState tries after this group: the covering groups, in its order.
      const after = keys.filter((k) => k !== name && !name.includes(':') && covers(k, name)).flatMap((k) => groups.get(k) ?? [])
      let keep = full.length
      for (let i = full.length - 1; i >= 0 && nameOf(full[i]) !== name; i--) {
        const rest = after.filter((y) => !full.slice(0, i).some((z) => z.t === y.t)).filter((y, j, all) => all.findIndex((z) => z.t === y.t) === j)
        if (full.slice(i).every((y, j) => rest[j]?.t === y.t)) keep = i
      }
      const g: Pending[] = []
      for (const x of full.slice(0, keep)) {
        const shadow = g.find((y) => y.t.guard === undefined || (x.t.guard !== undefined && canonicalJson(y.t.guard) === canonicalJson(x.t.guard)))
        if (!shadow) g.push(x)
        else if (nameOf(x) === name) this.issues.warn('AMBIGUOUS_TRANSITION', x.at, `never taken for ${x.key ?? x.kind}: the earlier transition at ${shadow.at} is always chosen first; dropped`)
      }
      groups.set(name, g)
    }
    for (const name of names) {
      const ts = groups.get(name)!.map((x) => x.t)
      if (name.startsWith('onDone:') && name !== 'onDone:') invokes.find((i) => i.id === name.slice(7))!.onDone = ts
      else if (name.startsWith('onError:')) invokes.find((i) => i.id === name.slice(8))!.onError = ts
      else if (name === 'onDone:') out.onDone = ts
      else if (ts.length > 0) (out.on ??= {})[name] = ts
    }
  }
}

type Pending = { key: string | null; t: Exclude<TransitionInit, string>; at: string; kind?: 'onDone' | 'onError'; invoke?: string }

/** Whether descriptor `d` matches every event type `k` matches. */
function covers(d: string, k: string): boolean {
  if (d === k || d === '*') return true
  if (!isWildcard(d)) return false
  const p = d.slice(0, -2)
  return k === p || k.startsWith(`${p}.`)
}

/** Read an SCXML document as a FlowState flow; throws `FlowStateDefinitionError` when it is not XML or what is left is not a valid flow. */
export function fromScxml(text: string, options: FromScxmlOptions = {}): FromScxmlResult {
  let doc: XmlElement
  try {
    doc = parseXml(text)
  } catch (err) {
    if (!(err instanceof XmlParseError)) throw err
    throw new FlowStateDefinitionError(options.id ?? '(scxml)', [{ code: err.code, severity: 'error', path: `line ${err.line}, column ${err.column}`, message: err.message }])
  }
  if (doc.local !== 'scxml' || (doc.ns !== SCXML_NS && doc.ns !== null)) {
    throw new FlowStateDefinitionError(options.id ?? '(scxml)', [{ code: 'INVALID', severity: 'error', path: `/${doc.name}`, message: `the root element is <scxml> in ${SCXML_NS}` }])
  }
  const r = new Reader(doc, options)
  const init = r.state(r.root) as FlowStateInit
  delete (init as StateInit).type
  init.id = options.id ?? attr(doc, 'name') ?? (r.issues.warn('INVALID', '/scxml/@name', 'no name: used "scxml"'), 'scxml')
  init.version = options.version ?? attr(doc, 'version', FLOWSTATE_NS) ?? (r.issues.warn('INVALID', '/scxml/@fs:version', 'no fs:version: used 0.0.0'), '0.0.0')
  if (r.root.node.type === 'parallel') init.type = 'parallel'
  const description = attr(doc, 'description', FLOWSTATE_NS)
  if (description !== undefined) init.description = description
  for (const el of elements(doc).filter(r.isOwn)) {
    const at = `/scxml/${el.name}`
    if (el.local === 'exposure') {
      const events = attr(el, 'events')
      init.exposure = events === undefined ? {} : { events: events.trim().split(/\s+/).filter(Boolean) }
    } else if (el.local === 'inputSchema' || el.local === 'outputSchema') {
      const schema = r.json(textOf(el), at)
      if (schema !== undefined) init[el.local] = schema
    }
  }
  if (r.issues.errors.length > 0) throw new FlowStateDefinitionError(init.id, r.issues.errors)
  for (const info of r.infos) if (info !== r.root && info.node.id !== undefined) info.init!.id = info.node.id
  const definition = defineFlowState(init)
  const stateIds: Record<string, string> = {}
  for (const info of r.infos) if (info.scxmlId !== undefined && info !== r.root) stateIds[info.scxmlId] = info.path.join('.')
  return { definition, warnings: r.issues.warnings, stateIds }
}
