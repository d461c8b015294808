import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { groupUsage, helpTopic, mainUsage, orList } from '../../src/cli/help.js'
import { bufferOutput, EXIT_OK, EXIT_USAGE, UsageError } from '../../src/cli/io.js'
import { run, USAGE } from '../../src/cli/run.js'
import { tempDir, spawnCli } from './helpers.js'
import { writeStepRun, type RunFixture } from './run-fixtures.js'


const cli = (...args: string[]) => spawnCli(args)

async function inProcess(...argv: string[]) {
  const io = bufferOutput()
  const code = await run(argv, io)
  return { code, stdout: io.stdout.join('\n'), stderr: io.stderr.join('\n') }
}

/** The names in the Commands section of `stateflow --help`. */
function listedCommands(usage: string): string[] {
  const lines = usage.split('\n')
  const from = lines.indexOf('Commands:') + 1
  const to = lines.indexOf('', from)
  return lines.slice(from, to).map((l) => l.trim().split(/\s{2,}/)[0])
}

const EXPECTED = ['demo', 'serve', 'audit verify', 'audit inspect', 'audit export', 'audit replay', 'flow lint', 'flow diff', 'flow compile', 'flow mermaid', 'flow from-xstate']

describe('help - the command list', () => {
  it('help - --help, -h and help print every command, one line each, on stdout with exit 0', async () => {
    for (const argv of [['--help'], ['-h'], ['help'], ['help', '--help']]) {
      const r = await inProcess(...argv)
      expect(r.code, argv.join(' ')).toBe(EXIT_OK)
      expect(r.stderr).toBe('')
      expect(r.stdout).toBe(USAGE)
    }
    expect(listedCommands(USAGE)).toEqual(EXPECTED)
    // One line each: a name, two spaces at least, a summary that fits a terminal.
    for (const line of USAGE.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100)
  })

  it('help - no arguments is the list on stderr with exit 2', async () => {
    const r = await inProcess()
    expect(r.code).toBe(EXIT_USAGE)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe(USAGE)
  })
})

describe('help - per command', () => {
  it('help - every listed command prints its usage for <command> --help, -h and help <command>; all three agree', async () => {
    for (const name of listedCommands(USAGE)) {
      const words = name.split(' ')
      const texts: string[] = []
      for (const argv of [[...words, '--help'], [...words, '-h'], ['help', ...words]]) {
        const r = await inProcess(...argv)
        expect(r.code, argv.join(' ')).toBe(EXIT_OK)
        expect(r.stderr, argv.join(' ')).toBe('')
        expect(r.stdout.split('\n')[0], argv.join(' ')).toMatch(new RegExp(`^Usage: stateflow ${name}\\b`))
        texts.push(r.stdout)
      }
      expect(new Set(texts).size, name).toBe(1)
      // Each usage says what its exit codes mean.
      expect(texts[0], name).toMatch(/\nExit: 0 /)
    }
  })

  it('help - groups list their commands, one line each', async () => {
    for (const [group, names] of [
      ['audit', ['verify', 'inspect', 'export', 'replay']],
      ['flow', ['lint', 'diff', 'compile', 'mermaid', 'from-xstate']],
    ] as const) {
      for (const argv of [[group, '--help'], [group, '-h'], ['help', group]]) {
        const r = await inProcess(...argv)
        expect(r.code, argv.join(' ')).toBe(EXIT_OK)
        expect(r.stdout.split('\n')[0]).toBe(`Usage: stateflow ${group} <${names.join('|')}> ${group === 'audit' ? '--store <path>' : '<file…>'} [options]`)
        for (const n of names) expect(r.stdout.split('\n').filter((l) => l.startsWith(`  ${n} `))).toHaveLength(1)
      }
    }
  })

  it('help - wins over the rest of the line: bad flags, missing arguments, extra words', async () => {
    for (const argv of [
      ['audit', 'verify', '--bogus', '--help'],
      ['audit', 'replay', '--every', '0', '-h'],
      ['flow', 'lint', '--help'],
      ['flow', 'compile', 'a.json', '--to', 'nope', '--help'],
      ['audit', 'replay', 'extra', '--help'],
    ]) {
      const r = await inProcess(...argv)
      expect(r.code, argv.join(' ')).toBe(EXIT_OK)
      expect(r.stdout).toMatch(new RegExp(`^Usage: stateflow ${argv.slice(0, 2).join(' ')}`))
    }
  })

  it('help - unknown topics and bad help lines are exit 2 on stderr', async () => {
    const cases: [string[], RegExp][] = [
      [['help', 'frob'], /unknown command 'frob': expected demo, serve, audit or flow/],
      [['help', 'audit', 'nope'], /unknown command 'audit nope': expected verify, inspect, export or replay \(see 'stateflow audit --help'\)/],
      [['frob', '--help'], /unknown command 'frob'/],
      [['help', '--json'], /unknown flag '--json' for 'stateflow help'/],
      [['--bogus'], /unknown flag '--bogus' for 'stateflow'/],
      [['demo', 'extra'], /unexpected argument 'extra' for 'stateflow demo'/],
      [['flow'], /'stateflow flow' needs a command: lint, diff, compile, mermaid or from-xstate/],
      [['flow', 'lint'], /'stateflow flow lint' needs <file>/],
      [['audit', 'nope'], /unknown command 'audit nope'.*see 'stateflow audit --help'/],
      [['audit', 'replay', '--store', 'x.db'], /'stateflow audit replay' needs --run <value>/],
    ]
    for (const [argv, message] of cases) {
      const r = await inProcess(...argv)
      expect(r.code, argv.join(' ')).toBe(EXIT_USAGE)
      expect(r.stdout, argv.join(' ')).toBe('')
      expect(r.stderr, argv.join(' ')).toMatch(/^stateflow: /)
      expect(r.stderr, argv.join(' ')).toMatch(message)
    }
  })
})

