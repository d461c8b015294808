/**
 * Claims on the memory network: a lease under partition (at most one unexpired winner per
 * connected component, exactly one after heal, the loser sees it lost and the fencing token
 * changes) and an election takeover when the elected peer dies. Time is log time: each peer's
 * `now` is a variable the test moves, so event times are chosen, not measured.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createXSync } from '../../src/views/client.js'
import type { XSyncClient } from '../../src/log/client.js'
import { memoryNetwork, type MemoryNetwork } from '../../src/transports/memory-network.js'
import type { ViewSnapshot } from '../../src/views/host.js'
import { workQueueView, WORK, PEER_HELLO, type WorkQueueState } from '../../src/views/work-queue.js'
import { electionRank } from '../../src/views/claims.js'
import { explainClaim } from '../../src/views/explain.js'

const clients: XSyncClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

interface Peer {
  c: XSyncClient
  clock: { t: number }
}

async function peers(net: MemoryNetwork, names: string[]): Promise<Peer[]> {
  const out: Peer[] = []
  for (const n of names) {
    const clock = { t: 1_000_000 }
    const c = await createXSync({ transports: [net.transport(n)], now: () => clock.t, views: { workQueue: workQueueView() }, reconnect: { minDelayMs: 1, maxDelayMs: 4 } })
    await c.listen()
    c.log('q')
    clients.push(c)
    out.push({ c, clock })
  }
  return out
}

async function queue(p: Peer): Promise<WorkQueueState> {
  return (await p.c.log('q').view<ViewSnapshot<WorkQueueState>>('workQueue')).state
}

async function syncAll(net: MemoryNetwork, ps: Peer[]): Promise<void> {
  for (let r = 0; r < 2; r++) {
    await Promise.all(ps.map((p) => p.c.sync('q')))
    await net.idle()
  }
}

describe('lease claims under partition', () => {
  it('one unexpired winner per component, exactly one after heal; the loser sees it lost; expiry hands over with a new token', async () => {
    const net = memoryNetwork({ seed: 21 })
    const [a, b, c] = await peers(net, ['a', 'b', 'c'])
    await b.c.connect('memory:a')
    await c.c.connect('memory:b')
    await a.c.log('q').append(WORK.enqueued, { item: 'job', mode: 'lease', ttlMs: 10_000 })
    await syncAll(net, [a, b, c])
    expect((await queue(c)).items.get('job')!.status).toBe('queued')

    net.partition(['a'], ['b', 'c'])
    a.clock.t += 1000
    const claimA = await a.c.log('q').append(WORK.claimed, { item: 'job' })
    b.clock.t += 2000
    const claimB = await b.c.log('q').append(WORK.claimed, { item: 'job' })
    await net.idle()
    // Each component sees its own claim win: one unexpired winner per component.
    expect((await queue(a)).items.get('job')!.winner?.claim).toBe(claimA.cid.toString())
    expect((await queue(b)).items.get('job')!.winner?.claim).toBe(claimB.cid.toString())
    expect((await queue(c)).items.get('job')!.winner?.claim).toBe(claimB.cid.toString())

    net.heal()
    await new Promise((r) => setTimeout(r, 20))
    await syncAll(net, [a, b, c])
    const after = await Promise.all([a, b, c].map(queue))
    const winner = after[0].items.get('job')!.winner!
    for (const s of after) expect(s.items.get('job')!.winner).toEqual(winner)
    // Both claims have the same clock (each saw only the enqueue): the CID bytes decide.
    const tokens = [claimA.cid.toString(), claimB.cid.toString()]
    expect(tokens).toContain(winner.claim)
    const loserToken = tokens.find((t) => t !== winner.claim)!
    const loser = winner.claim === tokens[0] ? b : a
    const seenByLoser = (await queue(loser)).items.get('job')!
    expect(seenByLoser.winner?.claim).not.toBe(loserToken) // the loser's fencing token changed
    expect(seenByLoser.decisions.find((d) => d.cid === loserToken)?.verdict).toBe('lost')
    // A completion under the lost token is stale; under the winning one it is accepted.
    loser.clock.t += 100
    await loser.c.log('q').append(WORK.completed, { item: 'job', claim: loserToken, result: 'wrong' })
    await syncAll(net, [a, b, c])
    expect((await queue(c)).items.get('job')!.status).toBe('claimed')
    const stale = (await queue(c)).items.get('job')!.decisions.at(-1)!
    expect(stale.verdict).toBe('stale')
    expect(stale.why).toBe(`not from the holder's claim (${winner.claim} by ${winner.by})`)
    // So is a renewal under it, and one by the holder under the lost token.
    await loser.c.log('q').append(WORK.renewed, { item: 'job', claim: loserToken })
    const holder = winner.claim === tokens[0] ? a : b
    await holder.c.log('q').append(WORK.renewed, { item: 'job', claim: loserToken })
    await syncAll(net, [a, b, c])
    const [byLoser, byHolder] = (await queue(c)).items.get('job')!.decisions.slice(-2)
    expect([byLoser.kind, byLoser.verdict, byLoser.why]).toEqual(['renew', 'stale', `not the holder's claim (${winner.claim} by ${winner.by})`])
    expect([byHolder.kind, byHolder.verdict, byHolder.why]).toEqual(['renew', 'stale', `not the holder's claim (${winner.claim} by ${winner.by})`])

    // After the lease's ttl of log time, c may claim: a new winner, a new token.
    c.clock.t = winner.expires! + 1
    const claimC = await c.c.log('q').append(WORK.claimed, { item: 'job' })
    await syncAll(net, [a, b, c])
    for (const p of [a, b, c]) expect((await queue(p)).items.get('job')!.winner?.claim).toBe(claimC.cid.toString())
    const why = explainClaim(await queue(a), 'job')
    expect(why.mode).toBe('lease')
    expect(why.summary).toContain(c.c.did)
    expect(why.decisions.map((d) => d.verdict)).toEqual(expect.arrayContaining(['won', 'lost', 'stale']))
  })
})

describe('deterministic election', () => {
  it('the top-ranked peer wins; when it dies, the next-ranked takes over after the timeout, the same on every peer', async () => {
    const net = memoryNetwork({ seed: 22 })
    const ps = await peers(net, ['a', 'b', 'c'])
    await ps[1].c.connect('memory:a')
    await ps[2].c.connect('memory:a')
    await ps[2].c.connect('memory:b')
    for (const p of ps) await p.c.log('q').append(PEER_HELLO, { id: p.c.did.slice(-8), kind: 'server', capabilities: [] })
    await syncAll(net, ps)
    await ps[0].c.log('q').append(WORK.enqueued, { item: 'elect', mode: 'deterministic-election', timeoutMs: 5000 })
    await syncAll(net, ps)
    const rank = electionRank('elect', (await queue(ps[0])).peers)
    expect(rank.length).toBe(3)
    const byDid = new Map(ps.map((p) => [p.c.did, p]))
    const first = byDid.get(rank[0].did)!
    const second = byDid.get(rank[1].did)!
    // The second-ranked may not jump the queue.
    second.clock.t += 100
    const early = await second.c.log('q').append(WORK.claimed, { item: 'elect' })
    first.clock.t += 200
    const won = await first.c.log('q').append(WORK.claimed, { item: 'elect' })
    await syncAll(net, ps)
    for (const p of ps) expect((await queue(p)).items.get('elect')!.winner?.by).toBe(first.c.did)

    // The winner dies. Too early, a takeover loses; after the timeout of log time, it wins.
    const survivors = ps.filter((p) => p !== first)
    await first.c.close()
    clients.splice(clients.indexOf(first.c), 1)
    await net.idle()
    second.clock.t = (await queue(second)).items.get('elect')!.winner!.since + 1000
    const tooSoon = await second.c.log('q').append(WORK.claimed, { item: 'elect', takeover: first.c.did })
    second.clock.t += 5000
    const takeover = await second.c.log('q').append(WORK.claimed, { item: 'elect', takeover: first.c.did })
    await syncAll(net, survivors)
    for (const p of survivors) {
      const it = (await queue(p)).items.get('elect')!
      expect(it.winner?.by).toBe(second.c.did)
      expect(it.winner?.claim).toBe(takeover.cid.toString())
      expect(it.winner?.claim).not.toBe(won.cid.toString())
      // The early claim and the winner's were concurrent (same clock): either may sort first.
      const verdict = (cid: { toString(): string }) => it.decisions.find((d) => d.cid === cid.toString())?.verdict
      expect([verdict(early.cid), verdict(won.cid), verdict(tooSoon.cid), verdict(takeover.cid)]).toEqual(['lost', 'won', 'lost', 'won'])
    }
    const why = explainClaim(await queue(survivors[0]), 'elect')
    expect(why.candidates.map((c) => c.did)).toEqual(rank.map((r) => r.did))
    expect(why.summary).toContain('takeover')
  })
})

describe('malformed claim inputs never stop a fold', () => {
  it('a hello with a bad spec, an enqueue with a bad placement and an unknown work type are skipped and counted', async () => {
    const net = memoryNetwork({ seed: 23 })
    const [a] = await peers(net, ['a'])
    const log = a.c.log('q')
    await log.append(PEER_HELLO, { id: '', kind: 'server', capabilities: [''] })
    await log.append(WORK.enqueued, { item: 'x', mode: 'deterministic-election', placement: { require: ['gpu'] } })
    await log.append(WORK.enqueued, { item: 'y', mode: 'deterministic-election', placement: { kinds: [] } })
    await log.append(PEER_HELLO, { id: 'ok', kind: 'server', capabilities: ['gpu'] })
    await log.append(WORK.enqueued, { item: 'z', mode: 'deterministic-election', placement: { requires: ['gpu'] } })
    await log.append(WORK.claimed, { item: 'z' })
    // A work type this version does not know is counted; an event of another kind is not ours to count.
    await log.append('xsync.work.paused', { item: 'z' })
    await log.append('app.note', { item: 'z' })
    const s = await queue(a)
    expect(s.rejected).toBe(4)
    expect([...s.items.keys()]).toEqual(['z'])
    expect(s.items.get('z')!.winner?.by).toBe(a.c.did)
  })
})
