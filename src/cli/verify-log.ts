/**
 * The audit of one log, re-derived from the stored bytes alone. It shares the rules with the log
 * layer by reusing its pure pieces (the codec, `signingMessage`, membership folding and
 * `authorizationProblem`, the DAG's order, heads and fork evidence), never a `Log` object's
 * in-memory state, so a bug in that state cannot hide itself from the audit.
 *
 * - Pass 1 (store order): decode each event canonically, check its CID against the hash of its
 *   bytes and the store's indexed fields against the decoded ones, check the store's order, and
 *   verify signatures one page at a time (all of a page in flight at once).
 * - Pass 2: authenticity. An event is authentic when it carries a valid signature or lies on the
 *   `prev` chain of a validly signed later event of the same author (DESIGN §3).
 * - Pass 3 (total order): links present and in this log, seq/prev chain, clock, and for
 *   `log:<cid>` logs authorization by membership in the event's causal past. Membership events
 *   that fail any check grant nothing to their descendants.
 * - Pass 4: forks among authentic events; heads, tips and count against the store's.
 *
 * It holds a small record per event of the log (no bytes, no bodies but membership ones).
 */
import { CID } from 'multiformats/cid'
import { equalBytes, fromHex, toHex } from '../dag/bytes.js'
import { findForks } from '../dag/forks.js'
import { computeHeads } from '../dag/heads.js'
import type { DagNode } from '../dag/node.js'
import { compareEvents } from '../dag/order.js'
import { versionVector } from '../dag/version-vector.js'
import { DEFAULT_MAX_EVENT_BYTES, GENESIS_TYPE, cidOf, decodeEvent, signingMessage, type DecodedEvent } from '../log/codec.js'
import type { SigningBackend } from '../log/crypto-backend.js'
import { isMembershipType, MEMBERS_ADD, MEMBERS_REMOVE } from '../log/event-types.js'
import { publicKeyToDid } from '../log/identity.js'
import { MAX_UNSIGNED_RUN } from '../log/log.js'
import { authorizationProblem, foldMembership, isGenesisBody, isMembersBody, type MembershipEvent, type MembershipState } from '../log/membership.js'
import type { EventStore, StoredEvent } from '../stores/event-store.js'

/**
 * What a finding is about. The ingest codes (`DECODE`, `TOO_LARGE`, `SIGNATURE`, `CLOCK`, `SEQ`,
 * `PARENT_LOG`, `UNAUTHORIZED`) mean what they mean on ingest; the rest are the store's side:
 * - `CID`: the stored CID is not the hash of the stored bytes;
 * - `INDEX`: the store's indexed author, seq, clock or log differ from the decoded event;
 * - `ORDER`: the store's scan is not strictly ascending `(clock, CID bytes)`;
 * - `MISSING`: a prev or parent is in no log of the store;
 * - `UNSIGNED_RUN`: one signature covers more than `MAX_UNSIGNED_RUN` unsigned events (warning);
 * - `HEADS`, `TIPS`, `COUNT`: the store's heads, author tips or count differ from the events';
 * - `CORRUPT`: the medium failed its own checks while the log was read (reported by audit-verify);
 * - `TORN_TAIL`: the fs store's last segment ends in bytes that are not a whole record, an
 *   interrupted write that was never acknowledged; left on disk and not read (warning, store-wide,
 *   reported by audit-verify);
 * - `FORK`: two authentic events by one author at one seq (evidence, not corruption).
 */
export type FindingCode =
  | 'DECODE'
  | 'TOO_LARGE'
  | 'CID'
  | 'INDEX'
  | 'ORDER'
  | 'MISSING'
  | 'PARENT_LOG'
  | 'SEQ'
  | 'CLOCK'
  | 'SIGNATURE'
  | 'UNSIGNED_RUN'
  | 'UNAUTHORIZED'
  | 'HEADS'
  | 'TIPS'
  | 'COUNT'
  | 'CORRUPT'
  | 'TORN_TAIL'
  | 'FORK'

