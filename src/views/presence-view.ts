/**
 * The durable half of peer presence (DESIGN §7): which peers announced themselves in a log
 * (`xsync.peer.hello`, body: the node's `RuntimeNodeSpec`) and which left (`xsync.peer.bye`).
 * Deterministic election (DESIGN §8) ranks exactly the peers this view lists as announced.
 *
 * - Per author did: the latest announced spec, `since` (log time of that hello) and, once a bye
 *   follows it, `left` (log time of the first such bye) and its `reason`. A later hello announces
 *   the peer again and clears `left`. "Later" is the log's total order, so every peer agrees.
 * - A bye with no hello before it changes nothing: there is no announcement to end.
 * - Malformed bodies are skipped and counted in `skipped`, never thrown: a peer's bad event must
 *   not stop everyone's fold.
 *
 * Liveness is deliberately absent. Heartbeats travel on the transports and never enter the log;
 * whether a peer is reachable *now* is local knowledge of each node's transports, so it may
 * decide when a node acts, never what the log says (who is announced, who wins a claim).
 *
 * @example
 * await hello(log, detectLocalNode({ id: 'laptop-1' }))
 * // … fold with a view host …
 * announcedPeers(state) // [{ did: 'did:key:z6Mk…', spec: { id: 'laptop-1', kind: 'server', … }, since: … }]
 * await bye(log, 'shutting down')
 */
import { InvalidArgumentError } from '../errors.js'
import { publicKeyToDid } from '../log/identity.js'
import type { Log, LogEvent } from '../log/log.js'
import { nodeSpecProblem, normalizeNodeSpec, validateNodeSpec, type RuntimeNodeSpec } from './placement.js'
import type { View, ViewContext } from './view.js'
import { PEER_BYE, PEER_HELLO } from './event-types.js'

export { PEER_HELLO, PEER_BYE }

export interface ByeBody {
  reason?: string
}

export interface PeerPresence {
  /** The spec of the latest hello (canonical: capabilities sorted, unknown fields dropped). */
  spec: RuntimeNodeSpec
  /** Log time when the latest hello was folded. */
  since: number
  /** Log time of the first bye after the latest hello; absent while announced. */
  left?: number
  /** The reason that bye gave, if any. */
  reason?: string
}

export interface PresenceState {
  /** Keyed by author did. */
  peers: Record<string, PeerPresence>
  /** Presence events whose body was malformed (or whose author was not a key), skipped. */
  skipped: number
}

/** A peer announced and not left. */
export interface PeerAnnouncement {
  did: string
  spec: RuntimeNodeSpec
  since: number
}

/** The body of a hello: the spec, validated (`InvalidArgumentError`) and made canonical. */
export function peerHelloBody(spec: RuntimeNodeSpec): RuntimeNodeSpec {
  validateNodeSpec(spec)
  return normalizeNodeSpec(spec)
}

/** The body of a bye. */
export function peerByeBody(reason?: string): ByeBody {
  if (reason !== undefined && typeof reason !== 'string') throw new InvalidArgumentError('a bye reason is a string')
  return reason === undefined ? {} : { reason }
}

/** Announce this node in `log`. */
export async function hello(log: Pick<Log, 'append'>, spec: RuntimeNodeSpec): Promise<LogEvent<RuntimeNodeSpec>> {
  checkLog(log)
  return log.append(PEER_HELLO, peerHelloBody(spec))
}

/** Say this node leaves `log` (until its next hello). */
export async function bye(log: Pick<Log, 'append'>, reason?: string): Promise<LogEvent<ByeBody>> {
  checkLog(log)
  return log.append(PEER_BYE, peerByeBody(reason))
}

function checkLog(log: unknown): void {
  if (typeof (log as { append?: unknown } | null)?.append !== 'function') throw new InvalidArgumentError('expected a Log (client.log(id))')
}

/** The durable presence view: fold of `xsync.peer.hello` / `xsync.peer.bye`. */
export function peerPresenceView(): View<PresenceState> {
  return {
    name: 'xsync.presence',
    version: 1,
    initial: () => ({ peers: {}, skipped: 0 }),
    reduce: reducePresence,
  }
}

function reducePresence(state: PresenceState, event: LogEvent, ctx: ViewContext): PresenceState {
  // Most events of a log are not presence: leave them at one comparison each.
  if (event.type !== PEER_HELLO && event.type !== PEER_BYE) return state
  let did: string
  try {
    did = publicKeyToDid(event.author)
  } catch {
    state.skipped++
    return state
  }
  if (event.type === PEER_HELLO) {
    if (nodeSpecProblem(event.body) !== undefined) {
      state.skipped++
      return state
    }
    // A fresh object: no `left`/`reason` left over, and no undefined fields (DAG-CBOR rejects them).
    state.peers[did] = { spec: normalizeNodeSpec(event.body as RuntimeNodeSpec), since: ctx.time }
    return state
  }
  const body = event.body as ByeBody | null
  if (typeof body !== 'object' || body === null || Array.isArray(body) || (body.reason !== undefined && typeof body.reason !== 'string')) {
    state.skipped++
    return state
  }
  const peer = state.peers[did]
  if (peer === undefined || peer.left !== undefined) return state
  peer.left = ctx.time
  if (body.reason !== undefined) peer.reason = body.reason
  return state
}

/** The peers announced and not left, sorted by did (code-unit order, the same on every host). */
export function announcedPeers(state: PresenceState): PeerAnnouncement[] {
  if (typeof state !== 'object' || state === null || typeof state.peers !== 'object' || state.peers === null) {
    throw new InvalidArgumentError('expected a PresenceState')
  }
  const dids = Object.keys(state.peers).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const out: PeerAnnouncement[] = []
  for (const did of dids) {
    const p = state.peers[did]
    // Copies: callers may keep or change what they get without touching the fold's state.
    if (p.left === undefined) out.push({ did, spec: normalizeNodeSpec(p.spec), since: p.since })
  }
  return out
}
