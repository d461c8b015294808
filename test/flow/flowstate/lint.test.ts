import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { defineFlowState, lintFlowState, type FlowStateIssue } from '../../../src/flow/flowstate/index.js'

const FIXTURES = join(import.meta.dirname, '../../fixtures/flowstate')
const fixtures = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as Record<string, unknown>] as const)

const SHAPE = ['SHORTHAND', 'REDUNDANT', 'GUARD_SHAPE', 'TARGET_SHAPE']
const base = { flowstate: 1, id: 'lint.test', version: '1.0.0', type: 'compound', initial: 'a' }
const found = (doc: unknown, codes?: string[]): Pick<FlowStateIssue, 'code' | 'path'>[] =>
  lintFlowState(doc)
    .issues.filter((i) => !codes || codes.includes(i.code))
    .map(({ code, path }) => ({ code, path }))
const messageAt = (doc: unknown, path: string): string => lintFlowState(doc).issues.find((i) => i.path === path)?.message ?? ''
/** A canonical-form flow around some states: only the rule under test fires. */
const flow = (states: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ ...base, states, ...extra })
const done = { type: 'final' }

describe('flowstate lint - definition issues', () => {
  it('reports defineFlowState errors with their paths and adds no lint warnings to an invalid document', () => {
    const issues = lintFlowState({ id: 'x', version: '1', initial: 'a', states: { a: { on: { GO: 'b' } } } }).issues
    expect(issues).toEqual([{ code: 'UNKNOWN_TARGET', severity: 'error', path: 'states.a.on.GO[0].target', message: 'the root has no child "b"' }])
    expect(lintFlowState(42).issues[0]).toMatchObject({ code: 'INVALID', severity: 'error', path: '' })
    expect(lintFlowState(null).issues.every((i) => i.severity === 'error')).toBe(true)
  })

  it('every lint finding is a warning', () => {
    for (const [, doc] of fixtures) expect(lintFlowState(doc).issues.every((i) => i.severity === 'warning')).toBe(true)
  })
})

describe('flowstate lint - canonical form is clean of shape warnings', () => {
  it.each(fixtures)('%s: canonical has no shape warnings; the authoring form has some', (_, doc) => {
    expect(found(defineFlowState(doc as never).canonical, SHAPE)).toEqual([])
    expect(lintFlowState(defineFlowState(doc as never)).issues).toEqual(lintFlowState(defineFlowState(doc as never).canonical).issues)
    expect(found(doc, ['SHORTHAND']).length).toBeGreaterThan(0)
  })

  it('a hand-written canonical flow lints fully clean', () => {
    const doc = flow({
      a: { type: 'atomic', on: { GO: [{ target: 'b', guard: { type: 'oneOf', path: '$.input.x', values: [1, 2] } }] } },
      b: { type: 'atomic', invoke: [{ id: 'job', src: 'action:job@^1', onDone: [{ target: 'c' }], onError: [{ target: 'c' }] }] },
      c: done,
    })
    expect(lintFlowState(doc).issues).toEqual([])
  })
})

