/**
 * The inspector's JSON API, read-only, under `/api/`:
 * - `GET /api/node`: this peer (did, addresses, store);
 * - `GET /api/logs?limit=`: logs with counts, heads, and whether each is a run;
 * - `GET /api/logs/<id>`: one log (count, heads, forks);
 * - `GET /api/logs/<id>/dag?limit=`: its newest events as nodes and parent/prev edges;
 * - `GET /api/runs?limit=`: runs with status; `GET /api/runs/<id>`: one run's folded state;
 * - `GET /api/runs/<id>/timeline?limit=`: its events one by one, with claim decisions;
 * - `GET /api/peers`: peers connected now.
 * Ids travel percent-encoded in one path segment. Unknown logs and runs are 404 before any `Log`
 * is opened, so probing ids costs this node nothing.
 */
import { utf8Length } from '../../dag/bytes.js'
import { compareEvents } from '../../dag/order.js'
import { MAX_LOG_ID_BYTES, decodeEvent, eventCidString } from '../../log/codec.js'
import { publicKeyToDid } from '../../log/identity.js'
import type { XSyncClient } from '../../log/client.js'
import type { EventStore, StoredEvent } from '../../stores/event-store.js'
import { HttpApiError, badRequest, checkQuery, intParam, notFound, type Target } from './http.js'
import { RunIndex, runDetail, runState, runSummary, runTimeline } from './runs.js'

/** Logs per `/api/logs` page. @default 200, at most 1000 */
export const LOGS_LIMIT = { fallback: 200, max: 1000 }
/** Newest events drawn by `/dag`: a picture of more says nothing more. @default 500, at most 2000 */
export const DAG_LIMIT = { fallback: 500, max: 2000 }
/** Runs per `/api/runs`. @default 100, at most 1000 */
export const RUNS_LIMIT = { fallback: 100, max: 1000 }
/** Newest events of a run's timeline. @default 1000, at most 10000 */
export const TIMELINE_LIMIT = { fallback: 1000, max: 10_000 }
/** Heads listed per log in `/api/logs` (the count is always given). */
const HEADS_IN_LIST = 8

export interface NodeInfo {
  did: string
  addresses: { http: string; ws: string; sse: string }
  store: { kind: string; path: string }
}

export interface ApiContext {
  client: XSyncClient
  store: EventStore
  runs: RunIndex
  node: NodeInfo
}

/** Answer `/api/<segments…>` (the `api` segment removed) with a JSON value, or throw an `HttpApiError`. */
export async function handleApi(ctx: ApiContext, target: Target): Promise<unknown> {
  const [what, id, sub, ...more] = target.segments
  if (more.length > 0) throw notFound(`no such API route: /api/${target.segments.join('/').slice(0, 200)}`)
  const q = target.query
  switch (`${what ?? ''}${id === undefined ? '' : '/:id'}${sub === undefined ? '' : `/${sub}`}`) {
    case '':
      checkQuery(q, [])
      return { routes: ['/api/node', '/api/logs', '/api/logs/<id>', '/api/logs/<id>/dag', '/api/runs', '/api/runs/<id>', '/api/runs/<id>/timeline', '/api/peers', '/api/live'] }
    case 'node':
      checkQuery(q, [])
      return ctx.node
    case 'peers':
      checkQuery(q, [])
      return { peers: peers(ctx.client) }
    case 'logs':
      checkQuery(q, ['limit'])
      return listLogs(ctx, intParam(q, 'limit', LOGS_LIMIT.fallback, 1, LOGS_LIMIT.max))
    case 'logs/:id':
      checkQuery(q, [])
      return logDetail(ctx, await existingLog(ctx, id!))
    case 'logs/:id/dag':
      checkQuery(q, ['limit'])
      return dag(ctx.store, await existingLog(ctx, id!), intParam(q, 'limit', DAG_LIMIT.fallback, 1, DAG_LIMIT.max))
    case 'runs':
      checkQuery(q, ['limit'])
      return listRuns(ctx, intParam(q, 'limit', RUNS_LIMIT.fallback, 1, RUNS_LIMIT.max))
    case 'runs/:id': {
      checkQuery(q, [])
      const run = await existingRun(ctx, id!)
      return runDetail(run, await runState(ctx.client, run), await ctx.store.count(run))
    }
    case 'runs/:id/timeline': {
      checkQuery(q, ['limit'])
      const limit = intParam(q, 'limit', TIMELINE_LIMIT.fallback, 1, TIMELINE_LIMIT.max)
      const run = await existingRun(ctx, id!)
      return runTimeline(ctx.client, run, await runState(ctx.client, run), limit)
    }
    default:
      throw notFound(`no such API route: /api/${target.segments.join('/').slice(0, 200)}`)
  }
}

function checkLogId(id: string): void {
  if (id.length === 0) throw badRequest('empty log id')
  if (utf8Length(id) > MAX_LOG_ID_BYTES) throw new HttpApiError(414, 'TOO_LARGE', `a log id is at most ${MAX_LOG_ID_BYTES} UTF-8 bytes`)
}

