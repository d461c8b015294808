/**
 * Ingest errors: one class per stable code. Every rejected event gets one; nothing is stored.
 * Tests assert the `code`, never the message.
 */
import { StateFlowError } from '../errors.js'

export { StateFlowError, ClosedError, CorruptError, InvalidArgumentError, NotFoundError, isStateFlowError } from '../errors.js'
export type { ErrorCode } from '../errors.js'

/** Not DAG-CBOR, the wrong shape, or not canonical (re-encoding differs from the bytes). */
export class DecodeError extends StateFlowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DECODE', message, options)
    this.name = 'DecodeError'
  }
}

/** Larger than the bound (an event's bytes, a batch, a message), checked before decoding. */
export class TooLargeError extends StateFlowError {
  constructor(message: string) {
    super('TOO_LARGE', message)
    this.name = 'TooLargeError'
  }
}

/** A signature that does not verify under the author's key. */
export class SignatureError extends StateFlowError {
  constructor(message: string) {
    super('SIGNATURE', message)
    this.name = 'SignatureError'
  }
}

/** `clock` is not exactly 1 + max(clock of prev and parents). */
export class ClockError extends StateFlowError {
  constructor(message: string) {
    super('CLOCK', message)
    this.name = 'ClockError'
  }
}

/** `seq` does not follow `prev` (or `prev` is by another author or log, or null past seq 1). */
export class SeqError extends StateFlowError {
  constructor(message: string) {
    super('SEQ', message)
    this.name = 'SeqError'
  }
}

/** A parent belongs to another log. */
export class ParentLogError extends StateFlowError {
  constructor(message: string) {
    super('PARENT_LOG', message)
    this.name = 'ParentLogError'
  }
}

/** The author may not write this log (membership in the event's causal past). */
export class UnauthorizedError extends StateFlowError {
  constructor(message: string) {
    super('UNAUTHORIZED', message)
    this.name = 'UnauthorizedError'
  }
}

/** `time` is more than the allowed skew ahead of the receiver's clock. */
export class FutureError extends StateFlowError {
  constructor(message: string) {
    super('FUTURE', message)
    this.name = 'FutureError'
  }
}

/** The pending buffer for one peer is full. */
export class PendingOverflowError extends StateFlowError {
  constructor(message: string) {
    super('PENDING_OVERFLOW', message)
    this.name = 'PendingOverflowError'
  }
}
