import { afterEach, describe, expect, it } from 'vitest'
import { createXSync, type XSyncClient } from '../../src/log/client.js'
import { publicKeyToDid } from '../../src/log/identity.js'
import type { Log, LogEvent } from '../../src/log/log.js'
import { compareEvents } from '../../src/dag/order.js'
import { decodeState, encodeState } from '../../src/views/view.js'
import { nodeSpecProblem, normalizeNodeSpec, type NodeKind, type RuntimeNodeSpec } from '../../src/views/placement.js'
import { PEER_BYE, PEER_HELLO, announcedPeers, bye, hello, peerPresenceView, type PresenceState } from '../../src/views/presence-view.js'
import { EXTENSIVE, prng, testSeed } from '../conformance/index.js'

const LOG = 'presence'
const view = peerPresenceView()

/**
 * What a view host does, minus checkpoint storage: sort by the total order and reduce with log
 * time. With `checkpointAt`, the state goes through encode/decode before that index, as a host
 * resuming from a checkpoint would see it. Returns the log time each event was folded at.
 */
function fold(events: readonly LogEvent[], options: { checkpointAt?: number } = {}) {
  const sorted = [...events].sort((a, b) => compareEvents({ clock: a.clock, cid: a.cid.bytes }, { clock: b.clock, cid: b.cid.bytes }))
  let state = view.initial()
  let time = 0
  const timeOf = new Map<string, number>()
  sorted.forEach((e, index) => {
    if (index === options.checkpointAt) state = decodeState(view, encodeState(view, state))
    time = Math.max(time, e.time)
    timeOf.set(e.cid.toString(), time)
    state = view.reduce(state, e, { log: LOG, time, index })
  })
  return { state, bytes: encodeState(view, state), timeOf: (e: LogEvent) => timeOf.get(e.cid.toString()) }
}

async function collect(log: Log): Promise<LogEvent[]> {
  const out: LogEvent[] = []
  for await (const e of log.events()) out.push(e)
  return out
}

const wire = (events: readonly LogEvent[]) => events.map((e) => (e.sig ? { bytes: e.bytes, sig: e.sig } : { bytes: e.bytes }))

/** One fake wall clock shared by every client of a test, so no ingest sees a FUTURE event. */
function sharedClock(): () => number {
  let t = 1_000_000
  return () => (t += 1000)
}

const specA: RuntimeNodeSpec = { id: 'a', kind: 'server', capabilities: ['fs', 'sqlite'], trust: 'internal' }
const specB: RuntimeNodeSpec = { id: 'b', kind: 'browser', capabilities: ['indexeddb'] }

let clients: XSyncClient[] = []
async function client(now: () => number): Promise<XSyncClient> {
  const c = await createXSync({ now })
  clients.push(c)
  return c
}
afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()))
  clients = []
})

