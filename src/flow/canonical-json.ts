/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): one byte string per JSON value, so a hash or a
 * signature over it means the same thing on every peer.
 *
 * - Objects: properties sorted by their names' UTF-16 code units (JavaScript's default string
 *   order), no whitespace. Arrays keep their order.
 * - Numbers: the ECMAScript Number-to-String form (RFC 8785 §3.2.2.3), which is what
 *   `JSON.stringify` writes for a finite number (`-0` becomes `0`).
 * - Strings: `JSON.stringify`'s escaping, which is the RFC's (§3.2.2.2): `\b \t \n \f \r \" \\`,
 *   other controls as lower-case `\u00xx`, everything else raw UTF-8, never normalized. Lone
 *   surrogates are refused, as the RFC requires.
 *
 * Anything that is not JSON (undefined, functions, symbols, bigint, NaN, ±Infinity, cycles, and
 * objects that are not plain: Date, Uint8Array, Map, class instances) is an `INVALID_ARGUMENT`
 * error naming its JSON path. `JSON.stringify` would silently drop, coerce or `toJSON()` them;
 * a signature must not cover a silent guess.
 *
 * @example
 * canonicalJson({ b: [1e30, 4.5], a: 'é' }) // '{"a":"é","b":[1e+30,4.5]}'
 */
import { InvalidArgumentError } from '../errors.js'

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/** The RFC 8785 canonical JSON text of `value`. */
export function canonicalJson(value: unknown): string {
  return write(value, '$', [])
}

/** `canonicalJson(value)` as UTF-8: the bytes to hash or sign. */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value))
}

function fail(path: string, what: string): never {
  throw new InvalidArgumentError(`not JSON at ${path}: ${what}`)
}

function str(s: string, path: string): string {
  if (LONE_SURROGATE.test(s)) fail(path, 'a string with a lone surrogate (RFC 8785 §3.2.2.2)')
  return JSON.stringify(s)
}

function write(v: unknown, path: string, open: object[]): string {
  switch (typeof v) {
    case 'string':
      return str(v, path)
    case 'number':
      if (!Number.isFinite(v)) fail(path, String(v))
      return JSON.stringify(v)
    case 'boolean':
      return v ? 'true' : 'false'
    case 'object': {
      if (v === null) return 'null'
      if (open.includes(v)) fail(path, 'a cycle')
      open.push(v)
      let out: string
      if (Array.isArray(v)) {
        const parts: string[] = []
        for (let i = 0; i < v.length; i++) parts.push(write(v[i], `${path}[${i}]`, open))
        out = `[${parts.join(',')}]`
      } else {
        const proto = Object.getPrototypeOf(v)
        if (proto !== Object.prototype && proto !== null) fail(path, `an instance of ${(v as object).constructor?.name ?? 'a class'}, not a plain object`)
        const parts: string[] = []
        for (const k of Object.keys(v).sort()) {
          const at = IDENT.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`
          parts.push(`${str(k, at)}:${write((v as Record<string, unknown>)[k], at, open)}`)
        }
        out = `{${parts.join(',')}}`
      }
      open.pop()
      return out
    }
    default:
      return fail(path, typeof v)
  }
}
