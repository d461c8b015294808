/**
 * The transport plug point: connections that carry framed binary messages both ways. Transports
 * know nothing of events or logs; the sync protocol (`src/log/sync/`) runs over any of them.
 *
 * Point-to-point media (memory, WebSocket, HTTP + SSE, libp2p streams) map a connection to their
 * own channel; bus-like media (BroadcastChannel) name the sender and recipient in every message
 * and present each pair of endpoints as one connection. Every implementation passes the shared
 * suite in `test/conformance/transport/`.
 */
import { StateFlowError } from '../errors.js'

/** The default bound on one frame: room for a 1 MiB event plus the message around it. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024

/** How a connection ended. */
export interface CloseInfo {
  /** True when this side called `close()`. */
  local: boolean
  /** The reason given by whichever side closed, when one was given. */
  reason?: string
  /** Set when the connection failed rather than being closed. */
  error?: Error
}

export interface Connection {
  /** The transport's name for the other end (an address or a label). Not authenticated. */
  readonly remote: string
  /** The largest frame `send` accepts. Both ends of a connection use the same bound. */
  readonly maxFrameBytes: number
  /** True once the connection has ended (closed by either side or failed). */
  readonly closed: boolean
  /**
   * Queue one frame for the other end. Frames arrive whole and in send order. Resolves once the
   * transport has taken the frame and its send buffer is below its high-water mark, so a bulk
   * sender that awaits each call never holds more than about one buffer in memory.
   * Rejects with `TOO_LARGE` (the connection stays open) past `maxFrameBytes`, and with
   * `CLOSED` once the connection has ended. The caller may reuse `frame` after the call.
   */
  send(frame: Uint8Array): Promise<void>
  /**
   * Set the one receiver of incoming frames. Frames that arrived before it was set are handed
   * to it first, in order. A handler that throws does not break the connection.
   */
  onFrame(handler: (frame: Uint8Array) => void): void
  /** Called once when the connection ends; at once if it already has. */
  onClose(handler: (info: CloseInfo) => void): void
  /** End the connection; the other end sees `reason`. Idempotent. */
  close(reason?: string): Promise<void>
}

/** What `listen` returns: where others can dial in, and a way to stop accepting. */
export interface Listening {
  readonly addresses: readonly string[]
  /** Stop accepting; connections already open stay open. Idempotent. */
  close(): Promise<void>
}

export interface Transport {
  /** Short name of the medium: `memory`, `broadcast-channel`, `websocket`, `http-sse`, `libp2p`. */
  readonly kind: string
  /** Whether `dial` understands this address (by its scheme or form). */
  canDial(address: string): boolean
  /** Open a connection to `address`. Rejects with `CONNECT` when nobody answers there. */
  dial(address: string): Promise<Connection>
  /** Accept connections until the returned handle is closed. Absent on dial-only transports. */
  listen?(onConnection: (conn: Connection) => void): Promise<Listening>
  /** Stop listening and close every connection this transport made or accepted. */
  close?(): Promise<void>
}

/** A dial that reached nobody, or a connection that failed while opening. */
export class ConnectError extends StateFlowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONNECT', message, options)
    this.name = 'ConnectError'
  }
}

/** A frame larger than the connection's `maxFrameBytes`. */
export class FrameTooLargeError extends StateFlowError {
  constructor(size: number, max: number) {
    super('TOO_LARGE', `frame of ${size} bytes is over the ${max}-byte bound`)
    this.name = 'FrameTooLargeError'
  }
}

export function isConnection(x: unknown): x is Connection {
  return typeof x === 'object' && x !== null && typeof (x as Connection).send === 'function' && typeof (x as Connection).onFrame === 'function'
}
