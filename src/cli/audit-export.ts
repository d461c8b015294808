/**
 * `stateflow audit export --store <path> --log <id>`: every event of one log as JSON lines, in
 * the total order `(clock, CID bytes)`, one event per line:
 *
 *   { "cid", "log", "author", "seq", "prev", "parents", "clock", "time", "type", "body", "sig", "bytes" }
 *
 * - `cid`, `prev`, `parents`: CID strings (base32 `bafy…`); `prev` is null at seq 1.
 * - `log`: the id the event is stored under (a genesis names `''` in its bytes, `log:<cid>` here).
 * - `author`: the author's did:key.
 * - `body`: DAG-JSON conventions (dag-json.ts): bytes as `{"/":{"bytes":"<unpadded base64>"}}`,
 *   links as `{"/":"<cid>"}`.
 * - `sig`: standard base64 of the 64-byte signature, or null for an event a later signature covers.
 * - `bytes`: standard base64 of the canonical DAG-CBOR event: the CID is the sha2-256 of these.
 *
 * An event whose bytes do not decode is written as `{ "cid", "log", "error", "sig", "bytes" }` and
 * makes the exit code 1. An unknown log id is exit code 2.
 */
import { decodeEvent, DEFAULT_MAX_EVENT_BYTES } from '../log/codec.js'
import { publicKeyToDid } from '../log/identity.js'
import type { StoredEvent } from '../stores/event-store.js'
import { base64, stringifyDagJson } from './dag-json.js'
import { EXIT_INTEGRITY, EXIT_OK, EXIT_USAGE, type Output } from './io.js'
import { countEvents, openStore } from './open-store.js'
import { noProgress, progressFor, type ProgressMode } from './progress.js'
import { cidString } from './verify-log.js'

export interface AuditExportOptions {
  store: string
  log: string
  /** Events per store page. @default 1024 */
  pageSize?: number
  /** The live counter on stderr (progress.ts). @default 'auto': when stderr is a terminal */
  progress?: ProgressMode
  /** The counter's clock, for throttling only. @default Date.now */
  progressNow?: () => number
}

export async function auditExport(options: AuditExportOptions, io: Output): Promise<number> {
  const { store, path } = await openStore(options.store)
  try {
    if (!(await store.logs()).includes(options.log)) {
      io.err(`stateflow: no log ${JSON.stringify(options.log)} in ${path}`)
      return EXIT_USAGE
    }
    const pageSize = options.pageSize ?? 1024
    const bar = progressFor(io, options.progress ?? 'auto', 'exported', 'events', options.progressNow ? { now: options.progressNow } : undefined)
    const total = bar === noProgress ? undefined : await countEvents(store, [options.log])
    let broken = 0
    let done = 0
    let last: StoredEvent | undefined
    bar.update(0, total)
    try {
      for (;;) {
        const page = await store.scan(options.log, last ? { after: last, limit: pageSize } : { limit: pageSize })
        // stdout may be the same terminal: lift the counter off the line before writing.
        bar.hide()
        for (const s of page) {
          const line = exportLine(s)
          if ('error' in line) broken++
          io.out(stringifyDagJson(line))
        }
        bar.update((done += page.length), total)
        if (page.length < pageSize) break
        last = page[page.length - 1]
      }
    } finally {
      bar.done()
    }
    if (broken > 0) {
      io.err(`stateflow: ${broken} event(s) of ${options.log} do not decode; run 'stateflow audit verify'`)
      return EXIT_INTEGRITY
    }
    return EXIT_OK
  } finally {
    await store.close()
  }
}

/** The export record of one stored event (see the module comment). */
export function exportLine(s: StoredEvent): Record<string, unknown> {
  const sig = s.sig === undefined ? null : base64(s.sig)
  let d
  try {
    d = decodeEvent(s.bytes, { maxBytes: Math.max(DEFAULT_MAX_EVENT_BYTES, s.bytes.length) })
  } catch (err) {
    return { cid: cidString(s.cid), log: s.log, error: (err as Error).message, sig, bytes: base64(s.bytes) }
  }
  return {
    cid: cidString(s.cid),
    log: s.log,
    author: publicKeyToDid(d.author),
    seq: d.seq,
    prev: d.prev === null ? null : d.prev.toString(),
    parents: d.parents.map((p) => p.toString()),
    clock: d.clock,
    time: d.time,
    type: d.type,
    body: d.body,
    sig,
    bytes: base64(s.bytes),
  }
}
