/**
 * BroadcastChannel in real Chromium: the transport conformance suite, then two peers with
 * IndexedDB stores syncing a log over it, one of them in a dedicated Web Worker (a tab and its
 * worker, or two tabs, as users embed them).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { broadcastChannelTransport } from '../../src/transports/broadcast-channel.js'
import type { Transport } from '../../src/transports/transport.js'
import { createXSync } from '../../src/index.js'
import { indexedDbStore } from '../../src/stores/indexeddb-store.js'
import { transportSuite } from '../conformance/transport/index.js'
import { broadcastChannelFixture } from '../conformance/transport/broadcast-channel.js'
import { eventually } from '../conformance/index.js'

let channels = 0
const freshChannel = (): string => `bc-browser-${Date.now()}-${++channels}`
const transports: Transport[] = []
const keep = <T extends Transport>(t: T): T => (transports.push(t), t)
async function closeAll(): Promise<void> {
  await Promise.all(transports.splice(0).map((t) => t.close?.()))
}

transportSuite(broadcastChannelFixture('broadcastChannel (Chromium)', { freshChannel, keep, teardown: closeAll }))

describe('broadcastChannel in Chromium - peers', () => {
  afterEach(closeAll)

  it('runs in Chromium itself', () => {
    expect(navigator.userAgent).toMatch(/Chrome\//)
    expect(typeof indexedDB.open).toBe('function')
  })

  it('a page peer and a Web Worker peer, each on its own IndexedDB store, sync a log both ways', async () => {
    const channel = freshChannel()
    const worker = new Worker(new URL('./sync-worker.ts', import.meta.url), { type: 'module' })
    const fromWorker: unknown[] = []
    worker.onmessage = (ev) => fromWorker.push(ev.data)
    try {
      worker.postMessage({ channel, db: `${channel}-worker` })
      await eventually(async () => fromWorker.some((m) => (m as { ready?: boolean }).ready === true), 'the worker peer listens')
      const client = await createXSync({ store: indexedDbStore(`${channel}-page`), transports: [broadcastChannelTransport(channel, { id: 'page' })] })
      try {
        await client.connect(`bc:${channel}/worker`)
        const log = client.log('shared')
        for (let i = 0; i < 20; i++) await log.append('app.note', { i, from: 'page' })
        worker.postMessage({ append: 5 })
        await client.sync('shared')
        await eventually(async () => (await log.count()) === 25, 'the page holds every event')
        await eventually(async () => fromWorker.some((m) => (m as { count?: number }).count === 25), 'the worker holds every event')
        const types = new Set<string>()
        for await (const e of log.events()) types.add((e.body as { from: string }).from)
        expect([...types].sort()).toEqual(['page', 'worker'])
      } finally {
        await client.close()
      }
    } finally {
      worker.terminate()
    }
  })
})
