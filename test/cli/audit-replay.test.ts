import { createHash } from 'node:crypto'
import { copyFileSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { auditReplay, MAX_PRELUDE } from '../../src/cli/audit-replay.js'
import { bufferOutput, EXIT_INTEGRITY, EXIT_OK, EXIT_USAGE } from '../../src/cli/io.js'
import { describeChanges, markRun, shortDid, valueText } from '../../src/cli/replay-changes.js'
import { run } from '../../src/cli/run.js'
import { initialRunState, type FlowRunState } from '../../src/flow/run-view.js'
import { createXSync } from '../../src/log/client.js'
import { fsStore } from '../../src/stores/fs-store.js'
import { sqliteStore } from '../../src/stores/sqlite-store.js'
import { tempDir, writeFixture } from './helpers.js'
import { writeChartRun, writeStepRun, type RunFixture } from './run-fixtures.js'

interface Line {
  index: number
  time: number
  cid: string
  type: string
  author: string
  changes: string[]
  state: FlowRunState
}

/**
 * Hash and mtime of every store file in a directory: replay must leave them as they were. SQLite
 * opens a WAL-mode file with an empty -wal and a -shm (its shared-memory index) even read-only:
 * those hold nothing of the store, so an empty -wal and any -shm are left out.
 */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    const st = statSync(p)
    if (name.endsWith('-shm') || (name.endsWith('-wal') && st.size === 0)) continue
    out[name] = `${createHash('sha256').update(readFileSync(p)).digest('hex')} ${st.mtimeMs}`
  }
  return out
}

async function replay(argv: string[], tty = false) {
  const io = bufferOutput({ errIsTTY: tty })
  const code = await run(['audit', 'replay', ...argv], io)
  return { code, io }
}

const HEAD = /^#(\d+) {2}(\S+) {2}(\S+) {2}(.+?)(?: {2}\(no change\))?$/

