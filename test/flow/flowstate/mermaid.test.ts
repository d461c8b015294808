import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { defineFlowState, toMermaid } from '../../../src/flow/flowstate/index.js'

const fixture = (name: string) => defineFlowState(JSON.parse(readFileSync(new URL(`../../fixtures/flowstate/${name}.json`, import.meta.url), 'utf8')))

describe('flowstate mermaid', () => {
  it('draws states, initial markers, finals, guards, invokes and completions', () => {
    const text = toMermaid(fixture('invoke'))
    expect(text.split('\n').slice(0, 3)).toEqual(['stateDiagram-v2', '  [*] --> s5', '  state "charging" as s1'])
    expect(text).toContain('  state "done" as s3\n  s3 --> [*]')
    expect(text).toContain('  s5 --> s1 : CHECKOUT [$.input.total > 0]')
    expect(text).toContain('  s1 --> s8 : done: charge [$.event.output.status == "ok"]\n  s1 --> s2 : done: charge\n')
    expect(text).toContain('  s1 --> s4 : error: charge')
    expect(text).toContain('  s8 --> s6 : done: deadline')
    expect(text).toContain('  note right of s1 : invoke action:payments.charge@^1')
  })

  it('draws parallel regions, history states and root transitions', () => {
    const parallel = toMermaid(fixture('parallel'))
    expect(parallel).toContain('  state s2 {\n    state "images" as s3\n    state s3 {\n      [*] --> s4\n')
    expect(parallel).toContain('    }\n    --\n    state "text" as s6\n')
    expect(parallel).toContain('  s2 --> s8 : FINISH\n  s2 --> s5 : FINISH\n')
    expect(parallel).toContain('  s2 --> s9 : done\n')
    const history = toMermaid(fixture('history'))
    expect(history).toContain('state "H" as ')
    expect(history).toContain('state "H*" as ')
    expect(toMermaid(fixture('schemas'))).toContain('%% on CLOSE (any state) --> .closed')
  })

  it('is deterministic and escapes what Mermaid would read as syntax', () => {
    const def = defineFlowState({ id: 'm', version: '1.0.0', initial: 'a', states: { a: { on: { GO: { target: 'b', guard: { type: 'matches', path: '$.event.s', pattern: '^#;$' } } } }, b: {} } })
    expect(toMermaid(def)).toBe(toMermaid(def))
    expect(toMermaid(def)).toContain('~ /^#35;#59;$/')
  })
})
