/**
 * The shared benchmark harness: options, median-of-N timing, GC between runs, formatting and the
 * printed table. Benchmarks print figures; they assert nothing.
 *
 * Every figure is a rate (per second) measured `runs` times (3 by default); the table shows the
 * median and the individual runs. A figure may carry a target (an issue's goal); the table says
 * whether the median reached it.
 */
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import v8 from 'node:v8'
import vm from 'node:vm'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'

// --- options -----------------------------------------------------------------------------

export interface BenchOptions {
  /** Smaller counts (`--quick`), for a fast look; the figures are noisier. */
  quick: boolean
  /** Timed runs per figure; the median is reported. `--runs N`, @default 3 */
  runs: number
  /** Characters of the `payload` string in each event body. `--payload N`, @default 32 (≈ 245-byte events) */
  payload: number
  /** Modules to run (run-all only): `--only crypto,append`. */
  only?: string[]
  /** Only figures whose id contains one of these substrings: `--filter ingest.sqlite`. */
  filter?: string[]
}

export function parseArgs(argv: readonly string[] = process.argv.slice(2)): BenchOptions {
  const opts: BenchOptions = { quick: false, runs: 3, payload: 32 }
  const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined]
    const value = (): string | undefined => inline ?? argv[++i]
    if (flag === '--quick') opts.quick = true
    else if (flag === '--runs') opts.runs = Math.max(1, Number(value()) | 0)
    else if (flag === '--payload') opts.payload = Math.max(0, Number(value()) | 0)
    else if (flag === '--only') opts.only = list(value())
    else if (flag === '--filter') opts.filter = list(value())
    else if (flag === '--help' || flag === '-h') {
      console.log(
        'usage: npm run bench -- [--quick] [--runs N] [--payload N] [--only crypto,append,ingest,scan,codec,sync,views] [--filter id-substring]\n' +
          '       node --import tsx bench/<module>.ts [same options]',
      )
      process.exit(0)
    } else if (a !== '--') console.warn(`bench: ignoring unknown argument ${a}`)
  }
  return opts
}

/** Whether a figure with this id should run under `--filter`. */
export function wanted(opts: BenchOptions, id: string): boolean {
  return !opts.filter || opts.filter.some((f) => id.includes(f))
}

/** `full` normally, `quick` under `--quick`. */
export function count(opts: BenchOptions, full: number, quick: number): number {
  return opts.quick ? quick : full
}

// --- figures -------------------------------------------------------------------------------

export interface Target {
  /** The median must be at least this (rates). */
  min?: number
  /** The median must be at most this (latencies). */
  max?: number
  /** How the target reads in the table, e.g. `≥ 50,000/s` or `≥ 75% of sign`. */
  text: string
}