/** `error`: the store holds something no valid log could; `warning`: allowed but suspicious; `fork`: evidence. */
export type Severity = 'error' | 'warning' | 'fork'

export interface Finding {
  /** The log concerned; `''` (never a log id) for store-wide findings (`TORN_TAIL`). */
  log: string
  /** The event concerned (a fork's first CID by bytes); absent for log-wide findings. */
  cid?: string
  code: FindingCode
  severity: Severity
  message: string
  /** Forks: the author's did, the seq and both CIDs (sorted by bytes). */
  author?: string
  seq?: number
  cids?: [string, string]
  /** `TORN_TAIL`: the segment file's path, where the torn bytes start, and how many there are. */
  segment?: string
  at?: number
  bytes?: number
}

export interface LogReport {
  log: string
  /** Events scanned. */
  events: number
  /** The store's heads. */
  heads: string[]
  /** False when undecodable events made the heads comparison meaningless. */
  headsChecked: boolean
  errors: number
  warnings: number
  forks: number
  findings: Finding[]
}

export interface VerifyLogOptions {
  /** Verifies signatures. */
  backend: SigningBackend
  /** Events per store page. @default 1024 */
  pageSize?: number
  /** Called after each page of the first pass with the events read in it (the CLI's counter). */
  onProgress?: (events: number) => void
}

interface AuditNode extends DagNode {
  /** The stored CID's string form. */
  id: string
  decoded: boolean
  authorBytes: Uint8Array
  did: string
  type: string
  /** Kept for membership events only. */
  body?: unknown
  sig: 'valid' | 'invalid' | 'none'
  authentic: boolean
  /** Some error finding names this event. */
  bad: boolean
  /** Keys of the valid membership events in the causal past, inclusive; sorted, comma-joined. */
  mset?: string
}

/** A CID's string form, or `hex:<bytes>` when the bytes are not a CID at all. */
export function cidString(bytes: Uint8Array): string {
  try {
    return CID.decode(bytes).toString()
  } catch {
    return `hex:${toHex(bytes)}`
  }
}