async function existingLog(ctx: ApiContext, id: string): Promise<string> {
  checkLogId(id)
  if ((await ctx.store.count(id)) === 0) throw notFound(`no log ${JSON.stringify(id.slice(0, 80))} in this store`)
  return id
}

async function existingRun(ctx: ApiContext, id: string): Promise<string> {
  checkLogId(id)
  if ((await ctx.store.count(id)) === 0 || !(await ctx.runs.isRun(id))) throw notFound(`no run ${JSON.stringify(id.slice(0, 80))} in this store`)
  return id
}

const cidStrings = (cids: Uint8Array[]) => cids.map((c) => eventCidString(c))

async function listLogs(ctx: ApiContext, limit: number) {
  const all = await ctx.store.logs()
  const logs = await Promise.all(
    all.slice(0, limit).map(async (id) => {
      const heads = await ctx.store.heads(id)
      return { id, count: await ctx.store.count(id), heads: cidStrings(heads.slice(0, HEADS_IN_LIST)), headCount: heads.length, run: await ctx.runs.isRun(id) }
    }),
  )
  return { total: all.length, truncated: all.length > limit, logs }
}

async function logDetail(ctx: ApiContext, id: string) {
  const log = ctx.client.log(id)
  const forks = await log.forks()
  return {
    id,
    count: await log.count(),
    heads: (await log.heads()).map(String),
    run: await ctx.runs.isRun(id),
    forks: forks.map((f) => ({ author: f.author, seq: f.seq, a: f.a.toString(), b: f.b.toString() })),
  }
}

async function listRuns(ctx: ApiContext, limit: number) {
  const runs = []
  for (const id of await ctx.store.logs()) if (await ctx.runs.isRun(id)) runs.push(id)
  const shown = await Promise.all(runs.map(async (id) => runSummary(id, (await runState(ctx.client, id)).state, await ctx.store.count(id))))
  // Newest first; a run not yet started (only joins seen) sorts last.
  shown.sort((a, b) => (b.startedAt ?? -1) - (a.startedAt ?? -1) || (a.id < b.id ? -1 : 1))
  return { total: shown.length, truncated: shown.length > limit, runs: shown.slice(0, limit) }
}

function peers(client: XSyncClient) {
  return client.peers().map((p) => ({
    did: p.did,
    address: p.address,
    transport: p.transport,
    direction: p.direction,
    logs: p.logs.length,
    lastSeen: p.lastSeen,
    invalidReceived: p.invalidReceived,
    rejectedByPeer: p.rejectedByPeer,
  }))
}

interface Walked {
  stored: StoredEvent
  key: string
}

/**
 * The newest `limit` events of a log and the edges among them. Walks back from the heads taking
 * the greatest event in total order each time: every event sorts after its parents, so all its
 * descendants are taken before it, and the walk yields exactly the newest `limit` without
 * scanning the log from its start.
 */
async function dag(store: EventStore, log: string, limit: number) {
  const count = await store.count(log)
  const frontier: Walked[] = []
  const queued = new Set<string>()
  const enqueue = async (cid: Uint8Array): Promise<void> => {
    const key = eventCidString(cid)
    if (queued.has(key)) return
    queued.add(key)
    const stored = await store.get(cid)
    if (stored !== undefined && stored.log === log) frontier.push({ stored, key })
  }
  for (const h of await store.heads(log)) await enqueue(h)
  const nodes = []
  const edges: { from: string; to: string; kind: 'parent' | 'prev' }[] = []
  while (nodes.length < limit && frontier.length > 0) {
    // The frontier is as wide as the DAG is concurrent: a scan for its greatest is cheap.
    let best = 0
    for (let i = 1; i < frontier.length; i++) if (compareEvents(frontier[i].stored, frontier[best].stored) > 0) best = i
    const { stored, key } = frontier[best]
    frontier[best] = frontier[frontier.length - 1]
    frontier.pop()
    let e
    try {
      e = decodeEvent(stored.bytes)
    } catch {
      nodes.push({ cid: key, clock: stored.clock, seq: stored.seq, author: publicKeyToDid(stored.author), type: null, time: null })
      continue // undecodable bytes: shown, not followed (`audit verify` says why)
    }
    nodes.push({ cid: key, clock: e.clock, seq: e.seq, author: publicKeyToDid(e.author), type: e.type, time: e.time })
    for (const p of e.parents) edges.push({ from: key, to: p.toString(), kind: 'parent' })
    if (e.prev !== null && !e.parents.some((p) => p.equals(e.prev!))) edges.push({ from: key, to: e.prev.toString(), kind: 'prev' })
    for (const p of e.parents) await enqueue(p.bytes)
    if (e.prev !== null) await enqueue(e.prev.bytes)
  }
  const shown = new Set(nodes.map((n) => n.cid))
  nodes.reverse() // oldest first: the order the picture reads in
  return { log, count, truncated: count > nodes.length, nodes, edges: edges.filter((x) => shown.has(x.to)) }
}
