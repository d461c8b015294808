import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createMachine } from 'xstate'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bufferOutput, EXIT_INTEGRITY, EXIT_OK, EXIT_USAGE } from '../../src/cli/io.js'
import { run } from '../../src/cli/run.js'
import { defineFlowState, fromScxml, toMermaid, toScxml, toXStateConfig } from '../../src/flow/flowstate/index.js'
import { tempDir } from './helpers.js'

const FIXTURES = join(import.meta.dirname, '../fixtures/flowstate')
const fixture = (f: string): string => join(FIXTURES, f)
const exec = promisify(execFile)
const MAIN = join(import.meta.dirname, '../../src/cli/main.ts')

async function cli(...argv: string[]) {
  const io = bufferOutput()
  const code = await run(argv, io)
  return { code, stdout: io.stdout, stderr: io.stderr }
}

describe('cli flow', () => {
  let tmp: ReturnType<typeof tempDir>
  const file = (name: string, content: unknown): string => {
    const path = join(tmp.dir, name)
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
    return path
  }
  const canonical = (f: string) => defineFlowState(JSON.parse(readFileSync(fixture(f), 'utf8')))
  const bad = { id: 'bad', version: '1.0.0', initial: 'a', states: { a: { on: { GO: 'b' } } } }

  beforeAll(() => {
    tmp = tempDir('stateflow-flow-')
  })
  afterAll(() => tmp.cleanup())

  describe('flow lint', () => {
    it('prints one line per finding; warnings alone exit 0, with --strict 1', async () => {
      const r = await cli('flow', 'lint', fixture('guards.json'))
      expect(r.code).toBe(EXIT_OK)
      expect(r.stdout).toEqual([
        'flowstate: warning SHORTHAND the format version is implicit: write flowstate: 1',
        `type: warning SHORTHAND the root's type is implicit: write type: "compound"`,
        'states.triage.type: warning SHORTHAND the type is implicit: write type: "atomic"',
      ])
      expect(r.stderr).toEqual([])
      expect((await cli('flow', 'lint', '--strict', fixture('guards.json'))).code).toBe(EXIT_INTEGRITY)
    })

    it('a canonical file lints clean: no output, exit 0 even with --strict', async () => {
      const path = file('canonical.json', canonical('guards.json').json)
      expect(await cli('flow', 'lint', path, '--strict')).toEqual({ code: EXIT_OK, stdout: [], stderr: [] })
    })

    it('errors carry the path into the definition and exit 1', async () => {
      const r = await cli('flow', 'lint', file('bad.json', bad))
      expect(r.code).toBe(EXIT_INTEGRITY)
      expect(r.stdout).toEqual(['states.a.on.GO[0].target: error UNKNOWN_TARGET the root has no child "b"'])
    })

    it('--json gives every finding and the counts', async () => {
      const r = await cli('flow', 'lint', fixture('invoke.json'), '--json')
      expect(r.code).toBe(EXIT_OK)
      const out = JSON.parse(r.stdout.join('\n')) as { ok: boolean; errors: number; warnings: number; issues: { code: string; path: string }[] }
      expect(out).toMatchObject({ ok: true, errors: 0, exitCode: 0 })
      expect(out.warnings).toBe(out.issues.length)
      expect(out.issues).toContainEqual(expect.objectContaining({ code: 'UNHANDLED_ERROR', path: 'states.shipping.invoke[0]', severity: 'warning' }))
    })

    it('a file that is not JSON is an error finding, exit 1', async () => {
      const r = await cli('flow', 'lint', file('broken.json', '{ "id": '))
      expect(r.code).toBe(EXIT_INTEGRITY)
      expect(r.stdout[0]).toMatch(/^\(document\): error INVALID not JSON: /)
    })

    it('reads SCXML: its reader warnings and the lint of what it defines', async () => {
      const ours = await cli('flow', 'lint', file('parallel.scxml', toScxml(canonical('parallel.json'))))
      expect(ours).toEqual({ code: EXIT_OK, stdout: [], stderr: [] })
      const foreign = file('foreign.xml', '<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" initial="a"><datamodel/><state id="a"><transition event="go" target="b"/></state><state id="b"/></scxml>')
      const r = await cli('flow', 'lint', foreign)
      expect(r.code).toBe(EXIT_OK)
      expect(r.stdout.some((l) => / warning CONTEXT /.test(l))).toBe(true)
      expect(r.stdout).toContain(`states.b: warning DEAD_END ${'a non-final atomic state with no way out: no transition on it, its ancestors or a region beside it leaves it; add one, or write type: "final"'}`)
      const broken = await cli('flow', 'lint', file('broken.scxml', '<scxml'))
      expect(broken.code).toBe(EXIT_INTEGRITY)
      expect(broken.stdout[0]).toMatch(/^line 1, column \d+: error INVALID /)
    })
  })

  describe('flow diff', () => {
    it('no changes between an authoring file and its canonical form: no output, exit 0', async () => {
      const path = file('invoke.canonical.json', canonical('invoke.json').json)
      expect(await cli('flow', 'diff', fixture('invoke.json'), path)).toEqual({ code: EXIT_OK, stdout: [], stderr: [] })
    })

    it('one line per change, exit 0 with changes; --json; SCXML on either side', async () => {
      const doc = JSON.parse(readFileSync(fixture('compound.json'), 'utf8'))
      doc.version = '1.1.0'
      doc.states.off.on.POWER = { target: 'on', guard: { type: 'equals', path: '$.input.ok', value: true } }
      const b = file('compound.b.json', doc)
      const r = await cli('flow', 'diff', fixture('compound.json'), b)
      expect(r.code).toBe(EXIT_OK)
      expect(r.stdout).toEqual(['changed flow version: version "1.0.0" → "1.1.0"', 'changed transition states.off.on.POWER[0]: guard (none) → $.input.ok == true'])
      const json = await cli('flow', 'diff', '--json', fixture('compound.json'), b)
      expect(JSON.parse(json.stdout.join('\n')).changes).toHaveLength(2)
      const scxml = file('compound.scxml', toScxml(canonical('compound.json')))
      expect((await cli('flow', 'diff', scxml, fixture('compound.json'))).stdout).toEqual([])
    })

    it('an invalid side exits 1 with its issues on stderr', async () => {
      const r = await cli('flow', 'diff', fixture('compound.json'), file('bad.json', bad))
      expect(r.code).toBe(EXIT_INTEGRITY)
      expect(r.stdout).toEqual([])
      expect(r.stderr).toEqual([`stateflow: ${join(tmp.dir, 'bad.json')}: not a valid FlowState definition`, 'states.a.on.GO[0].target: error UNKNOWN_TARGET the root has no child "b"'])
    })
  })

  describe('flow compile and mermaid', () => {
    it('--to json prints the canonical RFC 8785 JSON; the flag may come first', async () => {
      const def = canonical('invoke.json')
      expect(await cli('flow', 'compile', fixture('invoke.json'), '--to', 'json')).toEqual({ code: EXIT_OK, stdout: [def.json], stderr: [] })
      expect((await cli('flow', 'compile', '--to=json', fixture('invoke.json'))).stdout).toEqual([def.json])
    })

    it('--to xstate prints a machine config xState accepts', async () => {
      const r = await cli('flow', 'compile', fixture('parallel.json'), '--to', 'xstate')
      const config = JSON.parse(r.stdout.join('\n'))
      expect(config).toEqual(JSON.parse(JSON.stringify(toXStateConfig(canonical('parallel.json')))))
      expect(() => createMachine(config)).not.toThrow()
    })

    it('--to scxml prints SCXML that reads back to the same flow', async () => {
      const r = await cli('flow', 'compile', fixture('history.json'), '--to', 'scxml')
      expect(r.code).toBe(EXIT_OK)
      expect(fromScxml(r.stdout.join('\n')).definition.json).toBe(canonical('history.json').json)
    })

    it('mermaid prints the diagram', async () => {
      const r = await cli('flow', 'mermaid', fixture('compound.json'))
      expect(r.code).toBe(EXIT_OK)
      expect(`${r.stdout.join('\n')}\n`).toBe(toMermaid(canonical('compound.json')))
    })

    it('an invalid definition exits 1 with each issue and its path on stderr', async () => {
      for (const argv of [['flow', 'compile', file('bad.json', bad), '--to', 'xstate'], ['flow', 'mermaid', file('bad.json', bad)]]) {
        const r = await cli(...argv)
        expect(r.code).toBe(EXIT_INTEGRITY)
        expect(r.stdout).toEqual([])
        expect(r.stderr[1]).toBe('states.a.on.GO[0].target: error UNKNOWN_TARGET the root has no child "b"')
      }
    })
  })

  describe('flow from-xstate', () => {
    it('prints canonical JSON on stdout and one warning per dropped feature on stderr', async () => {
      const config = toXStateConfig(canonical('compound.json'))
      const withExtras = { ...config, context: { n: 0 }, states: { ...(config.states as object), off: { ...(config.states as Record<string, object>).off, after: { 1000: 'on' } } } }
      const r = await cli('flow', 'from-xstate', file('machine.json', withExtras))
      expect(r.code).toBe(EXIT_OK)
      expect(r.stdout).toEqual([canonical('compound.json').json])
      expect(r.stderr).toEqual(['context: warning CONTEXT FlowState has no mutable context', 'states.off.after: warning AFTER FlowState has no delayed transitions (use a service:timer@^1 invoke)'])
    })

    it('a config that leaves no valid flow exits 1; not an object exits 1', async () => {
      const r = await cli('flow', 'from-xstate', file('machine-bad.json', { id: 'm', version: '1', initial: 'a', states: { a: { on: { GO: 'nowhere' } } } }))
      expect(r.code).toBe(EXIT_INTEGRITY)
      expect(r.stderr[1]).toMatch(/^states\.a\.on\.GO\[0\]\.target: error UNKNOWN_TARGET /)
      expect((await cli('flow', 'from-xstate', file('list.json', [1]))).code).toBe(EXIT_INTEGRITY)
    })
  })

  describe('usage', () => {
    it('help for the group and each command, exit 0', async () => {
      for (const argv of [['flow', '--help'], ['flow', 'lint', '--help'], ['flow', 'diff', '-h'], ['flow', 'compile', '--help'], ['flow', 'mermaid', '--help'], ['flow', 'from-xstate', '--help']]) {
        const r = await cli(...argv)
        expect(r.code, argv.join(' ')).toBe(EXIT_OK)
        expect(r.stdout[0]).toMatch(/^Usage: stateflow flow/)
      }
      expect((await cli('--help')).stdout[0]).toMatch(/flow lint/)
      expect((await cli('flow', 'diff', '--help')).stdout[0]).toMatch(/Exit: 0 compared \(also when there are changes\)/)
    })

    it('bad command lines and unreadable files exit 2 with a message on stderr', async () => {
      mkdirSync(join(tmp.dir, 'adir'), { recursive: true })
      const cases: [string[], RegExp][] = [
        [['flow'], /'stateflow flow' needs a command: lint, diff, compile, mermaid or from-xstate/],
        [['flow', 'lnt', 'x.json'], /unknown command 'flow lnt': expected lint, diff, compile, mermaid or from-xstate/],
        [['flow', 'lint'], /'stateflow flow lint' needs <file>/],
        [['flow', 'diff', 'a.json'], /needs <a> <b>/],
        [['flow', 'lint', 'a.json', 'b.json'], /unexpected argument 'b.json'/],
        [['flow', 'lint', 'a.json', '--bogus'], /unknown flag '--bogus'/],
        [['flow', 'compile', fixture('invoke.json')], /needs --to <value>/],
        [['flow', 'compile', fixture('invoke.json'), '--to', 'yaml'], /--to is one of xstate, scxml, json, not 'yaml'/],
        [['flow', 'lint', join(tmp.dir, 'missing.json')], /cannot read .*missing\.json: no such file/],
        [['flow', 'mermaid', join(tmp.dir, 'adir')], /cannot read .*adir: a directory, not a file/],
        [['flow', 'diff', fixture('invoke.json'), join(tmp.dir, 'missing.scxml')], /cannot read .*missing\.scxml/],
        [['flow', 'from-xstate', join(tmp.dir, 'missing.json')], /cannot read/],
        [['demo', 'extra'], /unexpected argument 'extra' for 'stateflow demo'/],
      ]
      for (const [argv, message] of cases) {
        const r = await cli(...argv)
        expect(r.code, argv.join(' ')).toBe(EXIT_USAGE)
        expect(r.stdout).toEqual([])
        expect(r.stderr.join('\n')).toMatch(message)
        expect(r.stderr[0]).toMatch(/^stateflow: /)
      }
    })
  })

  it('spawned: lint exit codes and compile output through the real executable', async () => {
    const spawn = async (...args: string[]) => {
      try {
        const { stdout, stderr } = await exec(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8' })
        return { code: 0, stdout, stderr }
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string }
        return { code: e.code, stdout: e.stdout, stderr: e.stderr }
      }
    }
    const ok = await spawn('flow', 'compile', fixture('guards.json'), '--to', 'json')
    expect(ok).toEqual({ code: 0, stdout: `${canonical('guards.json').json}\n`, stderr: '' })
    const failed = await spawn('flow', 'lint', file('bad.json', bad))
    expect(failed.code).toBe(1)
    expect(failed.stdout).toBe('states.a.on.GO[0].target: error UNKNOWN_TARGET the root has no child "b"\n')
  })
})
