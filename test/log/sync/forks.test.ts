/**
 * An equivocating author (one key, two devices, two events at the same seq) must not stop peers
 * from converging: every peer ends up with both branches and the same fork evidence. Forks are
 * the one case where a version vector cannot place a chain by seq alone (DESIGN §6).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createXSync, type XSyncClient } from '../../../src/log/client.js'
import { memoryNetwork } from '../../../src/transports/memory-network.js'
import { exportIdentity, generateIdentity, identityFromSecretKey } from '../../../src/log/identity.js'
import { toHex } from '../../../src/dag/bytes.js'

const clients: XSyncClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

async function state(c: XSyncClient): Promise<string> {
  const order: string[] = []
  for await (const e of c.log('l').events()) order.push(e.cid.toString())
  const heads = (await c.log('l').heads()).map((h) => toHex(h.bytes))
  return `${heads.join(',')}|${order.join(',')}`
}

describe('sync with a forked author', () => {
  for (const first of ['twin-a', 'twin-b'] as const) {
    it(`two devices with one key fork; peers converge on both branches (${first} connects first)`, async () => {
      const net = memoryNetwork({ seed: first === 'twin-a' ? 1 : 2 })
      const secret = exportIdentity(await generateIdentity()).secretKey
      const make = async (name: string, shared: boolean): Promise<XSyncClient> => {
        const c = await createXSync({
          transports: [net.transport(name)],
          reconnect: false,
          ...(shared ? { identity: await identityFromSecretKey(secret) } : {}),
        })
        clients.push(c)
        await c.listen()
        c.log('l')
        return c
      }
      const hub = await make('hub', false)
      const twinA = await make('twin-a', true)
      const twinB = await make('twin-b', true)
      // A shared history, then each twin writes on its own: seqs 4.. exist twice.
      for (let i = 0; i < 3; i++) await twinA.log('l').append('t', { common: i })
      await twinB.connect('memory:twin-a').catch(() => undefined) // same did: refused as ourselves
      expect(twinB.peers()).toEqual([])
      await twinA.connect('memory:hub')
      await twinA.sync('l')
      await twinB.connect('memory:hub')
      await twinB.sync('l')
      await net.idle()
      expect(await twinB.log('l').count()).toBe(3)
      await twinA.disconnect('memory:hub')
      await twinB.disconnect('memory:hub')
      await net.idle()
      await twinA.log('l').appendBatch([1, 2, 3, 4, 5].map((n) => ({ type: 't', body: { a: n } })))
      await twinB.log('l').appendBatch([1, 2].map((n) => ({ type: 't', body: { b: n } })))

      // The twins share a did, so the hub takes them one at a time (a second connection from
      // one did replaces the first): x, then y, then x again.
      const [x, y] = first === 'twin-a' ? [twinA, twinB] : [twinB, twinA]
      for (const c of [x, y, x]) {
        await c.connect('memory:hub')
        await c.sync('l')
        await net.idle()
        await c.disconnect('memory:hub')
        await net.idle()
      }

      for (const c of [hub, twinA, twinB]) expect(await c.log('l').count()).toBe(10)
      expect(await state(twinA)).toBe(await state(hub))
      expect(await state(twinB)).toBe(await state(hub))
      const forks = await hub.log('l').forks()
      expect(forks.map((f) => f.seq)).toEqual([4, 5])
      expect(await twinA.log('l').forks()).toEqual(forks)
      expect(await twinB.log('l').forks()).toEqual(forks)
    })
  }
})
