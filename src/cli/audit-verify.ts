/**
 * `stateflow audit verify --store <path> [--log <id>] [--json] [--strict]`: re-check every log
 * of a store from its bytes (see verify-log.ts for the rules) and report what is wrong. The store
 * is opened read-only (open-store.ts): the audit never changes what it audits.
 *
 * Text output: one line per finding, `<log> <cid> <CODE> <message>` (`-` for log-wide findings;
 * `FORK` lines name the first CID and both CIDs in the message; store-wide findings such as
 * `TORN_TAIL` come first, with `-` for the log too), then a line per log and a summary.
 * `--json`: one JSON document `{ store, kind, ok, exitCode, summary, logs, findings }`; a
 * store-wide finding has `log: ''`.
 *
 * Exit codes: 0 clean (warnings and forks are listed but do not fail), 1 any integrity error,
 * 2 usage or a store/log that does not exist, 3 forks and nothing worse with `--strict`.
 */
import { join } from 'node:path'
import { defaultSigningBackend, type SigningBackend } from '../log/crypto-backend.js'
import { StateFlowError } from '../errors.js'
import type { TornTailInfo } from '../stores/fs-store.js'
import { EXIT_FORKS, EXIT_INTEGRITY, EXIT_OK, EXIT_USAGE, quoteLog, withoutCode, type Output } from './io.js'
import { countEvents, openStore } from './open-store.js'
import { noProgress, progressFor, type ProgressMode } from './progress.js'
import { verifyLog, type Finding, type LogReport } from './verify-log.js'

export interface AuditVerifyOptions {
  store: string
  /** Only this log. @default every log */
  log?: string
  json?: boolean
  /** Exit 3 when forks are found (and no integrity error). */
  strict?: boolean
  /** @default the platform's native backend */
  backend?: SigningBackend
  /** Events per store page. @default 1024 */
  pageSize?: number
  /** The live counter on stderr (progress.ts). @default 'auto': when stderr is a terminal */
  progress?: ProgressMode
  /** The counter's clock, for throttling only. @default Date.now */
  progressNow?: () => number
}

export interface VerifySummary {
  logs: number
  events: number
  errors: number
  warnings: number
  forks: number
}

export async function auditVerify(options: AuditVerifyOptions, io: Output): Promise<number> {
  const { store, kind, path, tornTails } = await openStore(options.store)
  try {
    const all = await store.logs()
    if (options.log !== undefined && !all.includes(options.log)) {
      io.err(`stateflow: no log ${JSON.stringify(options.log)} in ${path}`)
      return EXIT_USAGE
    }
    const backend = options.backend ?? (await defaultSigningBackend())
    const reports: LogReport[] = []
    const logs = options.log !== undefined ? [options.log] : all
    const bar = progressFor(io, options.progress ?? 'auto', 'verified', 'events', options.progressNow ? { now: options.progressNow } : undefined)
    // Counting every log first costs one indexed query each; the total makes the counter worth
    // reading. A store too damaged to count is verify's to report, log by log, so no total then.
    let total: number | undefined
    let done = 0
    if (bar !== noProgress) total = await countEvents(store, logs)
    const onProgress = (n: number): void => bar.update((done += n), total)
    bar.update(0, total)
    try {
      for (const log of logs) {
        try {
          reports.push(await verifyLog(store, log, { backend, onProgress, ...(options.pageSize ? { pageSize: options.pageSize } : {}) }))
        } catch (err) {
          // The medium itself failed its checks (an SQLite page, an fs frame): the log cannot be read.
          if (!(err instanceof StateFlowError && err.code === 'CORRUPT')) throw err
          const finding: Finding = { log, code: 'CORRUPT', severity: 'error', message: withoutCode(err) }
          reports.push({ log, events: 0, heads: [], headsChecked: false, errors: 1, warnings: 0, forks: 0, findings: [finding] })
        }
      }
    } finally {
      bar.done()
    }
    const storeFindings = tornTails.map((t) => tornTailFinding(path, t))
    const summary = summarize(reports)
    summary.warnings += storeFindings.length
    const exitCode = summary.errors > 0 ? EXIT_INTEGRITY : options.strict && summary.forks > 0 ? EXIT_FORKS : EXIT_OK
    const findings = [...storeFindings, ...reports.flatMap((r) => r.findings)]
    if (options.json) {
      io.out(
        JSON.stringify({
          store: path,
          kind,
          ok: summary.errors === 0,
          exitCode,
          summary,
          logs: reports.map(({ findings: _f, ...r }) => r),
          findings,
        }),
      )
      return exitCode
    }
    for (const f of findings) io.out(findingLine(f))
    io.out(`audit verify ${path} (${kind})`)
    for (const r of reports) {
      const note = r.headsChecked ? '' : ' (heads not compared: undecodable events)'
      io.out(`  ${quoteLog(r.log)}: ${plural(r.events, 'event')}, ${plural(r.errors, 'error')}, ${plural(r.warnings, 'warning')}, ${plural(r.forks, 'fork')}${note}`)
    }
    const verdict = summary.errors > 0 ? 'FAILED' : summary.forks > 0 ? 'ok, with forks' : 'ok'
    io.out(`logs ${summary.logs}, events ${summary.events}, errors ${summary.errors}, warnings ${summary.warnings}, forks ${summary.forks}: ${verdict}`)
    return exitCode
  } finally {
    await store.close()
  }
}

export function summarize(reports: readonly LogReport[]): VerifySummary {
  const s: VerifySummary = { logs: reports.length, events: 0, errors: 0, warnings: 0, forks: 0 }
  for (const r of reports) {
    s.events += r.events
    s.errors += r.errors
    s.warnings += r.warnings
    s.forks += r.forks
  }
  return s
}

/**
 * A torn tail the read-only fs store left on disk: a write cut short before it was acknowledged,
 * so a warning, not an error. A read-write open of the store would cut these bytes off.
 */
export function tornTailFinding(storePath: string, t: TornTailInfo): Finding {
  const segment = join(storePath, t.segment)
  const bytes = `${t.bytes} byte${t.bytes === 1 ? '' : 's'}`
  const what = t.at === 0 ? `the segment's ${bytes} are not a whole header (cut while it was being created)` : `${bytes} from byte ${t.at} to the end are not a whole record`
  return {
    log: '',
    code: 'TORN_TAIL',
    severity: 'warning',
    message: `${segment}: ${what}: a write interrupted before it was acknowledged. Not read, left on disk (a read-write open cuts them)`,
    segment,
    at: t.at,
    bytes: t.bytes,
  }
}

/** `<log> <cid> <CODE> <message>` (`-` for no log or no CID); warnings say so in the message. */
export function findingLine(f: Finding): string {
  const message = f.severity === 'warning' ? `(warning) ${f.message}` : f.message
  return `${f.log === '' ? '-' : quoteLog(f.log)} ${f.cid ?? '-'} ${f.code} ${message}`
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}
