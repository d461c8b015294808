/**
 * The fast body decoder may only return a value when the bytes it consumed are exactly what the
 * dag-cbor encoder writes for that value. Seeded; replay with STATEFLOW_SEED=<seed>.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { decodeCanonicalFast } from '../../src/log/body-decoder.js'
import { toHex } from '../../src/dag/bytes.js'
import { EXTENSIVE, testSeed } from '../conformance/index.js'

const seed = testSeed()
const runs = (short: number, long: number) => ({ seed, numRuns: EXTENSIVE ? long : short })
const cid = CID.parse('bafyreic57yzvgmxwl2nsd4526hscxs2hodfcgbqaux5roqpwnolbtiinqe')

const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ unit: 'grapheme' }),
    fc.string(),
    fc.constantFrom('\ufeffbom', '', 'ü', '✓'),
    fc.boolean(),
    fc.constant(null),
    fc.constant(cid),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 5 }), tie('v'), { maxKeys: 5 }),
  ),
})).v

function normalize(v: unknown): unknown {
  if (Object.is(v, -0)) return 0
  if (Array.isArray(v)) return v.map(normalize)
  if (v && typeof v === 'object' && !(v instanceof Uint8Array) && CID.asCID(v) === null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]))
  }
  return v
}

/** The safety property: anything the fast path returns re-encodes to exactly the bytes it read. */
function checkSound(bytes: Uint8Array): void {
  const fast = decodeCanonicalFast(bytes, 0)
  if (fast === undefined) return
  expect(toHex(dagCbor.encode(fast.value))).toBe(toHex(bytes.subarray(0, fast.end)))
}

describe('body-decoder - fast canonical subset', () => {
  it('decodes what the encoder writes, to an equal value, or defers', () => {
    let fastCount = 0
    fc.assert(
      fc.property(value, (v) => {
        const bytes = dagCbor.encode(v)
        const fast = decodeCanonicalFast(bytes, 0)
        if (fast === undefined) return
        fastCount++
        expect(fast.end).toBe(bytes.length)
        expect(toHex(dagCbor.encode(fast.value))).toBe(toHex(bytes))
        // -0 encodes as 0; everything else comes back as it went in.
        expect(fast.value).toEqual(normalize(v))
      }),
      runs(1000, 20000),
    )
    expect(fastCount).toBeGreaterThan(500)
  })

  it('never returns a value for bytes that are not the canonical encoding of it (mutations)', () => {
    fc.assert(
      fc.property(value, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'insert', 'delete', 'truncate'), (v, at, byte, how) => {
        const bytes = dagCbor.encode(v)
        const i = at % (bytes.length + 1)
        let m: Uint8Array
        if (how === 'flip') m = Uint8Array.from(bytes, (x, j) => (j === i ? x ^ (byte || 1) : x))
        else if (how === 'insert') m = new Uint8Array([...bytes.subarray(0, i), byte, ...bytes.subarray(i)])
        else if (how === 'delete') m = new Uint8Array([...bytes.subarray(0, i), ...bytes.subarray(i + 1)])
        else m = bytes.subarray(0, i)
        checkSound(m)
      }),
      runs(3000, 50000),
    )
  })

  it('never returns a value for non-canonical encodings of common values', () => {
    const cases: [string, string][] = [
      ['unsorted keys', 'a2616202616101'], // {b:2, a:1}
      ['bytewise-but-not-length-first keys', 'a2626161016162'.padEnd(14, '0') + '02'],
      ['non-minimal int', '1801'],
      ['float32', 'fa3fc00000'],
      ['float16', 'f93e00'],
      ['integral float64', 'fb3ff0000000000000'],
      ['undefined', 'f7'],
      ['indefinite array', '9f01ff'],
      ['duplicate keys', 'a2616101616102'],
      ['other tag', 'c11a5f5e1000'],
    ]
    for (const [name, hex] of cases) {
      const bytes = Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)))
      expect(decodeCanonicalFast(bytes, 0), name).toBeUndefined()
    }
    // A leading BOM is kept (the encoder wrote it), unlike cborg's decoder.
    const bom = dagCbor.encode('\ufeffhi')
    expect(decodeCanonicalFast(bom, 0)?.value).toBe('\ufeffhi')
  })

  it('random bytes: anything accepted is canonical', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 24 }), (b) => checkSound(b)), runs(5000, 100000))
  })
})
