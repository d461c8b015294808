/**
 * Where connections come from: listening on every transport that can, dialing addresses through
 * the transport that understands them, and dialing again after a dialed connection drops
 * (backing off), until `disconnect` or close. Accepted connections are the other side's to
 * re-establish.
 */
import { ClosedError, InvalidArgumentError } from '../../errors.js'
import { isConnection, type Connection, type Listening, type Transport } from '../../transports/transport.js'
import type { PeerInfo, Replicator } from './replicator.js'
import type { Session } from './session.js'

export interface ReconnectOptions {
  /** First wait after a drop. @default 250 */
  minDelayMs?: number
  /** Longest wait between attempts. @default 10000 */
  maxDelayMs?: number
}

interface Target {
  address: string
  transport: Transport
  /** The did this address answered with last. */
  did?: string
  session?: Session
  delay: number
  timer?: ReturnType<typeof setTimeout>
  stopped: boolean
}

export class Connections {
  private readonly listenings: Listening[] = []
  private readonly targets = new Map<string, Target>()
  private closed = false
  private readonly minDelay: number
  private readonly maxDelay: number
  private readonly reconnect: boolean

  constructor(
    private readonly transports: readonly Transport[],
    private readonly replicator: Replicator,
    reconnect: ReconnectOptions | false | undefined,
  ) {
    this.reconnect = reconnect !== false
    this.minDelay = (reconnect || {}).minDelayMs ?? 250
    this.maxDelay = (reconnect || {}).maxDelayMs ?? 10_000
    replicator.onPeerChange = (did, up) => {
      if (up) return
      // A peer we dial lost its last connection (perhaps one it had dialed): dial it again.
      for (const t of this.targets.values()) if (t.did === did && !t.session) this.schedule(t)
    }
  }

  /** Listen on every transport that can; the addresses others can dial. */
  async listen(): Promise<string[]> {
    if (this.closed) throw new ClosedError('client')
    const out: string[] = []
    for (const t of this.transports) {
      if (!t.listen) continue
      const l = await t.listen((conn) => {
        try {
          this.replicator.attach(conn, 'in', t.kind)
        } catch {
          // Closed client: attach already closed the connection.
        }
      })
      this.listenings.push(l)
      out.push(...l.addresses)
    }
    return out
  }

  /** Dial (or adopt) a connection and resolve with the peer once it has authenticated. */
  async connect(to: string | Connection): Promise<PeerInfo> {
    if (this.closed) throw new ClosedError('client')
    if (isConnection(to)) {
      const s = this.replicator.attach(to, 'out', 'custom')
      await s.ready
      return this.info(s)
    }
    if (typeof to !== 'string' || to.length === 0) throw new InvalidArgumentError('connect takes an address or a Connection')
    const transport = this.transports.find((t) => t.canDial(to))
    if (!transport) throw new InvalidArgumentError(`no transport of this client dials ${to.slice(0, 120)} (transports: ${this.transports.map((t) => t.kind).join(', ') || 'none'})`)
    let target = this.targets.get(to)
    if (target?.session?.open) return this.info(target.session)
    if (!target) {
      target = { address: to, transport, delay: this.minDelay, stopped: false }
      this.targets.set(to, target)
    }
    target.stopped = false
    try {
      return await this.dial(target)
    } catch (err) {
      this.targets.delete(to)
      throw err
    }
  }

  private async dial(t: Target): Promise<PeerInfo> {
    const conn = await t.transport.dial(t.address)
    if (this.closed || t.stopped) {
      await conn.close('client closed')
      throw new ClosedError('client')
    }
    const s = this.replicator.attach(conn, 'out', t.transport.kind)
    t.session = s
    s.conn.onClose(() => {
      if (t.session === s) t.session = undefined
      this.schedule(t)
    })
    try {
      await s.ready
    } catch (err) {
      // Refused as a second connection to a peer we already have: that one serves.
      const other = s.did !== undefined ? this.replicator.session(s.did) : undefined
      if (!other?.open) throw err
    }
    t.did = s.did
    t.delay = this.minDelay
    return this.info(this.replicator.session(s.did!) ?? s)
  }

  private schedule(t: Target): void {
    if (!this.reconnect || this.closed || t.stopped || t.timer || t.session) return
    // Connected through another connection (one it dialed, say): wait for that one to drop.
    if (t.did !== undefined && this.replicator.session(t.did)?.open) return
    const wait = t.delay
    t.delay = Math.min(this.maxDelay, t.delay * 2)
    t.timer = setTimeout(() => {
      t.timer = undefined
      if (this.closed || t.stopped) return
      this.dial(t).catch(() => this.schedule(t))
    }, wait)
  }

  /** Stop dialing `address` and close its connection. */
  async disconnect(address: string): Promise<void> {
    const t = this.targets.get(address)
    if (!t) return
    t.stopped = true
    if (t.timer) clearTimeout(t.timer)
    this.targets.delete(address)
    await t.session?.close('disconnected')
  }

  private info(s: Session): PeerInfo {
    const p = this.replicator.peers().find((x) => x.did === s.did)
    if (!p) throw new ClosedError(`connection to ${s.conn.remote}`)
    return p
  }

  async close(): Promise<void> {
    this.closed = true
    for (const t of this.targets.values()) {
      t.stopped = true
      if (t.timer) clearTimeout(t.timer)
    }
    this.targets.clear()
    await Promise.all(this.listenings.map((l) => l.close()))
  }
}
