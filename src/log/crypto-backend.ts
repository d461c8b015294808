/**
 * Ed25519 and SHA-256 behind one small interface, with three backends:
 * - `node`: `node:crypto` (sync sign; verify on libuv's pool, so many verifies use both cores);
 * - `webcrypto`: WebCrypto `Ed25519` (browsers, Deno, Node);
 * - `noble`: `@noble/ed25519`, pure JS, everywhere;
 * - `sodium`: libsodium through the optional `sodium-native` addon (Node), about twice the sign
 *   rate of node:crypto; the default in Node when it loads.
 * Every backend passes the RFC 8032 vectors and verifies the others' signatures (test/log).
 *
 * `node:crypto` is reached through `process.getBuiltinModule` (Node ≥ 20.16), never imported, so
 * the main entry bundles for a browser with nothing Node-specific in it.
 */
import * as noble from '@noble/ed25519'
import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2.js'
import { bytesKey } from '../dag/bytes.js'

// noble's sync API needs a SHA-512; its async API uses WebCrypto's.
noble.hashes.sha512 = nobleSha512

type NodeCrypto = typeof import('node:crypto')
function builtin<T>(id: string): T | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  try {
    return proc?.getBuiltinModule?.(id) as T | undefined
  } catch {
    return undefined
  }
}
const nodeCrypto = builtin<NodeCrypto>('node:crypto')

/** The part of sodium-native we use. */
interface Sodium {
  crypto_sign_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void
  crypto_sign_detached(sig: Uint8Array, msg: Uint8Array, sk: Uint8Array): void
  crypto_sign_verify_detached(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean
  crypto_hash_sha256(out: Uint8Array, msg: Uint8Array): void
}
/** Loaded through `createRequire`, invisible to bundlers, absent wherever the addon is. */
const sodium: Sodium | undefined = (() => {
  const mod = builtin<typeof import('node:module')>('node:module')
  if (!mod) return undefined
  try {
    return mod.createRequire(import.meta.url)('sodium-native') as Sodium
  } catch {
    return undefined
  }
})()

export type BackendName = 'node' | 'webcrypto' | 'noble' | 'sodium'

/** A signing key bound to a backend; created once per identity so key parsing is not per call. */
export interface Signer {
  readonly publicKey: Uint8Array
  sign(message: Uint8Array): Promise<Uint8Array>
  /** Present where the backend signs synchronously (node, noble): saves a promise per event. */
  signSync?(message: Uint8Array): Uint8Array
}

export interface SigningBackend {
  readonly name: BackendName
  /** A signer for a 32-byte Ed25519 seed (the RFC 8032 secret key). */
  signer(seed: Uint8Array): Promise<Signer>
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>
}

const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])

function withPrefix(prefix: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + key.length)
  out.set(prefix)
  out.set(key, prefix.length)
  return out
}

function checkKeyLength(key: Uint8Array, n: number, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== n) throw new TypeError(`${what} must be ${n} bytes`)
}

/**
 * A bounded cache of parsed public keys: verify is called per author, over and over. When full it
 * starts over (O(1); evicting one entry at a time via `keys().next()` walks V8's deleted slots).
 */
class KeyCache<K> {
  private map = new Map<string, K>()
  constructor(private readonly max = 4096) {}
  get(pub: Uint8Array, make: () => K): K {
    const id = bytesKey(pub)
    let k = this.map.get(id)
    if (k === undefined) {
      if (this.map.size >= this.max) this.map = new Map()
      k = make()
      this.map.set(id, k)
    }
    return k
  }
}

function makeNodeBackend(c: NodeCrypto): SigningBackend {
  const keys = new KeyCache<import('node:crypto').KeyObject>()
  return {
    name: 'node',
    async signer(seed) {
      checkKeyLength(seed, 32, 'secret key')
      const priv = c.createPrivateKey({ key: Buffer.from(withPrefix(PKCS8_PREFIX, seed)), format: 'der', type: 'pkcs8' })
      const spki = c.createPublicKey(priv).export({ format: 'der', type: 'spki' })
      const publicKey = new Uint8Array(spki.subarray(spki.length - 32))
      const signSync = (message: Uint8Array): Uint8Array => new Uint8Array(c.sign(null, message, priv))
      return { publicKey, signSync, sign: async (m) => signSync(m) }
    },
    verify(publicKey, message, signature) {
      if (publicKey.length !== 32 || signature.length !== 64) return Promise.resolve(false)
      const key = keys.get(publicKey, () =>
        c.createPublicKey({ key: Buffer.from(withPrefix(SPKI_PREFIX, publicKey)), format: 'der', type: 'spki' }),
      )
      // The callback form runs on libuv's thread pool: concurrent verifies use every core.
      return new Promise((resolve) => c.verify(null, message, key, signature, (err, ok) => resolve(!err && ok)))
    },
  }
}

/** WebCrypto's types want ArrayBuffer-backed views; ours always are. */
const bs = (b: Uint8Array): BufferSource => b as Uint8Array<ArrayBuffer>

