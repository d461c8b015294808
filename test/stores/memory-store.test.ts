import { memoryStore } from '../../src/stores/memory-store.js'
import { eventStoreSuite } from '../conformance/event-store/index.js'

eventStoreSuite({
  name: 'memoryStore',
  capabilities: { durable: false, crashSafe: false },
  async setup() {
    return { store: memoryStore() }
  },
  async teardown() {},
})
