import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { childRun, defineStep, defineWorkflow, DefinitionError, link, sleep, waitForSignal } from '../../src/index.js'

const pure = { kind: 'pure' } as const
const lease = { mode: 'lease' } as const
const step = (id: string, extra: Record<string, unknown> = {}) => defineStep({ id, type: `t.${id}`, sideEffects: pure, claim: lease, ...extra })

function definitionError(fn: () => unknown): DefinitionError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(DefinitionError)
    expect((err as DefinitionError).code).toBe('DEFINITION')
    return err as DefinitionError
  }
  throw new Error('expected a DefinitionError')
}

describe('definitions', () => {
  it('accepts a valid graph and orders its steps topologically, ties by id', () => {
    const w = defineWorkflow({
      id: 'w',
      version: '1',
      steps: { a: step('a'), c: step('c'), b: step('b'), d: step('d') },
      links: [link('a', 'b'), link('a', 'c'), link('b', 'd'), link('c', 'd')],
    })
    expect(w.order).toEqual(['a', 'b', 'c', 'd'])
    expect(w.hash).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(Object.isFrozen(w)).toBe(true)
  })

  it('rejects an unknown step in a link, a cycle, a self-link, a duplicate link', () => {
    expect(definitionError(() => defineWorkflow({ id: 'w', version: '1', steps: { a: step('a') }, links: [link('a', 'zz')] })).message).toContain('unknown step "zz"')
    expect(definitionError(() => defineWorkflow({ id: 'w', version: '1', steps: { a: step('a'), b: step('b'), c: step('c') }, links: [link('a', 'b'), link('b', 'c'), link('c', 'b')] })).message).toContain('cycle through b, c')
    expect(definitionError(() => defineWorkflow({ id: 'w', version: '1', steps: { a: step('a') }, links: [link('a', 'a')] })).message).toContain('cycle')
    expect(definitionError(() => defineWorkflow({ id: 'w', version: '1', steps: { a: step('a'), b: step('b') }, links: [link('a', 'b'), link('a', 'b')] })).message).toContain('twice')
  })

  it('rejects an effectful step in optimistic mode', () => {
    const e = definitionError(() => defineStep({ id: 'pay', type: 'pay', sideEffects: { kind: 'effectful' }, claim: { mode: 'optimistic-idempotent' } }))
    expect(e.message).toContain('effectful step may not use optimistic-idempotent')
  })

  it('rejects schemas that are not zod, on steps, workflows and signals', () => {
    expect(definitionError(() => step('a', { input: { parse: () => 1 } })).message).toContain('input must be a zod schema')
    expect(definitionError(() => defineWorkflow({ id: 'w', version: '1', output: 'string' as never, steps: { a: step('a') }, links: [] })).message).toContain('output must be a zod schema')
    expect(definitionError(() => waitForSignal('w', 'go', { schema: {} as never })).message).toContain('signal.schema must be a zod schema')
  })

  it('rejects malformed steps with messages that say what is wrong', () => {
    expect(definitionError(() => defineStep({ id: 'has space', type: 't', sideEffects: pure, claim: lease })).message).toContain('step id')
    expect(definitionError(() => defineStep({ id: 'a', type: '', sideEffects: pure, claim: lease })).message).toContain('type')
    expect(definitionError(() => defineStep({ id: 'a', type: 't', sideEffects: pure, claim: { mode: 'fastest' } as never })).message).toContain('claim.mode')
    expect(definitionError(() => defineStep({ id: 'a', type: 't', sideEffects: pure, claim: { mode: 'authority' } as never })).message).toContain('authority')
    expect(definitionError(() => step('a', { retry: { maxAttempts: 0 } })).message).toContain('maxAttempts')
    expect(definitionError(() => step('a', { retry: { jitter: 2 } })).message).toContain('jitter')
    expect(definitionError(() => step('a', { timeoutMs: -1 })).message).toContain('timeoutMs')
    expect(definitionError(() => step('a', { placement: { kinds: ['phone'] } })).message).toContain('placement')
    expect(definitionError(() => sleep('s', Number.NaN)).message).toContain('sleep')
    expect(definitionError(() => defineWorkflow({ id: 'w', version: '1', steps: {}, links: [] })).message).toContain('at least one step')
    expect(definitionError(() => defineWorkflow({ id: 'w', version: '1', steps: { x: step('a') }, links: [] })).message).toContain('key and the id must match')
    expect(definitionError(() => childRun('c', {} as never)).message).toContain('defineWorkflow')
  })

  it('hashes the canonical form: stable under key order, changed by any rule', () => {
    const make = (ttl: number, order: 'ab' | 'ba', input = z.string()) =>
      defineWorkflow({
        id: 'w',
        version: '1',
        input,
        steps: order === 'ab' ? { a: step('a', { claim: { mode: 'lease', ttlMs: ttl } }), b: step('b') } : { b: step('b'), a: step('a', { claim: { mode: 'lease', ttlMs: ttl } }) },
        links: [link('a', 'b', { map: (o: string) => o.length })],
      })
    expect(make(1000, 'ab').hash).toBe(make(1000, 'ba').hash)
    expect(make(1000, 'ab').hash).not.toBe(make(2000, 'ab').hash)
    expect(make(1000, 'ab').hash).not.toBe(make(1000, 'ab', z.string().min(3)).hash)
    const w = make(1000, 'ab')
    expect(w.canonical.steps.map((s) => s.id)).toEqual(['a', 'b'])
    expect(w.canonical.input).toMatchObject({ type: 'string' })
    expect(w.canonical.links[0].map).toContain('length')
  })

  it('records child workflows by hash', () => {
    const child = defineWorkflow({ id: 'child', version: '1', steps: { x: step('x') }, links: [] })
    const parent = defineWorkflow({ id: 'parent', version: '1', steps: { c: childRun('c', child) }, links: [] })
    expect(parent.children.get(child.hash)).toBe(child)
    expect(parent.children.get(parent.hash)).toBe(parent)
    expect(parent.canonical.steps[0].child).toBe(child.hash)
  })
})