describe('help - texts from a table', () => {
  const table = { 'g one': { summary: 'first', usage: 'Usage: stateflow g one' }, solo: { summary: 'alone', usage: 'Usage: stateflow solo' }, 'g two': { summary: 'second', usage: 'Usage: stateflow g two' } }
  const groups = { g: { takes: '[options]' } }

  it('help-table - a new command shows up in the list, its group and the messages', () => {
    expect(mainUsage(table)).toContain('  g one  first\n  solo   alone\n  g two  second\n')
    expect(groupUsage(table, 'g', groups.g)).toBe("Usage: stateflow g <one|two> [options]\n\n  one  first\n  two  second\n\nRun 'stateflow g <command> --help' for its options.")
    expect(helpTopic(table, groups, [])).toEqual({ kind: 'all' })
    expect(helpTopic(table, groups, ['g'])).toEqual({ kind: 'group', name: 'g' })
    expect(helpTopic(table, groups, ['g', 'two', 'file.json'])).toEqual({ kind: 'command', name: 'g two' })
    expect(helpTopic(table, groups, ['solo', 'x'])).toEqual({ kind: 'command', name: 'solo' })
    expect(() => helpTopic(table, groups, ['nope'])).toThrow(UsageError)
    expect(() => helpTopic(table, groups, ['nope'])).toThrow(/expected g or solo/)
    expect(() => helpTopic(table, groups, ['g', 'three'])).toThrow(/expected one or two/)
    expect(orList(['a'])).toBe('a')
    expect(orList(['a', 'b', 'c'])).toBe('a, b or c')
  })
})

describe('help - spawned', () => {
  let tmp: ReturnType<typeof tempDir>
  let path: string
  let fx: RunFixture
  beforeAll(async () => {
    tmp = tempDir()
    path = join(tmp.dir, 'run.db')
    fx = await writeStepRun(path)
  })
  afterAll(() => tmp.cleanup())

  it('main - help exits 0 on stdout; a usage error exits 2 on stderr', async () => {
    const help = await cli('help', 'audit', 'replay')
    expect(help.code).toBe(EXIT_OK)
    expect(help.stdout).toMatch(/^Usage: stateflow audit replay --store <path> --run <id>/)
    expect(help.stderr).toBe('')
    const bad = await cli('audit', 'replay', '--store', path, '--run', 'run-nope')
    expect(bad.code).toBe(EXIT_USAGE)
    expect(bad.stdout).toBe('')
    expect(bad.stderr).toMatch(/^stateflow: no run "run-nope"/)
  })

  it('main - replay of a real run: stderr is a pipe, so no counter unless --progress', async () => {
    const r = await cli('audit', 'replay', '--store', path, '--run', fx.runId)
    expect(r.code).toBe(EXIT_OK)
    expect(r.stderr).toBe('')
    expect(r.stdout.split('\n').filter((l) => l.startsWith('#'))).toHaveLength(fx.events)
    const p = await cli('audit', 'replay', '--store', path, '--run', fx.runId, '--progress', '--every', '1000')
    expect(p.code).toBe(EXIT_OK)
    expect(p.stderr.startsWith(`\r\x1b[Kreplayed 0 / ${fx.events} events`)).toBe(true)
    expect(p.stderr.endsWith('\r\x1b[K')).toBe(true)
  })
})
