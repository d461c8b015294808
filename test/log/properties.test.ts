/**
 * Property tests (fast-check, seeded). A failure prints its seed; replay with
 * STATEFLOW_SEED=<seed> npx vitest run test/log/properties.test.ts
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createXSync, type XSyncClient } from '../../src/log/client.js'
import { decodeEvent, encodeEvent, eventCidBytes, eventCidFromBytes, eventCidString, type DecodedEvent } from '../../src/log/codec.js'
import { CID } from 'multiformats/cid'
import type { LogEvent } from '../../src/log/log.js'
import { compareBytes, toHex } from '../../src/dag/bytes.js'
import { EXTENSIVE, testSeed } from '../conformance/index.js'

const seed = testSeed()
const runs = (short: number, long: number) => ({ seed, numRuns: EXTENSIVE ? long : short })
const wire = (events: LogEvent[]) => events.map((e) => (e.sig ? { bytes: e.bytes, sig: e.sig } : { bytes: e.bytes }))

async function state(client: XSyncClient, id: string) {
  const order: string[] = []
  for await (const e of client.log(id).events({ pageSize: 7 })) order.push(e.cid.toString())
  return { heads: (await client.log(id).heads()).map(String), order }
}

/** Build a random multi-author DAG by appending and gossiping between a few writers. */
async function randomDag(steps: { writer: number; batch: number; gossip: number[] }[], writers: number, certified = false) {
  const clients = await Promise.all(Array.from({ length: writers }, () => createXSync()))
  const all: LogEvent[] = []
  let id = 'dag'
  if (certified) {
    // A members log: the first client creates it with every client as a writer.
    const log = await clients[0].createLog({ writers: clients.map((c) => c.did) })
    id = log.id
    for await (const e of log.events()) all.push(e)
    for (const c of clients.slice(1)) await c.log(id).ingest(wire(all))
  }
  for (const s of steps) {
    const w = clients[s.writer % writers]
    const made = s.batch > 1
      ? await w.log(id).appendBatch(Array.from({ length: s.batch }, (_, i) => ({ type: 'app.t', body: { i, s: s.writer } })))
      : [await w.log(id).append('app.t', { s: s.writer })]
    all.push(...made)
    for (const g of s.gossip) {
      if (g % writers === s.writer % writers) continue
      await clients[g % writers].log(id).ingest(wire(made))
    }
  }
  await Promise.all(clients.map((c) => c.close()))
  return { id, all }
}

describe('properties - convergence', () => {
  it('random multi-author DAGs (open or members logs) ingested in random orders and batch splits give the same order and heads', async () => {
    const step = fc.record({ writer: fc.nat(3), batch: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 6 })), gossip: fc.array(fc.nat(3), { maxLength: 2 }) })
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 14 }),
        fc.integer({ min: 2, max: 4 }),
        fc.boolean(),
        fc.array(fc.tuple(fc.array(fc.nat(), { minLength: 40, maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 20 })), { minLength: 2, maxLength: 3 }),
        async (steps, writers, certified, copies) => {
          const { id, all: events } = await randomDag(steps, writers, certified)
          const results = []
          for (const [shuffleKeys, splits] of copies) {
            // A deterministic shuffle from the generated keys, then random batch sizes.
            const order = events.map((e, i) => ({ e, k: shuffleKeys[i % shuffleKeys.length] * 1000 + i })).sort((a, b) => a.k - b.k).map((x) => x.e)
            const copy = await createXSync()
            let i = 0
            let s = 0
            while (i < order.length) {
              const n = splits[s++ % splits.length]
              await copy.log(id).ingest(wire(order.slice(i, i + n)))
              i += n
            }
            expect(copy.log(id).pendingCount).toBe(0)
            expect(await copy.log(id).count()).toBe(events.length)
            results.push(await state(copy, id))
            await copy.close()
          }
          for (const r of results.slice(1)) expect(r).toEqual(results[0])
          // The order is the sort by (clock, CID bytes) of the events themselves.
          const expected = [...events].sort((a, b) => a.clock - b.clock || (toHex(a.cid.bytes) < toHex(b.cid.bytes) ? -1 : 1)).map((e) => e.cid.toString())
          expect(results[0].order).toEqual(expected)
        },
      ),
      runs(15, 200),
    )
  })
})

/** DAG-CBOR values fast-check can generate that round-trip exactly (no -0, NaN, Infinity, undefined). */
const ipld: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 16 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }).filter((k) => k !== '__proto__'), tie('value'), { maxKeys: 4 }),
  ),
})).value

