/**
 * SCXML conformance: the script-free SCION cases (test/fixtures/scxml/, Apache-2.0, see
 * SOURCE.md and LICENSE.txt there). Each case is imported with `fromScxml`, run with xState's pure
 * `initialTransition()`/`transition()` on `flowStateMachine()`, and must pass through every
 * expected configuration (sets of atomic SCXML state ids).
 *
 * `EXCLUDED` lists every case that does not, with the reason. The test checks that it is exactly
 * the set of failing cases, and that each of them fails to import or was imported with warnings
 * (FlowState dropped something it uses): no case may fail silently, none may be listed and pass.
 * Cases that import with warnings but still match (a dropped `<log>`, an unreachable transition)
 * run and count as passing.
 */
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate'
import { flowStateMachine, fromScxml, toScxml, type FromScxmlResult } from '../../../src/flow/flowstate/index.js'

const dir = new URL('../../fixtures/scxml/', import.meta.url).pathname
const index: { cases: { group: string; name: string; scxml: string; expected: string }[] } = JSON.parse(readFileSync(`${dir}index.json`, 'utf8'))

const RAISE = '<raise> (an internal event from an action) is dropped: FlowState actions are action refs'
const ORDER = 'parallel regions are not in key order: FlowState enters them, and picks conflicting transitions, in key order'
const EXCLUDED: Record<string, string> = {
  'actionSend/send1': RAISE,
  'actionSend/send2': RAISE,
  'actionSend/send3': RAISE,
  'actionSend/send4': `${RAISE}; also eventless transitions`,
  'actionSend/send4b': RAISE,
  'actionSend/send7': `${RAISE}; also eventless transitions`,
  'actionSend/send7b': RAISE,
  'actionSend/send8': `${RAISE}; also eventless transitions`,
  'actionSend/send8b': RAISE,
  'actionSend/send9': `${RAISE}; also eventless transitions`,
  'cond-js/TestConditionalTransition': 'eventless transitions are dropped (FlowState has no always)',
  'in/TestInPredicate': "In('id') conds are not FlowState guards (those transitions are dropped); also <raise>",
  'misc/deep-initial': '<scxml initial> names a grandchild; FlowState initial states are children',
  'history/history4': 'initial names a history state, which FlowState does not allow',
  'more-parallel/test2b': ORDER,
  'more-parallel/test3b': ORDER,
  'more-parallel/test6b': ORDER,
  'parallel+interrupt/test4': ORDER,
  'parallel+interrupt/test7b': ORDER,
  'parallel+interrupt/test21c': ORDER,
}

interface Expected {
  initialConfiguration: string[]
  events: { event: { name: string }; nextConfiguration: string[] }[]
}

/** The atomic state paths of a snapshot value (an atomic region of a parallel state is `{}`). */
const leaves = (v: unknown, prefix: string[] = []): string[] =>
  typeof v === 'string' ? [[...prefix, v].join('.')] : Object.keys(v as object).length === 0 ? [prefix.join('.')] : Object.entries(v as object).flatMap(([k, c]) => leaves(c, [...prefix, k]))

type Outcome = { imported: FromScxmlResult | undefined; error?: unknown; got: string[][]; want: string[][] }

function runCase(c: (typeof index.cases)[number]): Outcome {
  const expected: Expected = JSON.parse(readFileSync(dir + c.expected, 'utf8'))
  const want = [expected.initialConfiguration, ...expected.events.map((e) => e.nextConfiguration)].map((x) => [...x].sort())
  let imported: FromScxmlResult
  try {
    imported = fromScxml(readFileSync(dir + c.scxml, 'utf8'), { id: 'scion', version: '0.0.0' })
  } catch (error) {
    return { imported: undefined, error, got: [], want }
  }
  const scxmlId = new Map(Object.entries(imported.stateIds).map(([id, path]) => [path, id]))
  const configuration = (s: AnyMachineSnapshot) => leaves(s.value).map((p) => scxmlId.get(p) ?? `(no id: ${p})`).sort()
  const machine = flowStateMachine(imported.definition)
  let [snap] = initialTransition(machine, null) as [AnyMachineSnapshot, unknown]
  const got = [configuration(snap)]
  for (const e of expected.events) {
    ;[snap] = transition(machine, snap, { type: e.event.name }) as [AnyMachineSnapshot, unknown]
    got.push(configuration(snap))
  }
  return { imported, got, want }
}

describe('scxml - SCION conformance', () => {
  const outcomes = new Map(index.cases.map((c) => [`${c.group}/${c.name}`, runCase(c)]))
  const fails = (o: Outcome) => o.imported === undefined || JSON.stringify(o.got) !== JSON.stringify(o.want)

  it('has the whole copied corpus', () => {
    expect(outcomes.size).toBe(93)
  })

  it('the excluded list is exactly the failing cases, and each drops a feature it uses', () => {
    const failing = [...outcomes].filter(([, o]) => fails(o)).map(([name]) => name).sort()
    expect(failing).toEqual(Object.keys(EXCLUDED).sort())
    for (const name of failing) {
      const o = outcomes.get(name)!
      expect({ name, dropsSomething: o.imported === undefined || o.imported.warnings.length > 0 }).toEqual({ name, dropsSomething: true })
    }
    // 93 cases: 73 pass, 20 excluded.
    expect(outcomes.size - failing.length).toBe(73)
  })

  for (const [name, o] of outcomes) {
    if (EXCLUDED[name]) continue
    it(`${name} passes through every expected configuration`, () => {
      expect(o.got).toEqual(o.want)
    })
    it(`${name} re-exports: fromScxml(toScxml(x)) is x`, () => {
      const def = o.imported!.definition
      const again = fromScxml(toScxml(def))
      expect(again.warnings).toEqual([])
      expect(again.definition.json).toBe(def.json)
    })
  }
})
