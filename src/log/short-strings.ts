/**
 * Short ASCII strings decoded from bytes, interned: event types, log ids, body keys and small
 * values repeat from event to event, and building each afresh was a fifth of what decoding an
 * event allocated. A direct-mapped cache keyed by a hash of the bytes. Each slot keeps the
 * string's bytes beside it: a hit is checked byte by byte against those (one typed array, warm
 * in the CPU's cache) rather than through the string's characters, an object of its own
 * somewhere in the heap. A collision only costs a miss.
 */
const SIZE = 1024
const MAX_INTERNED = 32

class Cache {
  readonly strings: string[] = new Array<string>(SIZE).fill('')
  /** Slot i's bytes at `[i * MAX_INTERNED, i * MAX_INTERNED + length)`. */
  readonly bytes = new Uint8Array(SIZE * MAX_INTERNED)
  readonly lengths = new Int32Array(SIZE).fill(-1)
  /** Whether this cache holds property keys (internalized; see `asciiKey`). */
  constructor(readonly keys: boolean) {}
}
const values = new Cache(false)
const keys = new Cache(true)
const names = new Cache(true)

/** The string of `b[start, start + n)` (n ≤ 64) if every byte is ASCII, else undefined. */
export function asciiString(b: Uint8Array, start: number, n: number): string | undefined {
  return lookup(values, b, start, n)
}

/**
 * `asciiString` for strings that become property keys (a body's map keys), from a cache of its
 * own holding the engine's internalized copies. Using a string as a key makes the engine
 * internalize it and turn the string it was into a forward to that copy; an interned string
 * that is a forward costs a hop on every use.
 */
export function asciiKey(b: Uint8Array, start: number, n: number): string | undefined {
  if (n > 8) return lookup(keys, b, start, n)
  // Most keys are eight bytes or fewer: two words hold them whole, so a hit is two compares.
  let hi = 0
  let lo = 0
  for (let i = 0; i < n; i++) {
    const c = b[start + i]
    if (c >= 0x80) return undefined
    if (i < 4) hi = (hi << 8) | c
    else lo = (lo << 8) | c
  }
  const slot = Math.imul(hi ^ Math.imul(lo ^ n, 0x9e3779b1), 0x85ebca6b) >>> (32 - SHORT_BITS)
  if (shortLengths[slot] === n && shortHi[slot] === hi && shortLo[slot] === lo) return shortKeys[slot]
  const fresh = internalized(build(b, start, start + n))
  shortKeys[slot] = fresh
  shortLengths[slot] = n
  shortHi[slot] = hi
  shortLo[slot] = lo
  return fresh
}
const SHORT_BITS = 10
const shortKeys: string[] = new Array<string>(1 << SHORT_BITS).fill('')
const shortLengths = new Int32Array(1 << SHORT_BITS).fill(-1)
const shortHi = new Int32Array(1 << SHORT_BITS)
const shortLo = new Int32Array(1 << SHORT_BITS)

/**
 * `asciiKey` for an event's log id and type, from a cache of their own (a type sharing a slot
 * with a body key would evict it at every event). Internalized, a type compares with the
 * literal types a reducer tests for by pointer.
 */
export function asciiName(b: Uint8Array, start: number, n: number): string | undefined {
  return lookup(names, b, start, n)
}

function lookup(cache: Cache, b: Uint8Array, start: number, n: number): string | undefined {
  const end = start + n
  let h = 0x811c9dc5 ^ n
  for (let i = start; i < end; i++) {
    const c = b[i]
    if (c >= 0x80) return undefined
    h = Math.imul(h ^ c, 0x01000193)
  }
  if (n > MAX_INTERNED) return build(b, start, end)
  const slot = (h ^ (h >>> 15)) & (SIZE - 1)
  const at = slot * MAX_INTERNED
  const bytes = cache.bytes
  if (cache.lengths[slot] === n) {
    let i = 0
    while (i < n && bytes[at + i] === b[start + i]) i++
    if (i === n) return cache.strings[slot]
  }
  const built = build(b, start, end)
  const fresh = cache.keys ? internalized(built) : built
  cache.strings[slot] = fresh
  cache.lengths[slot] = n
  bytes.set(b.subarray(start, end), at)
  return fresh
}

/** The engine's internalized copy of `s`: an object's keys are listed as that copy. */
function internalized(s: string): string {
  return Object.keys({ [s]: 0 })[0] ?? s
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
