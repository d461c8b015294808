/**
 * The error base shared by every layer. Each failure has a stable `code`; tests and callers
 * branch on the code, never on the message. The message starts with the code so logs read well.
 *
 * It lives at the root, importing nothing, so that stores (a plug point below `log`) can throw
 * `CLOSED` and `CORRUPT` without importing upward.
 */
export type ErrorCode =
  | 'DECODE'
  | 'TOO_LARGE'
  | 'SIGNATURE'
  | 'CLOCK'
  | 'SEQ'
  | 'PARENT_LOG'
  | 'UNAUTHORIZED'
  | 'FUTURE'
  | 'PENDING_OVERFLOW'
  | 'CLOSED'
  | 'CORRUPT'
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'CONNECT'
  | 'PROTOCOL'
  | 'AUTH'
  | 'TIMEOUT'
  | 'DEFINITION'
  | 'NON_RETRYABLE'
  | 'CANCELLED'
  | 'RUN_FAILED'
  | 'UNTRUSTED_SIGNER'
  | 'HASH_MISMATCH'
  | 'DISALLOWED_EXTENSION'
  | 'CONFLICT'
  | 'METHOD_NOT_ALLOWED'
  | 'UNAVAILABLE'
  | 'INTERNAL'

export class StateFlowError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options)
    this.code = code
    this.name = 'StateFlowError'
  }
}

/** Use of a store, log or client after `close()`. */
export class ClosedError extends StateFlowError {
  constructor(what = 'resource') {
    super('CLOSED', `${what} is closed`)
    this.name = 'ClosedError'
  }
}

/** Stored data failed an integrity check that cutting a torn tail cannot explain. */
export class CorruptError extends StateFlowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CORRUPT', message, options)
    this.name = 'CorruptError'
  }
}

/** A caller passed an argument of the wrong shape (an empty log id, a bad did, …). */
export class InvalidArgumentError extends StateFlowError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message)
    this.name = 'InvalidArgumentError'
  }
}

/** A looked-up thing (a log, a CID) does not exist. */
export class NotFoundError extends StateFlowError {
  constructor(message: string) {
    super('NOT_FOUND', message)
    this.name = 'NotFoundError'
  }
}

export function isStateFlowError(err: unknown): err is StateFlowError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string' && err.message.startsWith(`${(err as StateFlowError).code}:`)
}
