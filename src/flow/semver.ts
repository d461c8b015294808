/**
 * Semantic versions and npm-style ranges, as much as the registry needs (no dependency).
 *
 * Versions are `x.y.z` with an optional `-prerelease` (SemVer 2.0.0 §2, §9: no leading zeros);
 * build metadata (`+…`) is refused, since two versions differing only in it would have equal
 * precedence and so could not both be resolved.
 *
 * Ranges follow node-semver: `1.2.3`, `=1.2.3`, `>`, `>=`, `<`, `<=`, `~1.2.3`, `^1.2.3`,
 * x-ranges (`1`, `1.x`, `1.2.*`, `*`, ``), space-separated comparators (all must hold) and `||`
 * between alternatives. Hyphen ranges (`1.0.0 - 2.0.0`) and `~>` are not supported.
 *
 * Prereleases as in npm: a version with a prerelease tag satisfies an alternative only if some
 * comparator of that alternative names a prerelease of the same `x.y.z` (`>=1.2.3-beta.1` admits
 * `1.2.3-beta.2` but not `1.2.4-beta.1`; `^1` admits no prerelease at all). So a range written
 * for releases never picks up a prerelease by accident.
 */
import { InvalidArgumentError } from '../errors.js'

export interface SemVer {
  major: number
  minor: number
  patch: number
  /** Dot-separated identifiers; empty for a release. */
  prerelease: string[]
}

type Op = '<' | '<=' | '>' | '>=' | '='
interface Comparator {
  op: Op
  v: SemVer
}
/** Alternatives (`||`), each a list of comparators that must all hold. */
export type SemverRange = Comparator[][]

const NUM = '0|[1-9]\\d*'
const PRE_ID = '(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)'
const VERSION = new RegExp(`^(${NUM})\\.(${NUM})\\.(${NUM})(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?$`)
const XR = `(${NUM}|[xX*])`
const PARTIAL = new RegExp(`^(<=|>=|<|>|=|~|\\^)?${XR}(?:\\.${XR}(?:\\.${XR}(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?)?)?$`)

function num(s: string, what: string): number {
  const n = Number(s)
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`${what}: ${s} is too large`)
  return n
}

/** Parse `x.y.z[-pre]`; anything else is `INVALID_ARGUMENT`. */
export function parseVersion(version: string): SemVer {
  const m = typeof version === 'string' && version.length <= 256 ? VERSION.exec(version) : null
  if (!m) throw new InvalidArgumentError(`version ${JSON.stringify(version)} is not semver x.y.z[-prerelease]`)
  return { major: num(m[1], version), minor: num(m[2], version), patch: num(m[3], version), prerelease: m[4] ? m[4].split('.') : [] }
}

const isNum = (s: string) => /^\d+$/.test(s)

