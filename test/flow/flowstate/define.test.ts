import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineFlowState, isFlowState, safeDefineFlowState, type FlowStateIssue } from '../../../src/flow/flowstate/index.js'
import { canonicalJson } from '../../../src/flow/canonical-json.js'
import { toHex, utf8 } from '../../../src/dag/bytes.js'
import { sha256 } from '../../../src/log/crypto-backend.js'

const base = { id: 'shop.checkout', version: '1.0.0', initial: 'idle' }
const issuesOf = (doc: unknown): Pick<FlowStateIssue, 'code' | 'path'>[] => {
  const r = safeDefineFlowState(doc as never)
  if (r.success) return []
  return r.issues.map(({ code, path }) => ({ code, path }))
}

describe('flowstate define - canonical form', () => {
  it('normalizes authoring shorthand and is a frozen registry document', () => {
    const def = defineFlowState({
      ...base,
      states: {
        paying: { on: { PAID: 'done' }, entry: 'action:notify@^1', tags: ['b', 'a', 'b'] },
        idle: { on: { PAY: { target: 'paying' } } },
        done: { type: 'final' },
      },
    })
    expect(def.canonical).toEqual({
      flowstate: 1,
      id: 'shop.checkout',
      version: '1.0.0',
      type: 'compound',
      initial: 'idle',
      states: {
        done: { type: 'final' },
        idle: { type: 'atomic', on: { PAY: [{ target: 'paying' }] } },
        paying: { type: 'atomic', on: { PAID: [{ target: 'done' }] }, entry: ['action:notify@^1'], tags: ['a', 'b'] },
      },
    })
    // Document order is canonical key order.
    expect(Object.keys(def.canonical.states!)).toEqual(['done', 'idle', 'paying'])
    expect(def.json).toBe(canonicalJson(def.canonical))
    expect(def.hash).toBe(`sha256:${toHex(sha256(utf8(def.json)))}`)
    expect(def).toMatchObject({ format: 'flowstate', id: 'shop.checkout', version: '1.0.0', definition: def.canonical })
    expect(Object.isFrozen(def.canonical.states!.idle.on!.PAY[0])).toBe(true)
    expect(isFlowState(def)).toBe(true)
    expect(isFlowState(def.canonical)).toBe(false)
  })

  it('stores a zod schema as its JSON Schema, and a JSON Schema as given', () => {
    const def = defineFlowState({ ...base, states: { idle: {} }, inputSchema: z.object({ total: z.number() }), outputSchema: { type: 'string' } })
    expect(def.canonical.inputSchema).toMatchObject({ type: 'object', properties: { total: { type: 'number' } } })
    expect(def.canonical.outputSchema).toEqual({ type: 'string' })
    expect(defineFlowState(JSON.parse(def.json)).hash).toBe(def.hash)
  })
})

