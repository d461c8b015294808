import { describe, expect, it } from 'vitest'
import { existsSync, readFileSync } from 'node:fs'
import * as dagJson from '@ipld/dag-json'
import { decodeEvent, encodeEvent, signingMessage } from '../../src/log/codec.js'
import { signingBackend } from '../../src/log/crypto-backend.js'
import { createXSync } from '../../src/log/client.js'
import { toHex } from '../../src/dag/bytes.js'

const dir = new URL('../fixtures/', import.meta.url)
const read = (p: string) => new Uint8Array(readFileSync(new URL(p, dir)))
const expected = JSON.parse(readFileSync(new URL('v1/expected.json', dir), 'utf8')) as {
  membersLog: string
  events: Record<string, { cid: string; sig: string; dagJson: unknown }>
}
const manifest = JSON.parse(readFileSync(new URL('malformed/manifest.json', dir), 'utf8')) as { file: string; code: string; log: string; sig?: boolean; note: string }[]
const T = 1_700_000_000_000

describe('fixtures - v1 events decode to the same values forever', () => {
  for (const [name, want] of Object.entries(expected.events)) {
    it(`${name}`, async () => {
      const bytes = read(`v1/${name}.cbor`)
      const e = decodeEvent(bytes)
      expect(e.cid.toString()).toBe(want.cid)
      const { cid: _c, bytes: _b, ...fields } = e
      expect(JSON.parse(new TextDecoder().decode(dagJson.encode(fields)))).toEqual(want.dagJson)
      // And the codec writes them back byte for byte.
      expect(toHex(encodeEvent(fields).bytes)).toBe(toHex(bytes))
      const sig = read(`v1/${name}.sig`)
      expect(toHex(sig)).toBe(want.sig)
      expect(await signingBackend('node')!.verify(e.author, signingMessage(e.cid), sig)).toBe(true)
    })
  }
})

describe('fixtures - malformed events are rejected with their code and change nothing', () => {
  it('every manifest entry is rejected with the code its name carries', async () => {
    const client = await createXSync({ now: () => T + 60_000, maxEventBytes: 1024 })
    const load = (name: string) => ({ bytes: read(`v1/${name}.cbor`), sig: read(`v1/${name}.sig`) })
    const ok = [
      ...(await client.log('fixtures').ingest([load('01-first'), load('02-kinds'), load('03-bob-link')])),
      ...(await client.log('elsewhere').ingest([load('05-elsewhere')])),
      ...(await client.log(expected.membersLog).ingest([load('04-genesis')])),
    ]
    expect(ok.map((r) => r.status)).toEqual(['stored', 'stored', 'stored', 'stored', 'stored'])
    expect(manifest.length).toBeGreaterThanOrEqual(15)
    const codes = new Set<string>()
    for (const m of manifest) {
      const log = client.log(m.log)
      const before = { heads: (await log.heads()).map(String), count: await log.count() }
      const base = m.file.replace(/\.cbor$/, '')
      const input = { bytes: read(`malformed/${m.file}`), ...(m.sig ? { sig: read(`malformed/${base}.sig`) } : {}) }
      expect(m.sig ?? false).toBe(existsSync(new URL(`malformed/${base}.sig`, dir)))
      const [r] = await log.ingest([input])
      expect(r, `${m.file}: ${m.note}`).toMatchObject({ status: 'rejected', code: m.code })
      expect(r.error?.message.startsWith(`${m.code}:`)).toBe(true)
      expect({ heads: (await log.heads()).map(String), count: await log.count() }).toEqual(before)
      expect(log.pendingCount).toBe(0)
      codes.add(m.code)
    }
    expect([...codes].sort()).toEqual(['CLOCK', 'DECODE', 'FUTURE', 'PARENT_LOG', 'SEQ', 'SIGNATURE', 'TOO_LARGE', 'UNAUTHORIZED'])
    await client.close()
  })
})
