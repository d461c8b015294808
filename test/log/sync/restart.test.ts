import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createXSync } from '../../../src/log/client.js'
import { sqliteStore } from '../../../src/stores/sqlite-store.js'
import { memoryNetwork } from '../../../src/transports/memory-network.js'
import { decodeMessage } from '../../../src/log/sync/messages.js'
import { exportIdentity, generateIdentity, identityFromSecretKey } from '../../../src/log/identity.js'
import { toHex } from '../../../src/dag/bytes.js'

const dir = mkdtempSync(join(tmpdir(), 'stateflow-restart-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('a peer restarted on its SQLite store', () => {
  it('resumes where it left off: only what it lacks crosses the wire, both ways', async () => {
    const net = memoryNetwork({ seed: 11, trace: true })
    const a = await createXSync({ transports: [net.transport('a')] })
    await a.listen()
    for (let i = 0; i < 20; i++) await a.log('l').appendBatch(Array.from({ length: 250 }, (_, k) => ({ type: 't', body: { n: i * 250 + k } })))

    const secret = exportIdentity(await generateIdentity()).secretKey
    const path = join(dir, 'b.sqlite')
    const b1 = await createXSync({ identity: await identityFromSecretKey(secret), store: sqliteStore(path), transports: [net.transport('b')] })
    b1.log('l')
    await b1.connect('memory:a')
    await b1.sync('l')
    expect(await b1.log('l').count()).toBe(5000)
    await b1.close()
    await net.idle()

    // While b is down: a writes 100 more, and b (offline, on its store) writes 3.
    await a.log('l').appendBatch(Array.from({ length: 100 }, (_, k) => ({ type: 't', body: { late: k } })))
    const offline = await createXSync({ identity: await identityFromSecretKey(secret), store: sqliteStore(path) })
    await offline.log('l').appendBatch([1, 2, 3].map((x) => ({ type: 't', body: { fromB: x } })))
    await offline.close()

    net.resetStats()
    const b2 = await createXSync({ identity: await identityFromSecretKey(secret), store: sqliteStore(path), transports: [net.transport('b')] })
    expect(await b2.log('l').count()).toBe(5003)
    await b2.connect('memory:a')
    await b2.sync('l')
    await a.sync('l')
    await net.idle()
    const carried = net.trace().map((f) => decodeMessage(f.bytes)!).flatMap((m) => (m.t === 'events' ? m.events : []))
    expect(carried.length).toBe(103)
    expect(await b2.log('l').count()).toBe(5103)
    expect(await a.log('l').count()).toBe(5103)
    expect((await a.log('l').heads()).map((h) => toHex(h.bytes))).toEqual((await b2.log('l').heads()).map((h) => toHex(h.bytes)))
    await b2.close()
    await a.close()
  })
})
