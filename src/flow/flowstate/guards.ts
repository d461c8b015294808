/**
 * The fixed guard library: `equals`, `gt`, `lt`, `matches`, `oneOf`, `and`, `or`, `not`, over run
 * state (`$.input`, `$.event`, `$.output`). Checked when a flow is defined; evaluated purely: no
 * clock, no randomness, the same answer on every peer.
 *
 * `matches` takes an ECMAScript regular expression as a string, with flags from `imsu`. To keep
 * evaluation bounded it refuses, when defined, patterns longer than `MAX_PATTERN_LENGTH`,
 * backreferences, and a `*`/`+`/`{n,}` applied to a group that itself holds one (the classic
 * catastrophic-backtracking shape); and it does not match strings longer than `MAX_MATCH_SUBJECT`.
 */
import { checkJson, checkPath, readPath, type RunScope } from './bindings.js'
import { pathAt, type IssueList } from './issues.js'
import { GUARD_TYPES, MAX_GUARD_DEPTH, MAX_MATCH_SUBJECT, MAX_PATTERN_LENGTH, type Guard, type Json } from './types.js'

const KEYS: Record<Guard['type'], readonly string[]> = {
  equals: ['type', 'path', 'value'],
  gt: ['type', 'path', 'value'],
  lt: ['type', 'path', 'value'],
  matches: ['type', 'path', 'pattern', 'flags'],
  oneOf: ['type', 'path', 'values'],
  and: ['type', 'guards'],
  or: ['type', 'guards'],
  not: ['type', 'guard'],
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)

/** Why `pattern`/`flags` may not be a `matches` guard, or undefined if they may. */
export function patternProblem(pattern: unknown, flags: unknown = ''): string | undefined {
  if (typeof pattern !== 'string') return 'pattern is a string'
  if (pattern.length > MAX_PATTERN_LENGTH) return `pattern has at most ${MAX_PATTERN_LENGTH} characters`
  if (typeof flags !== 'string' || !/^[imsu]*$/.test(flags) || new Set(flags).size !== flags.length) return 'flags are some of i, m, s, u, each once'
  try {
    new RegExp(pattern, flags)
  } catch (err) {
    return `not a regular expression: ${(err as Error).message}`
  }
  // One scan: escapes, classes and groups; a stack of "holds an unbounded quantifier" per group.
  const groups: boolean[] = []
  let lastGroupUnbounded = false
  let prev: 'atom' | 'group' | 'none' = 'none'
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '\\') {
      const n = pattern[i + 1]
      if (/[1-9]/.test(n) || n === 'k') return 'backreferences are not allowed'
      i++
      prev = 'atom'
    } else if (c === '[') {
      i++
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1
      prev = 'atom'
    } else if (c === '(') {
      groups.push(false)
      prev = 'none'
    } else if (c === ')') {
      lastGroupUnbounded = groups.pop() ?? false
      if (lastGroupUnbounded && groups.length > 0) groups[groups.length - 1] = true
      prev = 'group'
    } else if (c === '*' || c === '+' || (c === '{' && /^\{\d+,\}/.test(pattern.slice(i)))) {
      if (prev === 'group' && lastGroupUnbounded) return 'a repeated group that itself repeats without bound (like (a+)+) can take exponential time'
      if (groups.length > 0) groups[groups.length - 1] = true
      prev = 'none'
    } else if (c === '?' && i > 0 && pattern[i - 1] === '(') {
      // (?: (?= (?! (?<name> (?<= (?<!: part of the group syntax.
    } else if (c !== '?' && c !== '{' && c !== '|') prev = 'atom'
  }
  return undefined
}

