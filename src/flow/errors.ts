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

// The signed definition registry (DESIGN §10). A forged manifest signature is `SIGNATURE`
// (`SignatureError` of the log layer: same meaning, one code); no match is `NOT_FOUND`.

/** A definition's manifest is signed, but by no signer the caller trusts. */
export class UntrustedSignerError extends StateFlowError {
  constructor(message: string) {
    super('UNTRUSTED_SIGNER', message)
    this.name = 'UntrustedSignerError'
  }
}

/** A definition's bytes do not hash to its manifest's `contentHash` (or `scxmlHash`): tampered. */
export class HashMismatchError extends StateFlowError {
  constructor(message: string) {
    super('HASH_MISMATCH', message)
    this.name = 'HashMismatchError'
  }
}

/** A definition uses an extension the caller did not allow. */
export class DisallowedExtensionError extends StateFlowError {
  constructor(message: string) {
    super('DISALLOWED_EXTENSION', message)
    this.name = 'DisallowedExtensionError'
  }
}

/** `id@version` is already published with different content; versions are immutable. */
export class ConflictError extends StateFlowError {
  constructor(message: string) {
    super('CONFLICT', message)
    this.name = 'ConflictError'
  }
}