describe('properties - codec', () => {
  it('decode(encode(fields)) equals fields, and encode(decode(bytes)) equals bytes', () => {
    const author = new Uint8Array(32).fill(5)
    fc.assert(
      fc.property(ipld, fc.string({ minLength: 1, maxLength: 40 }), fc.string({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 2 ** 40 }), fc.nat(), (body, log, type, clock, time) => {
        const fields = { v: 1 as const, log, author, seq: 1, prev: null, parents: [], clock, time, type, body }
        const { bytes, cid } = encodeEvent(fields)
        const d = decodeEvent(bytes)
        expect(d.cid.equals(cid)).toBe(true)
        expect(d.body).toEqual(body)
        expect({ ...d, cid: undefined, bytes: undefined }).toEqual({ ...fields, cid: undefined, bytes: undefined })
        const { cid: _c, bytes: _b, ...again } = d
        expect(toHex(encodeEvent(again).bytes)).toBe(toHex(bytes))
      }),
      runs(300, 5000),
    )
  })

  it("an event CID's string is multiformats' own, for any hash", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (hash) => {
        const bytes = new Uint8Array(36)
        bytes.set([0x01, 0x71, 0x12, 0x20])
        bytes.set(hash, 4)
        expect(eventCidString(bytes)).toBe(CID.decode(bytes).toString())
      }),
      runs(500, 20000),
    )
    // Every byte value at every position of the hash, the edges of each five-byte group.
    for (let at = 4; at < 36; at++)
      for (const v of [0, 1, 0x1f, 0x20, 0x7f, 0x80, 0xe0, 0xff]) {
        const bytes = new Uint8Array(36).fill(0xa5)
        bytes.set([0x01, 0x71, 0x12, 0x20])
        bytes[at] = v
        expect(eventCidString(bytes)).toBe(CID.decode(bytes).toString())
      }
  })
})

describe('properties - lazy links', () => {
  const link = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((d) => eventCidFromBytes(new Uint8Array([0x01, 0x71, 0x12, 0x20, ...d])))
  const fieldsOf = (e: DecodedEvent) => ({ v: e.v, log: e.log, author: toHex(e.author), seq: e.seq, prev: e.prev?.toString() ?? null, parents: e.parents.map(String), clock: e.clock, time: e.time, type: e.type, body: e.body, cid: e.cid.toString() })

  it('an event decoded with lazyLinks has the same fields as one decoded eagerly, links included', () => {
    const author = new Uint8Array(32).fill(9)
    fc.assert(
      fc.property(fc.option(link, { nil: null }), fc.uniqueArray(link, { maxLength: 6, selector: (c) => toHex(c.bytes) }), fc.integer({ min: 2, max: 1000 }), (prev, links, seq) => {
        const parents = links.sort((a, b) => compareBytes(a.bytes, b.bytes))
        const { bytes } = encodeEvent({ v: 1, log: 'l', author, seq: prev ? seq : 1, prev, parents, clock: 3, time: 4, type: 't', body: { a: [1, 'x'] } })
        const lazy = decodeEvent(bytes, { lazyLinks: true })
        const eager = decodeEvent(bytes)
        expect(fieldsOf(lazy)).toEqual(fieldsOf(eager))
        // Built once, then the same objects.
        expect(lazy.parents).toBe(lazy.parents)
        // With the CID the store names, the CID object too is made on first use: the same CID.
        const stored = decodeEvent(bytes, { lazyLinks: true, knownCid: eager.cid.bytes.slice() })
        expect(toHex(eventCidBytes(stored))).toBe(toHex(eager.cid.bytes))
        expect(fieldsOf(stored)).toEqual(fieldsOf(eager))
        expect(stored.cid).toBe(stored.cid)
        expect(stored.cid.equals(eager.cid)).toBe(true)
        // The author key a store recorded is used as it is; a Buffer one is not (bytes copied).
        const key = author.slice()
        expect(decodeEvent(bytes, { lazyLinks: true, knownCid: eager.cid.bytes.slice(), knownAuthor: key }).author).toBe(key)
        const fromBuffer = decodeEvent(bytes, { lazyLinks: true, knownCid: eager.cid.bytes.slice(), knownAuthor: Buffer.from(key) }).author
        expect(fromBuffer.constructor).toBe(Uint8Array)
        expect(toHex(fromBuffer)).toBe(toHex(author))
      }),
      runs(200, 2000),
    )
  })

  it('lazyLinks still rejects links out of order, a malformed link, and a truncated one', () => {
    const author = new Uint8Array(32).fill(9)
    const [a, b] = [1, 2].map((n) => eventCidFromBytes(new Uint8Array([0x01, 0x71, 0x12, 0x20, ...new Uint8Array(32).fill(n)])))
    const { bytes } = encodeEvent({ v: 1, log: 'l', author, seq: 1, prev: null, parents: [a, b], clock: 3, time: 4, type: 't', body: null })
    const at = bytes.length - 2 * 41
    const swapped = bytes.slice()
    swapped.set(bytes.subarray(at + 41), at)
    swapped.set(bytes.subarray(at, at + 41), at + 41)
    expect(() => decodeEvent(swapped, { lazyLinks: true })).toThrow(/sorted/)
    const badTag = bytes.slice()
    badTag[at + 1] = 43
    expect(() => decodeEvent(badTag, { lazyLinks: true })).toThrow(/CID link/)
    expect(() => decodeEvent(bytes.subarray(0, bytes.length - 1), { lazyLinks: true })).toThrow()
  })
})

