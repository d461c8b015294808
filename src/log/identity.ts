/**
 * Identities: Ed25519 key pairs named by `did:key` (multicodec ed25519-pub 0xed, base58btc).
 *
 * @example
 * const me = await generateIdentity()
 * me.did // 'did:key:z6Mk…'
 * const again = await identityFromSecretKey(exportIdentity(me).secretKey)
 */
import { base58btc } from 'multiformats/bases/base58'
import { InvalidArgumentError } from '../errors.js'
import { defaultSigningBackend, randomSeed, type Signer, type SigningBackend } from './crypto-backend.js'

export interface Identity {
  /** `did:key:z6Mk…` */
  readonly did: string
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array
  /** The backend that signs for this identity. */
  readonly backend: SigningBackend
  sign(message: Uint8Array): Promise<Uint8Array>
  /** Synchronous signing where the backend has it. */
  readonly signSync?: (message: Uint8Array) => Uint8Array
}

export interface ExportedIdentity {
  did: string
  publicKey: Uint8Array
  /** The 32-byte Ed25519 seed. Keep it secret. */
  secretKey: Uint8Array
}

export interface IdentityInit {
  /** @default the platform's native backend */
  backend?: SigningBackend
}

const secrets = new WeakMap<Identity, Uint8Array>()
const ED25519_PUB = [0xed, 0x01] // varint of multicodec 0xed

export function publicKeyToDid(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new InvalidArgumentError('an Ed25519 public key is 32 bytes')
  }
  const bytes = new Uint8Array(34)
  bytes.set(ED25519_PUB)
  bytes.set(publicKey, 2)
  return `did:key:${base58btc.encode(bytes)}`
}

export function didToPublicKey(did: string): Uint8Array {
  if (typeof did !== 'string' || !did.startsWith('did:key:z')) {
    throw new InvalidArgumentError(`not a did:key with base58btc: ${String(did).slice(0, 80)}`)
  }
  let bytes: Uint8Array
  try {
    bytes = base58btc.decode(did.slice('did:key:'.length))
  } catch {
    throw new InvalidArgumentError(`did:key is not valid base58btc: ${did.slice(0, 80)}`)
  }
  if (bytes.length !== 34 || bytes[0] !== ED25519_PUB[0] || bytes[1] !== ED25519_PUB[1]) {
    throw new InvalidArgumentError(`did:key is not an ed25519-pub key: ${did.slice(0, 80)}`)
  }
  return bytes.slice(2)
}

function fromSigner(signer: Signer, backend: SigningBackend, seed: Uint8Array): Identity {
  const identity: Identity = {
    did: publicKeyToDid(signer.publicKey),
    publicKey: signer.publicKey,
    backend,
    sign: signer.sign,
    ...(signer.signSync ? { signSync: signer.signSync } : {}),
  }
  secrets.set(identity, seed.slice())
  return Object.freeze(identity)
}

export async function identityFromSecretKey(secretKey: Uint8Array, init: IdentityInit = {}): Promise<Identity> {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) {
    throw new InvalidArgumentError('an Ed25519 secret key (seed) is 32 bytes')
  }
  const backend = init.backend ?? (await defaultSigningBackend())
  return fromSigner(await backend.signer(secretKey), backend, secretKey)
}

export async function generateIdentity(init: IdentityInit = {}): Promise<Identity> {
  return identityFromSecretKey(randomSeed(), init)
}

/** The identity's did, public key and secret seed, to persist and restore with `identityFromSecretKey`. */
export function exportIdentity(identity: Identity): ExportedIdentity {
  const secretKey = secrets.get(identity)
  if (!secretKey) throw new InvalidArgumentError('this identity was not created by stateflow and cannot be exported')
  return { did: identity.did, publicKey: identity.publicKey.slice(), secretKey: secretKey.slice() }
}
