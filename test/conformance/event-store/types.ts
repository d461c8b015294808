import type { EventPut } from '../../../src/stores/event-store.js'
/** A record the suite may corrupt on purpose. */
export type EventFixtureStore = EventPut