describe('properties - envelope integers', () => {
  // The envelope's integers (seq, time, clock, parent count) in every head width: the shortest
  // form decodes to its value; the same value one width wider is refused, as is anything past 2^53 - 1.
  const author = new Uint8Array(32).fill(7)
  const widths = [0, 1, 2, 4, 8]
  const head = (n: number, width: number): number[] => {
    const info = width === 0 ? n : 23 + Math.log2(width) + 1
    const out = [info]
    for (let i = width - 1; i >= 0; i--) out.push(Math.floor(n / 2 ** (8 * i)) % 256)
    return out
  }
  const shortest = (n: number): number => (n < 24 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x100000000 ? 4 : 8)
  const value = fc.oneof(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 0x1_0000_0010 }), fc.constantFrom(23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER))

  it('time, seq and clock decode in their shortest form and are refused one width wider', () => {
    fc.assert(
      fc.property(value, fc.constantFrom('seq', 'time', 'clock'), (n, field) => {
        const fields = { v: 1 as const, log: 'l', author, seq: 1, prev: null, parents: [], clock: 1, time: 1, type: 't', body: null, [field]: n }
        const { bytes } = encodeEvent(fields)
        const d = decodeEvent(bytes, { lazyLinks: true })
        expect(d[field as 'seq']).toBe(n)
        const w = shortest(n)
        if (w === 8) return
        const key = new TextEncoder().encode(field)
        const at = bytes.findIndex((_, i) => bytes[i] === 0x60 + key.length && key.every((x, j) => bytes[i + 1 + j] === x)) + 1 + key.length
        const wider = widths[widths.indexOf(w) + 1]
        const widened = new Uint8Array([...bytes.subarray(0, at), ...head(n, wider), ...bytes.subarray(at + 1 + w)])
        expect(() => decodeEvent(widened, { lazyLinks: true })).toThrow(/shortest form/)
        expect(() => decodeEvent(widened)).toThrow(/shortest form/)
        // Read back from a store (its keys taken as checked): the values are still checked.
        const cid = decodeEvent(bytes).cid.bytes
        expect(() => decodeEvent(widened, { lazyLinks: true, knownCid: cid })).toThrow(/shortest form/)
      }),
      runs(300, 3000),
    )
  })

  it('an integer past 2^53 - 1 is refused', () => {
    const { bytes } = encodeEvent({ v: 1, log: 'l', author, seq: 1, prev: null, parents: [], clock: 1, time: Number.MAX_SAFE_INTEGER, type: 't', body: null })
    const at = bytes.findIndex((_, i) => bytes[i] === 0x1b && bytes[i + 1] === 0x00 && bytes[i + 2] === 0x1f)
    const past = bytes.slice()
    past.set([0x00, 0x20, 0, 0, 0, 0, 0, 0], at + 1)
    expect(() => decodeEvent(past, { lazyLinks: true })).toThrow(/2\^53/)
  })
})

describe('properties - mutation', () => {
  it('every single-byte mutation of a signed event is rejected, or never accepted under the original CID', async () => {
    const a = await createXSync()
    const root = await a.log('m').append('app.t', { root: true })
    const target = await a.log('m').append('app.t', { payload: 'mutate me', n: [1, 2, 3], ok: true })
    const b = await createXSync()
    await b.log('m').ingest(wire([root]))
    const before = { heads: (await b.log('m').heads()).map(String), count: await b.log('m').count() }
    const original = target.cid.toString()
    await fc.assert(
      fc.asyncProperty(fc.nat(target.bytes.length - 1), fc.integer({ min: 1, max: 255 }), async (pos, xor) => {
        const bytes = new Uint8Array(target.bytes)
        bytes[pos] ^= xor
        const [r] = await b.log('m').ingest([{ bytes, sig: target.sig! }])
        if (r.status === 'rejected') expect(r.code).toMatch(/^(DECODE|TOO_LARGE|SIGNATURE|CLOCK|SEQ|PARENT_LOG|FUTURE|INVALID_ARGUMENT|UNAUTHORIZED)$/)
        else expect(r.cid?.toString()).not.toBe(original)
        expect(r.status === 'stored').toBe(false)
        expect({ heads: (await b.log('m').heads()).map(String), count: await b.log('m').count() }).toEqual(before)
      }),
      runs(400, 20000),
    )
    // The unmutated event still goes in under its CID.
    const [ok] = await b.log('m').ingest(wire([target]))
    expect(ok).toMatchObject({ status: 'stored' })
    expect(ok.cid?.toString()).toBe(original)
    await a.close()
    await b.close()
  })
})