describe('audit replay - a step workflow run on two peers, SQLite store', () => {
  let tmp: ReturnType<typeof tempDir>
  let path: string
  let fx: RunFixture
  beforeAll(async () => {
    tmp = tempDir()
    path = join(tmp.dir, 'server-1.db')
    fx = await writeStepRun(path)
  })
  afterAll(() => tmp.cleanup())

  it('replay - one block per event in total order: index, log time, type, author, then what changed', async () => {
    const before = fingerprint(tmp.dir)
    const { code, io } = await replay(['--store', path, '--run', fx.runId])
    expect(io.stderr).toEqual([])
    expect(code).toBe(EXIT_OK)
    const heads = io.stdout.filter((l) => l.startsWith('#')).map((l) => HEAD.exec(l))
    expect(heads.every((m) => m !== null)).toBe(true)
    expect(heads.map((m) => Number(m![1]))).toEqual([...Array(fx.events).keys()])
    expect(heads[0]![3]).toBe('stateflow.workflow.started')
    // Log time never goes back: it is the largest event time so far.
    const times = heads.map((m) => Date.parse(m![2]))
    expect(times.every((t, i) => i === 0 || t >= times[i - 1])).toBe(true)
    const text = io.stdout.join('\n')
    expect(text).toContain('    run pending → running (workflow replay.steps@1.0.0)')
    expect(text).toMatch(/ {4}peer …\S{6} announced server-1 \(server\)/)
    expect(text).toMatch(/ {4}step prep: ready → claimed, attempt 1, held by …\S{6} \(server-\d\)/)
    expect(text).toMatch(/ {4}step prep: claim by …\S{6} \(server-\d\) won: /)
    // The failed first attempt of flaky, its retry, and the optimistic step's duplicate.
    expect(text).toMatch(/ {4}step flaky: running → retrying, attempt 1/)
    expect(text).toMatch(/ {4}step flaky: retrying → ready, attempt 1 → 2/)
    expect(text).toMatch(/ {4}step enrich: result by …\S{6} \(server-\d\) duplicate: /)
    expect(text).toContain('    run running → completed')
    expect(text).toContain('    run end recorded (completed)')
    // Every claim decision of the run is printed once, with its verdict and why.
    const decisions = Object.values(fx.final.steps).flatMap((s) => s.decisions)
    expect(io.stdout.filter((l) => / (claim|renew|release|result) by .+ (won|lost|ignored|renewed|released|accepted|duplicate|stale): /.test(l))).toHaveLength(decisions.length)
    expect(fingerprint(tmp.dir)).toEqual(before)
  })

  it('replay - --json: one object per event with the whole state; the last state is the one the runtime reached', async () => {
    const before = fingerprint(tmp.dir)
    const { code, io } = await replay(['--store', path, '--run', fx.runId, '--json'])
    expect(code).toBe(EXIT_OK)
    const lines = io.stdout.map((l) => JSON.parse(l) as Line)
    expect(lines.map((l) => l.index)).toEqual([...Array(fx.events).keys()])
    expect(lines[0]).toMatchObject({ type: 'stateflow.workflow.started', state: { status: 'running', runId: fx.runId } })
    expect(lines[0].author).toMatch(/^did:key:z/)
    expect(lines[0].cid).toMatch(/^bafy/)
    expect(lines.at(-1)!.state).toEqual(JSON.parse(JSON.stringify(fx.final)))
    expect(fingerprint(tmp.dir)).toEqual(before)
  })

  it('replay - --every n prints after events n, 2n, … and the last, with the changes since the line before', async () => {
    const { code, io } = await replay(['--store', path, '--run', fx.runId, '--every', '5'])
    expect(code).toBe(EXIT_OK)
    const indexes = io.stdout.filter((l) => l.startsWith('#')).map((l) => Number(HEAD.exec(l)![1]))
    const want = [...Array(fx.events).keys()].filter((i) => (i + 1) % 5 === 0)
    if (want.at(-1) !== fx.events - 1) want.push(fx.events - 1)
    expect(indexes).toEqual(want)
    // Nothing is lost between printed lines: the first one shows the start and the first claim.
    const first = io.stdout.slice(0, io.stdout.findIndex((l, i) => i > 0 && l.startsWith('#'))).join('\n')
    expect(first).toContain('run pending → running')
    expect(first).toMatch(/step prep: claim by .* won/)
    const json = await replay(['--store', path, '--run', fx.runId, '--every', '5', '--json'])
    expect(json.io.stdout.map((l) => (JSON.parse(l) as Line).index)).toEqual(want)
  })

  it('replay - --every larger than the log prints the last event only', async () => {
    const { code, io } = await replay(['--store', path, '--run', fx.runId, '--every', '100000'])
    expect(code).toBe(EXIT_OK)
    expect(io.stdout.filter((l) => l.startsWith('#'))).toHaveLength(1)
    expect(io.stdout[0]).toMatch(new RegExp(`^#${fx.events - 1} `))
  })

  it('replay - the counter on stderr: on with --progress, off with --no-progress, by the terminal otherwise; cleared at the end', async () => {
    const on = await replay(['--store', path, '--run', fx.runId, '--progress'])
    expect(on.code).toBe(EXIT_OK)
    expect(on.io.stderrRaw[0]).toBe(`\r\x1b[Kreplayed 0 / ${fx.events} events`)
    expect(on.io.stderrRaw.at(-1)).toBe('\r\x1b[K')
    expect(on.io.stderr).toEqual([])
    // The output is the same with and without the counter.
    const off = await replay(['--store', path, '--run', fx.runId, '--no-progress'], true)
    expect(off.io.stderrRaw).toEqual([])
    expect(off.io.stdout).toEqual(on.io.stdout)
    expect((await replay(['--store', path, '--run', fx.runId], true)).io.stderrRaw[0]).toMatch(/^\r\x1b\[Kreplayed 0 \//)
    expect((await replay(['--store', path, '--run', fx.runId], false)).io.stderrRaw).toEqual([])
  })

  it('replay - with a clock that always allows a draw, the counter counts every event and lifts itself off before output', async () => {
    const io = bufferOutput()
    let t = 0
    const events: string[] = []
    const spy = { ...io, out: (l: string) => void events.push(`out ${l.slice(0, 3)}`), errRaw: (x: string) => void events.push(`raw ${x}`) }
    expect(await auditReplay({ store: path, run: fx.runId, every: 5, progress: 'on', progressNow: () => (t += 1000) }, spy)).toBe(EXIT_OK)
    const draws = events.filter((e) => e.startsWith('raw \r\x1b[Kreplayed'))
    expect(draws).toHaveLength(fx.events + 1)
    expect(draws.at(-1)).toBe(`raw \r\x1b[Kreplayed ${fx.events} / ${fx.events} events`)
    // Never a line of output straight after a drawn counter: it is erased first.
    events.forEach((e, i) => {
      if (e.startsWith('out') && i > 0) expect(events[i - 1], `before event ${i}`).toMatch(/^(out|raw \r\x1b\[K$)/)
    })
    expect(events.filter((e) => e.startsWith('out #'))).toHaveLength(Math.ceil(fx.events / 5))
    expect(events.slice(events.findLastIndex((e) => e.startsWith('raw'))).at(0)).toBe('raw \r\x1b[K')
  })
})

describe('audit replay - a FlowState chart run', () => {
  let tmp: ReturnType<typeof tempDir>
  let path: string
  let fx: RunFixture
  beforeAll(async () => {
    tmp = tempDir()
    path = join(tmp.dir, 'chart.db')
    fx = await writeChartRun(path)
  })
  afterAll(() => tmp.cleanup())

  it('replay - the configuration after each event, the invocation as a step, the output', async () => {
    const before = fingerprint(tmp.dir)
    const { code, io } = await replay(['--store', path, '--run', fx.runId])
    expect(io.stderr).toEqual([])
    expect(code).toBe(EXIT_OK)
    const text = io.stdout.join('\n')
    expect(text).toContain('    run pending → running (chart replay.chart@1.0.0)')
    expect(text).toContain('    chart idle\n')
    expect(text).toMatch(/ {4}signal CHECKOUT by …\S{6} \(n1\)\n {4}step charge#1: ready, attempt 1/)
    expect(text).toContain('    chart idle → charging')
    expect(text).toMatch(/ {4}step charge#1: claim by …\S{6} \(n1\) won: /)
    expect(text).toContain('    chart charging → paid')
    expect(text).toContain('    output {"receipt":"r-30"}')
    expect(io.stdout.filter((l) => l.startsWith('#'))).toHaveLength(fx.events)
    expect(fingerprint(tmp.dir)).toEqual(before)
  })

  it('replay - --json carries chart.value after every event; the last state is the runtime\'s', async () => {
    const { code, io } = await replay(['--store', path, '--run', fx.runId, '--json'])
    expect(code).toBe(EXIT_OK)
    const lines = io.stdout.map((l) => JSON.parse(l) as Line)
    const values = lines.map((l) => l.state.chart?.value)
    expect(values[0]).toBe('idle')
    expect(values).toContain('charging')
    expect(values.at(-1)).toBe('paid')
    expect(lines.at(-1)!.state).toEqual(JSON.parse(JSON.stringify(fx.final)))
  })
})

describe('audit replay - an fs store', () => {
  it('replay - the chart run from an fs store directory: the same lines, the segments untouched', async () => {
    const tmp = tempDir()
    try {
      const dir = join(tmp.dir, 'fs-store')
      const fx = await writeChartRun(dir, fsStore(dir))
      const before = fingerprint(dir)
      const { code, io } = await replay(['--store', dir, '--run', fx.runId])
      expect(code).toBe(EXIT_OK)
      expect(io.stdout.filter((l) => l.startsWith('#'))).toHaveLength(fx.events)
      expect(io.stdout.join('\n')).toContain('    chart charging → paid')
      expect(fingerprint(dir)).toEqual(before)
    } finally {
      tmp.cleanup()
    }
  })
})

describe('audit replay - bad input', () => {
  let tmp: ReturnType<typeof tempDir>
  let path: string
  let chat: string
  let runId: string
  beforeAll(async () => {
    tmp = tempDir()
    path = join(tmp.dir, 'mixed.db')
    chat = (await writeFixture(sqliteStore(path))).chat
    runId = (await writeChartRun(join(tmp.dir, 'run.db'))).runId
  })
  afterAll(() => tmp.cleanup())

  it('replay - a missing store, a missing run and a log that is not a run are exit 2 with nothing on stdout', async () => {
    const before = fingerprint(tmp.dir)
    const cases: [string[], RegExp][] = [
      [['--store', join(tmp.dir, 'absent.db'), '--run', 'r'], /no store at .*absent\.db: the path does not exist/],
      [['--store', path, '--run', 'nope'], /no run "nope" in .*mixed\.db: no log has that id/],
      [['--store', path, '--run', chat], /log "chat" is not a workflow run: no valid stateflow\.workflow\.started event among its 7 events/],
      [['--store', path], /needs --run/],
      [['--run', 'r'], /needs --store/],
      [['--store', path, '--run', 'r', '--every', '0'], /--every needs a whole number from 1, not "0"/],
      [['--store', path, '--run', 'r', '--every', '2.5'], /--every needs a whole number/],
      [['--store', path, '--run', 'r', '--every', '-3'], /--every needs a value|--every needs a whole number/],
      [['--store', path, '--run', 'r', '--progress', '--no-progress'], /contradict/],
      [['--store', path, '--run', 'r', 'extra'], /unexpected argument 'extra'/],
    ]
    for (const [argv, message] of cases) {
      const { code, io } = await replay(argv)
      expect(code, argv.join(' ')).toBe(EXIT_USAGE)
      expect(io.stdout, argv.join(' ')).toEqual([])
      expect(io.stderr.join('\n'), argv.join(' ')).toMatch(message)
      expect(io.stderr[0]).toMatch(/^stateflow: /)
    }
    expect(fingerprint(tmp.dir)).toEqual(before)
  })

  it('replay - a log whose start event is not a workflow definition is not a run, and says why', async () => {
    const bad = join(tmp.dir, 'bad-start.db')
    const client = await createXSync({ store: sqliteStore(bad) })
    await client.log('run-fake').append('stateflow.workflow.started', { workflow: { nope: true }, hash: 'x', input: null })
    await client.log('run-fake').append('stateflow.step.claimed', { step: 'a', attempt: 1 })
    await client.close()
    const { code, io } = await replay(['--store', bad, '--run', 'run-fake'])
    expect(code).toBe(EXIT_USAGE)
    expect(io.stdout).toEqual([])
    expect(io.stderr[0]).toMatch(/is not a workflow run: .*among its 2 events: a start event without a workflow definition; stateflow\.step\.claimed before the run started/)
  })

  it(`replay - a log with no start among its first ${MAX_PRELUDE} events stops there`, async () => {
    const big = join(tmp.dir, 'big.db')
    const client = await createXSync({ store: sqliteStore(big) })
    await client.log('busy').appendBatch(Array.from({ length: MAX_PRELUDE + 10 }, (_, i) => ({ type: 'app.tick', body: { i } })))
    await client.close()
    const { code, io } = await replay(['--store', big, '--run', 'busy', '--json'])
    expect(code).toBe(EXIT_USAGE)
    expect(io.stdout).toEqual([])
    expect(io.stderr[0]).toMatch(new RegExp(`not a workflow run: no valid stateflow.workflow.started event among its first ${MAX_PRELUDE} events`))
  })

  it('replay - an event whose bytes no longer decode: exit 1, the events before it printed, verify named', async () => {
    const copy = join(tmp.dir, 'damaged.db')
    copyFileSync(join(tmp.dir, 'run.db'), copy)
    const db = new Database(copy)
    const row = db.prepare('SELECT cid, body, cid_len, sig_len FROM events ORDER BY clock DESC LIMIT 1').get() as { cid: Buffer; body: Buffer; cid_len: number; sig_len: number | null }
    const body = Buffer.from(row.body)
    body[row.cid_len + (row.sig_len ?? 0)] ^= 0xff
    db.prepare('UPDATE events SET body = ? WHERE cid = ?').run(body, row.cid)
    db.close()
    // Pages of two: the pages before the damaged event's are printed.
    const io = bufferOutput()
    expect(await auditReplay({ store: copy, run: runId, pageSize: 2 }, io)).toBe(EXIT_INTEGRITY)
    expect(io.stdout[0]).toMatch(/^#0 /)
    expect(io.stderr.join('\n')).toMatch(/an event of run-\S+ after #\d+ does not decode .*'stateflow audit verify --store .*damaged\.db --log run-/)
    const whole = await replay(['--store', copy, '--run', runId])
    expect(whole.code).toBe(EXIT_INTEGRITY)
    expect(whole.io.stderr[0]).toMatch(/^stateflow: an event of run-\S+ (after #\d+|among its first events) does not decode/)
  })
})

describe('replay-changes - pure', () => {
  it('changes - a fresh state against itself has none; a started run names its run, steps and decisions', () => {
    const s = initialRunState()
    expect(describeChanges(markRun(s), s)).toEqual([])
    const mark = markRun(s)
    s.status = 'running'
    s.workflow = { id: 'w', version: '1', hash: 'h' }
    s.steps.a = { status: 'claimed', attempt: 1, claimedBy: 'did:key:z6MkABCDEFGHIJKLMNOP', duplicates: 0, decisions: [{ cid: 'c', kind: 'claim', by: 'did:key:z6MkABCDEFGHIJKLMNOP', time: 1, verdict: 'won', why: 'first claim' }] }
    s.peers['did:key:z6MkABCDEFGHIJKLMNOP'] = { spec: { id: 'n1', kind: 'server', capabilities: ['gpu'] } }
    s.warnings.push({ message: 'odd', cid: null, time: 1 })
    expect(describeChanges(mark, s)).toEqual([
      'run pending → running (workflow w@1)',
      'peer …KLMNOP announced n1 (server: gpu)',
      'step a: claimed, attempt 1, held by …KLMNOP (n1)',
      'step a: claim by …KLMNOP (n1) won: first claim',
      'warning: odd',
    ])
  })

  it('changes - short dids and one-line values', () => {
    expect(shortDid('did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK')).toBe('…ta2doK')
    expect(shortDid('short')).toBe('short')
    expect(valueText('plain')).toBe('plain')
    expect(valueText({ a: new Uint8Array(3) })).toBe('{"a":"<3 bytes>"}')
    expect(valueText('x'.repeat(500))).toHaveLength(200)
  })
})
