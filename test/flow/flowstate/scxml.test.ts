/**
 * The SCXML codec: FlowState → SCXML → FlowState is the identity on canonical JSON for the whole
 * corpus; guards travel as `cond` expressions; other SCXML is read with a warning, at an XML
 * path, per dropped feature; the XML parser is strict and bounded.
 */
import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate'
import { condToGuard, defineFlowState, flowStateMachine, fromScxml, guardToCond, MAX_XML_DEPTH, MAX_XML_LENGTH, toScxml, type Guard } from '../../../src/flow/flowstate/index.js'
import { parseXml } from '../../../src/flow/flowstate/xml.js'

const dir = new URL('../../fixtures/flowstate/', import.meta.url).pathname
const names = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort()
const scxml = (body: string, attrs = '') => `<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" name="t"${attrs}>${body}</scxml>`

describe('scxml - corpus round trip', () => {
  for (const name of names) {
    it(`${name}: FlowState → SCXML → FlowState is the identity, dropping nothing`, () => {
      const def = defineFlowState(JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')))
      const text = toScxml(def)
      expect(text.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<scxml xmlns="http://www.w3.org/2005/07/scxml"')).toBe(true)
      const back = fromScxml(text)
      expect(back.warnings).toEqual([])
      expect(back.definition.json).toBe(def.json)
      expect(back.definition.hash).toBe(def.hash)
      expect(toScxml(back.definition)).toBe(text)
    })
  }

  it('keeps awkward text exactly: quotes, ampersands, tabs and line ends in descriptions and constants', () => {
    const def = defineFlowState({
      id: 'odd',
      version: '1.0.0',
      description: 'a "quoted" \'one\' & <tag>\n\tsecond line\r\n',
      initial: 'a',
      states: {
        a: { tags: ['two words', 'x'], on: { GO: { target: 'b', description: ']]> & "', guard: { type: 'equals', path: '$.event.s', value: 'it\'s "so" <b>' } } } },
        b: { type: 'final', output: { k: { const: { nested: ['\n', '&amp;', {}] } }, whole: { const: {} } } },
      },
    })
    const back = fromScxml(toScxml(def))
    expect(back.definition.json).toBe(def.json)
  })

  it('writes the root as a state when it has transitions, and SCXML engines still terminate', () => {
    const text = toScxml(JSON.parse(readFileSync(join(dir, 'schemas.json'), 'utf8')))
    expect(text).toContain('<state id="_root" initial="open" fs:root="true">')
    expect(text).toContain('<transition event="done.state._root" target="_root.done" fs:root="true"/>')
    expect(text).toContain('<final id="_root.done" fs:root="true"/>')
  })
})

describe('scxml - guards as cond expressions', () => {
  const guards: Guard[] = [
    { type: 'equals', path: '$.input.a[0].b', value: { x: [1, 'two', null, true] } },
    { type: 'gt', path: '$.event.total', value: -1.5e-7 },
    { type: 'lt', path: '$.output.charge.n', value: 100 },
    { type: 'matches', path: '$.event.email', pattern: '^a"b\\.(c|d),\\)$', flags: 'iu' },
    { type: 'matches', path: '$.event.email', pattern: 'x' },
    { type: 'oneOf', path: '$.input.tier', values: ['gold', [1, 2], { a: ')' }] },
    { type: 'not', guard: { type: 'and', guards: [{ type: 'or', guards: [{ type: 'gt', path: '$.input.x', value: 1 }] }, { type: 'lt', path: '$.input.y', value: 0 }] } },
  ]
  for (const g of guards) {
    it(`round-trips ${g.type}: ${guardToCond(g)}`, () => {
      expect(condToGuard(guardToCond(g))).toEqual(g)
    })
  }

  it('reads true as no guard and false as never; anything else is not a guard', () => {
    expect(condToGuard(' true ')).toBe(true)
    expect(condToGuard('false')).toBe(false)
    for (const cond of ["In('a')", 'x > 1', 'gt($.input.x, "1")', 'equals($.nope.x, 1)', 'gt($.input.x, 1) extra', 'and()', 'matches($.input.s, "(a+)+")']) {
      expect(typeof condToGuard(cond)).toBe('string')
    }
  })

  it('is written in the cond attribute and drives the run', () => {
    const def = defineFlowState(JSON.parse(readFileSync(join(dir, 'guards.json'), 'utf8')))
    const text = toScxml(def)
    expect(text).toContain(`cond='or(matches($.event.email, "@example\\\\.(com|org)$", "i"), lt($.event.total, 0))'`)
    const machine = flowStateMachine(fromScxml(text).definition)
    const [s0] = initialTransition(machine, { tier: 'gold' }) as [AnyMachineSnapshot, unknown]
    expect(transition(machine, s0, { type: 'ORDER', total: 500, items: [1] })[0].value).toBe('vip')
    expect(transition(machine, s0, { type: 'ORDER', total: 5, email: 'A@EXAMPLE.com' })[0].value).toBe('flagged')
  })
})

describe('scxml - reading other SCXML', () => {
  const warningsOf = (text: string) => fromScxml(text).warnings.map((w) => [w.code, w.path])

  it('warns, with an XML path, for each dropped feature', () => {
    const text = scxml(`
      <datamodel><data id="x" expr="1"/></datamodel>
      <script>var y = 2</script>
      <state id="a">
        <onentry><assign location="x" expr="2"/><log expr="'hi'"/><raise event="e"/></onentry>
        <onexit><send event="late" delay="1s"/><send event="now"/></onexit>
        <transition target="b"/>
        <transition event="go" cond="x &gt; 1" target="b"/>
        <transition event="go2" cond="In('a')" target="b"/>
        <invoke type="scxml" src="child.scxml"/>
      </state>
      <state id="b"><transition event="back" target="a"><if cond="true"><raise event="z"/></if></transition></state>`)
    expect(warningsOf(text)).toEqual([
      ['CONTEXT', '/scxml/datamodel[1]'],
      ['DROPPED', '/scxml/script[1]'],
      ['BAD_REF', '/scxml/state[@id="a"]/invoke[1]'],
      ['ASSIGN', '/scxml/state[@id="a"]/onentry[1]/assign[1]'],
      ['DROPPED', '/scxml/state[@id="a"]/onentry[1]/log[1]'],
      ['DROPPED', '/scxml/state[@id="a"]/onentry[1]/raise[1]'],
      ['AFTER', '/scxml/state[@id="a"]/onexit[1]/send[1]'],
      ['DROPPED', '/scxml/state[@id="a"]/onexit[1]/send[2]'],
      ['ALWAYS', '/scxml/state[@id="a"]/transition[1]'],
      ['BAD_GUARD', '/scxml/state[@id="a"]/transition[2]/@cond'],
      ['BAD_GUARD', '/scxml/state[@id="a"]/transition[3]/@cond'],
      ['DROPPED', '/scxml/state[@id="b"]/transition[1]/if[1]'],
      ['INVALID', '/scxml/@fs:version'],
    ])
  })

  it('makes ids into keys, spells targets, and keeps SCXML prefix matching', () => {
    const r = fromScxml(scxml(`
      <state id="top"><state id="top.1"><transition event="foo" target="deep.x"/></state></state>
      <state id="deep.x"><transition event="back" target="top.1"/></state>`), { version: '1.0.0' })
    expect(r.stateIds).toEqual({ top: 'top', 'top.1': 'top.top_1', 'deep.x': 'deep_x' })
    expect(r.definition.canonical.states).toEqual({
      deep_x: { type: 'atomic', id: 'deep_x', on: { 'back.*': [{ target: '#top_1' }] } },
      top: { type: 'compound', initial: 'top_1', states: { top_1: { type: 'atomic', id: 'top_1', on: { 'foo.*': [{ target: '#deep_x' }] } } } },
    })
    expect(r.warnings).toEqual([])
    const machine = flowStateMachine(r.definition)
    const [s0] = initialTransition(machine, null) as [AnyMachineSnapshot, unknown]
    expect(transition(machine, s0, { type: 'foo.bar' })[0].value).toBe('deep_x')
  })

  it("keeps SCXML's document-order choice between a wildcard and a more specific descriptor", () => {
    const r = fromScxml(scxml(`<state id="a"><transition event="*" cond="equals($.event.ok, true)" target="b"/><transition event="foo" target="c"/></state><state id="b"/><state id="c"/>`), { events: 'exact' })
    expect(r.definition.canonical.states!.a.on).toEqual({
      '*': [{ target: 'b', guard: { type: 'equals', path: '$.event.ok', value: true } }],
      foo: [{ target: 'b', guard: { type: 'equals', path: '$.event.ok', value: true } }, { target: 'c' }],
    })
  })

  it('reads done events, invokes, final donedata and history', () => {
    const r = fromScxml(
      scxml(`
      <state id="job" initial="run">
        <state id="run">
          <invoke id="work" type="urn:stateflow:flowstate:ref" src="action:work@^1"><param name="n" location="$.input.n"/></invoke>
          <transition event="done.invoke.work" target="ok"/>
          <transition event="error.invoke.work" target="run" type="external"/>
        </state>
        <final id="ok"><donedata><content expr="$.event.output"/></donedata></final>
        <history id="h" type="deep"><transition target="run"/></history>
        <transition event="done.state.job" target="end"/>
      </state>
      <final id="end"/>`),
      { version: '1.0.0' },
    )
    expect(r.warnings).toEqual([])
    expect(r.definition.canonical.states!.job).toEqual({
      type: 'compound',
      initial: 'run',
      onDone: [{ target: 'end' }],
      states: {
        h: { type: 'history', history: 'deep', target: 'run' },
        ok: { type: 'final', output: '$.event.output' },
        run: { type: 'atomic', invoke: [{ id: 'work', src: 'action:work@^1', input: { n: '$.input.n' }, onDone: [{ target: 'ok' }], onError: [{ target: 'run', reenter: true }] }] },
      },
    })
  })

  it('refuses documents that are not a valid flow, with DEFINITION issues', () => {
    expect(() => fromScxml(scxml('<state id="a"><transition event="e" target="nowhere"/></state>'))).toThrow(expect.objectContaining({ code: 'DEFINITION', issues: [expect.objectContaining({ code: 'UNKNOWN_TARGET', path: '/scxml/state[@id="a"]/transition[1]/@target' })] }))
    expect(() => fromScxml('<foo/>')).toThrow(expect.objectContaining({ code: 'DEFINITION' }))
    expect(() => fromScxml(scxml('<state id="a"/><state id="a"/>'))).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ code: 'DUPLICATE_ID' })] }))
  })
})

