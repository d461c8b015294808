/**
 * Peer authentication, the same on every transport: each side sends a fresh random nonce, and
 * the other signs it with its identity key. A signature over a nonce the verifier chose for this
 * connection cannot be replayed on another. (It does not bind the transport channel: against a
 * relaying man in the middle, use an encrypted transport — libp2p noise, wss, https.)
 */
import { concatBytes } from '../../dag/bytes.js'
import type { SigningBackend } from '../crypto-backend.js'
import type { Identity } from '../identity.js'

const DOMAIN = new TextEncoder().encode('stateflow/sync/1 auth\n')

function authMessage(nonce: Uint8Array): Uint8Array {
  return concatBytes([DOMAIN, nonce])
}

/** Sign the nonce the other side sent. */
export function signNonce(identity: Identity, theirNonce: Uint8Array): Promise<Uint8Array> {
  return identity.sign(authMessage(theirNonce))
}

/** Check the other side's signature over the nonce this side sent. */
export function verifyNonce(backend: SigningBackend, key: Uint8Array, myNonce: Uint8Array, sig: Uint8Array): Promise<boolean> {
  return backend.verify(key, authMessage(myNonce), sig)
}
