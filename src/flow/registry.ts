/**
 * The signed definition registry (DESIGN §10). A definition is published as its RFC 8785 canonical
 * JSON plus a signed manifest, as one event in a registry log; it is resolved by `id@range` and
 * verified before use. The registry is a log, so it replicates like any other
 * (`client.sync('stateflow.registry')`), and every peer holding the same events resolves the same.
 *
 * - Content: `contentHash = 'sha256:' + hex(sha256(canonicalJsonBytes(definition)))`.
 * - Signature: Ed25519 by the signer's did:key over exactly these bytes:
 *   `UTF-8("stateflow/registry/manifest/v1\n") ‖ canonicalJsonBytes(manifest without "signature")`,
 *   written `ed25519:<hex of the 64 bytes>`. The prefix keeps a manifest signature from ever being
 *   a valid signature over anything else (events sign `stateflow/event/v1\n` + a CID).
 * - Resolution folds the log's `stateflow.registry.published` events in total order. Per
 *   id@version, the first publication in that order that is authentic (hash and signature verify)
 *   and signed by a trusted signer wins; later ones, conflicting or not, are ignored. Counting only
 *   trusted ones keeps a stranger who writes first to an open registry log from squatting a
 *   version. The highest matching version whose winner also passes the extension check is
 *   returned; higher ones that fail are listed in `skipped`.
 *
 * @example
 * const registry = createRegistry({ client })
 * await registry.publish(checkout) // a defineWorkflow() result with version '1.2.0'
 * const { definition, manifest } = await registry.resolve('shop.checkout@^1')
 */
import { InvalidArgumentError, NotFoundError, StateFlowError, type ErrorCode } from '../errors.js'
import { concatBytes, fromHex, toHex, utf8 } from '../dag/bytes.js'
import { sha256, defaultSigningBackend } from '../log/crypto-backend.js'
import { didToPublicKey, type Identity } from '../log/identity.js'
import { DecodeError, SignatureError } from '../log/errors.js'
import type { XSyncClient } from '../log/client.js'
import { isWorkflow, type WorkflowDefinition } from './define.js'
import { canonicalJson, canonicalJsonBytes } from './canonical-json.js'
import { compareVersions, parseRange, parseVersion, satisfies } from './semver.js'
import { ConflictError, DisallowedExtensionError, HashMismatchError, UntrustedSignerError } from './errors.js'
import { REGISTRY, registryPublished, type RegistryManifest, type RegistryPublishedBody } from './events.js'

export const REGISTRY_LOG = 'stateflow.registry'
export const MANIFEST_DOMAIN = 'stateflow/registry/manifest/v1\n'
export const WORKFLOW_FORMAT = 'stateflow.workflow'

/** A definition to publish that is not a `defineWorkflow()` result (FlowState, …). */
export interface DefinitionDocument {
  id: string
  version: string
  format: string
  /** Any JSON value. */
  definition: unknown
  extensions?: string[]
  /** An SCXML rendering, stored beside the definition and bound to the manifest by `scxmlHash`. */
  scxml?: string
}

/** A publication as it travels (bucket files, the log): the manifest and the texts it covers. */
export interface RegistryEntry {
  manifest: RegistryManifest
  /** Canonical JSON text. */
  definition: string
  scxml?: string
}

export interface ResolvedDefinition<D = unknown> {
  manifest: RegistryManifest
  /** The definition, parsed. */
  definition: D
  /** Its canonical JSON text: the bytes `contentHash` covers. */
  canonical: string
  scxml?: string
  /** Matching versions above this one that failed verification, highest first, and why. */
  skipped: { version: string; code: ErrorCode }[]
}

export interface TrustOptions {
  /** dids whose signatures are accepted. @default the registry's, else the client's own did */
  trustedSigners?: string[]
}

export interface ResolveOptions extends TrustOptions {
  /** Extensions a definition may use. @default the registry's, else none */
  allowExtensions?: string[]
}

export interface PublishOptions {
  /** Who signs the manifest. @default the client's identity */
  identity?: Identity
}

export interface RegistryInit {
  client: XSyncClient
  /** The registry log's id. @default 'stateflow.registry' */
  log?: string
  /** @default [client.did] */
  trustedSigners?: string[]
  /** @default [] */
  allowExtensions?: string[]
}

