/**
 * `docView`: Automerge documents folded from `xsync.doc.change` events. The fold must not depend
 * on delivery order, must survive checkpoints (encode/decode) at any point, must converge across
 * partitioned peers, and must skip bad input without throwing. Randomized tests print their seed;
 * replay one with STATEFLOW_SEED=<seed>.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createXSync, type XSyncClient } from '../../src/log/client.js'
import { createXSync as createWithViews } from '../../src/views/client.js'
import type { ViewSnapshot } from '../../src/views/host.js'
import type { Log, LogEvent } from '../../src/log/log.js'
import type { SignedEvent } from '../../src/log/codec.js'
import { memoryNetwork } from '../../src/transports/memory-network.js'
import { InvalidArgumentError } from '../../src/errors.js'
import { Automerge, DOC_CHANGE, changeDoc, docView, readDoc, type DocsState } from '../../src/views/doc-view.js'
import type { View } from '../../src/views/view.js'
import { eventually, prng, testSeed } from '../conformance/index.js'

type Note = { items: string[]; text: string; keys: Record<string, number> }

const clients: XSyncClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

async function client(init: Parameters<typeof createXSync>[0] = {}): Promise<XSyncClient> {
  const c = await createXSync(init)
  clients.push(c)
  return c
}

/** Stand-in for the view host: fold `log.events()` (total order) from scratch. */
async function foldScratch(log: Log, view: View<DocsState> = docView()): Promise<DocsState> {
  return fold(log, view)
}

async function fold(log: Log, view: View<DocsState> = docView()): Promise<DocsState> {
  let state = view.initial()
  let time = 0
  let index = 0
  for await (const e of log.events()) {
    time = Math.max(time, e.time)
    state = view.reduce(state, e, { log: log.id, time, index: index++ })
  }
  return state
}

