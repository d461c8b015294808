import { createHash } from 'node:crypto'
import { appendFileSync, copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { auditVerify } from '../../src/cli/audit-verify.js'
import { run } from '../../src/cli/run.js'
import { bufferOutput, EXIT_FORKS, EXIT_INTEGRITY, EXIT_OK, EXIT_USAGE } from '../../src/cli/io.js'
import { verifyLog, type Finding } from '../../src/cli/verify-log.js'
import { createXSync } from '../../src/log/client.js'
import { defaultSigningBackend } from '../../src/log/crypto-backend.js'
import { exportIdentity, identityFromSecretKey } from '../../src/log/identity.js'
import { memoryStore } from '../../src/stores/memory-store.js'
import { sqliteStore } from '../../src/stores/sqlite-store.js'
import { fsStore } from '../../src/stores/fs-store.js'
import { SEGMENT_HEADER_BYTES, readFrame } from '../../src/stores/fs-segment.js'
import { auditInspect } from '../../src/cli/audit-inspect.js'
import { auditExport } from '../../src/cli/audit-export.js'
import { forge, generateIdentity, sync, tempDir, sqliteFixture, writeFixture, type Written } from './helpers.js'

/** Verify in-process with --json and return the parsed document. */
async function verifyJson(store: string, extra: { strict?: boolean; log?: string } = {}) {
  const io = bufferOutput()
  const code = await auditVerify({ store, json: true, ...extra }, io)
  expect(io.stdout).toHaveLength(1)
  const doc = JSON.parse(io.stdout[0]) as {
    ok: boolean
    exitCode: number
    summary: { logs: number; events: number; errors: number; warnings: number; forks: number }
    logs: { log: string; events: number; heads: string[]; headsChecked: boolean }[]
    findings: Finding[]
  }
  expect(doc.exitCode).toBe(code)
  return { code, doc, io }
}

const codesByCid = (findings: Finding[]) => {
  const out: Record<string, string[]> = {}
  for (const f of findings) (out[f.cid ?? '-'] ??= []).push(f.code)
  return out
}

const kinds = [
  { kind: 'sqlite', location: (dir: string) => join(dir, 'store.db'), open: (p: string) => sqliteStore(p) },
  { kind: 'fs', location: (dir: string) => join(dir, 'fs-store'), open: (p: string) => fsStore(p) },
] as const

describe.each(kinds)('audit verify - $kind store', ({ kind, location, open }) => {
  let tmp: ReturnType<typeof tempDir>
  let path: string
  let written: Written

  beforeEach(async () => {
    tmp = tempDir()
    path = location(tmp.dir)
    written = await writeFixture(open(path))
  })
  afterEach(() => tmp.cleanup())

  it('a store written through the Log API by several writers is clean: exit 0', async () => {
    const { code, doc } = await verifyJson(path)
    expect(doc.findings).toEqual([])
    expect(code).toBe(EXIT_OK)
    expect(doc.summary).toEqual({ logs: 2, events: written.events, errors: 0, warnings: 0, forks: 0 })
    expect(doc.logs.map((l) => l.log).sort()).toEqual([written.chat, written.members].sort())
    expect(doc.logs.every((l) => l.headsChecked)).toBe(true)
  })

  it('text output: a summary line per log and in total, no finding lines', async () => {
    const io = bufferOutput()
    expect(await auditVerify({ store: path }, io)).toBe(EXIT_OK)
    expect(io.stdout[0]).toBe(`audit verify ${path} (${kind})`)
    expect(io.stdout.some((l) => l.startsWith(`  ${written.chat}: `) && l.includes('0 errors'))).toBe(true)
    expect(io.stdout.at(-1)).toBe(`logs 2, events ${written.events}, errors 0, warnings 0, forks 0: ok`)
  })

  it('--log checks one log; an unknown log is exit 2', async () => {
    const { code, doc } = await verifyJson(path, { log: written.members })
    expect(code).toBe(EXIT_OK)
    expect(doc.logs.map((l) => l.log)).toEqual([written.members])
    const io = bufferOutput()
    expect(await auditVerify({ store: path, log: 'nope' }, io)).toBe(EXIT_USAGE)
    expect(io.stderr[0]).toContain('no log "nope"')
  })

  it('forged events put straight into the store: SIGNATURE, CLOCK, SEQ, UNAUTHORIZED, each on its event; exit 1', async () => {
    const store = open(path)
    const { owner, bob, carol } = written.identities
    const stranger = await generateIdentity()
    const badSig = await forge(store, { log: written.chat, author: owner, signer: stranger })
    const badClock = await forge(store, { log: written.chat, author: bob, fields: { clock: 99 } })
    const badSeq = await forge(store, { log: written.chat, author: carol, fields: { seq: 9 } })
    const intruder = await forge(store, { log: written.members, author: stranger, type: 'app.note' })
    await store.close()

    const { code, doc } = await verifyJson(path)
    expect(code).toBe(EXIT_INTEGRITY)
    expect(doc.ok).toBe(false)
    expect(codesByCid(doc.findings)).toEqual({
      [badSig.cid]: ['SIGNATURE'],
      [badClock.cid]: ['CLOCK'],
      [badSeq.cid]: ['SEQ'],
      [intruder.cid]: ['UNAUTHORIZED'],
    })
    expect(doc.findings.find((f) => f.cid === intruder.cid)!.message).toContain(`${stranger.did} is not a writer`)
    expect(doc.summary.errors).toBe(4)

    // The text form prints `<log> <cid> <CODE> <message>` per finding.
    const text = bufferOutput()
    expect(await auditVerify({ store: path }, text)).toBe(EXIT_INTEGRITY)
    expect(text.stdout.some((l) => l.startsWith(`${written.chat} ${badClock.cid} CLOCK clock is 99, must be `))).toBe(true)
    expect(text.stdout.some((l) => l.startsWith(`${written.chat} ${badSig.cid} SIGNATURE `))).toBe(true)
    expect(text.stdout.some((l) => l.startsWith(`${written.chat} ${badSeq.cid} SEQ `))).toBe(true)
    expect(text.stdout.some((l) => l.startsWith(`${written.members} ${intruder.cid} UNAUTHORIZED `))).toBe(true)
    expect(text.stdout.at(-1)).toMatch(/errors 4, .*FAILED$/)
  })
})

describe('audit verify - raw damage to the files', () => {
  const fx = sqliteFixture('each', 'store.db')

  it('a byte flipped in the SQLite file: DECODE and CID reported for that event; exit 1', async () => {
    const db = new Database(fx.path)
    const row = db.prepare('SELECT cid, body, cid_len, sig_len FROM events ORDER BY clock DESC LIMIT 1').get() as {
      cid: Buffer
      body: Buffer
      cid_len: number
      sig_len: number | null
    }
    const body = Buffer.from(row.body)
    const at = row.cid_len + (row.sig_len ?? 0)
    body[at] ^= 0xff // the map header of the event: no longer a 10-field map
    db.prepare('UPDATE events SET body = ? WHERE cid = ?').run(body, row.cid)
    db.close()

    const { code, doc } = await verifyJson(fx.path)
    expect(code).toBe(EXIT_INTEGRITY)
    const { CID } = await import('multiformats/cid')
    const cid = CID.decode(new Uint8Array(row.cid)).toString()
    expect(codesByCid(doc.findings)[cid]?.sort()).toEqual(['CID', 'DECODE'])
  })

  it('a byte flipped inside the body: the event still decodes, the CID no longer matches and the signature fails', async () => {
    const db = new Database(fx.path)
    const rows = db.prepare('SELECT cid, body, cid_len, sig_len FROM events').all() as { cid: Buffer; body: Buffer; cid_len: number; sig_len: number | null }[]
    const row = rows.find((r) => r.body.includes('owner after bob'))!
    expect(row.sig_len).toBe(64)
    const body = Buffer.from(row.body)
    const text = body.indexOf('owner after bob')
    expect(text).toBeGreaterThan(0)
    body[text] = 'O'.charCodeAt(0)
    db.prepare('UPDATE events SET body = ? WHERE cid = ?').run(body, row.cid)
    db.close()

    const { code, doc } = await verifyJson(fx.path)
    expect(code).toBe(EXIT_INTEGRITY)
    const { CID } = await import('multiformats/cid')
    const cid = CID.decode(new Uint8Array(row.cid)).toString()
    expect(codesByCid(doc.findings)[cid]?.sort()).toEqual(['CID', 'SIGNATURE'])
  })

  it('an indexed seq changed in the SQLite file: INDEX reported for that event; exit 1', async () => {
    const db = new Database(fx.path)
    const row = db.prepare('SELECT cid FROM events WHERE seq = 2 LIMIT 1').get() as { cid: Buffer }
    db.prepare('UPDATE events SET seq = 5 WHERE cid = ?').run(row.cid)
    db.close()
    const { code, doc } = await verifyJson(fx.path)
    expect(code).toBe(EXIT_INTEGRITY)
    const { CID } = await import('multiformats/cid')
    expect(doc.findings.map((f) => [f.cid, f.code, f.message])).toEqual([
      [CID.decode(new Uint8Array(row.cid)).toString(), 'INDEX', 'the store indexes seq 5, the event says 2'],
    ])
  })

  it('a head row deleted from the store: HEADS reported; exit 1', async () => {
    const db = new Database(fx.path)
    const head = db.prepare('SELECT cid FROM heads LIMIT 1').get() as { cid: Buffer }
    db.prepare('DELETE FROM heads WHERE cid = ?').run(head.cid)
    db.close()
    const { code, doc } = await verifyJson(fx.path)
    expect(code).toBe(EXIT_INTEGRITY)
    expect(doc.findings.map((f) => f.code)).toEqual(['HEADS'])
  })
})

describe('audit verify - a damaged fs segment', () => {
  it('a flipped byte in an early frame fails the store\'s own checks: CORRUPT, exit 1', async () => {
    const tmp = tempDir()
    try {
      const dir = join(tmp.dir, 'fs')
      await writeFixture(fsStore(dir))
      const segment = join(dir, readdirSync(dir).find((n) => n.endsWith('.seg'))!)
      const bytes = readFileSync(segment)
      bytes[20] ^= 0xff // inside the first frame; later frames still verify
      writeFileSync(segment, bytes)
      const io = bufferOutput()
      expect(await run(['audit', 'verify', '--store', dir], io)).toBe(EXIT_INTEGRITY)
      expect(io.stderr.join('\n')).toMatch(/corrupt/)
    } finally {
      tmp.cleanup()
    }
  })
})

describe('audit verify - forks', () => {
  it('one identity appending seq 1 from two clients: a FORK with both CIDs; exit 0, or 3 with --strict', async () => {
    const tmp = tempDir()
    try {
      const path = join(tmp.dir, 'fork.sqlite')
      const me = await generateIdentity()
      const twin = await identityFromSecretKey(exportIdentity(me).secretKey)
      const one = await createXSync({ identity: me, store: sqliteStore(path) })
      const two = await createXSync({ identity: twin })
      const a = await one.log('f').append('app.note', { from: 'one' })
      const b = await two.log('f').append('app.note', { from: 'two' })
      await sync(two, one, 'f')
      await sync(one, two, 'f')
      await one.close()
      await two.close()

      const { code, doc } = await verifyJson(path)
      expect(code).toBe(EXIT_OK)
      expect(doc.summary).toMatchObject({ errors: 0, forks: 1 })
      const fork = doc.findings[0]
      expect(fork).toMatchObject({ code: 'FORK', severity: 'fork', log: 'f', seq: 1, author: me.did })
      expect([...fork.cids!].sort()).toEqual([a.cid.toString(), b.cid.toString()].sort())
      expect(fork.message).toContain(a.cid.toString())
      expect(fork.message).toContain(b.cid.toString())

      expect((await verifyJson(path, { strict: true })).code).toBe(EXIT_FORKS)
      const text = bufferOutput()
      await auditVerify({ store: path }, text)
      expect(text.stdout[0]).toMatch(new RegExp(`^f ${fork.cids![0]} FORK `))
    } finally {
      tmp.cleanup()
    }
  })
})

describe('audit verify - signatures and chains (verifyLog on a memory store)', () => {
  const backend = defaultSigningBackend()

  it('a run of more than 256 unsigned events under one signature is a warning, not an error', async () => {
    const store = memoryStore()
    const me = await generateIdentity()
    for (let i = 0; i < 300; i++) await forge(store, { log: 'long', author: me, unsigned: i < 299 })
    const r = await verifyLog(store, 'long', { backend: await backend })
    expect(r.findings.map((f) => [f.code, f.severity])).toEqual([['UNSIGNED_RUN', 'warning']])
    expect(r.findings[0].message).toContain('299')
    expect(r).toMatchObject({ events: 300, errors: 0, warnings: 1 })
  })

  it('small pages give the same report as one page', async () => {
    const store = memoryStore()
    const me = await generateIdentity()
    const you = await generateIdentity()
    for (let i = 0; i < 40; i++) await forge(store, { log: 'p', author: i % 3 === 0 ? you : me, unsigned: i % 5 !== 4 && i < 35 })
    const whole = await verifyLog(store, 'p', { backend: await backend })
    const paged = await verifyLog(store, 'p', { backend: await backend, pageSize: 3 })
    expect(paged).toEqual(whole)
    expect(whole.events).toBe(40)
  })

  it('a store whose scan is out of total order: ORDER', async () => {
    const inner = memoryStore()
    const me = await generateIdentity()
    for (let i = 0; i < 4; i++) await forge(inner, { log: 'o', author: me })
    const swapped = Object.create(inner) as typeof inner
    swapped.scan = async (log, options) => {
      const page = await inner.scan(log, options)
      return page.length >= 3 ? [page[0], page[2], page[1], ...page.slice(3)] : page
    }
    const r = await verifyLog(swapped, 'o', { backend: await backend })
    expect(r.findings.map((f) => f.code)).toEqual(['ORDER'])
  })

  it('unsigned events no later signature of the same author covers are SIGNATURE', async () => {
    const store = memoryStore()
    const me = await generateIdentity()
    const other = await generateIdentity()
    const covered = await forge(store, { log: 'l', author: me, unsigned: true })
    await forge(store, { log: 'l', author: me })
    const tail = await forge(store, { log: 'l', author: me, unsigned: true })
    // Another author's signature covers nothing of mine.
    await forge(store, { log: 'l', author: other })
    const r = await verifyLog(store, 'l', { backend: await backend })
    expect(r.findings.map((f) => [f.cid, f.code])).toEqual([[tail.cid, 'SIGNATURE']])
    expect(r.findings.some((f) => f.cid === covered.cid)).toBe(false)
  })

  it('links missing from the store or in another log: MISSING, PARENT_LOG, SEQ', async () => {
    const store = memoryStore()
    const me = await generateIdentity()
    const elsewhere = await forge(store, { log: 'other', author: me })
    const { CID } = await import('multiformats/cid')
    const ghost = CID.parse(elsewhere.cid)
    const first = await forge(store, { log: 'l', author: me })
    // A parent in log 'other', then a prev in log 'other'.
    const foreignParent = await forge(store, { log: 'l', author: me, fields: { parents: [ghost, CID.parse(first.cid)].sort((a, b) => Buffer.compare(a.bytes, b.bytes)), clock: 2 } })
    const foreignPrev = await forge(store, { log: 'l', author: me, fields: { prev: ghost, seq: 3, parents: [] } })
    // A parent nobody has.
    const { encodeEvent } = await import('../../src/log/codec.js')
    const missing = encodeEvent({ v: 1, log: 'nowhere', author: me.publicKey, seq: 1, prev: null, parents: [], clock: 1, time: 0, type: 't', body: null }).cid
    const orphan = await forge(store, { log: 'l', author: (await generateIdentity()), fields: { parents: [missing], clock: 5 } })
    const r = await verifyLog(store, 'l', { backend: await backend })
    const byCid = codesByCid(r.findings)
    expect(byCid[foreignParent.cid]).toEqual(['PARENT_LOG'])
    expect(byCid[foreignPrev.cid]).toEqual(['SEQ'])
    expect(byCid[orphan.cid]).toEqual(['MISSING'])
  })

  it('membership follows the causal past: a removed writer may still write on a branch that has not seen the removal', async () => {
    const store = memoryStore()
    const admin = await createXSync({ store })
    const writer = await createXSync()
    const log = await admin.createLog({ writers: [writer.did] })
    await sync(admin, writer, log.id)
    await log.removeMembers({ writers: [writer.did] })
    await writer.log(log.id).append('app.note', 'concurrent with the removal')
    await sync(writer, admin, log.id)
    const r = await verifyLog(store, log.id, { backend: await backend })
    expect(r.findings).toEqual([])
    // A new event by the writer that has seen the removal is UNAUTHORIZED.
    const late = await forge(store, { log: log.id, author: writer.identity })
    const again = await verifyLog(store, log.id, { backend: await backend })
    expect(again.findings.map((f) => [f.cid, f.code])).toEqual([[late.cid, 'UNAUTHORIZED']])
    await writer.close()
    await admin.close()
  })
})

/** sha256 of each named file that exists and is not empty (an empty SQLite -wal holds nothing). */
function hashes(paths: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const p of paths) if (existsSync(p) && statSync(p).size > 0) out[p] = createHash('sha256').update(readFileSync(p)).digest('hex')
  return out
}