export interface Registry {
  readonly logId: string
  /** Publish (sign and append); publishing identical content again by the same signer is a no-op. */
  publish(definition: WorkflowDefinition | DefinitionDocument, options?: PublishOptions): Promise<ResolvedDefinition>
  /** The highest version of `id@range` (`id` alone: any release) that verifies; typed errors say why not. */
  resolve<D = unknown>(ref: string, options?: ResolveOptions): Promise<ResolvedDefinition<D>>
  /** Per id@version, the publication `resolve` would use (before the extension check), sorted. */
  entries(options?: TrustOptions): Promise<RegistryEntry[]>
  /** Verify entries (shape, hashes, signatures, trust, conflicts) and append the new ones; all or nothing. */
  importEntries(entries: readonly RegistryEntry[], options?: TrustOptions): Promise<{ added: string[]; unchanged: string[] }>
}

const ID = /^[A-Za-z0-9_.:-]{1,128}$/
const HASH = /^sha256:[0-9a-f]{64}$/
const KEYS = ['id', 'version', 'contentHash', 'format', 'signers', 'signature', 'extensions', 'scxmlHash']

const hashOf = (text: string) => `sha256:${toHex(sha256(utf8(text)))}`
const isStrings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string' && s.length > 0 && s.length <= 128)
const name = (m: { id: string; version: string }) => `${m.id}@${m.version}`
type Content = Omit<RegistryManifest, 'signature' | 'signers'>

function checkId(id: unknown): string | undefined {
  return typeof id === 'string' && ID.test(id) ? undefined : `id ${JSON.stringify(id)} must be 1-128 characters of A-Z a-z 0-9 _ . : -`
}

/** What is wrong with the content fields (id, version, format, extensions, hashes), or undefined. */
function contentProblem(x: Record<string, unknown>): string | undefined {
  try {
    parseVersion(x.version as string)
  } catch (err) {
    return (err as Error).message
  }
  const hashes = [x.contentHash, x.scxmlHash ?? 'sha256:'.padEnd(71, '0')]
  return (
    checkId(x.id) ??
    (typeof x.format !== 'string' || !x.format || x.format.length > 64 ? 'format must be 1-64 characters' : undefined) ??
    (!isStrings(x.extensions) || x.extensions.some((e, i, a) => i > 0 && a[i - 1] >= e) ? 'extensions must be sorted unique strings of 1-128 characters' : undefined) ??
    (hashes.some((h) => typeof h !== 'string' || !HASH.test(h)) ? 'contentHash and scxmlHash are sha256:<64 hex>' : undefined)
  )
}

/** What is wrong with a manifest's shape, or undefined. */
export function manifestProblem(m: unknown): string | undefined {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return 'a manifest is an object'
  const x = m as Record<string, unknown>
  const extra = Object.keys(x).find((k) => !KEYS.includes(k))
  if (extra) return `unknown manifest field ${JSON.stringify(extra)}`
  if (!isStrings(x.signers) || x.signers.length !== 1) return 'signers must hold exactly one did'
  try {
    didToPublicKey(x.signers[0])
  } catch (err) {
    return (err as Error).message
  }
  return contentProblem(x) ?? (typeof x.signature === 'string' && /^ed25519:[0-9a-f]{128}$/.test(x.signature) ? undefined : 'signature must be ed25519:<128 hex>')
}

/** The bytes a manifest's signature covers. */
export function manifestSigningBytes(manifest: Omit<RegistryManifest, 'signature'> & { signature?: string }): Uint8Array {
  const { signature: _, ...unsigned } = manifest
  return concatBytes([utf8(MANIFEST_DOMAIN), canonicalJsonBytes(unsigned)])
}

/** Authenticity of a well-shaped entry: hashes, canonical form, signature. Undefined when authentic. */
async function authenticityProblem(e: RegistryEntry): Promise<StateFlowError | undefined> {
  const m = e.manifest
  if (hashOf(e.definition) !== m.contentHash || (e.scxml === undefined ? m.scxmlHash !== undefined : hashOf(e.scxml) !== m.scxmlHash)) {
    return new HashMismatchError(`${name(m)}: the ${hashOf(e.definition) !== m.contentHash ? 'definition' : 'SCXML'} does not match the manifest's hash`)
  }
  try {
    // Peers that re-canonicalize must get these same bytes.
    if (canonicalJson(JSON.parse(e.definition)) !== e.definition) throw 0
  } catch {
    return new DecodeError(`${name(m)}: the definition is not RFC 8785 canonical JSON`)
  }
  const ok = await (await defaultSigningBackend()).verify(didToPublicKey(m.signers[0]), manifestSigningBytes(m), fromHex(m.signature.slice(8)))
  return ok ? undefined : new SignatureError(`${name(m)}: the manifest signature does not verify for ${m.signers[0]}`)
}

