import { describe, expect, it } from 'vitest'
import { evaluateBindings, evaluateGuard, patternProblem, readPath, MAX_MATCH_SUBJECT } from '../../../src/flow/flowstate/index.js'

const scope = { input: { total: 12, tags: ['a', 'b'], nested: { ok: true } }, event: { type: 'PAY', email: 'x@Example.com' }, output: { charge: { id: 'c1' } } }

describe('flowstate guards - evaluation', () => {
  it('reads paths by own properties only', () => {
    expect(readPath(scope, '$.input.tags[1]')).toBe('b')
    expect(readPath(scope, '$.output.charge.id')).toBe('c1')
    expect(readPath(scope, '$.input.tags[2]')).toBeUndefined()
    expect(readPath(scope, '$.input.total.toFixed')).toBeUndefined()
    expect(readPath(scope, '$.input.hasOwnProperty')).toBeUndefined()
  })

  it('evaluates every guard of the library', () => {
    expect(evaluateGuard({ type: 'equals', path: '$.input.nested', value: { ok: true } }, scope)).toBe(true)
    expect(evaluateGuard({ type: 'gt', path: '$.input.total', value: 10 }, scope)).toBe(true)
    expect(evaluateGuard({ type: 'lt', path: '$.input.total', value: 10 }, scope)).toBe(false)
    expect(evaluateGuard({ type: 'gt', path: '$.event.email', value: 0 }, scope)).toBe(false)
    expect(evaluateGuard({ type: 'matches', path: '$.event.email', pattern: '@example\\.com$', flags: 'i' }, scope)).toBe(true)
    expect(evaluateGuard({ type: 'oneOf', path: '$.event.type', values: ['PAY', 'REFUND'] }, scope)).toBe(true)
    expect(evaluateGuard({ type: 'and', guards: [{ type: 'gt', path: '$.input.total', value: 1 }, { type: 'not', guard: { type: 'equals', path: '$.input.missing', value: null } }] }, scope)).toBe(true)
    expect(evaluateGuard({ type: 'or', guards: [{ type: 'equals', path: '$.input.missing', value: null }] }, scope)).toBe(false)
  })

  it('does not match strings past the subject bound', () => {
    const long = { ...scope, event: { s: 'a'.repeat(MAX_MATCH_SUBJECT + 1) } }
    expect(evaluateGuard({ type: 'matches', path: '$.event.s', pattern: '^a' }, long)).toBe(false)
  })

  it('refuses patterns that could backtrack without bound', () => {
    expect(patternProblem('(a+)+$')).toMatch(/exponential/)
    expect(patternProblem('((ab)*)*')).toMatch(/exponential/)
    expect(patternProblem('(a|b)\\1')).toMatch(/backreferences/)
    expect(patternProblem('x', 'g')).toMatch(/flags/)
    expect(patternProblem('(')).toMatch(/not a regular expression/)
    expect(patternProblem('^(ab)+[0-9]{2,}$')).toBeUndefined()
    expect(patternProblem('^(?:a+b)?c*$')).toBeUndefined()
  })

  it('evaluates bindings, leaving out what leads nowhere', () => {
    expect(evaluateBindings({ total: '$.input.total', id: '$.output.charge.id', k: { const: [1] }, gone: '$.event.nope' }, scope)).toEqual({ total: 12, id: 'c1', k: [1] })
    expect(evaluateBindings('$.input.tags', scope)).toEqual(['a', 'b'])
  })
})
