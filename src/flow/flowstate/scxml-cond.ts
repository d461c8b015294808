/**
 * Guards as SCXML `cond` expressions, in this expression language (the datamodel "flowstate"),
 * one call per guard:
 *
 *     cond  = "true" / "false" / guard           ; true: no guard; false: never taken
 *     guard = "equals(" path "," json ")" / "gt(" path "," number ")" / "lt(" path "," number ")"
 *           / "matches(" path "," string [ "," string ] ")" / "oneOf(" path "," array ")"
 *           / ( "and(" / "or(" ) guard *( "," guard ) ")" / "not(" guard ")"
 *
 * with `path` as in `types.ts`, `json` RFC 8259 JSON (written in RFC 8785 form), whitespace
 * allowed between tokens. Anything else (`In('s')`, ECMAScript) is not a FlowState guard: the
 * transition is dropped with a warning (keeping it unguarded would change what the flow does).
 */
import { canonicalJson } from '../canonical-json.js'
import { checkGuard } from './guards.js'
import { IssueList } from './issues.js'
import type { Guard, Json } from './types.js'

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
