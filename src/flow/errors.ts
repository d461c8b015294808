/** Workflow errors: a definition that cannot run, and the outcomes executors and callers see. */
import { StateFlowError } from '../errors.js'

/** A workflow or step definition that cannot run (unknown step in a link, a cycle, …), thrown when it is defined. */
export class DefinitionError extends StateFlowError {
  constructor(message: string) {
    super('DEFINITION', message)
    this.name = 'DefinitionError'
  }
}

/**
 * Thrown by an executor for a failure no retry can fix (bad input, a refused payment): the step
 * fails at once, whatever its retry policy says.
 */
export class NonRetryableError extends StateFlowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NON_RETRYABLE', message, options)
    this.name = 'NonRetryableError'
  }
}

/** `run.result()` of a run that was cancelled. */
export class CancelledError extends StateFlowError {
  constructor(message: string) {
    super('CANCELLED', message)
    this.name = 'CancelledError'
  }
}

/** `run.result()` of a run that failed: the failing step and its error. */
export class RunFailedError extends StateFlowError {
  constructor(
    message: string,
    readonly step: string | undefined,
    readonly error: { name: string; message: string } | undefined,
  ) {
    super('RUN_FAILED', message)
    this.name = 'RunFailedError'
  }
}
