import { describe, expect, it } from 'vitest'
import { didToPublicKey, exportIdentity, generateIdentity, identityFromSecretKey, publicKeyToDid } from '../../src/log/identity.js'
import { signingBackend } from '../../src/log/crypto-backend.js'
import { fromHex, toHex } from '../../src/dag/bytes.js'

describe('identity - did:key', () => {
  it('names an Ed25519 key did:key:z6Mk… and round-trips', async () => {
    const id = await generateIdentity()
    expect(id.did).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/)
    expect(toHex(didToPublicKey(id.did))).toBe(toHex(id.publicKey))
    expect(publicKeyToDid(id.publicKey)).toBe(id.did)
  })

  it('matches the did:key spec example for a known key', () => {
    // RFC 8032 TEST 1 public key; the did follows from multicodec 0xed01 + base58btc.
    const pub = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
    const did = publicKeyToDid(pub)
    expect(did.startsWith('did:key:z6Mk')).toBe(true)
    expect(toHex(didToPublicKey(did))).toBe(toHex(pub))
  })

  it('rejects malformed dids and keys with INVALID_ARGUMENT', () => {
    for (const bad of ['', 'did:web:example.com', 'did:key:zzzz0OIl', 'did:key:z6LSbysY2xFMRpGMhb7tFTLMpeuPRaqaWM1yECx2AtzE3KCc']) {
      expect(() => didToPublicKey(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    }
    expect(() => publicKeyToDid(new Uint8Array(31))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
  })

  it('exports and restores the same identity, on any backend', async () => {
    const id = await generateIdentity()
    const exported = exportIdentity(id)
    expect(exported.secretKey.length).toBe(32)
    for (const name of ['sodium', 'node', 'webcrypto', 'noble'] as const) {
      const again = await identityFromSecretKey(exported.secretKey, { backend: signingBackend(name)! })
      expect(again.did).toBe(id.did)
      const msg = new Uint8Array([1, 2, 3])
      expect(await id.backend.verify(id.publicKey, msg, await again.sign(msg))).toBe(true)
    }
    await expect(identityFromSecretKey(new Uint8Array(5))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  })
})
