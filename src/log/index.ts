/**
 * The log layer: identities, the signed event format, validation, and the `Log` API.
 *
 * @example
 * const client = await createXSync()
 * const log = client.log('chat')
 * const e = await log.append('app.message', { text: 'hi' })
 * const other = await createXSync()
 * await other.log('chat').ingest([{ bytes: e.bytes, sig: e.sig }]) // [{ status: 'stored', … }]
 */
export * from './errors.js'
export { generateIdentity, identityFromSecretKey, exportIdentity, publicKeyToDid, didToPublicKey, type Identity, type ExportedIdentity, type IdentityInit } from './identity.js'
export { signingBackend, defaultSigningBackend, sha256, type SigningBackend, type Signer, type BackendName } from './crypto-backend.js'
export {
  encodeEvent,
  decodeEvent,
  cidOf,
  signingMessage,
  isEventCid,
  DEFAULT_MAX_EVENT_BYTES,
  MAX_LOG_ID_BYTES,
  MAX_TYPE_BYTES,
  MAX_PARENTS,
  GENESIS_TYPE,
  type EventFields,
  type DecodedEvent,
  type SignedEvent,
  type DecodeOptions,
} from './codec.js'
export { MEMBERS_ADD, MEMBERS_REMOVE, type GenesisBody, type MembersBody, type LogPolicy } from './event-types.js'
export { foldMembership, authorizationProblem, type MembershipState } from './membership.js'
export { Log, MAX_UNSIGNED_RUN, type LogFork, type LogEvent, type IngestResult, type IngestStatus, type IngestOptions, type EventsOptions } from './log.js'
export { createXSync, type XSyncClient, type XSyncInit, type CreateLogInit } from './client.js'
