/**
 * A fast, strict decoder for the common subset of canonical DAG-CBOR that event bodies use.
 *
 * It returns a value only when the bytes are exactly what `@ipld/dag-cbor`'s encoder writes for
 * that value, so no re-encoding is needed to prove canonical form; for anything outside its
 * subset (big integers, integral floats, other tags, `undefined`, a `__proto__` key, deep
 * nesting, malformed input) it answers `undefined` and the caller takes the generic path
 * (decode, re-encode, compare). A property test checks that whatever it returns re-encodes to
 * the bytes it consumed.
 *
 * Strings keep a leading U+FEFF (cborg's decoder drops it, so such a string would not round-trip).
 */
import { CID } from 'multiformats/cid'
import { asciiKey, asciiString } from './short-strings.js'

const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const MAX_DEPTH = 64
const EMPTY = new Uint8Array(0)

/** A sentinel: "not in the fast subset, use the generic path". */
const DEFER = Symbol('defer')
type Out = unknown | typeof DEFER

class FastReader {
  pos = 0
  b: Uint8Array = EMPTY

  /** The argument of a head whose major type was read; DEFER unless minimal and ≤ 2^53 - 1. */
  arg(info: number): number {
    const b = this.b
    if (info < 24) return info
    if (info === 24) {
      if (this.pos + 1 > b.length) return -1
      const n = b[this.pos++]
      return n < 24 ? -1 : n
    }
    if (info === 25) {
      if (this.pos + 2 > b.length) return -1
      const n = (b[this.pos] << 8) | b[this.pos + 1]
      this.pos += 2
      return n < 0x100 ? -1 : n
    }
    if (info === 26) {
      if (this.pos + 4 > b.length) return -1
      const n = ((b[this.pos] << 24) | (b[this.pos + 1] << 16) | (b[this.pos + 2] << 8) | b[this.pos + 3]) >>> 0
      this.pos += 4
      return n < 0x10000 ? -1 : n
    }
    if (info === 27) {
      if (this.pos + 8 > b.length) return -1
      const hi = ((b[this.pos] << 24) | (b[this.pos + 1] << 16) | (b[this.pos + 2] << 8) | b[this.pos + 3]) >>> 0
      const lo = ((b[this.pos + 4] << 24) | (b[this.pos + 5] << 16) | (b[this.pos + 6] << 8) | b[this.pos + 7]) >>> 0
      this.pos += 8
      // Past 2^53 - 1 the encoder writes a float: leave those to the generic path.
      if (hi === 0 || hi >= 0x200000) return -1
      return hi * 0x100000000 + lo
    }
    return -1 // indefinite or reserved
  }