/** A definition to sign: validated, canonicalized, hashed. */
function prepare(input: WorkflowDefinition | DefinitionDocument): { content: Content; definition: string; scxml?: string } {
  const doc = isWorkflow(input) ? { id: input.id, version: input.version, format: WORKFLOW_FORMAT, definition: input.canonical, scxml: undefined } : input
  if (typeof doc !== 'object' || doc === null) throw new InvalidArgumentError('publish takes a defineWorkflow() result or { id, version, format, definition }')
  const { scxml } = doc
  const definition = canonicalJson(doc.definition)
  const ext = doc.extensions ?? []
  const content: Content = { id: doc.id, version: doc.version, contentHash: hashOf(definition), format: doc.format, extensions: Array.isArray(ext) ? [...new Set(ext)].sort() : ext }
  if (typeof scxml === 'string') content.scxmlHash = hashOf(scxml)
  const problem = contentProblem(content) ?? (scxml === undefined || typeof scxml === 'string' ? undefined : 'scxml must be a string')
  if (problem) throw new InvalidArgumentError(problem)
  return { content, definition, ...(scxml !== undefined ? { scxml } : {}) }
}

/** Same content: everything but who signed it. */
const sameContent = (a: Content, b: Content) =>
  a.contentHash === b.contentHash && a.format === b.format && a.scxmlHash === b.scxmlHash && a.extensions.join('\n') === b.extensions.join('\n')

function dids(list: unknown): string[] {
  if (!Array.isArray(list)) throw new InvalidArgumentError('trustedSigners must be a list of dids')
  for (const d of list) didToPublicKey(d)
  return list
}

/** Keep only the fields of an entry (the log body may carry more). */
const entryOf = (b: RegistryPublishedBody): RegistryEntry => ({ manifest: b.manifest, definition: b.definition, ...(b.scxml !== undefined ? { scxml: b.scxml } : {}) })

interface Publication {
  cid: string
  entry: RegistryEntry
}
type Folded = Map<string, Map<string, Publication[]>>

