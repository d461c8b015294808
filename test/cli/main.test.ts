import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { commandWords, parseFlags } from '../../src/cli/args.js'
import { bufferOutput, EXIT_INTEGRITY, EXIT_OK, EXIT_USAGE, OpenStoreError, UsageError } from '../../src/cli/io.js'
import { openStore, storeKindOf } from '../../src/cli/open-store.js'
import { run } from '../../src/cli/run.js'
import { sqliteStore } from '../../src/stores/sqlite-store.js'
import Database from 'better-sqlite3'
import { forge, tempDir, sqliteFixture, spawnCli } from './helpers.js'


const cli = (...args: string[]) => spawnCli(args)

describe('cli args - parseFlags', () => {
  const spec = { store: 'string', json: 'boolean' } as const
  it('args - --flag value, --flag=value, switches and -h', () => {
    expect(parseFlags(['--store', 'a.db', '--json'], spec, 'x')).toEqual({ store: 'a.db', json: true })
    expect(parseFlags(['--store=b.db', '-h'], spec, 'x')).toEqual({ store: 'b.db', help: true })
    expect(commandWords(['audit', 'verify', '--store', 'x'])).toEqual({ words: ['audit', 'verify'], rest: ['--store', 'x'] })
  })
  it('args - unknown flags, missing values, repeats and stray positionals are UsageErrors', () => {
    expect(() => parseFlags(['--nope'], spec, 'x')).toThrow(UsageError)
    expect(() => parseFlags(['--store'], spec, 'x')).toThrow(/needs a value/)
    expect(() => parseFlags(['--store', '--json'], spec, 'x')).toThrow(/needs a value/)
    expect(() => parseFlags(['--store', 'a', '--store', 'b'], spec, 'x')).toThrow(/twice/)
    expect(() => parseFlags(['--json=yes'], spec, 'x')).toThrow(/no value/)
    expect(() => parseFlags(['--store', 'a', 'extra'], spec, 'x')).toThrow(/unexpected argument 'extra'/)
  })
})

describe('cli open-store', () => {
  let tmp: ReturnType<typeof tempDir>
  beforeAll(() => {
    tmp = tempDir()
  })
  afterAll(() => tmp.cleanup())

  it('open-store - a missing path is a typed error and nothing is created', async () => {
    const path = join(tmp.dir, 'absent.db')
    await expect(openStore(path)).rejects.toMatchObject({ name: 'OpenStoreError', reason: 'missing', code: 'NOT_FOUND' })
    const { existsSync } = await import('node:fs')
    expect(existsSync(path)).toBe(false)
  })

  it('open-store - files that are not stores are refused before opening', () => {
    const text = join(tmp.dir, 'notes.txt')
    writeFileSync(text, 'hello')
    expect(() => storeKindOf(text)).toThrow(OpenStoreError)
    const fake = join(tmp.dir, 'fake.db')
    writeFileSync(fake, 'x'.repeat(200))
    expect(() => storeKindOf(fake)).toThrow(/not an SQLite database/)
    const empty = join(tmp.dir, 'empty.sqlite')
    writeFileSync(empty, '')
    expect(() => storeKindOf(empty)).toThrow(/empty file/)
    const foreign = join(tmp.dir, 'foreign.sqlite3')
    const db = new Database(foreign)
    db.exec('CREATE TABLE t (x)')
    db.close()
    expect(() => storeKindOf(foreign)).toThrow(/not a stateflow store/)
    const dir = join(tmp.dir, 'plain-dir')
    mkdirSync(dir)
    expect(() => storeKindOf(dir)).toThrow(/not an fs store/)
  })

  it('open-store - a stateflow SQLite file and an fs store directory are recognized', async () => {
    const db = join(tmp.dir, 'real.db')
    await sqliteStore(db).close()
    expect(storeKindOf(db)).toBe('sqlite')
    const { fsStore } = await import('../../src/stores/fs-store.js')
    const dir = join(tmp.dir, 'fs')
    await fsStore(dir).close()
    expect(storeKindOf(dir)).toBe('fs')
    const opened = await openStore(dir)
    expect(opened.kind).toBe('fs')
    await opened.store.close()
  })
})

