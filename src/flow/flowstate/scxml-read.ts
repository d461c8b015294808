/**
 * SCXML → FlowState: `fromScxml` reads a document back (ours, as `scxml-write.ts` maps it,
 * losslessly; others with a warning, at an XML path, for each thing FlowState drops).
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
import { checkBindings, parsePath } from './bindings.js'
import { defineFlowState, type FlowStateDefinition, type FlowStateInit, type InvokeInit, type StateInit, type TransitionInit } from './define.js'
import { FlowStateDefinitionError, IssueList } from './issues.js'
import { condToGuard } from './scxml-cond.js'
import { isWildcard } from './scxml-events.js'
import { FLOWSTATE_INVOKE_TYPE, FLOWSTATE_NS, SCXML_NS } from './scxml-ns.js'
import { groupTransitions, type Pending } from './scxml-read-group.js'
import { ScxmlTree, STATE_TAGS, type FromScxmlOptions, type Info } from './scxml-read-tree.js'
import { isAncestor, type TreeNode } from './tree.js'
import type { ActionRef, Bindings, FlowStateIssue, Json } from './types.js'
import { attr, elements, parseXml, textOf, XmlParseError, type XmlElement } from './xml.js'

export type { FromScxmlOptions } from './scxml-read-tree.js'

export interface FromScxmlResult {
  definition: FlowStateDefinition
  /** What was dropped or changed, each at its XML path (`/scxml/state[@id="a"]/transition[1]`). */
  warnings: FlowStateIssue[]
  /** SCXML state id → FlowState state path (keys joined by `.`), to read configurations back. */
  stateIds: Record<string, string>
}

const EVENT = /^(\*|[A-Za-z0-9_:-]{1,64}(\.[A-Za-z0-9_:-]{1,64})*(\.\*)?)$/
const REF = /^(action|service):/

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

/** Pass 2: the FlowState document, state by state, over the tree pass 1 built. */
class Reader extends ScxmlTree {
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
    groupTransitions(this.issues, out, transitions, invokes)
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