function makeWebCryptoBackend(subtle: SubtleCrypto): SigningBackend {
  const keys = new KeyCache<Promise<CryptoKey>>()
  const alg = { name: 'Ed25519' }
  return {
    name: 'webcrypto',
    async signer(seed) {
      checkKeyLength(seed, 32, 'secret key')
      const priv = await subtle.importKey('pkcs8', bs(withPrefix(PKCS8_PREFIX, seed)), alg, false, ['sign'])
      // WebCrypto cannot derive the public key from a non-extractable private key; noble can.
      const publicKey = await noble.getPublicKeyAsync(seed)
      return { publicKey, sign: async (m) => new Uint8Array(await subtle.sign(alg, priv, bs(m))) }
    },
    async verify(publicKey, message, signature) {
      if (publicKey.length !== 32 || signature.length !== 64) return false
      try {
        const key = await keys.get(publicKey, () => subtle.importKey('raw', bs(publicKey), alg, false, ['verify']))
        return await subtle.verify(alg, key, bs(signature), bs(message))
      } catch {
        return false
      }
    },
  }
}

const nobleBackend: SigningBackend = {
  name: 'noble',
  async signer(seed) {
    checkKeyLength(seed, 32, 'secret key')
    const publicKey = noble.getPublicKey(seed)
    const signSync = (m: Uint8Array): Uint8Array => noble.sign(m, seed)
    return { publicKey, signSync, sign: async (m) => signSync(m) }
  },
  async verify(publicKey, message, signature) {
    if (publicKey.length !== 32 || signature.length !== 64) return false
    try {
      return noble.verify(signature, message, publicKey)
    } catch {
      return false
    }
  },
}

function makeSodiumBackend(na: Sodium): SigningBackend {
  return {
    name: 'sodium',
    async signer(seed) {
      checkKeyLength(seed, 32, 'secret key')
      const publicKey = new Uint8Array(32)
      const secretKey = new Uint8Array(64)
      na.crypto_sign_seed_keypair(publicKey, secretKey, seed)
      const signSync = (m: Uint8Array): Uint8Array => {
        const sig = new Uint8Array(64)
        na.crypto_sign_detached(sig, m, secretKey)
        return sig
      }
      return { publicKey, signSync, sign: async (m) => signSync(m) }
    },
    async verify(publicKey, message, signature) {
      if (publicKey.length !== 32 || signature.length !== 64) return false
      return na.crypto_sign_verify_detached(signature, message, publicKey)
    },
  }
}

const subtle: SubtleCrypto | undefined = (globalThis as { crypto?: Crypto }).crypto?.subtle

/** The named backend, or undefined where this platform lacks it. */
export function signingBackend(name: BackendName): SigningBackend | undefined {
  if (name === 'sodium') return sodium ? makeSodiumBackend(sodium) : undefined
  if (name === 'node') return nodeCrypto ? makeNodeBackend(nodeCrypto) : undefined
  if (name === 'webcrypto') return subtle ? makeWebCryptoBackend(subtle) : undefined
  return nobleBackend
}

let defaultBackend: SigningBackend | undefined
/**
 * The fastest Ed25519 here: libsodium (sodium-native) in Node when installed, else `node:crypto`;
 * WebCrypto where it supports Ed25519; otherwise noble. The WebCrypto probe is async, so the
 * first call may take a moment.
 */
export async function defaultSigningBackend(): Promise<SigningBackend> {
  if (defaultBackend) return defaultBackend
  if (sodium) return (defaultBackend = makeSodiumBackend(sodium))
  if (nodeCrypto) return (defaultBackend = makeNodeBackend(nodeCrypto))
  if (subtle) {
    try {
      await subtle.importKey('raw', new Uint8Array(32).fill(1), { name: 'Ed25519' }, false, ['verify'])
      return (defaultBackend = makeWebCryptoBackend(subtle))
    } catch {
      // Ed25519 not in this WebCrypto: fall through.
    }
  }
  return (defaultBackend = nobleBackend)
}

/** SHA-256, synchronous on every platform: node:crypto where present, noble elsewhere. */
export const sha256: (bytes: Uint8Array) => Uint8Array = nodeCrypto
  ? (() => {
      const c = nodeCrypto
      const oneShot = (c as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash
      if (typeof oneShot === 'function') return (b: Uint8Array) => new Uint8Array(oneShot('sha256', b, 'buffer'))
      return (b: Uint8Array) => new Uint8Array(c.createHash('sha256').update(b).digest())
    })()
  : (b: Uint8Array) => nobleSha256(b)

/**
 * SHA-256 of `bytes` written into `out` (32 bytes). With sodium-native it writes in place, which
 * saves the Buffer node:crypto returns per call: one allocation per event on the ingest path.
 */
export const sha256Into: (out: Uint8Array, bytes: Uint8Array) => void = sodium
  ? (() => {
      const na = sodium
      return (out: Uint8Array, bytes: Uint8Array) => na.crypto_hash_sha256(out, bytes)
    })()
  : (out: Uint8Array, bytes: Uint8Array) => out.set(sha256(bytes))

/** 32 random bytes from the platform CSPRNG. */
export function randomSeed(): Uint8Array {
  const seed = new Uint8Array(32)
  globalThis.crypto.getRandomValues(seed)
  return seed
}
