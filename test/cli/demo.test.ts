import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bufferOutput, EXIT_OK, EXIT_USAGE } from '../../src/cli/io.js'
import { run } from '../../src/cli/run.js'
import { DEMO_NODES, demoWorkflow } from '../../src/cli/demo-workflow.js'
import { tempDir, spawnCli } from './helpers.js'


const cli = (...args: string[]) => spawnCli(args, { timeoutMs: 90_000 })

interface Progress {
  at: number
  step: string
  status: string
  attempt: number
  node?: string
  detail: string
  index: number
}

const LINE = /^\s+\+(\d+\.\d{3})s {2}(\S+)\s+(\S+)\s+attempt (\d+)(?:\s+on (\S+))?\s*(.*)$/

function progressOf(lines: string[]): Progress[] {
  const out: Progress[] = []
  lines.forEach((l, index) => {
    const m = LINE.exec(l)
    if (m) out.push({ at: Number(m[1]), step: m[2], status: m[3], attempt: Number(m[4]), node: m[5], detail: m[6], index })
  })
  return out
}

/** What every successful demo prints, whichever peer happens to win which claim. A failure shows the whole output. */
function expectSuccessfulDemo(stdout: string): void {
  try {
    checkDemo(stdout)
  } catch (err) {
    if (err instanceof Error) err.message += `\n--- the demo printed ---\n${stdout}`
    throw err
  }
}

