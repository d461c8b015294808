/**
 * What every command shares: the output sink, the exit codes and the CLI's typed errors.
 * Commands write through an `Output` rather than `process.stdout`, so tests call them in-process.
 */
import { StateFlowError } from '../errors.js'

/** Where a command writes. Each call is one line (no trailing newline). */
export interface Output {
  out(line: string): void
  err(line: string): void
  /** Raw text to stderr, no newline added: the live progress counter (progress.ts). Absent: no counter. */
  errRaw?(text: string): void
  /** stderr is a terminal, so the counter shows unless `--no-progress`. */
  errIsTTY?: boolean
}

/**
 * Exit codes, shared by every command:
 * - 0: done, nothing wrong (forks are listed but are evidence, not corruption);
 * - 1: an integrity problem was found (verify), an event could not be decoded (export, replay), the
 *   demo's run did not complete or its peers disagree (demo), or a FlowState file has errors
 *   (flow; lint warnings too with --strict);
 * - 2: usage: unknown command or flag, missing argument, store or log that does not exist, a
 *   log that is not a workflow run (replay), a file that cannot be read;
 * - 3: `audit verify --strict` found forks and nothing worse.
 */
export const EXIT_OK = 0
export const EXIT_INTEGRITY = 1
export const EXIT_USAGE = 2
export const EXIT_FORKS = 3

/** A bad command line: unknown command or flag, a missing value. Exit code 2. */
export class UsageError extends StateFlowError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message)
    this.name = 'UsageError'
  }
}

/** Why a store could not be opened. */
export type OpenStoreReason = 'missing' | 'unknown-kind'

/** `--store` names nothing, or something that is not a store. Exit code 2. */
export class OpenStoreError extends StateFlowError {
  readonly reason: OpenStoreReason
  readonly path: string
  constructor(reason: OpenStoreReason, path: string, message: string) {
    super(reason === 'missing' ? 'NOT_FOUND' : 'INVALID_ARGUMENT', message)
    this.name = 'OpenStoreError'
    this.reason = reason
    this.path = path
  }
}

/** An Output that collects lines (and raw stderr writes: the counter), for tests and for callers that post-process. */
export function bufferOutput(init: { errIsTTY?: boolean } = {}): Output & { stdout: string[]; stderr: string[]; stderrRaw: string[] } {
  const stdout: string[] = []
  const stderr: string[] = []
  const stderrRaw: string[] = []
  return {
    stdout,
    stderr,
    stderrRaw,
    out: (l) => void stdout.push(l),
    err: (l) => void stderr.push(l),
    errRaw: (t) => void stderrRaw.push(t),
    errIsTTY: init.errIsTTY === true,
  }
}

/** Print a command's failure: typed CLI errors as their message with exit 2, anything else rethrown. */
export function usageExit(err: unknown, io: Output): number {
  if (err instanceof UsageError || err instanceof OpenStoreError) {
    io.err(`stateflow: ${withoutCode(err)}`)
    return EXIT_USAGE
  }
  throw err
}

/** The message without its `CODE: ` prefix: the CLI speaks to people. */
export function withoutCode(err: StateFlowError): string {
  const prefix = `${err.code}: `
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message
}

/** Log ids are free strings: quote the ones that would break a space-separated line. */
export function quoteLog(log: string): string {
  return /^[\x21-\x7e]+$/.test(log) && !log.startsWith('"') ? log : JSON.stringify(log)
}
