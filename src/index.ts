/**
 * stateflow: signed multi-writer Merkle-DAG logs, replicated peer to peer, folded into views.
 * This entry is browser-safe: nothing Node-specific. Node-only parts are subpath exports
 * (`stateflow/stores/sqlite`, `stateflow/stores/fs`, `stateflow/transports/websocket-server`,
 * `stateflow/transports/http-node`, `stateflow/transports/libp2p`); IndexedDB is
 * `stateflow/stores/indexeddb`.
 *
 * @example
 * import { createXSync } from 'stateflow'
 * const client = await createXSync()
 * const log = client.log('notes')
 * await log.append('app.note', { text: 'hello' })
 * for await (const e of log.events()) console.log(e.seq, e.type, e.body)
 */

// Errors
export {
  StateFlowError,
  ClosedError,
  CorruptError,
  InvalidArgumentError,
  NotFoundError,
  isStateFlowError,
  type ErrorCode,
} from './errors.js'
export {
  DecodeError,
  TooLargeError,
  SignatureError,
  ClockError,
  SeqError,
  ParentLogError,
  UnauthorizedError,
  FutureError,
  PendingOverflowError,
} from './log/errors.js'

// Identity and signing
export {
  generateIdentity,
  identityFromSecretKey,
  exportIdentity,
  publicKeyToDid,
  didToPublicKey,
  type Identity,
  type ExportedIdentity,
  type IdentityInit,
} from './log/identity.js'
export { signingBackend, defaultSigningBackend, type SigningBackend, type Signer, type BackendName } from './log/crypto-backend.js'

// Events
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
} from './log/codec.js'
export { MEMBERS_ADD, MEMBERS_REMOVE, type GenesisBody, type MembersBody, type LogPolicy } from './log/event-types.js'
export { foldMembership, type MembershipState } from './log/membership.js'

// Logs and the client (createXSync with views: the log-layer client plus view hosts)
export { createXSync, type XSyncViewsInit } from './views/client.js'
export type { XSyncClient, XSyncInit, CreateLogInit } from './log/client.js'
export {
  Log,
  MAX_UNSIGNED_RUN,
  type LogFork,
  type LogEvent,
  type LogListener,
  type LogViews,
  type IngestResult,
  type IngestStatus,
  type IngestOptions,
  type EventsOptions,
} from './log/log.js'

// Sync
export { SyncTimeoutError, type PeerInfo, type SyncOptions } from './log/sync/replicator.js'
export type { ReconnectOptions } from './log/sync/connections.js'
export { ProtocolError, AuthError, PROTOCOL_ID, PROTOCOL_VERSION } from './log/sync/messages.js'

// Transports (browser-safe ones; Node-only ones are subpath exports)
export {
  ConnectError,
  FrameTooLargeError,
  DEFAULT_MAX_FRAME_BYTES,
  isConnection,
  type Transport,
  type Connection,
  type Listening,
  type CloseInfo,
} from './transports/transport.js'
export { BaseConnection } from './transports/base-connection.js'
export { memoryNetwork, type MemoryNetwork, type MemoryNetworkOptions, type LinkFaults, type NetworkStats, type TracedFrame } from './transports/memory-network.js'
export { webSocketTransport, type WebSocketTransport, type WebSocketTransportOptions } from './transports/websocket.js'
export { broadcastChannelTransport, type BroadcastChannelTransport, type BroadcastChannelTransportOptions } from './transports/broadcast-channel.js'
export { httpSseServer, httpSseTransport, type HttpSseServer, type HttpSseServerOptions, type HttpSseTransportOptions } from './transports/http-sse.js'

// The DAG
export { compareEvents, sortEvents, insertOrdered, type Ordered } from './dag/order.js'
export { isAncestor, ancestors, type NodeLookup } from './dag/ancestry.js'
export { findForks, forkEvidence, forkedFrom, type ForkEvidence } from './dag/forks.js'
export { versionVector, missingRanges, lackedBy, type VersionVector, type AuthorEntry } from './dag/version-vector.js'
export { computeHeads, authorChains } from './dag/heads.js'
export { PendingBuffer, type PendingEntry } from './dag/pending.js'
export type { DagNode } from './dag/node.js'

// Stores (browser-safe ones; SQLite and fs are subpath exports)
export {
  isEventStore,
  eventStoreSymbol,
  DEFAULT_PAGE,
  type EventStore,
  type StoredEvent,
  type EventPut,
  type OrderPosition,
  type ScanOptions,
  type AuthorScanOptions,
} from './stores/event-store.js'
export { memoryStore, type MemoryStoreInit } from './stores/memory-store.js'

