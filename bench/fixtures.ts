/**
 * What the benchmarks share: the event bodies, event sets produced once per process, the stores
 * to measure (memory, SQLite, fs, fake IndexedDB) and temporary directories.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createXSync } from '../src/log/client.js'
import type { SignedEvent } from '../src/log/codec.js'
import type { Log, IngestResult } from '../src/log/log.js'
import { memoryStore } from '../src/stores/memory-store.js'
import type { EventStore } from '../src/stores/event-store.js'
import type { BenchOptions } from './harness.js'

export const LOG_ID = 'bench'
export const TYPE = 'app.bench'
/** Events per signature in batch-signed runs, and events per `ingest` call. */
export const BATCH = 256

const payloads = new Map<number, string>()
/** A deterministic printable string of `n` characters. */
export function payload(n: number): string {
  let s = payloads.get(n)
  if (s === undefined) {
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '
    s = ''
    for (let i = 0; i < n; i++) s += alphabet[(i * 7) % alphabet.length]
    payloads.set(n, s)
  }
  return s
}

/** The body of the i-th benchmark event. */
export function body(opts: BenchOptions, i: number): { payload: string; i: number } {
  return { payload: payload(opts.payload), i }
}

export function items(opts: BenchOptions, from: number, n: number): { type: string; body: unknown }[] {
  const out: { type: string; body: unknown }[] = new Array(n)
  for (let k = 0; k < n; k++) out[k] = { type: TYPE, body: body(opts, from + k) }
  return out
}

export interface EventSet {
  events: SignedEvent[]
  /** Mean encoded size in bytes. */
  meanBytes: number
  signatures: number
}

function summarize(events: SignedEvent[]): EventSet {
  let bytes = 0
  let sigs = 0
  for (const e of events) {
    bytes += e.bytes.length
    if (e.sig) sigs++
  }
  return { events, meanBytes: events.length ? bytes / events.length : 0, signatures: sigs }
}

const produced = new Map<string, Promise<EventSet>>()

/**
 * `n` events of one author, produced once per process: `batched` by `appendBatch` of 256 (one
 * signature each), otherwise by single `append`s (a signature on every event).
 */
export function produce(opts: BenchOptions, n: number, batched: boolean): Promise<EventSet> {
  const key = `${n}/${batched}/${opts.payload}`
  let p = produced.get(key)
  if (!p) {
    p = (async () => {
      const client = await createXSync()
      const log = client.log(LOG_ID)
      const events: SignedEvent[] = []
      const keep = (e: { bytes: Uint8Array; sig?: Uint8Array }): void => {
        events.push(e.sig ? { bytes: e.bytes, sig: e.sig } : { bytes: e.bytes })
      }
      if (batched) {
        for (let i = 0; i < n; i += BATCH) for (const e of await log.appendBatch(items(opts, i, Math.min(BATCH, n - i)))) keep(e)
      } else {
        for (let i = 0; i < n; i++) keep(await log.append(TYPE, body(opts, i)))
      }
      await client.close()
      return summarize(events)
    })()
    produced.set(key, p)
  }
  return p
}

export function chunks<T>(xs: readonly T[], size = BATCH): T[][] {
  const out: T[][] = []
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size))
  return out
}

/** Ingest every batch in order; returns how many events were stored (and anything else seen). */
export async function ingestAll(log: Log, batches: readonly SignedEvent[][]): Promise<{ stored: number; other: Map<string, number> }> {
  let stored = 0
  const other = new Map<string, number>()
  const tally = (r: IngestResult): void => {
    if (r.status === 'stored') stored++
    else {
      const k = r.code ? `${r.status}:${r.code}` : r.status
      other.set(k, (other.get(k) ?? 0) + 1)
    }
  }
  for (const b of batches) for (const r of await log.ingest(b)) tally(r)
  return { stored, other }
}

/** A note when not every event was stored (benchmarks assert nothing, but say so). */
export function storedNote(expected: number, got: { stored: number; other: Map<string, number> }): string {
  if (got.stored === expected) return ''
  return ` WARNING: ${got.stored}/${expected} stored (${[...got.other].map(([k, v]) => `${k} ×${v}`).join(', ')})`
}

// --- temporary directories -------------------------------------------------------------------

const tempDirs = new Set<string>()
process.on('exit', () => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true })
})

export function tempDir(label: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `stateflow-bench-${label}-`))
  tempDirs.add(d)
  return d
}

export function removeDir(d: string): void {
  fs.rmSync(d, { recursive: true, force: true })
  tempDirs.delete(d)
}

/** Bytes under a directory (files only). */
export function diskUsage(d: string): number {
  let n = 0
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name)
    n += e.isDirectory() ? diskUsage(p) : fs.statSync(p).size
  }
  return n
}

// --- stores ----------------------------------------------------------------------------------

export type StoreKind = 'memory' | 'sqlite' | 'fs' | 'indexeddb'

export interface OpenedStore {
  store: EventStore
  /** Where it lives on disk, if anywhere. */
  dir?: string
  /** Close the store and remove whatever it left on disk. */
  dispose(): Promise<void>
}

export type StoreMaker = () => Promise<OpenedStore>

let idbCounter = 0

/** A maker of fresh, empty stores of this kind, or why there is none. */
export async function storeMaker(kind: StoreKind, init: Record<string, unknown> = {}): Promise<StoreMaker | { unavailable: string }> {
  try {
    if (kind === 'memory') {
      return async () => {
        const store = memoryStore()
        return { store, dispose: () => store.close() }
      }
    }
    if (kind === 'sqlite') {
      const { sqliteStore } = await import('../src/stores/sqlite-store.js')
      return async () => {
        const dir = tempDir('sqlite')
        const store = sqliteStore(path.join(dir, 'events.db'), init)
        return {
          store,
          dir,
          dispose: async () => {
            await store.close()
            removeDir(dir)
          },
        }
      }
    }
    if (kind === 'fs') {
      const { fsStore } = await import('../src/stores/fs-store.js')
      return async () => {
        const dir = tempDir('fs')
        const store = fsStore(path.join(dir, 'store'), init)
        return {
          store,
          dir,
          dispose: async () => {
            await store.close()
            removeDir(dir)
          },
        }
      }
    }
    // fake-indexeddb: an in-memory IndexedDB written in JS, for Node. Not a browser figure.
    const auto = 'fake-indexeddb/auto' // a side-effect import (installs the globals idb needs); it has no types
    await import(auto)
    const { IDBFactory } = await import('fake-indexeddb')
    const { indexedDbStore } = await import('../src/stores/indexeddb-store.js')
    return async () => {
      const store = indexedDbStore(`stateflow-bench-${++idbCounter}`, { ...init, indexedDB: new IDBFactory() as unknown as IDBFactory })
      return { store, dispose: () => store.close() }
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const missing = e?.code === 'ERR_MODULE_NOT_FOUND' || /Cannot find module/.test(String(e?.message))
    return { unavailable: missing ? `src/stores/${kind}-store.ts not found` : `failed to load: ${e?.message ?? String(err)}` }
  }
}
