import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { auditInspect, type LogSummary } from '../../src/cli/audit-inspect.js'
import { bufferOutput, EXIT_OK, EXIT_USAGE } from '../../src/cli/io.js'
import { createXSync } from '../../src/log/client.js'
import { exportIdentity, identityFromSecretKey } from '../../src/log/identity.js'
import { sqliteStore } from '../../src/stores/sqlite-store.js'
import { generateIdentity, sync, tempDir, writeFixture, type Written } from './helpers.js'

describe('audit inspect', () => {
  let tmp: ReturnType<typeof tempDir>
  let path: string
  let written: Written

  beforeEach(async () => {
    tmp = tempDir()
    path = join(tmp.dir, 'store.sqlite3')
    written = await writeFixture(sqliteStore(path))
  })
  afterEach(() => tmp.cleanup())

  it('audit inspect - per log: events, heads, authors with highest seq and count, membership', async () => {
    const io = bufferOutput()
    expect(await auditInspect({ store: path, json: true }, io)).toBe(EXIT_OK)
    const doc = JSON.parse(io.stdout[0]) as { kind: string; logs: LogSummary[] }
    expect(doc.kind).toBe('sqlite')
    const chat = doc.logs.find((l) => l.log === written.chat)!
    const { owner, bob, carol } = written.identities
    expect(chat.authors).toEqual(
      [
        { did: owner.did, seq: 2, events: 2 },
        { did: bob.did, seq: 2, events: 2 },
        { did: carol.did, seq: 3, events: 3 },
      ].sort((a, b) => (a.did < b.did ? -1 : 1)),
    )
    expect(chat.events).toBe(7)
    expect(chat.heads).toHaveLength(1)
    expect(chat.heads[0]).toMatch(/^bafy/)
    expect(chat.forks).toEqual([])
    expect(chat.policy).toBeUndefined()

    const members = doc.logs.find((l) => l.log === written.members)!
    expect(members.events).toBe(5)
    expect(members.policy).toBe('members')
    expect(members.admins).toEqual([owner.did])
    expect(members.writers).toEqual([bob.did])
    expect(members.undecodable).toBe(0)
  })

  it('audit inspect - text output names every log, its heads and authors', async () => {
    const io = bufferOutput()
    expect(await auditInspect({ store: path }, io)).toBe(EXIT_OK)
    expect(io.stdout[0]).toBe(`store ${path} (sqlite), 2 logs`)
    expect(io.stdout).toContain(`log ${written.chat}`)
    expect(io.stdout).toContain(`log ${written.members}`)
    expect(io.stdout).toContain('  events   7')
    expect(io.stdout).toContain('  policy   members')
    expect(io.stdout.some((l) => l.trim() === `${written.identities.carol.did}  seq 3  events 3`)).toBe(true)
    expect(io.stdout.filter((l) => l === '  forks    none')).toHaveLength(2)
  })

  it('audit inspect - --log selects one log; an unknown one is exit 2', async () => {
    const io = bufferOutput()
    expect(await auditInspect({ store: path, log: written.chat, json: true }, io)).toBe(EXIT_OK)
    expect((JSON.parse(io.stdout[0]) as { logs: LogSummary[] }).logs.map((l) => l.log)).toEqual([written.chat])
    const bad = bufferOutput()
    expect(await auditInspect({ store: path, log: 'missing' }, bad)).toBe(EXIT_USAGE)
    expect(bad.stderr[0]).toContain('no log "missing"')
  })

  it('audit inspect - lists a fork with both CIDs', async () => {
    const me = await generateIdentity()
    const one = await createXSync({ identity: me, store: sqliteStore(path) })
    const two = await createXSync({ identity: await identityFromSecretKey(exportIdentity(me).secretKey) })
    const a = await one.log('f').append('t', 1)
    const b = await two.log('f').append('t', 2)
    await sync(two, one, 'f')
    await one.close()
    await two.close()
    const io = bufferOutput()
    await auditInspect({ store: path, log: 'f', json: true }, io)
    const [log] = (JSON.parse(io.stdout[0]) as { logs: LogSummary[] }).logs
    expect(log.forks).toHaveLength(1)
    expect(log.forks[0].author).toBe(me.did)
    expect(log.forks[0].seq).toBe(1)
    expect([...log.forks[0].cids].sort()).toEqual([a.cid.toString(), b.cid.toString()].sort())
    expect(log.authors).toEqual([{ did: me.did, seq: 1, events: 2 }])
    expect(log.heads.sort()).toEqual([a.cid.toString(), b.cid.toString()].sort())
  })
})
