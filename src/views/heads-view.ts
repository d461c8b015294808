/**
 * `headsView()`: the heads of the folded prefix (events no folded event links to), as CID bytes
 * sorted by bytes. After a full fold it equals `log.heads()`; at any stable position it is what
 * every peer computes for that prefix.
 */
import { compareBytes, equalBytes } from '../dag/bytes.js'
import type { LogEvent } from '../log/log.js'
import type { View } from './view.js'

export interface HeadsState {
  heads: Uint8Array[]
}

function reduce(s: HeadsState, e: LogEvent): HeadsState {
  const gone = e.prev ? [e.prev.bytes, ...e.parents.map((p) => p.bytes)] : e.parents.map((p) => p.bytes)
  if (gone.length > 0) s.heads = s.heads.filter((h) => !gone.some((g) => equalBytes(g, h)))
  const cid = e.cid.bytes
  let i = s.heads.length
  while (i > 0 && compareBytes(s.heads[i - 1], cid) > 0) i--
  s.heads.splice(i, 0, cid)
  return s
}

export function headsView(options: { name?: string } = {}): View<HeadsState> {
  return { name: options.name ?? 'heads', version: 1, initial: () => ({ heads: [] }), reduce }
}
