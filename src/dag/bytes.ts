/**
 * Byte helpers every layer needs and no dependency gives in a browser-safe, allocation-light form.
 * Imports nothing of ours.
 */

/** Lexicographic byte order: the tie-break of the total order. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i]
    if (d !== 0) return d
  }
  return a.length - b.length
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const HEX: string[] = []
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'))

/** Lower-case hex. Also the map key for CIDs and public keys (cheap, and sorts like the bytes). */
export function toHex(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]]
  return s
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new TypeError('not a hex string')
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

const encoder = new TextEncoder()
export function utf8(s: string): Uint8Array {
  return encoder.encode(s)
}

export function utf8Length(s: string): number {
  // Fast path for ASCII, exact count otherwise.
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

/**
 * A compact map key for bytes (one char per byte). About 3x cheaper than hex to build and to hash
 * in a Map; not for display (use `toHex`). `keyBytes` inverts it.
 */
export function bytesKey(bytes: Uint8Array): string {
  // apply() passes the bytes as arguments: fine for keys, chunked for anything long.
  if (bytes.length <= 256) return String.fromCharCode.apply(null, bytes as unknown as number[])
  let s = ''
  for (let i = 0; i < bytes.length; i += 256) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 256) as unknown as number[])
  return s
}

export function keyBytes(key: string): Uint8Array {
  const out = new Uint8Array(key.length)
  for (let i = 0; i < key.length; i++) out[i] = key.charCodeAt(i)
  return out
}

const B32 = 'abcdefghijklmnopqrstuvwxyz234567'
const B32_CODES = Array.from(B32, (c) => c.charCodeAt(0))
/** Reused arrays, one per output length, for the character codes of one string. */
const codesByLength: number[][] = []

/**
 * RFC 4648 base32, lower case, no padding, after an optional prefix (`'b'` gives the multibase
 * string CIDv1 uses). About ten times faster than multiformats' generic codec on a 36-byte CID
 * (its first `toString` of a CID costs ~10 µs here), which a fold that names events by CID pays
 * once per event. The codes go into a reused array and become one string: no intermediate
 * strings, no array growth.
 */
export function toBase32(bytes: Uint8Array, prefix = ''): string {
  const n = bytes.length
  const len = prefix.length + Math.ceil((n * 8) / 5)
  let codes = codesByLength[len]
  if (codes === undefined) {
    codes = new Array<number>(len).fill(0)
    if (len <= 256) codesByLength[len] = codes
  }
  let k = 0
  for (; k < prefix.length; k++) codes[k] = prefix.charCodeAt(k)
  let bits = 0
  let value = 0
  for (let i = 0; i < n; i++) {
    value = ((value & 0xff) << 8) | bytes[i]
    bits += 8
    while (bits >= 5) {
      codes[k++] = B32_CODES[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) codes[k++] = B32_CODES[(value << (5 - bits)) & 31]
  if (len <= 256) return String.fromCharCode.apply(null, codes)
  let s = ''
  for (let i = 0; i < len; i += 256) s += String.fromCharCode.apply(null, codes.slice(i, i + 256))
  return s
}
