import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { signingBackend, sha256, sha256Into, type BackendName } from '../../src/log/crypto-backend.js'
import { fromHex, toHex } from '../../src/dag/bytes.js'

const vectors = JSON.parse(readFileSync(new URL('../fixtures/rfc8032-ed25519.json', import.meta.url), 'utf8')) as {
  cases: { name: string; secretKey: string; publicKey: string; message: string; signature: string }[]
}
const names: BackendName[] = ['sodium', 'node', 'webcrypto', 'noble']

describe('crypto-backend - RFC 8032 vectors', () => {
  for (const name of names) {
    const backend = signingBackend(name)!
    it(`${name} - is available in Node`, () => expect(backend?.name).toBe(name))
    for (const v of vectors.cases) {
      it(`${name} - ${v.name}: public key, signature, verify`, async () => {
        const signer = await backend.signer(fromHex(v.secretKey))
        expect(toHex(signer.publicKey)).toBe(v.publicKey)
        const sig = await signer.sign(fromHex(v.message))
        expect(toHex(sig)).toBe(v.signature)
        expect(await backend.verify(fromHex(v.publicKey), fromHex(v.message), fromHex(v.signature))).toBe(true)
        const bad = fromHex(v.signature)
        bad[10] ^= 1
        expect(await backend.verify(fromHex(v.publicKey), fromHex(v.message), bad)).toBe(false)
      })
    }
  }
})

describe('crypto-backend - cross verification', () => {
  it('each backend verifies every other backend’s signatures and rejects tampered messages', async () => {
    const seed = new Uint8Array(32).map((_, i) => i * 7 + 1)
    const msg = new TextEncoder().encode('stateflow/event/v1\ncross-check')
    for (const a of names) {
      const sig = await (await signingBackend(a)!.signer(seed)).sign(msg)
      const pub = (await signingBackend('noble')!.signer(seed)).publicKey
      for (const b of names) {
        expect(await signingBackend(b)!.verify(pub, msg, sig), `${a} -> ${b}`).toBe(true)
        expect(await signingBackend(b)!.verify(pub, msg.slice(1), sig), `${a} -> ${b} tampered`).toBe(false)
      }
    }
  })

  it('wrong-length keys and signatures verify false rather than throw', async () => {
    for (const b of names) {
      expect(await signingBackend(b)!.verify(new Uint8Array(31), new Uint8Array(1), new Uint8Array(64))).toBe(false)
      expect(await signingBackend(b)!.verify(new Uint8Array(32), new Uint8Array(1), new Uint8Array(63))).toBe(false)
    }
  })

  it('sha256 matches the FIPS 180-2 "abc" vector', () => {
    expect(toHex(sha256(new TextEncoder().encode('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    const out = new Uint8Array(40)
    sha256Into(out.subarray(4, 36), new TextEncoder().encode('abc'))
    expect(toHex(out.subarray(4, 36))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect([...out.subarray(0, 4), ...out.subarray(36)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0])
  })
})