describe('flowstate lint - shorthand', () => {
  it('target strings, lone transitions, actions, invokes and tags, implicit types', () => {
    const doc = {
      id: 'lint.test',
      version: '1.0.0',
      initial: 'a',
      states: {
        a: {
          tags: 'busy',
          entry: 'action:enter@^1',
          on: { GO: 'b', STAY: { actions: 'action:stay@^1' }, BOTH: [{ target: 'c', guard: { type: 'gt', path: '$.event.n', value: 1 } }, 'b'] },
        },
        b: { type: 'atomic', invoke: { id: 'job', src: 'action:job@^1', onDone: 'c', onError: [{ target: 'c' }] } },
        c: { type: 'final' },
      },
    }
    expect(found(doc, ['SHORTHAND'])).toEqual([
      { code: 'SHORTHAND', path: 'flowstate' },
      { code: 'SHORTHAND', path: 'type' },
      { code: 'SHORTHAND', path: 'states.a.type' },
      { code: 'SHORTHAND', path: 'states.a.tags' },
      { code: 'SHORTHAND', path: 'states.a.on.GO' },
      { code: 'SHORTHAND', path: 'states.a.on.STAY' },
      { code: 'SHORTHAND', path: 'states.a.on.STAY[0].actions' },
      { code: 'SHORTHAND', path: 'states.a.on.BOTH[1]' },
      { code: 'SHORTHAND', path: 'states.a.entry' },
      { code: 'SHORTHAND', path: 'states.b.invoke' },
      { code: 'SHORTHAND', path: 'states.b.invoke[0].onDone' },
    ])
    expect(messageAt(doc, 'states.a.on.GO')).toBe('a transition written as a target string: write [{ "target": "b" }]')
    expect(messageAt(doc, 'states.a.type')).toBe('the type is implicit: write type: "atomic"')
    expect(messageAt(doc, 'states.a.entry')).toMatch(/write actions as a list, \["action:enter@\^1"\]/)
  })

  it('an implicit history kind', () => {
    const doc = flow({
      a: { type: 'compound', initial: 'x', states: { x: { type: 'atomic', on: { NEXT: [{ target: 'h' }] } }, h: { type: 'history', target: 'x' } } },
    })
    expect(found(doc, ['SHORTHAND'])).toEqual([{ code: 'SHORTHAND', path: 'states.a.states.h.history' }])
    ;(doc.states.a as { states: Record<string, Record<string, unknown>> }).states.h.history = 'shallow'
    expect(found(doc, ['SHORTHAND'])).toEqual([])
  })
})

describe('flowstate lint - redundant', () => {
  it('reenter: false, empty lists, { action } without input, empty flags', () => {
    const doc = flow({
      a: {
        type: 'atomic',
        entry: [],
        tags: [],
        invoke: [],
        on: {
          GO: [{ target: 'b', reenter: false, actions: [{ action: 'action:go@^1' }], guard: { type: 'matches', path: '$.event.s', pattern: '^x', flags: '' } }],
          NONE: [],
        },
      },
      b: done,
    })
    expect(found(doc, ['REDUNDANT'])).toEqual([
      { code: 'REDUNDANT', path: 'states.a.tags' },
      { code: 'REDUNDANT', path: 'states.a.on.GO[0].reenter' },
      { code: 'REDUNDANT', path: 'states.a.on.GO[0].actions[0]' },
      { code: 'REDUNDANT', path: 'states.a.on.GO[0].guard.flags' },
      { code: 'REDUNDANT', path: 'states.a.on.NONE' },
      { code: 'REDUNDANT', path: 'states.a.entry' },
      { code: 'REDUNDANT', path: 'states.a.invoke' },
    ])
    expect(messageAt(doc, 'states.a.on.GO[0].actions[0]')).toBe('an action without input: write the ref string "action:go@^1"')
    expect(found({ ...flow({ a: { type: 'atomic', on: {} } }) }, ['REDUNDANT'])).toEqual([{ code: 'REDUNDANT', path: 'states.a.on' }])
  })

  it('a self-target without reenter on an atomic state, and not where it does something', () => {
    const doc = flow({
      a: {
        type: 'atomic',
        on: {
          SAME: [{ target: 'a' }],
          SAME_ID: [{ target: '#me', actions: ['action:x@^1'] }],
          AGAIN: [{ target: 'a', reenter: true }],
          STAY: [{ actions: ['action:x@^1'] }],
          BLOCK: [{}],
          OUT: [{ target: 'p' }],
        },
        id: 'me',
      },
      // On a compound state a self-target without reenter resets its children: not redundant.
      p: { type: 'compound', initial: 'x', on: { RESET: [{ target: 'p' }] }, states: { x: { type: 'atomic', on: { N: [{ target: 'y' }] } }, y: done } },
    })
    expect(found(doc, ['REDUNDANT'])).toEqual([
      { code: 'REDUNDANT', path: 'states.a.on.SAME[0].target' },
      { code: 'REDUNDANT', path: 'states.a.on.SAME_ID[0].target' },
    ])
  })

  it('does not warn on what the canonical form keeps: a forbidden transition, explicit types, exposure', () => {
    const doc = flow({ a: { type: 'atomic', on: { BLOCK: [{}], GO: [{ target: 'b' }] } }, b: done }, { exposure: { events: [] } })
    expect(lintFlowState(doc).issues).toEqual([])
  })
})

