import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { auditExport } from '../../src/cli/audit-export.js'
import { auditInspect } from '../../src/cli/audit-inspect.js'
import { auditVerify } from '../../src/cli/audit-verify.js'
import { bufferOutput, EXIT_OK, EXIT_USAGE, UsageError } from '../../src/cli/io.js'
import { count, noProgress, progressCounter, progressFor, progressMode } from '../../src/cli/progress.js'
import { run } from '../../src/cli/run.js'
import { sqliteFixture } from './helpers.js'

const CLEAR = '\r\x1b[K'

/** A counter on a recording writer and a clock the test moves by hand. */
function fixture(intervalMs?: number) {
  const writes: string[] = []
  let now = 0
  const bar = progressCounter({
    write: (t) => void writes.push(t),
    render: (done, total) => `did ${done}${total === undefined ? '' : `/${total}`}`,
    now: () => now,
    ...(intervalMs !== undefined ? { intervalMs } : {}),
  })
  return { bar, writes, tick: (ms: number) => void (now += ms) }
}

describe('progress - the counter', () => {
  it('progress - the first update draws at once; later ones at most once per interval', () => {
    const { bar, writes, tick } = fixture()
    bar.update(0, 10)
    bar.update(1, 10)
    tick(99)
    bar.update(2, 10)
    expect(writes).toEqual([`${CLEAR}did 0/10`])
    tick(1)
    bar.update(3, 10)
    bar.update(4)
    expect(writes).toEqual([`${CLEAR}did 0/10`, `${CLEAR}did 3/10`])
  })

  it('progress - a thousand updates inside one interval are one write (about 10 per second at the default)', () => {
    const { bar, writes, tick } = fixture()
    for (let i = 0; i < 1000; i++) {
      bar.update(i)
      tick(0.05)
    }
    expect(writes).toHaveLength(1)
    for (let i = 0; i < 1000; i++) {
      bar.update(i)
      tick(1)
    }
    expect(writes.length).toBeLessThanOrEqual(11)
  })

  it('progress - hide erases a drawn counter only; the next due update draws it again', () => {
    const { bar, writes, tick } = fixture(50)
    bar.hide()
    expect(writes).toEqual([])
    bar.update(1)
    bar.hide()
    bar.hide()
    expect(writes).toEqual([`${CLEAR}did 1`, CLEAR])
    tick(50)
    bar.update(2)
    expect(writes.at(-1)).toBe(`${CLEAR}did 2`)
  })

  it('progress - done erases the counter once and silences it for good', () => {
    const { bar, writes, tick } = fixture()
    bar.update(5, 5)
    bar.done()
    bar.done()
    tick(1000)
    bar.update(6, 5)
    expect(writes).toEqual([`${CLEAR}did 5/5`, CLEAR])
    const idle = fixture()
    idle.bar.done()
    expect(idle.writes).toEqual([])
  })

  it('progress - numbers are grouped by three whatever the locale', () => {
    expect([0, 7, 999, 1000, 12_345, 100_000, 1_234_567].map(count)).toEqual(['0', '7', '999', '1,000', '12,345', '100,000', '1,234,567'])
  })

  it('progress - --progress forces on, --no-progress off, neither is auto, both is a usage error', () => {
    expect(progressMode({})).toBe('auto')
    expect(progressMode({ progress: true })).toBe('on')
    expect(progressMode({ 'no-progress': true })).toBe('off')
    expect(() => progressMode({ progress: true, 'no-progress': true })).toThrow(UsageError)
  })

  it('progress - progressFor draws on a terminal in auto mode, never with off or without raw stderr', () => {
    const tty = bufferOutput({ errIsTTY: true })
    const bar = progressFor(tty, 'auto', 'verified')
    bar.update(12_345, 100_000)
    bar.done()
    expect(tty.stderrRaw).toEqual([`${CLEAR}verified 12,345 / 100,000 events`, CLEAR])
    expect(progressFor(bufferOutput({ errIsTTY: false }), 'auto', 'verified')).toBe(noProgress)
    expect(progressFor(bufferOutput({ errIsTTY: true }), 'off', 'verified')).toBe(noProgress)
    expect(progressFor({ out() {}, err() {} }, 'on', 'verified')).toBe(noProgress)
    const forced = bufferOutput()
    progressFor(forced, 'on', 'read', 'things').update(3)
    expect(forced.stderrRaw).toEqual([`${CLEAR}read 3 things`])
  })
})