async function signedEvents(log: Log): Promise<SignedEvent[]> {
  const out: SignedEvent[] = []
  for await (const e of log.events()) out.push(e.sig ? { bytes: e.bytes, sig: e.sig } : { bytes: e.bytes })
  return out
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const js = (state: DocsState, id: string): unknown => Automerge.toJS(readDoc(state, id)!)

function shuffle<T>(xs: readonly T[], rand: () => number): T[] {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a
}

/** A random edit of a note, so concurrent authors touch the same map, list and text. */
function edit(rand: () => number, who: string, k: number): (d: Note) => void {
  const r = rand()
  const pos = rand()
  return (d) => {
    if (r < 0.3) d.items.push(`${who}-${k}`)
    else if (r < 0.45 && d.items.length > 0) d.items.splice(Math.floor(pos * d.items.length), 1)
    else if (r < 0.7) d.keys[`${who}${k % 3}`] = k
    else Automerge.splice(d, ['text'], Math.floor(pos * (d.text.length + 1)), 0, `<${who}${k}>`)
  }
}

/** A fake log event: `reduce` reads only the type and the body. */
function docEvent(doc: string, changes: Uint8Array[]): LogEvent {
  return { type: DOC_CHANGE, body: { doc, changes } } as unknown as LogEvent
}

describe('docView determinism', () => {
  it('the same doc-change events, delivered in random orders and batches, fold to byte-identical state on every peer', async () => {
    const seed = testSeed()
    console.log(`doc-view determinism seed ${seed}`)
    const rand = prng(seed)
    const view = docView()
    const authors = [await client(), await client(), await client()]
    const logs = authors.map((a) => a.log('shared'))
    for (const id of ['n1', 'n2']) {
      await changeDoc<Note>(logs[0], id, undefined, (d) => {
        d.items = []
        d.text = ''
        d.keys = {}
      })
    }
    const everything = await signedEvents(logs[0])
    for (const l of logs.slice(1)) await l.ingest(everything)

    // Concurrent editing: each author edits its own folded copy; now and then it merges another's log.
    for (let k = 0; k < 40; k++) {
      const i = Math.floor(rand() * 3)
      if (rand() < 0.3) await logs[i].ingest(await signedEvents(logs[(i + 1 + Math.floor(rand() * 2)) % 3]))
      const id = rand() < 0.7 ? 'n1' : 'n2'
      const state = await fold(logs[i], view)
      await changeDoc<Note>(logs[i], id, readDoc<Note>(state, id), edit(rand, `a${i}`, k))
    }
    const all = new Map<string, SignedEvent>()
    for (const l of logs) for (const e of await signedEvents(l)) all.set(hex(e.bytes), e)
    const events = [...all.values()]

    const encodings: string[] = []
    let reference: DocsState | undefined
    for (let p = 0; p < 4; p++) {
      const peer = await client()
      const log = peer.log('shared')
      // The arrival-order fold: events as the log stores them, with checkpoint round trips at random points.
      let arrival = view.initial()
      let index = 0
      log.subscribe((e) => {
        arrival = view.reduce(arrival, e, { log: log.id, time: e.time, index: index++ })
        if (rand() < 0.15) arrival = view.decode!(view.encode!(arrival))
      })
      const order = shuffle(events, rand)
      while (order.length > 0) await log.ingest(order.splice(0, 1 + Math.floor(rand() * 8)))
      expect(await log.count()).toBe(events.length)
      expect(index).toBe(events.length)

      const scratch = await fold(log, view)
      const bytes = hex(view.encode!(scratch))
      expect(hex(view.encode!(arrival)), `seed ${seed}: arrival-order fold of peer ${p}`).toBe(bytes)
      expect(hex(view.encode!(view.decode!(view.encode!(scratch))))).toBe(bytes)
      expect(js(arrival, 'n1')).toEqual(js(scratch, 'n1'))
      encodings.push(bytes)
      reference ??= scratch
    }
    expect(new Set(encodings).size, `seed ${seed}`).toBe(1)
    expect(reference!.rejected).toBe(0)
    expect(reference!.pending.size).toBe(0)
    // Every author, once it holds everything, folds the same bytes.
    await logs[1].ingest(events)
    expect(hex(view.encode!(await fold(logs[1], view)))).toBe(encodings[0])
    // Equal to Automerge's own merge of every change in the log.
    const changes: Uint8Array[] = []
    for await (const e of logs[1].events()) if ((e.body as { doc: string }).doc === 'n1') changes.push(...(e.body as { changes: Uint8Array[] }).changes)
    expect(Automerge.toJS(Automerge.applyChanges(Automerge.init<Note>(), changes)[0])).toEqual(js(reference!, 'n1'))
  })

  it('reduce is order-independent even when changes arrive before their dependencies (pending changes survive checkpoints)', () => {
    const seed = testSeed()
    console.log(`doc-view pending-order seed ${seed}`)
    const rand = prng(seed)
    const view = docView()
    // Three actors edit concurrently and merge now and then; events carry 1 to 3 changes.
    let base = Automerge.change(Automerge.init<Note>(), (d) => {
      d.items = []
      d.text = 'hello'
      d.keys = {}
    })
    const history: Uint8Array[] = [...Automerge.getAllChanges(base)]
    const actors = [0, 1, 2].map(() => Automerge.clone(base))
    for (let k = 0; k < 30; k++) {
      const i = Math.floor(rand() * 3)
      actors[i] = Automerge.change(actors[i], edit(rand, `x${i}`, k))
      history.push(Automerge.getLastLocalChange(actors[i])!)
      if (rand() < 0.2) actors[i] = Automerge.applyChanges(actors[i], history)[0]
    }
    const events: LogEvent[] = []
    for (let at = 0; at < history.length; ) {
      const n = 1 + Math.floor(rand() * 3)
      events.push(docEvent('doc', history.slice(at, at + n)))
      at += n
    }
    const want = Automerge.toJS(Automerge.applyChanges(Automerge.init<Note>(), history)[0])

    let sawPending = false
    const encodings = new Set<string>()
    const orders = [events, [...events].reverse(), ...Array.from({ length: 8 }, () => shuffle(events, rand))]
    for (const order of orders) {
      let state = view.initial()
      order.forEach((e, index) => {
        state = view.reduce(state, e, { log: 'l', time: 0, index })
        if (state.pending.size > 0) sawPending = true
        if (rand() < 0.2) state = view.decode!(view.encode!(state))
      })
      expect(state.pending.size).toBe(0)
      expect(state.rejected).toBe(0)
      expect(Automerge.toJS(readDoc(state, 'doc')!)).toEqual(want)
      encodings.add(hex(view.encode!(state)))
    }
    expect(sawPending).toBe(true)
    expect(encodings.size, `seed ${seed}`).toBe(1)
  })
})

describe('docView convergence', () => {
  it('three partitioned peers edit one doc concurrently; after heal and sync their view hosts fold to the same document', async () => {
    const seed = testSeed()
    console.log(`doc-view convergence seed ${seed}`)
    const net = memoryNetwork({ seed })
    const names = ['a', 'b', 'c']
    const peers: XSyncClient[] = []
    // Each peer folds through the client's view host (log.doc / log.changeDoc / log.view), the
    // way an application does: incremental folds, rewinds when the partition's edits arrive.
    const fold = async (log: Log): Promise<DocsState> => (await log.view<ViewSnapshot<DocsState>>('docs')).state
    for (const n of names) {
      const c = await createWithViews({ views: { docs: docView() }, transports: [net.transport(n)], reconnect: { minDelayMs: 1, maxDelayMs: 5 } })
      clients.push(c)
      await c.listen()
      c.log('notes')
      peers.push(c)
    }
    // A triangle: each peer dials one other, so each redials one edge after the heal.
    for (let i = 0; i < 3; i++) await peers[i].connect(`memory:${names[(i + 1) % 3]}`)
    await peers[0].log('notes').changeDoc<Note>('doc', (d) => {
      d.items = ['start']
      d.text = '|'
      d.keys = {}
    })
    await net.idle()
    for (const p of peers) await p.sync('notes')
    for (const p of peers) expect(js(await fold(p.log('notes')), 'doc')).toEqual({ items: ['start'], text: '|', keys: {} })

    net.partition(['a'], ['b'], ['c'])
    for (let k = 0; k < 3; k++) {
      for (let i = 0; i < 3; i++) {
        const log = peers[i].log('notes')
        const n = names[i]
        await log.changeDoc<Note>('doc', (d) => {
          d.keys[`${n}${k}`] = k
          d.items.push(`${n}${k}`)
          Automerge.splice(d, ['text'], 1, 0, n)
        })
      }
    }
    await net.idle()
    // The partition held: each peer sees only its own edits.
    for (let i = 0; i < 3; i++) expect(Object.keys((js(await fold(peers[i].log('notes')), 'doc') as Note).keys).sort()).toEqual([0, 1, 2].map((k) => `${names[i]}${k}`))

    net.heal()
    await eventually(() => peers.every((p) => p.peers().length === 2), 'every peer to reconnect to both others')
    await Promise.all(peers.map((p) => p.sync('notes')))
    await net.idle()

    const states = await Promise.all(peers.map((p) => fold(p.log('notes'))))
    // The hosts' incremental folds equal a fold from scratch.
    expect(js(await foldScratch(peers[0].log('notes')), 'doc')).toEqual(js(states[0], 'doc'))
    const view = docView()
    const doc = js(states[0], 'doc') as Note
    for (const s of states.slice(1)) {
      expect(js(s, 'doc')).toEqual(doc)
      expect(hex(view.encode!(s))).toBe(hex(view.encode!(states[0])))
    }
    expect(Object.keys(doc.keys).sort()).toEqual(names.flatMap((n) => [0, 1, 2].map((k) => `${n}${k}`)).sort())
    expect(doc.items[0]).toBe('start')
    expect([...doc.items.slice(1)].sort()).toEqual(Object.keys(doc.keys).sort())
    // Each peer's own inserts stay in its order: c2 c1 c0 was typed at position 1 by c.
    for (const n of names) expect(doc.text.replace(new RegExp(`[^${n}]`, 'g'), '')).toBe(n.repeat(3))
    expect(doc.text.length).toBe(10)
    expect(states[0].rejected).toBe(0)
  })
})

describe('docView bad input', () => {
  it('skips and counts malformed bodies and changes Automerge refuses, and the fold goes on', async () => {
    const c = await client()
    const log = c.log('bad')
    const view = docView()
    await changeDoc<Note>(log, 'd', undefined, (d) => {
      d.items = ['one']
      d.text = ''
      d.keys = {}
    })
    const good = readDoc<Note>(await fold(log), 'd')!
    const next = Automerge.getLastLocalChange(Automerge.change(Automerge.clone(good), (d) => void d.items.push('skipped')))!
    const garbage = new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 5])
    // Decodes fine and its dependencies are present, but its ops name an object that does not exist.
    const decoded = Automerge.decodeChange(next)
    const refused = Automerge.encodeChange({ ...decoded, actor: 'bb'.repeat(16), seq: 1, ops: decoded.ops.map((o) => ({ ...o, obj: `99@${'cc'.repeat(16)}` })) })
    // Two changes by one actor at one seq: Automerge keeps the first and refuses the second.
    const first = Automerge.getLastLocalChange(Automerge.change(Automerge.init<{ n: number }>({ actor: 'aa'.repeat(16) }), (d) => void (d.n = 1)))!
    const second = Automerge.getLastLocalChange(Automerge.change(Automerge.init<{ n: number }>({ actor: 'aa'.repeat(16) }), (d) => void (d.n = 2)))!

    const bad: unknown[] = [
      { doc: 'd', changes: [garbage] },
      { doc: 'd' },
      { doc: 'd', changes: [] },
      { doc: '', changes: [next] },
      { doc: 'x'.repeat(257), changes: [next] },
      { doc: 'd', changes: ['not bytes'] },
      { doc: 'd', changes: [next, garbage] }, // one bad change skips the whole event
      'not an object',
      null,
      [1, 2],
    ]
    for (const body of bad) await log.append(DOC_CHANGE, body)
    await log.append('app.note', { unrelated: true }) // other types are ignored, not counted
    await log.append(DOC_CHANGE, { doc: 'd', changes: [refused] })
    await log.append(DOC_CHANGE, { doc: 'dup', changes: [first] })
    await log.append(DOC_CHANGE, { doc: 'dup', changes: [second] })
    // A valid change after the refusals still applies: the refused change did not break the document.
    const state1 = await fold(log, view)
    await changeDoc<Note>(log, 'd', readDoc<Note>(state1, 'd'), (d) => void d.items.push('two'))

    const state = await fold(log, view)
    expect(state.rejected).toBe(bad.length + 2)
    expect(js(state, 'd')).toEqual({ items: ['one', 'two'], text: '', keys: {} })
    expect(js(state, 'dup')).toEqual({ n: 1 })
    expect([...state.docs.keys()].sort()).toEqual(['d', 'dup'])
    const again = view.decode!(view.encode!(state))
    expect(again.rejected).toBe(state.rejected)
    expect(hex(view.encode!(again))).toBe(hex(view.encode!(state)))
  })

  it('changeDoc rejects bad doc ids with INVALID_ARGUMENT, appends nothing for a no-op, and never outdates the folded doc', async () => {
    const c = await client()
    const log = c.log('ids')
    const init = (d: Note): void => {
      d.items = []
      d.text = ''
      d.keys = {}
    }
    for (const id of ['', 'x'.repeat(257), 'é'.repeat(129), 42 as unknown as string]) {
      const err = await changeDoc<Note>(log, id, undefined, init).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(InvalidArgumentError)
      expect((err as InvalidArgumentError).code).toBe('INVALID_ARGUMENT')
    }
    await expect(changeDoc<Note>(log, 'd', { not: 'a doc' } as unknown as Automerge.Doc<Note>, init)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(await log.count()).toBe(0)

    expect((await changeDoc<Note>(log, 'x'.repeat(256), undefined, init))?.type).toBe(DOC_CHANGE)
    const e1 = await changeDoc<Note>(log, 'd', undefined, init)
    expect(e1?.body.doc).toBe('d')
    expect(e1?.body.changes).toHaveLength(1)

    const view = docView()
    const state = await fold(log, view)
    const current = readDoc<Note>(state, 'd')!
    expect(await changeDoc<Note>(log, 'd', current, () => {})).toBeUndefined()
    expect(await log.count()).toBe(2)

    // Changing a doc the fold still owns leaves it writable for the fold.
    const e2 = await changeDoc<Note>(log, 'd', current, (d) => void d.items.push('a'))
    const e3 = await changeDoc<Note>(log, 'd', current, (d) => void d.items.push('b')) // same stale base: concurrent, both kept
    view.reduce(state, e2!, { log: log.id, time: e2!.time, index: 2 })
    view.reduce(state, e3!, { log: log.id, time: e3!.time, index: 3 })
    expect(current.items).toEqual([])
    expect([...(js(state, 'd') as Note).items].sort()).toEqual(['a', 'b'])
    expect(hex(view.encode!(state))).toBe(hex(view.encode!(await fold(log, view))))
    expect(state.rejected).toBe(0)
  })
})
