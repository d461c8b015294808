/**
 * The signed definition registry (DESIGN §10): publish and resolve, ranges, replication over the
 * memory network, every refusal with its code (and nothing stored), the bucket layout.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, readdir, rm, writeFile, cp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  canonicalJson,
  createRegistry,
  createXSync,
  defineStep,
  defineWorkflow,
  generateIdentity,
  link,
  memoryNetwork,
  signingBackend,
  didToPublicKey,
  REGISTRY,
  REGISTRY_LOG,
  type DefinitionDocument,
  type RegistryPublishedBody,
  type XSyncClient,
} from '../../src/index.js'
import { exportBucket, importBucket } from '../../src/flow/registry-fs.js'
import { sha256 } from '../../src/log/crypto-backend.js'
import { fromHex, toHex } from '../../src/dag/bytes.js'

const clients: XSyncClient[] = []
const dirs: string[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function client(init: Parameters<typeof createXSync>[0] = {}): Promise<XSyncClient> {
  const c = await createXSync(init)
  clients.push(c)
  return c
}

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'stateflow-registry-'))
  dirs.push(d)
  return d
}

const pure = { kind: 'pure' } as const
const lease = { mode: 'lease' } as const
const checkout = (version: string, extra = 'charge') =>
  defineWorkflow({
    id: 'shop.checkout',
    version,
    steps: { reserve: defineStep({ id: 'reserve', type: 'inventory.reserve', sideEffects: pure, claim: lease }), [extra]: defineStep({ id: extra, type: `payments.${extra}`, sideEffects: pure, claim: lease, timeoutMs: 1.5 }) },
    links: [link('reserve', extra)],
  })
const doc = (version: string, definition: unknown = { states: { idle: {} } }, extra: Partial<DefinitionDocument> = {}): DefinitionDocument => ({ id: 'door', version, format: 'flowstate', definition, ...extra })

async function count(c: XSyncClient, log = REGISTRY_LOG): Promise<number> {
  return c.log(log).count()
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    return (err as { code?: string }).code
  }
  return 'no error'
}

/** The bodies of the registry log, in total order. */
async function bodies(c: XSyncClient): Promise<RegistryPublishedBody[]> {
  const out: RegistryPublishedBody[] = []
  for await (const e of c.log(REGISTRY_LOG).events()) out.push(e.body as RegistryPublishedBody)
  return out
}

