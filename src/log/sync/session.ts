/**
 * One connection running the sync protocol: the handshake, then messages in arrival order. It
 * owns the wire (decode, encode, the frame bound) and the per-connection bookkeeping; what to
 * do with a log's messages is the replicator's.
 *
 * Incoming frames are handled strictly one after another (an `events` frame is ingested before
 * the next frame is looked at), so a `done` is seen only after every event of its answer. Work
 * that sends a lot (answering a `have`) runs beside that chain, so two peers answering each other
 * at once never wait on each other.
 */
import { ClosedError, isStateFlowError } from '../../errors.js'
import { ConnectError, type Connection } from '../../transports/transport.js'
import { randomSeed } from '../crypto-backend.js'
import { publicKeyToDid, type Identity } from '../identity.js'
import { signNonce, verifyNonce } from './handshake.js'
import { AuthError, ProtocolError, decodeMessage, encodeMessage, type Events, type Have, type Message, type Reject } from './messages.js'

export interface SessionHooks {
  /** The peer proved its identity. Return false to refuse it (the session closes). */
  authenticated(session: Session): boolean
  have(session: Session, m: Have): void
  events(session: Session, m: Events): Promise<void>
  reject(session: Session, m: Reject): void
  closed(session: Session, reason: string | undefined): void
}

export interface SessionOptions {
  handshakeTimeoutMs: number
}

export type Direction = 'in' | 'out'

export class Session {
  /** The peer's did, once authenticated. */
  did: string | undefined
  key: Uint8Array | undefined
  readonly openedAt = Date.now()
  /** Logs the peer said it holds (it sent a `have`): live events of these go to it. */
  readonly interested = new Set<string>()
  /** Per log, the id of our last `have` still waiting for its `done`. */
  readonly asking = new Map<string, number>()
  /** Rejected events the peer sent, and rejections it reported of ours. */
  invalidReceived = 0
  rejectedByPeer = 0
  /** When a frame last came in, and last went out (this node's clock: liveness is local knowledge). */
  lastHeard = Date.now()
  lastSent = Date.now()
  private readonly nonce = randomSeed()
  private theirNonce: Uint8Array | undefined
  private chain: Promise<void> = Promise.resolve()
  private timer: ReturnType<typeof setTimeout> | undefined
  private ended = false
  private settle: { resolve: () => void; reject: (e: Error) => void } | undefined
  /** Resolves once the peer has authenticated; rejects if the connection ends before. */
  readonly ready: Promise<void>

  constructor(
    readonly conn: Connection,
    readonly direction: Direction,
    readonly transport: string,
    private readonly identity: Identity,
    private readonly hooks: SessionHooks,
    options: SessionOptions,
  ) {
    this.ready = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }))
    this.ready.catch(() => undefined)
    conn.onFrame((f) => {
      this.lastHeard = Date.now()
      this.chain = this.chain.then(() => this.handle(f))
    })
    conn.onClose((info) => this.end(info.reason))
    this.timer = setTimeout(() => {
      if (this.did === undefined) void this.fail(new AuthError('no authentication within the handshake timeout'))
    }, options.handshakeTimeoutMs)
    void this.send({ t: 'hello', nonce: this.nonce }).catch(() => undefined)
  }

  get open(): boolean {
    return this.did !== undefined && !this.ended
  }

  /** Send one message; fails with `CLOSED` once the connection has ended. */
  async send(m: Message): Promise<void> {
    if (this.ended) throw new ClosedError(`session with ${this.did ?? this.conn.remote}`)
    this.lastSent = Date.now()
    await this.conn.send(encodeMessage(m))
  }

  /** Tell the peer why, then close. */
  async fail(err: Error): Promise<void> {
    if (this.ended) return
    const code = isStateFlowError(err) ? err.code : 'PROTOCOL'
    await this.send({ t: 'error', code, message: err.message.slice(0, 1000) }).catch(() => undefined)
    await this.close(isStateFlowError(err) ? err.message.slice(0, 120) : `${code}: ${err.message.slice(0, 100)}`)
  }

  async close(reason?: string): Promise<void> {
    await this.conn.close(reason)
    this.end(reason)
  }

  private end(reason: string | undefined): void {
    if (this.ended) return
    this.ended = true
    if (this.timer) clearTimeout(this.timer)
    this.settle?.reject(new ConnectError(`connection to ${this.conn.remote} ended before authentication${reason ? `: ${reason}` : ''}`))
    this.settle = undefined
    this.hooks.closed(this, reason)
  }

  private async handle(frame: Uint8Array): Promise<void> {
    if (this.ended) return
    let m: Message | undefined
    try {
      m = decodeMessage(frame)
    } catch (err) {
      await this.fail(err as Error)
      return
    }
    if (m === undefined) return // a type this version does not know
    try {
      await this.dispatch(m)
    } catch (err) {
      if (this.ended) return
      await this.fail(err instanceof Error ? err : new ProtocolError(String(err)))
    }
  }

  private async dispatch(m: Message): Promise<void> {
    switch (m.t) {
      case 'hello':
        // A repeated hello (a duplicating network) changes nothing.
        if (this.theirNonce !== undefined) return
        this.theirNonce = m.nonce
        await this.send({ t: 'auth', key: this.identity.publicKey, sig: await signNonce(this.identity, m.nonce) })
        return
      case 'auth': {
        if (this.did !== undefined) return
        if (!(await verifyNonce(this.identity.backend, m.key, this.nonce, m.sig))) throw new AuthError('the signature over our nonce does not verify')
        this.key = m.key
        this.did = publicKeyToDid(m.key)
        if (this.timer) clearTimeout(this.timer)
        if (!this.hooks.authenticated(this)) {
          await this.close('refused: already connected, or ourselves')
          return
        }
        this.settle?.resolve()
        this.settle = undefined
        return
      }
      case 'error':
        await this.close(`peer error ${m.code}: ${m.message.slice(0, 100)}`)
        return
      case 'ping':
        return // lastHeard is all it is for
    }
    if (this.did === undefined) throw new ProtocolError(`'${m.t}' before authentication`)
    switch (m.t) {
      case 'have':
        this.interested.add(m.log)
        this.hooks.have(this, m)
        return
      case 'events':
        await this.hooks.events(this, m)
        return
      case 'reject':
        this.rejectedByPeer += m.items.length
        this.hooks.reject(this, m)
        return
    }
  }
}