export interface Figure {
  /** Stable short id, e.g. `ingest.sqlite`; what `--filter` matches. */
  id: string
  /** Section heading in the table. */
  section: string
  /** What was measured. */
  name: string
  /** Unit of the rate, e.g. `events/s`. */
  unit: string
  /** Rate of each timed run. */
  runs: number[]
  median: number
  target?: Target
  /** Extra context printed beside the figure (sizes, cores used, ratios). */
  note?: string
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Whether a figure's median meets its target. */
export function reached(f: Figure): boolean {
  if (!f.target) return true
  return (f.target.min === undefined || f.median >= f.target.min) && (f.target.max === undefined || f.median <= f.target.max)
}

export function figure(f: Omit<Figure, 'median'>): Figure {
  return { ...f, median: median(f.runs) }
}

// --- timing --------------------------------------------------------------------------------

const gcFn: (() => void) | undefined = (() => {
  try {
    v8.setFlagsFromString('--expose-gc')
    return vm.runInNewContext('gc') as () => void
  } catch {
    return undefined
  }
})()

/** A full garbage collection, so one run's garbage is not charged to the next. */
export function collectGarbage(): void {
  gcFn?.()
}

/**
 * A full collection, then a pause while the engine's background threads sweep what it freed: a
 * run timed right after `collectGarbage` shares the CPU with that sweeping (on this 2-core
 * machine the view fold measured 6% slower for it).
 */
export async function collectGarbageAndSettle(ms = 150): Promise<void> {
  gcFn?.()
  await new Promise((resolve) => setTimeout(resolve, ms))
}

export const now = (): number => performance.now()

/** Keeps results alive so the optimizer cannot drop the work that made them. */
export let sink: unknown
export function consume(x: unknown): void {
  sink = x
}

export interface RunResult {
  /** Operations done in the timed part. */
  ops: number
  /** Seconds the timed part took. */
  seconds: number
  /** CPU seconds (user + system, all threads) the process used in the timed part. */
  cpuSeconds: number
}

/**
 * Time `body` once: `setup` and `teardown` are not timed. The body returns how many operations it
 * did (or undefined for `ops`).
 */
export async function timeOnce<S>(
  ops: number,
  setup: () => S | Promise<S>,
  body: (s: S) => unknown,
  teardown?: (s: S) => unknown,
): Promise<RunResult> {
  const state = await setup()
  collectGarbage()
  const cpu0 = process.cpuUsage()
  const t0 = now()
  const done = await body(state)
  const t1 = now()
  const cpu = process.cpuUsage(cpu0)
  await teardown?.(state)
  const n = typeof done === 'number' ? done : ops
  return { ops: n, seconds: (t1 - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
}

/** `runs` timed runs (after an optional untimed warm-up); rates per second of each. */
export async function measure<S>(
  opts: BenchOptions,
  spec: {
    ops: number
    setup: () => S | Promise<S>
    body: (s: S) => unknown
    teardown?: (s: S) => unknown
    /** An untimed run first (e.g. with smaller inputs) so the JIT has warmed up. */
    warmup?: () => unknown
  },
): Promise<{ rates: number[]; results: RunResult[] }> {
  if (spec.warmup) await spec.warmup()
  const results: RunResult[] = []
  for (let r = 0; r < opts.runs; r++) results.push(await timeOnce(spec.ops, spec.setup, spec.body, spec.teardown))
  return { rates: results.map((x) => x.ops / x.seconds), results }
}

/**
 * Operations per second of a synchronous function: calibrates a batch size (which also warms
 * up), then `runs` timed runs of about `ms` each.
 */
export function opsPerSecond(opts: BenchOptions, fn: (i: number) => unknown, ms = opts.quick ? 150 : 400): number[] {
  // Calibrate (also the warm-up): grow the batch until it takes ≥ 20 ms.
  let n = 64
  for (;;) {
    const t0 = now()
    for (let i = 0; i < n; i++) consume(fn(i))
    const dt = now() - t0
    if (dt >= 20) {
      n = Math.max(1, Math.round((n * ms) / dt))
      break
    }
    n *= 2
  }
  const rates: number[] = []
  for (let r = 0; r < opts.runs; r++) {
    collectGarbage()
    const t0 = now()
    for (let i = 0; i < n; i++) consume(fn(i))
    rates.push(n / ((now() - t0) / 1000))
  }
  return rates
}

/**
 * Like `opsPerSecond` for an async operation with `inFlight` calls outstanding at a time. Also
 * returns, per run, the cores it kept busy: CPU seconds of the whole process (libuv's pool
 * included) over wall seconds.
 */
export async function asyncOpsPerSecond(
  opts: BenchOptions,
  fn: (i: number) => Promise<unknown>,
  inFlight: number,
  total: number,
): Promise<{ rates: number[]; cores: number[] }> {
  const once = async (n: number): Promise<{ rate: number; cores: number }> => {
    const cpu0 = process.cpuUsage()
    const t0 = now()
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < n) consume(await fn(next++))
    }
    await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker))
    const seconds = (now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    return { rate: n / seconds, cores: (cpu.user + cpu.system) / 1e6 / seconds }
  }
  await once(Math.min(total, 2048)) // warm-up
  const rates: number[] = []
  const cores: number[] = []
  for (let r = 0; r < opts.runs; r++) {
    collectGarbage()
    const x = await once(total)
    rates.push(x.rate)
    cores.push(x.cores)
  }
  return { rates, cores }
}

// --- formatting ----------------------------------------------------------------------------

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  if (n >= 100) return Math.round(n).toLocaleString('en-US')
  if (n >= 10) return n.toFixed(1)
  return n.toFixed(2)
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

