import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))

describe('examples/uppercase.ts (DESIGN §9, as written)', () => {
  it('runs, printing each snapshot until the run completes with HELLO', async () => {
    // Run as a user would, in its own process; `stateflow` resolves to the sources through tsconfig paths.
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/uppercase.ts'], { cwd: root, timeout: 60_000 })
    const statuses = stdout.split('\n').filter((l) => /^(pending|running|completed|failed|cancelled) /.test(l)).map((l) => l.split(' ')[0])
    expect(statuses.at(-1)).toBe('completed')
    expect(statuses.every((s) => s === 'running' || s === 'completed')).toBe(true)
    expect(stdout).toContain("output: 'HELLO'")
    expect(stdout).toContain("status: 'succeeded'")
  })
})