/** Start offsets of the valid frames of one fs segment. */
function frameStarts(path: string): number[] {
  const buf = new Uint8Array(readFileSync(path))
  const out: number[] = []
  for (let at = SEGMENT_HEADER_BYTES; at < buf.length; ) {
    const f = readFrame(buf, at)
    if (f === undefined) break
    out.push(at)
    at = f.next
  }
  return out
}

/** Run inspect and export too: none of the audit commands may change the store. */
async function inspectAndExport(store: string, log: string): Promise<void> {
  expect(await auditInspect({ store, json: true }, bufferOutput())).toBe(EXIT_OK)
  expect(await auditExport({ store, log }, bufferOutput())).toBe(EXIT_OK)
}

describe('audit verify - read-only on an fs store with a torn tail', () => {
  let tmp: ReturnType<typeof tempDir>
  let dir: string
  let written: Written
  let segment: string

  beforeEach(async () => {
    tmp = tempDir()
    dir = join(tmp.dir, 'fs')
    written = await writeFixture(fsStore(dir))
    segment = join(dir, readdirSync(dir).filter((n) => n.endsWith('.seg')).sort().at(-1)!)
  })
  afterEach(() => tmp.cleanup())

  it('garbage after the last record: a TORN_TAIL warning with segment, offset and bytes; exit 0; the segment stays byte-identical', async () => {
    const good = statSync(segment).size
    appendFileSync(segment, new Uint8Array(13).fill(0xab))
    const before = hashes(readdirSync(dir).map((n) => join(dir, n)))

    const { code, doc } = await verifyJson(dir)
    expect(code).toBe(EXIT_OK)
    expect(doc.ok).toBe(true)
    expect(doc.summary).toEqual({ logs: 2, events: written.events, errors: 0, warnings: 1, forks: 0 })
    expect(doc.findings).toEqual([
      {
        log: '',
        code: 'TORN_TAIL',
        severity: 'warning',
        segment,
        at: good,
        bytes: 13,
        message: `${segment}: 13 bytes from byte ${good} to the end are not a whole record: a write interrupted before it was acknowledged. Not read, left on disk (a read-write open cuts them)`,
      },
    ])

    const text = bufferOutput()
    expect(await run(['audit', 'verify', '--store', dir], text)).toBe(EXIT_OK)
    expect(text.stdout[0]).toBe(`- - TORN_TAIL (warning) ${doc.findings[0].message}`)
    expect(text.stdout.at(-1)).toBe(`logs 2, events ${written.events}, errors 0, warnings 1, forks 0: ok`)

    await inspectAndExport(dir, written.chat)
    expect(hashes(readdirSync(dir).map((n) => join(dir, n)))).toEqual(before)
    expect(statSync(segment).size).toBe(good + 13)
  })

  it('damage inside the last batch is a TORN_TAIL warning, not silently cut: the bytes stay and every run reports it', async () => {
    const start = frameStarts(segment).at(-1)!
    const size = statSync(segment).size
    const bytes = readFileSync(segment)
    bytes[start + 12] ^= 0xff
    writeFileSync(segment, bytes)
    const before = hashes([segment])

    for (let attempt = 0; attempt < 2; attempt++) {
      const { code, doc } = await verifyJson(dir)
      expect(code).toBe(EXIT_OK)
      expect(doc.findings).toHaveLength(1)
      expect(doc.findings[0]).toMatchObject({ log: '', code: 'TORN_TAIL', severity: 'warning', segment, at: start, bytes: size - start })
      expect(doc.summary).toMatchObject({ errors: 0, warnings: 1 })
    }
    expect(hashes([segment])).toEqual(before)
  })
})

