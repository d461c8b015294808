/**
 * Short ASCII strings decoded from bytes, interned: event types, log ids, body keys and small
 * values repeat from event to event, and building each afresh was a fifth of what decoding an
 * event allocated. A direct-mapped cache keyed by a hash of the bytes; a hit is checked
 * character by character, so a collision only costs a miss.
 */
const SIZE = 1024
const MAX_INTERNED = 32
const cached: string[] = new Array(SIZE).fill('')

/** The string of `b[start, start + n)` (n ≤ 64) if every byte is ASCII, else undefined. */
export function asciiString(b: Uint8Array, start: number, n: number): string | undefined {
  const end = start + n
  let h = 0x811c9dc5 ^ n
  for (let i = start; i < end; i++) {
    const c = b[i]
    if (c >= 0x80) return undefined
    h = Math.imul(h ^ c, 0x01000193)
  }
  if (n > MAX_INTERNED) return build(b, start, end)
  const slot = (h ^ (h >>> 15)) & (SIZE - 1)
  const s = cached[slot]
  if (s.length === n) {
    let i = 0
    while (i < n && s.charCodeAt(i) === b[start + i]) i++
    if (i === n) return s
  }
  const fresh = build(b, start, end)
  cached[slot] = fresh
  return fresh
}

/** Reused code arrays, one per length (≤ 64): one string built, no intermediate ones. */
const codesByLength: number[][] = []

function build(b: Uint8Array, start: number, end: number): string {
  const n = end - start
  let codes = codesByLength[n]
  if (codes === undefined) codes = codesByLength[n] = new Array<number>(n).fill(0)
  for (let i = 0; i < n; i++) codes[i] = b[start + i]
  return String.fromCharCode.apply(null, codes)
}
