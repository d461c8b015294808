/**
 * The FlowState conformance corpus (test/fixtures/flowstate/*.json, one feature area each, with
 * the expected configurations in runs/<name>.json): every fixture defines, round-trips through
 * the xState codec to the same canonical JSON, is accepted by `createMachine`, and moves through
 * the expected configurations under xState's own pure `initialTransition()`/`transition()`.
 */
import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createMachine, initialTransition, transition, type AnyMachineSnapshot } from 'xstate'
import { canonicalJson } from '../../../src/flow/canonical-json.js'
import { defineFlowState, flowStateMachine, fromXState, toMermaid, toXStateConfig } from '../../../src/flow/flowstate/index.js'

const dir = new URL('../../fixtures/flowstate/', import.meta.url).pathname
const names = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort()

interface Run {
  name: string
  input: unknown
  initial: unknown
  steps: { event: { type: string }; value: unknown; status?: string; output?: unknown }[]
}

const read = (file: string): any => JSON.parse(readFileSync(join(dir, file), 'utf8'))

describe('flowstate corpus', () => {
  it('covers every feature area', () => {
    expect(names).toEqual(['compound', 'guards', 'history', 'invoke', 'output', 'parallel', 'schemas'])
  })

  for (const name of names) {
    describe(name, () => {
      const doc = read(`${name}.json`)
      const def = defineFlowState(doc)

      it('defines, and its canonical form defines to itself', () => {
        expect(defineFlowState(JSON.parse(def.json)).json).toBe(def.json)
        expect(def.hash).toMatch(/^sha256:[0-9a-f]{64}$/)
      })

      it('round-trips FlowState → xState config → FlowState to the same canonical JSON, dropping nothing', () => {
        const config = toXStateConfig(def)
        // The config is plain data: JSON survives it unchanged.
        expect(JSON.parse(JSON.stringify(config))).toEqual(config)
        const back = fromXState(JSON.parse(JSON.stringify(config)))
        expect(back.warnings).toEqual([])
        expect(back.definition.json).toBe(def.json)
        expect(back.definition.hash).toBe(def.hash)
        expect(canonicalJson(toXStateConfig(back.definition))).toBe(canonicalJson(config))
      })

      it('round-trips through the runnable machine too', () => {
        const back = fromXState(flowStateMachine(def))
        expect(back.warnings).toEqual([])
        expect(back.definition.json).toBe(def.json)
      })

      it('is accepted by createMachine', () => {
        const machine = createMachine(toXStateConfig(def) as never)
        expect(machine.id).toBe(def.id)
      })

      it('renders to Mermaid', () => {
        expect(toMermaid(def).startsWith('stateDiagram-v2\n')).toBe(true)
      })

      const runs: Run[] = read(`runs/${name}.json`).runs
      for (const run of runs) {
        it(`moves through the expected configurations: ${run.name}`, () => {
          const machine = flowStateMachine(def)
          let [snap] = initialTransition(machine, run.input) as [AnyMachineSnapshot, unknown]
          expect(snap.value).toEqual(run.initial)
          run.steps.forEach((step, i) => {
            ;[snap] = transition(machine, snap, step.event) as [AnyMachineSnapshot, unknown]
            expect({ step: i, value: snap.value }).toEqual({ step: i, value: step.value })
            expect(snap.status).toBe(step.status ?? 'active')
            if (step.status === 'done') expect(snap.output).toEqual(step.output)
          })
        })
      }
    })
  }
})
