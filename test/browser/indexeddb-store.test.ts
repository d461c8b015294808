/**
 * The EventStore conformance suite in real Chromium, on the browser's own IndexedDB (the Node run
 * of the same suite uses fake-indexeddb). Durable: reopening a database by name keeps everything.
 */
import { basicSuite } from '../conformance/event-store/basic.js'
import { orderSuite } from '../conformance/event-store/order.js'
import { lifecycleSuite } from '../conformance/event-store/lifecycle.js'
import { reopenSuite } from '../conformance/event-store/reopen.js'
import type { EventStoreFixture } from '../conformance/event-store/index.js'
import { indexedDbStore } from '../../src/stores/indexeddb-store.js'

let n = 0
const fixture: EventStoreFixture = {
  name: 'indexedDbStore (Chromium)',
  capabilities: { durable: true, crashSafe: false },
  async setup() {
    const name = `stateflow-browser-${Date.now()}-${++n}`
    return { store: indexedDbStore(name), reopen: async () => indexedDbStore(name) }
  },
  async teardown() {},
}

basicSuite(fixture)
orderSuite(fixture)
lifecycleSuite(fixture)
reopenSuite(fixture)