// Views, claims, placement, presence (Automerge documents: the `stateflow/docs` subpath)
export { encodeState, decodeState, isView, type View, type ViewContext, type ViewPosition, type DocumentsCapability } from './views/view.js'
export { ViewHost, type ViewHostOptions, type ViewSnapshot } from './views/host.js'
export { headsView, type HeadsState } from './views/heads-view.js'
export { workQueueView, type WorkQueueState, type WorkItem, type WorkResult } from './views/work-queue.js'
export {
  WORK,
  PEER_HELLO,
  PEER_BYE,
  DOC_CHANGE,
  workEnqueued,
  workClaimed,
  workRenewed,
  workReleased,
  workCompleted,
  workFailed,
  peerHello,
  peerBye,
  type TypedEvent,
  type WorkEnqueuedBody,
  type WorkClaimedBody,
  type WorkClaimRefBody,
  type WorkCompletedBody,
  type WorkFailedBody,
} from './views/event-types.js'
export {
  decideClaim,
  electionRank,
  rendezvousScore,
  CLAIM_MODES,
  type ClaimMode,
  type ClaimRules,
  type Decision,
  type Winner,
  type AnnouncedPeer,
  type ClaimInput,
} from './views/claims.js'
export { explainClaim, type ClaimExplanation } from './views/explain.js'
export {
  detectLocalNode,
  checkPlacement,
  validatePlacement,
  validateNodeSpec,
  normalizeNodeSpec,
  NODE_KINDS,
  DETECTED_CAPABILITIES,
  type RuntimeNodeSpec,
  type Placement,
  type NodeKind,
} from './views/placement.js'
export { peerPresenceView, announcedPeers, hello, bye, type PresenceState, type PeerAnnouncement } from './views/presence-view.js'

// Workflows (DESIGN §9)
export {
  defineWorkflow,
  defineStep,
  link,
  sleep,
  sleepUntil,
  waitForSignal,
  childRun,
  isWorkflow,
  isZodSchema,
  SLEEP,
  WAIT,
  CHILD,
  DEFAULT_RETRY,
  type WorkflowDefinition,
  type WorkflowInit,
  type StepDefinition,
  type StepInit,
  type StepClaim,
  type SideEffects,
  type RetryPolicy,
  type Link,
  type LinkOptions,
  type Trigger,
  type CanonicalWorkflow,
  type CanonicalStep,
} from './flow/define.js'
export { DefinitionError, NonRetryableError, CancelledError, RunFailedError } from './flow/errors.js'
export { FLOW, STEP, SIGNAL, TIMER, WARNING, type StartedBody, type NextInputs, type StepRef } from './flow/events.js'
export { flowRunView, flowRunViewWith, claimRules, retryDelay, type FlowRunState, type StepRunState, type RunStatus, type StepStatus, type FlowSignal } from './flow/run-view.js'
export { TIMER_SERVICE, type ChartEngine, type ChartState, type ChartOutcome, type ChartEvent, type ChartDefinition } from './flow/chart.js'
export { schedule, taskKey, type Action, type Schedule, type SchedulerSelf } from './flow/scheduler.js'
export { systemClock, virtualClock, type Clock, type VirtualClock } from './flow/clock.js'
export { createStateFlowRuntime, runIdFor, type StateFlowRuntime, type RuntimeInit, type RunHandle, type StartOptions, type StepContext, type Executor } from './flow/runtime.js'

// ---------------------------------------------------------------------------------------------
// The signed definition registry (DESIGN §10): RFC 8785 canonical JSON, semver ranges, signed
// manifests in a replicated registry log. The bucket export/import (node:fs) is the Node-only
// `stateflow/registry-fs` subpath (src/flow/registry-fs.ts), not this entry.
export { canonicalJson, canonicalJsonBytes } from './flow/canonical-json.js'
export { parseVersion, parseRange, compareVersions, satisfies, type SemVer, type SemverRange } from './flow/semver.js'
export {
  createRegistry,
  manifestSigningBytes,
  manifestProblem,
  REGISTRY_LOG,
  MANIFEST_DOMAIN,
  WORKFLOW_FORMAT,
  type Registry,
  type RegistryInit,
  type RegistryEntry,
  type DefinitionDocument,
  type ResolvedDefinition,
  type ResolveOptions,
  type PublishOptions,
  type TrustOptions,
} from './flow/registry.js'
export { REGISTRY, registryPublished, type RegistryManifest, type RegistryPublishedBody } from './flow/events.js'
export { UntrustedSignerError, HashMismatchError, DisallowedExtensionError, ConflictError } from './flow/errors.js'
