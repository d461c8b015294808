import { afterEach, describe, expect, it, vi } from 'vitest'
import { Worker } from 'node:worker_threads'
import {
  DETECTED_CAPABILITIES,
  checkPlacement,
  detectLocalNode,
  nodeSpecProblem,
  normalizeNodeSpec,
  placementProblem,
  validatePlacement,
  type Placement,
  type RuntimeNodeSpec,
} from '../../src/views/placement.js'

const fn = () => {}
class FakeClass {}

/** Globals of a browser page's main thread. */
const browserScope = () => ({
  window: {},
  document: {},
  navigator: { userAgent: 'Mozilla/5.0' },
  indexedDB: {},
  BroadcastChannel: FakeClass,
  WebSocket: FakeClass,
  fetch: fn,
  crypto: { subtle: {} },
})

const sorted = (xs: string[]) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))

describe('placement - detectLocalNode in this process', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  it('detects a Node main thread as a server with what this process truly has', () => {
    const spec = detectLocalNode({ id: 'n1' })
    expect(spec.id).toBe('n1')
    expect(spec.kind).toBe('server')
    expect(spec).not.toHaveProperty('trust')
    expect(spec.capabilities).toEqual(expect.arrayContaining(['broadcast-channel', 'fetch', 'fs']))
    expect(spec.capabilities.includes('websocket')).toBe(typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function')
    expect(spec.capabilities.includes('indexeddb')).toBe(typeof (globalThis as { indexedDB?: unknown }).indexedDB === 'object')
    expect(spec.capabilities.includes('web-crypto')).toBe(typeof globalThis.crypto?.subtle === 'object')
    // Nothing but the documented list is detected.
    for (const c of spec.capabilities) expect(DETECTED_CAPABILITIES).toContain(c)
  })

  it('is deterministic, merges given capabilities sorted and de-duplicated, and keeps a given kind and trust', () => {
    expect(detectLocalNode({ id: 'n1' })).toEqual(detectLocalNode({ id: 'n1' }))
    const spec = detectLocalNode({ id: 'n1', kind: 'edge', capabilities: ['sqlite', 'fs', 'gpu', 'sqlite'], trust: 'internal' })
    expect(spec.kind).toBe('edge')
    expect(spec.trust).toBe('internal')
    expect(spec.capabilities).toEqual(sorted([...new Set(spec.capabilities)]))
    expect(spec.capabilities).toEqual(expect.arrayContaining(['fs', 'gpu', 'sqlite']))
    expect(spec.capabilities.filter((c) => c === 'sqlite')).toHaveLength(1)
  })

  it('reads globalThis at call time (a stubbed browser page is a browser)', () => {
    vi.stubGlobal('window', {})
    vi.stubGlobal('document', {})
    expect(detectLocalNode({ id: 'page' }).kind).toBe('browser')
    vi.unstubAllGlobals()
    expect(detectLocalNode({ id: 'page' }).kind).toBe('server')
  })

  it('detects a worker_threads worker as a worker', async () => {
    const worker = new Worker(new URL('./placement.detect-worker.mjs', import.meta.url), { workerData: { id: 'w1' } })
    try {
      const spec = await new Promise<RuntimeNodeSpec>((resolve, reject) => {
        worker.once('message', resolve)
        worker.once('error', reject)
      })
      expect(spec.id).toBe('w1')
      expect(spec.kind).toBe('worker')
      expect(spec.capabilities).toEqual(expect.arrayContaining(['broadcast-channel', 'fs']))
    } finally {
      await worker.terminate()
    }
  })
})

