import { describe, expect, it } from 'vitest'
import { and, assign, createMachine, not } from 'xstate'
import { defineFlowState, fromXState, toXStateConfig } from '../../../src/flow/flowstate/index.js'

describe('flowstate xstate codec - toXStateConfig', () => {
  it('writes guards as parameterized refs and invoke settings in state meta', () => {
    const def = defineFlowState({
      id: 'pay',
      version: '1.0.0',
      initial: 'idle',
      states: {
        idle: { on: { PAY: { target: 'paying', guard: { type: 'not', guard: { type: 'lt', path: '$.input.total', value: 1 } }, actions: [{ action: 'action:audit@^1', input: { t: '$.input.total' } }] } } },
        paying: { invoke: { id: 'charge', src: 'action:payments.charge@^1', placement: { kinds: ['server'] }, onDone: 'paid' } },
        paid: { type: 'final', output: '$.output.charge' },
      },
    })
    const config = toXStateConfig(def) as any
    expect(config.states.idle.on.PAY[0]).toEqual({
      target: 'paying',
      guard: { type: 'not', params: { guard: { type: 'lt', path: '$.input.total', value: 1 } } },
      actions: [{ type: 'action:audit@^1', params: { t: '$.input.total' } }],
    })
    expect(config.states.paying).toEqual({
      type: 'atomic',
      invoke: [{ id: 'charge', src: 'action:payments.charge@^1', onDone: [{ target: 'paid' }] }],
      meta: { 'stateflow.invoke': { charge: { placement: { kinds: ['server'] } } } },
    })
    expect(config.states.paid.output).toBe('$.output.charge')
    expect(config.meta).toEqual({ 'stateflow.flowstate': { flowstate: 1 } })
    expect(createMachine(config).getStateNodeById('pay.paying').invoke[0].src).toBe('action:payments.charge@^1')
  })
})

describe('flowstate xstate codec - fromXState', () => {
  it('keeps what FlowState has and warns, with a path, for each thing it drops', () => {
    // Untyped: a config written for xState, with everything FlowState leaves out.
    const config: any = {
      id: 'legacy',
      context: { n: 0 },
      initial: 'a',
      states: {
        a: {
          entry: [assign({ n: 1 }), 'action:hello@^1', 'logIt', () => {}],
          after: { 1000: 'b' },
          always: [{ target: 'b', guard: 'isBig' }],
          on: {
            GO: [
              { target: 'b', guard: 'isBig' },
              { target: 'b', guard: and([{ type: 'gt', params: { path: '$.event.n', value: 1 } }, not({ type: 'equals', params: { path: '$.event.k', value: 'x' } })]) },
              { target: 'b', guard: ({ context }: any) => context.n > 0 },
              { target: 'c' },
            ],
          },
          invoke: { src: 'fetcher', onDone: 'b' },
        },
        b: { invoke: { id: 'work', src: 'action:work@^2', input: ({ context }: any) => context }, meta: { ui: 'blue' }, on: { BACK: 'a' } },
        c: { type: 'final' },
      },
    }
    const machine = createMachine(config)
    const { definition, warnings } = fromXState(machine, { version: '3.0.0' })
    expect(warnings.map(({ code, path, severity }) => ({ code, path, severity }))).toEqual([
      { code: 'CONTEXT', path: 'context', severity: 'warning' },
      { code: 'AFTER', path: 'states.a.after', severity: 'warning' },
      { code: 'ALWAYS', path: 'states.a.always', severity: 'warning' },
      { code: 'DROPPED', path: 'states.a.on.GO[0].guard', severity: 'warning' },
      { code: 'INLINE_FUNCTION', path: 'states.a.on.GO[2].guard', severity: 'warning' },
      { code: 'ASSIGN', path: 'states.a.entry[0]', severity: 'warning' },
      { code: 'BAD_REF', path: 'states.a.entry[2]', severity: 'warning' },
      { code: 'INLINE_FUNCTION', path: 'states.a.entry[3]', severity: 'warning' },
      { code: 'BAD_REF', path: 'states.a.invoke[0].src', severity: 'warning' },
      { code: 'INLINE_FUNCTION', path: 'states.b.invoke[0].input', severity: 'warning' },
      { code: 'DROPPED', path: 'states.b.meta.ui', severity: 'warning' },
    ])
    expect(definition.canonical.states!.a).toEqual({
      type: 'atomic',
      entry: ['action:hello@^1'],
      on: {
        GO: [
          { target: 'b', guard: { type: 'and', guards: [{ type: 'gt', path: '$.event.n', value: 1 }, { type: 'not', guard: { type: 'equals', path: '$.event.k', value: 'x' } }] } },
          { target: 'c' },
        ],
      },
    })
    expect(definition.canonical.states!.b.invoke).toEqual([{ id: 'work', src: 'action:work@^2' }])
    expect(definition.version).toBe('3.0.0')
  })

  it('defaults a missing version with a warning, and throws when what is left is not a flow', () => {
    const r = fromXState({ id: 'm', initial: 'a', states: { a: {} } })
    expect(r.definition.version).toBe('0.0.0')
    expect(r.warnings).toEqual([expect.objectContaining({ code: 'INVALID', path: 'version' })])
    expect(() => fromXState({ id: 'm', version: '1.0.0', initial: 'a', states: { a: { on: { GO: 'zzz' } } } })).toThrow(expect.objectContaining({ code: 'DEFINITION' }))
  })
})
