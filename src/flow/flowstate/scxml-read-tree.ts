/**
 * Reading SCXML, pass 1: the state tree (keys made from SCXML ids, `fs:id`s), XML paths for
 * warnings, and targets (SCXML ids resolved, then spelled the FlowState way).
 */
import type { StateInit } from './define.js'
import { IssueList } from './issues.js'
import { FLOWSTATE_NS } from './scxml-ns.js'
import { isAncestor, resolveTarget, type StateTree, type TreeNode } from './tree.js'
import { FLOWSTATE_VERSION, type StateType } from './types.js'
import { attr, elements, type XmlElement } from './xml.js'

const KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/
export const STATE_TAGS = new Set(['state', 'parallel', 'final', 'history'])

/** A state being read: shaped like a `TreeNode`, so `resolveTarget` reads `fs:target` against it. */
export interface Info {
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

/** Pass 1 in the constructor; `Reader` (`scxml-read.ts`) adds pass 2. */
export interface FromScxmlOptions {
  /** @default the `<scxml name>`, else 'scxml' (with a warning) */
  id?: string
  /** @default `fs:version`, else '0.0.0' (with a warning) */
  version?: string
  /** How a descriptor without a wildcard matches. @default 'exact' for documents `toScxml` wrote, else 'prefix' (SCXML's) */
  events?: 'exact' | 'prefix'
}

export class ScxmlTree {
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
}
