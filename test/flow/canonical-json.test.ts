/**
 * RFC 8785 (JCS) against every vector of cyberphone/json-canonicalization's testdata (copied to
 * test/fixtures/rfc8785, see SOURCE.md there) and the ES6 number lines, plus the non-JSON values
 * we refuse and a property test.
 */
import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import fc from 'fast-check'
import { canonicalJson, canonicalJsonBytes } from '../../src/flow/canonical-json.js'
import { toHex } from '../../src/dag/bytes.js'

const fixtures = new URL('../fixtures/rfc8785/', import.meta.url)
const read = (path: string) => new Uint8Array(readFileSync(new URL(path, fixtures)))
const names = readdirSync(new URL('input/', fixtures)).map((f) => f.replace(/\.json$/, '')).sort()

function refused(value: unknown): Error {
  try {
    canonicalJson(value)
  } catch (err) {
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', name: 'InvalidArgumentError' })
    return err as Error
  }
  throw new Error('expected INVALID_ARGUMENT')
}

describe('canonical-json - RFC 8785 vectors', () => {
  it('has every upstream vector (input, output and outhex for each)', () => {
    expect(names).toEqual(['arrays', 'french', 'structures', 'unicode', 'values', 'weird'])
    for (const dir of ['output', 'outhex']) expect(readdirSync(new URL(`${dir}/`, fixtures)).length).toBe(names.length)
  })

  for (const name of names) {
    it(`canonical-json - ${name}: the output bytes exactly, and the outhex`, () => {
      const input = JSON.parse(new TextDecoder().decode(read(`input/${name}.json`)))
      const expected = read(`output/${name}.json`)
      const hex = new TextDecoder().decode(read(`outhex/${name}.txt`)).trim().split(/\s+/).join('')
      expect(toHex(expected)).toBe(hex.toLowerCase())
      expect(toHex(canonicalJsonBytes(input))).toBe(toHex(expected))
      expect(canonicalJson(input)).toBe(new TextDecoder().decode(expected))
      // Canonical output is a fixed point.
      expect(canonicalJson(JSON.parse(canonicalJson(input)))).toBe(canonicalJson(input))
    })
  }
})

describe('canonical-json - ES6 number serialization', () => {
  const view = new DataView(new ArrayBuffer(8))
  const double = (hex: string) => {
    view.setBigUint64(0, BigInt(`0x${hex}`))
    return view.getFloat64(0)
  }
  for (const file of ['es6testfile-first1000.txt', 'readme-samples.txt']) {
    it(`canonical-json - every line of numbers/${file}`, () => {
      const lines = new TextDecoder().decode(read(`numbers/${file}`)).split('\n').filter(Boolean)
      expect(lines.length).toBe(file.startsWith('es6') ? 1000 : 7)
      const wrong: string[] = []
      for (const line of lines) {
        const [hex, expected] = line.split(',')
        const n = double(hex)
        if (canonicalJson(n) !== expected || canonicalJson([n]) !== `[${expected}]`) wrong.push(`${line} -> ${canonicalJson(n)}`)
        if (Object.is(n, -0) ? expected !== '0' : JSON.parse(expected) !== n) wrong.push(`${line} does not parse back`)
      }
      expect(wrong).toEqual([])
    })
  }
})

describe('canonical-json - values', () => {
  it('sorts keys by UTF-16 code units at every level, keeps array order, writes -0 as 0', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: -0 }, '\u{1F602}': 1, '\uFB33': 2 })).toBe('{"a":{"c":0,"d":[3,1]},"b":1,"\u{1F602}":1,"\uFB33":2}')
    expect(canonicalJson(Object.assign(Object.create(null), { z: null, y: true }))).toBe('{"y":true,"z":null}')
    expect(canonicalJson('\u2028\u007f\u0000\u001f\b')).toBe('"\u2028\u007f\\u0000\\u001f\\b"')
  })

  it('refuses non-JSON values with INVALID_ARGUMENT naming the JSON path', () => {
    class Point {
      x = 1
    }
    const cyclic: Record<string, unknown> = {}
    cyclic.self = { again: cyclic }
    const cases: [unknown, string][] = [
      [undefined, '$: undefined'],
      [{ a: [1, undefined] }, '$.a[1]: undefined'],
      [{ a: { b: undefined } }, '$.a.b: undefined'],
      [[1, , 3], '$[1]: undefined'], // a hole
      [{ f: () => 1 }, '$.f: function'],
      [{ s: Symbol('x') }, '$.s: symbol'],
      [{ n: 1n }, '$.n: bigint'],
      [{ 'odd key': NaN }, '$["odd key"]: NaN'],
      [[Infinity], '$[0]: Infinity'],
      [{ x: -Infinity }, '$.x: -Infinity'],
      [{ when: new Date(0) }, '$.when: an instance of Date'],
      [{ bytes: new Uint8Array(2) }, '$.bytes: an instance of Uint8Array'],
      [new Map(), '$: an instance of Map'],
      [{ p: new Point() }, '$.p: an instance of Point'],
      [{ s: new String('boxed') }, '$.s: an instance of String'],
      [cyclic, '$.self.again: a cycle'],
      [{ s: 'a\uD800b' }, '$.s: a string with a lone surrogate'],
      [{ ['\uDC00']: 1 }, 'lone surrogate'],
    ]
    for (const [value, message] of cases) expect(refused(value).message).toContain(message)
  })

  it('property: canonical text is a fixed point and does not depend on key insertion order', () => {
    const shuffle = (x: unknown): unknown => {
      if (Array.isArray(x)) return x.map(shuffle)
      if (typeof x === 'object' && x !== null) return Object.fromEntries(Object.entries(x).reverse().map(([k, v]) => [k, shuffle(v)]))
      return x
    }
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'grapheme' }), (value) => {
        const text = canonicalJson(value)
        expect(canonicalJson(JSON.parse(text))).toBe(text)
        expect(canonicalJson(shuffle(value))).toBe(text)
        // Same data as JSON.stringify (modulo order and -0).
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)))
      }),
      { numRuns: 300 },
    )
  })
})