describe('scxml - xml parser', () => {
  const code = (text: string) => {
    try {
      fromScxml(text)
    } catch (err) {
      return (err as { code: string; issues: { code: string }[] }).issues[0].code
    }
    return 'ok'
  }

  it('reads entities, character references, CDATA, comments, PIs and namespace prefixes', () => {
    const root = parseXml('<?xml version="1.0"?>\n<!-- c --><?pi x?><p:a xmlns:p="urn:x" b="&lt;&amp;&#x41;&#66;&quot;&apos;&gt;" c="1\n2"><![CDATA[<x>&amp;]]>t&#10;<!-- in --><b/></p:a>')
    expect(root).toMatchObject({ local: 'a', ns: 'urn:x', attributes: [{ local: 'b', value: '<&AB"\'>' }, { local: 'c', value: '1 2' }] })
    expect(root.children.map((c) => (c.kind === 'text' ? c.text : c.local))).toEqual(['<x>&amp;', 't\n', 'b'])
  })

  it('refuses DTDs, unknown entities, unbound prefixes, bad nesting and bad characters', () => {
    for (const bad of [
      '<!DOCTYPE scxml [<!ENTITY x "y">]><scxml/>',
      '<scxml a="&x;"/>',
      '<scxml>&nbsp;</scxml>',
      '<scxml a="&#0;"/>',
      '<p:scxml/>',
      '<scxml><state></scxml>',
      '<scxml a="1" a="2"/>',
      '<scxml/><scxml/>',
      '<scxml><!-- a -- b --></scxml>',
      '<scxml>a & b</scxml>',
      '<scxml>\u0001</scxml>',
      '<scxml',
    ]) {
      expect({ bad, code: code(bad) }).toEqual({ bad, code: 'INVALID' })
    }
  })

  it(`is bounded: ${MAX_XML_LENGTH} characters, ${MAX_XML_DEPTH} levels`, () => {
    expect(code(`<scxml>${' '.repeat(MAX_XML_LENGTH)}</scxml>`)).toBe('TOO_LARGE')
    expect(code(`${'<a>'.repeat(MAX_XML_DEPTH + 1)}${'</a>'.repeat(MAX_XML_DEPTH + 1)}`)).toBe('TOO_LARGE')
  })
})
