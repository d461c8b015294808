/**
 * `stateflow audit inspect --store <path> [--log <id>] [--json]`: what a store holds, per log:
 * its id, event count, heads, authors (did, highest seq, event count) and forks; for
 * `log:<cid>` logs also the policy and the admins and writers folded from every membership
 * event the log holds. Inspect reads; it checks nothing (that is `audit verify`), so forks here
 * are two stored events by one author at one seq, whether or not their signatures hold.
 *
 * `--json`: one JSON document `{ store, kind, logs: [{ log, events, heads, authors, forks,
 * policy?, admins?, writers?, undecodable }] }`. Exit 0, or 2 for a missing store or log.
 */
import { toHex } from '../dag/bytes.js'
import { findForks } from '../dag/forks.js'
import type { DagNode } from '../dag/node.js'
import { DEFAULT_MAX_EVENT_BYTES, decodeEvent } from '../log/codec.js'
import { isMembershipType } from '../log/event-types.js'
import { publicKeyToDid } from '../log/identity.js'
import { foldMembership, type MembershipEvent } from '../log/membership.js'
import type { EventStore, StoredEvent } from '../stores/event-store.js'
import { EXIT_OK, EXIT_USAGE, quoteLog, type Output } from './io.js'
import { countEvents, openStore } from './open-store.js'
import { noProgress, progressFor, type ProgressMode } from './progress.js'
import { cidString } from './verify-log.js'

export interface AuditInspectOptions {
  store: string
  /** Only this log. @default every log */
  log?: string
  json?: boolean
  /** Events per store page. @default 1024 */
  pageSize?: number
  /** The live counter on stderr (progress.ts). @default 'auto': when stderr is a terminal */
  progress?: ProgressMode
  /** The counter's clock, for throttling only. @default Date.now */
  progressNow?: () => number
}

export interface AuthorSummary {
  did: string
  /** The highest seq held. */
  seq: number
  events: number
}

export interface LogSummary {
  log: string
  events: number
  heads: string[]
  authors: AuthorSummary[]
  forks: { author: string; seq: number; cids: [string, string] }[]
  policy?: 'open' | 'members'
  admins?: string[]
  writers?: string[]
  /** Events whose bytes do not decode (their type is unknown; `audit verify` says more). */
  undecodable: number
}

export async function auditInspect(options: AuditInspectOptions, io: Output): Promise<number> {
  const { store, kind, path } = await openStore(options.store)
  try {
    const all = await store.logs()
    if (options.log !== undefined && !all.includes(options.log)) {
      io.err(`stateflow: no log ${JSON.stringify(options.log)} in ${path}`)
      return EXIT_USAGE
    }
    const logs: LogSummary[] = []
    const bar = progressFor(io, options.progress ?? 'auto', 'read', 'events', options.progressNow ? { now: options.progressNow } : undefined)
    const wanted = options.log !== undefined ? [options.log] : all
    const total = bar === noProgress ? undefined : await countEvents(store, wanted)
    let done = 0
    bar.update(0, total)
    try {
      for (const log of wanted) logs.push(await inspectLog(store, log, options.pageSize ?? 1024, (n) => bar.update((done += n), total)))
    } finally {
      bar.done()
    }
    if (options.json) {
      io.out(JSON.stringify({ store: path, kind, logs }))
      return EXIT_OK
    }
    io.out(`store ${path} (${kind}), ${logs.length} log${logs.length === 1 ? '' : 's'}`)
    for (const l of logs) printLog(l, io)
    return EXIT_OK
  } finally {
    await store.close()
  }
}

/** Summarize one log from the store's indexed fields, decoding only to find membership events. */
export async function inspectLog(store: EventStore, log: string, pageSize: number, onProgress?: (events: number) => void): Promise<LogSummary> {
  const authors = new Map<string, AuthorSummary>()
  const nodes: DagNode[] = []
  const membership: MembershipEvent[] = []
  let undecodable = 0
  let last: StoredEvent | undefined
  for (;;) {
    const page = await store.scan(log, last ? { after: last, limit: pageSize } : { limit: pageSize })
    for (const s of page) {
      const author = toHex(s.author)
      let a = authors.get(author)
      if (!a) authors.set(author, (a = { did: s.author.length === 32 ? publicKeyToDid(s.author) : `hex:${author}`, seq: 0, events: 0 }))
      a.events++
      if (s.seq > a.seq) a.seq = s.seq
      const key = toHex(s.cid)
      nodes.push({ key, cid: s.cid, author, seq: s.seq, clock: s.clock, prev: null, parents: [] })
      try {
        const d = decodeEvent(s.bytes, { maxBytes: Math.max(DEFAULT_MAX_EVENT_BYTES, s.bytes.length) })
        if (isMembershipType(d.type)) membership.push({ key, cid: s.cid, clock: d.clock, type: d.type, body: d.body })
      } catch {
        undecodable++
      }
    }
    onProgress?.(page.length)
    if (page.length < pageSize) break
    last = page[page.length - 1]
  }
  const didOf = (hex: string): string => authors.get(hex)?.did ?? hex
  const summary: LogSummary = {
    log,
    events: nodes.length,
    heads: (await store.heads(log)).map(cidString),
    authors: [...authors.values()].sort((x, y) => (x.did < y.did ? -1 : x.did > y.did ? 1 : 0)),
    forks: findForks(nodes).map((f) => ({ author: didOf(f.author), seq: f.seq, cids: [cidString(f.a), cidString(f.b)] })),
    undecodable,
  }
  if (log.startsWith('log:')) {
    let state
    try {
      state = foldMembership(membership)
    } catch {
      state = undefined // a malformed membership body: verify reports it
    }
    if (state) {
      summary.policy = state.policy
      summary.admins = [...state.admins].sort()
      summary.writers = [...state.writers].sort()
    }
  }
  return summary
}

function printLog(l: LogSummary, io: Output): void {
  io.out(`log ${quoteLog(l.log)}`)
  io.out(`  events   ${l.events}${l.undecodable > 0 ? ` (${l.undecodable} undecodable)` : ''}`)
  if (l.policy !== undefined) {
    io.out(`  policy   ${l.policy}`)
    list(io, 'admins', l.admins ?? [])
    list(io, 'writers', l.writers ?? [])
  }
  list(io, 'heads', l.heads)
  io.out(`  authors  ${l.authors.length}`)
  for (const a of l.authors) io.out(`    ${a.did}  seq ${a.seq}  events ${a.events}`)
  if (l.forks.length === 0) io.out('  forks    none')
  else {
    io.out(`  forks    ${l.forks.length}`)
    for (const f of l.forks) io.out(`    ${f.author}  seq ${f.seq}  ${f.cids[0]}  ${f.cids[1]}`)
  }
}

function list(io: Output, label: string, items: readonly string[]): void {
  const pad = label.padEnd(8)
  if (items.length === 0) io.out(`  ${pad} none`)
  items.forEach((item, i) => io.out(`  ${i === 0 ? pad : ''.padEnd(8)} ${item}`))
}
