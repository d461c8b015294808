/**
 * The store `stateflow serve` runs on, opened for writing (the audit's `openStore` is read-only
 * and never creates one):
 * - a path ending in `.db`, `.sqlite` or `.sqlite3` is an SQLite store, created if missing;
 * - a directory is an fs store: an existing one (with segment files), an empty one, or a path
 *   that does not exist yet (no extension) becomes one;
 * - anything else is refused (`OpenStoreError`, exit 2): an existing file or directory that is
 *   not a stateflow store is never written into.
 *
 * Also: the node's identity, kept in the store's meta space so the peer's did survives restarts,
 * and `observedStore`, which reports every stored batch (how the live feed learns that any log
 * changed, including logs a peer brings that this node never opened).
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, extname, resolve } from 'node:path'
import { exportIdentity, generateIdentity, identityFromSecretKey, type Identity } from '../../log/identity.js'
import { eventStoreSymbol, type EventPut, type EventStore } from '../../stores/event-store.js'
import { OpenStoreError } from '../io.js'
import { storeKindOf, type StoreKind } from '../open-store.js'

/** The same extensions `open-store.ts` reads as SQLite. */
const SQLITE = /\.(db|sqlite|sqlite3)$/i

export interface ServeStore {
  store: EventStore
  kind: StoreKind
  /** The absolute path opened. */
  path: string
  /** Whether the store was created now. */
  created: boolean
}

/** Open (or create) the store at `path` for writing. Throws `OpenStoreError`. */
export async function openServeStore(path: string): Promise<ServeStore> {
  if (typeof path !== 'string' || path.length === 0) throw new OpenStoreError('missing', String(path), 'no store path given')
  const abs = resolve(path)
  let kind: StoreKind
  const exists = existsSync(abs)
  if (exists && statSync(abs).isDirectory() && readdirSync(abs).length === 0) kind = 'fs'
  else if (exists) kind = storeKindOf(abs)
  else {
    if (!SQLITE.test(abs) && extname(abs) !== '') {
      throw new OpenStoreError('unknown-kind', path, `cannot tell what kind of store ${path} would be: use a .db/.sqlite/.sqlite3 file (SQLite) or a directory (fs store)`)
    }
    if (!existsSync(dirname(abs))) throw new OpenStoreError('missing', path, `cannot create ${path}: ${dirname(abs)} does not exist`)
    kind = SQLITE.test(abs) ? 'sqlite' : 'fs'
  }
  // Imported on demand, as open-store.ts does: `--help` never loads better-sqlite3.
  if (kind === 'sqlite') {
    const { sqliteStore } = await import('../../stores/sqlite-store.js')
    return { store: sqliteStore(abs), kind, path: abs, created: !exists }
  }
  const { fsStore } = await import('../../stores/fs-store.js')
  return { store: fsStore(abs), kind, path: abs, created: !exists }
}

/** Meta key of the serve node's secret seed. Plain in the store, like an ssh host key on disk. */
export const IDENTITY_META_KEY = 'stateflow/serve/identity'

/** The identity kept in `store`, or a new one saved there. */
export async function storedIdentity(store: EventStore): Promise<Identity> {
  const seed = await store.getMeta(IDENTITY_META_KEY)
  if (seed !== undefined && seed.length === 32) return identityFromSecretKey(seed)
  const identity = await generateIdentity()
  await store.putMeta(IDENTITY_META_KEY, exportIdentity(identity).secretKey)
  return identity
}

/**
 * `inner`, reporting the logs of every batch once it is stored. A store wrapper rather than
 * `log.subscribe`: the sync layer opens logs a peer brings inside the client, where no hook reaches.
 */
export function observedStore(inner: EventStore, onStored: (logs: ReadonlySet<string>) => void): EventStore {
  return {
    [eventStoreSymbol]: true,
    get kind() {
      return inner.kind
    },
    get durable() {
      return inner.durable
    },
    async putBatch(events: readonly EventPut[]) {
      await inner.putBatch(events)
      if (events.length > 0) onStored(new Set(events.map((e) => e.log)))
    },
    get: (cid) => inner.get(cid),
    has: (cid) => inner.has(cid),
    heads: (log) => inner.heads(log),
    tips: (log) => inner.tips(log),
    scan: (log, options) => inner.scan(log, options),
    byAuthor: (log, author, options) => inner.byAuthor(log, author, options),
    count: (log) => inner.count(log),
    logs: () => inner.logs(),
    getMeta: (key) => inner.getMeta(key),
    putMeta: (key, value) => inner.putMeta(key, value),
    deleteMeta: (key) => inner.deleteMeta(key),
    close: () => inner.close(),
  }
}