describe('placement - detectLocalNode in simulated environments', () => {
  it('a browser page: kind browser, its web capabilities, no fs', () => {
    expect(detectLocalNode({ id: 'p' }, browserScope())).toEqual({
      id: 'p',
      kind: 'browser',
      capabilities: ['broadcast-channel', 'fetch', 'indexeddb', 'web-crypto', 'websocket'],
    })
  })

  it('a page over plain http has no web-crypto', () => {
    const scope = { ...browserScope(), crypto: { getRandomValues: fn } }
    expect(detectLocalNode({ id: 'p' }, scope).capabilities).not.toContain('web-crypto')
  })

  it('web and service workers: kind worker', () => {
    expect(detectLocalNode({ id: 'w' }, { WorkerGlobalScope: FakeClass, indexedDB: {} })).toEqual({ id: 'w', kind: 'worker', capabilities: ['indexeddb'] })
    expect(detectLocalNode({ id: 'w' }, { importScripts: fn }).kind).toBe('worker')
  })

  it('edge runtimes: kind edge, and no fs even where a Node-like process exists', () => {
    const nodeish = { process: { versions: { node: '20.0.0' } } }
    for (const marker of [{ EdgeRuntime: 'edge-runtime' }, { Deno: {} }, { Bun: {} }, { navigator: { userAgent: 'Cloudflare-Workers' } }]) {
      const spec = detectLocalNode({ id: 'e' }, { ...marker, ...nodeish, fetch: fn })
      expect(spec.kind, JSON.stringify(marker)).toBe('edge')
      expect(spec.capabilities, JSON.stringify(marker)).toEqual(['fetch'])
    }
  })

  it('Node: the worker_threads flag decides server or worker; without it, server', () => {
    const node = (extra: object) => ({ process: { versions: { node: '20.0.0' }, ...extra } })
    expect(detectLocalNode({ id: 'n' }, node({ getBuiltinModule: () => ({ isMainThread: false }) }))).toEqual({ id: 'n', kind: 'worker', capabilities: ['fs'] })
    expect(detectLocalNode({ id: 'n' }, node({ getBuiltinModule: () => ({ isMainThread: true }) })).kind).toBe('server')
    expect(detectLocalNode({ id: 'n' }, node({})).kind).toBe('server')
    const throwing = node({
      getBuiltinModule: () => {
        throw new Error('no')
      },
    })
    expect(detectLocalNode({ id: 'n' }, throwing).kind).toBe('server')
  })

  it('Node under the permission model: fs only when read and write are granted', () => {
    const withPermission = (granted: string[]) => ({ process: { versions: { node: '20.0.0' }, permission: { has: (s: string) => granted.includes(s) } } })
    expect(detectLocalNode({ id: 'n' }, withPermission(['fs.read'])).capabilities).toEqual([])
    expect(detectLocalNode({ id: 'n' }, withPermission(['fs.read', 'fs.write'])).capabilities).toEqual(['fs'])
  })

  it('an unknown runtime: server, nothing detected', () => {
    expect(detectLocalNode({ id: 'x' }, {})).toEqual({ id: 'x', kind: 'server', capabilities: [] })
  })

  it('rejects bad input with INVALID_ARGUMENT', () => {
    const bad: unknown[] = [undefined, null, 'n1', {}, { id: '' }, { id: 7 }, { id: 'n', kind: 'mainframe' }, { id: 'n', capabilities: 'fs' }, { id: 'n', capabilities: [''] }, { id: 'n', trust: '' }, { id: 'n', trust: 3 }]
    for (const init of bad) {
      expect(() => detectLocalNode(init as never, {}), JSON.stringify(init)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    }
  })
})

describe('placement - checkPlacement', () => {
  const spec: RuntimeNodeSpec = { id: 'srv-1', kind: 'server', capabilities: ['fs', 'sqlite'], trust: 'internal' }

  it('fits when every constraint holds, and {} fits anywhere', () => {
    expect(checkPlacement({}, spec)).toEqual({ ok: true })
    expect(checkPlacement({ nodes: ['srv-1', 'srv-2'], kinds: ['server', 'worker'], trust: ['internal'], requires: ['sqlite', 'fs'] }, spec)).toEqual({ ok: true })
    expect(checkPlacement({ requires: [] }, spec)).toEqual({ ok: true })
  })

  it('names the node that is not listed (NODE)', () => {
    const r = checkPlacement({ nodes: ['srv-2'] }, spec)
    expect(r).toMatchObject({ ok: false, code: 'NODE' })
    if (!r.ok) expect(r.reason).toContain('srv-1')
  })

  it('names the kind that does not fit (KIND)', () => {
    const r = checkPlacement({ kinds: ['browser'] }, spec)
    expect(r).toMatchObject({ ok: false, code: 'KIND' })
    if (!r.ok) expect(r.reason).toContain('server')
  })

  it('rejects another trust and a node without one (TRUST)', () => {
    expect(checkPlacement({ trust: ['user-device'] }, spec)).toMatchObject({ ok: false, code: 'TRUST' })
    const untrusted: RuntimeNodeSpec = { id: 'b', kind: 'browser', capabilities: [] }
    const r = checkPlacement({ trust: ['internal'] }, untrusted)
    expect(r).toMatchObject({ ok: false, code: 'TRUST' })
    if (!r.ok) expect(r.reason).toContain('no trust')
  })

  it('lists every missing capability, sorted (CAPABILITY)', () => {
    const r = checkPlacement({ requires: ['websocket', 'fs', 'gpu'] }, spec)
    expect(r).toMatchObject({ ok: false, code: 'CAPABILITY' })
    if (!r.ok) {
      expect(r.reason).toContain("'gpu', 'websocket'")
      expect(r.reason).not.toContain("'fs'")
    }
  })

  it('reports the first failing constraint in the order nodes, kinds, trust, capabilities', () => {
    const none: Placement = { nodes: ['x'], kinds: ['edge'], trust: ['t'], requires: ['gpu'] }
    expect(checkPlacement(none, spec)).toMatchObject({ code: 'NODE' })
    expect(checkPlacement({ ...none, nodes: ['srv-1'] }, spec)).toMatchObject({ code: 'KIND' })
    expect(checkPlacement({ ...none, nodes: ['srv-1'], kinds: ['server'] }, spec)).toMatchObject({ code: 'TRUST' })
    expect(checkPlacement({ ...none, nodes: ['srv-1'], kinds: ['server'], trust: ['internal'] }, spec)).toMatchObject({ code: 'CAPABILITY' })
  })

  it('fits what detectLocalNode reports for this process', () => {
    expect(checkPlacement({ kinds: ['server'], requires: ['fs'] }, detectLocalNode({ id: 'me' }))).toEqual({ ok: true })
  })

  it('throws INVALID_ARGUMENT for malformed placements', () => {
    const bad: unknown[] = [
      undefined,
      null,
      [],
      'server',
      { kinds: 'server' },
      { kinds: ['mainframe'] },
      { kinds: [] },
      { nodes: [] },
      { trust: [] },
      { nodes: [1] },
      { requires: [''] },
      { requires: 'fs' },
      { require: ['fs'] },
    ]
    for (const p of bad) {
      expect(() => checkPlacement(p as Placement, spec), JSON.stringify(p)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
      expect(() => validatePlacement(p), JSON.stringify(p)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
      // The non-throwing twin, for reducers reading placements out of log bodies.
      expect(placementProblem(p), JSON.stringify(p)).toBeTypeOf('string')
    }
    expect(placementProblem({ nodes: ['a'], kinds: ['edge'], trust: ['t'], requires: [] })).toBeUndefined()
  })

  it('throws INVALID_ARGUMENT for malformed specs', () => {
    const bad: unknown[] = [null, {}, { id: 'a', kind: 'server' }, { id: '', kind: 'server', capabilities: [] }, { id: 'a', kind: 'pc', capabilities: [] }, { id: 'a', kind: 'server', capabilities: [3] }, { id: 'a', kind: 'server', capabilities: [], trust: 1 }]
    for (const s of bad) {
      expect(nodeSpecProblem(s), JSON.stringify(s)).toBeTypeOf('string')
      expect(() => checkPlacement({}, s as RuntimeNodeSpec), JSON.stringify(s)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    }
  })
})

describe('placement - node specs', () => {
  it('normalizes to the four fields, capabilities sorted and de-duplicated; extra fields of newer peers are accepted', () => {
    const raw = { id: 'a', kind: 'worker', capabilities: ['z', 'a', 'z'], extra: 1 } as RuntimeNodeSpec
    expect(nodeSpecProblem(raw)).toBeUndefined()
    expect(normalizeNodeSpec(raw)).toEqual({ id: 'a', kind: 'worker', capabilities: ['a', 'z'] })
  })
})