describe('flowstate lint - guard shapes', () => {
  const eq = (value: number, path = '$.input.x') => ({ type: 'equals', path, value })
  const withGuard = (guard: unknown) => flow({ a: { type: 'atomic', on: { GO: [{ target: 'b', guard }] } }, b: done })
  const at = 'states.a.on.GO[0].guard'

  it.each([
    ['and of one', { type: 'and', guards: [eq(1)] }, at, /an and of one guard: write the guard itself, \{"path":"\$\.input\.x","type":"equals","value":1\}/],
    ['or of one', { type: 'or', guards: [eq(1)] }, at, /an or of one guard/],
    ['nested and', { type: 'and', guards: [eq(1), { type: 'and', guards: [eq(2, '$.input.y'), eq(3, '$.input.z')] }] }, `${at}.guards[1]`, /an and inside an and: put its guards in the outer "guards" list/],
    ['nested or', { type: 'or', guards: [{ type: 'or', guards: [eq(1), { type: 'gt', path: '$.input.y', value: 2 }] }, { type: 'lt', path: '$.input.y', value: 0 }] }, `${at}.guards[0]`, /an or inside an or/],
    ['not of not', { type: 'not', guard: { type: 'not', guard: eq(1) } }, at, /a not of a not: write the inner guard/],
    ['oneOf of one', { type: 'oneOf', path: '$.input.x', values: ['a'] }, at, /write \{"path":"\$\.input\.x","type":"equals","value":"a"\}/],
    ['or of equals on one path', { type: 'or', guards: [eq(1), eq(2), { type: 'gt', path: '$.input.y', value: 0 }] }, at, /an or of equals on \$\.input\.x: write \{"path":"\$\.input\.x","type":"oneOf","values":\[1,2\]\}/],
    ['or of equals and oneOf on one path', { type: 'or', guards: [eq(1), { type: 'oneOf', path: '$.input.x', values: [2, 3] }] }, at, /"values":\[1,2,3\]/],
  ])('%s', (_, guard, path, message) => {
    const issues = lintFlowState(withGuard(guard)).issues.filter((i) => i.code === 'GUARD_SHAPE')
    expect(issues.map((i) => i.path)).toContain(path)
    expect(issues.find((i) => i.path === path)!.message).toMatch(message)
  })

  it('finds alternatives deep in a guard tree', () => {
    const guard = { type: 'and', guards: [{ type: 'not', guard: { type: 'oneOf', path: '$.input.x', values: [1] } }, eq(2, '$.input.y')] }
    expect(found(withGuard(guard), ['GUARD_SHAPE'])).toEqual([{ code: 'GUARD_SHAPE', path: `${at}.guards[0].guard` }])
  })

  it.each([
    ['and over two', { type: 'and', guards: [eq(1), eq(2, '$.input.y')] }],
    ['or of equals on different paths', { type: 'or', guards: [eq(1), eq(2, '$.input.y')] }],
    ['and of equals on one path', { type: 'and', guards: [eq(1), { type: 'not', guard: eq(2) }] }],
    ['or of and', { type: 'or', guards: [{ type: 'and', guards: [eq(1), eq(2, '$.input.y')] }, eq(3, '$.input.z')] }],
    ['oneOf of two', { type: 'oneOf', path: '$.input.x', values: [1, 2] }],
    ['not of an equals', { type: 'not', guard: eq(1) }],
  ])('no warning: %s', (_, guard) => {
    expect(found(withGuard(guard), ['GUARD_SHAPE'])).toEqual([])
  })
})