  value(depth: number): Out {
    const b = this.b
    if (this.pos >= b.length || depth > MAX_DEPTH) return DEFER
    const first = b[this.pos++]
    const major = first >> 5
    const info = first & 0x1f
    switch (major) {
      case 0: {
        const n = this.arg(info)
        return n < 0 ? DEFER : n
      }
      case 1: {
        const n = this.arg(info)
        return n < 0 ? DEFER : -1 - n
      }
      case 2: {
        const n = this.arg(info)
        if (n < 0 || this.pos + n > b.length) return DEFER
        // A plain Uint8Array copy even when the input is a Buffer, as the generic decoder returns.
        const out = new Uint8Array(b.subarray(this.pos, this.pos + n))
        this.pos += n
        return out
      }
      case 3: {
        const s = this.string(info)
        return s === undefined ? DEFER : s
      }
      case 4: {
        const n = this.arg(info)
        if (n < 0 || n > b.length - this.pos) return DEFER
        const out: unknown[] = new Array(n)
        for (let i = 0; i < n; i++) {
          const v = this.value(depth + 1)
          if (v === DEFER) return DEFER
          out[i] = v
        }
        return out
      }
      case 5: {
        const n = this.arg(info)
        if (n < 0 || n > b.length - this.pos) return DEFER
        const out: Record<string, unknown> = {}
        let prevStart = -1
        let prevLen = 0
        for (let i = 0; i < n; i++) {
          if (this.pos >= b.length || b[this.pos] >> 5 !== 3) return DEFER
          const keyStart = this.pos
          const key = this.string(b[this.pos++] & 0x1f, true)
          if (key === undefined || key === '__proto__') return DEFER
          const keyLen = this.pos - keyStart
          // Canonical order: by encoded length, then bytewise; strictly increasing (no duplicates).
          if (prevStart >= 0 && !keyAfter(b, prevStart, prevLen, keyStart, keyLen)) return DEFER
          prevStart = keyStart
          prevLen = keyLen
          // The usual values, a small integer or a short ASCII string, without the recursive call.
          const h = b[this.pos]
          let v: Out
          if (h < 24) {
            v = h
            this.pos++
          } else if (h >= 0x60 && h < 0x78 && this.pos + 1 + (h - 0x60) <= b.length) {
            const s = asciiString(b, this.pos + 1, h - 0x60)
            if (s !== undefined) {
              v = s
              this.pos += 1 + (h - 0x60)
            } else v = this.value(depth + 1)
          } else v = this.value(depth + 1)
          if (v === DEFER) return DEFER
          out[key] = v
        }
        return out
      }
      case 6: {
        // Only tag 42 (a CID), as 0xd8 0x2a, holding bytes that start with 0x00.
        if (info !== 24 || this.pos >= b.length || b[this.pos++] !== 42) return DEFER
        if (this.pos >= b.length || b[this.pos] >> 5 !== 2) return DEFER
        const n = this.arg(b[this.pos++] & 0x1f)
        if (n < 2 || this.pos + n > b.length || b[this.pos] !== 0) return DEFER
        const raw = b.subarray(this.pos + 1, this.pos + n)
        this.pos += n
        try {
          const cid = CID.decode(new Uint8Array(raw))
          return equal(cid.bytes, raw) ? cid : DEFER
        } catch {
          return DEFER
        }
      }
      default: {
        if (first === 0xf4) return false
        if (first === 0xf5) return true
        if (first === 0xf6) return null
        if (first !== 0xfb || this.pos + 8 > b.length) return DEFER
        const f = new DataView(b.buffer, b.byteOffset + this.pos, 8).getFloat64(0)
        this.pos += 8
        // The encoder writes integral numbers as integers (or as floats past 2^53): defer those.
        return Number.isFinite(f) && !Number.isInteger(f) ? f : DEFER
      }
    }
  }

  /** A text string whose head was read; `key`: a map key (see `asciiKey`). */
  string(info: number, key = false): string | undefined {
    const b = this.b
    const n = this.arg(info)
    if (n < 0 || this.pos + n > b.length) return undefined
    const start = this.pos
    this.pos += n
    if (n <= 64) {
      const s = key ? asciiKey(b, start, n) : asciiString(b, start, n)
      if (s !== undefined) return s
    }
    try {
      return text.decode(b.subarray(start, start + n))
    } catch {
      return undefined
    }
  }
}

function keyAfter(b: Uint8Array, aStart: number, aLen: number, bStart: number, bLen: number): boolean {
  if (aLen !== bLen) return bLen > aLen
  for (let i = 0; i < aLen; i++) {
    const d = b[bStart + i] - b[aStart + i]
    if (d !== 0) return d > 0
  }
  return false
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

// One reader for every call: decoding is synchronous and never re-entrant, and a reader per body
// was an allocation per event on the fold path.
const reader = new FastReader()

/** What `decodeBodyFast` returns when the generic decoder must decide. */
export const NOT_FAST: unknown = DEFER

/**
 * Decode one canonical DAG-CBOR value starting at `start`: the value, or `NOT_FAST` when the
 * generic decoder must decide. `fastEnd()` then gives the offset just past the value.
 */
export function decodeBodyFast(bytes: Uint8Array, start: number): unknown {
  reader.b = bytes
  reader.pos = start
  const value = reader.value(0)
  reader.b = EMPTY // keep no event's bytes alive
  return value
}

/** The offset just past the value the last `decodeBodyFast` returned. */
export function fastEnd(): number {
  return reader.pos
}

/**
 * Decode one canonical DAG-CBOR value starting at `start`. Returns the value and the offset just
 * past it, or undefined when the generic decoder must decide.
 */
export function decodeCanonicalFast(bytes: Uint8Array, start: number): { value: unknown; end: number } | undefined {
  const value = decodeBodyFast(bytes, start)
  return value === DEFER ? undefined : { value, end: reader.pos }
}