/** Audit one log of a store. */
export async function verifyLog(store: EventStore, log: string, options: VerifyLogOptions): Promise<LogReport> {
  const pageSize = options.pageSize ?? 1024
  const findings: Finding[] = []
  const nodes = new Map<string, AuditNode>()
  const order: AuditNode[] = []
  const report = (node: AuditNode | undefined, cid: string | undefined, code: FindingCode, message: string, severity: Severity = 'error'): void => {
    findings.push({ log, ...(cid !== undefined ? { cid } : {}), code, severity, message })
    if (node && severity === 'error') node.bad = true
  }
  const certified = log.startsWith('log:')
  let undecodable = 0

  // --- pass 1: bytes, CIDs, indexed fields, order, signatures --------------------------------
  let last: StoredEvent | undefined
  for (;;) {
    const before = last
    const page = await store.scan(log, before ? { after: before, limit: pageSize } : { limit: pageSize })
    const verifies: Promise<void>[] = []
    for (const s of page) {
      const key = toHex(s.cid)
      const cid = cidString(s.cid)
      if (last && compareEvents(last, s) >= 0) {
        report(nodes.get(key), cid, 'ORDER', `scan returned ${cid} (clock ${s.clock}) after ${cidString(last.cid)} (clock ${last.clock})`)
      }
      last = s
      if (nodes.has(key)) continue
      const { node, actual } = readEvent(s, key, cid, log, report)
      nodes.set(key, node)
      order.push(node)
      if (!node.decoded) {
        undecodable++
        continue
      }
      if (s.sig !== undefined) {
        verifies.push(
          options.backend.verify(node.authorBytes, signingMessage(actual), s.sig).then((ok) => {
            node.sig = ok ? 'valid' : 'invalid'
            if (!ok) report(node, cid, 'SIGNATURE', 'signature does not verify under the author key')
          }),
        )
      }
    }
    await Promise.all(verifies)
    options.onProgress?.(page.length)
    if (page.length < pageSize) break
    // A store whose pages do not advance would loop forever: stop at the first that does not.
    if (before && compareEvents(page[page.length - 1], before) <= 0) {
      report(undefined, undefined, 'ORDER', 'scan did not advance past its `after` position; stopped reading the log')
      break
    }
  }

  // --- pass 2: authenticity ------------------------------------------------------------------
  for (const n of order) if (n.sig === 'valid') n.authentic = true
  for (const signer of order) {
    if (signer.sig !== 'valid') continue
    let cur = signer
    let unsigned = 0
    for (;;) {
      const p = cur.prev === null ? undefined : nodes.get(cur.prev)
      if (!p || !p.decoded || p.sig !== 'none' || p.author !== cur.author || p.seq !== cur.seq - 1) break
      p.authentic = true
      unsigned++
      cur = p
    }
    if (unsigned > MAX_UNSIGNED_RUN) {
      report(signer, signer.id, 'UNSIGNED_RUN', `one signature covers ${unsigned} unsigned events before it (authors sign at least every ${MAX_UNSIGNED_RUN})`, 'warning')
    }
  }
  for (const n of order) {
    if (n.decoded && n.sig === 'none' && !n.authentic) {
      report(n, n.id, 'SIGNATURE', 'unsigned, and not on the prev chain of a validly signed later event of the same author')
    }
  }

  // --- pass 3: links, seq, clock, authorization, in total order -------------------------------
  const foreign = new Map<string, StoredEvent | undefined>()
  const lookupForeign = async (k: string, bytes: Uint8Array): Promise<StoredEvent | undefined> => {
    if (!foreign.has(k)) foreign.set(k, await store.get(bytes))
    return foreign.get(k)
  }
  const membership = new Map<string, MembershipEvent>()
  const states = new Map<string, MembershipState | undefined>()
  const stateOf = (mset: string): MembershipState | undefined => {
    if (!states.has(mset)) states.set(mset, foldMembership(mset === '' ? [] : mset.split(',').map((k) => membership.get(k)!)))
    return states.get(mset)
  }
  const sorted = order.filter((n) => n.decoded).sort(compareEvents)
  for (const n of sorted) {
    const cid = n.id
    const isGenesis = n.type === GENESIS_TYPE
    const ownGenesis = isGenesis && log === `log:${cid}`
    const links: AuditNode[] = []
    let complete = true
    if (!isGenesis) {
      if (n.seq === 1 && n.prev !== null) report(n, cid, 'SEQ', 'seq 1 must have prev null')
      if (n.seq > 1 && n.prev === null) report(n, cid, 'SEQ', `seq ${n.seq} needs a prev`)
      if (n.prev !== null) {
        const p = nodes.get(n.prev)
        if (p === undefined) {
          complete = false
          const elsewhere = await lookupForeign(n.prev, fromHex(n.prev))
          if (elsewhere) report(n, cid, 'SEQ', `prev ${cidString(elsewhere.cid)} is in log ${elsewhere.log}`)
          else report(n, cid, 'MISSING', `prev ${cidString(fromHex(n.prev))} is not in the store`)
        } else {
          links.push(p)
          if (p.author !== n.author) report(n, cid, 'SEQ', `prev ${p.id} is by another author`)
          else if (p.seq !== n.seq - 1) report(n, cid, 'SEQ', `seq ${n.seq} does not follow prev seq ${p.seq}`)
        }
      }
      for (const k of n.parents) {
        const p = nodes.get(k)
        if (p !== undefined) {
          links.push(p)
          continue
        }
        complete = false
        const elsewhere = await lookupForeign(k, fromHex(k))
        if (elsewhere) report(n, cid, 'PARENT_LOG', `parent ${cidString(elsewhere.cid)} is in log ${elsewhere.log}`)
        else report(n, cid, 'MISSING', `parent ${cidString(fromHex(k))} is not in the store`)
      }
      if (complete) {
        let max = 0
        for (const l of links) if (l.clock > max) max = l.clock
        if (n.clock !== max + 1) report(n, cid, 'CLOCK', `clock is ${n.clock}, must be ${max + 1}`)
      }
    }
    if (!certified) continue
    // Most events see the same membership as their links: union only when the links differ.
    const linkSets = [...new Set(links.map((l) => l.mset ?? ''))]
    const pastKey = linkSets.length <= 1 ? (linkSets[0] ?? '') : unionKey(linkSets)
    if (!ownGenesis && !isGenesis) {
      const problem = authorizationProblem(stateOf(pastKey), n.did, n.type)
      if (problem) report(n, cid, 'UNAUTHORIZED', problem)
      else if ((n.type === MEMBERS_ADD || n.type === MEMBERS_REMOVE) && !isMembersBody(n.body)) {
        report(n, cid, 'DECODE', 'membership body must be { writers: did[], admins: did[] }')
      }
    }
    if (isMembershipType(n.type) && !n.bad && n.authentic && (ownGenesis || !isGenesis)) {
      membership.set(n.key, { key: n.key, cid: n.cid, clock: n.clock, type: n.type, body: n.body })
      n.mset = unionKey([pastKey, n.key])
    } else n.mset = pastKey
  }

  // --- pass 4: forks, heads, tips, count -----------------------------------------------------
  for (const f of findForks(sorted.filter((n) => n.authentic))) {
    const a = cidString(f.a)
    const b = cidString(f.b)
    const did = nodes.get(toHex(f.a))?.did ?? f.author
    findings.push({ log, cid: a, code: 'FORK', severity: 'fork', message: `${did} has two events at seq ${f.seq}: ${a} and ${b}`, author: did, seq: f.seq, cids: [a, b] })
  }
  const storedHeads = await store.heads(log)
  const headsChecked = undecodable === 0
  if (headsChecked) {
    compareSets(computeHeads(sorted).map((n) => n.cid), storedHeads, (cid, inStore) =>
      report(nodes.get(toHex(cid)), cidString(cid), 'HEADS', inStore ? 'the store lists it as a head, but an event links to it (or it is not in the log)' : 'nothing links to it, but the store does not list it as a head'),
    )
    const tips = [...versionVector(sorted).values()].flatMap((e) => e.tips).map((k) => nodes.get(k)!.cid)
    compareSets(tips, await store.tips(log), (cid, inStore) =>
      report(nodes.get(toHex(cid)), cidString(cid), 'TIPS', inStore ? 'the store lists it as an author tip, but a later event names it as prev' : 'no event names it as prev, but the store does not list it as an author tip'),
    )
  }
  const count = await store.count(log)
  if (count !== nodes.size) report(undefined, undefined, 'COUNT', `the store counts ${count} events, its scan returned ${nodes.size}`)

  // Findings in the store's order of their events (signature checks finish in any order),
  // log-wide ones last.
  const position = new Map(order.map((n, i) => [n.id, i]))
  const rank = (f: Finding): number => (f.cid === undefined ? order.length : (position.get(f.cid) ?? order.length))
  const sortedFindings = findings.map((f, i) => ({ f, i })).sort((x, y) => rank(x.f) - rank(y.f) || x.i - y.i).map((x) => x.f)

  return {
    log,
    events: nodes.size,
    heads: storedHeads.map(cidString),
    headsChecked,
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
    forks: findings.filter((f) => f.severity === 'fork').length,
    findings: sortedFindings,
  }
}