describe('registry - publish and resolve', () => {
  it('round trip: canonical JSON, content hash, a signature over the documented bytes, one event', async () => {
    const a = await client()
    const registry = createRegistry({ client: a })
    const w = checkout('1.2.0')
    const published = await registry.publish(w)
    const got = await registry.resolve('shop.checkout@^1')
    expect(got).toEqual(published)
    expect(got.canonical).toBe(canonicalJson(w.canonical))
    expect(got.definition).toEqual(JSON.parse(canonicalJson(w.canonical)))
    expect(got.skipped).toEqual([])
    const m = got.manifest
    expect(m).toEqual({
      id: 'shop.checkout',
      version: '1.2.0',
      contentHash: `sha256:${toHex(sha256(new TextEncoder().encode(got.canonical)))}`,
      format: 'stateflow.workflow',
      signers: [a.did],
      signature: expect.stringMatching(/^ed25519:[0-9a-f]{128}$/),
      extensions: [],
    })
    // The signed bytes, rebuilt by hand: domain line, then the canonical manifest minus signature.
    const { signature, ...unsigned } = m
    const bytes = new TextEncoder().encode(`stateflow/registry/manifest/v1\n${canonicalJson(unsigned)}`)
    expect(await signingBackend('noble')!.verify(didToPublicKey(a.did), bytes, fromHex(signature.slice('ed25519:'.length)))).toBe(true)
    // One event in the registry log, with the canonical text as its definition.
    const events = []
    for await (const e of a.log(REGISTRY_LOG).events()) events.push(e)
    expect(events.map((e) => e.type)).toEqual([REGISTRY.published])
    expect(events[0].body).toEqual({ manifest: m, definition: got.canonical })
  })

  it('a plain document (another format, extensions, SCXML) round trips too', async () => {
    const a = await client()
    const registry = createRegistry({ client: a, allowExtensions: ['flowstate.history'] })
    const scxml = '<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0"><state id="idle"/></scxml>'
    await registry.publish(doc('0.1.0', { b: 1, a: [true, null, 'é'] }, { extensions: ['flowstate.history', 'flowstate.history'], scxml }))
    const got = await registry.resolve('door@0.1.0')
    expect(got.canonical).toBe('{"a":[true,null,"é"],"b":1}')
    expect(got.manifest).toMatchObject({ format: 'flowstate', extensions: ['flowstate.history'], scxmlHash: `sha256:${toHex(sha256(new TextEncoder().encode(scxml)))}` })
    expect(got.scxml).toBe(scxml)
  })

  it('resolves the highest matching version: exact, ^, ~, >=, <, x-ranges, *, ||, prereleases', async () => {
    const a = await client()
    const registry = createRegistry({ client: a })
    for (const v of ['1.0.0', '1.2.0', '1.10.0', '0.9.0', '2.0.0-beta.1', '2.0.0', '3.0.0-rc.1']) await registry.publish(doc(v, { v }))
    const version = async (ref: string) => (await registry.resolve(ref)).manifest.version
    expect(await version('door@^1')).toBe('1.10.0')
    expect(await version('door@~1.2')).toBe('1.2.0')
    expect(await version('door@1.0.0')).toBe('1.0.0')
    expect(await version('door@=1.2.0')).toBe('1.2.0')
    expect(await version('door@>=1.1.0 <2')).toBe('1.10.0')
    expect(await version('door@<1')).toBe('0.9.0')
    expect(await version('door@1.x')).toBe('1.10.0')
    expect(await version('door@0.x || 1.0.x')).toBe('1.0.0')
    expect(await version('door@*')).toBe('2.0.0')
    expect(await version('door')).toBe('2.0.0')
    expect(await version('door@>=2.0.0-beta.0 <2.0.0')).toBe('2.0.0-beta.1')
    expect(await version('door@2.0.0-beta.1')).toBe('2.0.0-beta.1')
    expect(await version('door@^3.0.0-rc.0')).toBe('3.0.0-rc.1')
    expect((await registry.resolve('door@1.2.0')).definition).toEqual({ v: '1.2.0' })
    expect(await codeOf(registry.resolve('door@^4'))).toBe('NOT_FOUND')
    expect(await codeOf(registry.resolve('door@^3'))).toBe('NOT_FOUND') // only a prerelease of 3
    expect(await codeOf(registry.resolve('nobody@1'))).toBe('NOT_FOUND')
  })

  it('publishing identical content again is a no-op; different content for a published version is CONFLICT', async () => {
    const a = await client()
    const registry = createRegistry({ client: a })
    const first = await registry.publish(checkout('1.0.0'))
    expect(await registry.publish(checkout('1.0.0'))).toEqual(first)
    expect(await count(a)).toBe(1)
    expect(await codeOf(registry.publish(checkout('1.0.0', 'refund')))).toBe('CONFLICT')
    await registry.publish(doc('1.0.0'))
    expect(await codeOf(registry.publish(doc('1.0.0', { other: true })))).toBe('CONFLICT')
    expect(await codeOf(registry.publish(doc('1.0.0', { states: { idle: {} } }, { extensions: ['x'] })))).toBe('CONFLICT')
    expect(await count(a)).toBe(2)
    expect((await registry.resolve('shop.checkout@1.0.0')).manifest).toEqual(first.manifest)
  })

  it('refuses bad input with INVALID_ARGUMENT and stores nothing', async () => {
    const a = await client()
    const registry = createRegistry({ client: a })
    class Thing {}
    const bad: unknown[] = [
      checkout('1'), // defineWorkflow allows any version string; the registry wants semver
      doc('1.0'),
      doc('1.0.0+build.5'),
      doc('v1.0.0'),
      { ...doc('1.0.0'), id: 'has space' },
      { ...doc('1.0.0'), id: 'a@b' },
      { ...doc('1.0.0'), format: '' },
      doc('1.0.0', { a: undefined }),
      doc('1.0.0', { n: Number.NaN }),
      doc('1.0.0', [new Date(0)]),
      doc('1.0.0', { t: new Thing() }),
      doc('1.0.0', { f: () => 1 }),
      doc('1.0.0', {}, { extensions: [''] }),
      doc('1.0.0', {}, { extensions: 'abc' as never }),
      doc('1.0.0', {}, { extensions: [7] as never }),
      doc('1.0.0', {}, { scxml: 42 as never }),
      null,
    ]
    for (const d of bad) expect(await codeOf(registry.publish(d as DefinitionDocument)), JSON.stringify(d)).toBe('INVALID_ARGUMENT')
    // Past the log's event bound (1 MiB by default).
    expect(await codeOf(registry.publish(doc('1.0.0', { s: 'a'.repeat(1_100_000) })))).toBe('TOO_LARGE')
    expect(await count(a)).toBe(0)
    for (const ref of ['door@1.x.3', 'door@latest', 'door@1.0.0 - 2.0.0', 'bad id@1', '@1', '', 'door@1 ||']) {
      expect(await codeOf(registry.resolve(ref)), ref).toBe('INVALID_ARGUMENT')
    }
    expect(await codeOf(registry.resolve('door@1', { trustedSigners: ['did:web:example.com'] }))).toBe('INVALID_ARGUMENT')
    expect(() => createRegistry({ client: a, trustedSigners: ['not a did'] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => createRegistry({ client: a, log: '' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => createRegistry({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
  })
})

describe('registry - verification', () => {
  it('an untrusted signer is UNTRUSTED_SIGNER until trusted (per registry or per call)', async () => {
    const a = await client()
    const release = await generateIdentity()
    await createRegistry({ client: a }).publish(doc('1.0.0'), { identity: release })
    expect(await codeOf(createRegistry({ client: a }).resolve('door@1'))).toBe('UNTRUSTED_SIGNER')
    const got = await createRegistry({ client: a }).resolve('door@1', { trustedSigners: [release.did] })
    expect(got.manifest.signers).toEqual([release.did])
    expect((await createRegistry({ client: a, trustedSigners: [release.did] }).resolve('door@1')).manifest).toEqual(got.manifest)
  })

  it('a stranger who publishes a version first does not squat it: trusted publications win', async () => {
    const a = await client()
    const stranger = await generateIdentity()
    const registry = createRegistry({ client: a })
    await registry.publish(doc('1.0.0', { evil: true }), { identity: stranger })
    await registry.publish(doc('1.0.0', { good: true })) // strangers' publications do not conflict
    expect((await registry.resolve('door@1')).definition).toEqual({ good: true })
  })

  it('tampered definition bytes are HASH_MISMATCH; a lower good version is used, the bad one reported in skipped', async () => {
    const a = await client()
    const registry = createRegistry({ client: a })
    const good = await registry.publish(doc('1.0.0', { n: 1 }))
    const honest = await registry.publish(doc('1.3.0', { n: 3 }))
    // A peer whose registry log holds 1.3.0's manifest with other bytes.
    const d = await client()
    await d.log(REGISTRY_LOG).append(REGISTRY.published, { manifest: good.manifest, definition: good.canonical })
    await d.log(REGISTRY_LOG).append(REGISTRY.published, { manifest: honest.manifest, definition: '{"n":4}' })
    const onD = createRegistry({ client: d, trustedSigners: [a.did] })
    expect(await codeOf(onD.resolve('door@1.3.0'))).toBe('HASH_MISMATCH')
    const fallback = await onD.resolve('door@^1')
    expect(fallback.manifest).toEqual(good.manifest)
    expect(fallback.skipped).toEqual([{ version: '1.3.0', code: 'HASH_MISMATCH' }])
    // Where the authentic publication came first, a tampered copy after it changes nothing.
    await a.log(REGISTRY_LOG).append(REGISTRY.published, { manifest: honest.manifest, definition: '{"n":4}' })
    expect((await registry.resolve('door@1.3.0')).definition).toEqual({ n: 3 })
    // Wherever a tampered copy sorts among the merged events, the fold skips it.
    await d.log(REGISTRY_LOG).ingest(await wire(a))
    expect((await onD.resolve('door@1.3.0')).definition).toEqual({ n: 3 })
  })

  it('a forged signature is SIGNATURE: flipped bits, an edited manifest, a claimed signer', async () => {
    const a = await client()
    const attacker = await generateIdentity()
    const published = await createRegistry({ client: a }).publish(doc('1.0.0'))
    const forge = async (version: string, edit: (m: typeof published.manifest) => typeof published.manifest) => {
      const c = await client()
      await c.log(REGISTRY_LOG).append(REGISTRY.published, { manifest: edit({ ...published.manifest, version }), definition: published.canonical })
      return codeOf(createRegistry({ client: c, trustedSigners: [a.did] }).resolve(`door@${version}`))
    }
    const flipped = (s: string) => s.slice(0, -1) + (s.endsWith('0') ? '1' : '0')
    expect(await forge('1.0.0', (m) => ({ ...m, signature: flipped(m.signature) }))).toBe('SIGNATURE')
    expect(await forge('1.0.0', (m) => ({ ...m, format: 'flowstate.v2' }))).toBe('SIGNATURE')
    // The attacker signs with their key but names the trusted did as signer.
    const claimed = async (m: typeof published.manifest) => {
      const { signature: _, ...unsigned } = { ...m, contentHash: `sha256:${toHex(sha256(new TextEncoder().encode(published.canonical)))}` }
      const bytes = new TextEncoder().encode(`stateflow/registry/manifest/v1\n${canonicalJson(unsigned)}`)
      return { ...unsigned, signature: `ed25519:${toHex(await attacker.sign(bytes))}` }
    }
    const forged = await claimed(published.manifest)
    expect(await forge('1.0.0', () => forged)).toBe('SIGNATURE')
    // A genuine manifest moved to another version: the bytes hash right, the signature fails.
    expect(await forge('1.2.0', (m) => m)).toBe('SIGNATURE')
  })

  it('an extension not allowed is DISALLOWED_EXTENSION; allowed per registry or per call', async () => {
    const a = await client()
    await createRegistry({ client: a }).publish(doc('1.0.0', {}, { extensions: ['flowstate.history', 'flowstate.deep'] }))
    expect(await codeOf(createRegistry({ client: a }).resolve('door@1'))).toBe('DISALLOWED_EXTENSION')
    expect(await codeOf(createRegistry({ client: a }).resolve('door@1', { allowExtensions: ['flowstate.history'] }))).toBe('DISALLOWED_EXTENSION')
    expect((await createRegistry({ client: a }).resolve('door@1', { allowExtensions: ['flowstate.history', 'flowstate.deep'] })).manifest.extensions).toEqual(['flowstate.deep', 'flowstate.history'])
    expect(await createRegistry({ client: a, allowExtensions: ['flowstate.deep', 'flowstate.history'] }).resolve('door@1')).toBeTruthy()
  })

  it('malformed publication events are ignored by the fold', async () => {
    const a = await client()
    const log = a.log(REGISTRY_LOG)
    await log.append(REGISTRY.published, { nonsense: true })
    await log.append(REGISTRY.published, { manifest: { id: 'door', version: '1.0.0' }, definition: '{}' })
    await log.append('app.other', { manifest: 1 })
    const registry = createRegistry({ client: a })
    expect(await codeOf(registry.resolve('door@1'))).toBe('NOT_FOUND')
    await registry.publish(doc('1.0.0'))
    expect((await registry.resolve('door@1')).manifest.version).toBe('1.0.0')
  })
})

async function wire(c: XSyncClient) {
  const out = []
  for await (const e of c.log(REGISTRY_LOG).events()) out.push({ bytes: e.bytes, ...(e.sig ? { sig: e.sig } : {}) })
  return out
}

describe('registry - replication', () => {
  it('two peers replicate the registry log over the memory network and resolve identically', async () => {
    const net = memoryNetwork({ seed: 6 })
    const a = await client({ transports: [net.transport('a')], reconnect: { minDelayMs: 1, maxDelayMs: 5 } })
    const b = await client({ transports: [net.transport('b')], reconnect: { minDelayMs: 1, maxDelayMs: 5 } })
    await a.listen()
    await b.listen()
    const ra = createRegistry({ client: a, trustedSigners: [a.did, b.did] })
    const rb = createRegistry({ client: b, trustedSigners: [a.did, b.did] })
    await ra.publish(checkout('1.0.0'))
    await ra.publish(checkout('1.1.0'))
    // Apart, both publish door@1.0.0 with different content: the total order picks one, everywhere.
    await ra.publish(doc('1.0.0', { from: 'a' }))
    await rb.publish(doc('1.0.0', { from: 'b' }))
    await rb.publish(doc('1.1.0', { from: 'b' }))
    await b.connect('memory:a')
    await b.sync(REGISTRY_LOG)
    await net.idle()
    expect(await count(a)).toBe(5)
    expect(await count(b)).toBe(5)
    for (const ref of ['shop.checkout@^1', 'shop.checkout@1.0.0', 'door@1.0.0', 'door@^1']) {
      expect(await rb.resolve(ref), ref).toEqual(await ra.resolve(ref))
    }
    const first = (await bodies(a)).find((x) => x.manifest.id === 'door' && x.manifest.version === '1.0.0')!
    expect((await rb.resolve('door@1.0.0')).canonical).toBe(first.definition)
    // A third peer that trusts only a resolves the same checkout.
    const c = await client()
    await c.log(REGISTRY_LOG).ingest(await wire(b))
    expect((await createRegistry({ client: c, trustedSigners: [a.did] }).resolve('shop.checkout@^1')).manifest).toEqual((await ra.resolve('shop.checkout@^1')).manifest)
    // Now that the conflict is known, neither can publish the other's content for door@1.0.0.
    expect(await codeOf(rb.publish(doc('1.0.0', { from: 'b', again: true })))).toBe('CONFLICT')
  })
})

describe('registry - bucket', () => {
  async function populated() {
    const a = await client()
    const registry = createRegistry({ client: a, allowExtensions: ['flowstate.history'] })
    await registry.publish(checkout('1.2.0'))
    await registry.publish(doc('0.1.0', { states: {} }, { scxml: '<scxml version="1.0"/>', extensions: ['flowstate.history'] }))
    await registry.publish(doc('0.2.0-rc.1', { s: 'ü\n' }))
    return { a, registry }
  }

  it('exports the layout, imports it elsewhere (resolving the same), and a second import changes nothing', async () => {
    const { a, registry } = await populated()
    const dir = await tempDir()
    expect(await exportBucket(registry, dir)).toEqual(['door@0.1.0', 'door@0.2.0-rc.1', 'shop.checkout@1.2.0'])
    const flows = join(dir, 'registry', 'flows')
    expect((await readdir(flows)).sort()).toEqual(['door@0.1.0', 'door@0.2.0-rc.1', 'shop.checkout@1.2.0'])
    expect((await readdir(join(flows, 'door@0.1.0'))).sort()).toEqual(['definition.json', 'definition.scxml', 'manifest.json'])
    expect((await readdir(join(flows, 'shop.checkout@1.2.0'))).sort()).toEqual(['definition.json', 'manifest.json'])
    const original = await registry.resolve('shop.checkout@1.2.0')
    expect(await readFile(join(flows, 'shop.checkout@1.2.0', 'definition.json'), 'utf8')).toBe(original.canonical)
    expect(JSON.parse(await readFile(join(flows, 'shop.checkout@1.2.0', 'manifest.json'), 'utf8'))).toEqual(original.manifest)

    const b = await client()
    const other = createRegistry({ client: b, trustedSigners: [a.did], allowExtensions: ['flowstate.history'] })
    expect(await importBucket(other, dir)).toEqual({ added: ['door@0.1.0', 'door@0.2.0-rc.1', 'shop.checkout@1.2.0'], unchanged: [] })
    for (const ref of ['shop.checkout@^1', 'door@0.1.0', 'door@0.2.0-rc.1']) expect(await other.resolve(ref)).toEqual(await registry.resolve(ref))
    expect(await importBucket(other, dir)).toEqual({ added: [], unchanged: ['door@0.1.0', 'door@0.2.0-rc.1', 'shop.checkout@1.2.0'] })
    expect(await count(b)).toBe(3)
    // Importing into the publisher's own registry is a no-op too.
    expect((await importBucket(registry, dir)).added).toEqual([])
  })

  it('refuses a tampered bucket with the typed error and imports nothing', async () => {
    const { a, registry } = await populated()
    const clean = await tempDir()
    await exportBucket(registry, clean)
    const tamper = async (file: string, edit: (text: string) => string) => {
      const dir = await tempDir()
      await cp(clean, dir, { recursive: true })
      const path = join(dir, 'registry', 'flows', file)
      await writeFile(path, edit(await readFile(path, 'utf8')))
      const b = await client()
      const code = await codeOf(importBucket(createRegistry({ client: b, trustedSigners: [a.did] }), dir))
      expect(await count(b), file).toBe(code === 'no error' ? 3 : 0)
      return code
    }
    expect(await tamper('shop.checkout@1.2.0/definition.json', (t) => t.replace('"inventory.reserve"', '"inventory.steal"'))).toBe('HASH_MISMATCH')
    expect(await tamper('shop.checkout@1.2.0/definition.json', (t) => `${t}\n`)).toBe('HASH_MISMATCH')
    expect(await tamper('shop.checkout@1.2.0/definition.json', (t) => `\uFEFF${t}`)).toBe('HASH_MISMATCH')
    expect(await tamper('door@0.1.0/definition.scxml', (t) => t.replace('1.0', '2.0'))).toBe('HASH_MISMATCH')
    expect(await tamper('door@0.1.0/manifest.json', (t) => t.replace('"flowstate"', '"stateflow.workflow"'))).toBe('SIGNATURE')
    expect(await tamper('door@0.1.0/manifest.json', (t) => t.replace('"0.1.0"', '"0.1.1"'))).toBe('DECODE') // folder and manifest disagree
    expect(await tamper('door@0.1.0/manifest.json', (t) => t.slice(1))).toBe('DECODE')
    expect(await tamper('door@0.1.0/manifest.json', (t) => t.replace('"extensions"', '"extras"'))).toBe('DECODE')
    // Pretty-printing the manifest is fine: the signature covers its canonical form.
    expect(await tamper('door@0.1.0/manifest.json', (t) => JSON.stringify(JSON.parse(t), null, 2))).toBe('no error')

    const b = await client()
    expect(await codeOf(importBucket(createRegistry({ client: b }), clean))).toBe('UNTRUSTED_SIGNER')
    expect(await codeOf(importBucket(createRegistry({ client: b }), join(clean, 'nowhere')))).toBe('NOT_FOUND')
    // Different content for a version the importer already has from a trusted signer.
    const c = await client()
    const rc = createRegistry({ client: c, trustedSigners: [a.did, c.did] })
    await rc.publish(doc('0.1.0', { mine: true }))
    expect(await codeOf(importBucket(rc, clean))).toBe('CONFLICT')
    expect(await count(c)).toBe(1)
  })
})
