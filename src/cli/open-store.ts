/**
 * Open the store a `--store <path>` names, read-only, without ever creating or changing one:
 * - a path ending in `.db`, `.sqlite` or `.sqlite3` is an SQLite store
 *   (`sqliteStore(path, { readOnly: true })`), and must be an existing file that is an SQLite
 *   database;
 * - an existing directory holding segment files is an fs store (`fsStore(dir, { readOnly: true })`);
 *   a torn tail at the end of its last segment is left on disk and listed in `tornTails`;
 * - anything else (a missing path, another kind of file) is an `OpenStoreError` (exit code 2).
 *
 * The Node-only stores are imported on demand, so `--help` and usage errors never load
 * better-sqlite3.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync, type Stats } from 'node:fs'
import { resolve } from 'node:path'
import type { EventStore } from '../stores/event-store.js'
import type { TornTailInfo } from '../stores/fs-store.js'
import { OpenStoreError } from './io.js'

export type StoreKind = 'sqlite' | 'fs'

export interface OpenedStore {
  store: EventStore
  kind: StoreKind
  /** The absolute path opened. */
  path: string
  /** fs stores: bytes at the end of the last segment that are not a whole record (left on disk, not read). */
  tornTails: TornTailInfo[]
}

const SQLITE_EXTENSIONS = ['.db', '.sqlite', '.sqlite3']
const SQLITE_HEADER = 'SQLite format 3\0'
/** The fs store's segment files (fs-store.ts). */
const FS_SEGMENT_NAME = /^\d{8}\.seg$/
/** `PRAGMA application_id` of a stateflow SQLite store ("SFE1"), at byte 68 of the header. */
const STATEFLOW_APPLICATION_ID = 0x53464531

/** Which kind of store a path names, checking that it exists. Throws `OpenStoreError`. */
export function storeKindOf(path: string): StoreKind {
  if (typeof path !== 'string' || path.length === 0) throw new OpenStoreError('missing', String(path), 'no store path given')
  const stats = statOrUndefined(path)
  const sqlite = SQLITE_EXTENSIONS.some((ext) => path.toLowerCase().endsWith(ext))
  if (stats === undefined) {
    throw new OpenStoreError('missing', path, `no store at ${path}: the path does not exist (the audit never creates a store)`)
  }
  if (sqlite) {
    if (!stats.isFile()) throw new OpenStoreError('unknown-kind', path, `${path} ends in an SQLite extension but is not a file`)
    const problem = sqliteProblem(path, stats)
    if (problem) throw new OpenStoreError('unknown-kind', path, `${path} ${problem}`)
    return 'sqlite'
  }
  if (stats.isDirectory()) {
    // fsStore(dir) would start a fresh store in any directory: require one of its segments.
    if (!readdirSync(path).some((n) => FS_SEGMENT_NAME.test(n))) {
      throw new OpenStoreError('unknown-kind', path, `${path} is a directory but not an fs store (no segment files)`)
    }
    return 'fs'
  }
  throw new OpenStoreError(
    'unknown-kind',
    path,
    `cannot tell what kind of store ${path} is: use a .db/.sqlite/.sqlite3 file (SQLite) or a directory (fs store)`,
  )
}

/** Open the store at `path` read-only (see the module comment). */
export async function openStore(path: string): Promise<OpenedStore> {
  const kind = storeKindOf(path)
  const abs = resolve(path)
  const tornTails: TornTailInfo[] = []
  if (kind === 'sqlite') {
    const { sqliteStore } = await import('../stores/sqlite-store.js')
    return { store: sqliteStore(abs, { readOnly: true }), kind, path: abs, tornTails }
  }
  const { fsStore } = await import('../stores/fs-store.js')
  return { store: fsStore(abs, { readOnly: true, onTornTail: (t) => void tornTails.push(t) }), kind, path: abs, tornTails }
}

/** Events in `logs`, or undefined when the store cannot say. */
export async function countEvents(store: EventStore, logs: readonly string[]): Promise<number | undefined> {
  try {
    let n = 0
    for (const log of logs) n += await store.count(log)
    return n
  } catch {
    return undefined
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path)
  } catch {
    return undefined
  }
}

/**
 * Why `path` is not a stateflow SQLite store, or undefined if it may be one: the SQLite header
 * and our application id (0 in the main file's header while the schema is still only in the
 * WAL, for a store whose writer was killed before a checkpoint). An empty main file next to a
 * WAL is let through: the read-only store refuses it as `CORRUPT` (exit 1) without opening it,
 * since SQLite would discard that WAL.
 */
function sqliteProblem(path: string, stats: Stats): string | undefined {
  const wal = existsSync(`${path}-wal`)
  if (stats.size === 0) return wal ? undefined : 'is an empty file, not a store'
  if (stats.size < 100) return 'is not an SQLite database'
  const head = Buffer.alloc(100)
  const fd = openSync(path, 'r')
  try {
    readSync(fd, head, 0, head.length, 0)
  } finally {
    closeSync(fd)
  }
  if (head.toString('latin1', 0, SQLITE_HEADER.length) !== SQLITE_HEADER) return 'is not an SQLite database'
  const appId = head.readUInt32BE(68)
  if (appId === STATEFLOW_APPLICATION_ID || (appId === 0 && wal)) return undefined
  return 'is an SQLite database but not a stateflow store'
}