type Report = (node: AuditNode | undefined, cid: string | undefined, code: FindingCode, message: string, severity?: Severity) => void

/** Decode one stored event and check it against what the store indexed. */
function readEvent(s: StoredEvent, key: string, cid: string, log: string, report: Report): { node: AuditNode; actual: CID } {
  const node: AuditNode = {
    key,
    id: cid,
    cid: s.cid,
    author: toHex(s.author),
    authorBytes: s.author,
    did: didOrHex(s.author),
    seq: s.seq,
    clock: s.clock,
    prev: null,
    parents: [],
    decoded: false,
    type: '',
    sig: s.sig === undefined ? 'none' : 'invalid',
    authentic: false,
    bad: false,
  }
  const actual = cidOf(s.bytes)
  if (!equalBytes(actual.bytes, s.cid)) report(node, cid, 'CID', `the bytes hash to ${actual.toString()}`)
  if (s.bytes.length > DEFAULT_MAX_EVENT_BYTES) {
    report(node, cid, 'TOO_LARGE', `${s.bytes.length} bytes, more than the default bound of ${DEFAULT_MAX_EVENT_BYTES}: nodes with the default refuse it`, 'warning')
  }
  let d: DecodedEvent
  try {
    d = decodeEvent(s.bytes, { maxBytes: Math.max(DEFAULT_MAX_EVENT_BYTES, s.bytes.length) })
  } catch (err) {
    report(node, cid, 'DECODE', stripCode((err as Error).message))
    return { node, actual }
  }
  Object.assign(node, {
    decoded: true,
    author: toHex(d.author),
    authorBytes: d.author,
    did: publicKeyToDid(d.author),
    seq: d.seq,
    clock: d.clock,
    prev: d.prev === null ? null : toHex(d.prev.bytes),
    parents: d.parents.map((p) => toHex(p.bytes)),
    type: d.type,
  })
  if (isMembershipType(d.type)) node.body = d.body
  if (!equalBytes(d.author, s.author)) report(node, cid, 'INDEX', `the store indexes author ${didOrHex(s.author)}, the event says ${node.did}`)
  if (d.seq !== s.seq) report(node, cid, 'INDEX', `the store indexes seq ${s.seq}, the event says ${d.seq}`)
  if (d.clock !== s.clock) report(node, cid, 'INDEX', `the store indexes clock ${s.clock}, the event says ${d.clock}`)
  if (d.type === GENESIS_TYPE) {
    const own = `log:${d.cid.toString()}`
    if (log !== own) report(node, cid, 'PARENT_LOG', `a genesis event belongs to ${own}, not ${log}`)
    else {
      if (d.log !== '') report(node, cid, 'DECODE', 'a genesis event has an empty log field')
      if (!isGenesisBody(d.body)) report(node, cid, 'DECODE', 'genesis body must be { policy, admins, writers, nonce }')
      if (d.seq !== 1 || d.prev !== null || d.parents.length !== 0) report(node, cid, 'SEQ', 'a genesis event has seq 1 and no links')
    }
  } else if (d.log !== log) {
    report(node, cid, 'INDEX', `stored under log ${log}, but the event names log ${d.log}`)
  }
  return { node, actual }
}

/** The union of comma-joined key sets, sorted and comma-joined. */
function unionKey(sets: readonly string[]): string {
  const keys = new Set<string>()
  for (const m of sets) for (const k of m.split(',')) if (k) keys.add(k)
  return [...keys].sort().join(',')
}

/** Report each element in exactly one of the two sets. */
function compareSets(derived: Uint8Array[], stored: Uint8Array[], report: (cid: Uint8Array, inStore: boolean) => void): void {
  const a = new Map(derived.map((c) => [toHex(c), c]))
  const b = new Map(stored.map((c) => [toHex(c), c]))
  for (const [k, c] of b) if (!a.has(k)) report(c, true)
  for (const [k, c] of a) if (!b.has(k)) report(c, false)
}


function didOrHex(author: Uint8Array): string {
  return author.length === 32 ? publicKeyToDid(author) : `hex:${toHex(author)}`
}

function stripCode(message: string): string {
  return message.replace(/^[A-Z_]+: /, '')
}
