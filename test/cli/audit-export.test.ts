import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { auditExport } from '../../src/cli/audit-export.js'
import { stringifyDagJson } from '../../src/cli/dag-json.js'
import { bufferOutput, EXIT_INTEGRITY, EXIT_OK, EXIT_USAGE } from '../../src/cli/io.js'
import { compareEvents } from '../../src/dag/order.js'
import { cidOf, decodeEvent } from '../../src/log/codec.js'
import { publicKeyToDid } from '../../src/log/identity.js'
import Database from 'better-sqlite3'
import { sqliteFixture } from './helpers.js'

interface Line {
  cid: string
  log: string
  author: string
  seq: number
  prev: string | null
  parents: string[]
  clock: number
  time: number
  type: string
  body: unknown
  sig: string | null
  bytes: string
  error?: string
}

describe('audit export', () => {
  const fx = sqliteFixture('each', 'store.db')

  const exportLines = async (log: string) => {
    const io = bufferOutput()
    const code = await auditExport({ store: fx.path, log }, io)
    return { code, io, lines: io.stdout.map((l) => JSON.parse(l) as Line) }
  }

  it('audit export - one JSON line per event, in total order, each matching its bytes', async () => {
    const { code, lines } = await exportLines(fx.written.chat)
    expect(code).toBe(EXIT_OK)
    expect(lines).toHaveLength(7)
    const order = lines.map((l) => ({ clock: l.clock, cid: CID.parse(l.cid).bytes }))
    for (let i = 1; i < order.length; i++) expect(compareEvents(order[i - 1], order[i])).toBeLessThan(0)
    for (const l of lines) {
      const bytes = new Uint8Array(Buffer.from(l.bytes, 'base64'))
      expect(cidOf(bytes).toString()).toBe(l.cid)
      const d = decodeEvent(bytes)
      expect(l).toMatchObject({ log: fx.written.chat, author: publicKeyToDid(d.author), seq: d.seq, clock: d.clock, time: d.time, type: d.type })
      expect(l.prev).toBe(d.prev === null ? null : d.prev.toString())
      expect(l.parents).toEqual(d.parents.map((p) => p.toString()))
      if (l.sig !== null) expect(Buffer.from(l.sig, 'base64')).toHaveLength(64)
    }
    // Carol's batch of three carries one signature, on its last event.
    const carol = lines.filter((l) => l.author === fx.written.identities.carol.did)
    expect(carol.map((l) => l.sig === null)).toEqual([true, true, false])
    // Binary values in a body are DAG-JSON bytes.
    const bob = lines.find((l) => (l.body as { raw?: unknown }).raw !== undefined)!
    expect(bob.body).toEqual({ raw: { '/': { bytes: 'AQID' } }, text: 'hi from bob' })
  })

  it('audit export - the genesis of a members log is exported under the log id with its body', async () => {
    const { code, lines } = await exportLines(fx.written.members)
    expect(code).toBe(EXIT_OK)
    expect(lines[0].type).toBe('xsync.log.genesis')
    expect(`log:${lines[0].cid}`).toBe(fx.written.members)
    expect(lines[0].log).toBe(fx.written.members)
    expect(lines[0].body).toMatchObject({ policy: 'members', admins: [fx.written.identities.owner.did], writers: [] })
    expect((lines[0].body as { nonce: unknown }).nonce).toEqual({ '/': { bytes: expect.any(String) } })
    expect(lines.map((l) => l.type)).toContain('xsync.members.add')
  })

  it('audit export - an unknown log is exit 2 with a message', async () => {
    const { code, io } = await exportLines('no-such-log')
    expect(code).toBe(EXIT_USAGE)
    expect(io.stdout).toEqual([])
    expect(io.stderr[0]).toContain('no log "no-such-log"')
  })

  it('audit export - an event that does not decode is written with its error and bytes; exit 1', async () => {
    const db = new Database(fx.path)
    const row = db.prepare('SELECT cid, body, cid_len, sig_len FROM events ORDER BY clock LIMIT 1').get() as { cid: Buffer; body: Buffer; cid_len: number; sig_len: number | null }
    const body = Buffer.from(row.body)
    body[row.cid_len + (row.sig_len ?? 0)] = 0x00
    db.prepare('UPDATE events SET body = ? WHERE cid = ?').run(body, row.cid)
    db.close()
    const all = [fx.written.chat, fx.written.members]
    const results = await Promise.all(all.map(exportLines))
    const broken = results.find((r) => r.code !== EXIT_OK)!
    expect(broken.code).toBe(EXIT_INTEGRITY)
    const line = broken.lines.find((l) => l.error !== undefined)!
    expect(line.error).toMatch(/^DECODE/)
    expect(line.cid).toBe(CID.decode(new Uint8Array(row.cid)).toString())
    expect(broken.io.stderr[0]).toMatch(/do not decode/)
  })
})

describe('dag-json', () => {
  it('dag-json - bytes, links, big integers and nesting', () => {
    const cid = CID.parse('bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
    expect(stringifyDagJson({ a: new Uint8Array([0xff, 0xfe]), l: cid, n: 2n ** 64n, x: [1, 'two', null, true], f: 1.5 })).toBe(
      `{"a":{"/":{"bytes":"//4"}},"l":{"/":"${cid.toString()}"},"n":18446744073709551616,"x":[1,"two",null,true],"f":1.5}`,
    )
  })
})
