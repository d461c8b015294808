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
import { crashSuite, type CrashFixture } from './crash.js'
import { tornTailSuite, type TornTailFixture } from './torn-tail.js'

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
    /** Survives kill -9 mid-write and detects torn tails: needs `crash` and `tornTail`. */
    crashSafe: boolean
  }
  /** How a child process opens the store, for the kill -9 loop. */
  crash?: CrashFixture
  /** How to tear or corrupt the medium, for the torn-tail suite. */
  tornTail?: TornTailFixture
}

export function eventStoreSuite(fixture: EventStoreFixture): void {
  basicSuite(fixture)
  orderSuite(fixture)
  lifecycleSuite(fixture)
  if (fixture.capabilities.durable) reopenSuite(fixture)
  if (fixture.capabilities.crashSafe) {
    // A declared capability without its fixture is a setup error, never a silent skip.
    if (!fixture.crash || !fixture.tornTail) throw new Error(`${fixture.name}: crashSafe needs crash and tornTail fixtures`)
    crashSuite(fixture.crash)
    tornTailSuite(fixture.tornTail)
  }
}
