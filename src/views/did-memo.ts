/**
 * did:key strings for author keys, memoized: they are base58 of the key, worth computing once per
 * author rather than once per event. A memo of a pure function keeps a reducer pure.
 */
import { bytesKey, equalBytes } from '../dag/bytes.js'
import { publicKeyToDid } from '../log/identity.js'

const MAX = 4096
const dids = new Map<string, string>()
// Runs of events by one author are the common case: compare with the last key before building one.
let lastKey: Uint8Array | undefined
let lastDid = ''

export function didOf(key: Uint8Array): string {
  // Decoding shares one author array across a run of one author: identity first.
  if (key === lastKey) return lastDid
  if (lastKey !== undefined && equalBytes(lastKey, key)) {
    lastKey = key
    return lastDid
  }
  const k = bytesKey(key)
  let d = dids.get(k)
  if (d === undefined) {
    if (dids.size > MAX) dids.clear()
    d = publicKeyToDid(key)
    dids.set(k, d)
  }
  lastKey = key
  lastDid = d
  return d
}