export function fmtBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`
}

export function cores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length
}

export function machine(): string {
  const model = os.cpus()[0]?.model?.replace(/\s+/g, ' ').trim() ?? 'unknown CPU'
  return `${model}, ${cores()} cores, ${fmtBytes(os.totalmem())} RAM, Node ${process.version}, ${os.platform()} ${os.release()}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}`
}

/** The git commit the sources are at (and whether the tree has changes), if git is there. */
export function sourceVersion(): string {
  try {
    const run = (...args: string[]): string => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const head = run('log', '-1', '--format=%h %cd', '--date=format:%Y-%m-%d %H:%M')
    const dirty = run('status', '--porcelain', '--', 'src').length > 0
    return `${head}${dirty ? ' + uncommitted changes in src/' : ''}`
  } catch {
    return 'unknown (no git)'
  }
}

/** The OS load average: above the core count, other processes were competing for the CPU. */
export function loadavg(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ')
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n)
}

/** Print figures as a table, grouped by section. */
export function printTable(figures: readonly Figure[], title = 'stateflow benchmarks'): void {
  const rows = figures.map((f) => ({
    f,
    name: f.name,
    median: `${fmt(f.median)} ${f.unit}`,
    runs: f.runs.map(fmt).join(' / '),
    target: f.target ? f.target.text : '',
    reached: f.target ? (reached(f) ? 'yes' : 'NO') : '',
  }))
  const w = {
    name: Math.max(6, ...rows.map((r) => r.name.length)),
    median: Math.max(6, ...rows.map((r) => r.median.length)),
    runs: Math.max(4, ...rows.map((r) => r.runs.length)),
    target: Math.max(6, ...rows.map((r) => r.target.length)),
  }
  const line = (a: string, b: string, c: string, d: string, e: string): string =>
    `${pad(a, w.name)}  ${pad(b, w.median, true)}  ${pad(c, w.runs, true)}  ${pad(d, w.target)}  ${e}`
  console.log('')
  console.log(title)
  console.log(line('figure', 'median', 'runs', 'target', 'reached'))
  console.log('-'.repeat(w.name + w.median + w.runs + w.target + 16))
  let section = ''
  for (const r of rows) {
    if (r.f.section !== section) {
      section = r.f.section
      console.log(`[${section}]`)
    }
    console.log(line(r.name, r.median, r.runs, r.target, r.reached))
    if (r.f.note) console.log(`    ${r.f.note}`)
  }
  console.log('')
}

/** Print one figure as soon as it is measured (progress while the whole run goes on). */
export function progress(f: Figure): void {
  const t = f.target ? `  target ${f.target.text}: ${reached(f) ? 'reached' : 'NOT reached'}` : ''
  console.log(`  ${f.id.padEnd(28)} ${fmt(f.median).padStart(12)} ${f.unit}  (runs ${f.runs.map(fmt).join(' / ')})${t}`)
}

// --- modules -------------------------------------------------------------------------------

export interface BenchModule {
  name: string
  run(opts: BenchOptions): Promise<Figure[]>
}

/** Whether the file with this `import.meta.url` is the process's entry point. */
export function isMain(url: string): boolean {
  const entry = process.argv[1]
  if (!entry) return false
  const href = pathToFileURL(entry).href
  return url === href || url === href.replace(/\.ts$/, '.js') || url.replace(/\.ts$/, '') === href.replace(/\.ts$/, '')
}

/** Run modules in order, print progress and then the table. */
export async function runModules(modules: readonly BenchModule[], opts: BenchOptions): Promise<Figure[]> {
  const started = now()
  console.log(`stateflow benchmarks — ${new Date().toISOString()}`)
  console.log(`machine: ${machine()}`)
  console.log(`sources: ${sourceVersion()}`)
  console.log(`load average at start (1/5/15 min): ${loadavg()}`)
  if (os.loadavg()[0] > cores() * 0.75) {
    console.log('WARNING: other processes are using the CPU; figures will be low and noisy (see the load average at the end too)')
  }
  console.log(
    `options: ${opts.quick ? 'quick' : 'full'} counts, median of ${opts.runs} run${opts.runs === 1 ? '' : 's'}, event body { payload: ${opts.payload} chars, i }` +
      (opts.filter ? `, filter ${opts.filter.join(',')}` : ''),
  )
  const all: Figure[] = []
  for (const m of modules) {
    console.log(`\n== ${m.name}`)
    const t0 = now()
    const figs = await m.run(opts)
    all.push(...figs)
    console.log(`   (${((now() - t0) / 1000).toFixed(1)} s)`)
  }
  printTable(all)
  console.log(`total ${((now() - started) / 1000).toFixed(1)} s; load average at end (1/5/15 min): ${loadavg()}`)
  return all
}
