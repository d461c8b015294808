import { describe, expect, it } from 'vitest'
import { createXSync } from '../../src/log/client.js'
import { identityFromSecretKey, generateIdentity, exportIdentity } from '../../src/log/identity.js'
import { encodeEvent, signingMessage } from '../../src/log/codec.js'
import type { LogEvent } from '../../src/log/log.js'
import { memoryStore } from '../../src/stores/memory-store.js'

const wire = (events: LogEvent[]) => events.map((e) => (e.sig ? { bytes: e.bytes, sig: e.sig } : { bytes: e.bytes }))

describe('validation - pending buffer bound', () => {
  it('rejects past the per-peer bound with PENDING_OVERFLOW and keeps other peers apart', async () => {
    const a = await createXSync()
    const b = await createXSync({ pendingPerPeer: 2 })
    const events = []
    for (let i = 0; i < 4; i++) events.push(await a.log('o').append('t', i))
    const orphans = wire(events.slice(1)) // all wait for event 0
    const r = await b.log('o').ingest(orphans, { from: 'peer-1' })
    expect(r.map((x) => x.status)).toEqual(['pending', 'pending', 'rejected'])
    expect(r[2].code).toBe('PENDING_OVERFLOW')
    // Another peer has its own budget.
    const r2 = await b.log('o').ingest(orphans.slice(2), { from: 'peer-2' })
    expect(r2.map((x) => x.status)).toEqual(['pending'])
    expect(await b.log('o').count()).toBe(0)
    // The missing root releases everything that waited.
    await b.log('o').ingest(wire(events.slice(0, 1)), { from: 'peer-1' })
    expect(await b.log('o').count()).toBe(4)
    expect(b.log('o').pendingCount).toBe(0)
    await a.close()
    await b.close()
  })

  it('bad shapes in an ingest array are DECODE per item, the rest still go in', async () => {
    const a = await createXSync()
    const e = await a.log('s').append('t', 1)
    const b = await createXSync()
    const r = await b.log('s').ingest([null as never, { bytes: 'x' } as never, { bytes: e.bytes, sig: 'nope' } as never, { bytes: e.bytes, sig: e.sig! }])
    expect(r.map((x) => x.code ?? x.status)).toEqual(['DECODE', 'DECODE', 'DECODE', 'stored'])
    await expect(b.log('s').ingest('x' as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await a.close()
    await b.close()
  })

  it('an event of another log is refused, not stored', async () => {
    const a = await createXSync()
    const e = await a.log('one').append('t', 1)
    const r = await a.log('two').ingest(wire([e]))
    expect(r[0]).toMatchObject({ status: 'rejected', code: 'INVALID_ARGUMENT' })
    expect(await a.log('two').count()).toBe(0)
    await a.close()
  })

  it('append refuses a body larger than the bound with TOO_LARGE and stores nothing', async () => {
    const a = await createXSync({ maxEventBytes: 512 })
    await expect(a.log('big').append('t', 'x'.repeat(1000))).rejects.toMatchObject({ code: 'TOO_LARGE' })
    expect(await a.log('big').count()).toBe(0)
    await a.close()
  })
})

describe('validation - membership (DESIGN §4)', () => {
  it('writers added by an admin may write; others are UNAUTHORIZED; removal applies to the causal future', async () => {
    const admin = await createXSync()
    const writer = await createXSync()
    const stranger = await createXSync()
    const log = await admin.createLog({ writers: [] })
    expect(log.id).toMatch(/^log:bafy/)
    const genesis = []
    for await (const e of log.events()) genesis.push(e)
    const sync = async (from: typeof admin, to: typeof admin) => {
      const all = []
      for await (const e of from.log(log.id).events()) all.push(e)
      return to.log(log.id).ingest(wire(all))
    }
    await sync(admin, writer)
    await sync(admin, stranger)
    // Before being added, the writer's own append is refused locally.
    await expect(writer.log(log.id).append('app.note', 'early')).rejects.toMatchObject({ code: 'UNAUTHORIZED' })
    expect(await writer.log(log.id).count()).toBe(1)
    await log.addMembers({ writers: [writer.did] })
    await sync(admin, writer)
    const ok = await writer.log(log.id).append('app.note', 'hello')
    expect((await admin.log(log.id).ingest(wire([ok])))[0].status).toBe('stored')
    // The stranger forges an event anyway: everyone refuses it.
    const intruder = encodeEvent({ v: 1, log: log.id, author: stranger.identity.publicKey, seq: 1, prev: null, parents: [genesis[0].cid], clock: 2, time: Date.now(), type: 'app.note', body: 'hi' })
    const r = await admin.log(log.id).ingest([{ bytes: intruder.bytes, sig: await stranger.identity.sign(signingMessage(intruder.cid)) }])
    expect(r[0]).toMatchObject({ status: 'rejected', code: 'UNAUTHORIZED' })
    // Only admins change membership.
    await expect(writer.log(log.id).addMembers({ writers: [stranger.did] })).rejects.toMatchObject({ code: 'UNAUTHORIZED' })
    await log.removeMembers({ writers: [writer.did] })
    await sync(admin, writer)
    await expect(writer.log(log.id).append('app.note', 'after removal')).rejects.toMatchObject({ code: 'UNAUTHORIZED' })
    const m = await admin.log(log.id).membership()
    expect(m?.policy).toBe('members')
    expect([...m!.admins]).toEqual([admin.did])
    expect([...m!.writers]).toEqual([])
    for (const c of [admin, writer, stranger]) await c.close()
  })

  it('membership is re-derived after a restart on the same store', async () => {
    const store = memoryStore()
    const id = await generateIdentity()
    const admin = await createXSync({ store, identity: id })
    const other = await generateIdentity()
    const log = await admin.createLog({ writers: [other.did] })
    await log.append('app.note', 1)
    // A second client on the same store (as after a restart) knows the policy from the log alone.
    const again = await createXSync({ store, identity: await identityFromSecretKey(exportIdentity(id).secretKey) })
    const m = await again.log(log.id).membership()
    expect([...m!.writers]).toEqual([other.did])
    const e = await again.log(log.id).append('app.note', 2)
    expect(e.seq).toBe(3)
    await again.close()
  })

  it('an open-policy log lets anyone who descends from the genesis write', async () => {
    const a = await createXSync()
    const b = await createXSync()
    const log = await a.createLog({ policy: 'open' })
    const all = []
    for await (const e of log.events()) all.push(e)
    await b.log(log.id).ingest(wire(all))
    const e = await b.log(log.id).append('app.note', 'anyone')
    expect((await a.log(log.id).ingest(wire([e])))[0].status).toBe('stored')
    await expect(a.createLog({ writers: ['not-a-did'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await a.close()
    await b.close()
  })
})

describe('validation - forks', () => {
  it('two events by one author at one seq are both kept and reported as a fork', async () => {
    const id = await generateIdentity()
    const secret = exportIdentity(id).secretKey
    const a = await createXSync({ identity: id })
    const b = await createXSync({ identity: await identityFromSecretKey(secret) })
    const x = await a.log('f').append('t', 'x')
    const y = await b.log('f').append('t', 'y')
    expect(x.seq).toBe(1)
    expect(y.seq).toBe(1)
    expect((await a.log('f').ingest(wire([y])))[0].status).toBe('stored')
    expect(await a.log('f').count()).toBe(2)
    const forks = await a.log('f').forks()
    expect(forks).toHaveLength(1)
    expect(forks[0]).toMatchObject({ author: id.did, seq: 1 })
    const pair = [forks[0].a, forks[0].b].map(String)
    expect([...pair].sort()).toEqual([x.cid, y.cid].map(String).sort())
    expect(Buffer.compare(forks[0].a.bytes, forks[0].b.bytes)).toBeLessThan(0)
    // Both halves of a fork arriving in one batch are caught too.
    const c = await createXSync()
    expect((await c.log('f').ingest(wire([x, y]))).map((r) => r.status)).toEqual(['stored', 'stored'])
    expect(await c.log('f').forks()).toHaveLength(1)
    await c.close()
    await a.close()
    await b.close()
  })
})

describe('validation - forks after a restart', () => {
  it('forks already in the store are found again when the log is reopened', async () => {
    const id = await generateIdentity()
    const twin = await identityFromSecretKey(exportIdentity(id).secretKey)
    const store = memoryStore()
    const a = await createXSync({ identity: id, store })
    const b = await createXSync({ identity: twin })
    await a.log('f').appendBatch(Array.from({ length: 5 }, (_, i) => ({ type: 't', body: i })))
    const y = await b.log('f').appendBatch([{ type: 't', body: 'other' }, { type: 't', body: 'branch' }])
    await a.log('f').ingest(wire(y))
    expect(await a.log('f').forks()).toHaveLength(2)
    const again = await createXSync({ identity: id, store })
    const forks = await again.log('f').forks()
    expect(forks.map((f) => f.seq).sort()).toEqual([1, 2])
    expect(forks.every((f) => f.author === id.did)).toBe(true)
    await b.close()
    await again.close()
  })
})

describe('validation - membership in one batch', () => {
  it('genesis, an add and the new writer’s event arrive in one ingest, in any order, and all go in', async () => {
    const admin = await createXSync()
    const writer = await createXSync()
    const log = await admin.createLog()
    await log.addMembers({ writers: [writer.did] })
    const history = []
    for await (const e of log.events()) history.push(e)
    await writer.log(log.id).ingest(wire(history))
    const mine = await writer.log(log.id).appendBatch([{ type: 'app.note', body: 1 }, { type: 'app.note', body: 2 }])
    const everything = wire([...history, ...mine])
    for (const order of [everything, [...everything].reverse(), [everything[3], everything[0], everything[2], everything[1]]]) {
      const fresh = await createXSync()
      const r = await fresh.log(log.id).ingest(order)
      expect(r.every((x) => x.status === 'stored' || x.status === 'pending')).toBe(true)
      expect(await fresh.log(log.id).count()).toBe(4)
      expect(fresh.log(log.id).pendingCount).toBe(0)
      await fresh.close()
    }
    await admin.close()
    await writer.close()
  })
})