/** Check a guard (issues at `at`); returns it in canonical form, or undefined when it is bad. */
export function checkGuard(x: unknown, at: string, issues: IssueList, depth = 0): Guard | undefined {
  if (typeof x === 'function') {
    issues.error('INLINE_FUNCTION', at, `a guard is data from the library (${GUARD_TYPES.join(', ')}), not a function`)
    return undefined
  }
  if (typeof x === 'string') {
    issues.error('BAD_GUARD', at, `a guard is an object such as { type: 'equals', path, value }, not the name ${JSON.stringify(x)}`)
    return undefined
  }
  if (!isObject(x) || typeof x.type !== 'string' || !(GUARD_TYPES as readonly string[]).includes(x.type)) {
    issues.error('BAD_GUARD', pathAt(at, 'type'), `a guard's type is one of ${GUARD_TYPES.join(', ')}`)
    return undefined
  }
  if (depth >= MAX_GUARD_DEPTH) {
    issues.error('TOO_LARGE', at, `guards nest at most ${MAX_GUARD_DEPTH} deep`)
    return undefined
  }
  const type = x.type as Guard['type']
  const before = issues.items.length
  for (const k of Object.keys(x)) if (!KEYS[type].includes(k)) issues.error('UNKNOWN_KEY', pathAt(at, k), `a ${type} guard has ${KEYS[type].join(', ')}`)
  switch (type) {
    case 'equals':
      checkPath(x.path, pathAt(at, 'path'), issues)
      if (x.value === undefined) issues.error('INVALID', pathAt(at, 'value'), 'equals needs a value')
      else checkJson(x.value, pathAt(at, 'value'), issues)
      break
    case 'gt':
    case 'lt':
      checkPath(x.path, pathAt(at, 'path'), issues)
      if (typeof x.value !== 'number' || !Number.isFinite(x.value)) issues.error('INVALID', pathAt(at, 'value'), `${type} compares with a finite number`)
      break
    case 'matches': {
      checkPath(x.path, pathAt(at, 'path'), issues)
      const problem = patternProblem(x.pattern, x.flags ?? '')
      if (problem) issues.error('BAD_PATTERN', pathAt(at, x.flags !== undefined && typeof x.pattern === 'string' && problem.startsWith('flags') ? 'flags' : 'pattern'), problem)
      break
    }
    case 'oneOf':
      checkPath(x.path, pathAt(at, 'path'), issues)
      if (!Array.isArray(x.values) || x.values.length === 0) issues.error('INVALID', pathAt(at, 'values'), 'oneOf needs a non-empty array of values')
      else checkJson(x.values, pathAt(at, 'values'), issues)
      break
    case 'and':
    case 'or': {
      if (!Array.isArray(x.guards) || x.guards.length === 0) {
        issues.error('INVALID', pathAt(at, 'guards'), `${type} needs a non-empty array of guards`)
        break
      }
      const guards = x.guards.map((g, i) => checkGuard(g, pathAt(pathAt(at, 'guards'), i), issues, depth + 1))
      if (issues.items.length === before) return { type, guards: guards as Guard[] }
      return undefined
    }
    case 'not': {
      const g = checkGuard(x.guard, pathAt(at, 'guard'), issues, depth + 1)
      return g && issues.items.length === before ? { type, guard: g } : undefined
    }
  }
  if (issues.items.length !== before) return undefined
  if (type === 'matches') return { type, path: x.path as string, pattern: x.pattern as string, ...(x.flags ? { flags: x.flags as string } : {}) }
  if (type === 'oneOf') return { type, path: x.path as string, values: x.values as Json[] }
  return { type, path: x.path as string, value: x.value } as Guard
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((v, i) => jsonEqual(v, (b as unknown[])[i]))
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

const compiled = new Map<string, RegExp>()

function regex(pattern: string, flags: string): RegExp {
  const key = `${flags}/${pattern}`
  let re = compiled.get(key)
  if (!re) {
    re = new RegExp(pattern, flags)
    if (compiled.size < 1024) compiled.set(key, re)
  }
  re.lastIndex = 0
  return re
}

/** Evaluate a checked guard against run state; pure and total (a missing value is simply false). */
export function evaluateGuard(guard: Guard, scope: RunScope): boolean {
  switch (guard.type) {
    case 'equals': {
      const v = readPath(scope, guard.path)
      return v !== undefined && jsonEqual(v, guard.value)
    }
    case 'gt':
    case 'lt': {
      const v = readPath(scope, guard.path)
      return typeof v === 'number' && (guard.type === 'gt' ? v > guard.value : v < guard.value)
    }
    case 'matches': {
      const v = readPath(scope, guard.path)
      return typeof v === 'string' && v.length <= MAX_MATCH_SUBJECT && regex(guard.pattern, guard.flags ?? '').test(v)
    }
    case 'oneOf': {
      const v = readPath(scope, guard.path)
      return v !== undefined && guard.values.some((w) => jsonEqual(v, w))
    }
    case 'and':
      return guard.guards.every((g) => evaluateGuard(g, scope))
    case 'or':
      return guard.guards.some((g) => evaluateGuard(g, scope))
    case 'not':
      return !evaluateGuard(guard.guard, scope)
  }
}

/** A short human rendering (Mermaid labels, messages): `$.input.total > 0`. */
export function describeGuard(guard: Guard): string {
  switch (guard.type) {
    case 'equals':
      return `${guard.path} == ${JSON.stringify(guard.value)}`
    case 'gt':
      return `${guard.path} > ${guard.value}`
    case 'lt':
      return `${guard.path} < ${guard.value}`
    case 'matches':
      return `${guard.path} ~ /${guard.pattern}/${guard.flags ?? ''}`
    case 'oneOf':
      return `${guard.path} in ${JSON.stringify(guard.values)}`
    case 'and':
    case 'or':
      return `(${guard.guards.map(describeGuard).join(guard.type === 'and' ? ' and ' : ' or ')})`
    case 'not':
      return `not ${describeGuard(guard.guard)}`
  }
}