describe('progress - in the audit commands', () => {
  const fx = sqliteFixture('all', 'store.db')

  /** A clock that moves a second per read: every update draws. */
  const always = () => {
    let t = 0
    return () => (t += 1000)
  }

  it('verify - counts every page of every log up to the total, then erases; the report is unchanged', async () => {
    const io = bufferOutput()
    expect(await auditVerify({ store: fx.path, pageSize: 2, progress: 'on', progressNow: always() }, io)).toBe(EXIT_OK)
    const draws = io.stderrRaw.filter((w) => w !== CLEAR)
    expect(draws[0]).toBe(`${CLEAR}verified 0 / ${fx.written.events} events`)
    expect(draws.at(-1)).toBe(`${CLEAR}verified ${fx.written.events} / ${fx.written.events} events`)
    const counts = draws.map((d) => Number(/verified (\d+) \//.exec(d)![1]))
    expect(counts.every((n, i) => i === 0 || n >= counts[i - 1])).toBe(true)
    expect(io.stderrRaw.at(-1)).toBe(CLEAR)
    const plain = bufferOutput()
    await auditVerify({ store: fx.path, pageSize: 2, progress: 'off' }, plain)
    expect(plain.stderrRaw).toEqual([])
    expect(io.stdout).toEqual(plain.stdout)
  })

  it('inspect and export - the same counter, and the same output as without it', async () => {
    const inspect = bufferOutput()
    expect(await auditInspect({ store: fx.path, pageSize: 3, progress: 'on', progressNow: always() }, inspect)).toBe(EXIT_OK)
    expect(inspect.stderrRaw.filter((w) => w !== CLEAR).at(-1)).toBe(`${CLEAR}read ${fx.written.events} / ${fx.written.events} events`)
    expect(inspect.stderrRaw.at(-1)).toBe(CLEAR)
    const exp = bufferOutput()
    expect(await auditExport({ store: fx.path, log: fx.written.chat, pageSize: 3, progress: 'on', progressNow: always() }, exp)).toBe(EXIT_OK)
    expect(exp.stderrRaw.filter((w) => w !== CLEAR).at(-1)).toBe(`${CLEAR}exported 7 / 7 events`)
    expect(exp.stderrRaw.at(-1)).toBe(CLEAR)
    const plain = bufferOutput()
    await auditExport({ store: fx.path, log: fx.written.chat, progress: 'off' }, plain)
    expect(exp.stdout).toEqual(plain.stdout)
  })

  it('run - every long command takes --progress and --no-progress; a terminal turns it on by default', async () => {
    for (const argv of [
      ['audit', 'verify', '--store', fx.path],
      ['audit', 'inspect', '--store', fx.path],
      ['audit', 'export', '--store', fx.path, '--log', fx.written.chat],
    ]) {
      const on = bufferOutput()
      expect(await run([...argv, '--progress'], on), argv.join(' ')).toBe(EXIT_OK)
      expect(on.stderrRaw[0], argv.join(' ')).toMatch(/^\r\x1b\[K(verified|read|exported) 0 \/ \d+ events$/)
      expect(on.stderrRaw.at(-1)).toBe(CLEAR)
      const off = bufferOutput({ errIsTTY: true })
      expect(await run([...argv, '--no-progress'], off)).toBe(EXIT_OK)
      expect(off.stderrRaw).toEqual([])
      const tty = bufferOutput({ errIsTTY: true })
      expect(await run(argv, tty)).toBe(EXIT_OK)
      expect(tty.stderrRaw.length).toBeGreaterThan(0)
      const pipe = bufferOutput({ errIsTTY: false })
      expect(await run(argv, pipe)).toBe(EXIT_OK)
      expect(pipe.stderrRaw).toEqual([])
      const both = bufferOutput()
      expect(await run([...argv, '--progress', '--no-progress'], both)).toBe(EXIT_USAGE)
      expect(both.stderr[0]).toMatch(/contradict/)
    }
  })
})