describe('cli run - in process', () => {
  it('run - no arguments prints usage to stderr with exit 2; --help prints it with exit 0', async () => {
    const none = bufferOutput()
    expect(await run([], none)).toBe(EXIT_USAGE)
    expect(none.stderr[0]).toMatch(/^Usage: stateflow/)
    for (const argv of [['--help'], ['-h'], ['help'], ['audit', '--help'], ['audit', 'verify', '--help'], ['audit', 'export', '-h'], ['audit', 'inspect', '--help']]) {
      const io = bufferOutput()
      expect(await run(argv, io)).toBe(EXIT_OK)
      expect(io.stdout[0]).toMatch(/^Usage: stateflow/)
    }
  })

  it('run - bad command lines are exit 2 with a message on stderr', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['audit'], /needs a command/],
      [['audit', 'verfy', '--store', 'x.db'], /unknown command 'audit verfy'/],
      [['audit', 'verify'], /needs --store/],
      [['audit', 'verify', '--store', 'x.db', '--bogus'], /unknown flag '--bogus'/],
      [['audit', 'export', '--store', 'x.db'], /needs --log/],
      [['audit', 'inspect', '--store', '/nonexistent/store.db'], /does not exist/],
      [['audit', 'verify', '--store', '/nonexistent/dir'], /does not exist/],
    ]
    for (const [argv, message] of cases) {
      const io = bufferOutput()
      expect(await run(argv, io), argv.join(' ')).toBe(EXIT_USAGE)
      expect(io.stdout).toEqual([])
      expect(io.stderr.join('\n')).toMatch(message)
      expect(io.stderr[0]).toMatch(/^stateflow: /)
    }
  })
})

describe('cli main - spawned', () => {
  const fx = sqliteFixture('all', 'store.db')

  it('main - verify, inspect and export on a clean store exit 0 with their output', async () => {
    const verify = await cli('audit', 'verify', '--store', fx.path)
    expect(verify.stderr).toBe('')
    expect(verify.code).toBe(EXIT_OK)
    expect(verify.stdout).toContain(`logs 2, events ${fx.written.events}, errors 0, warnings 0, forks 0: ok`)

    const inspect = await cli('audit', 'inspect', '--store', fx.path, '--json')
    expect(inspect.code).toBe(EXIT_OK)
    expect((JSON.parse(inspect.stdout) as { logs: unknown[] }).logs).toHaveLength(2)

    const exported = await cli('audit', 'export', '--store', fx.path, '--log', fx.written.chat)
    expect(exported.code).toBe(EXIT_OK)
    const lines = exported.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { cid: string })
    expect(lines).toHaveLength(7)
  })

  it('main - bad inputs exit 2 with a message on stderr', async () => {
    for (const args of [['audit', 'verify'], ['audit', 'verify', '--store', join(fx.dir, 'missing.db')], ['nope'], ['audit', 'export', '--store', fx.path, '--log', 'zzz']]) {
      const r = await cli(...args)
      expect(r.code, args.join(' ')).toBe(EXIT_USAGE)
      expect(r.stderr).toMatch(/^stateflow: /)
      expect(r.stdout).toBe('')
    }
  })

  it('main - a forged event makes verify exit 1 and name it; --json parses', async () => {
    const store = sqliteStore(fx.path)
    const forged = await forge(store, { log: fx.written.chat, author: fx.written.identities.bob, fields: { clock: 1234 } })
    await store.close()
    const text = await cli('audit', 'verify', '--store', fx.path)
    expect(text.code).toBe(EXIT_INTEGRITY)
    expect(text.stdout.split('\n')).toContain(`${fx.written.chat} ${forged.cid} CLOCK clock is 1234, must be ${text.stdout.match(/must be (\d+)/)![1]}`)
    const json = await cli('audit', 'verify', '--store', fx.path, '--json')
    expect(json.code).toBe(EXIT_INTEGRITY)
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, exitCode: 1, summary: { errors: 1 } })
  })
})