export function createRegistry(init: RegistryInit): Registry {
  const { client } = init
  if (typeof client?.log !== 'function') throw new InvalidArgumentError('createRegistry needs { client }: a createXSync() result')
  const logId = init.log ?? REGISTRY_LOG
  // Opened now, so the client replicates the registry log from the start.
  client.log(logId)
  const trusted = dids(init.trustedSigners ?? [client.did])
  const allowed = init.allowExtensions ?? []
  if (!isStrings(allowed)) throw new InvalidArgumentError('allowExtensions must be a list of strings')
  const trustOf = (o: TrustOptions) => (o.trustedSigners ? dids(o.trustedSigners) : trusted)
  // Events never change, so neither does a publication's authenticity.
  const verdicts = new Map<string, Promise<StateFlowError | undefined>>()
  const verdict = (p: Publication) => {
    let v = verdicts.get(p.cid)
    if (!v) verdicts.set(p.cid, (v = authenticityProblem(p.entry)))
    return v
  }
  // Publishes and imports one at a time, so two cannot both pass the conflict check.
  let queue: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn)
    queue = run.catch(() => undefined)
    return run
  }

  /** id -> version -> well-shaped publications, in total order. */
  async function fold(): Promise<Folded> {
    const byId: Folded = new Map()
    for await (const e of client.log(logId).events()) {
      const b = e.body as RegistryPublishedBody
      if (e.type !== REGISTRY.published || typeof b?.definition !== 'string' || (b.scxml !== undefined && typeof b.scxml !== 'string') || manifestProblem(b.manifest)) continue
      const { id, version } = b.manifest
      if (!byId.has(id)) byId.set(id, new Map())
      const versions = byId.get(id)!
      versions.set(version, [...(versions.get(version) ?? []), { cid: e.cid.toString(), entry: entryOf(b) }])
    }
    return byId
  }

  /** The winner of one id@version under a trust set, or why there is none (an authentic but untrusted signer says most). */
  async function winner(list: Publication[], trust: string[]): Promise<Publication | StateFlowError> {
    let why: StateFlowError | undefined
    for (const p of list) {
      const problem = await verdict(p)
      const m = p.entry.manifest
      if (!problem && trust.includes(m.signers[0])) return p
      if (!problem && !(why instanceof UntrustedSignerError)) why = new UntrustedSignerError(`${name(m)} is signed by ${m.signers[0]}, who is not trusted`)
      why ??= problem
    }
    return why!
  }

  /**
   * Refuse different content already published (authentic) for id@version by `signer` or a
   * trusted signer; return an identical one by `signer`. Strangers' publications do not block.
   */
  async function existing(byId: Folded, m: Content, signer: string, trust: string[]): Promise<Publication | undefined> {
    for (const p of byId.get(m.id)?.get(m.version) ?? []) {
      const by = p.entry.manifest.signers[0]
      if ((by !== signer && !trust.includes(by)) || (await verdict(p))) continue
      if (!sameContent(p.entry.manifest, m)) throw new ConflictError(`${name(m)} is already published by ${by} with other content; publish a new version`)
      if (by === signer) return p
    }
    return undefined
  }

  function resolved<D>({ manifest, definition, scxml }: RegistryEntry, skipped: ResolvedDefinition['skipped'] = []): ResolvedDefinition<D> {
    return { manifest, definition: JSON.parse(definition) as D, canonical: definition, ...(scxml !== undefined ? { scxml } : {}), skipped }
  }

  return {
    logId,
    publish(input, options = {}) {
      return serial(async () => {
        const identity = options.identity ?? client.identity
        const { content, definition, scxml } = prepare(input)
        const same = await existing(await fold(), content, identity.did, trusted)
        if (same) return resolved(same.entry)
        const unsigned = { ...content, signers: [identity.did] }
        const signature = `ed25519:${toHex(await identity.sign(manifestSigningBytes(unsigned)))}`
        const e = registryPublished({ manifest: { ...unsigned, signature }, definition, ...(scxml !== undefined ? { scxml } : {}) })
        await client.log(logId).append(e.type, e.body)
        return resolved(e.body)
      })
    },

    async resolve<D>(ref: string, options: ResolveOptions = {}) {
      const at = typeof ref === 'string' ? ref.indexOf('@') : -1
      const id = at < 0 ? ref : ref.slice(0, at)
      const problem = checkId(id)
      if (problem) throw new InvalidArgumentError(problem)
      const text = at < 0 ? '*' : ref.slice(at + 1)
      const range = parseRange(text)
      const trust = trustOf(options)
      const allow = options.allowExtensions ?? allowed
      const versions = (await fold()).get(id) ?? new Map<string, Publication[]>()
      const matching = [...versions.keys()]
        .map((v) => [v, parseVersion(v)] as const)
        .filter(([, sem]) => satisfies(sem, range))
        .sort((a, b) => compareVersions(b[1], a[1]))
      const skipped: ResolvedDefinition['skipped'] = []
      let first: StateFlowError | undefined
      for (const [v] of matching) {
        let w = await winner(versions.get(v)!, trust)
        const bad = w instanceof StateFlowError ? undefined : w.entry.manifest.extensions.find((x) => !allow.includes(x))
        if (bad !== undefined) w = new DisallowedExtensionError(`${id}@${v} uses extension ${JSON.stringify(bad)}, which is not allowed`)
        if (!(w instanceof StateFlowError)) return resolved<D>(w.entry, skipped)
        first ??= w
        skipped.push({ version: v, code: w.code })
      }
      if (first) throw first
      throw new NotFoundError(`no published version of ${id} matches ${JSON.stringify(text)}`)
    },

    async entries(options = {}) {
      const trust = trustOf(options)
      const out: RegistryEntry[] = []
      for (const [, versions] of [...(await fold())].sort(([a], [b]) => (a < b ? -1 : 1))) {
        for (const [, list] of [...versions].sort(([a], [b]) => compareVersions(parseVersion(a), parseVersion(b)))) {
          const w = await winner(list, trust)
          if (!(w instanceof StateFlowError)) out.push(w.entry)
        }
      }
      return out
    },

    importEntries(entries, options = {}) {
      return serial(async () => {
        const trust = trustOf(options)
        const byId = await fold()
        const added: RegistryEntry[] = []
        const unchanged: string[] = []
        for (const e of entries) {
          const problem = manifestProblem(e?.manifest) ?? (typeof e.definition !== 'string' || (e.scxml !== undefined && typeof e.scxml !== 'string') ? 'definition and scxml are texts' : undefined)
          if (problem) throw new DecodeError(`a registry entry is malformed: ${problem}`)
          const m = e.manifest
          const bad = (await authenticityProblem(e)) ?? (trust.includes(m.signers[0]) ? undefined : new UntrustedSignerError(`${name(m)} is signed by ${m.signers[0]}, who is not trusted`))
          if (bad) throw bad
          const twin = added.find((a) => name(a.manifest) === name(m))
          if (twin && !sameContent(twin.manifest, m)) throw new ConflictError(`${name(m)} appears twice with different content`)
          if (twin || (await existing(byId, m, m.signers[0], trust))) unchanged.push(name(m))
          else added.push(entryOf(e))
        }
        if (added.length > 0) await client.log(logId).appendBatch(added.map(registryPublished))
        return { added: added.map((a) => name(a.manifest)), unchanged }
      })
    },
  }
}
