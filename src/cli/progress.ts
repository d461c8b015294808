/**
 * A live counter on stderr for the CLI's long loops (`verified 12,345 / 100,000 events`).
 *
 * - It redraws one line in place (`\r` + text + erase to end of line), at most once per
 *   `intervalMs` of the injected clock, so a tight loop calling `update` costs a clock read, not
 *   a terminal write; `done()` erases the line, so what follows starts on a clean line.
 * - It shows by default only when stderr is a terminal: a counter in a log file or a pipe is noise.
 *   `--progress` forces it on, `--no-progress` off (tests force it on with a recording writer).
 * - Output meant for stdout may share the terminal: commands call `hide()` before printing a
 *   line, and the next throttled update draws the counter again below it.
 */
import { UsageError, type Output } from './io.js'

export interface Progress {
  /** `done` items of `total` (if known) are finished; draws when the interval has passed. */
  update(done: number, total?: number): void
  /** Erase the counter if it is on screen (before other output); the next update redraws it. */
  hide(): void
  /** Erase the counter for good; later calls do nothing. Idempotent. */
  done(): void
}

export interface ProgressInit {
  /** Raw text to the terminal, no newline added. */
  write(text: string): void
  /** The line for `done` of `total`, e.g. `verified 12,345 / 100,000 events`. */
  render(done: number, total?: number): string
  /** Milliseconds, for throttling only. @default Date.now */
  now?: () => number
  /** Least time between two draws; 100 ms is ~10 updates per second. @default 100 */
  intervalMs?: number
}

/** `\r`, then erase from the cursor to the end of the line (ECMA-48 EL 0). */
const CLEAR = '\r\x1b[K'

export function progressCounter(init: ProgressInit): Progress {
  const now = init.now ?? Date.now
  const interval = init.intervalMs ?? 100
  let last = -Infinity
  let shown = false
  let finished = false
  return {
    update(done, total) {
      if (finished) return
      const t = now()
      if (t - last < interval) return
      last = t
      init.write(`${CLEAR}${init.render(done, total)}`)
      shown = true
    },
    hide() {
      if (!shown) return
      init.write(CLEAR)
      shown = false
    },
    done() {
      this.hide()
      finished = true
    },
  }
}

/** A counter that never draws. */
export const noProgress: Progress = Object.freeze({ update() {}, hide() {}, done() {} })

export type ProgressMode = 'auto' | 'on' | 'off'

/** `--progress` / `--no-progress` (both at once is a usage error); neither is `auto`. */
export function progressMode(flags: Readonly<Record<string, string | boolean | undefined>>): ProgressMode {
  if (flags.progress === true && flags['no-progress'] === true) throw new UsageError("'--progress' and '--no-progress' contradict each other")
  return flags.progress === true ? 'on' : flags['no-progress'] === true ? 'off' : 'auto'
}

/** The flags every command with a counter declares. */
export const PROGRESS_FLAGS = { progress: 'boolean', 'no-progress': 'boolean' } as const

/**
 * A counter on `io`'s stderr when the mode and the terminal say so: `auto` draws only when
 * `io.errIsTTY`; an `io` without `errRaw` (no raw stderr to draw on) never draws.
 */
export function progressFor(io: Output, mode: ProgressMode, verb: string, unit = 'events', clock?: { now?: () => number; intervalMs?: number }): Progress {
  const write = io.errRaw
  if (write === undefined || mode === 'off' || (mode === 'auto' && io.errIsTTY !== true)) return noProgress
  return progressCounter({
    write: (text) => write.call(io, text),
    render: (done, total) => `${verb} ${count(done)}${total === undefined ? '' : ` / ${count(total)}`} ${unit}`,
    ...clock,
  })
}

/** `12,345`: digits grouped by three whatever the locale, so tests and logs read the same. */
export function count(n: number): string {
  return Math.trunc(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}
