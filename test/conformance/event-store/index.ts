/**
 * The EventStore conformance suite. `test/stores/<kind>.test.ts` calls `eventStoreSuite` with a
 * fixture; capabilities (durable or not) decide which sub-suites apply, never a silent skip.
 */
import type { EventStore } from '../../../src/stores/event-store.js'
import type { TestSetup } from '../index.js'
import { basicSuite } from './basic.js'
import { orderSuite } from './order.js'
import { reopenSuite } from './reopen.js'
import { lifecycleSuite } from './lifecycle.js'

export interface StoreHandle {
  store: EventStore
  /** Close nothing; open the same location again (durable stores). */
  reopen?: () => Promise<EventStore>
}

export interface EventStoreFixture extends TestSetup<StoreHandle> {
  name: string
  capabilities: {
    /** Reopening the same location keeps everything. */
    durable: boolean
  }
}

export function eventStoreSuite(fixture: EventStoreFixture): void {
  basicSuite(fixture)
  orderSuite(fixture)
  lifecycleSuite(fixture)
  if (fixture.capabilities.durable) reopenSuite(fixture)
}