describe('flowstate lint - target shapes', () => {
  it('#id for a sibling, and a list of one target', () => {
    const doc = flow({
      a: { type: 'atomic', on: { GO: [{ target: '#bee' }], LIST: [{ target: ['b'] }], DEEP: [{ target: '#inner' }], SIB: [{ target: 'b' }] } },
      b: { type: 'compound', id: 'bee', initial: 'inner', states: { inner: { type: 'final', id: 'inner' } } },
    })
    expect(found(doc, ['TARGET_SHAPE'])).toEqual([
      { code: 'TARGET_SHAPE', path: 'states.a.on.LIST[0].target' },
      { code: 'TARGET_SHAPE', path: 'states.a.on.GO[0].target' },
    ])
    expect(messageAt(doc, 'states.a.on.GO[0].target')).toBe('"#bee" names a sibling: write its key, "target": "b"')
    expect(messageAt(doc, 'states.a.on.LIST[0].target')).toBe('a list of one target: write "target": "b"')
  })

  it('#id.child into a sibling is a sibling too; #id from the root is not flagged', () => {
    const doc = flow(
      {
        a: { type: 'compound', id: 'ay', initial: 'x', states: { x: { type: 'atomic', on: { N: [{ target: '#ay.y' }] } }, y: done } },
      },
      { on: { JUMP: [{ target: '#ay' }] } },
    )
    expect(found(doc, ['TARGET_SHAPE'])).toEqual([{ code: 'TARGET_SHAPE', path: 'states.a.states.x.on.N[0].target' }])
  })

  it('a multi-target into parallel regions is not a list of one', () => {
    expect(found(JSON.parse(readFileSync(join(FIXTURES, 'parallel.json'), 'utf8')), ['TARGET_SHAPE'])).toEqual([])
  })
})

