/**
 * What every connection does the same way, whatever carries its frames: the frame bound on both
 * directions, buffering frames that arrive before a handler is set, ending exactly once, and
 * refusing sends after the end. A transport subclasses it and supplies `transmit` and
 * `shutdown`, and calls `deliver` and `ended` as its medium reports.
 */
import { ClosedError } from '../errors.js'
import { FrameTooLargeError, type CloseInfo, type Connection } from './transport.js'

export abstract class BaseConnection implements Connection {
  private frameHandler: ((frame: Uint8Array) => void) | undefined
  private early: Uint8Array[] = []
  private readonly closeHandlers: ((info: CloseInfo) => void)[] = []
  private endInfo: CloseInfo | undefined

  constructor(
    readonly remote: string,
    readonly maxFrameBytes: number,
  ) {}

  get closed(): boolean {
    return this.endInfo !== undefined
  }

  /** How the connection ended, once it has. */
  get closeInfo(): CloseInfo | undefined {
    return this.endInfo
  }

  async send(frame: Uint8Array): Promise<void> {
    if (this.endInfo !== undefined) throw new ClosedError(`connection to ${this.remote}`)
    if (!(frame instanceof Uint8Array)) throw new TypeError('a frame is a Uint8Array')
    if (frame.length > this.maxFrameBytes) throw new FrameTooLargeError(frame.length, this.maxFrameBytes)
    return this.transmit(frame)
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.frameHandler = handler
    const queued = this.early
    this.early = []
    for (const f of queued) this.deliver(f)
  }

  onClose(handler: (info: CloseInfo) => void): void {
    const info = this.endInfo
    if (info !== undefined) queueMicrotask(() => handler(info))
    else this.closeHandlers.push(handler)
  }

  async close(reason?: string): Promise<void> {
    if (this.endInfo !== undefined) return
    this.ended({ local: true, ...(reason !== undefined ? { reason } : {}) })
    await this.shutdown(reason)
  }

  /** Carry one checked frame (not over the bound, connection open). Resolve under the high-water mark. */
  protected abstract transmit(frame: Uint8Array): Promise<void>

  /** Release the medium after a local close; the other end should see `reason`. */
  protected abstract shutdown(reason?: string): Promise<void> | void

  /** The medium brought a frame. One over the bound ends the connection: the peer broke the contract. */
  protected deliver(frame: Uint8Array): void {
    if (this.endInfo !== undefined) return
    if (frame.length > this.maxFrameBytes) {
      const error = new FrameTooLargeError(frame.length, this.maxFrameBytes)
      this.ended({ local: true, reason: error.message, error })
      void this.shutdown(error.message)
      return
    }
    const handler = this.frameHandler
    if (handler === undefined) {
      this.early.push(frame)
      return
    }
    try {
      handler(frame)
    } catch {
      // A receiver's bug is its own; the connection carries on.
    }
  }

  /** The connection is over (from either side, or a failure). Only the first call counts. */
  protected ended(info: CloseInfo): void {
    if (this.endInfo !== undefined) return
    this.endInfo = info
    this.early = []
    for (const h of this.closeHandlers.splice(0)) {
      try {
        h(info)
      } catch {
        // As for frame handlers.
      }
    }
  }
}
