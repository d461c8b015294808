import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { defineFlowState, diffFlowState, FlowStateDefinitionError, fromScxml, toScxml, type FlowStateChange } from '../../../src/flow/flowstate/index.js'

const FIXTURES = join(import.meta.dirname, '../../fixtures/flowstate')
const load = (f: string): Record<string, unknown> => JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as Record<string, unknown>
const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'))
const lines = (cs: FlowStateChange[]): string[] => cs.map((c) => `${c.change} ${c.kind} ${c.path}: ${c.detail}`)

const base = { id: 'diff.test', version: '1.0.0', initial: 'idle' }
const gt = (value: number) => ({ type: 'gt', path: '$.input.total', value })

describe('flowstate diff - no changes', () => {
  it.each(fixtures)('%s: authoring form, canonical form, definition and SCXML round trip are the same', (f) => {
    const doc = load(f)
    const def = defineFlowState(doc as never)
    expect(diffFlowState(doc as never, def.canonical).changes).toEqual([])
    expect(diffFlowState(def, doc as never).changes).toEqual([])
    expect(diffFlowState(def, fromScxml(toScxml(def)).definition).changes).toEqual([])
  })

  it('a #id target and the sibling key for the same state are the same target', () => {
    const a = { ...base, states: { idle: { on: { GO: '#fin' } }, done: { type: 'final', id: 'fin' } } }
    const b = { ...base, states: { idle: { on: { GO: 'done' } }, done: { type: 'final', id: 'fin' } } }
    expect(diffFlowState(a as never, b as never).changes).toEqual([])
  })

  it('entry actions in another order are the same set', () => {
    const a = { ...base, states: { idle: { entry: ['action:a@^1', 'action:b@^1'] } } }
    const b = { ...base, states: { idle: { entry: ['action:b@^1', 'action:a@^1'] } } }
    expect(diffFlowState(a as never, b as never).changes).toEqual([])
  })
})

