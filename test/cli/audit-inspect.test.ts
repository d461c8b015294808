import { describe, expect, it } from 'vitest'
import { auditInspect, type LogSummary } from '../../src/cli/audit-inspect.js'
import { bufferOutput, EXIT_OK, EXIT_USAGE } from '../../src/cli/io.js'
import { createXSync } from '../../src/log/client.js'
import { exportIdentity, identityFromSecretKey } from '../../src/log/identity.js'
import { sqliteStore } from '../../src/stores/sqlite-store.js'
import { generateIdentity, sync, sqliteFixture } from './helpers.js'

describe('audit inspect', () => {
  const fx = sqliteFixture('each', 'store.sqlite3')

  it('audit inspect - per log: events, heads, authors with highest seq and count, membership', async () => {
    const io = bufferOutput()
    expect(await auditInspect({ store: fx.path, json: true }, io)).toBe(EXIT_OK)
    const doc = JSON.parse(io.stdout[0]) as { kind: string; logs: LogSummary[] }
    expect(doc.kind).toBe('sqlite')
    const chat = doc.logs.find((l) => l.log === fx.written.chat)!
    const { owner, bob, carol } = fx.written.identities
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

    const members = doc.logs.find((l) => l.log === fx.written.members)!
    expect(members.events).toBe(5)
    expect(members.policy).toBe('members')
    expect(members.admins).toEqual([owner.did])
    expect(members.writers).toEqual([bob.did])
    expect(members.undecodable).toBe(0)
  })

  it('audit inspect - text output names every log, its heads and authors', async () => {
    const io = bufferOutput()
    expect(await auditInspect({ store: fx.path }, io)).toBe(EXIT_OK)
    expect(io.stdout[0]).toBe(`store ${fx.path} (sqlite), 2 logs`)
    expect(io.stdout).toContain(`log ${fx.written.chat}`)
    expect(io.stdout).toContain(`log ${fx.written.members}`)
    expect(io.stdout).toContain('  events   7')
    expect(io.stdout).toContain('  policy   members')
    expect(io.stdout.some((l) => l.trim() === `${fx.written.identities.carol.did}  seq 3  events 3`)).toBe(true)
    expect(io.stdout.filter((l) => l === '  forks    none')).toHaveLength(2)
  })

  it('audit inspect - --log selects one log; an unknown one is exit 2', async () => {
    const io = bufferOutput()
    expect(await auditInspect({ store: fx.path, log: fx.written.chat, json: true }, io)).toBe(EXIT_OK)
    expect((JSON.parse(io.stdout[0]) as { logs: LogSummary[] }).logs.map((l) => l.log)).toEqual([fx.written.chat])
    const bad = bufferOutput()
    expect(await auditInspect({ store: fx.path, log: 'missing' }, bad)).toBe(EXIT_USAGE)
    expect(bad.stderr[0]).toContain('no log "missing"')
  })

  it('audit inspect - lists a fork with both CIDs', async () => {
    const me = await generateIdentity()
    const one = await createXSync({ identity: me, store: sqliteStore(fx.path) })
    const two = await createXSync({ identity: await identityFromSecretKey(exportIdentity(me).secretKey) })
    const a = await one.log('f').append('t', 1)
    const b = await two.log('f').append('t', 2)
    await sync(two, one, 'f')
    await one.close()
    await two.close()
    const io = bufferOutput()
    await auditInspect({ store: fx.path, log: 'f', json: true }, io)
    const [log] = (JSON.parse(io.stdout[0]) as { logs: LogSummary[] }).logs
    expect(log.forks).toHaveLength(1)
    expect(log.forks[0].author).toBe(me.did)
    expect(log.forks[0].seq).toBe(1)
    expect([...log.forks[0].cids].sort()).toEqual([a.cid.toString(), b.cid.toString()].sort())
    expect(log.authors).toEqual([{ did: me.did, seq: 1, events: 2 }])
    expect(log.heads.sort()).toEqual([a.cid.toString(), b.cid.toString()].sort())
  })
})
