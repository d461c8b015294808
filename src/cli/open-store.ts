/**
 * Open the store a `--store <path>` names, without ever creating one:
 * - a path ending in `.db`, `.sqlite` or `.sqlite3` is an SQLite store (`sqliteStore(path)`), and
 *   must be an existing file that is an SQLite database;
 * - an existing directory holding segment files is an fs store (`fsStore(dir)`);
 * - anything else (a missing path, another kind of file) is an `OpenStoreError` (exit code 2).
 *
 * The Node-only stores are imported on demand, so `--help` and usage errors never load
 * better-sqlite3.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync, type Stats } from 'node:fs'
import { resolve } from 'node:path'
import type { EventStore } from '../stores/event-store.js'
import { OpenStoreError } from './io.js'

export type StoreKind = 'sqlite' | 'fs'

export interface OpenedStore {
  store: EventStore
  kind: StoreKind
  /** The absolute path opened. */
  path: string
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

/** Open the store at `path` (see the module comment). */
export async function openStore(path: string): Promise<OpenedStore> {
  const kind = storeKindOf(path)
  const abs = resolve(path)
  if (kind === 'sqlite') {
    const { sqliteStore } = await import('../stores/sqlite-store.js')
    return { store: sqliteStore(abs), kind, path: abs }
  }
  const { fsStore } = await import('../stores/fs-store.js')
  return { store: fsStore(abs), kind, path: abs }
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
 * and our application id, or an empty main file whose content still sits in the WAL (a store
 * whose writer was killed before a checkpoint). Checked here because opening an SQLite file
 * without a schema would create one.
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