describe('presence view - hello and bye', () => {
  it('a hello announces, a bye leaves, a later hello announces again', async () => {
    const c = await client(sharedClock())
    const log = c.log(LOG)
    const h1 = await hello(log, specA)
    let f = fold(await collect(log))
    expect(f.state.peers[c.did]).toEqual({ spec: specA, since: f.timeOf(h1) })
    expect(announcedPeers(f.state)).toEqual([{ did: c.did, spec: specA, since: f.timeOf(h1) }])

    const b1 = await bye(log, 'maintenance')
    await bye(log) // a second bye keeps the first one's time and reason
    f = fold(await collect(log))
    expect(f.state.peers[c.did]).toEqual({ spec: specA, since: f.timeOf(h1), left: f.timeOf(b1), reason: 'maintenance' })
    expect(announcedPeers(f.state)).toEqual([])

    const h2 = await hello(log, specB)
    f = fold(await collect(log))
    expect(f.state.peers[c.did]).toEqual({ spec: specB, since: f.timeOf(h2) })
    expect(announcedPeers(f.state)).toEqual([{ did: c.did, spec: specB, since: f.timeOf(h2) }])

    const b2 = await bye(log)
    f = fold(await collect(log))
    expect(f.state.peers[c.did]).toEqual({ spec: specB, since: f.timeOf(h2), left: f.timeOf(b2) })
    expect(f.state.skipped).toBe(0)
  })

  it('a hello while announced updates the spec; a bye with no hello before it changes nothing', async () => {
    const c = await client(sharedClock())
    const log = c.log(LOG)
    await bye(log, 'early')
    let f = fold(await collect(log))
    expect(f.state).toEqual({ peers: {}, skipped: 0 })
    await hello(log, specA)
    const h2 = await hello(log, specB)
    f = fold(await collect(log))
    expect(announcedPeers(f.state)).toEqual([{ did: c.did, spec: specB, since: f.timeOf(h2) }])
  })

  it('peers are keyed by author did and listed sorted by did', async () => {
    const now = sharedClock()
    const [x, y, z] = [await client(now), await client(now), await client(now)]
    await hello(x.log(LOG), specA)
    await hello(y.log(LOG), specB)
    await hello(z.log(LOG), { id: 'z', kind: 'edge', capabilities: [] })
    await bye(z.log(LOG))
    const events = [...(await collect(x.log(LOG))), ...(await collect(y.log(LOG))), ...(await collect(z.log(LOG)))]
    const { state } = fold(events)
    expect(Object.keys(state.peers).sort()).toEqual([x.did, y.did, z.did].sort())
    const listed = announcedPeers(state)
    expect(listed.map((p) => p.did)).toEqual([x.did, y.did].sort())
    expect(listed.find((p) => p.did === x.did)?.spec).toEqual(specA)
    expect(listed.find((p) => p.did === y.did)?.spec).toEqual(specB)
  })

  it('stores the spec canonically: capabilities sorted and de-duplicated, unknown fields dropped', async () => {
    const c = await client(sharedClock())
    const log = c.log(LOG)
    await log.append(PEER_HELLO, { id: 'n', kind: 'worker', capabilities: ['z', 'a', 'z'], future: { x: 1 } })
    const { state } = fold(await collect(log))
    expect(state.peers[c.did].spec).toEqual({ id: 'n', kind: 'worker', capabilities: ['a', 'z'] })
  })

  it('announcedPeers hands out copies', async () => {
    const c = await client(sharedClock())
    await hello(c.log(LOG), specA)
    const { state, bytes } = fold(await collect(c.log(LOG)))
    const [p] = announcedPeers(state)
    p.spec.capabilities.push('gpu')
    p.spec.id = 'changed'
    expect(encodeState(view, state)).toEqual(bytes)
    expect(() => announcedPeers(null as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
  })
})

describe('presence view - bad input', () => {
  it('skips and counts malformed bodies, never throws, and they change nothing else', async () => {
    const c = await client(sharedClock())
    const log = c.log(LOG)
    const h = await hello(log, specA)
    const badHellos: unknown[] = [
      'x',
      null,
      [],
      { id: '', kind: 'server', capabilities: [] },
      { id: 'a', kind: 'mainframe', capabilities: [] },
      { id: 'a', kind: 'server', capabilities: 'fs' },
      { id: 'a', kind: 'server', capabilities: [1] },
      { id: 'a', kind: 'server', capabilities: [], trust: 5 },
    ]
    const badByes: unknown[] = [5, null, [], 'bye', { reason: 7 }]
    for (const body of badHellos) await log.append(PEER_HELLO, body)
    for (const body of badByes) await log.append(PEER_BYE, body)
    const f = fold(await collect(log))
    expect(f.state.skipped).toBe(badHellos.length + badByes.length)
    expect(f.state.peers).toEqual({ [c.did]: { spec: specA, since: f.timeOf(h) } })
  })

  it('an event whose author is not a public key is skipped, not thrown', async () => {
    const c = await client(sharedClock())
    const e = await hello(c.log(LOG), specA)
    const state = view.reduce(view.initial(), { ...e, author: new Uint8Array(3) }, { log: LOG, time: e.time, index: 0 })
    expect(state).toEqual({ peers: {}, skipped: 1 })
  })

  it('ignores other event types without counting them', async () => {
    const c = await client(sharedClock())
    const e = await c.log(LOG).append('app.note', { text: 'hi' })
    const initial = view.initial()
    expect(view.reduce(initial, e, { log: LOG, time: e.time, index: 0 })).toBe(initial)
    expect(initial).toEqual({ peers: {}, skipped: 0 })
  })

  it('hello and bye validate before appending (INVALID_ARGUMENT, nothing appended)', async () => {
    const c = await client(sharedClock())
    const log = c.log(LOG)
    for (const spec of [null, {}, { id: 'a', kind: 'pc', capabilities: [] }, { id: 'a', kind: 'server', capabilities: [''] }]) {
      await expect(hello(log, spec as never), JSON.stringify(spec)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    }
    await expect(bye(log, 5 as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(hello({} as never, specA)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(bye(null as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(await log.count()).toBe(0)
  })
})

describe('presence view - determinism', () => {
  it('encodes canonically: insertion order does not matter and decode(encode(s)) is s', () => {
    const p1 = { spec: specA, since: 5 }
    const p2 = { spec: specB, since: 7, left: 9, reason: 'r' }
    const s1: PresenceState = { peers: { 'did:key:z1': p1, 'did:key:z2': p2 }, skipped: 2 }
    const s2: PresenceState = { peers: { 'did:key:z2': p2, 'did:key:z1': p1 }, skipped: 2 }
    expect(encodeState(view, s1)).toEqual(encodeState(view, s2))
    expect(decodeState(view, encodeState(view, s1))).toEqual(s1)
  })

  it('same events in any delivery order, on any peer, from any checkpoint: the same state bytes (seeded)', async () => {
    const seed = testSeed()
    console.log(`presence-view determinism seed ${seed} (replay: STATEFLOW_SEED=${seed})`)
    const rand = prng(seed)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]
    const now = sharedClock()
    const writers = [await client(now), await client(now), await client(now)]
    const logs = writers.map((w) => w.log(LOG))
    const kinds: NodeKind[] = ['browser', 'server', 'worker', 'edge']

    // Writers act and sync partially, so the DAG has concurrent events (equal clocks, CID tiebreaks).
    const steps = EXTENSIVE ? 300 : 60
    for (let i = 0; i < steps; i++) {
      const w = Math.floor(rand() * logs.length)
      const r = rand()
      if (r < 0.3) {
        const capabilities = Array.from({ length: Math.floor(rand() * 4) }, () => pick(['fs', 'gpu', 'indexeddb', 'websocket']))
        // Raw appends too, so unsorted capabilities reach the reducer.
        const spec = { id: `n${w}-${i}`, kind: pick(kinds), capabilities, ...(rand() < 0.5 ? { trust: pick(['internal', 'user']) } : {}) }
        if (rand() < 0.5) await hello(logs[w], spec)
        else await logs[w].append(PEER_HELLO, spec)
      } else if (r < 0.5) await bye(logs[w], rand() < 0.5 ? undefined : `reason ${i}`)
      else if (r < 0.6) await logs[w].append(PEER_HELLO, { id: `n${w}`, kind: 'mainframe', capabilities: [] })
      else if (r < 0.7) await logs[w].append('app.note', { i })
      else {
        const from = (w + 1 + Math.floor(rand() * (logs.length - 1))) % logs.length
        const results = await logs[w].ingest(wire(await collect(logs[from])), { from: `w${from}` })
        expect(results.filter((x) => x.status === 'rejected'), `seed ${seed}`).toEqual([])
      }
    }
    const byCid = new Map<string, LogEvent>()
    for (const log of logs) for (const e of await collect(log)) byCid.set(e.cid.toString(), e)
    const all = [...byCid.values()]
    const reference = fold(all)

    // Against a model read backwards: a did is announced iff its last valid presence event is a hello.
    const sorted = [...all].sort((a, b) => compareEvents({ clock: a.clock, cid: a.cid.bytes }, { clock: b.clock, cid: b.cid.bytes }))
    const last = new Map<string, LogEvent>()
    for (const e of sorted) if ((e.type === PEER_HELLO && nodeSpecProblem(e.body) === undefined) || e.type === PEER_BYE) last.set(publicKeyToDid(e.author), e)
    const expected = [...last]
      .filter(([, e]) => e.type === PEER_HELLO)
      .map(([did, e]) => ({ did, spec: normalizeNodeSpec(e.body as RuntimeNodeSpec), since: reference.timeOf(e) }))
      .sort((a, b) => (a.did < b.did ? -1 : 1))
    expect(announcedPeers(reference.state), `seed ${seed}`).toEqual(expected)
    expect(reference.state.skipped, `seed ${seed}`).toBe(all.filter((e) => e.type === PEER_HELLO && nodeSpecProblem(e.body) !== undefined).length)

    // Fresh peers ingest the same events in random orders and batches, then fold what they hold.
    const rounds = EXTENSIVE ? 25 : 5
    for (let round = 0; round < rounds; round++) {
      const shuffled = [...all]
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1))
        ;[shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]]
      }
      const reader = (await client(now)).log(LOG)
      for (let at = 0; at < shuffled.length; ) {
        const n = 1 + Math.floor(rand() * 8)
        const results = await reader.ingest(wire(shuffled.slice(at, at + n)), { from: 'shuffler' })
        expect(results.filter((x) => x.status === 'rejected'), `seed ${seed} round ${round}`).toEqual([])
        at += n
      }
      expect(await reader.count(), `seed ${seed} round ${round}`).toBe(all.length)
      expect(fold(await collect(reader)).bytes, `seed ${seed} round ${round}`).toEqual(reference.bytes)
      expect(fold(shuffled, { checkpointAt: Math.floor(rand() * shuffled.length) }).bytes, `seed ${seed} round ${round} checkpoint`).toEqual(reference.bytes)
    }

    // The writers themselves converge once each holds everything.
    for (const log of logs) {
      await log.ingest(wire(all), { from: 'all' })
      expect(fold(await collect(log)).bytes, `seed ${seed}`).toEqual(reference.bytes)
    }
  })
})
