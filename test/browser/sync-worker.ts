/**
 * A peer in a dedicated Web Worker (for broadcast-channel.test.ts): an IndexedDB store, a
 * BroadcastChannel listener named `worker`. It appends when told and reports its count.
 */
import { createXSync, type XSyncClient } from '../../src/index.js'
import { indexedDbStore } from '../../src/stores/indexeddb-store.js'
import { broadcastChannelTransport } from '../../src/transports/broadcast-channel.js'

let client: XSyncClient | undefined
const report = async (): Promise<void> => {
  if (client) postMessage({ count: await client.log('shared').count() })
}

onmessage = async (ev: MessageEvent) => {
  const m = ev.data as { channel?: string; db?: string; append?: number }
  if (m.channel && m.db) {
    client = await createXSync({ store: indexedDbStore(m.db), transports: [broadcastChannelTransport(m.channel, { id: 'worker' })] })
    await client.listen()
    client.log('shared').subscribe(() => void report())
    postMessage({ ready: true })
  }
  if (m.append && client) {
    const log = client.log('shared')
    for (let i = 0; i < m.append; i++) await log.append('app.note', { i, from: 'worker' })
    await report()
  }
}
