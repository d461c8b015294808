/**
 * Membership of a `log:<genesis CID>` log, folded from the genesis and the `xsync.members.*`
 * events in an event's *causal past*, in total order. The causal past of an event never changes
 * as more events arrive (the total order of the whole log can), so whether an event is authorized
 * is decided once, the same way on every peer.
 */
import { compareEvents } from '../dag/order.js'
import { GENESIS_TYPE, MEMBERS_ADD, MEMBERS_REMOVE, type GenesisBody, type LogPolicy, type MembersBody } from './event-types.js'

export interface MembershipEvent {
  key: string
  cid: Uint8Array
  clock: number
  type: string
  body: unknown
}

export interface MembershipState {
  policy: LogPolicy
  admins: ReadonlySet<string>
  writers: ReadonlySet<string>
}

function isDidList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((d) => typeof d === 'string' && d.startsWith('did:key:'))
}

/** Whether a genesis body has the shape GenesisBody requires. */
export function isGenesisBody(body: unknown): body is GenesisBody {
  const b = body as GenesisBody
  return (
    typeof b === 'object' && b !== null && (b.policy === 'open' || b.policy === 'members') &&
    isDidList(b.admins) && isDidList(b.writers) && b.nonce instanceof Uint8Array
  )
}

export function isMembersBody(body: unknown): body is MembersBody {
  const b = body as MembersBody
  return typeof b === 'object' && b !== null && isDidList(b.writers) && isDidList(b.admins)
}

/** Fold membership events (any order given; folded in total order). Undefined without a genesis. */
export function foldMembership(events: readonly MembershipEvent[]): MembershipState | undefined {
  const sorted = [...events].sort(compareEvents)
  if (sorted.length === 0 || sorted[0].type !== GENESIS_TYPE) return undefined
  const g = sorted[0].body as GenesisBody
  const admins = new Set(g.admins)
  const writers = new Set(g.writers)
  for (const e of sorted.slice(1)) {
    const b = e.body as MembersBody
    if (e.type === MEMBERS_ADD) {
      for (const d of b.admins) admins.add(d)
      for (const d of b.writers) writers.add(d)
    } else if (e.type === MEMBERS_REMOVE) {
      for (const d of b.admins) admins.delete(d)
      for (const d of b.writers) writers.delete(d)
    }
  }
  return { policy: g.policy, admins, writers }
}

/** Why `did` may not append an event of `type` under `state`, or undefined if it may. */
export function authorizationProblem(state: MembershipState | undefined, did: string, type: string): string | undefined {
  if (state === undefined) return 'the log genesis is not in the event’s causal past'
  if (type === GENESIS_TYPE) return 'a log has one genesis'
  if (type === MEMBERS_ADD || type === MEMBERS_REMOVE) {
    return state.admins.has(did) ? undefined : `${did} is not an admin`
  }
  if (state.policy === 'open') return undefined
  return state.writers.has(did) || state.admins.has(did) ? undefined : `${did} is not a writer`
}
