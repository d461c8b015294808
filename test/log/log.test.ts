import { describe, expect, it } from 'vitest'
import { createXSync, type XSyncClient } from '../../src/log/client.js'
import type { LogEvent } from '../../src/log/log.js'
import { toHex } from '../../src/dag/bytes.js'

const wire = (events: LogEvent[]) => events.map((e) => (e.sig ? { bytes: e.bytes, sig: e.sig } : { bytes: e.bytes }))

async function snapshot(client: XSyncClient, id: string) {
  const log = client.log(id)
  const order: string[] = []
  for await (const e of log.events()) order.push(e.cid.toString())
  return { heads: (await log.heads()).map(String), order }
}

describe('log - append and read', () => {
  it('appends signed events with seq, prev, parents and clock per DESIGN §3', async () => {
    const c = await createXSync({ now: () => 1_700_000_000_000 })
    const log = c.log('notes')
    const a = await log.append('app.note', { text: 'one' })
    const b = await log.append('app.note', { text: 'two' })
    expect(a).toMatchObject({ v: 1, log: 'notes', seq: 1, prev: null, parents: [], clock: 1, time: 1_700_000_000_000 })
    expect(b.seq).toBe(2)
    expect(b.prev?.equals(a.cid)).toBe(true)
    expect(b.parents.map(String)).toEqual([a.cid.toString()])
    expect(b.clock).toBe(2)
    expect(a.sig?.length).toBe(64)
    expect((await log.heads()).map(String)).toEqual([b.cid.toString()])
    const got = await log.get(a.cid)
    expect(got?.body).toEqual({ text: 'one' })
    expect(toHex(got!.sig!)).toBe(toHex(a.sig!))
    const seen = []
    for await (const e of log.events()) seen.push(e.body)
    expect(seen).toEqual([{ text: 'one' }, { text: 'two' }])
    const after = []
    for await (const e of log.events({ after: a.cid })) after.push(e.seq)
    expect(after).toEqual([2])
    expect(await log.count()).toBe(2)
    await c.close()
  })

  it('appendBatch signs only the last event (and one in every 256)', async () => {
    const c = await createXSync()
    const events = await c.log('bulk').appendBatch(Array.from({ length: 600 }, (_, i) => ({ type: 'app.n', body: i })))
    const signedAt = events.flatMap((e, i) => (e.sig ? [i] : []))
    expect(signedAt).toEqual([87, 343, 599])
    expect(events[599].clock).toBe(600)
    await c.close()
  })

  it('subscribe sees appended and ingested events; unsubscribe stops it', async () => {
    const a = await createXSync()
    const b = await createXSync()
    const seen: number[] = []
    const off = b.log('x').subscribe((e) => seen.push(e.body as number))
    const events = await a.log('x').appendBatch([{ type: 't', body: 1 }, { type: 't', body: 2 }])
    await b.log('x').ingest(wire(events))
    await b.log('x').append('t', 3)
    off()
    await b.log('x').append('t', 4)
    expect(seen).toEqual([1, 2, 3])
    await a.close()
    await b.close()
  })

  it('rejects bad arguments with INVALID_ARGUMENT and use after close with CLOSED', async () => {
    const c = await createXSync()
    expect(() => c.log('')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => c.log('log:not-a-cid')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    await expect(c.log('x').appendBatch([])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(c.log('x').append('', 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(c.log('x').append('t', undefined)).rejects.toMatchObject({ code: 'DECODE' })
    const log = c.log('x')
    await c.close()
    await c.close()
    await expect(log.append('t', 1)).rejects.toMatchObject({ code: 'CLOSED' })
    await expect(c.logs()).rejects.toMatchObject({ code: 'CLOSED' })
    expect(() => c.log('y')).toThrow(expect.objectContaining({ code: 'CLOSED' }))
  })
})

describe('log - ingest', () => {
  it('two writers converge: same heads and total order on both sides', async () => {
    const a = await createXSync()
    const b = await createXSync()
    const ea = await a.log('m').appendBatch([{ type: 't', body: 'a1' }, { type: 't', body: 'a2' }])
    const eb = await b.log('m').appendBatch([{ type: 't', body: 'b1' }])
    expect((await b.log('m').ingest(wire(ea))).map((r) => r.status)).toEqual(['stored', 'stored'])
    expect((await a.log('m').ingest(wire(eb))).map((r) => r.status)).toEqual(['stored'])
    const merged = await a.log('m').append('t', 'a3')
    expect(merged.parents.length).toBe(2)
    expect(merged.clock).toBe(3)
    await b.log('m').ingest(wire([merged]))
    expect(await snapshot(a, 'm')).toEqual(await snapshot(b, 'm'))
    await a.close()
    await b.close()
  })

  it('out-of-order delivery waits in pending and enters when parents arrive', async () => {
    const a = await createXSync()
    const b = await createXSync()
    const events = await a.log('p').appendBatch(Array.from({ length: 5 }, (_, i) => ({ type: 't', body: i })))
    // Send each event with its own signature so any one can be authentic on its own.
    const singles = []
    for (let i = 0; i < 5; i++) singles.push(await a.log('q').append('t', i))
    const r1 = await b.log('q').ingest(wire([singles[4], singles[2]]))
    expect(r1.map((r) => r.status)).toEqual(['pending', 'pending'])
    expect(b.log('q').pendingCount).toBe(2)
    const r2 = await b.log('q').ingest(wire([singles[0], singles[1], singles[3]]))
    expect(r2.map((r) => r.status)).toEqual(['stored', 'stored', 'stored'])
    expect(await b.log('q').count()).toBe(5)
    expect(b.log('q').pendingCount).toBe(0)
    // A batch-signed chain without its signed tail waits; the tail admits the whole chain.
    expect((await b.log('p').ingest(wire(events.slice(0, 4)))).map((r) => r.status)).toEqual(['pending', 'pending', 'pending', 'pending'])
    expect(await b.log('p').count()).toBe(0)
    expect((await b.log('p').ingest(wire(events.slice(4)))).map((r) => r.status)).toEqual(['stored'])
    expect(await b.log('p').count()).toBe(5)
    await a.close()
    await b.close()
  })

  it('re-ingesting is a no-op reported as duplicate', async () => {
    const a = await createXSync()
    const events = await a.log('d').appendBatch([{ type: 't', body: 1 }])
    const r = await a.log('d').ingest(wire(events))
    expect(r[0].status).toBe('duplicate')
    expect(await a.log('d').count()).toBe(1)
    await a.close()
  })
})

describe('log - regressions', () => {
  it('a signed tail that arrived before its unsigned chain admits the chain when the gap fills (seed -7771968)', async () => {
    // Found by the convergence property: e1 signed; e2, e3 unsigned, e4 signed (one batch);
    // delivered e1, e2, e4, e3. e4 waited in pending as authentic; e3 must pick up its signature.
    const a = await createXSync()
    const e1 = await a.log('r').append('t', 1)
    const [e2, e3, e4] = await a.log('r').appendBatch([{ type: 't', body: 2 }, { type: 't', body: 3 }, { type: 't', body: 4 }])
    const b = await createXSync()
    for (const e of [e1, e2, e4, e3]) await b.log('r').ingest(wire([e]))
    expect(await b.log('r').count()).toBe(4)
    expect(b.log('r').pendingCount).toBe(0)
    await a.close()
    await b.close()
  })
})