function compareIds(a: string, b: string): number {
  const an = isNum(a)
  const bn = isNum(b)
  // Numeric identifiers sort before alphanumeric ones; numbers by value (no leading zeros, so length first).
  if (an !== bn) return an ? -1 : 1
  if (an && a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}

/** SemVer precedence: negative, zero or positive. */
export function compareVersions(a: SemVer, b: SemVer): number {
  const d = a.major - b.major || a.minor - b.minor || a.patch - b.patch
  if (d !== 0) return d
  const pa = a.prerelease
  const pb = b.prerelease
  if (pa.length === 0 || pb.length === 0) return pb.length - pa.length // a release sorts after its prereleases
  for (let i = 0; i < pa.length && i < pb.length; i++) {
    const c = compareIds(pa[i], pb[i])
    if (c !== 0) return c
  }
  return pa.length - pb.length
}

const v = (major: number, minor: number, patch: number, prerelease: string[] = []): SemVer => ({ major, minor, patch, prerelease })
/** The lowest version of x.y.z: `x.y.z-0`, so `<2.0.0-0` also shuts out 2.0.0's prereleases. */
const floor = (major: number, minor: number, patch: number) => v(major, minor, patch, ['0'])
const NONE: Comparator[] = [{ op: '<', v: floor(0, 0, 0) }]

const WILD = /^[xX*]$/

/** One comparator token (`^1.2`, `>=1.0.0-rc.1`, `1.x`, …) desugared to plain comparators, as node-semver does. */
function desugar(token: string, range: string): Comparator[] {
  const m = PARTIAL.exec(token)
  const parts = m ? [m[2], m[3], m[4]] : []
  // How many leading numbers: `1.2.x` gives 2.
  let given = parts.findIndex((x) => x === undefined || WILD.test(x))
  if (given < 0) given = 3
  const pre = m?.[5]?.split('.') ?? []
  // A wildcard is followed only by wildcards (`1.x.3` is no range); a prerelease needs x.y.z.
  if (!m || parts.slice(given).some((x) => x !== undefined && !WILD.test(x)) || (pre.length > 0 && given < 3)) {
    throw new InvalidArgumentError(`range ${JSON.stringify(range)}: cannot read ${JSON.stringify(token)}`)
  }
  const [M, mi, p] = parts.map((x, i) => (i < given ? num(x!, range) : 0))
  const op = (m[1] ?? '=') as Op | '~' | '^'
  if (given === 0) return op === '<' || op === '>' ? NONE : []
  const base = v(M, mi, p, pre)
  const ge: Comparator = { op: '>=', v: base }
  // The first version past the partial: 1 -> 2.0.0, 1.2 -> 1.3.0.
  const next = given === 1 ? floor(M + 1, 0, 0) : floor(M, mi + 1, 0)
  if (op === '~') return [ge, { op: '<', v: next }]
  if (op === '^') return [ge, { op: '<', v: M > 0 || given === 1 ? floor(M + 1, 0, 0) : mi > 0 || given === 2 ? floor(0, mi + 1, 0) : floor(0, 0, p + 1) }]
  if (given === 3) return [{ op, v: base }]
  // A partial (x or x.y) stands for the span of versions it names.
  if (op === '>') return [{ op: '>=', v: v(next.major, next.minor, 0) }]
  if (op === '>=') return [ge]
  if (op === '<') return [{ op: '<', v: floor(M, mi, 0) }]
  return op === '<=' ? [{ op: '<', v: next }] : [ge, { op: '<', v: next }]
}

/** Parse an npm-style range; a malformed one is `INVALID_ARGUMENT`. */
export function parseRange(range: string): SemverRange {
  if (typeof range !== 'string' || range.length > 1024) throw new InvalidArgumentError('a range is a string of at most 1024 characters')
  const alts = range.split('||')
  return alts.map((alt) => {
    // node-semver allows a space between an operator and its version: `>= 1.2`.
    const tokens = alt.trim().replace(/(<=|>=|<|>|=|~|\^)\s+/g, '$1').split(/\s+/).filter(Boolean)
    // '' alone means any version; an empty alternative beside others is a typo, not "any".
    if (tokens.length === 0 && alts.length > 1) throw new InvalidArgumentError(`range ${JSON.stringify(range)} has an empty alternative`)
    return tokens.flatMap((t) => desugar(t, range))
  })
}

function holds(c: Comparator, x: SemVer): boolean {
  const d = compareVersions(x, c.v)
  return c.op === '=' ? d === 0 : c.op === '<' ? d < 0 : c.op === '<=' ? d <= 0 : c.op === '>' ? d > 0 : d >= 0
}

/** Whether `version` satisfies `range` (both parsed), with npm's prerelease rule (see the module note). */
export function satisfies(version: SemVer, range: SemverRange): boolean {
  return range.some((alt) => {
    if (!alt.every((c) => holds(c, version))) return false
    if (version.prerelease.length === 0) return true
    return alt.some((c) => c.v.prerelease.length > 0 && c.v.major === version.major && c.v.minor === version.minor && c.v.patch === version.patch)
  })
}