function checkDemo(stdout: string): void {
  const lines = stdout.split('\n')
  const progress = progressOf(lines)
  const of = (step: string, status?: string) => progress.filter((p) => p.step === step && (status === undefined || p.status === status))
  // Every step succeeds, and says so on a progress line.
  for (const id of demoWorkflow.order) expect(of(id, 'succeeded'), `${id} succeeded`).not.toHaveLength(0)
  // The retry: attempt 1 of checksum fails and is retried, attempt 2 succeeds.
  const retrying = of('checksum', 'retrying')
  expect(retrying.map((p) => p.attempt)).toContain(1)
  expect(retrying[0].detail).toContain('staged failure of attempt 1')
  expect(of('checksum', 'succeeded').every((p) => p.attempt === 2)).toBe(true)
  // The durable timer: sleeping, then fired no earlier than it said.
  const [sleeping] = of('cool-off', 'sleeping')
  const fires = Number(/timer fires at \+(\d+\.\d{3})s/.exec(sleeping.detail)![1])
  expect(of('cool-off', 'succeeded')[0].at).toBeGreaterThanOrEqual(fires - 0.002)
  // The signal: the wait waits, the demo sends it from browser-1, then the wait succeeds with it.
  const [waiting] = of('approval', 'awaiting-signal')
  const sent = lines.findIndex((l) => l.includes(`>> ${DEMO_NODES.browser} sends signal 'approve'`))
  expect(sent).toBeGreaterThan(waiting.index)
  expect(of('approval', 'succeeded')[0].index).toBeGreaterThan(sent)
  expect(of('approval', 'succeeded')[0].detail).toContain('editor@browser-1')
  // Placement and authority: the browser-only step ran on the browser-kind node, publish on server-1.
  expect(of('preview', 'succeeded').at(-1)!.node).toBe(DEMO_NODES.browser)
  expect(of('publish', 'succeeded').at(-1)!.node).toBe(DEMO_NODES.server1)
  // Fan-in: publish moved (ready, or already claimed: observing coalesces states) only after the five branches had all succeeded.
  const publishFirst = of('publish')[0].index
  for (const id of ['frequencies', 'checksum', 'stats', 'preview', 'approval']) expect(of(id, 'succeeded')[0].index).toBeLessThan(publishFirst)

  // The summary.
  expect(stdout).toMatch(/^ {2}run {8}run-[0-9a-f]{40} \(demo\.text-digest 1\.0\.0\)$/m)
  expect(stdout).toMatch(/^ {2}status {5}completed in \d+ ms$/m)
  expect(stdout).toMatch(/^ {2}events {5}\d+ in the run's log$/m)
  const output = JSON.parse(/^ {2}output {5}(.*)$/m.exec(stdout)![1]) as Record<string, unknown>
  expect(output).toMatchObject({ title: 'Hope Is the Thing with Feathers', words: 23, distinct: 19, top: 'the x4, and x2, all x1', longest: 'feathers', approvedBy: 'editor@browser-1', publishedOn: 'server-1' })
  expect(output.checksum).toMatch(/^[0-9a-f]{16}$/)
  expect(stdout).toMatch(/^ {2}step {7}checksum +succeeded +on \S+ +2 attempts \(attempt 1 failed on \S+, attempt 2 succeeded on \S+\)$/m)
  expect(stdout).toMatch(/^ {2}peers {6}server-1, server-2, browser-1 hold the same heads for the run's log: yes \(\d+ heads?, (\d+)\/\1\/\1 events\)$/m)
  expect(lines.filter(Boolean).at(-1)).toBe('ok: the run completed on three peers and all three agree.')
}

describe('cli - demo', () => {
  it('demo - three peers over WebSocket run the workflow to completion and agree; the temp dir is removed (real process)', async () => {
    const { code, stdout, stderr } = await cli('demo')
    expect(stderr).toBe('')
    expect(code).toBe(EXIT_OK)
    expectSuccessfulDemo(stdout)
    const dir = /^stores in (.*) \(a temp dir, removed at the end; --keep keeps it\)$/m.exec(stdout)![1]
    expect(existsSync(dir)).toBe(false)
  })

  it('demo - with --dir the three SQLite files stay, verify clean, and a rerun replaces them', async () => {
    const tmp = tempDir('sf-demo-')
    try {
      for (let i = 0; i < 2; i++) {
        const io = bufferOutput()
        const code = await run(['demo', '--dir', tmp.dir], io)
        expect(io.stderr).toEqual([])
        expect(code).toBe(EXIT_OK)
        expectSuccessfulDemo(io.stdout.join('\n'))
      }
      for (const node of Object.values(DEMO_NODES)) {
        const file = join(tmp.dir, `${node}.db`)
        expect(existsSync(file)).toBe(true)
        const io = bufferOutput()
        expect(await run(['audit', 'verify', '--store', file], io)).toBe(EXIT_OK)
        // One run per store: the rerun replaced the files.
        expect(io.stdout.join('\n')).toMatch(/logs 1, events \d+, errors 0, warnings 0, forks 0: ok/)
      }
    } finally {
      tmp.cleanup()
    }
  })

  it('demo - --help explains the run and the options', async () => {
    const io = bufferOutput()
    expect(await run(['demo', '--help'], io)).toBe(EXIT_OK)
    const text = io.stdout.join('\n')
    expect(text).toContain('Usage: stateflow demo [--dir <path>] [--keep]')
    for (const word of ['three peers', 'SQLite', 'WebSocket', 'retried', 'timer', "signal 'approve'", 'browser-kind', '--dir <path>', '--keep', 'Exit:']) expect(text).toContain(word)
    const top = bufferOutput()
    expect(await run(['--help'], top)).toBe(EXIT_OK)
    // The list has one line per command; its flags are in 'stateflow demo --help'.
    expect(top.stdout.join('\n')).toMatch(/^ {2}demo +a workflow on three peers/m)
  })

  it('demo - bad input: an unknown flag, a missing value, a stray argument, a file as --dir exit 2 with a message', async () => {
    const tmp = tempDir('sf-demo-')
    try {
      const file = join(tmp.dir, 'a-file')
      writeFileSync(file, 'x')
      const cases: [string[], RegExp][] = [
        [['demo', '--dri', tmp.dir], /unknown flag '--dri' for 'stateflow demo'/],
        [['demo', '--dir'], /flag '--dir' needs a value/],
        [['demo', '--keep=yes'], /flag '--keep' takes no value/],
        [['demo', 'now'], /unexpected argument 'now'/],
        [['demo', '--dir', file], /not a directory/],
      ]
      for (const [argv, message] of cases) {
        const io = bufferOutput()
        expect(await run(argv, io), argv.join(' ')).toBe(EXIT_USAGE)
        expect(io.stdout).toEqual([])
        expect(io.stderr.join('\n')).toMatch(message)
      }
    } finally {
      tmp.cleanup()
    }
  })
})
