/**
 * Shared conformance suites. Each suite is a function of a setup, so every implementation of a
 * plug point runs the same checks; differences are declared as fixture capabilities.
 */
export interface TestSetup<T> {
  setup(): Promise<T>
  teardown(): Promise<void>
}

/** A tiny seeded PRNG (mulberry32): every randomized test prints its seed and replays from it. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// The suites also run in Chromium (test/browser), where there is no process.
const env: Record<string, string | undefined> = typeof process !== 'undefined' ? process.env : {}

/** The seed for a randomized test: STATEFLOW_SEED replays one, otherwise a fresh one. */
export function testSeed(): number {
  const fixed = env.STATEFLOW_SEED
  return fixed !== undefined ? Number(fixed) : (Date.now() ^ ((typeof process !== 'undefined' ? process.pid : 1) << 8)) >>> 0
}

/** Long runs under `npm run test:extensive`, short ones in `npm test`. */
export const EXTENSIVE = env.STATEFLOW_EXTENSIVE === '1'

/**
 * Wait until `pred()` holds, polling every few ms; fail with `what` after `ms`. Tests assert on
 * what eventually happens, never on how long it took: the bound only stops a hung test.
 */
export async function eventually(pred: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 3))
  }
}
