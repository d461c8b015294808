/**
 * The substrate's own event types (`xsync.*`) for logs and membership, with their bodies.
 * All type strings live here; code builds bodies through these constructors.
 */
import { GENESIS_TYPE } from './codec.js'

export { GENESIS_TYPE }
export const MEMBERS_ADD = 'xsync.members.add'
export const MEMBERS_REMOVE = 'xsync.members.remove'

export type LogPolicy = 'open' | 'members'

/** Body of `xsync.log.genesis`: the policy the log id certifies. */
export interface GenesisBody {
  policy: LogPolicy
  /** dids allowed to change membership (admins may also write). */
  admins: string[]
  /** dids allowed to write under the 'members' policy. */
  writers: string[]
  /** Random bytes, so two logs created alike still get two ids. */
  nonce: Uint8Array
}

/** Body of `xsync.members.add` / `xsync.members.remove`. */
export interface MembersBody {
  writers: string[]
  admins: string[]
}

export function genesisBody(policy: LogPolicy, admins: string[], writers: string[], nonce: Uint8Array): GenesisBody {
  return { policy, admins: [...new Set(admins)].sort(), writers: [...new Set(writers)].sort(), nonce }
}

export function membersBody(change: { writers?: string[]; admins?: string[] }): MembersBody {
  return { writers: [...new Set(change.writers ?? [])].sort(), admins: [...new Set(change.admins ?? [])].sort() }
}

export function isMembershipType(type: string): boolean {
  return type === GENESIS_TYPE || type === MEMBERS_ADD || type === MEMBERS_REMOVE
}
