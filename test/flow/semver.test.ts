/**
 * The registry's own semver: versions, precedence and npm-style ranges. The expectations are
 * node-semver 7's (`semver.satisfies(v, r)`), including its prerelease rule.
 */
import { describe, expect, it } from 'vitest'
import { compareVersions, parseRange, parseVersion, satisfies } from '../../src/flow/semver.js'

const sat = (v: string, r: string) => satisfies(parseVersion(v), parseRange(r))
const code = (fn: () => unknown) => {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return 'no error'
}

describe('semver - versions', () => {
  it('parses x.y.z[-prerelease] and refuses everything else with INVALID_ARGUMENT', () => {
    expect(parseVersion('1.2.3')).toEqual({ major: 1, minor: 2, patch: 3, prerelease: [] })
    expect(parseVersion('0.0.0-rc.1.x-y')).toEqual({ major: 0, minor: 0, patch: 0, prerelease: ['rc', '1', 'x-y'] })
    for (const bad of ['1', '1.2', '01.2.3', '1.02.3', '1.2.3-', '1.2.3-01', '1.2.3+build', 'v1.2.3', ' 1.2.3', '1.2.3.4', '1.2.x', '', '99999999999999999.0.0']) {
      expect(code(() => parseVersion(bad)), bad).toBe('INVALID_ARGUMENT')
    }
    expect(code(() => parseVersion(1 as never))).toBe('INVALID_ARGUMENT')
  })

  it('orders by SemVer 2.0.0 precedence (§11)', () => {
    const sorted = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.1.0', '2.0.0', '10.0.0']
    const shuffled = [...sorted].reverse()
    expect(shuffled.sort((a, b) => compareVersions(parseVersion(a), parseVersion(b)))).toEqual(sorted)
    expect(compareVersions(parseVersion('1.0.0-2'), parseVersion('1.0.0-10'))).toBeLessThan(0)
    expect(compareVersions(parseVersion('1.0.0-a'), parseVersion('1.0.0-a'))).toBe(0)
  })
})

describe('semver - ranges', () => {
  // [range, satisfied, not satisfied]
  const table: [string, string[], string[]][] = [
    ['1.2.3', ['1.2.3'], ['1.2.4', '1.2.3-beta']],
    ['=1.2.3', ['1.2.3'], ['1.2.2']],
    ['^1.2.3', ['1.2.3', '1.9.0', '1.99.99'], ['1.2.2', '2.0.0', '2.0.0-0', '1.3.0-beta']],
    ['^1', ['1.0.0', '1.5.7'], ['0.9.9', '2.0.0', '1.0.0-rc.1']],
    ['^0.2.3', ['0.2.3', '0.2.9'], ['0.3.0', '0.2.2']],
    ['^0.0.3', ['0.0.3'], ['0.0.4', '0.0.2']],
    ['^0.0', ['0.0.0', '0.0.9'], ['0.1.0']],
    ['^0.x', ['0.0.1', '0.9.0'], ['1.0.0']],
    ['^1.2.3-beta.2', ['1.2.3-beta.2', '1.2.3-beta.10', '1.2.3', '1.8.0'], ['1.2.3-beta.1', '1.2.4-beta.3', '2.0.0']],
    ['~1.2.3', ['1.2.3', '1.2.9'], ['1.3.0', '1.2.2']],
    ['~1.2', ['1.2.0', '1.2.9'], ['1.3.0']],
    ['~1', ['1.0.0', '1.9.9'], ['2.0.0']],
    ['~0.2.0-rc.1', ['0.2.0-rc.2', '0.2.0', '0.2.5'], ['0.3.0', '0.2.1-rc.1']],
    ['>=1.2.3', ['1.2.3', '5.0.0'], ['1.2.2', '5.0.0-beta']],
    ['>1.2.3', ['1.2.4'], ['1.2.3']],
    ['>1.2', ['1.3.0'], ['1.2.9']],
    ['>1', ['2.0.0'], ['1.9.9']],
    ['<1.2.3', ['1.2.2', '0.0.1'], ['1.2.3', '1.2.3-beta']],
    ['<1.2', ['1.1.9'], ['1.2.0', '1.2.0-rc.1']],
    ['<=1.2', ['1.2.9'], ['1.3.0']],
    ['<=1.2.3', ['1.2.3'], ['1.2.4']],
    ['>= 1.0.0 < 2.0.0', ['1.0.0', '1.9.9'], ['2.0.0', '0.9.0']],
    ['1.x', ['1.0.0', '1.99.0'], ['2.0.0', '0.1.0']],
    ['1.2.x', ['1.2.0', '1.2.99'], ['1.3.0']],
    ['1.2.*', ['1.2.5'], ['1.3.0']],
    ['1', ['1.4.0'], ['2.0.0']],
    ['1.X', ['1.4.0'], ['2.0.0']],
    ['*', ['0.0.0', '9.9.9'], ['1.0.0-beta']],
    ['', ['1.0.0'], ['1.0.0-beta']],
    ['x', ['3.0.0'], []],
    ['<*', [], ['0.0.0', '1.0.0']],
    ['^1.0.0 || ^3.0.0', ['1.2.0', '3.1.0'], ['2.0.0', '4.0.0']],
    ['1.0.0-beta.1 || >=2.0.0', ['1.0.0-beta.1', '2.0.0'], ['1.0.0-beta.2', '1.5.0']],
    ['>=1.0.0-alpha <1.0.0', ['1.0.0-alpha', '1.0.0-beta'], ['1.0.0', '0.9.0', '1.0.1-alpha']],
  ]
  for (const [range, yes, no] of table) {
    it(`semver - range ${JSON.stringify(range)}`, () => {
      for (const v of yes) expect(sat(v, range), `${v} satisfies ${range}`).toBe(true)
      for (const v of no) expect(sat(v, range), `${v} does not satisfy ${range}`).toBe(false)
    })
  }

  it('prereleases match only ranges that name a prerelease of the same x.y.z (npm)', () => {
    expect(sat('1.3.0-beta', '^1.2.3')).toBe(false)
    expect(sat('1.3.0-beta', '>=1.3.0-alpha')).toBe(true)
    expect(sat('1.3.1-beta', '>=1.3.0-alpha')).toBe(false)
    expect(sat('1.3.0-beta', '>=1.3.0-alpha || ^1')).toBe(true)
  })

  it('refuses malformed ranges with INVALID_ARGUMENT', () => {
    for (const bad of ['1.x.3', 'x.1', '^', '>=', '1.2.3 - 2.0.0', 'latest', '1.2.3 ||', '|| 1', '^1.2-beta', 'v1', '~>1.2', '1.2.3+b', '>=01.0.0', 'x'.repeat(2000)]) {
      expect(code(() => parseRange(bad)), bad).toBe('INVALID_ARGUMENT')
    }
    expect(code(() => parseRange(null as never))).toBe('INVALID_ARGUMENT')
  })
})
