/** Reading SCXML: a state's transitions grouped by event type, so xState picks what SCXML picks. */
import { canonicalJson } from '../canonical-json.js'
import type { InvokeInit, StateInit, TransitionInit } from './define.js'
import type { IssueList } from './issues.js'
import { covers, priorityOrder } from './scxml-events.js'

/** A transition read, before grouping: its event type (`null` for done/error ones), at an XML path. */
export type Pending = { key: string | null; t: Exclude<TransitionInit, string>; at: string; kind?: 'onDone' | 'onError'; invoke?: string }

/**
 * Group transitions by event type, keeping SCXML's choice: SCXML takes the first enabled
 * transition in document order whose descriptor matches; xState tries the exact type's group,
 * then the wildcard groups that cover it (`foo.*`, `*`), longest first. So a group also gets, in
 * document order, the transitions of the descriptors that cover it, except for a trailing run
 * xState would try next anyway (which keeps a document `toScxml` wrote exactly as it was).
 * A transition after an unguarded one, or one with the same guard, is never taken: dropped.
 */
export function groupTransitions(issues: IssueList, out: StateInit, list: Pending[], invokes: InvokeInit[]): void {
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
      else if (nameOf(x) === name) issues.warn('AMBIGUOUS_TRANSITION', x.at, `never taken for ${x.key ?? x.kind}: the earlier transition at ${shadow.at} is always chosen first; dropped`)
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