describe('flowstate define - authoring mistakes', () => {
  it('names each xState feature FlowState drops, with its path', () => {
    const assign = Object.assign(() => {}, { type: 'xstate.assign' })
    expect(
      issuesOf({
        ...base,
        context: { n: 0 },
        states: {
          idle: {
            after: { 1000: 'idle' },
            always: { target: 'idle' },
            entry: [assign, () => {}],
            on: { GO: { target: 'idle', guard: () => true } },
            meta: { x: 1 },
          },
        },
      }),
    ).toEqual([
      { code: 'CONTEXT', path: 'context' },
      { code: 'AFTER', path: 'states.idle.after' },
      { code: 'ALWAYS', path: 'states.idle.always' },
      { code: 'DROPPED', path: 'states.idle.meta' },
      { code: 'INLINE_FUNCTION', path: 'states.idle.on.GO[0].guard' },
      { code: 'ASSIGN', path: 'states.idle.entry[0]' },
      { code: 'INLINE_FUNCTION', path: 'states.idle.entry[1]' },
    ])
  })

  it('reports unknown targets and ambiguous transitions at their paths, all at once', () => {
    const doc = {
      ...base,
      states: {
        idle: { on: { PAY: 'paying' } },
        paying: {
          on: {
            PAID: [{ target: 'nowhere' }, { target: 'idle' }],
            RETRY: [
              { target: 'idle', guard: { type: 'gt', path: '$.event.n', value: 1 } },
              { target: 'paying', guard: { type: 'gt', path: '$.event.n', value: 1 } },
            ],
            JUMP: '#missing',
            BOTH: { target: ['idle', 'paying'] },
          },
        },
      },
    }
    // In document order: events sorted as the canonical form sorts them.
    expect(issuesOf(doc)).toEqual([
      { code: 'CONFLICTING_TARGETS', path: 'states.paying.on.BOTH[0].target' },
      { code: 'UNKNOWN_TARGET', path: 'states.paying.on.JUMP[0].target' },
      { code: 'UNKNOWN_TARGET', path: 'states.paying.on.PAID[0].target' },
      { code: 'AMBIGUOUS_TRANSITION', path: 'states.paying.on.PAID[1]' },
      { code: 'AMBIGUOUS_TRANSITION', path: 'states.paying.on.RETRY[1]' },
    ])
  })

  it('throws one DefinitionError carrying every issue', () => {
    let err: any
    try {
      defineFlowState({ ...base, states: { idle: { on: { GO: 'gone' } } } })
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ code: 'DEFINITION', name: 'FlowStateDefinitionError' })
    expect(err.issues).toEqual([expect.objectContaining({ code: 'UNKNOWN_TARGET', path: 'states.idle.on.GO[0].target', severity: 'error' })])
    expect(err.message).toContain('states.idle.on.GO[0].target')
  })

  it('checks guards, paths, patterns, refs, claims, placements and ids', () => {
    expect(
      issuesOf({
        ...base,
        states: {
          idle: {
            on: {
              A: { target: 'idle', guard: { type: 'between', path: '$.input.x' } },
              B: { target: 'idle', guard: { type: 'gt', path: 'input.x', value: 1 } },
              C: { target: 'idle', guard: { type: 'matches', path: '$.event.s', pattern: '(a+)+$' } },
              D: { target: 'idle', guard: { type: 'matches', path: '$.event.s', pattern: '(a)\\1' } },
              E: { target: 'idle', guard: { type: 'matches', path: '$.event.s', pattern: 'x'.repeat(300) } },
              F: { actions: ['notify', 'action:notify@not-a-range'] },
              G: { target: 'idle', guard: { type: 'equals', path: '$.input.__proto__', value: 1 } },
            },
            invoke: [
              { id: 'a', src: 'action:x@^1', claim: { mode: 'sometimes' } },
              { id: 'a', src: 'action:y@^1', placement: { kinds: ['toaster'] } },
              { id: 'c', src: 'payments.charge' },
            ],
          },
        },
      }),
    ).toEqual([
      { code: 'BAD_GUARD', path: 'states.idle.on.A[0].guard.type' },
      { code: 'BAD_PATH', path: 'states.idle.on.B[0].guard.path' },
      { code: 'BAD_PATTERN', path: 'states.idle.on.C[0].guard.pattern' },
      { code: 'BAD_PATTERN', path: 'states.idle.on.D[0].guard.pattern' },
      { code: 'BAD_PATTERN', path: 'states.idle.on.E[0].guard.pattern' },
      { code: 'BAD_REF', path: 'states.idle.on.F[0].actions[0]' },
      { code: 'BAD_REF', path: 'states.idle.on.F[0].actions[1]' },
      { code: 'BAD_PATH', path: 'states.idle.on.G[0].guard.path' },
      { code: 'BAD_CLAIM', path: 'states.idle.invoke[0].claim' },
      { code: 'BAD_PLACEMENT', path: 'states.idle.invoke[1].placement' },
      { code: 'BAD_REF', path: 'states.idle.invoke[2].src' },
    ])
    expect(issuesOf({ ...base, states: { idle: { invoke: [{ id: 'a', src: 'action:x@^1' }, { id: 'a', src: 'action:y@^1' }] } } })).toEqual([{ code: 'DUPLICATE_ID', path: 'states.idle.invoke[1].id' }])
  })

  it('checks the structure: initial, state kinds, keys, history targets, exposure', () => {
    expect(issuesOf({ id: 'x', version: '1', states: { a: {} } })).toEqual([{ code: 'INVALID', path: 'initial' }])
    expect(issuesOf({ ...base, states: { idle: { type: 'final', on: { A: 'idle' } } } })).toEqual([{ code: 'UNKNOWN_KEY', path: 'states.idle.on' }])
    expect(issuesOf({ ...base, states: { idle: {}, 'a.b': {} } })).toEqual([{ code: 'INVALID', path: 'states["a.b"]' }])
    expect(issuesOf({ ...base, states: { idle: { initial: 'h', states: { h: { type: 'history', target: '#elsewhere' }, k: {} } } } })).toEqual([
      { code: 'INVALID', path: 'states.idle.initial' },
      { code: 'UNKNOWN_TARGET', path: 'states.idle.states.h.target' },
    ])
    expect(issuesOf({ ...base, exposure: { events: ['NOPE'] }, states: { idle: {} } })).toEqual([{ code: 'UNKNOWN_EVENT', path: 'exposure.events' }])
    expect(issuesOf({ ...base, states: { idle: { on: { 'xstate.done.state.x': 'idle' } } } })).toEqual([{ code: 'INVALID', path: 'states.idle.on["xstate.done.state.x"]' }])
    expect(issuesOf({ ...base, states: { idle: { output: '$.input' } } })).toEqual([{ code: 'DROPPED', path: 'states.idle.output' }])
    expect(issuesOf({ ...base, states: { idle: { on: { GO: 'idle' } } }, on: { GO: 'idle' } })).toEqual([{ code: 'UNKNOWN_TARGET', path: 'on.GO[0].target' }])
  })

  it('bounds the document', () => {
    const states: Record<string, object> = { idle: {} }
    for (let i = 0; i < 1100; i++) states[`s${i}`] = {}
    expect(issuesOf({ ...base, states }).map((i) => i.code)).toEqual(['TOO_LARGE'])
    let deep: any = {}
    for (let i = 0; i < 40; i++) deep = { initial: 'x', states: { x: deep } }
    expect(issuesOf({ ...base, states: { idle: deep } }).map((i) => i.code)).toContain('TOO_LARGE')
  })
})

describe('flowstate define - registry', () => {
  it('is registry.publish document form: the manifest hash is the definition hash', async () => {
    const { createXSync, createRegistry } = await import('../../../src/index.js')
    const def = defineFlowState({ ...base, states: { idle: {} } })
    const document: import('../../../src/index.js').DefinitionDocument = def
    const client = await createXSync()
    try {
      const registry = createRegistry({ client })
      const published = await registry.publish(document)
      expect(published.manifest).toMatchObject({ id: def.id, version: def.version, format: 'flowstate', contentHash: def.hash })
      const resolved = await registry.resolve('shop.checkout@^1')
      expect(resolved.canonical).toBe(def.json)
      expect(defineFlowState(resolved.definition as never).hash).toBe(def.hash)
    } finally {
      await client.close()
    }
  })
})
