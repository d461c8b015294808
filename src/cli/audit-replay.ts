/**
 * `stateflow audit replay --store <path> --run <id> [--json] [--every <n>]`: time travel over a
 * workflow run's log. The run's events are folded one at a time, in the total order, with the
 * same view every peer folds (`flowRunViewWith(flowStateEngine)`, so FlowState chart runs replay
 * too), and the state is printed after each one.
 *
 * - Text: per event `#<index>  <log time>  <type>  <author>`, then one indented line per change
 *   (replay-changes.ts): the run's status, the chart's configuration, steps whose status, attempt
 *   or holder changed, each claim decision with its verdict and why, warnings.
 * - `--json`: one JSON object per line, `{ index, time, cid, type, author, changes, state }`, the
 *   state whole (DAG-JSON conventions for bytes).
 * - `--every <n>`: only after events n, 2n, 3n, … and the last; the changes are since the line before.
 *
 * A run's log holds its start event first, save for the odd peer announcement that sorts before
 * it, so lines are held back until the run has started, and a log with no valid start among its
 * first `MAX_PRELUDE` events is not a run (exit 2), with nothing printed. Replay reads what the
 * store holds and checks no hash or signature: that is `audit verify`.
 *
 * Exit codes: 0 replayed, 1 an event does not decode, 2 usage, or a store, log or run that does not exist.
 */
import { StateFlowError } from '../errors.js'
import { flowRunViewWith, type FlowRunState } from '../flow/run-view.js'
import { generateIdentity } from '../log/identity.js'
import { Log, type LogEvent } from '../log/log.js'
import { didOf } from '../views/did-memo.js'
import { stringifyDagJson } from './dag-json.js'
import { EXIT_INTEGRITY, EXIT_OK, EXIT_USAGE, withoutCode, type Output } from './io.js'
import { openStore } from './open-store.js'
import { progressFor, type ProgressMode } from './progress.js'
import { describeChanges, markRun, who, type RunMark } from './replay-changes.js'

export interface AuditReplayOptions {
  store: string
  /** The run's id: the id of its log. */
  run: string
  json?: boolean
  /** Print after every n-th event (and the last). @default 1 */
  every?: number
  /** Events per store page. @default 1024 */
  pageSize?: number
  /** The live counter on stderr (progress.ts). @default 'auto': when stderr is a terminal */
  progress?: ProgressMode
  /** The counter's clock, for throttling only. @default Date.now */
  progressNow?: () => number
}

/** Events folded before a log without a valid start event is declared not a run. */
export const MAX_PRELUDE = 1024

export async function auditReplay(options: AuditReplayOptions, io: Output): Promise<number> {
  const every = options.every ?? 1
  const { store, path } = await openStore(options.store)
  try {
    if (!(await store.logs()).includes(options.run)) {
      io.err(`stateflow: no run ${JSON.stringify(options.run)} in ${path}: no log has that id (list them with 'stateflow audit inspect --store ${path}')`)
      return EXIT_USAGE
    }
    // The FlowState engine pulls in xState: loaded here, not when the CLI starts.
    const { flowStateEngine } = await import('../flow/flowstate/engine.js')
    const view = flowRunViewWith(flowStateEngine)
    // A Log only to read: events() decodes pages from the store and never writes, so the
    // identity is a throwaway that signs nothing.
    const log = new Log(options.run, { store, identity: await generateIdentity(), now: () => 0 })
    const total = await store.count(options.run)
    const bar = progressFor(io, options.progress ?? 'auto', 'replayed', 'events', options.progressNow ? { now: options.progressNow } : undefined)
    let state: FlowRunState = view.initial()
    let mark: RunMark = markRun(state)
    let time = 0
    let index = -1
    let printed = -1
    let last: LogEvent | undefined
    // Lines held back until the run has started (see the module comment).
    let held: string[] | undefined = []
    const emit = (line: string): void => {
      if (held) held.push(line)
      else {
        bar.hide()
        io.out(line)
      }
    }
    const print = (e: LogEvent): void => {
      const changes = describeChanges(mark, state)
      mark = markRun(state)
      printed = index
      if (options.json) {
        emit(stringifyDagJson({ index, time, cid: e.cid.toString(), type: e.type, author: didOf(e.author), changes, state }))
        return
      }
      const head = `#${index}  ${isoTime(time)}  ${e.type}  ${who(didOf(e.author), state.peers)}`
      emit(changes.length === 0 ? `${head}  (no change)` : head)
      for (const c of changes) emit(`    ${c}`)
    }
    const events = log.events(options.pageSize ? { pageSize: options.pageSize } : {})
    try {
      bar.update(0, total)
      for (;;) {
        let next: IteratorResult<LogEvent>
        try {
          next = await events.next()
        } catch (err) {
          // A store too damaged to read (CORRUPT) is the CLI's to report; anything else here is an
          // event whose bytes do not decode.
          if (!(err instanceof StateFlowError) || err.code === 'CORRUPT') throw err
          bar.done()
          // Events decode a page at a time: the bad one is somewhere in the page after the last good one.
          const where = index < 0 ? 'among its first events' : `after #${index}`
          io.err(`stateflow: an event of ${options.run} ${where} does not decode (${withoutCode(err)}); check the store with 'stateflow audit verify --store ${path} --log ${options.run}'`)
          return EXIT_INTEGRITY
        }
        if (next.done) break
        const e = next.value
        index++
        last = e
        if (e.time > time) time = e.time
        state = view.reduce(state, e, { log: options.run, time, index })
        if (held && state.status !== 'pending') {
          const lines = held
          held = undefined
          for (const line of lines) emit(line)
        }
        if ((index + 1) % every === 0) print(e)
        if (held && index + 1 >= MAX_PRELUDE) break
        bar.update(index + 1, total)
      }
    } finally {
      bar.done()
      await events.return(undefined)
    }
    if (held) {
      const why = state.warnings.length > 0 ? `: ${state.warnings.map((w) => w.message).join('; ')}` : ''
      const where = index + 1 >= MAX_PRELUDE ? `among its first ${MAX_PRELUDE} events` : `among its ${index + 1} events`
      io.err(`stateflow: log ${JSON.stringify(options.run)} is not a workflow run: no valid stateflow.workflow.started event ${where}${why}`)
      return EXIT_USAGE
    }
    if (last && printed !== index) print(last)
    return EXIT_OK
  } finally {
    await store.close()
  }
}

/** Log time as UTC ISO 8601 with milliseconds; virtual clocks start at 0, which reads as 1970. */
function isoTime(ms: number): string {
  const d = new Date(ms)
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString()
}
