import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run } from '../../src/cli/run.js'
import { bufferOutput } from '../../src/cli/io.js'

describe('cli - demo', () => {
  it('two peers converge on one SQLite-backed log and both stores verify clean; a rerun replaces the files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-demo-'))
    try {
      for (let i = 0; i < 2; i++) {
        const io = bufferOutput()
        const code = await run(['demo', '--dir', dir], io)
        expect(io.stderr).toEqual([])
        expect(code).toBe(0)
        const text = io.stdout.join('\n')
        expect(text).toContain('same order on both peers: yes; same heads: yes')
        expect(text.match(/logs 1, events 7, errors 0, warnings 0, forks 0: ok/g)).toHaveLength(2)
        expect(existsSync(join(dir, 'alice.db'))).toBe(true)
      }
      const bad = bufferOutput()
      expect(await run(['demo', '--dri', dir], bad)).toBe(2)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
