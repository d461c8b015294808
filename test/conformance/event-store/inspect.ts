/**
 * Helpers for tests that compare everything a store answers before and after something (a
 * read-only open, a reopen): a sample to write, and a deep, byte-safe dump to compare.
 */
import type { EventStore } from '../../../src/stores/event-store.js'
import { syntheticDag } from './synthetic.js'

/** The meta keys `writeSample` touches, plus one it never writes. */
export const SAMPLE_META_KEYS = ['kept', 'dropped', 'never']

/** Two logs in several batches, one meta key kept and one deleted. */
export async function writeSample(store: EventStore, seed: number): Promise<void> {
  const a = syntheticDag({ events: 60, seed })
  const b = syntheticDag({ log: 'other-log', events: 25, seed: seed + 1 })
  for (let i = 0; i < a.length; i += 20) await store.putBatch(a.slice(i, i + 20))
  await store.putBatch(b)
  await store.putMeta('kept', new Uint8Array([1, 2, 3]))
  await store.putMeta('dropped', new Uint8Array([4]))
  await store.deleteMeta('dropped')
}

/** A value with every byte array (Uint8Array or Buffer alike) as hex, for deep comparison. */
export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
  if (Array.isArray(value)) return value.map(plain)
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  return value
}

/** Everything a store answers about its logs and the given meta keys, paging `scan` in small steps. */
export async function dump(store: EventStore, metaKeys: readonly string[] = SAMPLE_META_KEYS): Promise<unknown> {
  const logs: Record<string, unknown> = {}
  for (const log of await store.logs()) {
    const events = []
    for (let page = await store.scan(log, { limit: 7 }); page.length > 0; page = await store.scan(log, { after: page.at(-1)!, limit: 7 })) events.push(...page)
    const first = events[0]
    logs[log] = {
      count: await store.count(log),
      events,
      heads: await store.heads(log),
      tips: await store.tips(log),
      byAuthor: await store.byAuthor(log, first.author, { fromSeq: 2 }),
      get: await store.get(first.cid),
      has: await store.has(first.cid),
    }
  }
  const meta: Record<string, Uint8Array | undefined> = {}
  for (const k of metaKeys) meta[k] = await store.getMeta(k)
  return plain({ logs, meta })
}