describe('flowstate diff - changes', () => {
  it('flow-level fields', () => {
    const a = { ...base, states: { idle: { on: { GO: {} } } }, exposure: { events: ['GO'] }, inputSchema: { type: 'object' } }
    const b = { ...base, version: '2.0.0', description: 'new', states: { idle: { on: { GO: {} } } }, outputSchema: { type: 'string' } }
    const cs = diffFlowState(a as never, b as never).changes.filter((c) => c.kind === 'flow')
    expect(cs.map(({ change, path }) => `${change} ${path}`)).toEqual(['changed version', 'added description', 'removed exposure', 'removed inputSchema', 'added outputSchema'])
    expect(cs[0].detail).toBe('version "1.0.0" → "2.0.0"')
  })

  it('states added and removed (each by key path, parents first), and state fields changed', () => {
    const a = { ...base, states: { idle: { on: { GO: 'work' } }, work: { tags: ['a'], initial: 'x', states: { x: {}, y: {} } }, old: { type: 'final' } } }
    const b = { ...base, states: { idle: { on: { GO: 'work' } }, work: { tags: ['b'], initial: 'y', states: { y: {}, z: { type: 'final' } } }, fresh: {} } }
    expect(lines(diffFlowState(a as never, b as never).changes)).toEqual([
      'added state states.fresh: atomic state "fresh"',
      'removed state states.old: final state "old"',
      'changed state states.work.tags: tags ["a"] → ["b"]',
      'changed state states.work.initial: initial "x" → "y"',
      'removed state states.work.states.x: atomic state "x"',
      'added state states.work.states.z: final state "z"',
    ])
  })

  it('a state whose type changes', () => {
    const a = { ...base, states: { idle: {} } }
    const b = { ...base, states: { idle: { type: 'final' } } }
    expect(lines(diffFlowState(a as never, b as never).changes)).toEqual(['changed state states.idle.type: type "atomic" → "final"'])
  })

  it('transitions: matched by target and guard first, so an insertion is one added transition', () => {
    const a = { ...base, states: { idle: { on: { GO: [{ target: 'big', guard: gt(100) }, { target: 'small' }] } }, big: {}, small: {}, mid: {} } }
    const b = { ...base, states: { idle: { on: { GO: [{ target: 'big', guard: gt(100) }, { target: 'mid', guard: gt(10) }, { target: 'small' }] } }, big: {}, small: {}, mid: {} } }
    expect(lines(diffFlowState(a as never, b as never).changes)).toEqual(['added transition states.idle.on.GO[1]: → mid [$.input.total > 10]'])
  })

  it('transitions: then by position, with what changed', () => {
    const a = { ...base, states: { idle: { on: { GO: [{ target: 'big', guard: gt(100), actions: 'action:log@^1' }] } }, big: {}, small: {} } }
    const b = { ...base, states: { idle: { on: { GO: [{ target: 'small', guard: gt(50), reenter: true, description: 'why' }] } }, big: {}, small: {} } }
    const [c] = diffFlowState(a as never, b as never).changes
    expect(c).toMatchObject({ kind: 'transition', change: 'changed', path: 'states.idle.on.GO[0]' })
    expect(c.detail).toBe('target "big" → "small"; guard $.input.total > 100 → $.input.total > 50; actions ["action:log@^1"] → (none); reenter false → true; description (none) → "why"')
  })

  it('transitions: a change of priority order is reported as a move; new and dropped events', () => {
    const a = { ...base, states: { idle: { on: { GO: [{ target: 'big', guard: gt(100) }, { target: 'small', guard: gt(10) }], OLD: 'big' } }, big: {}, small: {} } }
    const b = { ...base, states: { idle: { on: { GO: [{ target: 'small', guard: gt(10) }, { target: 'big', guard: gt(100) }], NEW: { target: 'small' } } }, big: {}, small: {} } }
    expect(lines(diffFlowState(a as never, b as never).changes)).toEqual([
      'changed transition states.idle.on.GO[1]: moved from [0] (it is now tried in another order)',
      'added transition states.idle.on.NEW[0]: → small',
      'removed transition states.idle.on.OLD[0]: → big',
    ])
  })

  it('entry/exit actions as sets: a range change is changed, others added or removed', () => {
    const a = { ...base, states: { idle: { entry: ['action:a@^1', 'action:keep@^1', 'action:gone@^1'], exit: [{ action: 'action:x@^1', input: { n: '$.input.n' } }] } } }
    const b = { ...base, states: { idle: { entry: ['action:keep@^1', 'action:a@^2', 'action:new@^1'], exit: [{ action: 'action:x@^1', input: { n: '$.input.m' } }] } } }
    expect(lines(diffFlowState(a as never, b as never).changes)).toEqual([
      'changed action states.idle.entry[1]: "action:a@^1" → "action:a@^2"',
      'added action states.idle.entry[2]: "action:new@^1"',
      'removed action states.idle.entry[2]: "action:gone@^1"',
      'changed action states.idle.exit[0]: {"action":"action:x@^1","input":{"n":"$.input.n"}} → {"action":"action:x@^1","input":{"n":"$.input.m"}}',
    ])
  })

  it('invokes by id: each changed field, onDone/onError changes summarized', () => {
    const doc = load('invoke.json') as { states: Record<string, Record<string, unknown>> }
    const b = structuredClone(doc)
    const charge = b.states.charging.invoke as Record<string, unknown>
    charge.src = 'action:payments.charge@^2'
    charge.claim = { mode: 'optimistic-idempotent' }
    charge.onError = [{ target: 'declined' }]
    delete charge.idempotencyKey
    b.states.shipping.invoke = [(b.states.shipping.invoke as unknown[])[1], { id: 'audit', src: 'action:audit@^1' }]
    expect(lines(diffFlowState(doc as never, b as never).changes)).toEqual([
      'changed invoke states.charging.invoke[0].src: invoke "charge": src "action:payments.charge@^1" → "action:payments.charge@^2"',
      'changed invoke states.charging.invoke[0].claim: invoke "charge": claim {"mode":"lease","ttlMs":30000} → {"mode":"optimistic-idempotent"}',
      'changed invoke states.charging.invoke[0].idempotencyKey: invoke "charge": idempotencyKey "$.input.orderId" → (none)',
      'changed invoke states.charging.invoke[0].onError: invoke "charge": onError [0] changed target "failed" → "declined"',
      'added invoke states.shipping.invoke[1]: invoke "audit" of action:audit@^1',
      'removed invoke states.shipping.invoke[0]: invoke "ship" of action:warehouse.ship@~2.1',
    ])
  })

  it('is deterministic and antisymmetric in added/removed', () => {
    const a = load('compound.json')
    const b = load('history.json')
    const ab = diffFlowState(a as never, b as never).changes
    expect(diffFlowState(a as never, b as never).changes).toEqual(ab)
    const ba = diffFlowState(b as never, a as never).changes
    expect(ab.filter((c) => c.change === 'added').length).toBe(ba.filter((c) => c.change === 'removed').length)
  })
})

describe('flowstate diff - bad input', () => {
  it('throws FlowStateDefinitionError with the issue paths', () => {
    const bad = { ...base, states: { idle: { on: { GO: 'nowhere' } } } }
    expect(() => diffFlowState(bad as never, load('compound.json') as never)).toThrow(FlowStateDefinitionError)
    expect(() => diffFlowState(load('compound.json') as never, bad as never)).toThrow(/states\.idle\.on\.GO\[0\]\.target/)
    expect(() => diffFlowState(null as never, null as never)).toThrow(FlowStateDefinitionError)
  })
})
