import { InvalidArgumentError } from '../errors.js'
import type { EventPut } from './event-store.js'

/**
 * Shape checks every store runs on a whole batch before writing any of it, so a bad element
 * cannot leave half a batch behind.
 */
export function checkBatch(events: readonly EventPut[]): void {
  if (!Array.isArray(events)) throw new InvalidArgumentError('putBatch takes an array of events')
  for (let i = 0; i < events.length; i++) {
    const e = events[i]
    const where = `putBatch[${i}]`
    if (typeof e !== 'object' || e === null) throw new InvalidArgumentError(`${where} is not an object`)
    if (!(e.cid instanceof Uint8Array) || e.cid.length === 0) throw new InvalidArgumentError(`${where}.cid must be bytes`)
    if (!(e.bytes instanceof Uint8Array)) throw new InvalidArgumentError(`${where}.bytes must be bytes`)
    if (e.sig !== undefined && !(e.sig instanceof Uint8Array)) throw new InvalidArgumentError(`${where}.sig must be bytes`)
    if (typeof e.log !== 'string' || e.log.length === 0) throw new InvalidArgumentError(`${where}.log must be a non-empty string`)
    if (!(e.author instanceof Uint8Array)) throw new InvalidArgumentError(`${where}.author must be bytes`)
    if (!Number.isSafeInteger(e.seq) || e.seq < 1) throw new InvalidArgumentError(`${where}.seq must be an integer >= 1`)
    if (!Number.isSafeInteger(e.clock) || e.clock < 1) throw new InvalidArgumentError(`${where}.clock must be an integer >= 1`)
    if (e.prev !== null && !(e.prev instanceof Uint8Array)) throw new InvalidArgumentError(`${where}.prev must be bytes or null`)
    if (!Array.isArray(e.parents) || !(e.parents as unknown[]).every((p) => p instanceof Uint8Array)) {
      throw new InvalidArgumentError(`${where}.parents must be an array of bytes`)
    }
  }
}
