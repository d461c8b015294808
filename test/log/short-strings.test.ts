/**
 * The interned short strings behind decoding: whatever the cache holds, the string returned is
 * the one the bytes spell, including when two strings share a slot, and only ASCII is interned.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { asciiKey, asciiName, asciiString } from '../../src/log/short-strings.js'
import { testSeed } from '../conformance/index.js'

const bytesOf = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0))

describe('short strings', () => {
  it('spell the bytes they were read from, as values, keys and names, through hits, misses and shared slots', () => {
    const ascii = fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 40 })
    fc.assert(
      fc.property(fc.array(ascii, { minLength: 1, maxLength: 400 }), fc.integer({ min: 0, max: 7 }), (strings, pad) => {
        // Read twice each, at an offset inside a larger array: a miss, then (unless evicted) a hit.
        for (let round = 0; round < 2; round++) {
          for (const s of strings) {
            const b = new Uint8Array(pad + s.length + 3).fill(0x41)
            b.set(bytesOf(s), pad)
            expect(asciiString(b, pad, s.length)).toBe(s)
            expect(asciiKey(b, pad, s.length)).toBe(s)
            expect(asciiName(b, pad, s.length)).toBe(s)
          }
        }
      }),
      { seed: testSeed(), numRuns: 60 },
    )
  })

  it('refuses bytes that are not ASCII, whatever the cache holds for their slot', () => {
    const b = bytesOf('key')
    expect(asciiString(b, 0, 3)).toBe('key')
    const high = Uint8Array.from([0x6b, 0xe9, 0x79])
    expect(asciiString(high, 0, 3)).toBeUndefined()
    expect(asciiKey(high, 0, 3)).toBeUndefined()
  })

  it('a key is usable as a property name like any equal string', () => {
    const k = asciiKey(bytesOf('__proto__'), 0, 9)!
    expect(k).toBe('__proto__')
    const o: Record<string, number> = {}
    Object.defineProperty(o, k, { value: 1, enumerable: true })
    expect(Object.keys(o)).toEqual(['__proto__'])
    expect(asciiKey(bytesOf('12'), 0, 2)).toBe('12')
  })
})
