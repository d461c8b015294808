/**
 * `createXSync()`: a node's handle on its logs. It owns an identity and a store, and hands out one
 * `Log` object per log id.
 *
 * @example
 * const client = await createXSync()
 * const log = client.log('notes')
 * await log.append('app.note', { text: 'hello' })
 * for await (const e of log.events()) console.log(e.seq, e.type, e.body)
 */
import { ClosedError, InvalidArgumentError } from './errors.js'
import { GENESIS_TYPE, encodeEvent, signingMessage } from './codec.js'
import { genesisBody, type LogPolicy } from './event-types.js'
import { generateIdentity, didToPublicKey, type Identity } from './identity.js'
import { randomSeed } from './crypto-backend.js'
import { Log, type LogEvent } from './log.js'
import { memoryStore } from '../stores/memory-store.js'
import { isEventStore, type EventStore } from '../stores/event-store.js'
import type { Connection, Transport } from '../transports/transport.js'
import { Replicator, type PeerInfo, type SyncOptions } from './sync/replicator.js'
import { Connections, type ReconnectOptions } from './sync/connections.js'
import { MAX_RELAY } from './sync/messages.js'

export interface XSyncInit {
  /** @default a fresh identity */
  identity?: Identity
  /** Where events live; the client owns it and closes it in `close()`. @default memoryStore() */
  store?: EventStore
  /** The wall clock for event times and the `FUTURE` check; inject one in tests. @default Date.now */
  now?: () => number
  /** @default 1 MiB */
  maxEventBytes?: number
  /** @default 300000 (5 minutes) */
  maxClockSkewMs?: number
  /** @default 16384 */
  pendingPerPeer?: number
  /** Called with each log as it is first opened (the views layer attaches its hosts here). @internal */
  onLogOpened?: (log: Log) => void
  /** How this node reaches peers: `listen()` uses every one that can listen, `connect(address)` the one that dials it. */
  transports?: Transport[]
  /** Sync protocol settings (which logs to replicate, bounds, timeouts). */
  sync?: SyncOptions
  /** Dial a dropped connection again, backing off; `false` to never. */
  reconnect?: ReconnectOptions | false
}

export interface CreateLogInit {
  /** 'members': only writers and admins append; 'open': anyone descending from the genesis. @default 'members' */
  policy?: LogPolicy
  /** dids of writers besides this node. */
  writers?: string[]
  /** dids of admins besides this node (the creator is always an admin). */
  admins?: string[]
}

export interface XSyncClient {
  readonly identity: Identity
  readonly did: string
  readonly store: EventStore
  /** The log with this id (a plain string for an open log, or `log:<genesis CID>`). */
  log(id: string): Log
  /** Create a log with a policy; its id is `log:<genesis CID>`, so the id certifies the policy. */
  createLog(init?: CreateLogInit): Promise<Log>
  /** Ids of every log in the store. */
  logs(): Promise<string[]>
  /** Accept connections on every transport that listens; resolves with the addresses to dial. */
  listen(): Promise<string[]>
  /**
   * Connect to a peer (an address one of the transports dials, or a ready `Connection`) and
   * resolve once it has proven its identity. Dropped connections are dialed again until
   * `disconnect`.
   */
  connect(to: string | Connection): Promise<PeerInfo>
  /** Close the connection to `address` and stop dialing it. */
  disconnect(address: string): Promise<void>
  /** Peers connected now, authenticated. */
  peers(): PeerInfo[]
  /**
   * Ask every connected peer for what this node lacks of `logId` (and let them ask back);
   * resolves when each has answered, so this node then holds everything they held when they
   * answered. Rejects with `TIMEOUT` if a peer does not answer in `timeoutMs`. With `relay: n`,
   * each peer first does the same with its other peers (n - 1 hops on), so the answer also
   * covers peers reachable only through it.
   */
  sync(logId: string, options?: { timeoutMs?: number; relay?: number }): Promise<void>
  /** Close every connection, every log and the store. Idempotent. */
  close(): Promise<void>
}

export async function createXSync(init: XSyncInit = {}): Promise<XSyncClient> {
  const identity = init.identity ?? (await generateIdentity())
  const store = init.store ?? memoryStore()
  if (!isEventStore(store)) throw new InvalidArgumentError('store must be an EventStore (memoryStore(), sqliteStore(path), …)')
  const now = init.now ?? Date.now
  const logs = new Map<string, Log>()
  let closed = false
  const transports = init.transports ?? []
  if (!Array.isArray(transports) || transports.some((t) => typeof t?.dial !== 'function' || typeof t?.canDial !== 'function')) {
    throw new InvalidArgumentError('transports must be an array of Transport (memoryNetwork().transport(name), webSocketTransport(), …)')
  }

  const open = (id: string): Log => {
    if (closed) throw new ClosedError('client')
    let log = logs.get(id)
    if (!log) {
      log = new Log(id, {
        store,
        identity,
        now,
        ...(init.maxEventBytes !== undefined ? { maxEventBytes: init.maxEventBytes } : {}),
        ...(init.maxClockSkewMs !== undefined ? { maxClockSkewMs: init.maxClockSkewMs } : {}),
        ...(init.pendingPerPeer !== undefined ? { pendingPerPeer: init.pendingPerPeer } : {}),
      })
      logs.set(id, log)
      init.onLogOpened?.(log)
      replicator.track(log)
    }
    return log
  }
  const replicator = new Replicator({ identity, store, log: open, isOpen: (id) => logs.has(id) }, init.sync)
  const connections = new Connections(transports, replicator, init.reconnect)

  return {
    identity,
    did: identity.did,
    store,
    log: open,
    async createLog(options: CreateLogInit = {}) {
      if (closed) throw new ClosedError('client')
      const policy = options.policy ?? 'members'
      if (policy !== 'open' && policy !== 'members') throw new InvalidArgumentError(`unknown policy ${String(policy)}`)
      for (const d of [...(options.writers ?? []), ...(options.admins ?? [])]) didToPublicKey(d)
      const body = genesisBody(policy, [identity.did, ...(options.admins ?? [])], options.writers ?? [], randomSeed().slice(0, 16))
      const fields = { v: 1 as const, log: '', author: identity.publicKey, seq: 1, prev: null, parents: [], clock: 1, time: now(), type: GENESIS_TYPE, body }
      const { bytes, cid } = encodeEvent(fields)
      const event: LogEvent = { ...fields, cid, bytes, sig: await identity.sign(signingMessage(cid)) }
      const log = open(`log:${cid.toString()}`)
      await log.appendGenesis(event)
      return log
    },
    logs() {
      if (closed) return Promise.reject(new ClosedError('client'))
      return store.logs()
    },
    listen: () => connections.listen(),
    connect: (to) => connections.connect(to),
    disconnect: (address) => connections.disconnect(address),
    peers: () => replicator.peers(),
    sync(logId, options = {}) {
      if (closed) return Promise.reject(new ClosedError('client'))
      if (options.relay !== undefined && (!Number.isInteger(options.relay) || options.relay < 0 || options.relay > MAX_RELAY)) {
        return Promise.reject(new InvalidArgumentError(`sync relay must be an integer from 0 to ${MAX_RELAY}`))
      }
      return replicator.sync(logId, options.timeoutMs, options.relay ?? 0)
    },
    async close() {
      if (closed) return
      closed = true
      await connections.close()
      await replicator.close()
      await Promise.all(transports.map((t) => t.close?.()))
      await Promise.all([...logs.values()].map((l) => l.close()))
      await store.close()
    },
  }
}
