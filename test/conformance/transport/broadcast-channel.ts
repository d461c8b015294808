/**
 * The BroadcastChannel transport's conformance fixture, shared by the Node run
 * (test/transports/broadcast-channel.test.ts) and the Chromium run (test/browser/). Each test gets
 * a channel of its own, so no test hears another's traffic.
 */
import { broadcastChannelTransport } from '../../../src/transports/broadcast-channel.js'
import type { Transport } from '../../../src/transports/transport.js'
import type { TransportFixture } from './index.js'

export function broadcastChannelFixture(name: string, init: { freshChannel: () => string; keep: <T extends Transport>(t: T) => T; teardown: () => Promise<void> }): TransportFixture {
  return {
    name,
    capabilities: { closeReason: true },
    async setup() {
      const channel = init.freshChannel()
      const options = { maxFrameBytes: 1 << 20, connectTimeoutMs: 1_000 }
      return {
        listener: init.keep(broadcastChannelTransport(channel, { ...options, id: 'server' })),
        dialer: init.keep(broadcastChannelTransport(channel, { ...options, id: 'client' })),
        otherDialer: init.keep(broadcastChannelTransport(channel, { ...options, id: 'client2' })),
        deadAddress: `bc:${channel}/nobody`,
      }
    },
    teardown: init.teardown,
  }
}