describe('audit verify - read-only on SQLite', () => {
  let tmp: ReturnType<typeof tempDir>
  let path: string
  let written: Written

  beforeEach(async () => {
    tmp = tempDir()
    path = join(tmp.dir, 'store.db')
    written = await writeFixture(sqliteStore(path))
  })
  afterEach(() => tmp.cleanup())

  it('batches still in the -wal (a writer killed before a checkpoint): verified, and .db and -wal stay byte-identical', async () => {
    const writer = sqliteStore(path)
    await forge(writer, { log: written.chat, author: written.identities.owner })
    // What a kill -9 leaves: the main file and the -wal as they are, no -shm.
    const crash = join(tmp.dir, 'crash.db')
    copyFileSync(path, crash)
    copyFileSync(`${path}-wal`, `${crash}-wal`)
    await writer.close()
    const files = [crash, `${crash}-wal`]
    const before = hashes(files)
    expect(Object.keys(before)).toEqual(files)

    const { code, doc } = await verifyJson(crash)
    expect(code).toBe(EXIT_OK)
    expect(doc.findings).toEqual([])
    expect(doc.summary.events).toBe(written.events + 1)
    expect(await run(['audit', 'verify', '--store', crash], bufferOutput())).toBe(EXIT_OK)
    await inspectAndExport(crash, written.chat)
    expect(hashes(files)).toEqual(before)
  })

  it('a cleanly closed store: the .db stays byte-identical and no -wal content appears', async () => {
    const files = [path, `${path}-wal`]
    const before = hashes(files)
    expect(Object.keys(before)).toEqual([path])
    const { code } = await verifyJson(path)
    expect(code).toBe(EXIT_OK)
    await inspectAndExport(path, written.chat)
    expect(hashes(files)).toEqual(before)
  })
})