describe('flowstate lint - structure', () => {
  it('unreachable states: only the topmost is named', () => {
    const doc = flow({
      a: { type: 'atomic', id: 'start', on: { GO: [{ target: 'b' }] } },
      b: done,
      lost: { type: 'compound', initial: 'x', states: { x: { type: 'atomic', on: { N: [{ target: '#start' }] } } } },
    })
    expect(found(doc, ['UNREACHABLE'])).toEqual([{ code: 'UNREACHABLE', path: 'states.lost' }])
  })

  it('a compound whose initial child is never entered by default (a deeper child is targeted)', () => {
    const doc = flow({
      a: { type: 'atomic', on: { GO: [{ target: 'b.late' }] } },
      b: { type: 'compound', initial: 'early', states: { early: { type: 'atomic', on: { N: [{ target: 'late' }] } }, late: done } },
    })
    expect(found(doc, ['UNREACHABLE'])).toEqual([{ code: 'UNREACHABLE', path: 'states.b.states.early' }])
  })

  it('reachability follows parallel regions, history defaults, onDone and invoke transitions', () => {
    const doc = flow({
      a: { type: 'atomic', invoke: [{ id: 'j', src: 'action:j@^1', onDone: [{ target: 'p.r1.deep' }], onError: [{ target: 'gone' }] }] },
      p: {
        type: 'parallel',
        onDone: [{ target: 'q' }],
        states: {
          r1: { type: 'compound', initial: 'one', states: { one: { type: 'atomic', on: { N: [{ target: 'deep' }] } }, deep: done } },
          r2: { type: 'compound', initial: 'two', states: { two: { type: 'atomic', on: { N: [{ target: 'end' }] } }, end: done } },
        },
      },
      q: { type: 'compound', initial: 'q1', states: { q1: { type: 'atomic', on: { BACK: [{ target: 'h' }] } }, q2: { type: 'atomic', on: { X: [{ target: '#fin' }] } }, h: { type: 'history', target: 'q2' } } },
      gone: { type: 'final', id: 'fin' },
    })
    // r1.one is only entered by its own region's default; r1 is entered through r1.deep, so `one` is not.
    expect(found(doc, ['UNREACHABLE'])).toEqual([{ code: 'UNREACHABLE', path: 'states.p.states.r1.states.one' }])
  })

  it('dead ends: a non-final atomic state with no way out', () => {
    const doc = flow({
      a: { type: 'atomic', on: { GO: [{ target: 'stuck' }], LOOP: [{ target: 'loop' }], WAIT: [{ target: 'waiting' }] } },
      stuck: { type: 'atomic', on: { PING: [{ actions: ['action:ping@^1'] }] } },
      loop: { type: 'atomic', on: { AGAIN: [{ target: 'loop', reenter: true }] } },
      waiting: { type: 'atomic', invoke: [{ id: 'w', src: 'action:w@^1', onDone: [{ target: 'end' }], onError: [{ target: 'end' }] }] },
      end: done,
    })
    expect(found(doc, ['DEAD_END'])).toEqual([
      { code: 'DEAD_END', path: 'states.loop' },
      { code: 'DEAD_END', path: 'states.stuck' },
    ])
    expect(messageAt(doc, 'states.stuck')).toMatch(/no way out.*write type: "final"/)
  })

  it('a way out on an ancestor or in another parallel region counts', () => {
    const doc = flow({
      a: { type: 'compound', initial: 'x', on: { QUIT: [{ target: 'end' }] }, states: { x: { type: 'atomic' } } },
      p: {
        type: 'parallel',
        states: {
          r1: { type: 'compound', initial: 'idle', states: { idle: { type: 'atomic' } } },
          r2: { type: 'compound', initial: 'w', states: { w: { type: 'atomic', on: { LEAVE: [{ target: '#out' }] } } } },
        },
      },
      end: { type: 'final', id: 'out' },
    }, { initial: 'a', on: { PAR: [{ target: '.p' }] } })
    expect(found(doc, ['DEAD_END'])).toEqual([])
    // A transition inside one region that stays there does not free the other region.
    ;(doc.states.p as { states: Record<string, { states: Record<string, { on: Record<string, unknown> }> }> }).states.r2.states.w.on.LEAVE = [{ target: 'w', reenter: true }]
    expect(found(doc, ['DEAD_END'])).toEqual([
      { code: 'DEAD_END', path: 'states.p.states.r1.states.idle' },
      { code: 'DEAD_END', path: 'states.p.states.r2.states.w' },
    ])
  })

  it('an invoke without onError', () => {
    const doc = flow({
      a: { type: 'atomic', invoke: [{ id: 'ok', src: 'action:ok@^1', onDone: [{ target: 'b' }], onError: [{ target: 'b' }] }, { id: 'risky', src: 'action:risky@^1', onDone: [{ target: 'b' }] }] },
      b: done,
    })
    expect(found(doc, ['UNHANDLED_ERROR'])).toEqual([{ code: 'UNHANDLED_ERROR', path: 'states.a.invoke[1]' }])
    expect(messageAt(doc, 'states.a.invoke[1]')).toMatch(/invoke "risky" has no onError.*add onError/)
  })

  it('the fixtures: only the findings they really have', () => {
    const structural = Object.fromEntries(fixtures.map(([f, doc]) => [f, found(doc, ['UNREACHABLE', 'DEAD_END', 'UNHANDLED_ERROR']).map((i) => `${i.code} ${i.path}`)]))
    expect(structural).toEqual({
      'compound.json': [],
      'guards.json': [],
      'history.json': [],
      'invoke.json': ['UNHANDLED_ERROR states.notifying.invoke[0]', 'UNHANDLED_ERROR states.shipping.invoke[0]', 'UNHANDLED_ERROR states.shipping.invoke[1]'],
      'output.json': [],
      'parallel.json': [],
      'schemas.json': [],
    })
  })
})
