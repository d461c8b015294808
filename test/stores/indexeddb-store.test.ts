// idb needs the IndexedDB classes as globals; each test then opens through its own fresh factory.
import 'fake-indexeddb/auto'
import { IDBFactory as FakeIDBFactory } from 'fake-indexeddb'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { indexedDbStore } from '../../src/stores/indexeddb-store.js'
import { eventStoreSuite } from '../conformance/event-store/index.js'
import { expectedHeads, syntheticDag } from '../conformance/event-store/synthetic.js'
import { toHex } from '../../src/dag/bytes.js'

let n = 0
function freshLocation(): { factory: IDBFactory; name: string } {
  return { factory: new FakeIDBFactory() as unknown as IDBFactory, name: `stateflow-test-${++n}` }
}

/** Open `name` raw at `version`, creating `stores`, and close it. */
function rawOpen(factory: IDBFactory, name: string, version: number, stores: string[] = []): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = factory.open(name, version)
    req.onupgradeneeded = () => {
      for (const s of stores) req.result.createObjectStore(s)
    }
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

eventStoreSuite({
  name: 'indexedDbStore',
  capabilities: { durable: true, crashSafe: false },
  async setup() {
    const { factory, name } = freshLocation()
    return {
      store: indexedDbStore(name, { indexedDB: factory }),
      reopen: async () => indexedDbStore(name, { indexedDB: factory }),
    }
  },
  async teardown() {},
})

describe('indexedDbStore - medium', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
    vi.restoreAllMocks()
  })

  it('indexedDbStore - no IndexedDB is INVALID_ARGUMENT at once', () => {
    vi.stubGlobal('indexedDB', undefined)
    expect(() => indexedDbStore('x')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => indexedDbStore('', { indexedDB: freshLocation().factory })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })

  it('indexedDbStore - a newer schema version is CORRUPT on every call', async () => {
    const { factory, name } = freshLocation()
    ;(await rawOpen(factory, name, 99)).close()
    const store = indexedDbStore(name, { indexedDB: factory })
    await expect(store.count('a')).rejects.toMatchObject({ code: 'CORRUPT' })
    await expect(store.putBatch(syntheticDag({ events: 2 }))).rejects.toMatchObject({ code: 'CORRUPT' })
    await store.close()
  })

  it('indexedDbStore - a foreign database of the same name is CORRUPT and left alone', async () => {
    const { factory, name } = freshLocation()
    ;(await rawOpen(factory, name, 1, ['things'])).close()
    const store = indexedDbStore(name, { indexedDB: factory })
    await expect(store.logs()).rejects.toMatchObject({ code: 'CORRUPT' })
    await store.close()
    const db = await rawOpen(factory, name, 1)
    expect(Array.from(db.objectStoreNames)).toEqual(['things'])
    db.close()
  })

  it('indexedDbStore - gives way to a connection that deletes it, then answers CLOSED', async () => {
    const { factory, name } = freshLocation()
    const store = indexedDbStore(name, { indexedDB: factory })
    await store.putBatch(syntheticDag({ events: 3 }))
    await new Promise<void>((resolve, reject) => {
      const req = factory.deleteDatabase(name)
      req.onsuccess = () => resolve()
      req.onerror = () => reject(req.error)
      req.onblocked = () => reject(new Error('delete blocked by the open store'))
    })
    await expect(store.count('test-log')).rejects.toMatchObject({ code: 'CLOSED' })
    await store.close()
  })

  it('indexedDbStore - returns plain Uint8Arrays that own their bytes, whatever went in', async () => {
    const { factory, name } = freshLocation()
    const store = indexedDbStore(name, { indexedDB: factory })
    const events = syntheticDag({ events: 5, seed: 3 }).map((e) => {
      // Inputs as views into larger buffers, and as a Node Buffer.
      const frame = new Uint8Array(e.bytes.length + 100)
      frame.set(e.bytes, 50)
      return { ...e, bytes: frame.subarray(50, 50 + e.bytes.length), cid: Buffer.from(e.cid) }
    })
    await store.putBatch(events)
    const got = await store.scan('test-log')
    expect(got.map((e) => toHex(e.bytes))).toEqual(events.map((e) => toHex(e.bytes)))
    const arrays = [
      ...got.flatMap((e) => [e.cid, e.bytes, e.author, ...(e.sig ? [e.sig] : [])]),
      ...(await store.heads('test-log')),
      ...(await store.tips('test-log')),
    ]
    for (const a of arrays) {
      expect(a.constructor).toBe(Uint8Array)
      expect(a.byteLength).toBe(a.buffer.byteLength)
    }
    await store.close()
  })

  it('indexedDbStore - concurrent overlapping batches store each event once', async () => {
    const { factory, name } = freshLocation()
    const store = indexedDbStore(name, { indexedDB: factory })
    const events = syntheticDag({ events: 40, seed: 5 })
    await Promise.all([
      store.putBatch(events.slice(0, 30)),
      store.putBatch(events.slice(10)),
      store.putBatch([...events.slice(0, 5), ...events.slice(0, 5)]),
    ])
    expect(await store.count('test-log')).toBe(40)
    expect((await store.heads('test-log')).map(toHex)).toEqual(expectedHeads(events).map(toHex))
    await store.close()
  })

  for (const failure of ['a request fails', 'a request throws'] as const) {
    it(`indexedDbStore - a batch where ${failure} inside the transaction stores nothing of it`, async () => {
      const { factory, name } = freshLocation()
      const store = indexedDbStore(name, { indexedDB: factory })
      const events = syntheticDag({ events: 12, seed: 7 })
      await store.putBatch(events.slice(0, 3))
      const proto = (globalThis as unknown as { IDBObjectStore: typeof IDBObjectStore }).IDBObjectStore.prototype
      const add = proto.add
      let calls = 0
      vi.spyOn(proto, 'add').mockImplementation(function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
        if (++calls === 5) {
          // A duplicate key fails asynchronously (ConstraintError); a throw fails mid-loop.
          if (failure === 'a request fails') value = { ...(value as object), cid: events[3].cid }
          else throw new DOMException('injected', 'UnknownError')
        }
        return add.call(this, value, key)
      })
      await expect(store.putBatch(events.slice(3))).rejects.toBeInstanceOf(DOMException)
      vi.restoreAllMocks()
      expect(await store.count('test-log')).toBe(3)
      for (const e of events.slice(3)) expect(await store.has(e.cid)).toBe(false)
      expect((await store.heads('test-log')).map(toHex)).toEqual(expectedHeads(events.slice(0, 3)).map(toHex))
      await store.putBatch(events.slice(3))
      expect(await store.count('test-log')).toBe(12)
      await store.close()
    })
  }

  it('indexedDbStore - limit 0 is an empty page, a bad limit INVALID_ARGUMENT, an empty-CID position works', async () => {
    const { factory, name } = freshLocation()
    const store = indexedDbStore(name, { indexedDB: factory })
    const events = syntheticDag({ events: 5, seed: 6 })
    await store.putBatch(events)
    expect(await store.scan('test-log', { limit: 0 })).toEqual([])
    expect(await store.byAuthor('test-log', events[0].author, { limit: 0 })).toEqual([])
    const first = (await store.scan('test-log'))[0]
    expect((await store.scan('test-log', { after: { clock: first.clock, cid: new Uint8Array(0) } })).length).toBe(5)
    await expect(store.scan('test-log', { limit: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await store.close()
  })
})
